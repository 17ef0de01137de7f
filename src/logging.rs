//! Logs go to a file in the state dir, never to the screen. The file rotates by size, so a
//! `flightdeck watch` that runs for months keeps a bounded log.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;

use crate::paths;

/// A log file grows to this size before it is rotated.
pub const MAX_BYTES: u64 = 10 * 1024 * 1024;
/// Rotated files kept beside the live one (`flightdeck.log.1` is the newest).
pub const KEPT: usize = 4;

/// An append-only log file that moves itself aside at `max` bytes, keeping `kept` old ones;
/// every file it creates is 0600 whatever the umask.
pub struct Rotating {
    path: PathBuf,
    file: File,
    size: u64,
    max: u64,
    kept: usize,
}

impl Rotating {
    /// Opens (or creates) `path` for appending.
    pub fn open(path: &Path, max: u64, kept: usize) -> io::Result<Rotating> {
        let file = paths::append_private(path)?;
        let size = file.metadata()?.len();
        Ok(Rotating {
            path: path.to_path_buf(),
            file,
            size,
            max,
            kept,
        })
    }

    fn numbered(&self, n: usize) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    /// `log.3` → `log.4`, …, `log` → `log.1`; the oldest beyond `kept` is dropped.
    fn rotate(&mut self) -> io::Result<()> {
        let _ = std::fs::remove_file(self.numbered(self.kept));
        for n in (1..self.kept).rev() {
            let _ = std::fs::rename(self.numbered(n), self.numbered(n + 1));
        }
        std::fs::rename(&self.path, self.numbered(1))?;
        self.file = paths::append_private(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

impl Write for Rotating {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.size > 0 && self.size + buf.len() as u64 > self.max {
            // A failed rotation must not lose the line: keep writing where we are.
            let _ = self.rotate();
        }
        let n = self.file.write(buf)?;
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Starts logging to `<state>/logs/flightdeck.log` (0600, rotated at [`MAX_BYTES`]) at
/// `level`; returns the file.
pub fn init(state_dir: &Path, level: &str) -> io::Result<PathBuf> {
    let dir = state_dir.join("logs");
    paths::private_dir(&dir)?;
    let path = dir.join("flightdeck.log");
    let file = Rotating::open(&path, MAX_BYTES, KEPT)?;
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_writer(Mutex::new(file))
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init();
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_log_rotates_by_size_and_keeps_a_few() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("f.log");
        let mut log = Rotating::open(&path, 100, 2).unwrap();
        for i in 0..40 {
            writeln!(log, "line {i:02} of the log").unwrap();
        }
        let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        assert!(size(&path) <= 100, "{}", size(&path));
        assert!(size(&log.numbered(1)) > 0 && size(&log.numbered(2)) > 0);
        assert!(!log.numbered(3).exists(), "only two kept");
        let newest = std::fs::read_to_string(&path).unwrap();
        assert!(newest.ends_with("line 39 of the log\n"), "{newest}");
        for p in [path.clone(), log.numbered(1), log.numbered(2)] {
            let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", p.display());
        }
    }
}
