//! Rendering: snapshots of every pane state, the size sweep (B1) and hostile strings (B4).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use flightdeck::app::{Event, Init, State, update};
use flightdeck::domain::{Comment, ItemKind, ItemState, Severity, WorkItem};
use flightdeck::engine::pipeline::logfile::Window;
use flightdeck::providers::ProviderError;
use flightdeck::theme::{Theme, ThemeSet};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;

const NOW: i64 = 1_800_000_000;

fn item(
    id: u32,
    title: &str,
    state: ItemState,
    kind: ItemKind,
    labels: &[&str],
    body: &str,
) -> WorkItem {
    WorkItem {
        id: id.to_string(),
        provider: "local".into(),
        title: title.into(),
        body: body.into(),
        state,
        kind,
        severity: (kind == ItemKind::Incident).then_some(Severity::High),
        labels: labels.iter().map(|s| s.to_string()).collect(),
        author: "ana".into(),
        created: NOW - i64::from(id) * 5000,
        updated: NOW - i64::from(id) * 1000,
        comments: id % 3,
        assignee: None,
        auto: false,
        sections: Vec::new(),
    }
}

fn fixture_items() -> Vec<WorkItem> {
    vec![
        item(
            1,
            "demo-api p99 latency above 300 ms",
            ItemState::Open,
            ItemKind::Incident,
            &["demo-api", "latency"],
            "## Seen\n- p99 **340 ms**\n> on demo-api-2\n```\nrate(http_requests_total[5m])\n```",
        ),
        item(
            2,
            "Add a smoke test for /version",
            ItemState::Open,
            ItemKind::Issue,
            &["deploy"],
            "A `deploy` should fail its gate.",
        ),
        item(
            3,
            "Write the rollback runbook",
            ItemState::Open,
            ItemKind::Issue,
            &["docs", "on-call"],
            "",
        ),
        item(
            4,
            "Queue depth alert fired",
            ItemState::Closed,
            ItemKind::Incident,
            &[],
            "Resolved.",
        ),
    ]
}

fn state(size: (u16, u16), read_only: bool) -> State {
    let mut s = State::new(Init {
        read_only,
        ..Init::local("demo", size)
    });
    update(&mut s, Event::Tick, NOW - 100);
    update(
        &mut s,
        Event::BacklogListed {
            request: 1,
            result: Ok(Some(fixture_items())),
        },
        NOW - 100,
    );
    s.flash = None;
    s
}

fn key(s: &mut State, code: KeyCode) {
    update(s, Event::Key(KeyEvent::new(code, KeyModifiers::NONE)), NOW);
}

fn keys(s: &mut State, text: &str) {
    for c in text.chars() {
        key(s, KeyCode::Char(c));
    }
}

fn draw(s: &State, theme: &Theme) -> Buffer {
    let mut t = Terminal::new(TestBackend::new(s.size.0, s.size.1)).unwrap();
    t.draw(|f| flightdeck::ui::render(f, s, theme, NOW))
        .unwrap();
    t.backend().buffer().clone()
}

