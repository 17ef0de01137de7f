//! `update`: the only place state changes. Synchronous; side effects are returned as commands.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::action::{Action, Context};
use super::backlog::Detail;
use super::feed::Answer;
use super::input::{Edit, TextBox};
use super::overlay::{Overlay, PaletteState};
use super::{Command, Event, Flash, Level, State};
use crate::domain::{PaneId, Timestamp};
use crate::ui::layout;

/// How long a flash message stays.
const FLASH_SECS: i64 = 4;

/// Applies one event to the state and returns the side effects it asks for.
pub fn update(state: &mut State, event: Event, now: Timestamp) -> Vec<Command> {
    let mut cmds = Vec::new();
    match event {
        Event::Key(key) => {
            if key.kind != KeyEventKind::Release && handle_key(state, key, now, &mut cmds) {
                state.dirty = true;
            }
        }
        Event::Paste(text) => {
            if let Some(t) = active_text(state) {
                t.insert_str(&text);
                after_text_change(state);
                state.dirty = true;
            }
        }
        Event::Resize(w, h) => {
            state.size = (w, h);
            keep_selection_visible(state);
            builds::resized(state, &mut cmds);
            state.dirty = true;
        }
        Event::Mouse(m) => {
            if state.overlay.is_none() && super::mouse::handle(state, m) {
                keep_selection_visible(state);
                state.dirty = true;
            }
        }
        Event::Tick => tick::tick(state, now, &mut cmds),
        Event::StoreChanged => tick::store_changed(state, now, &mut cmds),
        Event::BacklogListed { request, result } => {
            let Some(feed) = state.backlog.feed.as_mut() else {
                return cmds;
            };
            match feed.answer(request, now, result) {
                Answer::Data(items) => {
                    state.backlog.set_items(items);
                    keep_selection_visible(state);
                    state.dirty = true;
                }
                Answer::Redraw => state.dirty = true,
                Answer::Nothing => {}
            }
        }
        Event::CommentsLoaded { request, result } => {
            if let Some(d) = state.backlog.detail.as_mut()
                && d.request == Some(request)
            {
                d.request = None;
                d.comments = Some(result.map_err(|e| e.to_string()));
                state.dirty = true;
            }
        }
        Event::Mutated { request, result } => mutated(state, request, result, now, &mut cmds),
        ev @ (Event::RunsListed { .. }
        | Event::LogLoaded { .. }
        | Event::LogFound { .. }
        | Event::PipelineDone { .. }
        | Event::CancelDone { .. }
        | Event::LogFetched { .. }
        | Event::WorkflowsListed { .. }
        | Event::Dispatched { .. }
        | Event::RunActed { .. }
        | Event::TriggersChecked { .. }) => {
            builds::event(state, ev, now, &mut cmds);
        }
        ev @ (Event::DeploysListed { .. } | Event::DeployActed { .. }) => {
            deploys::event(state, ev, now);
        }
        Event::HealthActed { what, result } => match result {
            Ok(msg) => flash(state, msg, Level::Info, now),
            Err(e) => flash(state, format!("{what}: {e}"), Level::Error, now),
        },
        Event::HealthChecked {
            checks,
            outbox_error,
        } => {
            let h = &mut state.health;
            h.loaded_at = Some(now);
            if checks != h.checks || outbox_error != h.outbox_error {
                h.set_checks(checks);
                h.outbox_error = outbox_error;
                state.dirty = true;
            }
        }
        Event::ShowUrl { url } => {
            state.overlay = Some(Overlay::Url(url));
            state.dirty = true;
        }
        Event::Notice { text, error } => {
            let level = if error { Level::Error } else { Level::Info };
            flash(state, text, level, now);
        }
        Event::Budgets(b) => {
            if b != state.budgets {
                state.budgets = b;
                state.dirty = true;
            }
        }
        Event::Terminate(_) | Event::InputClosed => state.quit = true,
    }
    let alerts = [
        state.backlog.feed.as_mut(),
        state.builds.feed.as_mut(),
        state.deploys.feed.as_mut(),
    ]
    .into_iter()
    .flatten()
    .find_map(|f| f.alert.take());
    if let Some(text) = alerts {
        flash(state, text, Level::Error, now);
    }
    cmds
}

/// Asks before running the selected check's remediation.
fn remedy_prompt(state: &mut State, now: Timestamp) {
    let Some(c) = state.health.selected_check() else {
        flash(state, "no check selected", Level::Error, now);
        return;
    };
    match &c.remedy {
        Some(r) if r.starts_with("proposed: ") || r.starts_with("auto: ") => {
            let what = r.split_once(": ").map_or(r.as_str(), |x| x.1);
            state.overlay = Some(Overlay::Confirm {
                prompt: format!("Run {what} for {}?", c.check),
                then: crate::app::overlay::Confirmed::Remediate(c.check.clone()),
            });
        }
        Some(why) => {
            let msg = why.clone();
            flash(state, msg, Level::Error, now);
        }
        None => {
            let msg = format!("{} has no remediation to run now", c.check);
            flash(state, msg, Level::Error, now);
        }
    }
}

