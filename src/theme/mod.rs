//! Themes: semantic style slots resolved from bundled and user TOML files.

mod file;
mod slot;

pub use slot::Slot;

use std::collections::BTreeMap;
use std::path::Path;

use ratatui::style::{Color, Modifier, Style};

/// The bundled theme sources in cycling order.
const BUNDLED: &[(&str, &str)] = &[
    ("default", include_str!("../../themes/default.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
    ("ansi16", include_str!("../../themes/ansi16.toml")),
];

/// The bundled theme sources: (name, toml text), in cycling order.
pub fn bundled() -> &'static [(&'static str, &'static str)] {
    BUNDLED
}

/// Why a theme could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ThemeError {
    /// The file could not be read.
    #[error("cannot read theme {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not valid TOML or not a theme.
    #[error("theme {theme}: line {line}, column {column}: {message}")]
    Syntax {
        /// Theme name or file.
        theme: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// A slot refers to something that does not exist, or is missing.
    #[error("theme {theme}: slot `{slot}`: {message}")]
    Slot {
        /// Theme name.
        theme: String,
        /// Slot name.
        slot: String,
        /// What is wrong.
        message: String,
    },
    /// `inherits` names a missing theme or loops.
    #[error("theme {theme}: {message}")]
    Inherit {
        /// Theme name.
        theme: String,
        /// What is wrong.
        message: String,
    },
}

/// A resolved theme: one style per slot.
#[derive(Clone, Debug, PartialEq)]
pub struct Theme {
    name: String,
    styles: Vec<Style>,
}

impl Theme {
    /// The theme's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The style for a slot.
    pub fn style(&self, slot: Slot) -> Style {
        self.styles.get(slot as usize).copied().unwrap_or_default()
    }

    /// The same modifiers with every colour removed; selection and focus stay visible.
    pub fn monochrome(&self) -> Theme {
        let styles = Slot::ALL
            .iter()
            .map(|&slot| {
                let s = self.style(slot);
                let mut m = Style::default()
                    .add_modifier(s.add_modifier)
                    .remove_modifier(s.sub_modifier);
                match slot {
                    Slot::Selection
                    | Slot::TabActive
                    | Slot::BadgeReadonly
                    | Slot::StatusbarWorkspace => m = m.add_modifier(Modifier::REVERSED),
                    Slot::TitleFocused
                    | Slot::BorderFocused
                    | Slot::StatusbarKey
                    | Slot::HelpKey => m = m.add_modifier(Modifier::BOLD),
                    _ => {}
                }
                m
            })
            .collect();
        Theme {
            name: self.name.clone(),
            styles,
        }
    }

    /// True when every colour is one of the 16 ANSI colours (or the terminal default).
    pub fn is_ansi16(&self) -> bool {
        self.styles.iter().all(|s| {
            [s.fg, s.bg]
                .into_iter()
                .flatten()
                .all(|c| !matches!(c, Color::Rgb(..) | Color::Indexed(_)))
        })
    }
}

/// Every theme: bundled first in a fixed order, then the user's sorted by name.
#[derive(Clone, Debug)]
pub struct ThemeSet {
    themes: Vec<Theme>,
}

impl ThemeSet {
    /// Loads the bundled themes and every `*.toml` in `user_dir`; a user theme with a
    /// bundled name replaces it.
    pub fn load(user_dir: Option<&Path>) -> Result<ThemeSet, ThemeError> {
        let mut sources: BTreeMap<String, (String, String)> = BTreeMap::new();
        let mut order: Vec<String> = Vec::new();
        for (name, text) in BUNDLED {
            sources.insert(name.to_string(), (name.to_string(), text.to_string()));
            order.push(name.to_string());
        }
        if let Some(dir) = user_dir.filter(|d| d.is_dir()) {
            let entries = std::fs::read_dir(dir).map_err(|e| ThemeError::Read {
                path: dir.display().to_string(),
                source: e,
            })?;
            let mut user: Vec<_> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            user.sort();
            for path in user {
                let name = path
                    .file_stem()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                let text = std::fs::read_to_string(&path).map_err(|e| ThemeError::Read {
                    path: path.display().to_string(),
                    source: e,
                })?;
                if !order.contains(&name) {
                    order.push(name.clone());
                }
                sources.insert(name, (path.display().to_string(), text));
            }
        }
        let files = sources
            .iter()
            .map(|(name, (label, text))| Ok((name.clone(), file::parse(label, text)?)))
            .collect::<Result<BTreeMap<_, _>, ThemeError>>()?;
        let themes = order
            .iter()
            .map(|name| file::resolve(name, &files))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ThemeSet { themes })
    }

    /// Theme names in cycling order.
    pub fn names(&self) -> Vec<&str> {
        self.themes.iter().map(|t| t.name.as_str()).collect()
    }

    /// The theme with this name.
    pub fn get(&self, name: &str) -> Option<&Theme> {
        self.themes.iter().find(|t| t.name == name)
    }

    /// Position of a theme in cycling order.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.themes.iter().position(|t| t.name == name)
    }

    /// The theme at `i` (modulo the count).
    pub fn by_index(&self, i: usize) -> &Theme {
        &self.themes[i % self.themes.len()]
    }

    /// How many themes.
    pub fn len(&self) -> usize {
        self.themes.len()
    }

    /// Never true: the bundled themes are always there.
    pub fn is_empty(&self) -> bool {
        self.themes.is_empty()
    }
}

#[cfg(test)]
mod tests;
