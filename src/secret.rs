//! Secrets from where the config points: an environment variable, a file, or a command (argv,
//! no shell, [`COMMAND_TIMEOUT`]). A secret's `Debug` never shows it; nothing here logs it.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a secret command (a `*_cmd`, `gh auth token`) may take.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a secret read from a file or a command is reused before it is read again.
const REUSE: Duration = Duration::from_secs(300);

/// Where one secret comes from.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum SecretSource {
    /// `$NAME`, read at each use.
    Env(String),
    /// A file's first line, re-read every few minutes (so a rotated file is picked up).
    File(PathBuf),
    /// A command's first line (argv, no shell, 5 s), re-run every few minutes.
    Command(Vec<String>),
}

impl std::fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl SecretSource {
    /// Where it comes from, for messages (`$PROM_TOKEN`, `file /etc/x`, `command vault`).
    pub fn describe(&self) -> String {
        match self {
            SecretSource::Env(n) => format!("${n}"),
            SecretSource::File(p) => format!("file {}", p.display()),
            SecretSource::Command(argv) => format!(
                "command `{}`",
                argv.first().map(String::as_str).unwrap_or_default()
            ),
        }
    }

    /// Reads the secret now; the error names the source, never the value.
    pub fn read(&self) -> Result<String, String> {
        let v = match self {
            SecretSource::Env(n) => std::env::var(n).map_err(|_| format!("${n} is not set"))?,
            SecretSource::File(p) => {
                check_file(p, 64 << 10)?;
                let mut text = String::new();
                std::fs::File::open(p)
                    .and_then(|f| f.take(64 << 10).read_to_string(&mut text))
                    .map_err(|e| format!("cannot read {}: {e}", p.display()))?;
                text.lines().next().unwrap_or_default().to_string()
            }
            SecretSource::Command(argv) => run(argv)?,
        };
        let v = v.trim().to_string();
        if v.is_empty() {
            return Err(match self {
                SecretSource::Command(_) => format!("{} printed nothing", self.describe()),
                _ => format!("{} is empty", self.describe()),
            });
        }
        Ok(v)
    }
}

/// Refuses what is not a regular file of at most `max` bytes (a device or a pipe could be
/// read forever).
pub fn check_file(p: &std::path::Path, max: u64) -> Result<(), String> {
    let m = std::fs::metadata(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
    if !m.is_file() {
        return Err(format!("{} is not a regular file", p.display()));
    }
    if m.len() > max {
        return Err(format!(
            "{} is larger than {} KiB: is it the right file?",
            p.display(),
            max >> 10
        ));
    }
    Ok(())
}

/// A secret read once and reused for a few minutes (an environment variable is read each
/// time); [`Cached::forget`] drops it after the server refused it. A failed read is reused
/// for half a minute, so a broken command is not run again by every request. Clones share the
/// cache; `Debug` shows only the source.
#[derive(Clone)]
pub struct Cached(Arc<CachedInner>);

struct CachedInner {
    source: SecretSource,
    /// The last read and its result; held while a read runs, so one read runs at a time.
    value: Mutex<Option<(Instant, Result<String, String>)>>,
    stale: AtomicBool,
}

impl std::fmt::Debug for Cached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cached({})", self.0.source.describe())
    }
}

/// How long a failed read is reused.
const RETRY: Duration = Duration::from_secs(30);

impl Cached {
    /// A secret from `source`, not read yet.
    pub fn new(source: SecretSource) -> Cached {
        Cached(Arc::new(CachedInner {
            source,
            value: Mutex::new(None),
            stale: AtomicBool::new(false),
        }))
    }

    /// The value without blocking: an environment variable, or a cached read that is still
    /// fresh; `None` when a read is due (or running).
    pub fn fresh(&self) -> Option<Result<String, String>> {
        let c = &self.0;
        if matches!(c.source, SecretSource::Env(_)) {
            return Some(c.source.read());
        }
        if c.stale.load(Ordering::Relaxed) {
            return None;
        }
        let v = c.value.try_lock().ok()?;
        match v.as_ref() {
            Some((at, Ok(s))) if at.elapsed() < REUSE => Some(Ok(s.clone())),
            Some((at, Err(e))) if at.elapsed() < RETRY => Some(Err(e.clone())),
            _ => None,
        }
    }

