//! Capability traits every provider implements, over domain types, and the registry that builds them.

pub mod github;
pub mod local;
pub mod local_builds;
mod registry;

pub use registry::{ProviderInfo, Registry, workspace_store};

use std::time::Duration;

use futures::future::BoxFuture;

use crate::domain::{Check, Comment, Deployment, ItemState, NewItem, Run};

/// Why a provider call failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// No answer within the call's timeout.
    #[error("timed out after {}s", .0.as_secs_f32())]
    Timeout(Duration),
    /// The backend could not be reached.
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// The host asked us to wait (rate limit, back-off); nothing is sent until then.
    #[error("rate limited: {0}")]
    RateLimited(String),
    /// Credentials were refused.
    #[error("auth expired: {0}")]
    Auth(String),
    /// The thing asked for does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The request was refused as invalid.
    #[error("invalid: {0}")]
    Invalid(String),
    /// The backend answered something we could not use.
    #[error("bad response: {0}")]
    BadResponse(String),
    /// Refused as things stand (a lock held, a deploy running, a change that raced).
    #[error("{0}")]
    Conflict(String),
    /// The backend failed in another way.
    #[error("{0}")]
    Other(String),
}

/// A change to the backlog; always run through the mutation gate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BacklogMutation {
    /// File a new item.
    Create(NewItem),
    /// Replace an item's fields.
    Edit {
        /// Item id.
        id: String,
        /// New fields.
        item: NewItem,
        /// The item's `updated` time when the editor opened: the edit is refused if it moved
        /// since (someone else saved first), instead of silently undoing their change.
        base: Option<crate::domain::Timestamp>,
    },
    /// Add a comment.
    Comment {
        /// Item id.
        id: String,
        /// Markdown text.
        body: String,
    },
    /// Close or reopen.
    SetState {
        /// Item id.
        id: String,
        /// New state.
        state: ItemState,
    },
    /// Replace the labels.
    SetLabels {
        /// Item id.
        id: String,
        /// New labels.
        labels: Vec<String>,
    },
    /// Acknowledge an incident (label `acked` and a comment).
    Acknowledge {
        /// Item id.
        id: String,
    },
    /// Assign to someone (`None` unassigns).
    Assign {
        /// Item id.
        id: String,
        /// Who.
        assignee: Option<String>,
    },
    /// Merge an item into another: it closes and its dedup key files into the other.
    Merge {
        /// Item merged away.
        id: String,
        /// Item it goes into.
        into: String,
    },
    /// Close an incident and mute its dedup key for a while.
    Dismiss {
        /// Item id.
        id: String,
        /// Hours the key stays muted.
        hours: u64,
    },
}

impl BacklogMutation {
    /// The action name recorded in the audit log.
    pub fn action(&self) -> &'static str {
        match self {
            BacklogMutation::Create(_) => "create_item",
            BacklogMutation::Edit { .. } => "edit_item",
            BacklogMutation::Comment { .. } => "comment_item",
            BacklogMutation::SetState {
                state: ItemState::Closed,
                ..
            } => "close_item",
            BacklogMutation::SetState { .. } => "reopen_item",
            BacklogMutation::SetLabels { .. } => "label_item",
            BacklogMutation::Acknowledge { .. } => "ack_item",
            BacklogMutation::Assign { .. } => "assign_item",
            BacklogMutation::Merge { .. } => "merge_item",
            BacklogMutation::Dismiss { .. } => "dismiss_item",
        }
    }

    /// The item it acts on (`new` for a create).
    pub fn item_id(&self) -> &str {
        match self {
            BacklogMutation::Create(_) => "new",
            BacklogMutation::Edit { id, .. }
            | BacklogMutation::Comment { id, .. }
            | BacklogMutation::SetState { id, .. }
            | BacklogMutation::SetLabels { id, .. }
            | BacklogMutation::Acknowledge { id }
            | BacklogMutation::Assign { id, .. }
            | BacklogMutation::Merge { id, .. }
            | BacklogMutation::Dismiss { id, .. } => id,
        }
    }

    /// A one-line description for the audit log.
    pub fn detail(&self) -> String {
        match self {
            BacklogMutation::Create(i) | BacklogMutation::Edit { item: i, .. } => {
                format!("title={:?}", i.title)
            }
            BacklogMutation::Comment { body, .. } => format!("{} chars", body.chars().count()),
            BacklogMutation::SetState { state, .. } => state.as_str().to_string(),
            BacklogMutation::SetLabels { labels, .. } => labels.join(","),
            BacklogMutation::Acknowledge { .. } => String::new(),
            BacklogMutation::Assign { assignee, .. } => assignee.clone().unwrap_or_default(),
            BacklogMutation::Merge { into, .. } => format!("into {into}"),
            BacklogMutation::Dismiss { hours, .. } => format!("muted {hours}h"),
        }
    }
}

