//! Build runs, deployments and health checks, as the panes that show them need them.

use serde::Serialize;

use super::Timestamp;

/// Where a build run stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Waiting for a runner.
    Queued,
    /// In progress.
    Running,
    /// Finished and passed.
    Success,
    /// Finished and failed.
    Failure,
    /// Stopped by someone.
    Cancelled,
}

/// One step of a run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Step {
    /// Step name.
    pub name: String,
    /// Its status.
    pub status: RunStatus,
    /// Exit code, when it ran as a process.
    pub exit_code: Option<i32>,
    /// How long it took, in milliseconds.
    pub duration_ms: Option<u64>,
}

/// One run of a pipeline or workflow.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Run {
    /// Provider-local id.
    pub id: String,
    /// The provider that holds it.
    pub provider: String,
    /// Pipeline or workflow name.
    pub pipeline: String,
    /// Its status.
    pub status: RunStatus,
    /// Commit it built, if known.
    pub commit: Option<String>,
    /// When it started.
    pub started: Option<Timestamp>,
    /// Its steps.
    pub steps: Vec<Step>,
    /// Passed, failed and skipped test counts, when a step reported them.
    pub tests: Option<(u32, u32, u32)>,
}

/// Where a deploy stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeployState {
    /// Nothing running.
    Idle,
    /// Rolling out.
    Running,
    /// Finished on every node.
    Succeeded,
    /// Failed and rolled back.
    RolledBack,
    /// Failed without rollback.
    Failed,
    /// Failed and the rollback failed too: a human is needed.
    FailedRollback,
}

/// One node of a deploy target.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Node {
    /// Node name.
    pub name: String,
    /// Version it runs.
    pub version: Option<String>,
    /// Free-form state (`healthy`, `drained`, …).
    pub state: String,
}

/// The latest deployment of a target.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Deployment {
    /// Target name.
    pub target: String,
    /// Version deployed or being deployed.
    pub version: Option<String>,
    /// Its state.
    pub state: DeployState,
    /// Its nodes.
    pub nodes: Vec<Node>,
}

/// A health verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// Within thresholds.
    Ok,
    /// Past the warning threshold.
    Warn,
    /// Past the critical threshold.
    Crit,
    /// No data, or data that proves nothing.
    Unknown,
}

/// One health check's latest result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Check {
    /// Check name.
    pub check: String,
    /// Its status.
    pub status: CheckStatus,
    /// Latest value, if numeric.
    pub value: Option<f64>,
    /// Since when it has had this status.
    pub since: Option<Timestamp>,
}
