//! Keys while an overlay (help, palette, a form, a chooser, a confirmation) has the keyboard.

use crossterm::event::{KeyCode, KeyEvent};

use super::{dispatch, flash, is_ctrl, submit};
use crate::app::dispatch::{DispatchForm, FormKey};
use crate::app::input::Edit;
use crate::app::overlay::{Choice, Confirmed, Field, ItemForm, Overlay};
use crate::app::picker::{Picked, Picker};
use crate::app::{Command, Level, State};
use crate::domain::Timestamp;
use crate::domain::backlog::{item_ref, short_id};
use crate::engine::deploy::DeployKind;
use crate::providers::BacklogMutation;

pub(super) fn overlay_key(
    state: &mut State,
    key: KeyEvent,
    now: Timestamp,
    cmds: &mut Vec<Command>,
) -> bool {
    let Some(overlay) = state.overlay.take() else {
        return false;
    };
    let close = key.code == KeyCode::Esc || is_ctrl(&key, 'c');
    // Ctrl-X in an editor discards its draft, after a `y`; until then the text is kept.
    if is_ctrl(&key, 'x')
        && let Some(draft) = overlay.draft_key()
    {
        keep_draft(state, overlay, now);
        // An empty editor kept nothing: it just closes.
        if state
            .drafts
            .iter()
            .any(|d| d.draft_key().as_ref() == Some(&draft))
        {
            state.overlay = Some(Overlay::Confirm {
                prompt: "Discard this draft? Its text cannot be brought back.".into(),
                then: Confirmed::DiscardDraft(draft),
            });
        }
        return true;
    }
    match overlay {
        Overlay::Help { scroll } => {
            let scroll = match key.code {
                _ if close => return true,
                KeyCode::Char('q' | '?') => return true,
                _ if is_ctrl(&key, 'd') => scroll.saturating_add(10),
                _ if is_ctrl(&key, 'u') => scroll.saturating_sub(10),
                KeyCode::Char('j') | KeyCode::Down => scroll.saturating_add(1),
                KeyCode::Char('k') | KeyCode::Up => scroll.saturating_sub(1),
                KeyCode::PageDown | KeyCode::Char(' ') => scroll.saturating_add(10),
                KeyCode::PageUp => scroll.saturating_sub(10),
                KeyCode::Char('g') | KeyCode::Home => 0,
                KeyCode::Char('G') | KeyCode::End => u16::MAX,
                _ => scroll,
            };
            // Stop at the end of the list, not in blank space below it.
            let rows = state.size.1.saturating_sub(4) as usize;
            let max = (crate::app::ACTIONS.len() + 12).saturating_sub(rows) as u16;
            state.overlay = Some(Overlay::Help {
                scroll: scroll.min(max),
            });
        }
        Overlay::Palette(mut p) => {
            let matches = p.matches();
            match key.code {
                _ if close => return true,
                KeyCode::Enter => {
                    if let Some(&action) = matches.get(p.selected) {
                        // The palette goes where the action works, then runs it.
                        if let Some(pane) = super::home_pane(action) {
                            state.focus = pane;
                            state.dirty = true;
                        }
                        dispatch(state, action, now, cmds);
                    }
                    return true;
                }
                KeyCode::Down | KeyCode::Tab => {
                    p.selected = (p.selected + 1).min(matches.len().saturating_sub(1))
                }
                KeyCode::Up | KeyCode::BackTab => p.selected = p.selected.saturating_sub(1),
                _ if is_ctrl(&key, 'n') => {
                    p.selected = (p.selected + 1).min(matches.len().saturating_sub(1))
                }
                _ if is_ctrl(&key, 'p') => p.selected = p.selected.saturating_sub(1),
                _ => {
                    if p.input.key(&key) == Edit::Changed {
                        p.selected = 0;
                    }
                }
            }
            state.overlay = Some(Overlay::Palette(p));
        }
        Overlay::Form(f) => return form_key(state, f, key, close, now, cmds),
        Overlay::Comment {
            item,
            mut text,
            error,
        } => {
            if close {
                keep_draft(state, Overlay::Comment { item, text, error }, now);
                return true;
            }
            if is_ctrl(&key, 's') && state.pending.is_none() {
                let change = BacklogMutation::Comment {
                    id: item.clone(),
                    body: text.text.clone(),
                };
                submit(
                    state,
                    change,
                    format!("commented on {}", item_ref(&item)),
                    cmds,
                );
            } else if state.pending.is_none() {
                text.key(&key);
            }
            state.overlay = Some(Overlay::Comment { item, text, error });
        }
        Overlay::DeployPlan(c) => return super::deploys::plan_key(state, c, key, now, cmds),
        // Any key closes it (the text stays selectable by the terminal until then).
        Overlay::Url(_) | Overlay::Message(_) => return true,
        Overlay::Dispatch(mut f) => match f.key(&key) {
            FormKey::Close => return true,
            FormKey::Edit => state.overlay = Some(Overlay::Dispatch(f)),
            FormKey::Submit(git_ref, values) => {
                // Dispatching starts real work (often a deploy): ask, showing what goes out.
                let inputs: Vec<String> = values
                    .iter()
                    .filter(|(k, _)| {
                        k.as_str() != crate::providers::github::dispatch::CORRELATION_INPUT
                    })
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                state.overlay = Some(Overlay::Confirm {
                    prompt: format!(
                        "Dispatch {} in {} on {git_ref}{}{}?",
                        f.workflow.name,
                        f.workflow.repo,
                        if inputs.is_empty() { "" } else { " with " },
                        inputs.join(", ")
                    ),
                    then: Confirmed::Dispatch(f.workflow, git_ref, values),
                });
            }
        },
        Overlay::Choose(mut picker) => {
            if is_ctrl(&key, 'c') {
                return true;
            }
            match picker.key(&key) {
                Picked::Closed => return true,
                Picked::Chosen(selected) => {
                    let Picker { options, then, .. } = picker;
                    match (options.get(selected).cloned(), then) {
                        (Some(p), Choice::Pipeline) => {
                            super::builds::start(state, p, "manual", cmds, now)
                        }
                        (Some(v), Choice::Version(target)) => {
                            super::deploys::plan(state, &target, DeployKind::Deploy, &v, now)
                        }
                        (Some(_), Choice::Workflow(mut w)) => {
                            if selected < w.len() {
                                let w = w.swap_remove(selected);
                                state.overlay = Some(Overlay::Dispatch(DispatchForm::new(w)));
                            }
                        }
                        (None, _) => {}
                    }
                    return true;
                }
                Picked::Open => state.overlay = Some(Overlay::Choose(picker)),
            }
        }
        Overlay::Confirm { prompt: _, then } => {
            // Only a plain `y` confirms: Esc-then-y arrives as alt-y and pasted text never
            // reaches here as keys (B3).
            let yes = key.code == KeyCode::Char('y') && key.modifiers.is_empty();
            let discard = matches!(then, Confirmed::DiscardDraft(_));
            if yes {
                super::builds::confirmed(state, then, cmds);
                if discard {
                    flash(state, "draft discarded", Level::Info, now);
                }
            } else if discard {
                flash(
                    state,
                    "draft kept: reopen the form to continue",
                    Level::Info,
                    now,
                );
            } else {
                flash(state, "not confirmed: nothing done", Level::Info, now);
            }
        }
        Overlay::Labels {
            item,
            mut text,
            error,
        } => {
            if close {
                keep_draft(state, Overlay::Labels { item, text, error }, now);
                return true;
            }
            if key.code == KeyCode::Enter && state.pending.is_none() {
                let labels = crate::domain::backlog::parse_labels(&text.text);
                let change = BacklogMutation::SetLabels {
                    id: item.clone(),
                    labels,
                };
                submit(state, change, format!("labelled {}", item_ref(&item)), cmds);
            } else if state.pending.is_none() {
                text.key(&key);
            }
            state.overlay = Some(Overlay::Labels { item, text, error });
        }
        Overlay::Triage {
            item,
            what,
            mut text,
            mut error,
        } => {
            if close {
                return true;
            }
            if key.code == KeyCode::Enter && what == crate::app::overlay::Triage::Silence {
                match silence_command(state, &item, text.text.trim()) {
                    Ok(cmd) => {
                        cmds.push(cmd);
                        flash(state, format!("silencing {item}…"), Level::Info, now);
                        return true;
                    }
                    Err(e) => error = Some(e),
                }
            } else if key.code == KeyCode::Enter && state.pending.is_none() {
                let ids: Vec<String> = state.backlog.items.iter().map(|i| i.id.clone()).collect();
                match triage_change(&item, what, text.text.trim(), &ids) {
                    Ok((change, done)) => {
                        // The answer is sent: the prompt closes; the outcome is flashed.
                        submit(state, change, done, cmds);
                        return true;
                    }
                    Err(e) => error = Some(e),
                }
            } else if state.pending.is_none() {
                text.key(&key);
            }
            state.overlay = Some(Overlay::Triage {
                item,
                what,
                text,
                error,
            });
        }
    }
    true
}