/// A source of backlog items (local store, GitHub Issues, …).
pub trait BacklogSource: Send + Sync {
    /// The provider id from the config.
    fn id(&self) -> &str;
    /// Lists every item; `Ok(None)` when nothing changed since the previous list (like a 304),
    /// unless `force` asks for the full list whatever happened before.
    fn list(
        &self,
        force: bool,
    ) -> BoxFuture<'_, Result<Option<Vec<crate::domain::WorkItem>>, ProviderError>>;
    /// The comments of one item.
    fn comments(&self, id: &str) -> BoxFuture<'_, Result<Vec<Comment>, ProviderError>>;
    /// The item filed with this dedup key, if any (how the incident outbox reconciles).
    fn find_key(
        &self,
        key: &str,
    ) -> BoxFuture<'_, Result<Option<crate::domain::WorkItem>, ProviderError>>;
    /// The item's web page, when its provider has one.
    fn web_url(&self, id: &str) -> Option<String> {
        let _ = id;
        None
    }
    /// Applies a mutation and returns the id of the item it touched. Only the gate calls this.
    fn apply(&self, change: BacklogMutation) -> BoxFuture<'_, Result<String, ProviderError>>;
}

/// What can be done to a run of a remote CI (local runs are steered through the store).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunAction {
    /// Run every job again.
    Rerun,
    /// Run only the jobs that failed again.
    RerunFailed,
    /// Stop it.
    Cancel,
}

impl RunAction {
    /// The action name recorded in the audit log.
    pub fn audit_name(self) -> &'static str {
        match self {
            RunAction::Rerun => "rerun_run",
            RunAction::RerunFailed => "rerun_failed_jobs",
            RunAction::Cancel => "cancel_run",
        }
    }
}

/// A source of build runs (local pipelines, GitHub Actions, …).
pub trait BuildSource: Send + Sync {
    /// The provider id from the config.
    fn id(&self) -> &str;
    /// The recent runs, newest first; `Ok(None)` when nothing changed since the last call.
    /// `force` asks for the full list even when nothing changed.
    fn runs(&self, force: bool) -> BoxFuture<'_, Result<Option<Vec<Run>>, ProviderError>>;
    /// The run's web page, when its provider has one.
    fn web_url(&self, run: &str) -> Option<String> {
        let _ = run;
        None
    }
    /// Reruns or cancels a run of a remote CI. Only the gate calls this.
    fn act(&self, run: &str, action: RunAction) -> BoxFuture<'_, Result<String, ProviderError>> {
        let _ = (run, action);
        Box::pin(async { Err(ProviderError::Invalid("not a remote CI run".into())) })
    }
    /// Workflows that can be dispatched by hand, with their inputs (none for local pipelines).
    fn workflows(&self) -> BoxFuture<'_, Result<Vec<crate::domain::Workflow>, ProviderError>> {
        Box::pin(async { Ok(Vec::new()) })
    }
    /// Dispatches a workflow; a message and, once known, the run it started. Only the gate
    /// calls this.
    fn dispatch(
        &self,
        workflow: crate::domain::Workflow,
        git_ref: String,
        values: std::collections::BTreeMap<String, String>,
    ) -> BoxFuture<'_, Result<(String, Option<String>), ProviderError>> {
        let _ = (workflow, git_ref, values);
        Box::pin(async { Err(ProviderError::Invalid("nothing to dispatch here".into())) })
    }
    /// Downloads the logs of a remote run's finished jobs into a file; returns its path.
    fn fetch_log(&self, run: &str) -> BoxFuture<'_, Result<String, ProviderError>> {
        let _ = run;
        Box::pin(async { Err(ProviderError::Invalid("not a remote CI run".into())) })
    }
}

/// Something that can be deployed to (a local fleet, an Ansible inventory, …).
pub trait DeployTarget: Send + Sync {
    /// The target name.
    fn name(&self) -> &str;
    /// The latest deployment and the version on each node.
    fn deployment(&self) -> BoxFuture<'_, Result<Deployment, ProviderError>>;
}

/// A source of health verdicts (HTTP probes, Prometheus, Alertmanager, …).
pub trait HealthSource: Send + Sync {
    /// The provider id from the config.
    fn id(&self) -> &str;
    /// The latest result of every check it owns.
    fn checks(&self) -> BoxFuture<'_, Result<Vec<Check>, ProviderError>>;
}

/// Runs `fut` with a timeout, mapping the elapsed case to [`ProviderError::Timeout`].
pub async fn with_timeout<T>(
    timeout: Duration,
    fut: impl std::future::Future<Output = Result<T, ProviderError>>,
) -> Result<T, ProviderError> {
    match tokio::time::timeout(timeout, fut).await {
        Ok(r) => r,
        Err(_) => Err(ProviderError::Timeout(timeout)),
    }
}
