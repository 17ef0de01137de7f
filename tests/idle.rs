//! L1 and L4 in a real terminal: an idle cockpit writes almost nothing, a selection move
//! sends one small update, frames arrive whole (synchronized updates) and never as a full
//! clear, and over its run its memory, threads and file descriptors stay level.

mod common;

use std::time::{Duration, Instant};

use common::fleet::Fleet;
use common::{Cockpit, Sandbox};

/// What /proc says about a process: resident KiB, threads, open file descriptors.
fn sample(pid: i32) -> (u64, usize, usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count();
    (field("VmRSS:"), field("Threads:") as usize, fds)
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

#[test]
fn the_demo_idles_quietly_moves_cheaply_and_stays_level() {
    let sb = Sandbox::new();
    let _fleet = Fleet {
        sb: &sb,
        args: vec!["demo", "--stop"],
    };
    let mut c = Cockpit::start(&sb, &[], &[], 120, 40);
    c.wait_for("Welcome to flightdeck", 10);
    let pid = c.app_pid();
    // The fleet starts and the first health samples arrive.
    std::thread::sleep(Duration::from_secs(5));
    settle(&c, Duration::from_millis(300), 5);
    let first_frame = bytes(&c);
    let warm = sample(pid);

    // L4: idle output with live health, and no full clear outside a resize.
    let window = 20;
    std::thread::sleep(Duration::from_secs(window));
    let idle = since(&c, first_frame);
    let rate = idle.len() as u64 / window;
    assert!(rate < 200, "{rate} B/s idle on the demo");
    assert!(!idle.contains("\x1b[2J"), "a full clear while idle");
    let (open, close) = (
        idle.matches("\x1b[?2026h").count(),
        idle.matches("\x1b[?2026l").count(),
    );
    assert_eq!(open, close, "every frame is one synchronized update");

    // L4: a selection move is one small update.
    let mut moves = Vec::new();
    for key in ["j", "k", "j", "k", "j", "k"] {
        settle(&c, Duration::from_millis(150), 3);
        let before = bytes(&c);
        c.send_now(key);
        std::thread::sleep(Duration::from_millis(250));
        let out = since(&c, before);
        assert!(
            out.starts_with("\x1b[?2026h"),
            "a move arrives as one frame: {out:?}"
        );
        moves.push(out.len());
    }
    moves.sort_unstable();
    let median = moves[moves.len() / 2];
    assert!(
        median < 1024,
        "a selection move wrote {median} bytes: {moves:?}"
    );

    // L1: after a while of polling, probing and drawing, nothing has crept up.
    std::thread::sleep(Duration::from_secs(10));
    let later = sample(pid);
    assert!(
        later.0 < warm.0 + 4 * 1024,
        "RSS grew from {} KiB to {} KiB",
        warm.0,
        later.0
    );
    assert!(later.1 <= warm.1 + 2, "threads {} → {}", warm.1, later.1);
    assert!(later.2 <= warm.2 + 2, "fds {} → {}", warm.2, later.2);
    eprintln!(
        "idle {rate} B/s; move median {median} B; rss {} → {} KiB; threads {} → {}; fds {} → {}",
        warm.0, later.0, warm.1, later.1, warm.2, later.2
    );
}
