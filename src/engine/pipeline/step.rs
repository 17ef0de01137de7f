//! One step as a real process: its own process group, output drained into the run log on a
//! thread of its own (a full pipe never blocks it), killed as a group on timeout or cancel.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use super::testparse::TestParser;

/// Lines of output kept in memory per run; the full log is on disk.
pub const TAIL_LINES: usize = 2000;
/// Longest line kept whole; longer ones are split (a 1 MB line costs no more than this).
const MAX_LINE: usize = 16 * 1024;
/// How long a group gets between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_secs(2);

/// What a step runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepPlan {
    /// Step name.
    pub name: String,
    /// The argv.
    pub argv: Vec<String>,
    /// Its environment on top of the inherited one.
    pub env: Vec<(String, String)>,
    /// Working directory.
    pub dir: PathBuf,
    /// Deadline.
    pub timeout: Duration,
    /// JUnit files to read afterwards.
    pub junit: Vec<PathBuf>,
}

/// How a step ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Exited with a code.
    Code(i32),
    /// Killed by a signal it did not expect.
    Signal(i32),
    /// Past its deadline; the group was killed.
    TimedOut,
    /// Cancelled; the group was killed.
    Cancelled,
    /// Could not start.
    SpawnFailed(String),
}

impl Exit {
    /// Whether the step passed.
    pub fn success(&self) -> bool {
        *self == Exit::Code(0)
    }

    /// A short description for the log.
    pub fn describe(&self, timeout: Duration) -> String {
        match self {
            Exit::Code(c) => format!("exit code {c}"),
            Exit::Signal(s) => format!("killed by signal {s}"),
            Exit::TimedOut => format!(
                "timed out after {}s; process group killed",
                timeout.as_secs()
            ),
            Exit::Cancelled => "cancelled; process group killed".into(),
            Exit::SpawnFailed(e) => format!("could not start: {e}"),
        }
    }
}

/// The last lines of a run's output, shared with whoever shows it.
#[derive(Debug, Default)]
pub struct Tail {
    /// The lines, oldest first.
    pub lines: VecDeque<String>,
    /// Bumped on every new line, so watchers can tell cheaply that something changed.
    pub version: u64,
}

impl Tail {
    fn push(&mut self, line: String) {
        if self.lines.len() == TAIL_LINES {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
        self.version += 1;
    }
}

/// What the output thread hands back.
pub struct Drained {
    /// Bytes written to the log.
    pub bytes: u64,
    /// Tests seen in the output.
    pub tests: TestParser,
}

fn drain(reader: std::io::PipeReader, mut log: BufWriter<File>, tail: Arc<Mutex<Tail>>) -> Drained {
    let mut reader = BufReader::with_capacity(64 * 1024, reader);
    let mut tests = TestParser::default();
    let mut bytes = 0u64;
    let mut buf = Vec::with_capacity(1024);
    loop {
        buf.clear();
        let n = match reader
            .by_ref()
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut buf)
        {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        bytes += n as u64;
        let _ = log.write_all(&buf);
        let text = String::from_utf8_lossy(&buf);
        let line = text.trim_end_matches(['\n', '\r']);
        tests.line(line);
        tail.lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(line.to_string());
    }
    let _ = log.flush();
    Drained { bytes, tests }
}

fn signal_group(pgid: u32, sig: Signal) {
    // ESRCH (the group is already gone) is the expected outcome after a clean exit.
    let _ = killpg(Pid::from_raw(pgid as i32), sig);
}

/// SIGTERM the group, then SIGKILL after the grace period; reaps the child.
fn kill_group(child: &mut Child) {
    signal_group(child.id(), Signal::SIGTERM);
    let deadline = Instant::now() + GRACE;
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    signal_group(child.id(), Signal::SIGKILL);
    let _ = child.wait();
}

/// Runs one step, appending its output to `log` and `tail`; returns how it ended, how long it
/// took and what its output said about tests.
pub fn run(
    step: &StepPlan,
    log: File,
    tail: &Arc<Mutex<Tail>>,
    cancel: &dyn Fn() -> bool,
) -> (Exit, Duration, Option<Drained>) {
    let started = Instant::now();
    let spawned = (|| {
        let (reader, writer) = std::io::pipe()?;
        let (program, args) = step
            .argv
            .split_first()
            .ok_or_else(|| std::io::Error::other("empty command"))?;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .current_dir(&step.dir)
            .envs(step.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(writer.try_clone()?)
            .stderr(writer)
            // Its own group, so cancel and timeout reach every process it starts.
            .process_group(0);
        let child = cmd.spawn()?;
        // `cmd` holds the pipe's write ends; drop them so EOF arrives when the group is done.
        drop(cmd);
        Ok::<_, std::io::Error>((child, reader))
    })();
    let (mut child, reader) = match spawned {
        Ok(x) => x,
        Err(e) => return (Exit::SpawnFailed(e.to_string()), started.elapsed(), None),
    };
    let (tx, rx) = mpsc::channel();
    let tail2 = Arc::clone(tail);
    std::thread::spawn(move || {
        let _ = tx.send(drain(reader, BufWriter::new(log), tail2));
    });
    let exit = loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                break match (status.code(), status.signal()) {
                    (Some(c), _) => Exit::Code(c),
                    (None, Some(s)) => Exit::Signal(s),
                    (None, None) => Exit::Signal(0),
                };
            }
            Ok(None) => {}
            Err(e) => break Exit::SpawnFailed(e.to_string()),
        }
        if cancel() {
            kill_group(&mut child);
            break Exit::Cancelled;
        }
        if started.elapsed() >= step.timeout {
            kill_group(&mut child);
            break Exit::TimedOut;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // Whatever the step left running in its group goes with it, so nothing is orphaned and
    // the pipe reaches EOF.
    signal_group(child.id(), Signal::SIGKILL);
    let drained = rx.recv_timeout(Duration::from_secs(5)).ok();
    (exit, started.elapsed(), drained)
}