/// Asks how long to silence the selected alert group.
fn silence_prompt(state: &mut State, now: Timestamp) {
    let Some(c) = state.health.selected_check() else {
        flash(state, "no check selected", Level::Error, now);
        return;
    };
    if c.alert.is_none() {
        let msg = format!("{} is not an Alertmanager alert", c.check);
        flash(state, msg, Level::Error, now);
        return;
    }
    state.overlay = Some(Overlay::Triage {
        item: c.check.clone(),
        what: crate::app::overlay::Triage::Silence,
        text: TextBox::line("2"),
        error: None,
    });
}

fn flash(state: &mut State, text: impl Into<String>, level: Level, now: Timestamp) {
    let text = text.into();
    state.last_message = Some(text.clone());
    state.flash = Some(Flash {
        text,
        level,
        until: now + FLASH_SECS,
    });
    state.dirty = true;
}

fn list_rows(state: &State) -> usize {
    layout::backlog_rows(state)
}

fn keep_selection_visible(state: &mut State) {
    let rows = list_rows(state);
    state.backlog.scroll_into_view(rows);
}

/// The text box that has the keyboard, if any.
fn active_text(state: &mut State) -> Option<&mut TextBox> {
    match state.overlay.as_mut() {
        Some(Overlay::Form(f)) => f.focused_text(),
        Some(Overlay::Dispatch(f)) => f.focused_text(),
        Some(Overlay::Palette(p)) => Some(&mut p.input),
        Some(Overlay::Comment { text, .. })
        | Some(Overlay::Labels { text, .. })
        | Some(Overlay::Triage { text, .. }) => Some(text),
        Some(
            Overlay::Help { .. }
            | Overlay::Url(_)
            | Overlay::Message(_)
            | Overlay::Choose(_)
            | Overlay::Confirm { .. }
            | Overlay::DeployPlan(_),
        ) => None,
        None if state.backlog.filtering => Some(&mut state.backlog.filter),
        None if state.builds.detail.as_ref().is_some_and(|d| d.searching) => {
            state.builds.detail.as_mut().map(|d| &mut d.search)
        }
        None => None,
    }
}

fn after_text_change(state: &mut State) {
    match state.overlay.as_mut() {
        Some(Overlay::Palette(p)) => p.selected = 0,
        None if state.backlog.filtering => {
            state.backlog.refilter();
            keep_selection_visible(state);
        }
        _ => {}
    }
}

fn is_ctrl(key: &KeyEvent, c: char) -> bool {
    key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char(c)
}

fn handle_key(state: &mut State, key: KeyEvent, now: Timestamp, cmds: &mut Vec<Command>) -> bool {
    if state.overlay.is_some() {
        return overlays::overlay_key(state, key, now, cmds);
    }
    if state.backlog.filtering && state.focus == PaneId::Backlog {
        return filter_key(state, key);
    }
    if state.focus == PaneId::Builds && state.builds.detail.as_ref().is_some_and(|d| d.searching) {
        return builds::search_key(state, key, cmds);
    }
    let ctx = match state.focus {
        PaneId::Backlog => Context::Backlog,
        PaneId::Builds => Context::Builds,
        PaneId::Deploys => Context::Deploys,
        PaneId::Health => Context::Health,
    };
    match state.keymap.action_in(&key, ctx) {
        Some(action) => {
            dispatch(state, action, now, cmds);
            true
        }
        None => false,
    }
}

fn filter_key(state: &mut State, key: KeyEvent) -> bool {
    let b = &mut state.backlog;
    match key.code {
        KeyCode::Enter => b.filtering = false,
        KeyCode::Esc => {
            b.filtering = false;
            b.filter = TextBox::line("");
            b.refilter();
        }
        KeyCode::Up => b.move_by(-1, 1),
        KeyCode::Down => b.move_by(1, 1),
        _ if is_ctrl(&key, 'c') => b.filtering = false,
        _ => {
            if b.filter.key(&key) == Edit::Ignored {
                return false;
            }
            b.refilter();
        }
    }
    keep_selection_visible(state);
    true
}

/// The pane an action works in, if it belongs to one.
pub(super) fn home_pane(action: Action) -> Option<PaneId> {
    match action.info().context {
        Context::Backlog => Some(PaneId::Backlog),
        Context::Builds => Some(PaneId::Builds),
        Context::Deploys => Some(PaneId::Deploys),
        Context::Health => Some(PaneId::Health),
        _ => None,
    }
}

