use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::app::overlay::Overlay;
use crate::app::{Command, Event, Init, State, update};
use crate::domain::{PaneId, Run, RunStatus, Step, TestCounts};
use crate::engine::pipeline::logfile::{Anchor, Window};

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
        log_path: Some(format!("/logs/{id}")),
    }
}

fn state() -> State {
    let mut s = State::new(Init {
        builds: Some(("local".into(), vec!["demo-ci".into(), "nightly".into()])),
        ..Init::local("demo", (80, 24))
    });
    let cmds = update(&mut s, Event::Tick, 100);
    assert!(
        cmds.contains(&Command::ListRuns {
            request: 2,
            force: false
        }),
        "{cmds:?}"
    );
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
    assert!(matches!(s.overlay, Some(Overlay::Choose(_))));
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

fn window(first: usize, n: usize, len: u64) -> Window {
    Window {
        start: first as u64 * 10,
        end: (first + n) as u64 * 10,
        lines: (first..first + n).map(|i| format!("line {i}")).collect(),
        offsets: (first..first + n).map(|i| i as u64 * 10).collect(),
        len,
    }
}

fn answer(s: &mut State, cmds: &[Command], w: Window) -> Vec<Command> {
    let Some(Command::LoadLog { request, .. }) =
        cmds.iter().find(|c| matches!(c, Command::LoadLog { .. }))
    else {
        panic!("no LoadLog in {cmds:?}")
    };
    update(
        s,
        Event::LogLoaded {
            request: *request,
            result: Ok(w),
        },
        100,
    )
}

#[test]
fn detail_reads_windows_of_the_log_scrolls_and_follows() {
    let mut s = state();
    let cmds = key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
    assert!(
        matches!(&cmds[0], Command::LoadLog { anchor: Anchor::End, path, .. } if path == "/logs/2"),
        "{cmds:?}"
    );
    answer(&mut s, &cmds, window(90, 10, 1000));
    assert!(s.builds.detail.as_ref().unwrap().follow);
    let cmds = key(&mut s, KeyCode::Char('k'), KeyModifiers::NONE);
    assert!(
        matches!(
            cmds[0],
            Command::LoadLog {
                anchor: Anchor::Above(900, 1),
                ..
            }
        ),
        "{cmds:?}"
    );
    assert!(!s.builds.detail.as_ref().unwrap().follow);
    answer(&mut s, &cmds, window(89, 10, 1000));
    let cmds = key(&mut s, KeyCode::Char('j'), KeyModifiers::NONE);
    assert!(
        matches!(
            cmds[0],
            Command::LoadLog {
                anchor: Anchor::At(900),
                ..
            }
        ),
        "{cmds:?}"
    );
    let cmds = key(&mut s, KeyCode::Char('g'), KeyModifiers::NONE);
    assert!(matches!(
        cmds[0],
        Command::LoadLog {
            anchor: Anchor::At(0),
            ..
        }
    ));
    let cmds = key(&mut s, KeyCode::Char('G'), KeyModifiers::NONE);
    assert!(matches!(
        cmds[0],
        Command::LoadLog {
            anchor: Anchor::End,
            ..
        }
    ));
    assert!(s.builds.detail.as_ref().unwrap().follow, "G follows again");
    key(&mut s, KeyCode::Char('w'), KeyModifiers::NONE);
    assert!(s.builds.detail.as_ref().unwrap().wrap);
    key(&mut s, KeyCode::Esc, KeyModifiers::NONE);
    assert!(s.builds.detail.is_none());
    assert_eq!(s.focus, PaneId::Builds);
}

#[test]
fn search_next_previous_and_first_error() {
    let mut s = state();
    let cmds = key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
    answer(&mut s, &cmds, window(0, 10, 1000));
    assert!(
        key(&mut s, KeyCode::Char('n'), KeyModifiers::NONE).is_empty(),
        "nothing to repeat yet"
    );
    key(&mut s, KeyCode::Char('/'), KeyModifiers::NONE);
    for c in "panic".chars() {
        key(&mut s, KeyCode::Char(c), KeyModifiers::NONE);
    }
    let cmds = key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
    let Command::SearchLog {
        request,
        query,
        from: 0,
        backwards: false,
        ..
    } = &cmds[0]
    else {
        panic!("{cmds:?}")
    };
    assert_eq!(query, "panic");
    let cmds = update(
        &mut s,
        Event::LogFound {
            request: *request,
            what: "panic".into(),
            result: Ok(Some((420, Some((3, 17))))),
        },
        100,
    );
    assert!(matches!(
        cmds[0],
        Command::LoadLog {
            anchor: Anchor::Above(420, 2),
            ..
        }
    ));
    let notice = s.builds.detail.as_ref().and_then(|d| d.notice.clone());
    assert_eq!(notice.as_deref(), Some("panic: match 3 of 17"));
    let cmds = key(&mut s, KeyCode::Char('n'), KeyModifiers::NONE);
    assert!(matches!(
        &cmds[0],
        Command::SearchLog {
            from: 421,
            backwards: false,
            ..
        }
    ));
    let cmds = key(&mut s, KeyCode::Char('N'), KeyModifiers::NONE);
    let Command::SearchLog {
        request: prev,
        from: 420,
        backwards: true,
        ..
    } = &cmds[0]
    else {
        panic!("{cmds:?}")
    };
    // An answer to an older search is dropped.
    let found = |request| Event::LogFound {
        request,
        what: "panic".into(),
        result: Ok(None),
    };
    update(&mut s, found(*request), 100);
    assert_eq!(
        s.builds.detail.as_ref().unwrap().notice.as_deref(),
        Some("panic: match 3 of 17"),
        "unchanged by a stale answer"
    );
    update(&mut s, found(*prev), 100);
    assert_eq!(
        s.builds.detail.as_ref().unwrap().notice.as_deref(),
        Some("not found: panic")
    );
    let cmds = key(&mut s, KeyCode::Char('e'), KeyModifiers::NONE);
    assert!(matches!(&cmds[0], Command::SearchLog { query, from: 0, .. } if query.is_empty()));
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

#[test]
fn watched_branches_are_checked_every_few_seconds_and_new_commits_run() {
    let mut s = State::new(Init {
        builds: Some(("local".into(), vec![])),
        watches: true,
        ..Init::local("demo", (80, 24))
    });
    let at = |n: i64| crate::app::update::builds::WATCH_SECS * n;
    assert!(update(&mut s, Event::Tick, at(10)).contains(&Command::CheckTriggers));
    assert!(!update(&mut s, Event::Tick, at(10) + 1).contains(&Command::CheckTriggers));
    let cmds = update(
        &mut s,
        Event::TriggersChecked {
            due: vec!["ci".into()],
        },
        at(11),
    );
    assert!(
        matches!(&cmds[0], Command::RunPipeline { pipeline, trigger: "commit", .. } if pipeline == "ci")
    );
}

#[test]
fn remote_runs_download_their_log_and_are_steered_through_the_api() {
    use crate::providers::RunAction;
    let mut s = State::new(Init {
        builds: Some(("gh".into(), vec![])),
        builds_remote: true,
        builds_interval: 10,
        ..Init::local("demo", (80, 24))
    });
    update(&mut s, Event::Tick, 100);
    let mut done = run(1, RunStatus::Failure);
    done.log_path = None;
    update(
        &mut s,
        Event::RunsListed {
            request: 2,
            result: Ok(Some(vec![run(2, RunStatus::Running), done])),
        },
        100,
    );
    key(&mut s, KeyCode::Char('2'), KeyModifiers::NONE);
    // The running run cannot be rerun; the finished one can, whole or its failed jobs.
    assert!(key(&mut s, KeyCode::Char('R'), KeyModifiers::NONE).is_empty());
    key(&mut s, KeyCode::Char('j'), KeyModifiers::NONE);
    let cmds = key(&mut s, KeyCode::Char('F'), KeyModifiers::NONE);
    assert_eq!(
        cmds,
        vec![Command::ActOnRun {
            run: "1".into(),
            action: RunAction::RerunFailed
        }]
    );
    key(&mut s, KeyCode::Char('k'), KeyModifiers::NONE);
    key(&mut s, KeyCode::Char('C'), KeyModifiers::NONE);
    assert!(
        matches!(&s.overlay, Some(Overlay::Confirm { prompt, .. }) if prompt.contains("on GitHub"))
    );
    let cmds = key(&mut s, KeyCode::Char('y'), KeyModifiers::NONE);
    assert_eq!(
        cmds,
        vec![Command::ActOnRun {
            run: "2".into(),
            action: RunAction::Cancel
        }]
    );
    // Opening a run downloads its log first, then reads the end of it.
    key(&mut s, KeyCode::Char('j'), KeyModifiers::NONE);
    let cmds = key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
    let Some(Command::FetchLog { request, run }) = cmds.first().cloned() else {
        panic!("{cmds:?}");
    };
    assert_eq!(run, "1");
    let cmds = update(
        &mut s,
        Event::LogFetched {
            request,
            run: "1".into(),
            result: Ok("/cache/1.log".into()),
        },
        100,
    );
    assert!(
        matches!(&cmds[0], Command::LoadLog { path, anchor: Anchor::End, .. } if path == "/cache/1.log"),
        "{cmds:?}"
    );
}
