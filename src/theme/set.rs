//! The loaded themes: bundled ones in a fixed order, then the user's sorted by name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::file::{self, Sources};
use super::{Theme, ThemeError, bundled};

/// What [`ThemeSet::load`] calls a bundled theme in error messages.
const BUNDLED_ORIGIN: &str = "bundled";

/// Every resolved theme, in cycling order: bundled first, then user themes sorted by name.
#[derive(Clone, Debug)]
pub struct ThemeSet {
    themes: Vec<Theme>,
}

impl ThemeSet {
    /// Loads every bundled theme and every `*.toml` in `user_dir` (if given and present);
    /// a user theme named like a bundled one replaces it in place.
    pub fn load(user_dir: Option<&Path>) -> Result<ThemeSet, ThemeError> {
        let mut order: Vec<String> = Vec::new();
        let mut texts: BTreeMap<String, (String, String)> = BTreeMap::new();
        for (name, text) in bundled() {
            order.push(name.to_string());
            texts.insert(
                name.to_string(),
                (BUNDLED_ORIGIN.to_string(), text.to_string()),
            );
        }
        if let Some(dir) = user_dir {
            let mut user = user_files(dir)?;
            user.sort();
            for (name, path) in user {
                let text = std::fs::read_to_string(&path).map_err(|source| ThemeError::Read {
                    path: path.clone(),
                    source,
                })?;
                if !texts.contains_key(&name) {
                    order.push(name.clone());
                }
                texts.insert(name, (path.display().to_string(), text));
            }
        }

        let mut sources = Sources::new();
        for (name, (origin, text)) in &texts {
            sources.insert(name.clone(), file::parse(name, origin, text)?);
        }

        // Resolve each theme's ancestors first, so a broken parent is blamed, not its child.
        let mut resolved: BTreeMap<&str, Theme> = BTreeMap::new();
        for name in &order {
            let chain = file::chain(name, &sources)?;
            for i in (0..chain.len()).rev() {
                if !resolved.contains_key(chain[i]) {
                    resolved.insert(chain[i], file::resolve(&chain[i..], &sources)?);
                }
            }
        }
        let themes = order
            .iter()
            .filter_map(|name| resolved.remove(name.as_str()))
            .collect();
        Ok(ThemeSet { themes })
    }

    /// Theme names in cycling order.
    pub fn names(&self) -> Vec<&str> {
        self.themes.iter().map(Theme::name).collect()
    }

    /// The theme with this name.
    pub fn get(&self, name: &str) -> Option<&Theme> {
        self.themes.iter().find(|t| t.name() == name)
    }

    /// Position of the named theme in cycling order.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.themes.iter().position(|t| t.name() == name)
    }

    /// The theme at `i`, wrapping around (`i` modulo [`len`](Self::len)).
    pub fn by_index(&self, i: usize) -> &Theme {
        // Never empty: `load` always has the bundled themes.
        &self.themes[i % self.themes.len()]
    }

    /// How many themes there are.
    pub fn len(&self) -> usize {
        self.themes.len()
    }

    /// True when there are no themes (never, once loaded: the bundled ones are always there).
    pub fn is_empty(&self) -> bool {
        self.themes.is_empty()
    }
}

/// The `*.toml` files in `dir` as (theme name, path); none when `dir` does not exist.
///
/// Hidden files (editor backups and lock files) and directories are skipped.
fn user_files(dir: &Path) -> Result<Vec<(String, PathBuf)>, ThemeError> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    if !dir.is_dir() {
        return Err(ThemeError::NotADirectory {
            path: dir.to_path_buf(),
        });
    }
    let read_dir_err = |source| ThemeError::ReadDir {
        path: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_dir_err)? {
        let path = entry.map_err(read_dir_err)?.path();
        let Some(name) = path.file_stem().map(|s| s.to_string_lossy().into_owned()) else {
            continue;
        };
        let is_toml = path.extension().is_some_and(|x| x == "toml");
        if is_toml && !name.starts_with('.') && path.is_file() {
            files.push((name, path));
        }
    }
    Ok(files)
}
