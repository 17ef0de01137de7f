//! The pipeline runner: steps in order as real processes, logs on disk, runs and releases in
//! the store. Synchronous and free of any UI; the cockpit runs it on a thread, `flightdeck run`
//! on the main one.

pub mod logfile;
mod release;
pub mod step;
pub mod testparse;

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::config::PipelineConfig;
use crate::domain::{self, Run, RunStatus, TestCounts};
use crate::paths;
use crate::store::{NewRun, StepRecord, Store, StoreError};
use step::{Exit, StepPlan, Tail};

/// Why a run could not be carried out at all (a failing step is a failed run, not this).
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The store refused.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The log could not be written.
    #[error("cannot write the run log {path}: {source}")]
    Log {
        /// The log file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// A pipeline resolved against the directory its config lives in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Pipeline name.
    pub name: String,
    /// Working directory.
    pub dir: PathBuf,
    /// The steps.
    pub steps: Vec<StepPlan>,
    /// Index of the step producing the artifact, and its path.
    pub artifact: Option<(usize, PathBuf)>,
    /// The branch whose new commits start it, if any.
    pub branch: Option<String>,
    /// Whether a person may start it.
    pub manual: bool,
}

impl Plan {
    /// Resolves a pipeline's relative paths against `base` (the config file's directory).
    pub fn new(p: &PipelineConfig, base: &Path) -> Plan {
        let dir = match &p.dir {
            Some(d) => base.join(d),
            None => base.to_path_buf(),
        };
        let steps: Vec<StepPlan> = p
            .steps
            .iter()
            .map(|s| StepPlan {
                name: s.name.clone(),
                argv: s.argv(),
                env: p
                    .env
                    .iter()
                    .chain(&s.env)
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                dir: s.dir.as_ref().map_or_else(|| dir.clone(), |d| dir.join(d)),
                timeout: s.timeout(),
                junit: s.junit.clone(),
            })
            .collect();
        let artifact = p.artifact.as_ref().map(|a| {
            let idx = a
                .step
                .as_ref()
                .and_then(|n| steps.iter().position(|s| &s.name == n))
                .unwrap_or(steps.len().saturating_sub(1));
            (idx, a.path.clone())
        });
        Plan {
            name: p.name.clone(),
            dir,
            steps,
            artifact,
            branch: p.on.branch.clone(),
            manual: p.on.manual,
        }
    }
}

/// What the runner reports while it works.
#[derive(Clone, Debug, PartialEq)]
pub enum Progress {
    /// The run was recorded and its first step is starting.
    Started(Run),
    /// A step started.
    StepStarted(usize),
    /// New output is in the tail.
    Output,
    /// A step ended.
    StepFinished(usize, RunStatus),
    /// The run ended; the final record.
    Finished(Run),
}

/// Who started a run and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trigger {
    /// `manual`, `commit` or `rerun`.
    pub kind: String,
    /// `user@host`.
    pub actor: String,
}

/// Runs a command with a deadline and returns its trimmed stdout if it succeeded.
pub(crate) fn capture(argv: &[&str], dir: &Path, timeout: Duration) -> Option<String> {
    let mut child = std::process::Command::new(argv[0])
        .args(&argv[1..])
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => break,
            Ok(Some(_)) | Err(_) => return None,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take()?, &mut out).ok()?;
    let out = out.trim().to_string();
    (!out.is_empty()).then_some(out)
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let mut argv = vec!["git"];
    argv.extend_from_slice(args);
    capture(&argv, dir, Duration::from_secs(5))
}

/// The pipelines whose watched branch moved since the last look (claimed in the store, so
/// two cockpits never build the same commit twice). Each entry: (pipeline, dir, branch).
pub fn moved_branches(store_path: &Path, watched: &[(String, PathBuf, String)]) -> Vec<String> {
    let Ok(mut store) = Store::open(store_path) else {
        return Vec::new();
    };
    watched
        .iter()
        .filter(|(name, dir, branch)| {
            let refname = format!("refs/heads/{branch}");
            git(dir, &["rev-parse", "--verify", "--quiet", &refname])
                .is_some_and(|sha| store.claim_commit(name, branch, &sha).unwrap_or(false))
        })
        .map(|(name, _, _)| name.clone())
        .collect()
}

