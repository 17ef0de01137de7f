//! Where flightdeck keeps its state, and the permissions it keeps it with.

use std::fs::{self, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The environment variable that overrides the state directory.
pub const STATE_DIR_ENV: &str = "FLIGHTDECK_STATE_DIR";

/// The state directory: `$FLIGHTDECK_STATE_DIR`, else the XDG state (or data) dir.
pub fn state_dir() -> io::Result<PathBuf> {
    if let Some(dir) = std::env::var_os(STATE_DIR_ENV).filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let dirs = directories::ProjectDirs::from("", "", "flightdeck").ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            "no home directory: set FLIGHTDECK_STATE_DIR",
        )
    })?;
    Ok(dirs
        .state_dir()
        .unwrap_or_else(|| dirs.data_local_dir())
        .to_path_buf())
}

/// A file or directory name for `name` (a workspace, a target): the name itself when it is
/// plain (ASCII letters, digits, `-` and `_`, at most 64 bytes); otherwise a readable
/// sanitised part and a short hash of the exact name, so two names never share one.
pub fn name_for(name: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if !name.is_empty() && name.len() <= 64 && name.chars().all(plain) {
        return name.to_string();
    }
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(name.as_bytes());
    let hex: String = hash[..5].iter().map(|b| format!("{b:02x}")).collect();
    let readable: String = name
        .chars()
        .map(|c| if plain(c) { c } else { '_' })
        .take(40)
        .collect();
    format!("{readable}-{hex}")
}

/// The name an earlier flightdeck gave `name`'s directory (every other character an
/// underscore), which could be shared by two names.
pub fn legacy_name_for(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The user's config directory for flightdeck (`~/.config/flightdeck`), if there is a home.
pub fn config_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "flightdeck").map(|d| d.config_dir().to_path_buf())
}

/// Creates `dir` and its missing parents 0700 whatever the umask. A directory that already
/// exists keeps its mode: pointing the state dir at a shared one must not change it.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
}

/// Makes an existing file 0600.
pub fn private_file(path: &Path) -> io::Result<()> {
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))
}

/// Writes `bytes` to `path`, created (or truncated) 0600 whatever the umask.
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    open_private(path, OpenOptions::new().write(true).truncate(true))?.write_all(bytes)
}

/// Creates (or truncates) `path` for writing, 0600 whatever the umask.
pub fn create_private(path: &Path) -> io::Result<fs::File> {
    open_private(path, OpenOptions::new().write(true).truncate(true))
}

/// Opens `path` for appending, creating it 0600.
pub fn append_private(path: &Path) -> io::Result<fs::File> {
    open_private(path, OpenOptions::new().append(true))
}

/// Opens `path` with `options`, creating it 0600 and making an existing file 0600 too,
/// through the handle opened.
fn open_private(path: &Path, options: &mut OpenOptions) -> io::Result<fs::File> {
    let file = options.create(true).mode(0o600).open(path)?;
    file.set_permissions(fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// R5: names map to directory names one to one, readably, and always fit a file name.
    #[test]
    fn names_map_to_distinct_readable_file_names() {
        assert_eq!(name_for("prod-eu_1"), "prod-eu_1");
        let names = ["本番", "試験", "a/b", "a_b", "a b", "..", ".", "", "A", "a"];
        let mapped: std::collections::BTreeSet<String> =
            names.iter().map(|n| name_for(n)).collect();
        assert_eq!(mapped.len(), names.len(), "{mapped:?}");
        assert!(name_for("a/b").starts_with("a_b-"), "{}", name_for("a/b"));
        let long = "ü".repeat(300);
        let m = name_for(&long);
        assert!(m.len() < 100 && !m.contains('/'), "{m}");
        for m in &mapped {
            assert!(
                !m.is_empty() && m != "." && m != ".." && !m.contains('/'),
                "{m:?}"
            );
        }
    }

    #[test]
    fn private_dir_and_file_modes() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        private_dir(&dir).unwrap();
        let mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        // An existing directory keeps its mode.
        let shared = tmp.path().join("shared");
        fs::create_dir(&shared).unwrap();
        fs::set_permissions(&shared, fs::Permissions::from_mode(0o755)).unwrap();
        private_dir(&shared).unwrap();
        assert_eq!(
            fs::metadata(&shared).unwrap().permissions().mode() & 0o777,
            0o755
        );
        let f = dir.join("log");
        append_private(&f).unwrap();
        assert_eq!(
            fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o600
        );
        // A file written whole is private too, and a rewrite keeps it so.
        let g = dir.join("downloaded.log");
        fs::write(&g, "old").unwrap();
        fs::set_permissions(&g, fs::Permissions::from_mode(0o666)).unwrap();
        write_private(&g, b"new").unwrap();
        assert_eq!(fs::read(&g).unwrap(), b"new");
        assert_eq!(
            fs::metadata(&g).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}
