use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::*;
use crate::app::{Init, State};
use crate::domain::{ItemKind, ItemState, WorkItem};
use crate::engine::gate::GateError;
use crate::providers::BacklogMutation;

fn state() -> State {
    let mut s = State::new(Init::local("demo", (80, 24)));
    let cmds = update(&mut s, Event::Tick, 100);
    assert_eq!(
        cmds,
        vec![Command::ListBacklog {
            request: 1,
            force: false
        }]
    );
    let items = (1..=30)
        .map(|n| WorkItem::new(&n.to_string(), &format!("item {n}"), n))
        .collect();
    update(
        &mut s,
        Event::BacklogListed {
            request: 1,
            result: Ok(Some(items)),
        },
        100,
    );
    s
}

fn key(s: &mut State, code: KeyCode) -> Vec<Command> {
    update(s, Event::Key(KeyEvent::new(code, KeyModifiers::NONE)), 100)
}

fn ctrl(s: &mut State, c: char) -> Vec<Command> {
    update(
        s,
        Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)),
        100,
    )
}

fn typ(s: &mut State, text: &str) {
    for c in text.chars() {
        key(s, KeyCode::Char(c));
    }
}

#[test]
fn navigation_scrolls_and_clamps() {
    let mut s = state();
    assert_eq!(s.backlog.selected_item().unwrap().id, "30");
    key(&mut s, KeyCode::Char('G'));
    assert_eq!(s.backlog.selected_item().unwrap().id, "1");
    assert!(
        s.backlog.offset > 0,
        "scrolled to keep the selection visible"
    );
    key(&mut s, KeyCode::Char('j'));
    assert_eq!(s.backlog.selected_item().unwrap().id, "1");
    key(&mut s, KeyCode::Char('g'));
    assert_eq!((s.backlog.selected, s.backlog.offset), (0, 0));
}

#[test]
fn focus_zoom_and_quit() {
    let mut s = state();
    key(&mut s, KeyCode::Tab);
    assert_eq!(s.focus, PaneId::Builds);
    key(&mut s, KeyCode::BackTab);
    key(&mut s, KeyCode::BackTab);
    assert_eq!(s.focus, PaneId::Health);
    key(&mut s, KeyCode::Char('1'));
    assert_eq!(s.focus, PaneId::Backlog);
    // At 80×24 each pane already has the screen: z says so instead of doing nothing.
    key(&mut s, KeyCode::Char('z'));
    assert!(!s.zoom);
    assert!(
        s.flash
            .as_ref()
            .unwrap()
            .text
            .contains("already fills the screen")
    );
    s.size = (160, 48);
    key(&mut s, KeyCode::Char('z'));
    assert!(s.zoom);
    key(&mut s, KeyCode::Esc);
    assert!(!s.zoom);
    key(&mut s, KeyCode::Char('q'));
    assert!(s.quit);
}

#[test]
fn create_through_the_form_and_keep_it_on_failure() {
    let mut s = state();
    key(&mut s, KeyCode::Char('n'));
    assert!(matches!(s.overlay, Some(Overlay::Form(_))));
    assert!(
        ctrl(&mut s, 's').is_empty(),
        "empty title is refused locally"
    );
    typ(&mut s, "Disk full");
    key(&mut s, KeyCode::Tab);
    key(&mut s, KeyCode::Right);
    key(&mut s, KeyCode::Tab);
    // → raises the severity (medium → high).
    key(&mut s, KeyCode::Right);
    let cmds = ctrl(&mut s, 's');
    let Command::MutateBacklog { request, change } = &cmds[0] else {
        panic!("{cmds:?}")
    };
    let BacklogMutation::Create(item) = change else {
        panic!()
    };
    assert_eq!(item.title, "Disk full");
    assert!(
        item.key
            .as_deref()
            .is_some_and(|k| k.starts_with("ui:test:")),
        "idempotency key"
    );
    assert_eq!(item.kind, Some(ItemKind::Incident));
    assert_eq!(item.severity, Some(crate::domain::Severity::High));
    // A failure keeps every typed character and says why.
    update(
        &mut s,
        Event::Mutated {
            request: *request,
            result: Err(GateError::ReadOnly("create_item".into())),
        },
        100,
    );
    let Some(Overlay::Form(f)) = &s.overlay else {
        panic!()
    };
    assert_eq!(f.title.text, "Disk full");
    assert!(f.error.as_deref().unwrap().contains("read-only"));
    // Success closes the form and refreshes at once.
    let cmds = ctrl(&mut s, 's');
    let Command::MutateBacklog { request, .. } = cmds[0] else {
        panic!()
    };
    let cmds = update(
        &mut s,
        Event::Mutated {
            request,
            result: Ok("31".into()),
        },
        101,
    );
    assert!(s.overlay.is_none());
    assert!(s.flash.as_ref().unwrap().text.contains("#31"));
    assert!(matches!(cmds[0], Command::ListBacklog { .. }));
}