/// The silence a health-pane answer asks for.
fn silence_command(state: &State, check: &str, answer: &str) -> Result<Command, String> {
    let hours = answer
        .parse::<u64>()
        .ok()
        .filter(|h| (1..=720).contains(h))
        .ok_or("hours between 1 and 720")?;
    let (provider, matchers) = state
        .health
        .checks
        .iter()
        .find(|c| c.check == check)
        .and_then(|c| c.alert.clone())
        .ok_or("the alert is gone")?;
    Ok(Command::Silence {
        provider,
        matchers,
        hours,
    })
}

/// The item an answer names: its id as listed (`12`, `acme/api#12`), its short form
/// (`#12`, `api#12`), or a number only one item of the backlog ends with.
fn resolve_item(answer: &str, ids: &[String]) -> Result<String, String> {
    let a = answer.trim();
    if ids.iter().any(|i| i == a) {
        return Ok(a.to_string());
    }
    let number = a.trim_start_matches('#');
    let found: Vec<&String> = ids
        .iter()
        .filter(|i| {
            short_id(i) == a
                || *i == number
                || (!number.is_empty() && i.rsplit_once('#').is_some_and(|(_, n)| n == number))
        })
        .collect();
    match found.as_slice() {
        [one] => Ok(one.to_string()),
        [] => Err(format!("no item {a:?} in the backlog")),
        _ => Err(format!("{a:?} is ambiguous: give the repo too (api#12)")),
    }
}