/// Runs every step of `plan` in order, recording the run in the store at `store_path`.
pub fn execute(
    plan: &Plan,
    trigger: &Trigger,
    store_path: &Path,
    tail: &Arc<Mutex<Tail>>,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(Progress),
) -> Result<Run, PipelineError> {
    let mut store = Store::open(store_path)?;
    let commit = git(&plan.dir, &["rev-parse", "HEAD"]);
    let branch = git(&plan.dir, &["rev-parse", "--abbrev-ref", "HEAD"]).filter(|b| b != "HEAD");
    let new = NewRun {
        pipeline: plan.name.clone(),
        commit: commit.clone(),
        branch: branch.clone(),
        trigger: trigger.kind.clone(),
        actor: trigger.actor.clone(),
        steps: plan.steps.iter().map(|s| s.name.clone()).collect(),
    };
    let run = store.start_run(&new, std::process::id(), domain::now())?;
    let run_id: i64 = run.id.parse().unwrap_or_default();
    let log_path = PathBuf::from(run.log_path.clone().unwrap_or_default());
    let result = carry_out(
        plan,
        (commit, branch),
        &mut store,
        store_path,
        run,
        tail,
        cancel,
        progress,
    );
    if let Err(e) = &result {
        // Whatever failed after the run was recorded, it ends here: never "running" forever.
        if let Ok(mut log) = paths::append_private(&log_path) {
            let _ = writeln!(log, "==> flightdeck: the run stopped: {e}");
        }
        // Only a run still running: one that ended (its release kept) keeps its end.
        if let Ok(s) = Store::open(store_path)
            && s.get_run("local", &run_id.to_string())
                .is_ok_and(|r| r.status == RunStatus::Running)
        {
            let _ = s.finish_run(run_id, RunStatus::Failure, domain::now(), None, &[], &[]);
        }
    }
    result
}

/// The commit and branch a run builds.
type Source = (Option<String>, Option<String>);

/// Everything after the run is recorded: its log, its steps, its end.
#[allow(clippy::too_many_arguments)]
fn carry_out(
    plan: &Plan,
    (commit, branch): Source,
    store: &mut Store,
    store_path: &Path,
    run: Run,
    tail: &Arc<Mutex<Tail>>,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(Progress),
) -> Result<Run, PipelineError> {
    let run_id: i64 = run.id.parse().unwrap_or_default();
    let log_path = PathBuf::from(run.log_path.clone().unwrap_or_default());
    let log_err = |source| PipelineError::Log {
        path: log_path.clone(),
        source,
    };
    if let Some(dir) = log_path.parent() {
        paths::private_dir(dir).map_err(log_err)?;
    }
    let mut log = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&log_path)
        .map_err(log_err)?;
    progress(Progress::Started(run));
    // Anyone may cancel through the store (another cockpit, another terminal): a watcher
    // turns the request into the flag the step loop checks.
    let requested = AtomicBool::new(false);
    let finished = AtomicBool::new(false);
    let result = std::thread::scope(|scope| {
        scope.spawn(|| watch_cancel(store_path, run_id, &requested, &finished));
        let flag = CancelFlag(cancel, &requested);
        let r = run_steps(
            plan, store, run_id, &log_path, &mut log, tail, &flag, progress,
        );
        finished.store(true, Ordering::Relaxed);
        r
    });
    let (status, tests, failed) = result?;
    finish(
        plan, store, run_id, status, tests, failed, commit, branch, &mut log, progress,
    )
}

/// Cancelled by the caller or through the store.
struct CancelFlag<'a>(&'a AtomicBool, &'a AtomicBool);

impl CancelFlag<'_> {
    fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed) || self.1.load(Ordering::Relaxed)
    }
}

