//! Deploys pane handlers: refresh, keys, the version chooser, the plan with its typed
//! confirmation (void after 60 s or once the target changes), and the gate's answers.

use crossterm::event::{KeyCode, KeyEvent};

use super::{flash, is_ctrl};
use crate::app::deploys::{DeployConfirm, fingerprint};
use crate::app::feed::Answer;
use crate::app::overlay::{Choice, Confirmed, Overlay};
use crate::app::picker::Picker;
use crate::app::{Action, Command, Event, Level, State};
use crate::domain::Timestamp;
use crate::engine::deploy::DeployKind;

/// Lists the targets when due: every second while a deploy runs, else every two.
pub(super) fn refresh_if_due(state: &mut State, now: Timestamp, cmds: &mut Vec<Command>) {
    let running = state.deploys.any_running();
    let Some(feed) = state.deploys.feed.as_mut() else {
        return;
    };
    // A deploy that just started is followed every second, not after the idle wait.
    feed.set_interval(if running {
        1
    } else {
        super::builds::LOCAL_IDLE_SECS
    });
    if feed.due(now) {
        let request = state.request_id();
        if let Some(f) = state.deploys.feed.as_mut() {
            f.start(request, now);
        }
        cmds.push(Command::ListDeploys { request });
    }
}

/// Expires a plan left on screen too long (S5).
pub(super) fn tick(state: &mut State, now: Timestamp) {
    if let Some(Overlay::DeployPlan(c)) = &state.overlay {
        if c.left(now) == 0 {
            state.overlay = None;
            flash(
                state,
                "confirmation expired after 60 s: nothing deployed",
                Level::Error,
                now,
            );
        } else {
            // The countdown is on screen.
            state.dirty = true;
        }
    }
}

/// Handles the deploys pane's events.
pub(super) fn event(state: &mut State, ev: Event, now: Timestamp) {
    match ev {
        Event::DeploysListed { request, result } => {
            let Some(feed) = state.deploys.feed.as_mut() else {
                return;
            };
            let feed_had_error = feed.error.is_some();
            match feed.answer(request, now, result) {
                // Unchanged targets cost no frame.
                Answer::Data(targets) if targets == state.deploys.targets => {
                    if feed_had_error {
                        state.dirty = true;
                    }
                }
                Answer::Data(targets) => {
                    let ended = ended_deploys(&state.deploys.targets, &targets);
                    state.deploys.set_targets(targets);
                    for (text, ok) in ended {
                        let level = if ok { Level::Info } else { Level::Error };
                        flash(state, text, level, now);
                    }
                    void_changed_plan(state, now);
                    state.dirty = true;
                }
                Answer::Redraw => state.dirty = true,
                Answer::Nothing => {}
            }
        }
        Event::DeployActed {
            request: _,
            what,
            result,
        } => {
            match result {
                Ok(msg) => flash(state, msg, Level::Info, now),
                Err(e) => flash(state, format!("{what}: {e}"), Level::Error, now),
            }
            if let Some(f) = state.deploys.feed.as_mut() {
                f.next_due = now;
            }
        }
        _ => {}
    }
}

/// A plan made from a target that has since changed is not what the person would confirm.
fn void_changed_plan(state: &mut State, now: Timestamp) {
    let Some(Overlay::DeployPlan(c)) = &state.overlay else {
        return;
    };
    let changed = state
        .deploys
        .targets
        .iter()
        .find(|t| t.view.target == c.target)
        .is_none_or(|t| fingerprint(t) != c.fingerprint);
    if changed {
        state.overlay = None;
        flash(
            state,
            "the target changed while the plan was open: nothing deployed, plan again",
            Level::Error,
            now,
        );
    }
}

/// Runs a deploys-pane action.
pub(super) fn action(state: &mut State, action: Action, now: Timestamp) {
    if state.deploys.feed.is_none() {
        flash(
            state,
            "no deploy targets configured ([[targets]] in the config)",
            Level::Error,
            now,
        );
        return;
    }
    let Some(t) = state.deploys.selected_target().cloned() else {
        flash(state, "no target selected", Level::Error, now);
        return;
    };
    let name = t.view.target.clone();
    let running = t.view.last.as_ref().filter(|d| d.state == "running");
    match action {
        Action::Deploy | Action::RollbackTarget if running.is_some() => flash(
            state,
            format!(
                "{name} has a deploy going (#{}): {} aborts it, {} resumes it",
                running.map_or(0, |d| d.id),
                state.keymap.label(Action::AbortDeploy),
                state.keymap.label(Action::ResumeDeploy)
            ),
            Level::Error,
            now,
        ),
        Action::Deploy if t.versions.is_empty() => flash(
            state,
            format!(
                "no known versions of {name}: set `versions` on the target, or run a pipeline that makes releases"
            ),
            Level::Error,
            now,
        ),
        Action::Deploy => {
            let current = t.view.version.clone();
            let (options, notes, selected) =
                crate::app::picker::versions(&t.versions, current.as_deref());
            let mut p = Picker::new(
                format!(
                    "Deploy which version to {name}? (now {})",
                    current.as_deref().unwrap_or("nothing")
                ),
                options,
                Choice::Version(name),
            );
            p.notes = notes;
            p.selected = selected;
            state.overlay = Some(Overlay::Choose(p));
        }
        Action::RollbackTarget => {
            let to = t
                .history
                .iter()
                .find(|d| d.kind == "deploy" && d.state == "succeeded")
                .map(|d| (d.from.clone(), d.to.clone()));
            match to {
                Some((Some(v), _))
                    if t.view
                        .nodes
                        .iter()
                        .all(|n| n.version.as_deref() == Some(&v)) =>
                {
                    flash(
                        state,
                        format!("{name} already runs {v} on every node"),
                        Level::Error,
                        now,
                    )
                }
                Some((Some(v), _)) => plan(state, &name, DeployKind::Rollback, &v, now),
                Some((None, first)) => flash(
                    state,
                    format!("nothing to roll back to: {first} is the first version {name} ran"),
                    Level::Error,
                    now,
                ),
                None => flash(
                    state,
                    format!("nothing to roll back: {name} has no successful deploy"),
                    Level::Error,
                    now,
                ),
            }
        }
        Action::AbortDeploy | Action::ResumeDeploy => {
            let abort = action == Action::AbortDeploy;
            match running {
                None => flash(
                    state,
                    format!("{name} has no deploy going"),
                    Level::Error,
                    now,
                ),
                Some(d) if !abort && t.runner_alive => flash(
                    state,
                    format!("deploy #{} is running; nothing to resume", d.id),
                    Level::Error,
                    now,
                ),
                Some(d) => {
                    let prompt = if abort {
                        format!(
                            "Abort deploy #{} of {name} ({} → {})? Nodes it changed roll back.",
                            d.id,
                            d.from.as_deref().unwrap_or("nothing"),
                            d.to
                        )
                    } else {
                        format!(
                            "Resume deploy #{} of {name} ({} → {})? Finished steps are not repeated.",
                            d.id,
                            d.from.as_deref().unwrap_or("nothing"),
                            d.to
                        )
                    };
                    state.overlay = Some(Overlay::Confirm {
                        prompt,
                        then: Confirmed::SteerDeploy(name, d.id, abort),
                    });
                }
            }
        }
        _ => {}
    }
}

