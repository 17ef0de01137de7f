//! `update` for the builds pane: runs, the run detail and its log, running and cancelling.

use super::flash;
use crate::app::action::Action;
use crate::app::builds::RunDetail;
use crate::app::feed::Answer;
use crate::app::overlay::Choice;
use crate::app::overlay::{Confirmed, Overlay};
use crate::app::picker::Picker;
use crate::app::{Command, Event, Level, State};
use crate::domain::{RunStatus, Timestamp};
use crate::engine::pipeline::logfile::Anchor;
use crate::providers::RunAction;
use crate::ui::layout;

/// Seconds between looks at watched branches.
pub const WATCH_SECS: Timestamp = 5;
/// How often an idle feed of the local store refreshes anyway (a safety net: a write to the
/// store refreshes it at once).
pub const LOCAL_IDLE_SECS: Timestamp = 30;

/// Starts a runs refresh when due: local runs every second while something runs, else every
/// two; remote runs at their configured pace, at most every 5 s while something runs.
pub(super) fn refresh_if_due(state: &mut State, now: Timestamp, cmds: &mut Vec<Command>) {
    let running = state.builds.any_running();
    let interval = match (state.builds.remote, running) {
        (false, true) => 1,
        // Idle, the store says when something changed (`Event::StoreChanged`).
        (false, false) => LOCAL_IDLE_SECS,
        (true, true) => state.builds.interval.min(5),
        (true, false) => state.builds.interval,
    };
    let Some(feed) = state.builds.feed.as_mut() else {
        return;
    };
    feed.set_interval(interval);
    if feed.due(now) {
        let request = state.request_id();
        let force = state
            .builds
            .feed
            .as_mut()
            .is_some_and(|f| f.start(request, now));
        cmds.push(Command::ListRuns { request, force });
    }
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
                    // A remote run that moved on while its log is open: download it again.
                    let moved = state.builds.remote
                        && state.builds.detail.as_ref().is_some_and(|d| {
                            let old = state.builds.run(&d.run_id);
                            let new = runs.iter().find(|r| r.id == d.run_id);
                            matches!((old, new), (Some(o), Some(n)) if o.steps != n.steps || o.status != n.status)
                        });
                    state.builds.set_runs(runs);
                    if moved {
                        fetch(state, cmds);
                    }
                    let rows = layout::builds_rows(state);
                    state.builds.move_by(0, rows);
                    // A changed run may have new output: a following log view reads its end.
                    let follow = state
                        .builds
                        .detail
                        .as_ref()
                        .is_some_and(|d| d.follow && d.request.is_none());
                    if follow {
                        load(state, Anchor::End, cmds);
                    }
                    state.dirty = true;
                }
                Answer::Redraw => state.dirty = true,
                Answer::Nothing => {}
            }
        }
        Event::WorkflowsListed { request, result } => {
            if state.builds.workflows_request != Some(request) {
                return true;
            }
            state.builds.workflows_request = None;
            match result {
                Ok(w) if w.is_empty() => flash(
                    state,
                    "no workflow here can be dispatched (on: workflow_dispatch)",
                    Level::Error,
                    now,
                ),
                Ok(w) => {
                    state.flash = None;
                    let options = w
                        .iter()
                        .map(|w| format!("{} · {}", w.repo, w.name))
                        .collect();
                    state.overlay = Some(Overlay::Choose(Picker::new(
                        "Dispatch which workflow?".into(),
                        options,
                        Choice::Workflow(w),
                    )));
                }
                Err(e) => flash(state, format!("workflows: {e}"), Level::Error, now),
            }
            state.dirty = true;
        }
        Event::Dispatched { result } => {
            match result {
                Ok((msg, run)) => {
                    flash(state, msg, Level::Info, now);
                    state.builds.track = run;
                }
                Err(e) => flash(state, format!("dispatch: {e}"), Level::Error, now),
            }
            if let Some(f) = state.builds.feed.as_mut() {
                f.next_due = now;
                f.force = true;
            }
            refresh_if_due(state, now, cmds);
        }
        Event::LogFetched {
            request,
            run,
            result,
        } => {
            let Some(d) = state.builds.detail.as_mut() else {
                return true;
            };
            if d.request != Some(request) {
                return true;
            }
            d.request = None;
            match result {
                Ok(path) => {
                    if let Some(r) = state.builds.runs.iter_mut().find(|r| r.id == run) {
                        r.log_path = Some(path);
                    }
                    load(state, Anchor::End, cmds);
                }
                Err(e) => d.window = Some(Err(e.to_string())),
            }
            state.dirty = true;
        }
        Event::RunActed { what: _, result } => {
            match result {
                Ok(msg) => flash(state, msg, Level::Info, now),
                Err(e) => flash(state, e.to_string(), Level::Error, now),
            }
            if let Some(f) = state.builds.feed.as_mut() {
                f.next_due = now + 2;
            }
        }
        Event::LogLoaded { request, result } => {
            if let Some(d) = state.builds.detail.as_mut()
                && d.request == Some(request)
            {
                d.request = None;
                d.window = Some(result.map_err(|e| e.to_string()));
                state.dirty = true;
            }
        }
        Event::LogFound {
            request,
            what,
            result,
        } => {
            // An answer for a search of another run, or an older search, is stale.
            let current = state
                .builds
                .detail
                .as_ref()
                .is_some_and(|d| d.searching_request == Some(request));
            if !current {
                return true;
            }
            match result {
                Ok(Some((at, rank))) => {
                    if let Some(d) = state.builds.detail.as_mut() {
                        d.found = Some(at);
                        d.follow = false;
                        d.notice =
                            rank.map(|(nth, total)| format!("{what}: match {nth} of {total}"));
                    }
                    // A little context above the match.
                    load(state, Anchor::Above(at, 2), cmds);
                }
                Ok(None) => {
                    if let Some(d) = state.builds.detail.as_mut() {
                        d.notice = Some(if what.is_empty() {
                            "no error found".into()
                        } else {
                            format!("not found: {what}")
                        });
                    }
                }
                Err(e) => flash(state, e.to_string(), Level::Error, now),
            }
            state.dirty = true;
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
        Event::TriggersChecked { due } => {
            for pipeline in due {
                let request = state.request_id();
                flash(
                    state,
                    format!("new commit: starting {pipeline}"),
                    Level::Info,
                    now,
                );
                cmds.push(Command::RunPipeline {
                    request,
                    pipeline,
                    trigger: "commit",
                });
            }
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
        Action::RunPipeline if state.builds.remote => {
            let request = state.request_id();
            state.builds.workflows_request = Some(request);
            flash(state, "reading the workflows…", Level::Info, now);
            cmds.push(Command::ListWorkflows { request });
        }
        Action::RunPipeline => match state.builds.pipelines.len() {
            0 => flash(
                state,
                "no pipeline may be started by hand here",
                Level::Error,
                now,
            ),
            _ => {
                state.overlay = Some(Overlay::Choose(Picker::new(
                    "Run which pipeline?".into(),
                    state.builds.pipelines.clone(),
                    Choice::Pipeline,
                )))
            }
        },
        Action::Rerun | Action::RerunFailed if state.builds.remote => match target {
            Some(run) if run.status.is_final() => {
                let action = if action == Action::Rerun {
                    RunAction::Rerun
                } else {
                    RunAction::RerunFailed
                };
                flash(
                    state,
                    format!("asking GitHub: {}", action.audit_name().replace('_', " ")),
                    Level::Info,
                    now,
                );
                cmds.push(Command::ActOnRun {
                    run: run.id,
                    action,
                });
            }
            Some(_) => flash(state, "that run is still going", Level::Error, now),
            None => flash(state, "no run selected", Level::Error, now),
        },
        Action::RerunFailed => flash(
            state,
            "rerun of failed jobs is for GitHub runs; R reruns a local pipeline",
            Level::Error,
            now,
        ),
        Action::Rerun => match target {
            Some(run) if run.status.is_final() => start(state, run.pipeline, "rerun", cmds, now),
            Some(_) => flash(state, "that run is still going", Level::Error, now),
            None => flash(state, "no run selected", Level::Error, now),
        },
        Action::CancelRun => match target {
            Some(run) if !run.status.is_final() => {
                state.overlay = Some(Overlay::Confirm {
                    prompt: if state.builds.remote {
                        format!("Cancel {} #{} on GitHub?", run.pipeline, run.number)
                    } else {
                        format!(
                            "Cancel {} #{}? Its process group will be killed.",
                            run.pipeline, run.number
                        )
                    },
                    then: Confirmed::CancelRun(run.id),
                })
            }
            Some(_) => flash(state, "that run has already ended", Level::Error, now),
            None => flash(state, "no run selected", Level::Error, now),
        },
        Action::SearchNext | Action::SearchPrev => {
            let Some(q) = state.builds.detail.as_ref().map(|d| d.search.text.clone()) else {
                return;
            };
            if q.is_empty() {
                flash(
                    state,
                    "no search yet: / searches the log",
                    Level::Error,
                    now,
                );
            } else {
                search(state, q, action == Action::SearchPrev, cmds);
            }
        }
        Action::FirstError => {
            if state.builds.detail.is_some() {
                search(state, String::new(), false, cmds);
            } else {
                flash(state, "open a run first (enter)", Level::Error, now);
            }
        }
        Action::ToggleWrap => {
            if let Some(d) = state.builds.detail.as_mut() {
                d.wrap = !d.wrap;
            }
        }
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
        Confirmed::DiscardDraft(draft) => state
            .drafts
            .retain(|d| d.draft_key().as_ref() != Some(&draft)),
        Confirmed::CancelRun(run) if state.builds.remote => cmds.push(Command::ActOnRun {
            run,
            action: RunAction::Cancel,
        }),
        Confirmed::CancelRun(run) => {
            let request = state.request_id();
            cmds.push(Command::CancelRun { request, run });
        }
        Confirmed::SteerDeploy(target, deploy, abort) => {
            super::deploys::steer(state, target, deploy, abort, cmds)
        }
        Confirmed::Dispatch(workflow, git_ref, values) => {
            cmds.push(Command::Dispatch {
                workflow,
                git_ref,
                values,
            });
        }
        Confirmed::Remediate(check) => {
            if let Some(c) = state.health.checks.iter().find(|c| c.check == check) {
                cmds.push(Command::Remediate { check: c.into() });
            }
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
    state.builds.detail = Some(RunDetail::new(&id));
    if state.builds.remote {
        fetch(state, cmds);
    } else {
        load(state, Anchor::End, cmds);
    }
}

/// Downloads the open remote run's logs (then reads their end).
fn fetch(state: &mut State, cmds: &mut Vec<Command>) {
    let request = state.request_id();
    let Some(d) = state.builds.detail.as_mut() else {
        return;
    };
    d.request = Some(request);
    cmds.push(Command::FetchLog {
        request,
        run: d.run_id.clone(),
    });
}

/// Moves the selection, or scrolls the log in the detail view (positive is down).
pub(super) fn move_by(state: &mut State, delta: isize, cmds: &mut Vec<Command>) {
    let rows = layout::builds_rows(state);
    let Some(d) = state.builds.detail.as_mut() else {
        state.builds.move_by(delta, rows);
        return;
    };
    let Some(w) = d.lines().cloned() else {
        return;
    };
    let anchor = if delta >= 0 {
        let step = delta as usize;
        if d.follow {
            return;
        }
        if step >= w.lines.len() && w.end >= w.len || step > 1_000_000 {
            d.follow = true;
            Anchor::End
        } else {
            match w.offsets.get(step) {
                Some(&at) => Anchor::At(at),
                None => Anchor::At(w.end),
            }
        }
    } else if delta < -1_000_000 {
        d.follow = false;
        Anchor::At(0)
    } else {
        d.follow = false;
        Anchor::Above(w.start, delta.unsigned_abs())
    };
    load(state, anchor, cmds);
}

mod log;

use log::{load, search};
pub(super) use log::{resized, search_key};

#[cfg(test)]
mod tests;
