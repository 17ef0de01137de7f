//! Config errors that name the file, line, column and key.

use std::path::{Path, PathBuf};

/// A config that could not be read or is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {}: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Another user owns the file, or group or others can write it: its commands are not run.
    #[error("refusing config {}: {why}, and its commands would run as you; {fix}", .path.display())]
    Unsafe {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
        /// What to do.
        fix: String,
    },
    /// The file is not valid TOML or does not fit the schema.
    #[error("{}:{line}:{column}: {}{message}", .path.display(), key_prefix(.key))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line (0 when unknown).
        line: usize,
        /// 1-based column (0 when unknown).
        column: usize,
        /// The key at fault, dotted (may be empty).
        key: String,
        /// What is wrong.
        message: String,
    },
}

fn key_prefix(key: &str) -> String {
    if key.is_empty() {
        String::new()
    } else {
        format!("key `{key}`: ")
    }
}

/// 1-based line and column of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// The key written on the line at `offset`: `name` in `name = …`, or the `[table]` header.
fn key_on_line(text: &str, offset: usize) -> String {
    let start = text[..offset.min(text.len())]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let line = text[start..].lines().next().unwrap_or("").trim();
    if let Some(header) = line.strip_prefix('[') {
        return header
            .trim_matches(|c| c == '[' || c == ']')
            .trim()
            .to_string();
    }
    line.split_once('=')
        .map(|(k, _)| k.trim().trim_matches('"').to_string())
        .unwrap_or_default()
}

/// Converts a TOML error into one naming file, line, column and key.
pub(super) fn from_toml(path: &Path, text: &str, e: &toml::de::Error) -> ConfigError {
    let (line, column, mut key) = match e.span() {
        Some(span) => {
            let (l, c) = line_col(text, span.start);
            (l, c, key_on_line(text, span.start))
        }
        None => (0, 0, String::new()),
    };
    let message = e.message().trim().to_string();
    // For an unknown field the message names it; prefer that over the line's key.
    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some((name, _)) = rest.split_once('`')
    {
        key = name.to_string();
    }
    ConfigError::Invalid {
        path: path.to_path_buf(),
        line,
        column,
        key,
        message,
    }
}

/// Where `key` is set in entry `index` of the array of tables `table` (or in `[table]` when
/// `index` is `None`, at the top when `table` is empty), by toml's own spans: 1-based line and
/// column and the key's dotted path in the entry (`strategy.batch_size`). Without the key, the
/// entry's first line.
pub(super) fn locate_entry(
    text: &str,
    table: &str,
    index: Option<usize>,
    key: &str,
) -> Option<(usize, usize, String)> {
    use toml::de::{DeTable, DeValue};
    type Found = (std::ops::Range<usize>, String);
    fn find(t: &DeTable<'_>, key: &str, prefix: &str) -> Option<Found> {
        for (k, v) in t.iter() {
            let path = if prefix.is_empty() {
                k.get_ref().to_string()
            } else {
                format!("{prefix}.{}", k.get_ref())
            };
            if k.get_ref().as_ref() == key {
                return Some((k.span(), path));
            }
            let inner = match v.get_ref() {
                DeValue::Table(t) => find(t, key, &path),
                DeValue::Array(a) => a.iter().find_map(|e| match e.get_ref() {
                    DeValue::Table(t) => find(t, key, &path),
                    _ => None,
                }),
                _ => None,
            };
            if inner.is_some() {
                return inner;
            }
        }
        None
    }
    let doc = DeTable::parse(text).ok()?;
    let (entry, span) = if table.is_empty() {
        (doc.get_ref(), doc.span())
    } else {
        let v = doc.get_ref().get(table)?;
        let e = match (v.get_ref(), index) {
            (DeValue::Array(a), Some(i)) => a.get(i)?,
            (DeValue::Table(_), None) => v,
            _ => return None,
        };
        match e.get_ref() {
            DeValue::Table(t) => (t, e.span()),
            _ => return None,
        }
    };
    let (at, path) = find(entry, key, "").unwrap_or((span, String::new()));
    let (line, column) = line_col(text, at.start);
    Some((line, column, path))
}

/// Finds the line of `[table]` (or `[[table]]`) that sets `key` in the entry that mentions
/// `"near"` (its quoted name, or the quoted value at fault): that line, or else the entry's
/// first line that mentions it.
pub(super) fn locate_near(
    text: &str,
    table: &str,
    key: &str,
    near: &str,
) -> Option<(usize, usize)> {
    if near.is_empty() {
        return locate(text, table, key);
    }
    let quoted = format!("\"{near}\"");
    let sets = |line: &str| {
        !key.is_empty()
            && (line.starts_with(&format!("{key} "))
                || line.starts_with(&format!("{key}="))
                || line.contains(&format!(" {key} ="))
                || line.contains(&format!("{{{key} =")))
    };
    let mut current = String::new();
    let mut found = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.starts_with('[') {
            if found.is_some() {
                break;
            }
            current = line
                .trim_matches(|c| c == '[' || c == ']')
                .trim()
                .to_string();
            continue;
        }
        if current != table && !current.starts_with(&format!("{table}.")) {
            continue;
        }
        let here = (i + 1, raw.len() - raw.trim_start().len() + 1);
        let mentions = line.contains(&quoted);
        if (found.is_some() || mentions) && sets(line) {
            return Some(here);
        }
        if found.is_none() && mentions {
            found = Some(here);
        }
    }
    found
}

/// Finds `key` in `[table]` (or at the top when `table` is empty): 1-based line and column.
pub(super) fn locate(text: &str, table: &str, key: &str) -> Option<(usize, usize)> {
    let mut current = String::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.starts_with('[') {
            current = line
                .trim_matches(|c| c == '[' || c == ']')
                .trim()
                .to_string();
            continue;
        }
        let Some((k, _)) = line.split_once('=') else {
            continue;
        };
        let in_table = current == table || current.starts_with(&format!("{table}."));
        if in_table && k.trim().trim_matches('"') == key {
            let col = raw.len() - raw.trim_start().len() + 1;
            return Some((i + 1, col));
        }
    }
    None
}
