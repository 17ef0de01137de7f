//! The health pane's state: the checks as the monitor last judged them, the selection, and
//! whether the selected check's chart is open.

use crate::domain::{Check, CheckStatus, Timestamp};

/// Everything the health pane shows.
#[derive(Clone, Debug, Default)]
pub struct HealthPane {
    /// Whether the workspace has checks at all.
    pub enabled: bool,
    /// Checks grouped by service, as the monitor sorts them.
    pub checks: Vec<Check>,
    /// Selected check.
    pub selected: usize,
    /// Whether the selected check's chart is open.
    pub detail: bool,
    /// When the monitor last reported.
    pub loaded_at: Option<Timestamp>,
    /// Why the incident loop could not deliver, if it could not.
    pub outbox_error: Option<String>,
}

impl HealthPane {
    /// The selected check.
    pub fn selected_check(&self) -> Option<&Check> {
        self.checks.get(self.selected)
    }

    /// Checks not ok (unknown counts: it proves nothing), nodes not deployed yet aside.
    pub fn failing(&self) -> usize {
        self.checks
            .iter()
            .filter(|c| c.status != CheckStatus::Ok && !c.not_deployed())
            .count()
    }

    /// Checks of nodes that run nothing yet.
    pub fn not_deployed(&self) -> usize {
        self.checks.iter().filter(|c| c.not_deployed()).count()
    }

    /// Replaces the checks, keeping the selection on the same check.
    pub fn set_checks(&mut self, checks: Vec<Check>) {
        let keep = self.selected_check().map(|c| c.check.clone());
        self.checks = checks;
        if let Some(name) = keep
            && let Some(pos) = self.checks.iter().position(|c| c.check == name)
        {
            self.selected = pos;
        }
        self.selected = self.selected.min(self.checks.len().saturating_sub(1));
        if self.checks.is_empty() {
            self.detail = false;
        }
    }

    /// Moves the selection.
    pub fn move_by(&mut self, delta: isize) {
        let last = self.checks.len().saturating_sub(1) as isize;
        self.selected = (self.selected as isize + delta).clamp(0, last.max(0)) as usize;
    }
}
