//! The GitHub workflow dispatch form and its confirmation fit at 80×24 (B1).

use crossterm::event::KeyCode;
use flightdeck::app::dispatch::DispatchForm;
use flightdeck::app::overlay::Overlay;
use flightdeck::app::{Init, State};
use flightdeck::domain::{InputKind, Workflow, WorkflowInput};
use flightdeck::theme::ThemeSet;

use super::{draw, key, keys, text};

fn input(name: &str, description: &str, required: bool, kind: InputKind) -> WorkflowInput {
    WorkflowInput {
        name: name.into(),
        description: description.into(),
        required,
        default: None,
        kind,
    }
}

fn form_open() -> State {
    let mut s = State::new(Init::local("acme", (80, 24)));
    let workflow = Workflow {
        repo: "acme/api".into(),
        id: 42,
        name: "Deploy".into(),
        path: ".github/workflows/deploy.yml".into(),
        default_ref: "main".into(),
        inputs: vec![
            input(
                "version",
                "The release tag to deploy; it must exist in the repository's releases",
                true,
                InputKind::Text,
            ),
            input(
                "environment",
                "Where",
                true,
                InputKind::Choice(vec!["staging".into(), "production".into()]),
            ),
            input("dry_run", "Plan only", false, InputKind::Boolean),
            input("replicas", "How many", false, InputKind::Number),
        ],
        correlated: true,
    };
    s.overlay = Some(Overlay::Dispatch(DispatchForm::new(workflow)));
    s
}

#[test]
fn the_dispatch_form_and_its_confirmation_fit_at_80x24() {
    let themes = ThemeSet::load(None).unwrap();
    let theme = themes.get("default").unwrap();
    let mut s = form_open();
    insta::assert_snapshot!("80x24_dispatch_form", text(&draw(&s, theme)));
    key(&mut s, KeyCode::Tab);
    keys(&mut s, "v2.4.1");
    key(&mut s, KeyCode::Tab);
    key(&mut s, KeyCode::Right);
    key(&mut s, KeyCode::Enter);
    assert!(
        matches!(s.overlay, Some(Overlay::Confirm { .. })),
        "{:?}",
        s.overlay
    );
    insta::assert_snapshot!("80x24_dispatch_confirm", text(&draw(&s, theme)));
}
