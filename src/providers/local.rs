//! The local backlog provider: items in the embedded SQLite store.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use futures::future::BoxFuture;

use super::{BacklogMutation, BacklogSource, ProviderError};
use crate::domain::{self, Comment, WorkItem};
use crate::store::{Store, StoreError};

/// Backlog items kept in the local store.
pub struct LocalBacklog {
    id: String,
    actor: String,
    inner: Arc<Mutex<Inner>>,
}

/// One store connection and what its owner last listed.
pub(super) struct Inner {
    pub(super) store: Store,
    /// `data_version` at the last full list; `None` forces the next list.
    pub(super) seen: Option<i64>,
}

impl Inner {
    /// Opens the store at `path`.
    pub(super) fn open(path: &Path) -> Result<Arc<Mutex<Inner>>, StoreError> {
        Ok(Arc::new(Mutex::new(Inner {
            store: Store::open(path)?,
            seen: None,
        })))
    }

    /// Whether another connection committed since the last full list (and remembers now).
    pub(super) fn changed(&mut self) -> Result<bool, StoreError> {
        let version = self.store.data_version()?;
        let changed = self.seen != Some(version);
        self.seen = Some(version);
        Ok(changed)
    }
}

/// Runs `f` on the store on a blocking thread.
pub(super) fn blocking<T: Send + 'static>(
    inner: &Arc<Mutex<Inner>>,
    f: impl FnOnce(&mut Inner) -> Result<T, ProviderError> + Send + 'static,
) -> BoxFuture<'static, Result<T, ProviderError>> {
    let inner = Arc::clone(inner);
    Box::pin(async move {
        tokio::task::spawn_blocking(move || f(&mut lock(&inner)))
            .await
            .map_err(|e| ProviderError::Other(format!("store task failed: {e}")))?
    })
}

impl From<StoreError> for ProviderError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NoSuchItem(id) => ProviderError::NotFound(format!("item {id}")),
            e @ StoreError::Conflict(_) => ProviderError::Invalid(e.to_string()),
            other => ProviderError::Other(other.to_string()),
        }
    }
}

impl LocalBacklog {
    /// Opens the store at `path` for provider `id`; `actor` authors new items and comments.
    pub fn open(id: &str, path: &Path, actor: &str) -> Result<Self, StoreError> {
        Ok(LocalBacklog {
            id: id.to_string(),
            actor: actor.to_string(),
            inner: Inner::open(path)?,
        })
    }

    fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Inner) -> Result<T, ProviderError> + Send + 'static,
    ) -> BoxFuture<'static, Result<T, ProviderError>> {
        blocking(&self.inner, f)
    }
}

fn lock(inner: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    // A panic while holding the lock leaves plain data behind; keep using it.
    inner.lock().unwrap_or_else(|p| p.into_inner())
}

impl BacklogSource for LocalBacklog {
    fn id(&self) -> &str {
        &self.id
    }

    fn list(&self, force: bool) -> BoxFuture<'_, Result<Option<Vec<WorkItem>>, ProviderError>> {
        let id = self.id.clone();
        self.blocking(move |inner| {
            if !inner.changed()? && !force {
                return Ok(None);
            }
            let items = inner
                .store
                .list_items(&id)
                .inspect_err(|_| inner.seen = None)?;
            Ok(Some(items))
        })
    }

    fn comments(&self, id: &str) -> BoxFuture<'_, Result<Vec<Comment>, ProviderError>> {
        let id = id.to_string();
        self.blocking(move |inner| Ok(inner.store.comments(&id)?))
    }

    fn find_key(&self, key: &str) -> BoxFuture<'_, Result<Option<WorkItem>, ProviderError>> {
        let (key, id) = (key.to_string(), self.id.clone());
        self.blocking(move |inner| Ok(inner.store.item_by_key(&id, &key)?))
    }

    fn apply(&self, change: BacklogMutation) -> BoxFuture<'_, Result<String, ProviderError>> {
        let actor = self.actor.clone();
        self.blocking(move |inner| {
            let now = domain::now();
            let s = &inner.store;
            let id = match change {
                BacklogMutation::Create(item) => {
                    if item.title.trim().is_empty() {
                        return Err(ProviderError::Invalid("the title is empty".into()));
                    }
                    s.create_item(&item, &actor, now)?
                }
                BacklogMutation::Edit { id, item, base } => {
                    if item.title.trim().is_empty() {
                        return Err(ProviderError::Invalid("the title is empty".into()));
                    }
                    s.update_item(&id, &item, base, now)?;
                    id
                }
                BacklogMutation::Comment { id, body } => {
                    if body.trim().is_empty() {
                        return Err(ProviderError::Invalid("the comment is empty".into()));
                    }
                    s.add_comment(&id, &actor, &body, now)?;
                    id
                }
                BacklogMutation::SetState { id, state } => {
                    s.set_state(&id, state, now)?;
                    id
                }
                BacklogMutation::SetLabels { id, labels } => {
                    s.set_labels(&id, &labels, now)?;
                    id
                }
                BacklogMutation::Acknowledge { id } => {
                    inner.store.acknowledge(&id, &actor, now)?;
                    id
                }
                BacklogMutation::Assign { id, assignee } => {
                    s.assign(&id, assignee.as_deref(), now)?;
                    id
                }
                BacklogMutation::Merge { id, into } => {
                    inner.store.merge(&id, &into, &actor, now)?;
                    into
                }
                BacklogMutation::Dismiss { id, hours } => {
                    inner.store.dismiss(&id, hours, &actor, now)?;
                    id
                }
            };
            // Our own writes do not move our connection's data_version: force the next list.
            inner.seen = None;
            Ok(id)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::NewItem;

    #[tokio::test]
    async fn list_is_conditional_and_sees_other_writers() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("s.db");
        let a = LocalBacklog::open("local", &path, "ana").unwrap();
        let b = LocalBacklog::open("local", &path, "bo").unwrap();
        assert_eq!(a.list(false).await.unwrap(), Some(vec![]));
        assert_eq!(
            a.list(false).await.unwrap(),
            None,
            "unchanged list is skipped"
        );
        assert_eq!(a.list(true).await.unwrap(), Some(vec![]), "unless forced");
        let new = NewItem {
            title: "t".into(),
            ..NewItem::default()
        };
        b.apply(BacklogMutation::Create(new.clone())).await.unwrap();
        let items = a.list(false).await.unwrap().expect("b's write is seen");
        assert_eq!(items[0].author, "bo");
        a.apply(BacklogMutation::Create(new)).await.unwrap();
        assert_eq!(
            a.list(false).await.unwrap().unwrap().len(),
            2,
            "own write is seen"
        );
        let err = a
            .apply(BacklogMutation::Create(NewItem::default()))
            .await
            .unwrap_err();
        assert!(matches!(err, ProviderError::Invalid(_)));
    }
}
