//! The health pane: snapshots of checks grouped by service (with a firing check, a forecast
//! and an unknown one) and of the chart detail.

use crossterm::event::KeyCode;
use flightdeck::app::{Event, Init, State, update};
use flightdeck::domain::{Check, CheckStatus, Forecast};
use flightdeck::theme::ThemeSet;

use super::{NOW, draw, key, text};

fn check(name: &str, service: &str, status: CheckStatus, value: Option<f64>) -> Check {
    Check {
        check: name.into(),
        service: service.into(),
        status,
        value,
        unit: Some("ms".into()),
        forecast: None,
        since: Some(NOW - 300),
        firing: false,
        detail: String::new(),
        warn: Some(250.0),
        crit: Some(1000.0),
        series: (0..30)
            .map(|i| (NOW - 150 + i * 5, 2.0 + (i % 5) as f64))
            .collect(),
        updated: NOW,
        alert: None,
        remedy: None,
        insecure: false,
    }
}

fn checks() -> Vec<Check> {
    let mut down = check("healthz · demo-api-2", "demo-api", CheckStatus::Crit, None);
    down.firing = true;
    down.since = Some(NOW - 45);
    down.detail = "127.0.0.1:41234: Connection refused (os error 111)".into();
    let mut queue = check(
        "queue depth · demo-api-1",
        "demo-api",
        CheckStatus::Warn,
        Some(214.0),
    );
    queue.unit = Some("jobs".into());
    queue.warn = Some(600.0);
    queue.crit = Some(900.0);
    queue.series = (0..60)
        .map(|i| (NOW - 300 + i * 5, 139.0 + i as f64 * 1.25))
        .collect();
    queue.forecast = Some(Forecast {
        method: "linear".into(),
        threshold: 900.0,
        seconds: 2744.0,
        slope: 0.25,
    });
    queue.detail = "forecast: 900 jobs in ~46 min".into();
    let mut unknown = check("p99 latency", "payments", CheckStatus::Unknown, None);
    unknown.detail = "HTTP 503: no healthy upstream".into();
    unknown.series.clear();
    let mut cpu = check("cpu", "this host", CheckStatus::Ok, Some(3.2));
    cpu.unit = Some("%".into());
    let mut insecure = check("checkout", "payments", CheckStatus::Ok, Some(41.0));
    insecure.insecure = true;
    insecure.detail = "HTTP 200 in 41 ms".into();
    vec![
        check(
            "healthz · demo-api-1",
            "demo-api",
            CheckStatus::Ok,
            Some(2.1),
        ),
        down,
        queue,
        unknown,
        insecure,
        cpu,
    ]
}

fn health_state(size: (u16, u16)) -> State {
    let mut s = State::new(Init {
        health: true,
        ..Init::local("demo", size)
    });
    update(&mut s, Event::Tick, NOW - 100);
    update(
        &mut s,
        Event::HealthChecked {
            checks: checks(),
            outbox_error: None,
        },
        NOW,
    );
    key(&mut s, KeyCode::Char('4'));
    s.flash = None;
    s
}

type Scenario = (&'static str, fn(&mut State));

#[test]
fn snapshots_of_the_health_pane() {
    let themes = ThemeSet::load(None).unwrap();
    let scenarios: Vec<Scenario> = vec![
        ("health_checks", |_| {}),
        ("health_chart_forecast", |s| {
            key(s, KeyCode::Char('j'));
            key(s, KeyCode::Char('j'));
            key(s, KeyCode::Enter);
        }),
        ("health_chart_down", |s| {
            key(s, KeyCode::Char('j'));
            key(s, KeyCode::Enter);
        }),
    ];
    let theme = themes.get("default").unwrap();
    for size in [(80u16, 24u16), (160, 48)] {
        for (name, setup) in &scenarios {
            let mut s = health_state(size);
            setup(&mut s);
            let buf = draw(&s, theme);
            let snap = format!("{}x{}_{}", size.0, size.1, name);
            insta::assert_snapshot!(snap, text(&buf));
        }
    }
}

/// The selection follows its check when the list changes under it, and Esc closes the chart.
#[test]
fn selection_survives_a_refresh_and_esc_backs_out() {
    let mut s = health_state((160, 48));
    key(&mut s, KeyCode::Char('j'));
    key(&mut s, KeyCode::Char('j'));
    assert_eq!(
        s.health.selected_check().unwrap().check,
        "queue depth · demo-api-1"
    );
    let mut fewer = checks();
    fewer.remove(0);
    update(
        &mut s,
        Event::HealthChecked {
            checks: fewer,
            outbox_error: Some("read-only mode: create_item refused".into()),
        },
        NOW,
    );
    assert_eq!(
        s.health.selected_check().unwrap().check,
        "queue depth · demo-api-1"
    );
    key(&mut s, KeyCode::Enter);
    assert!(s.health.detail);
    let screen = text(&draw(
        &s,
        ThemeSet::load(None).unwrap().get("default").unwrap(),
    ));
    assert!(screen.contains("incident loop waiting"), "{screen}");
    key(&mut s, KeyCode::Esc);
    assert!(!s.health.detail);
}
