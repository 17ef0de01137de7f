//! Shared helpers for integration tests: the real binary in a real pseudo-terminal.
#![allow(dead_code)]

pub mod fleet;
pub mod tls;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use std::fs::File;

use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::pty::{Winsize, openpty};

/// The incidents of a `status --json` backlog that the incident loop filed (not the demo's seed).
pub fn filed_incidents(s: &serde_json::Value) -> Vec<serde_json::Value> {
    s["backlog"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "incident" && i["author"] != "flightdeck-demo")
        .cloned()
        .collect()
}

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
        // Configs written here must not be group-writable, or flightdeck refuses them,
        // whatever umask the tests were started with.
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
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
        self.run_env(args, &[])
    }

    /// Runs a headless command with extra environment variables.
    pub fn run_env(&self, args: &[&str], envs: &[(&str, &str)]) -> (i32, String, String) {
        let out = std::process::Command::new(bin())
            .args(args)
            .current_dir(self.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.path())
            .env("FLIGHTDECK_STATE_DIR", self.state())
            .envs(envs.iter().copied())
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

/// A headless `flightdeck ARGS watch` in the sandbox (its output in a log file there),
/// killed when dropped.
pub struct Watch(std::process::Child);

impl Watch {
    pub fn start(sb: &Sandbox, args: &[&str]) -> Watch {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let log = std::fs::File::create(sb.path().join(format!("watch-{n}.log"))).unwrap();
        Watch(
            std::process::Command::new(bin())
                .args(args)
                .arg("watch")
                .current_dir(sb.path())
                .env_clear()
                .env("PATH", std::env::var("PATH").unwrap_or_default())
                .env("HOME", sb.path())
                .env("FLIGHTDECK_STATE_DIR", sb.state())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .stdin(std::process::Stdio::null())
                .spawn()
                .unwrap(),
        )
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The cockpit running in a pseudo-terminal, wrapped in `sh` so the terminal settings can be
/// compared before and after. The test holds the only handle on the pty master, so dropping it
/// hangs the terminal up exactly as a dropped SSH connection does.
pub struct Cockpit {
    master: Arc<Mutex<Option<File>>>,
    child: std::process::Child,
    pub raw: Arc<Mutex<Vec<u8>>>,
    pub parser: Arc<Mutex<vt100::Parser>>,
    dir: PathBuf,
}

impl Cockpit {
    /// Starts `flightdeck ARGS` at `cols`×`rows` in the sandbox, with extra env vars.
    pub fn start(
        sb: &Sandbox,
        args: &[&str],
        env: &[(&str, &str)],
        cols: u16,
        rows: u16,
    ) -> Cockpit {
        let script = "stty -g > \"$D/stty.before\"; \"$BIN\" \"$@\"; echo $? > \"$D/exit\"; stty -g > \"$D/stty.after\"; sleep 30";
        Cockpit::start_script(sb, script, args, env, cols, rows)
    }

    /// Starts `sh -c SCRIPT sh ARGS` in the pty; the script sees `$BIN` (flightdeck) and `$D`
    /// (a directory for its files), and must write `$D/exit` and `$D/stty.after` at the end.
    pub fn start_script(
        sb: &Sandbox,
        script: &str,
        args: &[&str],
        env: &[(&str, &str)],
        cols: u16,
        rows: u16,
    ) -> Cockpit {
        let size = Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = openpty(Some(&size), None).unwrap();
        let master = File::from(pty.master);
        let flags = OFlag::from_bits_truncate(fcntl(&master, FcntlArg::F_GETFL).unwrap());
        fcntl(&master, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK)).unwrap();
        // The child must not inherit the master, or closing ours would not hang up.
        fcntl(&master, FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC)).unwrap();
        let run_dir = tempfile::tempdir_in(sb.path()).unwrap().keep();
        let slave = File::from(pty.slave);
        let mut cmd = std::process::Command::new("setsid");
        cmd.args(["--ctty", "sh", "-c", script, "sh"])
            .args(args)
            .current_dir(sb.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", sb.path())
            .env("TERM", "xterm-256color")
            .env("FLIGHTDECK_STATE_DIR", sb.state())
            .env("BIN", bin())
            .env("D", &run_dir)
            .stdin(slave.try_clone().unwrap())
            .stdout(slave.try_clone().unwrap())
            .stderr(slave);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().unwrap();
        let master = Arc::new(Mutex::new(Some(master)));
        let raw = Arc::new(Mutex::new(Vec::new()));
        let parser = Arc::new(Mutex::new(vt100::Parser::new(
            rows.try_into().unwrap(),
            cols.try_into().unwrap(),
            0,
        )));
        let (m2, r2, p2) = (Arc::clone(&master), Arc::clone(&raw), Arc::clone(&parser));
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                let n = {
                    let mut guard = m2.lock().unwrap();
                    let Some(f) = guard.as_mut() else { return };
                    match f.read(&mut buf) {
                        Ok(0) => return,
                        Ok(n) => n,
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => 0,
                        Err(_) => return,
                    }
                };
                if n == 0 {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                }
                r2.lock().unwrap().extend_from_slice(&buf[..n]);
                p2.lock().unwrap().process(&buf[..n]);
            }
        });
        Cockpit {
            master,
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
        self.wait_until(&format!("{text:?} not on screen"), secs, |s| {
            s.contains(text)
        });
    }

    /// Waits until `done` holds of the screen; panics with `what` and the screen after `secs`.
    pub fn wait_until(&self, what: &str, secs: u64, mut done: impl FnMut(&str) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let screen = self.screen();
            if done(&screen) {
                return;
            }
            if Instant::now() >= deadline {
                panic!("{what} after {secs}s:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Types bytes into the terminal, then gives the app 60 ms.
    pub fn send(&mut self, bytes: &str) {
        self.send_now(bytes);
        std::thread::sleep(Duration::from_millis(60));
    }

    /// Types bytes into the terminal and returns at once (for latency measurements).
    pub fn send_now(&mut self, bytes: &str) {
        let mut guard = self.master.lock().unwrap();
        let f = guard.as_mut().expect("terminal open");
        let mut rest = bytes.as_bytes();
        while !rest.is_empty() {
            match f.write(rest) {
                Ok(n) => rest = &rest[n..],
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                Err(e) => panic!("write to pty: {e}"),
            }
        }
        drop(guard);
    }

    /// The pid of flightdeck itself (the child of the `sh` wrapper).
    pub fn app_pid(&self) -> i32 {
        let sh = self.child.id();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let children = std::fs::read_to_string(format!("/proc/{sh}/task/{sh}/children"))
                .unwrap_or_default();
            if let Some(pid) = children.split_whitespace().next() {
                return pid.parse().unwrap();
            }
            assert!(Instant::now() < deadline, "flightdeck did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The directory the wrapper script writes its files in.
    pub fn dir(&self) -> &Path {
        &self.dir
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
        // The last bytes may still be on their way from the pty: give them a moment.
        let seqs = ["\x1b[?1049l", "\x1b[?25h", "\x1b[?2004l"];
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            let raw = self.raw.lock().unwrap();
            let text = String::from_utf8_lossy(&raw);
            let tail = text.rfind("\x1b[?1049h").map_or("", |i| &text[i..]);
            if seqs.iter().all(|s| tail.contains(s)) {
                break;
            }
            drop(raw);
            std::thread::sleep(Duration::from_millis(20));
        }
        let raw = self.raw.lock().unwrap();
        let text = String::from_utf8_lossy(&raw);
        let last_enter = text
            .rfind("\x1b[?1049h")
            .expect("alternate screen was entered");
        let tail = &text[last_enter..];
        for (seq, what) in [
            ("\x1b[?1049l", "alternate screen left"),
            ("\x1b[?25h", "cursor shown"),
            ("\x1b[?2004l", "bracketed paste off"),
        ] {
            assert!(
                tail.contains(seq),
                "{what}: {seq:?} missing after the last frame"
            );
        }
        let parser = self.parser.lock().unwrap();
        assert!(
            !parser.screen().alternate_screen(),
            "still on the alternate screen"
        );
        assert!(!parser.screen().hide_cursor(), "cursor still hidden");
    }

    /// Resizes the terminal as a terminal window does: the kernel sends SIGWINCH.
    pub fn resize(&self, cols: u16, rows: u16) {
        let tty = std::fs::read_link(format!("/proc/{}/fd/0", self.app_pid())).unwrap();
        let ok = std::process::Command::new("stty")
            .arg("-F")
            .arg(&tty)
            .args(["cols", &cols.to_string(), "rows", &rows.to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "stty could not resize {}", tty.display());
        self.parser
            .lock()
            .unwrap()
            .screen_mut()
            .set_size(rows.try_into().unwrap(), cols.try_into().unwrap());
    }

    /// Closes the terminal (as a dropped SSH connection does).
    pub fn hang_up(&mut self) {
        self.master.lock().unwrap().take();
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
        .map(|s| s.split_whitespace().nth(2).is_none_or(|st| st != "Z"))
        .unwrap_or(false)
}

/// CPU ticks (utime + stime) a process has used.
pub fn cpu_ticks(pid: i32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = s.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
}

/// What /proc says about process `pid` (or `self`): resident KiB, threads, open descriptors.
pub fn usage(pid: &str) -> (u64, usize, usize) {
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

/// No file under `dir` (config, store, journal, audit log, logs) holds `secret` (S1, S8).
pub fn assert_no_secret_under(dir: &Path, secret: &str) {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).unwrap_or_default();
                assert!(
                    !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                    "a secret in {}",
                    p.display()
                );
            }
        }
    }
}
