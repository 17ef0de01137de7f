//! The builds pane's state: runs, selection, and the run detail with its log tail.

use crate::domain::{Run, RunStatus};
use crate::engine::pipeline::logfile::Window;

use super::input::TextBox;

use super::feed::Feed;

/// The open run detail: the run and a window onto its log file.
#[derive(Clone, Debug, PartialEq)]
pub struct RunDetail {
    /// The run shown.
    pub run_id: String,
    /// Whether the window sticks to the end of the log as it grows.
    pub follow: bool,
    /// The lines on screen, once read (or why they could not be).
    pub window: Option<Result<Window, String>>,
    /// The request whose answer is awaited.
    pub request: Option<u64>,
    /// Wrap long lines instead of cutting them.
    pub wrap: bool,
    /// The search text.
    pub search: TextBox,
    /// Whether the search line has the keyboard.
    pub searching: bool,
    /// Offset of the current match.
    pub found: Option<u64>,
    /// The search whose answer is awaited (later answers of older searches are dropped).
    pub searching_request: Option<u64>,
    /// A short message about the last search.
    pub notice: Option<String>,
}

impl RunDetail {
    /// A detail view following the end of the log of `run_id`.
    pub fn new(run_id: &str) -> RunDetail {
        RunDetail {
            run_id: run_id.to_string(),
            follow: true,
            window: None,
            request: None,
            wrap: false,
            search: TextBox::line(""),
            searching: false,
            found: None,
            searching_request: None,
            notice: None,
        }
    }

    /// The loaded window, if any.
    pub fn lines(&self) -> Option<&Window> {
        self.window.as_ref().and_then(|w| w.as_ref().ok())
    }
}

/// Rows the run detail uses above its log: summary, commit, tests, failing and flaky tests,
/// steps, and the rule with the log's status.
pub fn header_rows(run: &Run) -> usize {
    1 + usize::from(run.commit.is_some())
        + usize::from(run.tests.is_some())
        + run.failed_tests.len()
        + run.flaky_tests.len()
        + run.steps.len()
        + 1
}

/// Everything the builds pane shows.
#[derive(Clone, Debug, Default)]
pub struct BuildsPane {
    /// Runs, newest first.
    pub runs: Vec<Run>,
    /// Selected row.
    pub selected: usize,
    /// First visible row.
    pub offset: usize,
    /// Open run detail.
    pub detail: Option<RunDetail>,
    /// Where runs come from; `None` when the workspace has no pipelines.
    pub feed: Option<Feed>,
    /// Pipelines a person may start.
    pub pipelines: Vec<String>,
    /// Runs come from a remote CI: logs are downloaded, reruns and cancels go to its API.
    pub remote: bool,
    /// Seconds between refreshes of remote runs.
    pub interval: i64,
    /// A dispatched run to select as soon as it is listed.
    pub track: Option<String>,
    /// The workflow list awaited.
    pub workflows_request: Option<u64>,
}

impl BuildsPane {
    /// Replaces the runs, keeping the selection on the same run.
    pub fn set_runs(&mut self, runs: Vec<Run>) {
        let keep = self.selected_run().map(|r| r.id.clone());
        self.runs = runs;
        if let Some(id) = keep
            && let Some(pos) = self.runs.iter().position(|r| r.id == id)
        {
            self.selected = pos;
        }
        self.selected = self.selected.min(self.runs.len().saturating_sub(1));
        if let Some(pos) = self
            .track
            .as_ref()
            .and_then(|t| self.runs.iter().position(|r| &r.id == t))
        {
            self.selected = pos;
            self.track = None;
        }
    }

    /// The selected run.
    pub fn selected_run(&self) -> Option<&Run> {
        self.runs.get(self.selected)
    }

    /// The run with this id.
    pub fn run(&self, id: &str) -> Option<&Run> {
        self.runs.iter().find(|r| r.id == id)
    }

    /// Whether any run is still going (the pane then refreshes every second).
    pub fn any_running(&self) -> bool {
        self.runs.iter().any(|r| !r.status.is_final())
    }

    /// Moves the selection, keeping it within `rows` visible rows.
    pub fn move_by(&mut self, delta: isize, rows: usize) {
        let last = self.runs.len().saturating_sub(1) as isize;
        self.selected = (self.selected as isize + delta).clamp(0, last.max(0)) as usize;
        let rows = rows.max(1);
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + rows {
            self.offset = self.selected + 1 - rows;
        }
    }
}

/// Glyph and word for a status, readable without colour.
pub fn status_label(s: RunStatus) -> &'static str {
    match s {
        RunStatus::Queued => "○ queued",
        RunStatus::Running => "● running",
        RunStatus::Success => "✓ success",
        RunStatus::Failure => "✗ failure",
        RunStatus::Cancelled => "⊘ cancelled",
    }
}

/// `850ms`, `12s`, `1m05s`, `2h05m`, `6d 6h`: at most 7 characters.
pub fn duration(ms: u64) -> String {
    let s = ms / 1000;
    match ms {
        0..1000 => format!("{ms}ms"),
        1000..60_000 => format!("{s}s"),
        60_000..3_600_000 => format!("{}m{:02}s", s / 60, s % 60),
        3_600_000..86_400_000 => format!("{}h{:02}m", s / 3600, (s / 60) % 60),
        _ => format!("{}d {}h", s / 86_400, (s / 3600) % 24),
    }
}

#[cfg(test)]
mod tests {
    /// Long runs read in days and hours, never `9023m09s`, and fit the 7-wide column.
    #[test]
    fn durations_stay_short() {
        let cases = [
            (850, "850ms"),
            (12_000, "12s"),
            (65_000, "1m05s"),
            (7_500_000, "2h05m"),
            (541_389_000, "6d 6h"),
            (99 * 86_400_000 + 23 * 3_600_000, "99d 23h"),
        ];
        for (ms, want) in cases {
            assert_eq!(super::duration(ms), want);
            assert!(want.len() <= 7);
        }
    }
}
