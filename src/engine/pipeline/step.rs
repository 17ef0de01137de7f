//! One step as a real process: its own process group, output drained into the run log on a
//! thread of its own (a full pipe never blocks it), killed as a group on timeout or cancel.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{Read, Write};
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
    /// JUnit files (globs) to read afterwards.
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

/// Words without which a block of output cannot hold a test summary: blocks without any of
/// them skip line-by-line parsing entirely.
const TEST_WORDS: [&str; 5] = ["test", "passed", "FAIL", "failed", "error"];

/// Splits output into lines across reads and feeds the test parser and the tail, doing
/// per-line work only where it matters: a firehose costs a read, a write and a few SIMD scans
/// per 256 KiB.
struct Lines {
    pending: Vec<u8>,
    tests: TestParser,
    words: Vec<memchr::memmem::Finder<'static>>,
}

impl Lines {
    fn new() -> Lines {
        Lines {
            pending: Vec::new(),
            tests: TestParser::default(),
            words: TEST_WORDS
                .iter()
                .map(|w| memchr::memmem::Finder::new(w.as_bytes()))
                .collect(),
        }
    }

    fn text(line: &[u8]) -> String {
        let line = &line[..line.len().min(MAX_LINE)];
        String::from_utf8_lossy(line)
            .trim_end_matches('\r')
            .to_string()
    }

    /// Complete lines in `block` (each ended by a newline).
    fn block(&mut self, block: &[u8], tail: &mut Vec<String>) {
        if self.words.iter().any(|f| f.find(block).is_some()) {
            for line in block.split(|b| *b == b'\n') {
                if self.words.iter().any(|f| f.find(line).is_some()) {
                    self.tests.line(&Self::text(line));
                }
            }
        }
        // Only the last lines can survive in the tail: find where they start.
        let body = block.strip_suffix(b"\n").unwrap_or(block);
        let start = memchr::memrchr_iter(b'\n', body)
            .nth(TAIL_LINES - 1)
            .map_or(0, |i| i + 1);
        tail.extend(body[start..].split(|b| *b == b'\n').map(Self::text));
    }

    /// A chunk as read from the pipe.
    fn chunk(&mut self, mut chunk: &[u8], tail: &mut Vec<String>) {
        if !self.pending.is_empty() {
            match memchr::memchr(b'\n', chunk) {
                None => {
                    let room = MAX_LINE.saturating_sub(self.pending.len());
                    self.pending
                        .extend_from_slice(&chunk[..chunk.len().min(room)]);
                    return;
                }
                Some(i) => {
                    let room = MAX_LINE.saturating_sub(self.pending.len());
                    self.pending.extend_from_slice(&chunk[..i.min(room)]);
                    let line = std::mem::take(&mut self.pending);
                    self.tests.line(&Self::text(&line));
                    tail.push(Self::text(&line));
                    chunk = &chunk[i + 1..];
                }
            }
        }
        match memchr::memrchr(b'\n', chunk) {
            Some(i) => {
                self.block(&chunk[..=i], tail);
                let rest = &chunk[i + 1..];
                self.pending
                    .extend_from_slice(&rest[..rest.len().min(MAX_LINE)]);
            }
            None => self
                .pending
                .extend_from_slice(&chunk[..chunk.len().min(MAX_LINE)]),
        }
    }
}

fn drain(mut reader: std::io::PipeReader, mut log: File, tail: Arc<Mutex<Tail>>) -> Drained {
    let mut lines = Lines::new();
    let mut bytes = 0u64;
    let mut buf = vec![0u8; 256 * 1024];
    let mut fresh = Vec::new();
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        bytes += n as u64;
        let _ = log.write_all(&buf[..n]);
        lines.chunk(&buf[..n], &mut fresh);
        if !fresh.is_empty() {
            let mut t = tail.lock().unwrap_or_else(|p| p.into_inner());
            for l in fresh.drain(..) {
                t.push(l);
            }
        }
    }
    if !lines.pending.is_empty() {
        let last = Lines::text(&std::mem::take(&mut lines.pending));
        lines.tests.line(&last);
        tail.lock().unwrap_or_else(|p| p.into_inner()).push(last);
    }
    Drained {
        bytes,
        tests: lines.tests,
    }
}

fn signal_group(pgid: u32, sig: Signal) {
    // ESRCH (the group is already gone) is the expected outcome after a clean exit.
    let _ = killpg(Pid::from_raw(pgid as i32), sig);
}

/// When process `pid` started, in clock ticks since boot (`/proc/PID/stat` field 22).
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields count from its last `)`.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Kills what is left of a step's process group after its runner died: the group is killed
/// only when it is still that step's (its leader, if alive, started when recorded; with the
/// leader gone the id cannot have been reused for a new group). Whether anything was sent.
pub fn kill_orphaned_group(pgid: u32, leader_start: u64) -> bool {
    if pgid <= 1 {
        return false;
    }
    match start_time(pgid) {
        Some(s) if s != leader_start => false,
        _ => killpg(Pid::from_raw(pgid as i32), Signal::SIGKILL).is_ok(),
    }
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
    spawned_as: &dyn Fn(u32),
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
        // The commonest cause is the working directory: name it rather than a bare ENOENT.
        Err(e) if !step.dir.is_dir() => {
            let why = format!(
                "working directory {} does not exist ({e}); fix the pipeline's or step's `dir`",
                step.dir.display()
            );
            return (Exit::SpawnFailed(why), started.elapsed(), None);
        }
        Err(e) => return (Exit::SpawnFailed(e.to_string()), started.elapsed(), None),
    };
    // Recorded before anything else: a runner killed from here on leaves a group to find.
    spawned_as(child.id());
    let (tx, rx) = mpsc::channel();
    let tail2 = Arc::clone(tail);
    std::thread::spawn(move || {
        let _ = tx.send(drain(reader, log, tail2));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_across_reads_are_whole_again() {
        let mut l = Lines::new();
        let mut tail = Vec::new();
        for chunk in [
            "noise\ntest resu",
            "lt: ok. 2 passed; 0 fai",
            "led; 0 ignored\nlast",
            " line",
        ] {
            l.chunk(chunk.as_bytes(), &mut tail);
        }
        assert_eq!(
            tail,
            ["noise", "test result: ok. 2 passed; 0 failed; 0 ignored"]
        );
        assert_eq!(l.pending, b"last line");
        let (counts, _) = l.tests.finish();
        assert_eq!(counts.map(|c| c.passed), Some(2));
    }

    #[test]
    fn a_big_block_keeps_only_the_tail_lines() {
        let mut l = Lines::new();
        let mut tail = Vec::new();
        let block: String = (0..TAIL_LINES * 3).map(|i| format!("{i}\n")).collect();
        l.chunk(block.as_bytes(), &mut tail);
        assert_eq!(tail.len(), TAIL_LINES);
        assert_eq!(
            tail.last().map(String::as_str),
            Some(&*format!("{}", TAIL_LINES * 3 - 1))
        );
    }
}
