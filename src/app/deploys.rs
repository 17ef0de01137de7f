//! The deploys pane's state: targets as the store has them, the selection, the open detail,
//! and the plan a person is confirming.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::feed::Feed;
use super::input::TextBox;
use crate::config::TargetConfig;
use crate::domain::Timestamp;
use crate::engine::deploy::view::TargetSnapshot;
use crate::engine::deploy::{DeployKind, DeployPlan};
use crate::store::JournalEntry;

/// Seconds a typed confirmation stays valid (S5).
pub const CONFIRM_SECS: i64 = 60;

/// Everything the deploys pane shows.
#[derive(Clone, Debug, Default)]
pub struct DeploysPane {
    /// Targets as configured (plans are made from these).
    pub configs: Vec<TargetConfig>,
    /// Targets as the store last had them, in config order.
    pub targets: Vec<TargetSnapshot>,
    /// Selected target.
    pub selected: usize,
    /// Whether the selected target's detail (history and journal) is open.
    pub detail: bool,
    /// Journal lines scrolled up from the end in the detail.
    pub scroll: usize,
    /// Where targets come from; `None` when the workspace has no targets.
    pub feed: Option<Feed>,
}

impl DeploysPane {
    /// The selected target.
    pub fn selected_target(&self) -> Option<&TargetSnapshot> {
        self.targets.get(self.selected)
    }

    /// The configuration of a target.
    pub fn config(&self, name: &str) -> Option<&TargetConfig> {
        self.configs.iter().find(|t| t.name == name)
    }

    /// Whether a deploy is going on (the pane then refreshes every second).
    pub fn any_running(&self) -> bool {
        self.targets.iter().any(|t| t.view.state == "running")
    }

    /// Replaces the targets, keeping the selection on the same target.
    pub fn set_targets(&mut self, targets: Vec<TargetSnapshot>) {
        let keep = self.selected_target().map(|t| t.view.target.clone());
        self.targets = targets;
        if let Some(name) = keep
            && let Some(pos) = self.targets.iter().position(|t| t.view.target == name)
        {
            self.selected = pos;
        }
        self.selected = self.selected.min(self.targets.len().saturating_sub(1));
    }

    /// Moves the selection (or scrolls the journal in the detail).
    pub fn move_by(&mut self, delta: isize) {
        if self.detail {
            let max = self
                .selected_target()
                .map_or(0, |t| t.journal.len().saturating_sub(1));
            self.scroll = ((self.scroll as isize - delta).max(0) as usize).min(max);
            return;
        }
        let last = self.targets.len().saturating_sub(1) as isize;
        self.selected = (self.selected as isize + delta).clamp(0, last.max(0)) as usize;
    }
}

/// What a node is doing according to the last deploy's journal: its latest record.
pub fn node_step<'a>(journal: &'a [JournalEntry], node: &str) -> Option<&'a JournalEntry> {
    journal.iter().rev().find(|e| e.node == node)
}

/// Identifies what a plan was made from: node versions, the lock and the last deploy. A
/// confirmation is void once this changes.
pub fn fingerprint(t: &TargetSnapshot) -> String {
    let nodes: Vec<String> = t
        .view
        .nodes
        .iter()
        .map(|n| format!("{}={}", n.name, n.version.as_deref().unwrap_or("-")))
        .collect();
    format!(
        "{}|{}|{}",
        nodes.join(","),
        t.view.lock.as_ref().map_or("", |l| l.lock_id.as_str()),
        t.view
            .last
            .as_ref()
            .map_or(String::new(), |d| format!("{}:{}", d.id, d.state))
    )
}

/// The versions each node runs, as the plan's starting point.
pub fn current(t: &TargetSnapshot) -> BTreeMap<String, Option<String>> {
    t.view
        .nodes
        .iter()
        .map(|n| (n.name.clone(), n.version.clone()))
        .collect()
}

/// A plan on screen, waiting for its confirmation.
#[derive(Clone, Debug, PartialEq)]
pub struct DeployConfirm {
    /// Target name.
    pub target: String,
    /// Deploy or rollback.
    pub kind: DeployKind,
    /// The version to install.
    pub version: String,
    /// The plan, described.
    pub lines: Vec<String>,
    /// What each node ran when the plan was made (the runner must find the same).
    pub expected: BTreeMap<String, Option<String>>,
    /// The target's name must be typed.
    pub protected: bool,
    /// What was typed.
    pub typed: TextBox,
    /// When the plan was shown.
    pub opened: Timestamp,
    /// What the plan was made from.
    pub fingerprint: String,
    /// Why the last Enter did not confirm.
    pub error: Option<String>,
}

impl DeployConfirm {
    /// The plan of `kind` to `version` on `t`.
    pub fn new(
        cfg: &TargetConfig,
        t: &TargetSnapshot,
        kind: DeployKind,
        version: &str,
        now: Timestamp,
    ) -> DeployConfirm {
        let expected = current(t);
        let plan = DeployPlan::new(
            cfg,
            kind,
            version,
            &expected,
            PathBuf::new(),
            PathBuf::new(),
            PathBuf::new(),
        );
        DeployConfirm {
            target: cfg.name.clone(),
            kind,
            version: version.to_string(),
            lines: plan.describe(),
            expected,
            protected: cfg.is_protected(),
            typed: TextBox::line(""),
            opened: now,
            fingerprint: fingerprint(t),
            error: None,
        }
    }

    /// Seconds left before the confirmation expires.
    pub fn left(&self, now: Timestamp) -> i64 {
        (self.opened + CONFIRM_SECS - now).max(0)
    }
}
