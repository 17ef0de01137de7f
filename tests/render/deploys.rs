//! The deploys pane: snapshots of a live deploy, the detail, the chooser and the plan, and
//! the typed confirmation's rules (S5).

use crossterm::event::KeyCode;
use flightdeck::app::{Command, Event, Init, State, update};
use flightdeck::config::TargetConfig;
use flightdeck::engine::deploy::view::{NodeView, TargetSnapshot, TargetView};
use flightdeck::store::{DeployRecord, JournalEntry, LockInfo};
use flightdeck::theme::ThemeSet;

use super::{NOW, draw, key, keys, text};

fn config(name: &str, environment: &str) -> TargetConfig {
    toml::from_str(&format!(
        r#"
name = "{name}"
environment = "{environment}"
nodes = ["{name}-1", "{name}-2", "{name}-3"]
engine = "local-fleet"
versions = ["v1", "v2", "v3"]
smoke = [{{ name = "orders", http = "/api/orders" }}]
"#
    ))
    .unwrap()
}

fn record(id: i64, from: &str, to: &str, state: &str, age: i64) -> DeployRecord {
    DeployRecord {
        id,
        target: "demo-api".into(),
        kind: "deploy".into(),
        from: Some(from.into()),
        to: to.into(),
        state: state.into(),
        plan: String::new(),
        actor: "ana@ops".into(),
        pid: Some(4242),
        started: NOW - age - 20,
        finished: (state != "running").then_some(NOW - age),
        reason: (state == "rolled_back")
            .then(|| "1 of 3 nodes failed, over the 0% failure budget".to_string()),
        abort_requested: false,
    }
}

fn entry(seq: i64, ago_s: i64, phase: &str, node: &str, step: &str, status: &str) -> JournalEntry {
    JournalEntry {
        seq,
        ts_ms: (NOW - ago_s) * 1000,
        phase: phase.into(),
        node: node.into(),
        step: step.into(),
        status: status.into(),
        detail: String::new(),
    }
}

fn node(name: &str, version: &str, state: &str) -> NodeView {
    NodeView {
        name: name.into(),
        version: Some(version.into()),
        state: state.into(),
    }
}

/// demo-api mid-deploy (v1 → v2, node 2 waiting for health), and a protected prod target
/// whose rollback failed and whose lock is kept for a human.
fn targets() -> Vec<TargetSnapshot> {
    let running = record(7, "v1", "v2", "running", 0);
    let journal = vec![
        entry(1, 9, "deploy", "", "begin", "ok"),
        entry(2, 8, "forward", "demo-api-1", "undrain", "ok"),
        entry(3, 3, "forward", "demo-api-2", "drain", "ok"),
        entry(4, 2, "forward", "demo-api-2", "deploy", "ok"),
        entry(5, 2, "forward", "demo-api-2", "health", "start"),
    ];
    let demo = TargetSnapshot {
        github: None,
        view: TargetView {
            target: "demo-api".into(),
            environment: "demo".into(),
            engine: "local-fleet",
            version: Some("v1".into()),
            state: "running".into(),
            nodes: vec![
                node("demo-api-1", "v2", "in_rotation"),
                node("demo-api-2", "v1", "drained"),
                node("demo-api-3", "v1", "in_rotation"),
            ],
            lock: None,
            last: Some(running.clone()),
        },
        history: vec![
            running,
            record(6, "v2", "v3", "rolled_back", 600),
            record(5, "v1", "v2", "succeeded", 3600),
        ],
        journal,
        versions: vec!["v1".into(), "v2".into(), "v3".into()],
        log: Some("/state/deploys/demo-api-7.log".into()),
        runner_alive: true,
    };
    let failed = DeployRecord {
        target: "prod".into(),
        state: "failed_rollback".into(),
        reason: Some("rollback of prod-2 failed: process exited".into()),
        ..record(3, "v1", "v2", "failed", 120)
    };
    let prod = TargetSnapshot {
        github: None,
        view: TargetView {
            target: "prod".into(),
            environment: "production".into(),
            engine: "local-fleet",
            version: Some("v1".into()),
            state: "failed_rollback".into(),
            nodes: vec![
                node("prod-1", "v1", "in_rotation"),
                node("prod-2", "v2", "failed"),
                node("prod-3", "v1", "in_rotation"),
            ],
            lock: Some(LockInfo {
                target: "prod".into(),
                lock_id: "9f8e7d6c5b4a".into(),
                deploy_id: 3,
                holder: "ana@ops".into(),
                pid: 4242,
                acquired: NOW - 140,
                heartbeat: NOW - 120,
                reason: Some("needs human: the rollback failed".into()),
            }),
            last: Some(failed.clone()),
        },
        history: vec![failed, record(2, "v0", "v1", "succeeded", 86400)],
        journal: Vec::new(),
        versions: vec!["v1".into(), "v2".into()],
        log: None,
        runner_alive: false,
    };
    vec![demo, prod]
}