/// Runs an action, whether it came from a key or the palette.
pub(super) fn dispatch(state: &mut State, action: Action, now: Timestamp, cmds: &mut Vec<Command>) {
    let info = action.info();
    if info.mutates && state.read_only {
        flash(
            state,
            format!("read-only mode: {} is disabled", info.name),
            Level::Error,
            now,
        );
        return;
    }
    let home = home_pane(action);
    if let Some(pane) = home
        && state.focus != pane
    {
        let msg = format!(
            "{} works in the {} pane (press {})",
            info.name,
            pane.title(),
            pane.index() + 1
        );
        flash(state, msg, Level::Error, now);
        return;
    }
    let rows = list_rows(state) as isize;
    match action {
        Action::Quit => state.quit = true,
        Action::Suspend => state.suspend = true,
        Action::Help => state.overlay = Some(Overlay::Help { scroll: 0 }),
        Action::LastMessage => match state.last_message.clone() {
            Some(m) => state.overlay = Some(Overlay::Message(m)),
            None => flash(state, "no message yet", Level::Info, now),
        },
        Action::Palette => {
            state.overlay = Some(Overlay::Palette(PaletteState {
                input: TextBox::line(""),
                selected: 0,
            }))
        }
        Action::FocusNext => state.focus = PaneId::ALL[(state.focus.index() + 1) % 4],
        Action::FocusPrev => state.focus = PaneId::ALL[(state.focus.index() + 3) % 4],
        Action::FocusBacklog => state.focus = PaneId::Backlog,
        Action::FocusBuilds => state.focus = PaneId::Builds,
        Action::FocusDeploys => state.focus = PaneId::Deploys,
        Action::FocusHealth => state.focus = PaneId::Health,
        Action::Zoom if crate::ui::layout::mode(state.size) != crate::ui::layout::Mode::Grid => {
            let (w, h) = crate::ui::layout::GRID_SIZE;
            flash(
                state,
                format!(
                    "at {}×{} each pane already fills the screen; z zooms from {w}×{h} up, where the four panes share it",
                    state.size.0, state.size.1
                ),
                Level::Info,
                now,
            );
        }
        Action::Zoom => state.zoom = !state.zoom,
        Action::Refresh => {
            for f in [
                &mut state.backlog.feed,
                &mut state.builds.feed,
                &mut state.deploys.feed,
            ]
            .into_iter()
            .flatten()
            {
                f.next_due = now;
            }
            tick::refresh_if_due(state, now, cmds);
            builds::refresh_if_due(state, now, cmds);
            deploys::refresh_if_due(state, now, cmds);
            flash(state, "refreshing", Level::Info, now);
        }
        Action::CycleTheme => {
            let n = state.themes.0.len().max(1);
            state.themes.1 = (state.themes.1 + 1) % n;
            let msg = format!("theme: {}", state.theme_name());
            flash(state, msg, Level::Info, now);
        }
        Action::MoveDown => move_or_scroll(state, 1, cmds),
        Action::MoveUp => move_or_scroll(state, -1, cmds),
        Action::PageDown => move_or_scroll(state, rows.max(1), cmds),
        Action::PageUp => move_or_scroll(state, -rows.max(1), cmds),
        Action::MoveTop => move_or_scroll(state, isize::MIN / 2, cmds),
        Action::MoveBottom => move_or_scroll(state, isize::MAX / 2, cmds),
        Action::Open => open_detail(state, cmds),
        Action::Back => back(state),
        Action::OpenWeb => {
            let id = match state.focus {
                PaneId::Backlog => state
                    .backlog
                    .detail
                    .as_ref()
                    .map(|d| d.item_id.clone())
                    .or_else(|| state.backlog.selected_item().map(|i| i.id.clone())),
                PaneId::Builds => state
                    .builds
                    .detail
                    .as_ref()
                    .map(|d| d.run_id.clone())
                    .or_else(|| state.builds.selected_run().map(|r| r.id.clone())),
                _ => None,
            };
            match id {
                Some(id) => cmds.push(Command::OpenWeb {
                    pane: state.focus,
                    id,
                }),
                None => flash(state, "nothing selected with a web page", Level::Error, now),
            }
        }
        Action::Filter => {
            if let (PaneId::Builds, Some(d)) = (state.focus, state.builds.detail.as_mut()) {
                d.searching = true;
                d.notice = None;
            } else if state.focus == PaneId::Backlog && state.backlog.detail.is_none() {
                state.backlog.filtering = true;
            } else {
                flash(state, "nothing to filter here", Level::Error, now);
            }
        }
        Action::NewItem | Action::EditItem | Action::CommentItem | Action::EditLabels => {
            open_editor(state, action, now)
        }
        Action::ToggleState => toggle_state(state, now, cmds),
        Action::CycleSort => {
            state.backlog.sort = state.backlog.sort.next();
            state.backlog.resort();
            keep_selection_visible(state);
            let msg = format!("sort: {}", state.backlog.sort.label());
            flash(state, msg, Level::Info, now);
        }
        Action::CycleStateFilter => {
            state.backlog.states = state.backlog.states.next();
            state.backlog.refilter();
            keep_selection_visible(state);
        }
        Action::CycleSection if state.backlog.sections.is_empty() => flash(
            state,
            "no sections: add `sections` (GitHub searches) to the github provider",
            Level::Error,
            now,
        ),
        Action::CycleSection => {
            state.backlog.next_section();
            keep_selection_visible(state);
            let msg = format!(
                "section: {}",
                state.backlog.section_name().unwrap_or("every item")
            );
            flash(state, msg, Level::Info, now);
        }
        Action::RunPipeline
        | Action::Rerun
        | Action::RerunFailed
        | Action::CancelRun
        | Action::SearchNext
        | Action::SearchPrev
        | Action::FirstError
        | Action::ToggleWrap => builds::action(state, action, now, cmds),
        Action::AckIncident | Action::AssignItem | Action::MergeItem | Action::DismissIncident => {
            backlog::triage(state, action, now, cmds)
        }
        Action::SilenceAlert => silence_prompt(state, now),
        Action::RemediateCheck => remedy_prompt(state, now),
        Action::Deploy | Action::RollbackTarget | Action::AbortDeploy | Action::ResumeDeploy => {
            deploys::action(state, action, now)
        }
    }
}

