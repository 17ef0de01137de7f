//! Logs go to a file in the state dir, never to the screen.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;

use crate::paths;

/// Starts logging to `<state>/logs/flightdeck.log` (0600) at `level`; returns the file.
pub fn init(state_dir: &Path, level: &str) -> std::io::Result<PathBuf> {
    let dir = state_dir.join("logs");
    paths::private_dir(&dir)?;
    let path = dir.join("flightdeck.log");
    let file = paths::append_private(&path)?;
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_writer(Mutex::new(file))
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init();
    Ok(path)
}
