//! L1, compressed: a day of health rounds run back to back, each round as if its interval had
//! passed. Every round probes a loopback HTTP service, scrapes its metrics and reads this host,
//! writes verdicts to the store, and goes through the app's `update`; every tenth round is
//! drawn. Memory, threads, file descriptors and the store stay level. (The loop's own clock
//! cannot be paused: the monitor schedules on real instants. Time-based pruning, a day old,
//! is therefore not reached here.)

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use flightdeck::app::{Event, Init, State, update};
use flightdeck::config::CheckConfig;
use flightdeck::engine::health::{Monitor, spec};
use flightdeck::theme::ThemeSet;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

/// A loopback service answering `/healthz` and a Prometheus `/metrics` whose value moves.
fn service() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for (n, conn) in l.incoming().enumerate() {
            let Ok(mut s) = conn else { continue };
            let mut buf = [0u8; 2048];
            let mut got = Vec::new();
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(k) => got.extend_from_slice(&buf[..k]),
                }
            }
            let body = if got.starts_with(b"GET /metrics") {
                format!("# TYPE jobs gauge\njobs {}\n", n % 97)
            } else {
                "ok\n".to_string()
            };
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

fn checks(port: u16) -> Vec<CheckConfig> {
    let text = format!(
        r#"
[[checks]]
name = "healthz"
kind = "http"
url = "http://127.0.0.1:{port}/healthz"
warn = 250.0
crit = 1000.0
[[checks]]
name = "jobs"
kind = "metrics"
url = "http://127.0.0.1:{port}/metrics"
series = "jobs"
warn = 60.0
crit = 90.0
forecast = "holt"
[[checks]]
name = "cpu"
kind = "host"
metric = "cpu"
warn = 85.0
crit = 95.0
[[checks]]
name = "memory"
kind = "host"
metric = "memory"
warn = 90.0
crit = 97.0
forecast = "linear"
"#
    );
    #[derive(serde::Deserialize)]
    struct File {
        checks: Vec<CheckConfig>,
    }
    toml::from_str::<File>(&text).unwrap().checks
}

/// The store's bytes on disk: the database and its write-ahead log.
fn store_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.metadata().map_or(0, |m| m.len()))
        .sum()
}

#[test]
fn a_compressed_day_of_health_rounds_stays_level() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let port = service();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let specs = spec::build(&checks(port), &Default::default(), &[], &[]);
    let mut monitor = rt
        .block_on(async { Monitor::new(specs, &db, false, true) })
        .unwrap();
    let mut state = State::new(Init {
        health: true,
        ..Init::local("soak", (160, 48))
    });
    let themes = ThemeSet::load(None).unwrap();
    let theme = themes.get("default").unwrap().clone();
    let mut term = Terminal::new(TestBackend::new(160, 48)).unwrap();

    // A day of 11 s rounds. The first 2,000 warm up: the series fill to their cap and the
    // store's write-ahead log to its checkpoint size (4 MiB), where both stay.
    let rounds = 8_000;
    let mut level = None;
    for round in 0..rounds {
        monitor.all_due();
        rt.block_on(monitor.round()).unwrap();
        update(
            &mut state,
            Event::HealthChecked {
                checks: monitor.checks(),
                outbox_error: None,
            },
            flightdeck::domain::now(),
        );
        if round % 10 == 0 {
            term.draw(|f| flightdeck::ui::render(f, &state, &theme, flightdeck::domain::now()))
                .unwrap();
        }
        if round == 2_000 {
            level = Some((common::usage("self"), store_bytes(dir.path())));
        }
    }
    let ((rss0, threads0, fds0), db0) = level.unwrap();
    let (rss, threads, fds) = common::usage("self");
    let db_now = store_bytes(dir.path());
    eprintln!(
        "{rounds} rounds: rss {rss0} → {rss} KiB, threads {threads0} → {threads}, fds {fds0} → {fds}, store {db0} → {db_now} bytes"
    );
    assert!(rss < rss0 + 1024, "RSS grew from {rss0} KiB to {rss} KiB");
    assert!(threads <= threads0 + 1, "threads {threads0} → {threads}");
    assert!(fds <= fds0 + 2, "fds {fds0} → {fds}");
    assert!(
        db_now <= db0 + 64 * 1024,
        "the store grew from {db0} to {db_now} bytes"
    );
    let longest = monitor.checks().iter().map(|c| c.series.len()).max();
    assert!(
        longest.is_some_and(|n| n < rounds / 2),
        "series are capped: {longest:?}"
    );
    rt.shutdown_timeout(Duration::from_secs(1));
}