fn deploys_state(size: (u16, u16)) -> State {
    let mut s = State::new(Init {
        targets: vec![config("demo-api", "demo"), config("prod", "production")],
        ..Init::local("demo", size)
    });
    let cmds = update(&mut s, Event::Tick, NOW);
    let request = cmds
        .iter()
        .find_map(|c| match c {
            Command::ListDeploys { request } => Some(*request),
            _ => None,
        })
        .unwrap();
    update(
        &mut s,
        Event::DeploysListed {
            request,
            result: Ok(Some(targets())),
        },
        NOW,
    );
    key(&mut s, KeyCode::Char('3'));
    s.flash = None;
    s
}

type Scenario = (&'static str, fn(&mut State));

#[test]
fn snapshots_of_the_deploys_pane() {
    let themes = ThemeSet::load(None).unwrap();
    let scenarios: Vec<Scenario> = vec![
        ("deploys_live", |_| {}),
        ("deploys_detail", |s| key(s, KeyCode::Enter)),
        ("deploys_locked_target", |s| key(s, KeyCode::Char('j'))),
        ("deploys_choose_version", |s| {
            key(s, KeyCode::Char('j'));
            key(s, KeyCode::Char('d'));
        }),
        ("deploys_plan_protected", |s| {
            key(s, KeyCode::Char('j'));
            key(s, KeyCode::Char('d'));
            key(s, KeyCode::Char('j'));
            key(s, KeyCode::Enter);
            keys(s, "pro");
        }),
        ("deploys_rollback_refused_mid_deploy", |s| {
            key(s, KeyCode::Char('b'))
        }),
        ("deploys_abort_confirm", |s| key(s, KeyCode::Char('C'))),
        ("deploys_help", |s| key(s, KeyCode::Char('?'))),
    ];
    let theme = themes.get("default").unwrap();
    for size in [(80u16, 24u16), (160, 48)] {
        for (name, setup) in &scenarios {
            let mut s = deploys_state(size);
            setup(&mut s);
            let buf = draw(&s, theme);
            let snap = format!("{}x{}_{}", size.0, size.1, name);
            insta::assert_snapshot!(snap, text(&buf));
        }
    }
}

fn plan_open(s: &mut State) -> bool {
    matches!(
        s.overlay,
        Some(flightdeck::app::overlay::Overlay::DeployPlan(_))
    )
}

fn started(cmds: &[Command]) -> bool {
    cmds.iter()
        .any(|c| matches!(c, Command::StartDeploy { .. }))
}

/// Opens the plan of v2 on the protected `prod` target.
fn plan_prod(s: &mut State) {
    key(s, KeyCode::Char('j'));
    key(s, KeyCode::Char('d'));
    // The picker starts on the newest version above the current one: v2.
    key(s, KeyCode::Enter);
    assert!(plan_open(s));
}

fn press(s: &mut State, code: KeyCode, at: i64) -> Vec<Command> {
    update(
        s,
        Event::Key(crossterm::event::KeyEvent::new(
            code,
            crossterm::event::KeyModifiers::NONE,
        )),
        at,
    )
}

#[test]
fn a_protected_target_deploys_only_with_its_name_typed() {
    let mut s = deploys_state((160, 48));
    plan_prod(&mut s);
    assert!(
        !started(&press(&mut s, KeyCode::Char('y'), NOW)),
        "y is just a letter here"
    );
    assert!(
        !started(&press(&mut s, KeyCode::Enter, NOW)),
        "prody is not prod"
    );
    for _ in 0..5 {
        press(&mut s, KeyCode::Backspace, NOW);
    }
    keys(&mut s, "prod");
    let cmds = press(&mut s, KeyCode::Enter, NOW + 5);
    let start = cmds.iter().find_map(|c| match c {
        Command::StartDeploy {
            target,
            version,
            expected,
            ..
        } => Some((target.clone(), version.clone(), expected.len())),
        _ => None,
    });
    assert_eq!(start, Some(("prod".into(), "v2".into(), 3)));
    assert!(!plan_open(&mut s));
}

#[test]
fn a_confirmation_expires_after_60_seconds() {
    let mut s = deploys_state((160, 48));
    plan_prod(&mut s);
    keys(&mut s, "prod");
    update(&mut s, Event::Tick, NOW + 59);
    assert!(plan_open(&mut s), "still open at 59 s");
    update(&mut s, Event::Tick, NOW + 60);
    assert!(!plan_open(&mut s), "gone at 60 s");
    assert!(s.flash.as_ref().unwrap().text.contains("expired"));
    // A key arriving late (no tick in between) is refused as well.
    plan_prod(&mut s);
    keys(&mut s, "prod");
    assert!(!started(&press(&mut s, KeyCode::Enter, NOW + 61)));
}

#[test]
fn a_confirmation_is_void_once_the_target_changes() {
    let mut s = deploys_state((160, 48));
    key(&mut s, KeyCode::Char('d'));
    // demo-api has a deploy going: no new one.
    assert!(!plan_open(&mut s));
    assert!(
        s.flash
            .as_ref()
            .unwrap()
            .text
            .contains("has a deploy going")
    );
    plan_prod(&mut s);
    keys(&mut s, "prod");
    let mut changed = targets();
    changed[1].view.nodes[1].version = Some("v1".into());
    let request = update(&mut s, Event::Tick, NOW + 3)
        .iter()
        .find_map(|c| match c {
            Command::ListDeploys { request } => Some(*request),
            _ => None,
        })
        .unwrap();
    update(
        &mut s,
        Event::DeploysListed {
            request,
            result: Ok(Some(changed)),
        },
        NOW + 3,
    );
    assert!(!plan_open(&mut s), "the plan was made from other versions");
    assert!(s.flash.as_ref().unwrap().text.contains("changed"));
}

#[test]
fn read_only_refuses_deploys_before_any_plan() {
    let mut s = State::new(Init {
        read_only: true,
        targets: vec![config("demo-api", "demo")],
        ..Init::local("demo", (160, 48))
    });
    key(&mut s, KeyCode::Char('3'));
    for k in ['d', 'b', 'C', 'u'] {
        key(&mut s, KeyCode::Char(k));
        assert!(s.overlay.is_none(), "{k}");
        assert!(s.flash.as_ref().unwrap().text.contains("read-only"), "{k}");
    }
}

/// Answers the next deploys refresh with `targets`.
fn refresh(s: &mut State, targets: Vec<TargetSnapshot>, at: i64) {
    let request = (at..at + 120)
        .find_map(|t| {
            update(s, Event::Tick, t).iter().find_map(|c| match c {
                Command::ListDeploys { request } => Some(*request),
                _ => None,
            })
        })
        .expect("a deploys refresh");
    update(
        s,
        Event::DeploysListed {
            request,
            result: Ok(Some(targets)),
        },
        at,
    );
}

#[test]
fn a_deploy_that_ends_says_how_in_the_status_bar() {
    let mut s = deploys_state((120, 32));
    // Deploy #7 was running; now it has been rolled back.
    let mut next = targets();
    let last = record(7, "v1", "v2", "rolled_back", 0);
    next[0].view.last = Some(last.clone());
    next[0].view.state = "rolled_back".into();
    next[0].history[0] = last;
    refresh(&mut s, next.clone(), NOW + 1);
    let flash = s.flash.clone().expect("said").text;
    assert_eq!(
        flash,
        "deploy #7 of demo-api (v1 → v2) rolled back: 1 of 3 nodes failed, over the 0% failure budget"
    );
    // The target's line says what was refused and where the nodes are.
    let themes = ThemeSet::load(None).unwrap();
    key(&mut s, KeyCode::Char('z'));
    let screen = text(&draw(&s, themes.get("default").unwrap()));
    assert!(
        screen.contains("↺ rolled back #7 v2, back on v1"),
        "{screen}"
    );
    key(&mut s, KeyCode::Char('z'));
    // Nothing new: nothing said. A deploy that started and ended between two refreshes is.
    s.flash = None;
    refresh(&mut s, next.clone(), NOW + 3);
    assert!(s.flash.is_none(), "{:?}", s.flash);
    next[0].view.last = Some(record(8, "v1", "v2", "succeeded", 0));
    refresh(&mut s, next, NOW + 5);
    assert_eq!(
        s.flash.expect("said").text,
        "deploy #8 of demo-api (v1 → v2) succeeded"
    );
}