pub(super) fn move_or_scroll(state: &mut State, delta: isize, cmds: &mut Vec<Command>) {
    if state.focus == PaneId::Builds {
        builds::move_by(state, delta, cmds);
        return;
    }
    if state.focus == PaneId::Deploys {
        state.deploys.move_by(delta.clamp(-10_000, 10_000));
        return;
    }
    if state.focus == PaneId::Health {
        state.health.move_by(delta.clamp(-10_000, 10_000));
        return;
    }
    if state.focus != PaneId::Backlog {
        return;
    }
    let rows = list_rows(state);
    let (w, h) = state.size;
    let b = &mut state.backlog;
    if let Some(d) = b.detail.as_mut() {
        let page = layout::areas((w, h), PaneId::Backlog, true)
            .panes
            .first()
            .map_or((0, 0), |(_, r)| {
                (
                    r.width.saturating_sub(2) as usize,
                    r.height.saturating_sub(2) as usize,
                )
            });
        let max = b
            .items
            .iter()
            .find(|i| i.id == d.item_id)
            .map_or(0, |item| {
                let comments = d
                    .comments
                    .as_ref()
                    .and_then(|c| c.as_ref().ok())
                    .map(Vec::as_slice);
                super::backlog::detail_rows(item, comments, page.0).saturating_sub(page.1)
            });
        let next = (d.scroll as isize)
            .saturating_add(delta)
            .clamp(0, max.min(u16::MAX as usize) as isize);
        d.scroll = next as u16;
    } else {
        b.move_by(delta, rows);
    }
}

fn open_detail(state: &mut State, cmds: &mut Vec<Command>) {
    if state.focus == PaneId::Builds {
        builds::open(state, cmds);
        return;
    }
    if state.focus == PaneId::Deploys {
        state.deploys.detail = state.deploys.selected_target().is_some();
        state.deploys.scroll = 0;
        return;
    }
    if state.focus == PaneId::Health {
        state.health.detail = state.health.selected_check().is_some();
        return;
    }
    if state.focus != PaneId::Backlog || state.backlog.detail.is_some() {
        return;
    }
    let Some(id) = state.backlog.selected_item().map(|i| i.id.clone()) else {
        return;
    };
    let request = state.request_id();
    state.backlog.detail = Some(Detail {
        item_id: id.clone(),
        scroll: 0,
        comments: None,
        request: Some(request),
    });
    cmds.push(Command::LoadComments { request, item: id });
}

fn back(state: &mut State) {
    let b = &mut state.backlog;
    if state.focus == PaneId::Builds && state.builds.detail.is_some() {
        state.builds.detail = None;
    } else if state.focus == PaneId::Deploys && state.deploys.detail {
        state.deploys.detail = false;
    } else if state.focus == PaneId::Health && state.health.detail {
        state.health.detail = false;
    } else if state.focus == PaneId::Backlog && b.detail.is_some() {
        b.detail = None;
    } else if state.focus == PaneId::Backlog && !b.filter.text.is_empty() {
        b.filter = TextBox::line("");
        b.refilter();
        keep_selection_visible(state);
    } else if state.zoom {
        state.zoom = false;
    }
}

mod backlog;
pub mod builds;
mod deploys;
mod overlays;
mod tick;

pub use tick::tick_secs;

use backlog::{mutated, open_editor, submit, toggle_state};

#[cfg(test)]
mod tests;