/// Shows the plan of `kind` to `version` on `target` for confirmation.
pub(super) fn plan(
    state: &mut State,
    target: &str,
    kind: DeployKind,
    version: &str,
    now: Timestamp,
) {
    let (Some(cfg), Some(t)) = (
        state.deploys.config(target).cloned(),
        state
            .deploys
            .targets
            .iter()
            .find(|t| t.view.target == target)
            .cloned(),
    ) else {
        flash(state, format!("no target {target}"), Level::Error, now);
        return;
    };
    state.overlay = Some(Overlay::DeployPlan(DeployConfirm::new(
        &cfg, &t, kind, version, now,
    )));
}

/// A confirmed abort or resume.
pub(super) fn steer(
    state: &mut State,
    target: String,
    deploy: i64,
    abort: bool,
    cmds: &mut Vec<Command>,
) {
    let request = state.request_id();
    cmds.push(Command::SteerDeploy {
        request,
        target,
        deploy,
        abort,
    });
}

/// Keys while a plan is on screen: Esc drops it; a protected target needs its name typed,
/// then Enter; others take `y` or Enter.
pub(super) fn plan_key(
    state: &mut State,
    mut c: DeployConfirm,
    key: KeyEvent,
    now: Timestamp,
    cmds: &mut Vec<Command>,
) -> bool {
    if key.code == KeyCode::Esc || is_ctrl(&key, 'c') {
        flash(state, "not confirmed: nothing deployed", Level::Info, now);
        return true;
    }
    if c.left(now) == 0 {
        flash(
            state,
            "confirmation expired after 60 s: nothing deployed",
            Level::Error,
            now,
        );
        return true;
    }
    let go = if c.protected {
        if key.code == KeyCode::Enter {
            if c.typed.text.trim() == c.target {
                true
            } else {
                c.error = Some(format!("type {} exactly to go on", c.target));
                false
            }
        } else {
            c.typed.key(&key);
            c.error = None;
            false
        }
    } else {
        matches!(key.code, KeyCode::Enter | KeyCode::Char('y')) && key.modifiers.is_empty()
    };
    if go {
        let request = state.request_id();
        flash(
            state,
            format!(
                "starting {} of {} to {}…",
                c.kind.as_str(),
                c.target,
                c.version
            ),
            Level::Info,
            now,
        );
        cmds.push(Command::StartDeploy {
            request,
            target: c.target,
            kind: c.kind,
            version: c.version,
            expected: c.expected,
        });
        return true;
    }
    state.overlay = Some(Overlay::DeployPlan(c));
    true
}

/// Deploys that ended since the last refresh (seen running then, or started and ended in
/// between), as one line each (the status bar adds ✓ or ✗) and whether they succeeded;
/// nothing on the first load.
fn ended_deploys(
    old: &[crate::engine::deploy::view::TargetSnapshot],
    new: &[crate::engine::deploy::view::TargetSnapshot],
) -> Vec<(String, bool)> {
    if old.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for t in new {
        let Some(d) = t.view.last.as_ref().filter(|d| d.finished.is_some()) else {
            continue;
        };
        let before = old
            .iter()
            .find(|o| o.view.target == t.view.target)
            .and_then(|o| o.view.last.as_ref());
        let fresh = match before {
            Some(b) if b.id == d.id => b.finished.is_none(),
            Some(b) => d.id > b.id,
            None => true,
        };
        if !fresh {
            continue;
        }
        let ok = d.state == "succeeded";
        let what = format!(
            "deploy #{} of {} ({} → {})",
            d.id,
            d.target,
            d.from.as_deref().unwrap_or("nothing"),
            d.to
        );
        let text = match (&d.reason, ok) {
            (_, true) => format!("{what} succeeded"),
            (Some(r), false) => format!("{what} {}: {r}", d.state.replace('_', " ")),
            (None, false) => format!("{what} {}", d.state.replace('_', " ")),
        };
        out.push((text, ok));
    }
    out
}
