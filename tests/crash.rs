//! F3: a panic in render or in a task restores the terminal before its message prints and
//! leaves a private crash file that holds no secret. The panicking program is this test
//! binary itself, run again in a real pseudo-terminal with the cockpit's own terminal set-up
//! and panic hook, so the shipped binary needs no way to be made to panic.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

use common::{Cockpit, Sandbox};
use ratatui::widgets::Paragraph;

const CANARY: &str = "ghp_crashcanary0123456789abcdefABCDEF";

/// Runs only when started by the test below: sets the terminal up as the cockpit does,
/// draws, then panics where `FD_PANIC_IN` says.
#[test]
#[ignore = "started by panics_restore_the_terminal_and_leave_a_crash_file_without_secrets"]
fn panicking_child() {
    let Ok(place) = std::env::var("FD_PANIC_IN") else {
        return;
    };
    let dir = PathBuf::from(std::env::var("FD_CRASH_DIR").unwrap());
    flightdeck::terminal::install_panic_hook(dir);
    let mut term = flightdeck::terminal::init(false).unwrap();
    term.draw(|f| f.render_widget(Paragraph::new("drawn before the panic"), f.area()))
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    match place.as_str() {
        "render" => {
            let _ = term.draw(|_| panic!("render failed on purpose"));
        }
        _ => {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async {
                let _ = tokio::spawn(async { panic!("a task failed on purpose") }).await;
            });
        }
    }
    // The hook exits the process; reaching this line is a failure the parent sees.
    std::thread::sleep(Duration::from_secs(10));
}

#[test]
fn panics_restore_the_terminal_and_leave_a_crash_file_without_secrets() {
    let me = std::env::current_exe().unwrap();
    for (place, message) in [
        ("render", "render failed on purpose"),
        ("task", "a task failed on purpose"),
    ] {
        let sb = Sandbox::new();
        let crash_dir = sb.path().join("crash");
        std::fs::create_dir(&crash_dir).unwrap();
        let c = Cockpit::start(
            &sb,
            &["panicking_child", "--exact", "--ignored", "--nocapture"],
            &[
                ("BIN", me.to_str().unwrap()),
                ("FD_PANIC_IN", place),
                ("FD_CRASH_DIR", crash_dir.to_str().unwrap()),
                ("GH_TOKEN", CANARY),
            ],
            80,
            24,
        );
        assert_eq!(c.wait_exit(30), 101, "{place}: the hook exits with 101");
        c.assert_restored();

        // The message comes after the alternate screen is left, so it stays readable.
        let raw = String::from_utf8_lossy(&c.raw.lock().unwrap()).into_owned();
        let drawn = raw.find("drawn").expect("a frame was drawn");
        let left = raw.rfind("\x1b[?1049l").expect("alternate screen left");
        assert!(drawn < left);
        let said = raw
            .find(message)
            .unwrap_or_else(|| panic!("{place}: no panic message in {raw:?}"));
        assert!(
            left < said,
            "{place}: message printed before the terminal was restored"
        );
        assert!(raw.contains("crash report written to"), "{place}: {raw}");
        assert!(c.screen().contains(message), "{place}:\n{}", c.screen());

        let files: Vec<_> = std::fs::read_dir(&crash_dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(files.len(), 1, "{place}: one crash file: {files:?}");
        let report = std::fs::read_to_string(&files[0]).unwrap();
        assert!(report.contains(message), "{place}: {report}");
        let version = format!("flightdeck {} panicked", env!("CARGO_PKG_VERSION"));
        assert!(report.contains(&version), "{place}: {report}");
        assert!(
            !report.contains(CANARY),
            "{place}: the token is in the crash file"
        );
        assert!(
            !raw.contains(CANARY),
            "{place}: the token reached the terminal"
        );
        let mode = std::fs::metadata(&files[0]).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{place}: crash file mode {mode:o}");
    }
}
