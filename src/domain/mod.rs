//! Provider-neutral domain types shared by providers, engines and the UI.

pub mod backlog;
pub mod ops;
pub mod workflow;

pub use backlog::{Comment, ItemKind, ItemState, NewItem, Severity, WorkItem};
pub use ops::{
    Check, CheckStatus, DeployState, Deployment, Forecast, NOT_DEPLOYED, Node, Run, RunStatus,
    Step, TestCounts,
};
pub use workflow::{InputKind, Workflow, WorkflowInput};

/// Seconds since the Unix epoch, UTC. All stored and displayed times use it.
pub type Timestamp = i64;

/// `n` and the noun, plural unless one: "1 node", "2 nodes", "3 batches".
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else if noun.ends_with('s') || noun.ends_with("ch") || noun.ends_with('x') {
        format!("{n} {noun}es")
    } else {
        format!("{n} {noun}s")
    }
}

/// The current time as a [`Timestamp`].
pub fn now() -> Timestamp {
    chrono::Utc::now().timestamp()
}

/// The four panes of the cockpit, in focus order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PaneId {
    /// Issues and incidents.
    Backlog,
    /// Build and test runs.
    Builds,
    /// Deploy targets and rollouts.
    Deploys,
    /// Live health checks.
    Health,
}

impl PaneId {
    /// All panes in focus order.
    pub const ALL: [PaneId; 4] = [
        PaneId::Backlog,
        PaneId::Builds,
        PaneId::Deploys,
        PaneId::Health,
    ];

    /// The title shown on the pane.
    pub fn title(self) -> &'static str {
        match self {
            PaneId::Backlog => "Backlog",
            PaneId::Builds => "Builds",
            PaneId::Deploys => "Deploys",
            PaneId::Health => "Health",
        }
    }

    /// Position in [`PaneId::ALL`].
    pub fn index(self) -> usize {
        match self {
            PaneId::Backlog => 0,
            PaneId::Builds => 1,
            PaneId::Deploys => 2,
            PaneId::Health => 3,
        }
    }
}
