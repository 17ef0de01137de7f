//! `update` for the backlog pane: editors, drafts, close/reopen, and mutation answers.

use super::flash;
use super::tick::refresh_if_due;
use crate::app::action::Action;
use crate::app::input::TextBox;
use crate::app::overlay::{ItemForm, Overlay};
use crate::app::{Command, Level, Pending, State};
use crate::domain::backlog::item_ref;
use crate::domain::{ItemState, Timestamp};
use crate::providers::BacklogMutation;

/// The item an item action applies to: the one in the detail view, else the selected one.
pub(super) fn target_item(state: &State) -> Option<String> {
    match &state.backlog.detail {
        Some(d) => Some(d.item_id.clone()),
        None => state.backlog.selected_item().map(|i| i.id.clone()),
    }
}

pub(super) fn open_editor(state: &mut State, action: Action, now: Timestamp) {
    if state.backlog.feed.is_none() {
        flash(state, "no backlog provider", Level::Error, now);
        return;
    }
    let item = match action {
        Action::NewItem => None,
        _ => {
            let Some(item) = target_item(state).and_then(|id| state.backlog.item(&id).cloned())
            else {
                flash(state, "no item selected", Level::Error, now);
                return;
            };
            Some(item)
        }
    };
    let id = item.as_ref().map(|i| i.id.clone());
    let kind = match action {
        Action::NewItem | Action::EditItem => "form",
        Action::CommentItem => "comment",
        _ => "labels",
    };
    let key = (kind, id.clone());
    if let Some(pos) = state
        .drafts
        .iter()
        .position(|d| d.draft_key().as_ref() == Some(&key))
    {
        state.overlay = Some(state.drafts.remove(pos));
        return;
    }
    state.overlay = Some(match (action, item) {
        (Action::EditItem, Some(item)) => Overlay::Form(ItemForm::edit(&item)),
        (Action::CommentItem, Some(item)) => Overlay::Comment {
            item: item.id,
            text: TextBox::area(""),
            error: None,
        },
        (Action::EditLabels, Some(item)) => Overlay::Labels {
            item: item.id.clone(),
            text: TextBox::line(&item.labels.join(", ")),
            error: None,
        },
        _ => {
            let n = state.request_id();
            let key = format!("ui:{}:{n}", state.session);
            Overlay::Form(ItemForm {
                key: Some(key),
                ..ItemForm::new()
            })
        }
    });
}

/// Acknowledge at once; assign, merge and dismiss ask one question first.
pub(super) fn triage(state: &mut State, action: Action, now: Timestamp, cmds: &mut Vec<Command>) {
    use crate::app::overlay::Triage;
    let Some(item) = target_item(state).and_then(|id| state.backlog.item(&id).cloned()) else {
        flash(state, "no item selected", Level::Error, now);
        return;
    };
    let incident_only = matches!(action, Action::AckIncident | Action::DismissIncident);
    if incident_only && item.kind != crate::domain::ItemKind::Incident {
        flash(
            state,
            format!("{} is not an incident", item_ref(&item.id)),
            Level::Error,
            now,
        );
        return;
    }
    if action == Action::AckIncident && item.state == crate::domain::ItemState::Closed {
        let msg = format!("{} is closed: nothing to acknowledge", item_ref(&item.id));
        flash(state, msg, Level::Error, now);
        return;
    }
    let (what, start) = match action {
        Action::AckIncident => {
            let change = BacklogMutation::Acknowledge {
                id: item.id.clone(),
            };
            submit(
                state,
                change,
                format!("acknowledged {}", item_ref(&item.id)),
                cmds,
            );
            return;
        }
        Action::AssignItem => (Triage::Assign, item.assignee.clone().unwrap_or_default()),
        Action::MergeItem => (Triage::Merge, String::new()),
        _ => (Triage::Dismiss, state.mute_hours.to_string()),
    };
    state.overlay = Some(Overlay::Triage {
        item: item.id,
        what,
        text: TextBox::line(&start),
        error: None,
    });
}

pub(super) fn toggle_state(state: &mut State, now: Timestamp, cmds: &mut Vec<Command>) {
    let Some(id) = target_item(state) else {
        flash(state, "no item selected", Level::Error, now);
        return;
    };
    let Some(item) = state.backlog.item(&id) else {
        return;
    };
    let (next, verb) = match item.state {
        ItemState::Open => (ItemState::Closed, "closed"),
        ItemState::Closed => (ItemState::Open, "reopened"),
    };
    submit(
        state,
        BacklogMutation::SetState {
            id: id.clone(),
            state: next,
        },
        format!("{verb} {}", item_ref(&id)),
        cmds,
    );
}

pub(super) fn submit(
    state: &mut State,
    change: BacklogMutation,
    success: String,
    cmds: &mut Vec<Command>,
) {
    let request = state.request_id();
    let draft = state.overlay.as_ref().and_then(Overlay::draft_key);
    state.pending = Some(Pending {
        request,
        draft,
        success,
    });
    cmds.push(Command::MutateBacklog { request, change });
}

pub(super) fn mutated(
    state: &mut State,
    request: u64,
    result: Result<String, crate::engine::gate::GateError>,
    now: Timestamp,
    cmds: &mut Vec<Command>,
) {
    let Some(pending) = state.pending.take_if(|p| p.request == request) else {
        return;
    };
    match result {
        Ok(id) => {
            if let Some(key) = &pending.draft {
                state.drafts.retain(|d| d.draft_key().as_ref() != Some(key));
            }
            let editor_open = matches!(
                state.overlay,
                Some(Overlay::Form(_) | Overlay::Comment { .. } | Overlay::Labels { .. })
            );
            if editor_open {
                state.overlay = None;
            }
            let msg = pending.success.replace("#new", &item_ref(&id));
            flash(state, msg, Level::Info, now);
            if let Some(f) = state.backlog.feed.as_mut() {
                f.next_due = now;
            }
            refresh_if_due(state, now, cmds);
            if state
                .backlog
                .detail
                .as_ref()
                .is_some_and(|d| d.item_id == id)
            {
                let request = state.request_id();
                if let Some(d) = state.backlog.detail.as_mut() {
                    d.request = Some(request);
                }
                cmds.push(Command::LoadComments { request, item: id });
            }
        }
        Err(e) => {
            let msg = e.to_string();
            match state.overlay.as_mut() {
                Some(Overlay::Form(f)) => f.error = Some(msg.clone()),
                Some(Overlay::Comment { error, .. }) | Some(Overlay::Labels { error, .. }) => {
                    *error = Some(msg.clone())
                }
                _ => {}
            }
            flash(state, msg, Level::Error, now);
        }
    }
    state.dirty = true;
}