#[test]
fn esc_keeps_a_draft() {
    let mut s = state();
    key(&mut s, KeyCode::Char('n'));
    typ(&mut s, "half-typed");
    key(&mut s, KeyCode::Esc);
    assert!(s.overlay.is_none());
    key(&mut s, KeyCode::Char('n'));
    let Some(Overlay::Form(f)) = &s.overlay else {
        panic!()
    };
    assert_eq!(f.title.text, "half-typed");
}

#[test]
fn drafts_of_different_editors_do_not_replace_each_other() {
    let mut s = state();
    key(&mut s, KeyCode::Char('n'));
    typ(&mut s, "new thing");
    key(&mut s, KeyCode::Esc);
    key(&mut s, KeyCode::Char('c'));
    typ(&mut s, "a comment");
    key(&mut s, KeyCode::Esc);
    key(&mut s, KeyCode::Char('l'));
    typ(&mut s, "x");
    key(&mut s, KeyCode::Esc);
    key(&mut s, KeyCode::Char('n'));
    assert!(matches!(&s.overlay, Some(Overlay::Form(f)) if f.title.text == "new thing"));
    key(&mut s, KeyCode::Esc);
    key(&mut s, KeyCode::Char('c'));
    assert!(matches!(&s.overlay, Some(Overlay::Comment { text, .. }) if text.text == "a comment"));
    // Saving the comment drops its draft.
    let cmds = ctrl(&mut s, 's');
    let Command::MutateBacklog { request, .. } = cmds[0] else {
        panic!("{cmds:?}")
    };
    update(
        &mut s,
        Event::Mutated {
            request,
            result: Ok("30".into()),
        },
        100,
    );
    key(&mut s, KeyCode::Char('c'));
    assert!(matches!(&s.overlay, Some(Overlay::Comment { text, .. }) if text.text.is_empty()));
    key(&mut s, KeyCode::Esc);
    key(&mut s, KeyCode::Char('l'));
    assert!(matches!(&s.overlay, Some(Overlay::Labels { text, .. }) if text.text == "x"));
    // An edit form closed unchanged keeps nothing.
    key(&mut s, KeyCode::Esc);
    key(&mut s, KeyCode::Char('e'));
    key(&mut s, KeyCode::Esc);
    assert_eq!(s.drafts.len(), 2, "new item and labels");
}

#[test]
fn read_only_blocks_mutating_keys() {
    let mut s = state();
    s.read_only = true;
    for c in ['n', 'e', 'c', 'x', 'l'] {
        assert!(key(&mut s, KeyCode::Char(c)).is_empty());
        assert!(s.overlay.is_none(), "{c} opened an editor");
        assert!(s.flash.as_ref().unwrap().text.contains("read-only"));
    }
    // The palette cannot get around it either.
    key(&mut s, KeyCode::Char(':'));
    typ(&mut s, "close_reopen");
    assert!(key(&mut s, KeyCode::Enter).is_empty());
}