    /// The value, from the cache while it is fresh, else read now (may block up to the
    /// command's timeout).
    pub fn get(&self) -> Result<String, String> {
        let c = &self.0;
        if matches!(c.source, SecretSource::Env(_)) {
            return c.source.read();
        }
        let mut v = c.value.lock().unwrap_or_else(|p| p.into_inner());
        if !c.stale.load(Ordering::Relaxed) {
            match v.as_ref() {
                Some((at, Ok(s))) if at.elapsed() < REUSE => return Ok(s.clone()),
                Some((at, Err(e))) if at.elapsed() < RETRY => return Err(e.clone()),
                _ => {}
            }
        }
        c.stale.store(false, Ordering::Relaxed);
        let read = c.source.read();
        *v = Some((Instant::now(), read.clone()));
        read
    }

    /// Where it comes from (`$VAR`, `file …`, `command …`).
    pub fn describe(&self) -> String {
        self.0.source.describe()
    }

    /// Marks the value stale, so the next use reads it again; never blocks.
    pub fn forget(&self) {
        self.0.stale.store(true, Ordering::Relaxed);
    }
}

/// Runs `argv` without a shell, with no input, for at most [`COMMAND_TIMEOUT`]; its first line.
pub fn run(argv: &[String]) -> Result<String, String> {
    let Some(program) = argv.first() else {
        return Err("an empty command".into());
    };
    let mut child = Command::new(program)
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot run `{program}`: {e}"))?;
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                // The whole group: a wrapper script's children go too.
                let group = nix::unistd::Pid::from_raw(child.id() as i32);
                let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
                let _ = child.wait();
                return Err(format!(
                    "`{program}` gave no answer within {}s",
                    COMMAND_TIMEOUT.as_secs()
                ));
            }
            Err(e) => return Err(format!("`{program}`: {e}")),
        }
    };
    let mut out = String::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = o.by_ref().take(64 << 10).read_to_string(&mut out);
    }
    if !status.success() {
        return Err(format!("`{program}` failed ({status})"));
    }
    Ok(out.lines().next().unwrap_or_default().trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_read_and_name_themselves_without_the_value() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("token");
        std::fs::write(&f, "s3cret-file\nsecond line\n").unwrap();
        assert_eq!(SecretSource::File(f.clone()).read().unwrap(), "s3cret-file");
        let cmd = SecretSource::Command(vec!["echo".into(), "s3cret-cmd".into()]);
        assert_eq!(cmd.read().unwrap(), "s3cret-cmd");
        assert!(!format!("{cmd:?}").contains("s3cret"));
        let e = SecretSource::Env("FLIGHTDECK_TEST_SURELY_UNSET".into())
            .read()
            .unwrap_err();
        assert!(
            e.contains("$FLIGHTDECK_TEST_SURELY_UNSET is not set"),
            "{e}"
        );
        std::fs::write(&f, "\n").unwrap();
        assert!(SecretSource::File(f).read().unwrap_err().contains("empty"));
    }

    #[test]
    fn a_cached_secret_is_reused_until_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("token");
        std::fs::write(&f, "one").unwrap();
        let c = Cached::new(SecretSource::File(f.clone()));
        assert_eq!(c.fresh(), None, "nothing read yet");
        assert_eq!(c.get().unwrap(), "one");
        std::fs::write(&f, "two").unwrap();
        assert_eq!(c.fresh(), Some(Ok("one".into())));
        assert_eq!(c.get().unwrap(), "one");
        c.forget();
        assert_eq!(c.fresh(), None);
        assert_eq!(c.get().unwrap(), "two");
        assert!(!format!("{c:?}").contains("two"), "{c:?}");
    }

    #[test]
    fn a_failing_source_is_not_read_again_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let runs = dir.path().join("runs");
        let script = format!("echo x >> {}; exit 1", runs.display());
        let c = Cached::new(SecretSource::Command(vec![
            "sh".into(),
            "-c".into(),
            script,
        ]));
        assert!(c.get().is_err());
        assert!(c.get().is_err());
        assert!(matches!(c.fresh(), Some(Err(_))));
        assert_eq!(std::fs::read_to_string(&runs).unwrap().lines().count(), 1);
    }

    #[test]
    fn a_slow_or_failing_command_is_an_error() {
        let start = Instant::now();
        let e = run(&["sleep".into(), "30".into()]).unwrap_err();
        assert!(e.contains("within 5s"), "{e}");
        assert!(start.elapsed() < Duration::from_secs(7));
        assert!(run(&["false".into()]).is_err());
        assert!(run(&[]).is_err());
    }
}