fn watch_cancel(store_path: &Path, run_id: i64, requested: &AtomicBool, finished: &AtomicBool) {
    let Ok(store) = Store::open(store_path) else {
        return;
    };
    while !finished.load(Ordering::Relaxed) {
        if store.cancel_requested(run_id).unwrap_or(false) {
            requested.store(true, Ordering::Relaxed);
            return;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

type StepsOutcome = (RunStatus, Option<TestCounts>, Vec<String>);

#[allow(clippy::too_many_arguments)]
fn run_steps(
    plan: &Plan,
    store: &mut Store,
    run_id: i64,
    log_path: &Path,
    log: &mut std::fs::File,
    tail: &Arc<Mutex<Tail>>,
    cancel: &CancelFlag<'_>,
    progress: &mut dyn FnMut(Progress),
) -> Result<StepsOutcome, PipelineError> {
    let log_err = |source| PipelineError::Log {
        path: log_path.to_path_buf(),
        source,
    };
    // Step ranges come from the file's own length, so output nobody counted (a process
    // that outlived its step, a note of ours) never shifts them.
    let len = |log: &std::fs::File| log.metadata().map(|m| m.len()).map_err(log_err);
    let mut status = RunStatus::Success;
    let mut tests: Option<TestCounts> = None;
    let mut failed: Vec<String> = Vec::new();
    for (idx, s) in plan.steps.iter().enumerate() {
        let started = domain::now();
        let header = format!("==> step {} ({}): {}\n", idx + 1, s.name, s.argv.join(" "));
        let start = len(log)?;
        log.write_all(header.as_bytes()).map_err(log_err)?;
        let offset = len(log)?;
        let running = StepRecord {
            idx,
            status: RunStatus::Running,
            exit_code: None,
            started: Some(started),
            duration_ms: None,
            log_range: Some((start, offset)),
        };
        store.update_step(run_id, &running)?;
        progress(Progress::StepStarted(idx));
        let handle = log.try_clone().map_err(log_err)?;
        let spawned = SystemTime::now();
        let record_group = |pid: u32| {
            if let Some(at) = step::start_time(pid) {
                let _ = store.set_step_group(run_id, idx, pid, at);
            }
        };
        let (exit, took, drained) = step::run(s, handle, tail, &|| cancel.get(), &record_group);
        if drained.is_none() {
            // A process that left the step's group (setsid) still holds its output open.
            let note = "flightdeck: a process the step started still holds its output open; stopped reading it\n";
            log.write_all(note.as_bytes()).map_err(log_err)?;
        }
        if let Some(d) = drained {
            let mut parser = d.tests;
            for note in testparse::read_junit(&s.dir, &s.junit, spawned, &mut parser) {
                let line = format!("{note}\n");
                log.write_all(line.as_bytes()).map_err(log_err)?;
            }
            let (counts, names) = parser.finish();
            if let Some(c) = counts {
                tests.get_or_insert_default().add(c);
            }
            failed.extend(names);
        }
        let step_status = match &exit {
            e if e.success() => RunStatus::Success,
            Exit::Cancelled => RunStatus::Cancelled,
            _ => RunStatus::Failure,
        };
        let footer = format!("==> {} {}\n", s.name, exit.describe(s.timeout));
        log.write_all(footer.as_bytes()).map_err(log_err)?;
        let offset = len(log)?;
        store.update_step(
            run_id,
            &StepRecord {
                status: step_status,
                exit_code: match exit {
                    Exit::Code(c) => Some(c),
                    _ => None,
                },
                duration_ms: Some(took.as_millis() as u64),
                log_range: Some((start, offset)),
                ..running
            },
        )?;
        progress(Progress::StepFinished(idx, step_status));
        if step_status != RunStatus::Success {
            status = step_status;
            break;
        }
    }
    Ok((status, tests, failed))
}

#[allow(clippy::too_many_arguments)]
fn finish(
    plan: &Plan,
    store: &Store,
    run_id: i64,
    mut status: RunStatus,
    tests: Option<TestCounts>,
    failed: Vec<String>,
    commit: Option<String>,
    branch: Option<String>,
    log: &mut std::fs::File,
    progress: &mut dyn FnMut(Progress),
) -> Result<Run, PipelineError> {
    let flaky = match &commit {
        Some(c) if status == RunStatus::Success => store
            .earlier_failures(&plan.name, c, run_id)?
            .into_iter()
            .filter(|t| !failed.contains(t))
            .collect(),
        _ => Vec::new(),
    };
    let now = domain::now();
    if status == RunStatus::Success
        && let Some((_, path)) = &plan.artifact
    {
        match release::record(store, plan, run_id, path, commit.as_deref(), now) {
            Ok(r) => {
                let _ = writeln!(
                    log,
                    "==> release {} recorded ({}, sha256 {})",
                    r.version, r.artifact, r.sha256
                );
            }
            Err(e) => {
                let _ = writeln!(log, "==> no release: {e}");
                status = RunStatus::Failure;
            }
        }
    }
    store.finish_run(run_id, status, now, tests, &failed, &flaky)?;
    let on_main = branch
        .as_deref()
        .is_some_and(|b| Some(b) == plan.branch.as_deref() || b == "main" || b == "master");
    if matches!(status, RunStatus::Failure | RunStatus::Success) && on_main {
        let detail = serde_json::json!({
            "pipeline": plan.name, "run": run_id, "branch": branch, "commit": commit, "failed_tests": failed,
        });
        store.record_event(
            if status == RunStatus::Failure {
                "pipeline_failed"
            } else {
                "pipeline_succeeded"
            },
            &format!("pipeline:{}:{}", plan.name, branch.as_deref().unwrap_or("")),
            &detail.to_string(),
            now,
        )?;
    }
    let run = store.get_run("local", &run_id.to_string())?;
    progress(Progress::Finished(run.clone()));
    Ok(run)
}

#[cfg(test)]
mod tests;