#[test]
fn filter_typing_and_clearing() {
    let mut s = state();
    key(&mut s, KeyCode::Char('/'));
    typ(&mut s, "item 1");
    assert_eq!(
        s.backlog.view.len(),
        12,
        "words match anywhere: 1, 10..19, 21"
    );
    key(&mut s, KeyCode::Enter);
    assert!(!s.backlog.filtering);
    assert_eq!(s.backlog.view.len(), 12, "filter kept");
    key(&mut s, KeyCode::Char('j'));
    key(&mut s, KeyCode::Esc);
    assert_eq!(s.backlog.view.len(), 30);
}

#[test]
fn paste_goes_to_inputs_only() {
    let mut s = state();
    let cmds = update(&mut s, Event::Paste("qqq\x1b[2J".into()), 100);
    assert!(
        cmds.is_empty() && !s.quit,
        "pasted text never triggers actions"
    );
    key(&mut s, KeyCode::Char('/'));
    update(&mut s, Event::Paste("item 2\x1b[2J".into()), 100);
    assert_eq!(s.backlog.filter.text, "item 2[2J");
}

#[test]
fn alt_y_is_not_y() {
    let mut s = state();
    let cmds = update(
        &mut s,
        Event::Key(KeyEvent::new(KeyCode::Char('q'), KeyModifiers::ALT)),
        100,
    );
    assert!(cmds.is_empty() && !s.quit);
}

#[test]
fn stale_and_failed_refreshes_keep_data() {
    let mut s = state();
    assert!(update(&mut s, Event::Tick, 101).is_empty(), "not due yet");
    let cmds = update(&mut s, Event::Tick, 102);
    let Command::ListBacklog { request, .. } = cmds[0] else {
        panic!()
    };
    assert!(update(&mut s, Event::Tick, 110).is_empty(), "one in flight");
    update(
        &mut s,
        Event::BacklogListed {
            request: request + 99,
            result: Ok(Some(vec![])),
        },
        103,
    );
    assert_eq!(s.backlog.items.len(), 30, "stale answer dropped");
    update(
        &mut s,
        Event::BacklogListed {
            request,
            result: Err(crate::providers::ProviderError::Timeout(
                std::time::Duration::from_secs(10),
            )),
        },
        112,
    );
    assert_eq!(s.backlog.items.len(), 30, "last good data kept");
    // The lost answer may have moved the provider on: the next list asks for everything.
    let cmds = update(&mut s, Event::Tick, 114);
    assert!(
        matches!(cmds[0], Command::ListBacklog { force: true, .. }),
        "{cmds:?}"
    );
    let f = s.backlog.feed.as_ref().unwrap();
    assert_eq!(
        (f.loaded_at, f.error.as_ref().unwrap().at),
        (Some(100), 112)
    );
}

#[test]
fn detail_loads_comments_and_actions_target_it() {
    let mut s = state();
    let cmds = key(&mut s, KeyCode::Enter);
    let Command::LoadComments { request, item } = &cmds[0] else {
        panic!()
    };
    assert_eq!(item, "30");
    update(
        &mut s,
        Event::CommentsLoaded {
            request: *request,
            result: Ok(vec![]),
        },
        100,
    );
    assert!(matches!(
        s.backlog.detail.as_ref().unwrap().comments,
        Some(Ok(_))
    ));
    let cmds = key(&mut s, KeyCode::Char('x'));
    assert!(matches!(
        &cmds[0],
        Command::MutateBacklog {
            change: BacklogMutation::SetState { id, state: ItemState::Closed },
            ..
        } if id == "30"
    ));
    key(&mut s, KeyCode::Esc);
    assert!(s.backlog.detail.is_none());
}

