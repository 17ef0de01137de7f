//! Build runs, deployments and health checks, as the panes that show them need them.

use serde::Serialize;

use super::Timestamp;

/// Where a build run (or one of its steps) stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Waiting to start.
    Queued,
    /// In progress.
    Running,
    /// Finished and passed.
    Success,
    /// Finished and failed.
    Failure,
    /// Stopped by someone, or abandoned when its runner died.
    Cancelled,
}

impl RunStatus {
    /// The stable lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Success => "success",
            RunStatus::Failure => "failure",
            RunStatus::Cancelled => "cancelled",
        }
    }

    /// Parses the stable lowercase name.
    pub fn parse(s: &str) -> Option<RunStatus> {
        [
            RunStatus::Queued,
            RunStatus::Running,
            RunStatus::Success,
            RunStatus::Failure,
            RunStatus::Cancelled,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }

    /// Whether the run (or step) has ended.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            RunStatus::Success | RunStatus::Failure | RunStatus::Cancelled
        )
    }
}

/// Test counts a run's steps reported.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct TestCounts {
    /// Tests that passed.
    pub passed: u32,
    /// Tests that failed.
    pub failed: u32,
    /// Tests skipped or ignored.
    pub skipped: u32,
}

impl TestCounts {
    /// Adds another report's counts.
    pub fn add(&mut self, other: TestCounts) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.skipped += other.skipped;
    }
}

/// One step of a run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Step {
    /// Step name.
    pub name: String,
    /// Its status.
    pub status: RunStatus,
    /// Exit code, when it ran as a process and exited.
    pub exit_code: Option<i32>,
    /// When it started.
    pub started: Option<Timestamp>,
    /// How long it took, in milliseconds.
    pub duration_ms: Option<u64>,
    /// Where its output starts and ends in the run's log (bytes).
    pub log_range: Option<(u64, u64)>,
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
    /// Run number within the pipeline.
    pub number: u64,
    /// Its status.
    pub status: RunStatus,
    /// Commit it built, if known.
    pub commit: Option<String>,
    /// Branch it built, if known.
    pub branch: Option<String>,
    /// `manual`, `commit`, `rerun`.
    pub trigger: String,
    /// Who started it.
    pub actor: String,
    /// When it started.
    pub started: Timestamp,
    /// When it ended.
    pub finished: Option<Timestamp>,
    /// Its steps.
    pub steps: Vec<Step>,
    /// Test counts, when a step reported any.
    pub tests: Option<TestCounts>,
    /// Names of failing tests.
    pub failed_tests: Vec<String>,
    /// Tests that failed before and passed on a rerun of the same commit.
    pub flaky_tests: Vec<String>,
    /// The full log on disk.
    pub log_path: Option<String>,
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
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize, PartialOrd, Ord,
)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// Past the critical threshold, or down.
    Crit,
    /// Past the warning threshold, or forecast to breach.
    Warn,
    /// No data, or data that proves nothing.
    Unknown,
    /// Within thresholds.
    Ok,
}

impl CheckStatus {
    /// The stable lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Ok => "ok",
            CheckStatus::Warn => "warn",
            CheckStatus::Crit => "crit",
            CheckStatus::Unknown => "unknown",
        }
    }

    /// Parses the stable lowercase name.
    pub fn parse(s: &str) -> Option<CheckStatus> {
        [
            CheckStatus::Ok,
            CheckStatus::Warn,
            CheckStatus::Crit,
            CheckStatus::Unknown,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

/// A forecast of when a check's series crosses its threshold.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Forecast {
    /// `linear` or `holt`.
    pub method: String,
    /// The threshold it crosses.
    pub threshold: f64,
    /// Seconds from now.
    pub seconds: f64,
    /// Fitted slope per second.
    pub slope: f64,
}

/// One health check's latest result.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Check {
    /// Check name (per node for a check on a target: `name · node`).
    pub check: String,
    /// The group it shows under.
    pub service: String,
    /// Its status.
    pub status: CheckStatus,
    /// Latest value, if numeric.
    pub value: Option<f64>,
    /// Unit of the value.
    pub unit: Option<String>,
    /// Where the series is heading, when it is heading for a threshold.
    pub forecast: Option<Forecast>,
    /// Since when it has had this status.
    pub since: Option<Timestamp>,
    /// Whether it has fired (bad for longer than its `for`) and not yet recovered.
    pub firing: bool,
    /// One line: why this status ("503 in 12 ms", "no data", "timed out after 5s").
    pub detail: String,
    /// The warning and critical thresholds.
    pub warn: Option<f64>,
    /// The critical threshold.
    pub crit: Option<f64>,
    /// Recent samples, oldest first: (time, value).
    pub series: Vec<(Timestamp, f64)>,
    /// When it last ran.
    pub updated: Timestamp,
    /// For an Alertmanager alert group: the provider and the `name=value` matchers that
    /// silence it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<(String, Vec<String>)>,
    /// What its remediation would do now, or why it cannot (only while not ok).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remedy: Option<String>,
    /// Its TLS certificates go unverified (`insecure_skip_verify`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure: bool,
}

/// The detail of a check on a node that runs nothing yet.
pub const NOT_DEPLOYED: &str = "not deployed";

impl Check {
    /// Whether it checks a node that runs nothing yet: no verdict, and nothing wrong.
    pub fn not_deployed(&self) -> bool {
        self.status == CheckStatus::Unknown && self.detail == NOT_DEPLOYED
    }

    /// Its detail as printed: marked when its certificates go unverified.
    pub fn shown_detail(&self) -> String {
        if self.insecure {
            format!("TLS UNVERIFIED · {}", self.detail)
        } else {
            self.detail.clone()
        }
    }
}
