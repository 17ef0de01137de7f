use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::app::overlay::Overlay;
use crate::app::{Command, Event, Init, State, update};
use crate::domain::{PaneId, Run, RunStatus, Step, TestCounts};

fn run(id: u64, status: RunStatus) -> Run {
    Run {
        id: id.to_string(),
        provider: "local".into(),
        pipeline: "demo-ci".into(),
        number: id,
        status,
        commit: None,
        branch: None,
        trigger: "manual".into(),
        actor: "ana".into(),
        started: 100,
        finished: status.is_final().then_some(110),
        steps: vec![Step {
            name: "test".into(),
            status,
            exit_code: None,
            started: Some(100),
            duration_ms: Some(1000),
            log_range: None,
        }],
        tests: Some(TestCounts {
            passed: 5,
            failed: 0,
            skipped: 0,
        }),
        failed_tests: vec![],
        flaky_tests: vec![],
        log_path: None,
    }
}

fn state() -> State {
    let mut s = State::new(Init {
        builds: Some(("local".into(), vec!["demo-ci".into(), "nightly".into()])),
        ..Init::local("demo", (80, 24))
    });
    let cmds = update(&mut s, Event::Tick, 100);
    assert!(cmds.contains(&Command::ListRuns { request: 2 }), "{cmds:?}");
    update(
        &mut s,
        Event::RunsListed {
            request: 2,
            result: Ok(Some(vec![
                run(2, RunStatus::Running),
                run(1, RunStatus::Failure),
            ])),
        },
        100,
    );
    key(&mut s, KeyCode::Char('2'), KeyModifiers::NONE);
    s
}

fn key(s: &mut State, code: KeyCode, mods: KeyModifiers) -> Vec<Command> {
    update(s, Event::Key(KeyEvent::new(code, mods)), 100)
}

#[test]
fn p_chooses_a_pipeline_and_runs_it() {
    let mut s = state();
    key(&mut s, KeyCode::Char('p'), KeyModifiers::NONE);
    assert!(matches!(s.overlay, Some(Overlay::Choose { .. })));
    key(&mut s, KeyCode::Char('j'), KeyModifiers::NONE);
    let cmds = key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
    assert!(matches!(
        &cmds[0],
        Command::RunPipeline { pipeline, trigger: "manual", .. } if pipeline == "nightly"
    ));
    assert!(s.overlay.is_none());
}

#[test]
fn rerun_only_ended_runs_and_cancel_only_running_ones_after_y() {
    let mut s = state();
    assert!(
        key(&mut s, KeyCode::Char('R'), KeyModifiers::NONE).is_empty(),
        "run 2 is still going"
    );
    key(&mut s, KeyCode::Char('C'), KeyModifiers::NONE);
    assert!(matches!(s.overlay, Some(Overlay::Confirm { .. })));
    // Esc then y arrives as alt-y: it must not confirm (B3).
    assert!(key(&mut s, KeyCode::Char('y'), KeyModifiers::ALT).is_empty());
    assert!(s.overlay.is_none());
    key(&mut s, KeyCode::Char('C'), KeyModifiers::NONE);
    let cmds = key(&mut s, KeyCode::Char('y'), KeyModifiers::NONE);
    assert!(matches!(&cmds[0], Command::CancelRun { run, .. } if run == "2"));
    key(&mut s, KeyCode::Char('j'), KeyModifiers::NONE);
    let cmds = key(&mut s, KeyCode::Char('R'), KeyModifiers::NONE);
    assert!(matches!(
        &cmds[0],
        Command::RunPipeline {
            trigger: "rerun",
            ..
        }
    ));
    key(&mut s, KeyCode::Char('C'), KeyModifiers::NONE);
    assert!(s.overlay.is_none(), "an ended run cannot be cancelled");
}

#[test]
fn detail_loads_the_log_and_scrolls_back_and_follows() {
    let mut s = state();
    let cmds = key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
    let Command::LoadLog { request, run: id } = &cmds[0] else {
        panic!("{cmds:?}")
    };
    assert_eq!(id, "2");
    let lines = (0..50).map(|i| format!("line {i}")).collect();
    update(
        &mut s,
        Event::LogLoaded {
            request: *request,
            result: Ok(lines),
        },
        100,
    );
    key(&mut s, KeyCode::Char('k'), KeyModifiers::NONE);
    key(&mut s, KeyCode::Char('k'), KeyModifiers::NONE);
    assert_eq!(s.builds.detail.as_ref().unwrap().back, 2);
    key(&mut s, KeyCode::Char('G'), KeyModifiers::NONE);
    assert_eq!(s.builds.detail.as_ref().unwrap().back, 0, "G follows again");
    // A refresh with changes reloads the log of the open run.
    update(&mut s, Event::Tick, 101);
    let cmds = update(&mut s, Event::Tick, 102);
    let Some(Command::ListRuns { request }) = cmds.first().cloned() else {
        panic!("{cmds:?}")
    };
    let cmds = update(
        &mut s,
        Event::RunsListed {
            request,
            result: Ok(Some(vec![run(2, RunStatus::Success)])),
        },
        102,
    );
    assert!(matches!(cmds[0], Command::LoadLog { .. }));
    key(&mut s, KeyCode::Esc, KeyModifiers::NONE);
    assert!(s.builds.detail.is_none());
    assert_eq!(s.focus, PaneId::Builds);
}

#[test]
fn builds_keys_outside_the_builds_pane_say_where_they_work() {
    let mut s = state();
    key(&mut s, KeyCode::Char('1'), KeyModifiers::NONE);
    assert!(key(&mut s, KeyCode::Char('p'), KeyModifiers::NONE).is_empty());
    assert!(
        s.flash
            .as_ref()
            .unwrap()
            .text
            .contains("Builds pane (press 2)")
    );
    s.read_only = true;
    key(&mut s, KeyCode::Char('2'), KeyModifiers::NONE);
    assert!(key(&mut s, KeyCode::Char('p'), KeyModifiers::NONE).is_empty());
    assert!(s.flash.as_ref().unwrap().text.contains("read-only"));
}