#[test]
fn palette_runs_actions_and_help_opens() {
    let mut s = state();
    s.size = (160, 48);
    key(&mut s, KeyCode::Char(':'));
    typ(&mut s, "zoom");
    key(&mut s, KeyCode::Enter);
    assert!(s.zoom && s.overlay.is_none());
    key(&mut s, KeyCode::Char('?'));
    assert!(matches!(s.overlay, Some(Overlay::Help { .. })));
    key(&mut s, KeyCode::Esc);
    assert!(s.overlay.is_none());
}

#[test]
fn idle_ticks_do_not_redraw() {
    let mut s = state();
    s.dirty = false;
    update(&mut s, Event::Tick, 100);
    assert!(!s.dirty);
    update(&mut s, Event::Tick, 160);
    assert!(s.dirty, "ages refresh once a minute");
}

#[test]
fn g_in_a_detail_view_stops_at_the_end() {
    let mut s = state();
    key(&mut s, KeyCode::Enter);
    key(&mut s, KeyCode::Char('G'));
    assert_eq!(
        s.backlog.detail.as_ref().unwrap().scroll,
        0,
        "a short item does not scroll"
    );
    key(&mut s, KeyCode::Esc);
    key(&mut s, KeyCode::Char('?'));
    for _ in 0..200 {
        key(&mut s, KeyCode::Char('j'));
    }
    let Some(Overlay::Help { scroll }) = s.overlay else {
        panic!()
    };
    assert!(
        scroll > 0 && (scroll as usize) < crate::app::ACTIONS.len(),
        "{scroll}"
    );
    // The help pages as every list does: G to the end, Ctrl-U / Ctrl-D by a page, g to the top.
    let at = |s: &State| match s.overlay {
        Some(Overlay::Help { scroll }) => scroll,
        _ => panic!("help closed"),
    };
    let end = at(&s);
    key(&mut s, KeyCode::Char('g'));
    assert_eq!(at(&s), 0);
    key(&mut s, KeyCode::Char('G'));
    assert_eq!(at(&s), end);
    ctrl(&mut s, 'u');
    assert_eq!(at(&s), end - 10);
    ctrl(&mut s, 'd');
    assert_eq!(at(&s), end);
}

#[test]
fn triage_keys_ask_then_mutate_and_refuse_non_incidents() {
    let mut s = state();
    // The selected item (#30) is an issue: ack and dismiss are for incidents.
    assert!(key(&mut s, KeyCode::Char('A')).is_empty());
    assert!(s.flash.as_ref().unwrap().text.contains("not an incident"));
    let id = s.backlog.selected_item().unwrap().id.clone();
    for i in s.backlog.items.iter_mut().filter(|i| i.id == id) {
        i.kind = ItemKind::Incident;
    }
    s.backlog.refilter();
    assert_eq!(s.backlog.selected_item().unwrap().kind, ItemKind::Incident);
    let cmds = key(&mut s, KeyCode::Char('A'));
    assert!(matches!(
        &cmds[..],
        [Command::MutateBacklog {
            change: BacklogMutation::Acknowledge { .. },
            ..
        }]
    ));
    s.pending = None;
    key(&mut s, KeyCode::Char('M'));
    typ(&mut s, "x");
    assert!(key(&mut s, KeyCode::Enter).is_empty());
    assert!(matches!(
        &s.overlay,
        Some(Overlay::Triage { error: Some(_), .. })
    ));
    key(&mut s, KeyCode::Esc);
    key(&mut s, KeyCode::Char('D'));
    let cmds = key(&mut s, KeyCode::Enter);
    assert!(
        matches!(
            &cmds[..],
            [Command::MutateBacklog {
                change: BacklogMutation::Dismiss { hours: 24, .. },
                ..
            }]
        ),
        "{cmds:?}"
    );
}

