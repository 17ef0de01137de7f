//! Local pipeline runs as a build source: the runs in the store and their logs on disk.

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

impl BuildSource for LocalBuilds {
    fn id(&self) -> &str {
        &self.id
    }

    fn runs(&self, force: bool) -> BoxFuture<'_, Result<Option<Vec<Run>>, ProviderError>> {
        let id = self.id.clone();
        blocking(&self.inner, move |inner| {
            if !inner.changed()? && !force {
                return Ok(None);
            }
            let runs = inner
                .store
                .list_runs(&id, RUNS_SHOWN)
                .inspect_err(|_| inner.seen = None)?;
            Ok(Some(runs))
        })
    }
}
