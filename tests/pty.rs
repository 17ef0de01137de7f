//! End to end in a real pseudo-terminal: the real binary, a temp state dir, keys typed.

mod common;

use std::time::{Duration, Instant};

use common::{Cockpit, Sandbox, alive, cpu_ticks};

fn backlog_titles(sb: &Sandbox) -> Vec<String> {
    sb.status(&[])["backlog"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn create_an_item_through_the_ui_then_quit_restores_the_terminal() {
    let sb = Sandbox::new();
    let mut c = Cockpit::start(&sb, &[], &[], 160, 48);
    c.wait_for("Welcome to flightdeck", 10);
    c.wait_for("built-in demo", 2);
    c.wait_for("this host", 5);
    c.send("n");
    c.wait_for("New item", 3);
    c.send("Typed in a real terminal");
    c.send("\t\t");
    c.send("pty, e2e");
    c.send("\t");
    c.send("first line\rsecond line");
    c.send("\x13"); // ctrl-s
    c.wait_for("created #6", 5);
    c.wait_for("Typed in a real terminal", 5);
    c.send("q");
    assert_eq!(c.wait_exit(5), 0);
    c.assert_restored();
    let status = sb.status(&[]);
    let item = status["backlog"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["title"] == "Typed in a real terminal")
        .expect("the item persisted")
        .clone();
    assert_eq!(item["labels"], serde_json::json!(["e2e", "pty"]));
    assert_eq!(item["kind"], "issue");
    // Every mutation is audited and the chain verifies.
    let (code, out, _) = sb.run(&["audit", "verify"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("2 records"), "{out}");
}

#[test]
fn signals_restore_the_terminal() {
    for sig in [libc_sig::TERM, libc_sig::INT, libc_sig::HUP, libc_sig::QUIT] {
        let sb = Sandbox::new();
        let c = Cockpit::start(&sb, &[], &[], 80, 24);
        c.wait_for("Welcome to flightdeck", 10);
        let pid = c.app_pid();
        std::process::Command::new("kill")
            .args([&format!("-{sig}"), &pid.to_string()])
            .status()
            .unwrap();
        c.wait_exit(5);
        c.assert_restored();
    }
}

/// Signal names for `kill`.
mod libc_sig {
    pub const TERM: &str = "TERM";
    pub const INT: &str = "INT";
    pub const HUP: &str = "HUP";
    pub const QUIT: &str = "QUIT";
}

#[test]
fn ctrl_z_suspends_and_fg_resumes() {
    let sb = Sandbox::new();
    // A job-control shell, as at a prompt: flightdeck runs as its own foreground job.
    let script = "stty -g > \"$D/stty.before\"; set -m; \"$BIN\"; echo $? > \"$D/stopped\"; fg; echo $? > \"$D/exit\"; stty -g > \"$D/stty.after\"; sleep 30";
    let mut c = Cockpit::start_script(&sb, script, &[], &[], 80, 24);
    c.wait_for("Welcome to flightdeck", 10);
    c.send("\x1a"); // ctrl-z
    let stopped = c.dir().join("stopped");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !stopped.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let code = std::fs::read_to_string(&stopped).expect("the job stopped");
    assert_eq!(code.trim(), "148", "stopped by SIGTSTP");
    // `fg` brings it back: the cockpit redraws and still answers keys.
    c.wait_for("Welcome to flightdeck", 5);
    c.send("2");
    c.wait_for("▸2 Builds", 3);
    c.send("q");
    assert_eq!(c.wait_exit(5), 0);
    c.assert_restored();
}

#[test]
fn a_closed_terminal_ends_the_process_without_spinning() {
    let sb = Sandbox::new();
    let mut c = Cockpit::start(&sb, &[], &[], 80, 24);
    c.wait_for("Welcome to flightdeck", 10);
    let pid = c.app_pid();
    let ticks = cpu_ticks(pid);
    c.hang_up();
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!alive(pid), "still running 5 s after the terminal closed");
    // A spinning process would burn 500 ticks in 5 s; allow for shutdown work.
    assert!(cpu_ticks(pid).saturating_sub(ticks) < 100);
    // R4: a closed terminal is not a crash.
    let crashes: Vec<_> = std::fs::read_dir(sb.state())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("crash-"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect();
    assert!(crashes.is_empty(), "{crashes:?}");
}

/// R4: a dropped SSH connection still cancels the runs the cockpit started, and the step's
/// process group goes with them.
#[test]
fn a_closed_terminal_cancels_its_runs() {
    let sb = Sandbox::new();
    let cfg = sb.path().join("hang.toml");
    let marker = format!("R4_MARK_{}", std::process::id());
    std::fs::write(
        &cfg,
        format!(
            "workspace = \"hang\"\n[[pipelines]]\nname = \"long\"\nsteps = [{{ name = \"wait\", script = \"sleep 300 # {marker}\" }}]\n"
        ),
    )
    .unwrap();
    let mut c = Cockpit::start(&sb, &["--config", cfg.to_str().unwrap()], &[], 80, 24);
    c.wait_for("No items yet", 10);
    c.send("2");
    c.send("p");
    c.wait_for("Run which pipeline?", 3);
    c.send("\r");
    c.wait_for("● wait 1/1", 10);
    let pid = c.app_pid();
    c.hang_up();
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!alive(pid), "the cockpit ended");
    let v = sb.status(&["--config", cfg.to_str().unwrap()]);
    assert_eq!(v["builds"][0]["status"], "cancelled", "{}", v["builds"]);
    let left: Vec<_> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::read(e.path().join("cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&marker))
        })
        .filter(|e| {
            e.file_name()
                .to_str()
                .and_then(|p| p.parse().ok())
                .is_some_and(alive)
        })
        .collect();
    assert!(left.is_empty(), "the step's processes are gone: {left:?}");
    assert!(
        !std::fs::read_dir(sb.state())
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("crash-")),
        "no crash file"
    );
}

#[test]
fn read_only_refuses_create_edit_and_close() {
    let sb = Sandbox::new();
    let before = backlog_titles(&sb);
    let mut c = Cockpit::start(&sb, &["--read-only"], &[], 100, 30);
    c.wait_for("READ-ONLY", 10);
    c.wait_for("Welcome to flightdeck", 5);
    for key in ["n", "e", "x", "c", "l"] {
        c.send(key);
        c.wait_for("read-only mode", 3);
        assert!(!c.screen().contains("New item"));
    }
    c.send(":close_reopen\r");
    c.wait_for("read-only mode: close_reopen is disabled", 3);
    c.send("q");
    c.wait_exit(5);
    assert_eq!(backlog_titles(&sb), before);
    let (_, out, _) = sb.run(&["audit", "verify"]);
    assert!(out.contains("0 records"), "nothing reached the gate: {out}");
}

#[test]
fn no_color_writes_no_colour_escapes() {
    let sb = Sandbox::new();
    let mut c = Cockpit::start(&sb, &[], &[("NO_COLOR", "1")], 120, 40);
    c.wait_for("Welcome to flightdeck", 10);
    // Without colour, states and kinds still read as text and glyphs.
    let screen = c.screen();
    assert!(
        screen.contains("○ open") && screen.contains("▲ high"),
        "{screen}"
    );
    c.send("j");
    c.send("?");
    c.wait_for("Keys", 3);
    close_overlay(&mut c, "Keys");
    c.send("q");
    c.wait_exit(5);
    let raw = String::from_utf8_lossy(&c.raw.lock().unwrap()).into_owned();
    for n in sgr_params(&raw).into_iter().flatten() {
        let colour = matches!(n, 30..=38 | 40..=48 | 90..=97 | 100..=107);
        assert!(!colour, "colour SGR {n} written with NO_COLOR");
    }
}

/// The parameters of every SGR (`CSI … m`) sequence in `text`.
fn sgr_params(text: &str) -> Vec<Vec<u32>> {
    let mut all = Vec::new();
    for sgr in text.split("\x1b[").skip(1) {
        let Some(end) = sgr.find(|ch: char| !(ch.is_ascii_digit() || ch == ';')) else {
            continue;
        };
        if &sgr[end..end + 1] == "m" {
            all.push(
                sgr[..end]
                    .split(';')
                    .filter(|p| !p.is_empty())
                    .map(|p| p.parse().unwrap())
                    .collect(),
            );
        }
    }
    all
}

/// Presses Esc and waits until `text` (the overlay's) is gone, so the next key is not read
/// together with the Esc as an Alt chord.
fn close_overlay(c: &mut Cockpit, text: &str) {
    c.send("\x1b");
    c.wait_until(&format!("{text:?} still open"), 3, |s| !s.contains(text));
}

#[test]
fn two_cockpits_on_one_store_see_each_others_changes() {
    let sb = Sandbox::new();
    let a = Cockpit::start(&sb, &[], &[], 100, 30);
    a.wait_for("Welcome to flightdeck", 10);
    let mut b = Cockpit::start(&sb, &[], &[], 100, 30);
    b.wait_for("Welcome to flightdeck", 10);
    b.send("n");
    b.send("Filed from the second cockpit");
    b.send("\x13");
    b.wait_for("created #", 5);
    // One refresh is 2 s; allow one more for scheduling.
    a.wait_for("Filed from the second cockpit", 4);
}

#[test]
fn mouse_capture_is_turned_off_on_a_signal() {
    let sb = Sandbox::new();
    let cfg = sb.path().join("mouse.toml");
    std::fs::write(&cfg, "workspace = \"mouse\"\n[ui]\nmouse = true\n").unwrap();
    let c = Cockpit::start(&sb, &["--config", cfg.to_str().unwrap()], &[], 80, 24);
    c.wait_for("Backlog", 10);
    assert!(String::from_utf8_lossy(&c.raw.lock().unwrap()).contains("\x1b[?1000h"));
    let pid = c.app_pid();
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    c.wait_exit(5);
    c.assert_restored();
    let raw = String::from_utf8_lossy(&c.raw.lock().unwrap()).into_owned();
    let on = raw.rfind("\x1b[?1000h").unwrap();
    assert!(raw[on..].contains("\x1b[?1000l"), "mouse capture left on");
}

#[test]
fn every_terminal_type_gets_a_working_cockpit() {
    for term in ["screen", "tmux-256color", "linux", "vt100"] {
        let sb = Sandbox::new();
        let mut c = Cockpit::start(&sb, &[], &[("TERM", term)], 80, 24);
        c.wait_for("Welcome to flightdeck", 10);
        c.send("2");
        c.wait_for("▸2 Builds", 3);
        c.send("?");
        c.wait_for("Keys", 3);
        close_overlay(&mut c, "Keys");
        c.send("q");
        assert_eq!(c.wait_exit(5), 0, "TERM={term}");
        c.assert_restored();
        let raw = String::from_utf8_lossy(&c.raw.lock().unwrap()).into_owned();
        assert!(
            !raw.contains("\x1b[?1000h"),
            "mouse capture is off unless asked for"
        );
        // A 16-colour console gets the ansi16 theme: no RGB colour, no palette index past 15.
        let extended = sgr_params(&raw).iter().any(|p| {
            p.windows(2).any(|w| matches!(w, [38 | 48, 2]))
                || p.windows(3)
                    .any(|w| matches!(w, [38 | 48, 5, n] if *n > 15))
        });
        let sixteen = matches!(term, "linux" | "vt100");
        assert_eq!(extended, !sixteen, "TERM={term}");
    }
    // A terminal that cannot address the cursor is told what to use instead.
    let sb = Sandbox::new();
    let c = Cockpit::start(&sb, &[], &[("TERM", "dumb")], 80, 24);
    assert_eq!(c.wait_exit(5), 2);
    assert!(c.screen().contains("TERM=dumb"), "{}", c.screen());
    assert!(c.screen().contains("flightdeck status"), "{}", c.screen());
}

#[test]
fn a_resize_storm_settles_on_the_last_size() {
    let sb = Sandbox::new();
    let mut c = Cockpit::start(&sb, &[], &[], 120, 40);
    c.wait_for("Welcome to flightdeck", 10);
    let pid = c.app_pid();
    for i in 0..60u16 {
        let (cols, rows) = (40 + (i * 37) % 161, 8 + (i * 13) % 53);
        c.resize(cols, rows);
    }
    c.resize(90, 28);
    std::thread::sleep(Duration::from_millis(500));
    assert!(alive(pid), "the storm killed the cockpit");
    c.send("2");
    c.wait_for("▸2 Builds", 3);
    // The last frame was drawn for 90×28: its right border ends in the last column and
    // the status bar is on the last row.
    let screen = c.screen();
    let p = c.parser.lock().unwrap();
    let corner = p
        .screen()
        .cell(1, 89)
        .map(|c| c.contents())
        .unwrap_or_default();
    assert!(corner == "┐" || corner == "┓", "{corner:?}:\n{screen}");
    let bottom = p.screen().rows(0, 90).nth(27).unwrap();
    assert!(
        bottom.contains("help"),
        "the status bar is on the last row:\n{screen}"
    );
    drop(p);
    c.send("q");
    assert_eq!(c.wait_exit(5), 0);
}

#[test]
fn a_tiny_terminal_says_so() {
    let sb = Sandbox::new();
    let c = Cockpit::start(&sb, &[], &[], 40, 10);
    c.wait_for("terminal too small", 10);
}

#[test]
fn demo_ci_runs_from_the_builds_pane_to_success_with_test_counts() {
    let sb = Sandbox::new();
    let mut c = Cockpit::start(&sb, &[], &[], 160, 48);
    c.wait_for("Welcome to flightdeck", 10);
    c.send("2");
    c.wait_for("No runs yet", 5);
    c.send("p");
    c.wait_for("Run which pipeline?", 3);
    c.send("\r");
    c.wait_for("✓ success", 60);
    c.wait_for("5✓", 5);
    c.send("\r");
    c.wait_for("tests: 5 passed, 0 failed, 0 skipped", 5);
    c.wait_for("release r1 recorded", 5);
    c.send("q");
    assert_eq!(c.wait_exit(10), 0);
    c.assert_restored();
    let v = sb.status(&[]);
    assert_eq!(v["builds"][0]["status"], "success");
    assert_eq!(v["builds"][0]["tests"]["passed"], 5);
    assert_eq!(v["releases"][0]["version"], "r1");
}

#[test]
fn the_ui_answers_keys_while_a_step_floods_its_output() {
    let sb = Sandbox::new();
    let cfg = sb.path().join("flood.toml");
    std::fs::write(
        &cfg,
        "workspace = \"flood\"\n[[pipelines]]\nname = \"flood\"\nsteps = [{ name = \"spew\", script = \"seq 1 3000000; sleep 1; echo finished\" }]\n",
    )
    .unwrap();
    let mut c = Cockpit::start(&sb, &["--config", cfg.to_str().unwrap()], &[], 100, 30);
    c.wait_for("No items yet", 10);
    c.send("2");
    c.send("p");
    c.wait_for("Run which pipeline?", 3);
    c.send("\r");
    c.wait_for("● spew 1/1", 10);
    // While the step floods its pipe, keys still get answers at once.
    for (key, want) in [
        ("1", "▸1 Backlog"),
        ("2", "▸2 Builds"),
        ("?", "Keys"),
        ("\x1b", "▸2 Builds"),
    ] {
        let t = Instant::now();
        c.send(key);
        c.wait_for(want, 2);
        assert!(t.elapsed() < Duration::from_secs(2));
    }
    c.wait_for("✓ success", 60);
    c.send("\r");
    c.wait_for("finished", 5);
    c.send("q");
    assert_eq!(c.wait_exit(10), 0);
    let log = std::fs::read_to_string(sb.state().join("flood/runs/run-1.log")).unwrap();
    assert!(log.contains("\n3000000\n"), "the full log is on disk");
}