/// The change a triage answer asks for, and what to say when it is done.
fn triage_change(
    item: &str,
    what: crate::app::overlay::Triage,
    answer: &str,
    ids: &[String],
) -> Result<(BacklogMutation, String), String> {
    use crate::app::overlay::Triage;
    let id = item.to_string();
    Ok(match what {
        Triage::Assign => {
            let who = (!answer.is_empty()).then(|| answer.to_string());
            let done = match &who {
                Some(w) => format!("assigned {} to {w}", item_ref(item)),
                None => format!("unassigned {}", item_ref(item)),
            };
            (BacklogMutation::Assign { id, assignee: who }, done)
        }
        Triage::Merge => {
            if answer.trim_start_matches('#').is_empty() {
                return Err("type the number of the item to merge into".into());
            }
            let into = resolve_item(answer, ids)?;
            let into = into.as_str();
            if into == item {
                return Err("an item cannot be merged into itself".into());
            }
            let done = format!("merged {} into {}", item_ref(item), item_ref(into));
            (
                BacklogMutation::Merge {
                    id,
                    into: into.to_string(),
                },
                done,
            )
        }
        Triage::Silence => return Err("not a backlog change".into()),
        Triage::Dismiss => {
            let hours = answer
                .parse::<u64>()
                .ok()
                .filter(|h| (1..=720).contains(h))
                .ok_or("hours between 1 and 720")?;
            let done = format!("dismissed {}; muted for {hours} h", item_ref(item));
            (BacklogMutation::Dismiss { id, hours }, done)
        }
    })
}

