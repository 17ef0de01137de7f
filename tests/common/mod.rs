//! Shared helpers for integration tests: the real binary in a real pseudo-terminal.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, MasterPty, PtySize, native_pty_system};

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_flightdeck")
}

/// A scratch home and state dir, so no user config or state is touched.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// Runs a headless command and returns (exit code, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = std::process::Command::new(bin())
            .args(args)
            .current_dir(self.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.path())
            .env("FLIGHTDECK_STATE_DIR", self.state())
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// `status --json` parsed.
    pub fn status(&self, extra: &[&str]) -> serde_json::Value {
        let mut args = extra.to_vec();
        args.extend(["status", "--json"]);
        let (code, out, err) = self.run(&args);
        assert_eq!(code, 0, "status failed: {err}");
        serde_json::from_str(&out).unwrap()
    }
}

/// The cockpit running in a pseudo-terminal, wrapped in `sh` so the terminal settings can be
/// compared before and after.
pub struct Cockpit {
    master: Option<Box<dyn MasterPty + Send>>,
    writer: Option<Box<dyn Write + Send>>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
    pub raw: Arc<Mutex<Vec<u8>>>,
    pub parser: Arc<Mutex<vt100::Parser>>,
    dir: PathBuf,
}

impl Cockpit {
    /// Starts `flightdeck ARGS` at `cols`×`rows` in the sandbox, with extra env vars.
    pub fn start(sb: &Sandbox, args: &[&str], env: &[(&str, &str)], cols: u16, rows: u16) -> Cockpit {
        let pty = native_pty_system();
        let pair = pty
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let run_dir = tempfile::tempdir_in(sb.path()).unwrap().keep();
        let script = "stty -g > \"$D/stty.before\"; \"$BIN\" \"$@\"; echo $? > \"$D/exit\"; stty -g > \"$D/stty.after\"; sleep 30";
        let mut cmd = CommandBuilder::new("sh");
        cmd.args(["-c", script, "sh"]);
        cmd.args(args);
        cmd.cwd(sb.path());
        cmd.env_clear();
        cmd.env("PATH", std::env::var("PATH").unwrap_or_default());
        cmd.env("HOME", sb.path());
        cmd.env("TERM", "xterm-256color");
        cmd.env("FLIGHTDECK_STATE_DIR", sb.state());
        cmd.env("BIN", bin());
        cmd.env("D", &run_dir);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = pair.slave.spawn_command(cmd).unwrap();
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().unwrap();
        let writer = pair.master.take_writer().unwrap();
        let raw = Arc::new(Mutex::new(Vec::new()));
        let parser = Arc::new(Mutex::new(vt100::Parser::new(rows.try_into().unwrap(), cols.try_into().unwrap(), 0)));
        let (r2, p2) = (Arc::clone(&raw), Arc::clone(&parser));
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                r2.lock().unwrap().extend_from_slice(&buf[..n]);
                p2.lock().unwrap().process(&buf[..n]);
            }
        });
        Cockpit {
            master: Some(pair.master),
            writer: Some(writer),
            child,
            raw,
            parser,
            dir: run_dir,
        }
    }

    /// The screen as text.
    pub fn screen(&self) -> String {
        self.parser.lock().unwrap().screen().contents()
    }

    /// Waits until the screen contains `text`; panics with the screen after `secs`.
    pub fn wait_for(&self, text: &str, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if self.screen().contains(text) {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("{text:?} not on screen after {secs}s:\n{}", self.screen());
    }

    /// Types bytes into the terminal.
    pub fn send(&mut self, bytes: &str) {
        let w = self.writer.as_mut().expect("terminal open");
        w.write_all(bytes.as_bytes()).unwrap();
        w.flush().unwrap();
        std::thread::sleep(Duration::from_millis(60));
    }

    /// The pid of flightdeck itself (the child of the `sh` wrapper).
    pub fn app_pid(&self) -> i32 {
        let sh = self.child.process_id().unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let children = std::fs::read_to_string(format!("/proc/{sh}/task/{sh}/children")).unwrap_or_default();
            if let Some(pid) = children.split_whitespace().next() {
                return pid.parse().unwrap();
            }
            assert!(Instant::now() < deadline, "flightdeck did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for flightdeck to exit and returns its exit code (from the wrapper).
    pub fn wait_exit(&self, secs: u64) -> i32 {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let f = self.dir.join("stty.after");
        while Instant::now() < deadline {
            if f.exists() && std::fs::metadata(&f).unwrap().len() > 0 {
                let code = std::fs::read_to_string(self.dir.join("exit")).unwrap();
                return code.trim().parse().unwrap();
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("flightdeck did not exit within {secs}s:\n{}", self.screen());
    }

    /// Asserts the terminal was left as it was found: same stty settings, alternate screen
    /// left, cursor shown, bracketed paste and mouse off after the last frame.
    pub fn assert_restored(&self) {
        let before = std::fs::read_to_string(self.dir.join("stty.before")).unwrap();
        let after = std::fs::read_to_string(self.dir.join("stty.after")).unwrap();
        assert_eq!(before, after, "stty settings changed");
        let raw = self.raw.lock().unwrap();
        let text = String::from_utf8_lossy(&raw);
        let last_enter = text.rfind("\x1b[?1049h").expect("alternate screen was entered");
        let tail = &text[last_enter..];
        for (seq, what) in [
            ("\x1b[?1049l", "alternate screen left"),
            ("\x1b[?25h", "cursor shown"),
            ("\x1b[?2004l", "bracketed paste off"),
        ] {
            assert!(tail.contains(seq), "{what}: {seq:?} missing after the last frame");
        }
        let parser = self.parser.lock().unwrap();
        assert!(!parser.screen().alternate_screen(), "still on the alternate screen");
        assert!(!parser.screen().hide_cursor(), "cursor still hidden");
    }

    /// Closes the terminal (as a dropped SSH connection does).
    pub fn hang_up(&mut self) {
        self.writer.take();
        self.master.take();
    }
}

impl Drop for Cockpit {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// Whether a process exists (and is not a zombie).
pub fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.split_whitespace().nth(2).is_some_and(|st| st == "Z"))
        .unwrap_or(false)
}

/// CPU ticks (utime + stime) a process has used.
pub fn cpu_ticks(pid: i32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = s.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0) + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
}
