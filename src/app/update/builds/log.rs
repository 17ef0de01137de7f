//! The run detail's log: which window to read, searching it, and the search line's keys.

use crate::app::builds::header_rows;
use crate::app::{Command, State};
use crate::domain::PaneId;
use crate::engine::pipeline::logfile::Anchor;
use crate::ui::layout;

/// Rows of log the detail view shows.
fn log_rows(state: &State) -> usize {
    let (w, h) = state.size;
    let a = layout::areas((w, h), PaneId::Builds, true);
    let pane = a.panes.first().map_or(0, |(_, r)| r.height as usize);
    let header = state
        .builds
        .detail
        .as_ref()
        .and_then(|d| state.builds.run(&d.run_id))
        .map_or(0, header_rows);
    pane.saturating_sub(2 + header).max(1)
}

/// The open detail's log file.
fn log_path(state: &State) -> Option<String> {
    let d = state.builds.detail.as_ref()?;
    state.builds.run(&d.run_id)?.log_path.clone()
}

/// Reads the window of the open detail's log at `anchor`.
pub(super) fn load(state: &mut State, anchor: Anchor, cmds: &mut Vec<Command>) {
    let Some(path) = log_path(state) else {
        return;
    };
    let rows = log_rows(state);
    let request = state.request_id();
    if let Some(d) = state.builds.detail.as_mut() {
        d.request = Some(request);
    }
    cmds.push(Command::LoadLog {
        request,
        path,
        anchor,
        rows,
    });
}

/// Reads the open log window again for a new terminal size.
pub(in crate::app::update) fn resized(state: &mut State, cmds: &mut Vec<Command>) {
    let Some(d) = state.builds.detail.as_ref() else {
        return;
    };
    let anchor = match (d.follow, d.lines()) {
        (false, Some(w)) => Anchor::At(w.start),
        _ => Anchor::End,
    };
    load(state, anchor, cmds);
}

/// Searches the open detail's log; an empty query looks for the first error.
pub(super) fn search(state: &mut State, query: String, backwards: bool, cmds: &mut Vec<Command>) {
    let Some(path) = log_path(state) else {
        return;
    };
    let Some(d) = state.builds.detail.as_ref() else {
        return;
    };
    let here = d.lines().map_or(0, |w| w.start);
    let from = match (d.found, backwards, query.is_empty()) {
        (_, _, true) => 0,
        (Some(f), false, _) => f + 1,
        (Some(f), true, _) => f,
        (None, _, _) => here,
    };
    let request = state.request_id();
    if let Some(d) = state.builds.detail.as_mut() {
        d.searching_request = Some(request);
    }
    cmds.push(Command::SearchLog {
        request,
        path,
        query,
        from,
        backwards,
    });
}

/// Keys while the log search line has the keyboard.
pub(in crate::app::update) fn search_key(
    state: &mut State,
    key: crossterm::event::KeyEvent,
    cmds: &mut Vec<Command>,
) -> bool {
    use crossterm::event::KeyCode;
    let Some(d) = state.builds.detail.as_mut() else {
        return false;
    };
    match key.code {
        KeyCode::Enter => {
            d.searching = false;
            d.found = None;
            let q = d.search.text.clone();
            search(state, q, false, cmds);
        }
        KeyCode::Esc => d.searching = false,
        _ => {
            d.search.key(&key);
        }
    }
    true
}
