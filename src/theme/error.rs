//! Why themes fail to load; every message names the theme and where it came from.

use std::path::PathBuf;

/// Why the themes could not be loaded.
///
/// `origin` is `bundled` for a built-in theme, else the path of the user's file.
#[derive(Debug, thiserror::Error)]
pub enum ThemeError {
    /// The user theme directory could not be listed.
    #[error("cannot read theme directory {}: {source}", path.display())]
    ReadDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The user theme path exists but is not a directory.
    #[error("theme directory {} is not a directory", path.display())]
    NotADirectory {
        /// The path.
        path: PathBuf,
    },
    /// A theme file could not be read.
    #[error("cannot read theme file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML, or not shaped like a theme.
    #[error("theme {theme:?} ({origin}): {}: {message}", position(*line, *column))]
    Syntax {
        /// Theme name.
        theme: String,
        /// `bundled` or the file's path.
        origin: String,
        /// 1-based line, 0 when unknown.
        line: usize,
        /// 1-based column, 0 when unknown.
        column: usize,
        /// What the TOML parser said.
        message: String,
    },
    /// The `name` key differs from the file's name.
    #[error(
        "theme {theme:?} ({origin}): declares name = {declared:?}; it must match the file name"
    )]
    NameMismatch {
        /// Theme name (the file stem).
        theme: String,
        /// `bundled` or the file's path.
        origin: String,
        /// The name written in the file.
        declared: String,
    },
    /// `inherits` names a theme that does not exist.
    #[error("theme {theme:?} ({origin}): inherits = {parent:?}, but there is no such theme")]
    UnknownParent {
        /// Theme name.
        theme: String,
        /// `bundled` or the file's path.
        origin: String,
        /// The missing theme.
        parent: String,
    },
    /// Following `inherits` leads back to a theme already on the chain.
    #[error("theme {theme:?} ({origin}): inheritance cycle: {chain}")]
    Cycle {
        /// Theme name.
        theme: String,
        /// `bundled` or the file's path.
        origin: String,
        /// The chain, e.g. `a -> b -> a`.
        chain: String,
    },
    /// `[slots]` has a key that is not a slot.
    #[error("theme {theme:?} ({origin}): unknown slot {slot:?}")]
    UnknownSlot {
        /// Theme name.
        theme: String,
        /// `bundled` or the file's path.
        origin: String,
        /// The key as written.
        slot: String,
    },
    /// A slot is defined neither in the theme nor in any theme it inherits.
    #[error(
        "theme {theme:?} ({origin}): slot {slot:?} is not defined (here or in an inherited theme)"
    )]
    MissingSlot {
        /// Theme name.
        theme: String,
        /// `bundled` or the file's path.
        origin: String,
        /// The slot's TOML key.
        slot: String,
    },
    /// A slot's colour is neither a palette name nor a colour.
    #[error(
        "theme {theme:?} ({origin}): slot {slot:?}: unknown colour {value:?} \
         (expected a palette name, #rrggbb, an ANSI colour name, reset or indexed:N)"
    )]
    BadColour {
        /// Theme name.
        theme: String,
        /// `bundled` or the file's path.
        origin: String,
        /// The slot's TOML key.
        slot: String,
        /// The colour as written.
        value: String,
    },
    /// A palette entry is neither a colour nor another palette name.
    #[error(
        "theme {theme:?} ({origin}): palette entry {key:?}: unknown colour {value:?} \
         (expected #rrggbb, an ANSI colour name, reset, indexed:N or another palette name)"
    )]
    BadPalette {
        /// Theme name.
        theme: String,
        /// `bundled` or the file's path.
        origin: String,
        /// The palette name.
        key: String,
        /// The colour as written.
        value: String,
    },
    /// A slot lists a modifier that does not exist.
    #[error(
        "theme {theme:?} ({origin}): slot {slot:?}: unknown modifier {value:?} (expected one of {})",
        super::colour::MODIFIER_NAMES
    )]
    BadModifier {
        /// Theme name.
        theme: String,
        /// `bundled` or the file's path.
        origin: String,
        /// The slot's TOML key.
        slot: String,
        /// The modifier as written.
        value: String,
    },
}

/// `line L, column C`, or a note that the parser gave no position.
fn position(line: usize, column: usize) -> String {
    if line == 0 {
        "at an unknown position".to_string()
    } else {
        format!("line {line}, column {column}")
    }
}