fn text(buf: &Buffer) -> String {
    let w = buf.area.width as usize;
    buf.content
        .chunks(w.max(1))
        .map(|row| {
            row.iter()
                .map(|c| c.symbol())
                .collect::<String>()
                .trim_end()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

type Scenario = (&'static str, fn(&mut State));

fn scenarios() -> Vec<Scenario> {
    vec![
        ("list", |_| {}),
        ("selected_second", |s| key(s, KeyCode::Char('j'))),
        ("all_states_sorted_by_kind", |s| {
            key(s, KeyCode::Char('a'));
            key(s, KeyCode::Char('a'));
            key(s, KeyCode::Char('s'));
            key(s, KeyCode::Char('s'));
            key(s, KeyCode::Char('s'));
            key(s, KeyCode::Char('s'));
            s.flash = None;
        }),
        ("filtering", |s| {
            key(s, KeyCode::Char('/'));
            keys(s, "label:docs");
        }),
        ("detail", |s| {
            key(s, KeyCode::Enter);
            update(
                s,
                Event::CommentsLoaded {
                    request: 2,
                    result: Ok(vec![Comment {
                        author: "bo".into(),
                        body: "Rolled back **v2**.".into(),
                        created: NOW - 600,
                    }]),
                },
                NOW,
            );
        }),
        ("form_incident", |s| {
            key(s, KeyCode::Char('n'));
            keys(s, "Disk at 91%");
            key(s, KeyCode::Tab);
            key(s, KeyCode::Right);
            key(s, KeyCode::Tab);
            key(s, KeyCode::Tab);
            keys(s, "ops");
            key(s, KeyCode::Tab);
            keys(s, "It fills **fast**.");
        }),
        ("comment", |s| {
            key(s, KeyCode::Char('c'));
            keys(s, "Looking into it");
        }),
        ("help", |s| key(s, KeyCode::Char('?'))),
        ("palette", |s| {
            key(s, KeyCode::Char(':'));
            keys(s, "new");
        }),
        ("builds_focused", |s| key(s, KeyCode::Char('2'))),
        ("health_zoomed", |s| {
            key(s, KeyCode::Char('4'));
            key(s, KeyCode::Char('z'));
        }),
        ("stale_after_timeout", |s| {
            update(s, Event::Tick, NOW);
            update(
                s,
                Event::BacklogListed {
                    request: 2,
                    result: Err(ProviderError::Timeout(std::time::Duration::from_secs(10))),
                },
                NOW - 30,
            );
        }),
    ]
}

#[test]
fn snapshots_of_every_pane_state() {
    let themes = ThemeSet::load(None).unwrap();
    for theme_name in ["default", "ansi16"] {
        let theme = themes.get(theme_name).unwrap();
        for size in [(80u16, 24u16), (160, 48)] {
            for (name, setup) in scenarios() {
                let mut s = state(size, false);
                setup(&mut s);
                let buf = draw(&s, theme);
                let snap = format!("{}x{}_{}_{}", size.0, size.1, theme_name, name);
                // Text for review, then the full buffer with styles so colour changes show too.
                insta::assert_snapshot!(snap.clone(), text(&buf));
                insta::assert_debug_snapshot!(format!("{snap}_styles"), buf);
            }
        }
    }
}

#[test]
fn read_only_badge_and_too_small() {
    let themes = ThemeSet::load(None).unwrap();
    let theme = themes.get("default").unwrap();
    let s = state((80, 24), true);
    let t = text(&draw(&s, theme));
    let bar = t.lines().last().unwrap();
    assert!(bar.contains("READ-ONLY"), "{t}");
    // Only what works is advertised: no `n new` when nothing can be created.
    assert!(bar.contains("filter") && !bar.contains("new"), "{bar}");
    let s = state((80, 24), false);
    assert!(
        text(&draw(&s, theme))
            .lines()
            .last()
            .unwrap()
            .contains("n new")
    );
    let s = state((30, 8), false);
    assert!(text(&draw(&s, theme)).contains("terminal too small: need 50×12"));
}

#[test]
fn size_sweep_never_panics() {
    let themes = ThemeSet::load(None).unwrap();
    let theme = themes.get("default").unwrap();
    let mut sizes: Vec<(u16, u16)> = vec![
        (0, 0),
        (1, 1),
        (0, 10),
        (10, 0),
        (200, 60),
        (49, 11),
        (50, 12),
        (119, 31),
        (120, 32),
    ];
    for w in (0..=200).step_by(13) {
        for h in (0..=60).step_by(7) {
            sizes.push((w, h));
        }
    }
    let setups: [fn(&mut State); 7] = [
        |_| {},
        |s| key(s, KeyCode::Char('?')),
        |s| key(s, KeyCode::Char('n')),
        |s| key(s, KeyCode::Enter),
        |s| key(s, KeyCode::Char(':')),
        // A web page's URL shown because there is no browser (a long one).
        |s| {
            let url = format!(
                "https://github.com/acme/api/actions/runs/{}",
                "9".repeat(80)
            );
            update(s, Event::ShowUrl { url }, NOW);
        },
        |s| {
            update(
                s,
                Event::Notice {
                    text: "x".repeat(300),
                    error: true,
                },
                NOW,
            );
        },
    ];
    for size in sizes {
        for setup in setups {
            let mut s = state(size, false);
            setup(&mut s);
            update(&mut s, Event::Resize(size.0, size.1), NOW);
            draw(&s, theme);
        }
    }
}

#[test]
fn hostile_strings_render_inert() {
    let themes = ThemeSet::load(None).unwrap();
    let theme = themes.get("default").unwrap();
    let hostile = [
        "\x1b]52;c;ZXZpbA==\x07clipboard",
        "\x1b]0;pwned title\x07",
        "\x1b[2J\x1b[Hcleared",
        "\u{9b}31mC1 CSI",
        "\u{202E}txet desrever\u{202C}",
        "wide 日本語 and combining e\u{301}\u{301}\u{301}",
        "\u{0}\u{7}\u{8}\u{7f} controls",
    ];
    let long = "x".repeat(1_000_000);
    let mut items: Vec<WorkItem> = hostile
        .iter()
        .enumerate()
        .map(|(i, h)| {
            item(
                i as u32 + 1,
                h,
                ItemState::Open,
                ItemKind::Issue,
                &[h],
                &format!("{h}\n{h}"),
            )
        })
        .collect();
    items.push(item(
        99,
        &long,
        ItemState::Open,
        ItemKind::Issue,
        &[],
        &long,
    ));
    for size in [(80, 24), (160, 48)] {
        let mut s = state(size, false);
        update(&mut s, Event::Tick, NOW + 10);
        update(
            &mut s,
            Event::BacklogListed {
                request: 2,
                result: Ok(Some(items.clone())),
            },
            NOW + 10,
        );
        for view in 0..2 {
            if view == 1 {
                key(&mut s, KeyCode::Char('G'));
                key(&mut s, KeyCode::Enter);
            }
            let buf = draw(&s, theme);
            for cell in &buf.content {
                assert!(
                    !cell
                        .symbol()
                        .chars()
                        .any(|c| c.is_control() || ('\u{202A}'..='\u{202E}').contains(&c)),
                    "control character reached the screen: {:?}",
                    cell.symbol()
                );
            }
            let t = text(&buf);
            let last = t.lines().last().unwrap();
            assert!(last.contains("demo"), "status bar intact: {last}");
        }
    }
}

fn fixture_run(
    id: u64,
    status: flightdeck::domain::RunStatus,
    failed: u32,
) -> flightdeck::domain::Run {
    use flightdeck::domain::{Run, RunStatus, Step, TestCounts};
    let step = |name: &str, st: RunStatus, ms: u64| Step {
        name: name.into(),
        status: st,
        exit_code: match st {
            RunStatus::Success => Some(0),
            RunStatus::Failure => Some(101),
            _ => None,
        },
        started: Some(NOW - 100),
        duration_ms: st.is_final().then_some(ms),
        log_range: None,
    };
    Run {
        id: id.to_string(),
        provider: "local".into(),
        pipeline: "demo-ci".into(),
        number: id,
        status,
        commit: Some("4f2a9c1d2e3b4a5f".into()),
        branch: Some("main".into()),
        trigger: "manual".into(),
        actor: "ana@bastion".into(),
        started: NOW - 100 * id as i64,
        finished: status.is_final().then_some(NOW - 100 * id as i64 + 12),
        steps: vec![
            step("check", RunStatus::Success, 210),
            step("test", status, 9400),
            step(
                "package",
                if status == RunStatus::Success {
                    RunStatus::Success
                } else {
                    RunStatus::Cancelled
                },
                800,
            ),
        ],
        tests: Some(TestCounts {
            passed: 5,
            failed,
            skipped: 1,
        }),
        failed_tests: (0..failed)
            .map(|i| format!("api::health::case_{i}"))
            .collect(),
        flaky_tests: vec![],
        log_path: Some(format!("/nonexistent/run-{id}.log")),
    }
}

fn builds_state(size: (u16, u16)) -> State {
    use flightdeck::domain::RunStatus;
    let mut s = State::new(Init {
        builds: Some(("local".into(), vec!["demo-ci".into()])),
        ..Init::local("demo", size)
    });
    let cmds = update(&mut s, Event::Tick, NOW);
    let request = cmds
        .iter()
        .find_map(|c| match c {
            flightdeck::app::Command::ListRuns { request, .. } => Some(*request),
            _ => None,
        })
        .unwrap();
    let runs = vec![
        fixture_run(3, RunStatus::Running, 0),
        fixture_run(2, RunStatus::Failure, 1),
        fixture_run(1, RunStatus::Success, 0),
    ];
    update(
        &mut s,
        Event::RunsListed {
            request,
            result: Ok(Some(runs)),
        },
        NOW,
    );
    key(&mut s, KeyCode::Char('2'));
    s.flash = None;
    s
}

#[test]
fn snapshots_of_the_builds_pane() {
    let themes = ThemeSet::load(None).unwrap();
    let scenarios: Vec<Scenario> = vec![
        ("builds_list", |_| {}),
        ("builds_detail_failed", |s| {
            key(s, KeyCode::Char('j'));
            key(s, KeyCode::Enter);
            let request = s.builds.detail.as_ref().unwrap().request.unwrap();
            let lines: Vec<String> = vec![
                "==> step 2 (test): cargo test".to_string(),
                "test api::health::case_0 ... \x1b[31mFAILED\x1b[0m".to_string(),
                "\x1b]52;c;ZXZpbA==\x07\x1b[2Jhostile line stays inert".to_string(),
                "test result: \x1b[1;31mFAILED\x1b[0m. 5 passed; 1 failed; 1 ignored".to_string(),
                "==> test exit code 101".to_string(),
            ];
            let window = Window {
                start: 0,
                end: 200,
                offsets: (0..lines.len() as u64).map(|i| i * 40).collect(),
                lines,
                len: 200,
            };
            update(
                s,
                Event::LogLoaded {
                    request,
                    result: Ok(window),
                },
                NOW,
            );
        }),
        ("builds_search", |s| {
            key(s, KeyCode::Char('j'));
            key(s, KeyCode::Enter);
            let request = s.builds.detail.as_ref().unwrap().request.unwrap();
            let lines: Vec<String> = vec![
                "compiling".into(),
                "thread 'main' panicked at src/x.rs".into(),
                "note: PANICKED again".into(),
            ];
            let window = Window {
                start: 0,
                end: 80,
                offsets: vec![0, 10, 45],
                lines,
                len: 80,
            };
            update(
                s,
                Event::LogLoaded {
                    request,
                    result: Ok(window),
                },
                NOW,
            );
            key(s, KeyCode::Char('/'));
            keys(s, "panicked");
        }),
        ("builds_choose", |s| key(s, KeyCode::Char('p'))),
        ("builds_confirm_cancel", |s| key(s, KeyCode::Char('C'))),
    ];
    for theme_name in ["default", "ansi16"] {
        let theme = themes.get(theme_name).unwrap();
        for size in [(80u16, 24u16), (160, 48)] {
            for (name, setup) in &scenarios {
                let mut s = builds_state(size);
                setup(&mut s);
                let buf = draw(&s, theme);
                let snap = format!("{}x{}_{}_{}", size.0, size.1, theme_name, name);
                let t = text(&buf);
                assert!(!t.contains('\x1b'), "escape reached the screen");
                insta::assert_snapshot!(snap.clone(), t);
                insta::assert_debug_snapshot!(format!("{snap}_styles"), buf);
            }
        }
    }
}

#[path = "render/deploys.rs"]
mod deploys;
#[path = "render/dispatch.rs"]
mod dispatch;
#[path = "render/health.rs"]
mod health;
