//! Secrets from where the config points: an environment variable, a file, or a command (argv,
//! no shell, [`COMMAND_TIMEOUT`]). A secret's `Debug` never shows it; nothing here logs it.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;
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
            SecretSource::File(p) => std::fs::read_to_string(p)
                .map_err(|e| format!("cannot read {}: {e}", p.display()))?
                .lines()
                .next()
                .unwrap_or_default()
                .to_string(),
            SecretSource::Command(argv) => run(argv)?,
        };
        let v = v.trim().to_string();
        if v.is_empty() {
            return Err(format!("{} is empty", self.describe()));
        }
        Ok(v)
    }
}

/// A secret read once and reused for a few minutes (an environment variable is read each
/// time); [`Cached::forget`] drops it after the server refused it.
#[derive(Debug)]
pub struct Cached {
    source: SecretSource,
    value: Mutex<Option<(Instant, String)>>,
}

impl Cached {
    /// A secret from `source`, not read yet.
    pub fn new(source: SecretSource) -> Cached {
        Cached {
            source,
            value: Mutex::new(None),
        }
    }

    /// Where it comes from.
    pub fn source(&self) -> &SecretSource {
        &self.source
    }

    /// The value, from the cache while it is fresh.
    pub fn get(&self) -> Result<String, String> {
        if matches!(self.source, SecretSource::Env(_)) {
            return self.source.read();
        }
        let mut v = self.value.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, s)) = v.as_ref()
            && at.elapsed() < REUSE
        {
            return Ok(s.clone());
        }
        let s = self.source.read()?;
        *v = Some((Instant::now(), s.clone()));
        Ok(s)
    }

    /// Forgets the value, so the next use reads it again.
    pub fn forget(&self) {
        *self.value.lock().unwrap_or_else(|p| p.into_inner()) = None;
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
        .spawn()
        .map_err(|e| format!("cannot run `{program}`: {e}"))?;
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
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
        assert_eq!(c.get().unwrap(), "one");
        std::fs::write(&f, "two").unwrap();
        assert_eq!(c.get().unwrap(), "one");
        c.forget();
        assert_eq!(c.get().unwrap(), "two");
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
