//! The one mutation gate: every mutating action passes here, so read-only mode and the audit
//! log cannot be bypassed by any view, key, palette command or rule.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::domain;
use crate::providers::{BacklogMutation, BacklogSource, ProviderError, with_timeout};
use crate::store::{Store, StoreError};

/// Why the gate did not carry an action out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GateError {
    /// `--read-only` is on.
    #[error("read-only mode: {0} refused")]
    ReadOnly(String),
    /// The audit record could not be written, so the action was not attempted.
    #[error("audit log unavailable, {action} not attempted: {reason}")]
    Audit {
        /// The action refused.
        action: String,
        /// Why the audit write failed.
        reason: String,
    },
    /// The provider refused or failed.
    #[error(transparent)]
    Provider(#[from] ProviderError),
}

/// Enforces read-only mode and writes an audit record before and after each action.
#[derive(Clone)]
pub struct Gate {
    read_only: bool,
    actor: String,
    audit: Arc<Mutex<Store>>,
}

impl Gate {
    /// A gate auditing into the store at `store_path`.
    pub fn open(store_path: &Path, actor: &str, read_only: bool) -> Result<Gate, StoreError> {
        Ok(Gate {
            read_only,
            actor: actor.to_string(),
            audit: Arc::new(Mutex::new(Store::open(store_path)?)),
        })
    }

    /// Whether mutations are refused.
    pub fn read_only(&self) -> bool {
        self.read_only
    }

    /// Applies a backlog change through the gate, with the provider's timeout.
    pub async fn backlog(
        &self,
        source: &dyn BacklogSource,
        change: BacklogMutation,
        timeout: Duration,
    ) -> Result<String, GateError> {
        let target = format!("{}#{}", source.id(), change.item_id());
        let action = change.action();
        let detail = change.detail();
        self.run(
            action,
            &target,
            &detail,
            with_timeout(timeout, source.apply(change)),
        )
        .await
    }

    /// Runs `action`, which has not started yet: refused in read-only mode, audited otherwise.
    pub async fn run<T>(
        &self,
        action: &str,
        target: &str,
        detail: &str,
        work: impl Future<Output = Result<T, ProviderError>>,
    ) -> Result<T, GateError> {
        if self.read_only {
            tracing::info!(action, target, "refused: read-only");
            return Err(GateError::ReadOnly(action.to_string()));
        }
        self.record(action, target, "intent", detail)
            .await
            .map_err(|reason| GateError::Audit {
                action: action.to_string(),
                reason,
            })?;
        let result = work.await;
        let (phase, outcome) = match &result {
            Ok(_) => ("ok", String::new()),
            Err(e) => ("error", e.to_string()),
        };
        if let Err(e) = self.record(action, target, phase, &outcome).await {
            tracing::error!(action, target, error = %e, "audit outcome not written");
        }
        Ok(result?)
    }

    async fn record(
        &self,
        action: &str,
        target: &str,
        phase: &str,
        detail: &str,
    ) -> Result<(), String> {
        let audit = Arc::clone(&self.audit);
        let (actor, action, target, phase, detail) = (
            self.actor.clone(),
            action.to_string(),
            target.to_string(),
            phase.to_string(),
            detail.to_string(),
        );
        tokio::task::spawn_blocking(move || {
            let mut store = audit.lock().unwrap_or_else(|p| p.into_inner());
            store
                .writable(&format!("audit {action}"))
                .map_err(|e| e.to_string())?;
            store
                .audit_append(domain::now(), &actor, &action, &target, &phase, &detail)
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())?
    }
}

/// `user@host` of whoever runs this process.
pub fn actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| {
            nix::unistd::User::from_uid(nix::unistd::getuid())
                .ok()
                .flatten()
                .map_or_else(|| "unknown".into(), |u| u.name)
        });
    let host = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into());
    format!("{user}@{host}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::NewItem;
    use crate::providers::local::LocalBacklog;

    fn create() -> BacklogMutation {
        BacklogMutation::Create(NewItem {
            title: "t".into(),
            ..NewItem::default()
        })
    }

    #[tokio::test]
    async fn read_only_refuses_before_anything_runs() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("s.db");
        let src = LocalBacklog::open("local", &path, "a").unwrap();
        let gate = Gate::open(&path, "a@h", true).unwrap();
        let err = gate
            .backlog(&src, create(), Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(matches!(err, GateError::ReadOnly(_)));
        assert!(src.list(false).await.unwrap().unwrap().is_empty());
        assert!(
            Store::open(&path)
                .unwrap()
                .audit_records()
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn every_action_is_audited_before_and_after() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("s.db");
        let src = LocalBacklog::open("local", &path, "a").unwrap();
        let gate = Gate::open(&path, "a@h", false).unwrap();
        let id = gate
            .backlog(&src, create(), Duration::from_secs(5))
            .await
            .unwrap();
        let bad = BacklogMutation::Comment {
            id: "404".into(),
            body: "x".into(),
        };
        assert!(
            gate.backlog(&src, bad, Duration::from_secs(5))
                .await
                .is_err()
        );
        let recs = Store::open(&path).unwrap().audit_records().unwrap();
        let phases: Vec<_> = recs.iter().map(|r| r.phase.as_str()).collect();
        assert_eq!(phases, ["intent", "ok", "intent", "error"]);
        assert_eq!(recs[0].action, "create_item");
        assert_eq!(recs[2].target, "local#404");
        assert_eq!(id, "1");
    }
}
