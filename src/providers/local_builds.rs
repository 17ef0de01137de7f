//! Local pipeline runs as a build source: the runs in the store and their logs on disk.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;

use super::local::{Inner, blocking};
use super::{BuildSource, ProviderError};
use crate::domain::Run;
use crate::store::StoreError;

/// How many runs the pane keeps.
pub const RUNS_SHOWN: usize = 200;

/// Runs of local pipelines.
pub struct LocalBuilds {
    id: String,
    inner: Arc<Mutex<Inner>>,
}

impl LocalBuilds {
    /// Opens the store at `path` for provider `id`.
    pub fn open(id: &str, path: &Path) -> Result<Self, StoreError> {
        Ok(LocalBuilds {
            id: id.to_string(),
            inner: Inner::open(path)?,
        })
    }
}

/// The last `max_bytes` of a file as lines; a first partial line is dropped.
pub fn read_tail(path: &Path, max_bytes: u64) -> std::io::Result<Vec<String>> {
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let start = len.saturating_sub(max_bytes);
    f.seek(SeekFrom::Start(start))?;
    let mut buf = Vec::new();
    f.take(max_bytes).read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf);
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if start > 0 && !lines.is_empty() {
        lines.remove(0);
    }
    Ok(lines)
}

impl BuildSource for LocalBuilds {
    fn id(&self) -> &str {
        &self.id
    }

    fn runs(&self) -> BoxFuture<'_, Result<Option<Vec<Run>>, ProviderError>> {
        let id = self.id.clone();
        blocking(&self.inner, move |inner| {
            if !inner.changed()? {
                return Ok(None);
            }
            let runs = inner
                .store
                .list_runs(&id, RUNS_SHOWN)
                .inspect_err(|_| inner.seen = None)?;
            Ok(Some(runs))
        })
    }

    fn log_tail(
        &self,
        run_id: &str,
        max_bytes: u64,
    ) -> BoxFuture<'_, Result<Vec<String>, ProviderError>> {
        let (id, run_id) = (self.id.clone(), run_id.to_string());
        blocking(&self.inner, move |inner| {
            let run = inner.store.get_run(&id, &run_id)?;
            let path = run.log_path.unwrap_or_default();
            match read_tail(Path::new(&path), max_bytes) {
                Ok(lines) => Ok(lines),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
                Err(e) => Err(ProviderError::Other(format!("log {path}: {e}"))),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_reads_only_the_end() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("log");
        let text: String = (0..1000).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&p, text).unwrap();
        let lines = read_tail(&p, 100).unwrap();
        assert_eq!(lines.last().unwrap(), "line 999");
        assert!(lines.len() < 15 && !lines[0].is_empty());
        assert!(
            lines[0].starts_with("line 9"),
            "partial first line dropped: {lines:?}"
        );
        assert_eq!(read_tail(&p, 1 << 20).unwrap().len(), 1000);
    }
}