/// S4: with `--read-only`, no mutating action gets through, whether by its key in its pane or
/// by name in the palette: no command, and the status bar says why.
#[test]
fn read_only_refuses_every_mutating_action_by_key_and_by_palette() {
    use crate::app::action::{ACTIONS, Context};
    let mutating: Vec<_> = ACTIONS.iter().filter(|a| a.mutates).collect();
    assert!(mutating.len() >= 19, "every mutating action is listed");
    for a in &mutating {
        let mut s = state();
        s.read_only = true;
        let pane = match a.context {
            Context::Builds => '2',
            Context::Deploys => '3',
            Context::Health => '4',
            _ => '1',
        };
        key(&mut s, KeyCode::Char(pane));
        if let Some(k) = a.default_keys.first().filter(|k| k.chars().count() == 1) {
            let c = k.chars().next().unwrap_or(' ');
            let cmds = key(&mut s, KeyCode::Char(c));
            assert!(cmds.is_empty(), "{}: {cmds:?}", a.name);
            assert!(s.overlay.is_none(), "{} opened {:?}", a.name, s.overlay);
            let flash = s.flash.as_ref().map(|f| f.text.clone()).unwrap_or_default();
            assert!(flash.contains("read-only mode"), "{}: {flash}", a.name);
        }
        key(&mut s, KeyCode::Char(':'));
        typ(&mut s, a.name);
        let cmds = key(&mut s, KeyCode::Enter);
        assert!(cmds.is_empty(), "palette {}: {cmds:?}", a.name);
        let flash = s.flash.as_ref().map(|f| f.text.clone()).unwrap_or_default();
        assert_eq!(flash, format!("read-only mode: {} is disabled", a.name));
    }
}

/// The palette goes to the pane an action works in and runs it there.
#[test]
fn the_palette_goes_where_the_action_works() {
    let mut s = state();
    assert_eq!(s.focus, PaneId::Backlog);
    for name in ["focus_health", "new_item"] {
        key(&mut s, KeyCode::Char(':'));
        typ(&mut s, name);
        key(&mut s, KeyCode::Enter);
        if name == "focus_health" {
            assert_eq!(s.focus, PaneId::Health);
        }
    }
    assert_eq!(s.focus, PaneId::Backlog, "went to the backlog");
    assert!(
        matches!(s.overlay, Some(Overlay::Form(_))),
        "and opened the form"
    );
}

/// Ctrl-X discards a draft, only after a `y`; any other answer keeps it.
#[test]
fn a_draft_can_be_discarded_after_a_yes() {
    let mut s = state();
    let title = |s: &State| match &s.overlay {
        Some(Overlay::Form(f)) => f.title.text.clone(),
        other => panic!("{other:?}"),
    };
    key(&mut s, KeyCode::Char('n'));
    typ(&mut s, "half a thought");
    ctrl(&mut s, 'x');
    assert!(matches!(s.overlay, Some(Overlay::Confirm { .. })));
    key(&mut s, KeyCode::Char('n'));
    assert!(s.flash.as_ref().unwrap().text.contains("draft kept"));
    key(&mut s, KeyCode::Char('n'));
    assert_eq!(title(&s), "half a thought", "kept");
    ctrl(&mut s, 'x');
    key(&mut s, KeyCode::Char('y'));
    assert!(s.overlay.is_none() && s.drafts.is_empty());
    key(&mut s, KeyCode::Char('n'));
    assert_eq!(title(&s), "", "gone");
}

/// `!` shows the last status-bar message whole, even after it has gone from the bar.
#[test]
fn bang_shows_the_last_message_in_full() {
    let mut s = state();
    key(&mut s, KeyCode::Char('!'));
    assert!(s.flash.as_ref().unwrap().text.contains("no message yet"));
    let long = "deploy #4 of demo-api (v2 → v3) rolled back: ".repeat(4);
    super::flash(&mut s, long.clone(), Level::Error, 100);
    update(&mut s, Event::Tick, 10_000);
    key(&mut s, KeyCode::Char('!'));
    assert_eq!(s.overlay, Some(Overlay::Message(long)));
    key(&mut s, KeyCode::Char('x'));
    assert!(s.overlay.is_none());
}
