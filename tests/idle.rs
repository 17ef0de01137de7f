//! L1 and L4 in a real terminal: an idle cockpit writes almost nothing, a selection move
//! sends one small update, frames arrive whole (synchronized updates) and never as a full
//! clear, and over its run its memory, threads and file descriptors stay level.

mod common;

use std::time::{Duration, Instant};

use common::fleet::Fleet;
use common::{Cockpit, Sandbox};

fn sample(pid: i32) -> (u64, usize, usize) {
    common::usage(&pid.to_string())
}

fn bytes(c: &Cockpit) -> usize {
    c.raw.lock().unwrap().len()
}

/// Bytes written from `from` on.
fn since(c: &Cockpit, from: usize) -> String {
    String::from_utf8_lossy(&c.raw.lock().unwrap()[from..]).into_owned()
}

/// Waits until the output has been quiet for `quiet`, at most `secs`.
fn settle(c: &Cockpit, quiet: Duration, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut last = (bytes(c), Instant::now());
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        let n = bytes(c);
        if n != last.0 {
            last = (n, Instant::now());
        } else if last.1.elapsed() >= quiet {
            return;
        }
    }
}

#[test]
fn a_workspace_with_nothing_changing_writes_nothing_while_idle() {
    let sb = Sandbox::new();
    let cfg = sb.path().join("quiet.toml");
    std::fs::write(&cfg, "workspace = \"quiet\"\n").unwrap();
    let c = Cockpit::start(&sb, &["--config", cfg.to_str().unwrap()], &[], 120, 40);
    c.wait_for("Backlog", 10);
    settle(&c, Duration::from_millis(500), 10);
    let start = bytes(&c);
    std::thread::sleep(Duration::from_secs(10));
    let idle = since(&c, start);
    assert!(
        idle.len() <= 200,
        "{} bytes in 10 s with nothing changing: {idle:?}",
        idle.len()
    );
}

/// The lowest of five samples a fifth of a second apart: a blocking-pool thread or a socket
/// that comes and goes does not count as growth.
fn steady(pid: i32) -> (u64, usize, usize) {
    let all: Vec<_> = (0..5)
        .map(|_| {
            std::thread::sleep(Duration::from_millis(200));
            sample(pid)
        })
        .collect();
    (
        all.iter().map(|s| s.0).min().unwrap(),
        all.iter().map(|s| s.1).min().unwrap(),
        all.iter().map(|s| s.2).min().unwrap(),
    )
}

#[test]
fn the_demo_idles_quietly_moves_cheaply_and_stays_level() {
    let sb = Sandbox::new();
    let _fleet = Fleet {
        sb: &sb,
        args: vec!["demo", "--stop"],
    };
    // Deploy v1 first, so the health checks probe and scrape real nodes over loopback.
    let (code, out, err) = sb.run(&["deploy", "demo-api", "v1", "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    let mut c = Cockpit::start(&sb, &[], &[], 120, 40);
    c.wait_for("Welcome to flightdeck", 10);
    c.wait_for("✓ ok", 15);
    let pid = c.app_pid();
    settle(&c, Duration::from_millis(300), 5);
    let warm = steady(pid);
    settle(&c, Duration::from_millis(300), 5);
    let (first_frame, t0) = (bytes(&c), Instant::now());

    // L4: idle output with live health, and no full clear outside a resize.
    std::thread::sleep(Duration::from_secs(20));
    settle(&c, Duration::from_millis(300), 5);
    let idle = since(&c, first_frame);
    let rate = idle.len() as f64 / t0.elapsed().as_secs_f64();
    assert!(rate < 200.0, "{rate:.0} B/s idle on the demo");
    assert!(!idle.contains("\x1b[2J"), "a full clear while idle");
    // Every byte drawn is inside one synchronized update.
    let frames = idle.matches("\x1b[?2026h").count();
    assert!(frames > 0, "live health redrew nothing in 20 s");
    assert_eq!(frames, idle.matches("\x1b[?2026l").count());
    assert!(
        idle.starts_with("\x1b[?2026h") && idle.ends_with("\x1b[?2026l"),
        "{idle:?}"
    );

    // L4: a selection move is one small frame.
    let mut moves = Vec::new();
    for key in ["j", "k", "j", "k", "j", "k"] {
        settle(&c, Duration::from_millis(150), 3);
        let before = bytes(&c);
        c.send_now(key);
        let until = Instant::now() + Duration::from_secs(3);
        while !since(&c, before).contains("\x1b[?2026l") {
            assert!(Instant::now() < until, "no frame after {key}");
            std::thread::sleep(Duration::from_millis(10));
        }
        settle(&c, Duration::from_millis(100), 3);
        let out = since(&c, before);
        assert!(out.starts_with("\x1b[?2026h"), "{out:?}");
        moves.push(out.len());
    }
    moves.sort_unstable();
    let median = moves[moves.len() / 2];
    assert!(
        median < 1024,
        "a selection move wrote {median} bytes: {moves:?}"
    );

    // L1: after a while of probing, scraping, refreshing and drawing, nothing has crept up.
    std::thread::sleep(Duration::from_secs(10));
    let later = steady(pid);
    assert!(
        later.0 < warm.0 + 4 * 1024,
        "RSS grew from {} KiB to {} KiB",
        warm.0,
        later.0
    );
    // tokio's blocking pool starts threads on demand and ends them after 10 s idle, so a few
    // come and go; a leak grows without bound (the compressed day in tests/soak.rs checks that).
    assert!(later.1 <= warm.1 + 4, "threads {} → {}", warm.1, later.1);
    assert!(later.2 <= warm.2 + 2, "fds {} → {}", warm.2, later.2);
    eprintln!(
        "idle {rate:.0} B/s; move median {median} B; rss {} → {} KiB; threads {} → {}; fds {} → {}",
        warm.0, later.0, warm.1, later.1, warm.2, later.2
    );
}