fn keep_draft(state: &mut State, overlay: Overlay, now: Timestamp) {
    let empty = match &overlay {
        Overlay::Form(f) => match &f.editing {
            None => f.title.text.is_empty() && f.body.text.is_empty() && f.labels.text.is_empty(),
            // An edit nobody changed is not worth keeping.
            Some(id) => state
                .backlog
                .item(id)
                .is_some_and(|i| crate::app::overlay::ItemForm::edit(i).to_item() == f.to_item()),
        },
        Overlay::Comment { text, .. } => text.text.trim().is_empty(),
        Overlay::Labels { item, text, .. } => state
            .backlog
            .item(item)
            .is_some_and(|i| i.labels.join(", ") == text.text),
        _ => true,
    };
    if !empty {
        let key = overlay.draft_key();
        state.drafts.retain(|d| d.draft_key() != key);
        state.drafts.push(overlay);
        flash(
            state,
            "draft kept: reopen the form to continue",
            Level::Info,
            now,
        );
    }
}

fn form_key(
    state: &mut State,
    mut f: ItemForm,
    key: KeyEvent,
    close: bool,
    now: Timestamp,
    cmds: &mut Vec<Command>,
) -> bool {
    if close {
        keep_draft(state, Overlay::Form(f), now);
        return true;
    }
    if state.pending.is_some() {
        state.overlay = Some(Overlay::Form(f));
        return true;
    }
    let single_line = matches!(f.focus, Field::Title | Field::Labels);
    let choice = matches!(f.focus, Field::Kind | Field::Severity);
    match key.code {
        _ if is_ctrl(&key, 's') => {
            let item = f.to_item();
            if item.title.is_empty() {
                f.error = Some("the title is empty".into());
                f.focus = Field::Title;
            } else {
                f.error = None;
                let (change, success) = match &f.editing {
                    Some(id) => (
                        BacklogMutation::Edit {
                            id: id.clone(),
                            item,
                            base: f.base,
                        },
                        format!("saved {}", item_ref(id)),
                    ),
                    None => (BacklogMutation::Create(item), "created #new".to_string()),
                };
                submit(state, change, success, cmds);
            }
        }
        KeyCode::Tab => f.cycle_focus(true),
        KeyCode::BackTab => f.cycle_focus(false),
        KeyCode::Enter | KeyCode::Down if single_line || choice => f.cycle_focus(true),
        KeyCode::Up if single_line || choice => f.cycle_focus(false),
        KeyCode::Left | KeyCode::Char('h') if choice => f.cycle_choice(false),
        KeyCode::Right | KeyCode::Char('l') | KeyCode::Char(' ') if choice => f.cycle_choice(true),
        _ => {
            if let Some(t) = f.focused_text() {
                t.key(&key);
            }
        }
    }
    state.overlay = Some(Overlay::Form(f));
    true
}

#[cfg(test)]
mod resolve_tests {
    use super::resolve_item;

    #[test]
    fn items_are_named_by_id_short_form_or_unique_number() {
        let ids: Vec<String> = ["acme/api#12", "acme/web#12", "acme/web#7"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(resolve_item("api#12", &ids).unwrap(), "acme/api#12");
        assert_eq!(resolve_item("acme/web#12", &ids).unwrap(), "acme/web#12");
        assert_eq!(resolve_item("#7", &ids).unwrap(), "acme/web#7");
        assert!(resolve_item("12", &ids).unwrap_err().contains("ambiguous"));
        assert!(resolve_item("99", &ids).is_err());
        let local: Vec<String> = vec!["3".into(), "12".into()];
        assert_eq!(resolve_item("#12", &local).unwrap(), "12");
        assert_eq!(resolve_item("3", &local).unwrap(), "3");
    }
}
