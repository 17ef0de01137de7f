//! `update` for the builds pane: runs, the run detail and its log, running and cancelling.

use super::{flash, keep_selection_visible};
use crate::app::action::Action;
use crate::app::builds::RunDetail;
use crate::app::feed::Answer;
use crate::app::overlay::{Confirmed, Overlay};
use crate::app::{Command, Event, Level, State};
use crate::domain::{RunStatus, Timestamp};
use crate::ui::layout;

/// Bytes of log the run detail loads.
pub const LOG_TAIL_BYTES: u64 = 256 * 1024;

/// Starts a runs refresh when due; every second while something runs, else every two.
pub(super) fn refresh_if_due(state: &mut State, now: Timestamp, cmds: &mut Vec<Command>) {
    let interval = if state.builds.any_running() { 1 } else { 2 };
    let Some(feed) = state.builds.feed.as_mut() else {
        return;
    };
    feed.interval = interval;
    if feed.due(now) {
        let request = state.request_id();
        if let Some(feed) = state.builds.feed.as_mut() {
            feed.start(request, now);
        }
        cmds.push(Command::ListRuns { request });
    }
}

fn load_log(state: &mut State, cmds: &mut Vec<Command>) {
    let Some(run) = state.builds.detail.as_ref().map(|d| d.run_id.clone()) else {
        return;
    };
    let request = state.request_id();
    if let Some(d) = state.builds.detail.as_mut() {
        d.request = Some(request);
    }
    cmds.push(Command::LoadLog { request, run });
}

/// Applies a builds event; false when the event is not the builds pane's.
pub(super) fn event(
    state: &mut State,
    event: Event,
    now: Timestamp,
    cmds: &mut Vec<Command>,
) -> bool {
    match event {
        Event::RunsListed { request, result } => {
            let Some(feed) = state.builds.feed.as_mut() else {
                return true;
            };
            match feed.answer(request, now, result) {
                Answer::Data(runs) => {
                    state.builds.set_runs(runs);
                    let rows = layout::builds_rows(state);
                    state.builds.move_by(0, rows);
                    // A changed run may have new output: reload the open detail's log.
                    if state
                        .builds
                        .detail
                        .as_ref()
                        .is_some_and(|d| d.request.is_none())
                    {
                        load_log(state, cmds);
                    }
                    state.dirty = true;
                }
                Answer::Redraw => state.dirty = true,
                Answer::Nothing => {}
            }
        }
        Event::LogLoaded { request, result } => {
            if let Some(d) = state.builds.detail.as_mut()
                && d.request == Some(request)
            {
                d.request = None;
                d.log = Some(result.map_err(|e| e.to_string()));
                state.dirty = true;
            }
        }
        Event::PipelineDone { request: _, result } => {
            match result {
                Ok(run) => {
                    let mut msg =
                        format!("{} #{} {}", run.pipeline, run.number, run.status.as_str());
                    if let Some(t) = run.tests {
                        msg.push_str(&format!(": {} passed, {} failed", t.passed, t.failed));
                    }
                    let level = if run.status == RunStatus::Success {
                        Level::Info
                    } else {
                        Level::Error
                    };
                    flash(state, msg, level, now);
                }
                Err(e) => flash(state, e.to_string(), Level::Error, now),
            }
            if let Some(f) = state.builds.feed.as_mut() {
                f.next_due = now;
            }
            refresh_if_due(state, now, cmds);
        }
        Event::CancelDone { request: _, result } => {
            match result {
                Ok(true) => flash(state, "cancel requested", Level::Info, now),
                Ok(false) => flash(state, "that run is no longer running", Level::Error, now),
                Err(e) => flash(state, e.to_string(), Level::Error, now),
            }
            if let Some(f) = state.builds.feed.as_mut() {
                f.next_due = now;
            }
        }
        _ => return false,
    }
    true
}

/// Runs a builds action.
pub(super) fn action(state: &mut State, action: Action, now: Timestamp, cmds: &mut Vec<Command>) {
    if state.builds.feed.is_none() {
        flash(
            state,
            "no pipelines configured ([[pipelines]] in the config)",
            Level::Error,
            now,
        );
        return;
    }
    let target = match &state.builds.detail {
        Some(d) => state.builds.run(&d.run_id),
        None => state.builds.selected_run(),
    }
    .cloned();
    match action {
        Action::RunPipeline => match state.builds.pipelines.len() {
            0 => flash(
                state,
                "no pipeline may be started by hand here",
                Level::Error,
                now,
            ),
            _ => {
                state.overlay = Some(Overlay::Choose {
                    title: "Run which pipeline?".into(),
                    options: state.builds.pipelines.clone(),
                    selected: 0,
                })
            }
        },
        Action::Rerun => match target {
            Some(run) if run.status.is_final() => start(state, run.pipeline, "rerun", cmds, now),
            Some(_) => flash(state, "that run is still going", Level::Error, now),
            None => flash(state, "no run selected", Level::Error, now),
        },
        Action::CancelRun => match target {
            Some(run) if !run.status.is_final() => {
                state.overlay = Some(Overlay::Confirm {
                    prompt: format!(
                        "Cancel {} #{}? Its process group will be killed.",
                        run.pipeline, run.number
                    ),
                    then: Confirmed::CancelRun(run.id),
                })
            }
            Some(_) => flash(state, "that run has already ended", Level::Error, now),
            None => flash(state, "no run selected", Level::Error, now),
        },
        _ => {}
    }
}

/// Starts a pipeline run.
pub(super) fn start(
    state: &mut State,
    pipeline: String,
    trigger: &'static str,
    cmds: &mut Vec<Command>,
    now: Timestamp,
) {
    let request = state.request_id();
    flash(state, format!("starting {pipeline}"), Level::Info, now);
    cmds.push(Command::RunPipeline {
        request,
        pipeline,
        trigger,
    });
    if let Some(f) = state.builds.feed.as_mut() {
        f.next_due = now;
    }
}

/// Carries out a confirmed action.
pub(super) fn confirmed(state: &mut State, then: Confirmed, cmds: &mut Vec<Command>) {
    match then {
        Confirmed::CancelRun(run) => {
            let request = state.request_id();
            cmds.push(Command::CancelRun { request, run });
        }
    }
}

/// Opens the selected run's detail.
pub(super) fn open(state: &mut State, cmds: &mut Vec<Command>) {
    if state.builds.detail.is_some() {
        return;
    }
    let Some(id) = state.builds.selected_run().map(|r| r.id.clone()) else {
        return;
    };
    state.builds.detail = Some(RunDetail {
        run_id: id,
        back: 0,
        log: None,
        request: None,
    });
    load_log(state, cmds);
}

/// Moves the selection, or scrolls the log in the detail view (positive is down).
pub(super) fn move_by(state: &mut State, delta: isize) {
    let rows = layout::builds_rows(state);
    let b = &mut state.builds;
    match b.detail.as_mut() {
        Some(d) => {
            let lines = d
                .log
                .as_ref()
                .and_then(|l| l.as_ref().ok())
                .map_or(0, Vec::len);
            d.back = (d.back as isize - delta).clamp(0, lines as isize) as usize;
        }
        None => b.move_by(delta, rows),
    }
    keep_selection_visible(state);
}

#[cfg(test)]
mod tests;
