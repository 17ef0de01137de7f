//! The `ansible` engine: one `ansible-playbook` run rolls the version out, Ansible doing the
//! batches (`serial`) and the failure budget (`max_fail_percentage`) from extra vars that
//! flightdeck writes to a JSON file; per-host progress is read live from the JSON events of
//! flightdeck's own callback plugin (`ansible/flightdeck_events.py`) and journaled, while the
//! `default` callback's text goes to the deploy log. A failure beyond the budget rolls the touched hosts back with the rollback
//! playbook (or the same playbook with each host's previous version), once.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

mod inventory;
mod parse;

pub use inventory::hosts;
use parse::{HostResult, Parser};

use super::{DeployKind, DeployPlan, GateRun, Journal, Outcome, gates};
use crate::domain::DeployState;

/// One `ansible-playbook` run's outcome.
#[derive(Debug, Default)]
struct RunResult {
    /// Exit code (`None`: killed).
    code: Option<i32>,
    /// Hosts in the recap.
    hosts: BTreeMap<String, HostResult>,
    /// Why the run itself failed (could not start, deadline, abort).
    error: Option<String>,
}

/// The whole ansible deploy of `plan`.
pub struct AnsibleDeploy {
    plan: DeployPlan,
    journal: Arc<dyn Journal>,
}

impl AnsibleDeploy {
    /// A deploy of `plan`, journaled to `journal`.
    pub fn new(plan: DeployPlan, journal: Arc<dyn Journal>) -> Self {
        AnsibleDeploy { plan, journal }
    }

    fn playbook(&self, rollback: bool) -> Result<PathBuf, String> {
        let a = self
            .plan
            .target
            .ansible
            .as_ref()
            .ok_or("the target has no `ansible` table")?;
        let p = match (&a.rollback_playbook, rollback) {
            (Some(r), true) => r,
            _ => &a.playbook,
        };
        Ok(self.plan.base_dir.join(p))
    }

    /// Writes the extra vars for one run; values reach Ansible only through this file.
    fn vars(&self, phase: &str, version: &str, previous: Option<&str>) -> Result<PathBuf, String> {
        let t = &self.plan.target;
        let v = serde_json::json!({
            "flightdeck_target": t.name,
            "flightdeck_environment": t.environment,
            "flightdeck_version": version,
            "flightdeck_previous_version": previous,
            "flightdeck_phase": phase,
            "flightdeck_serial": self.plan.batch_size(),
            "flightdeck_max_fail_percentage": t.strategy.max_fail_percentage(),
        });
        let path = self
            .plan
            .log_path
            .with_extension(format!("{phase}-{}.vars.json", sanitize(version)));
        let _ = std::fs::remove_file(&path);
        let mut f = crate::paths::append_private(&path).map_err(|e| e.to_string())?;
        f.write_all(v.to_string().as_bytes())
            .map_err(|e| e.to_string())?;
        Ok(path)
    }

    /// Runs one playbook to its end (or the deadline, or an abort), journaling as it goes.
    async fn run_playbook(
        &self,
        phase: &str,
        playbook: &Path,
        vars: &Path,
        limit: Option<&[String]>,
        deadline: Duration,
    ) -> RunResult {
        let t = &self.plan.target;
        let inventory = t
            .inventory
            .as_ref()
            .map(|i| self.plan.base_dir.join(i))
            .unwrap_or_default();
        let a = t.ansible.as_ref();
        let mut cmd = Command::new("ansible-playbook");
        cmd.arg("-i")
            .arg(&inventory)
            .arg(playbook)
            .arg("-e")
            .arg(format!("@{}", vars.display()));
        let nodes: Vec<String> = limit.map_or_else(|| t.nodes.clone(), <[String]>::to_vec);
        if !nodes.is_empty() {
            cmd.arg("--limit").arg(nodes.join(","));
        }
        // Per-host results come from our callback's events; stdout stays `default`, for the log.
        let events = match self.callback(phase) {
            Ok(e) => e,
            Err(e) => {
                return RunResult {
                    error: Some(e),
                    ..RunResult::default()
                };
            }
        };
        // Our plugin's directory first, then the callback paths that were configured (the
        // target's env, else the environment, else Ansible's defaults).
        let paths = t
            .env
            .get("ANSIBLE_CALLBACK_PLUGINS")
            .cloned()
            .or_else(|| std::env::var("ANSIBLE_CALLBACK_PLUGINS").ok())
            .unwrap_or_else(|| {
                "~/.ansible/plugins/callback:/usr/share/ansible/plugins/callback".into()
            });
        cmd.args(a.map(|a| a.args.clone()).unwrap_or_default())
            .envs(t.env.iter())
            .env(
                "ANSIBLE_CALLBACK_PLUGINS",
                format!("{}:{paths}", events.dir.display()),
            )
            .env("FLIGHTDECK_ANSIBLE_EVENTS", &events.file)
            .env("ANSIBLE_NOCOLOR", "1")
            .env("ANSIBLE_FORCE_COLOR", "0")
            .env("ANSIBLE_STDOUT_CALLBACK", "default")
            .env("ANSIBLE_RETRY_FILES_ENABLED", "0")
            .env("PYTHONUNBUFFERED", "1")
            .current_dir(&self.plan.base_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                return RunResult {
                    error: Some(format!(
                        "cannot run ansible-playbook (is ansible-core installed?): {e}"
                    )),
                    ..RunResult::default()
                };
            }
        };
        let (tx, rx) = mpsc::channel::<String>();
        for pipe in [
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut log = crate::paths::append_private(&self.plan.log_path).ok();
        let mut parser = Parser::new(phase, self.journal.as_ref());
        let mut reader = EventReader::default();
        let until = Instant::now() + deadline;
        let mut error = None;
        let code = loop {
            let mut closed = false;
            loop {
                match rx.try_recv() {
                    Ok(line) => {
                        if let Some(f) = log.as_mut() {
                            let _ = writeln!(f, "{line}");
                        }
                    }
                    Err(mpsc::TryRecvError::Empty) => break,
                    Err(mpsc::TryRecvError::Disconnected) => {
                        closed = true;
                        break;
                    }
                }
            }
            reader.read(&events.file, &mut parser);
            if closed && let Ok(Some(status)) = child.try_wait() {
                reader.read(&events.file, &mut parser);
                break status.code();
            }
            let stop = if Instant::now() >= until {
                Some(format!(
                    "ansible-playbook ran past its deadline of {}s",
                    deadline.as_secs()
                ))
            } else if phase == "forward" && self.journal.abort_requested() {
                Some("aborted by an operator".to_string())
            } else {
                None
            };
            if let Some(why) = stop {
                let group = Pid::from_raw(child.id() as i32);
                let _ = killpg(group, Signal::SIGTERM);
                tokio::time::sleep(Duration::from_secs(2)).await;
                let _ = killpg(group, Signal::SIGKILL);
                let _ = child.wait();
                error = Some(why);
                break None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        // Exit 0 without a recap: our callback did not run (an Ansible too old for it, or a
        // broken install); nothing says which host did what, so nothing counts as done.
        if code == Some(0) && !parser.recap && error.is_none() {
            error = Some(format!(
                "ansible-playbook reported no results through flightdeck's callback plugin ({}): see the deploy log",
                parse::PLUGIN_NAME
            ));
        }
        // A run cut short prints no recap: every host it reached was touched and counts failed.
        let mut hosts = parser.hosts;
        for h in parser.seen {
            hosts.entry(h).or_insert_with(|| HostResult {
                failed: true,
                reason: "the playbook stopped before its recap".into(),
            });
        }
        RunResult { code, hosts, error }
    }

    async fn smoke(&self, host: &str) -> Result<(), String> {
        for g in &self.plan.target.smoke {
            let step = format!("smoke:{}", g.name);
            if let Some(done) = self.journal.outcome("forward", host, &step) {
                done?;
                continue;
            }
            self.journal.record("forward", host, &step, "start", "");
            let r = gates::run(
                &self.plan,
                GateRun {
                    gate: g,
                    node: host,
                    version: &self.plan.to,
                    node_url: Some(self.plan.target.node_base(host)),
                },
            )
            .await;
            match &r {
                Ok(()) => self.journal.record("forward", host, &step, "ok", ""),
                Err(e) => self.journal.record("forward", host, &step, "fail", e),
            }
            r?;
        }
        Ok(())
    }

    /// Runs the forward playbook once and journals its end and each host's recap: the hosts
    /// it reached, and why the run failed as a whole.
    async fn forward(&self, deadline: Duration) -> (BTreeMap<String, HostResult>, Option<String>) {
        let run = match self.playbook(false).and_then(|p| {
            self.vars(
                "forward",
                &self.plan.to,
                self.plan.from_version().as_deref(),
            )
            .map(|v| (p, v))
        }) {
            Ok((playbook, vars)) => {
                self.journal.record(
                    "forward",
                    "",
                    "playbook",
                    "start",
                    &playbook.display().to_string(),
                );
                self.run_playbook("forward", &playbook, &vars, None, deadline)
                    .await
            }
            Err(e) => RunResult {
                error: Some(e),
                ..RunResult::default()
            },
        };
        for (host, r) in &run.hosts {
            let status = if r.failed { "fail" } else { "ok" };
            self.journal
                .record("forward", host, "recap", status, &r.reason);
        }
        let ended = match (&run.error, run.code) {
            (Some(e), _) => Some(e.clone()),
            (None, Some(0)) => None,
            (None, code) => Some(format!(
                "ansible-playbook exited with {}",
                code.map_or("a signal".into(), |c| c.to_string())
            )),
        };
        self.journal.record(
            "forward",
            "",
            "playbook",
            if ended.is_none() { "ok" } else { "fail" },
            ended.as_deref().unwrap_or(""),
        );
        (run.hosts, ended)
    }

    /// Runs the deploy: the playbook, smoke gates on the hosts it changed, the budget, and
    /// the rollback of what it touched when the budget is exceeded.
    pub async fn run(&self) -> Outcome {
        let total = self.plan.target.nodes.len().max(1);
        let batches = self.plan.batches.len().max(1) as u32;
        let deadline =
            self.plan.target.strategy.node_deadline() * batches + Duration::from_secs(60);
        // A resumed deploy does not run a playbook that already ended: its per-host recap
        // is in the journal.
        let (hosts, ended) = match self.journal.outcome("forward", "", "playbook") {
            Some(done) => {
                let hosts = self
                    .plan
                    .target
                    .nodes
                    .iter()
                    .filter_map(|h| {
                        let r = self.journal.outcome("forward", h, "recap")?;
                        Some((
                            h.clone(),
                            HostResult {
                                failed: r.is_err(),
                                reason: r.err().unwrap_or_default(),
                            },
                        ))
                    })
                    .collect();
                (hosts, done.err())
            }
            None => self.forward(deadline).await,
        };
        let mut failed: BTreeMap<String, String> = BTreeMap::new();
        for (host, r) in &hosts {
            if r.failed {
                self.journal.set_node(host, None, "failed");
                failed.insert(host.clone(), r.reason.clone());
            } else {
                self.journal.set_node(host, Some(&self.plan.to), "deployed");
            }
        }
        if ended.is_none() {
            // A node the play never ran on did not get the version.
            for n in &self.plan.target.nodes {
                if !hosts.contains_key(n) {
                    self.journal.set_node(n, None, "failed");
                    failed.insert(
                        n.clone(),
                        "the playbook did not run on it (not in its recap)".into(),
                    );
                }
            }
            let passed: Vec<String> = hosts
                .keys()
                .filter(|h| !failed.contains_key(*h))
                .cloned()
                .collect();
            for host in &passed {
                match self.smoke(host).await {
                    Ok(()) => self
                        .journal
                        .set_node(host, Some(&self.plan.to), "in_rotation"),
                    Err(e) => {
                        self.journal.set_node(host, Some(&self.plan.to), "failed");
                        failed.insert(host.clone(), e);
                    }
                }
            }
        }
        let budget = self.plan.target.strategy.max_fail_percentage() as usize;
        let over = failed.len() * 100 > budget * total;
        let list = || {
            failed
                .iter()
                .map(|(h, w)| format!("{h}: {w}"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        let reason = match (&ended, over) {
            (None, false) => {
                if failed.is_empty() {
                    return Outcome {
                        state: DeployState::Succeeded,
                        reason: None,
                        left_out: Vec::new(),
                    };
                }
                // Within the budget: the failed hosts alone go back.
                let why = format!(
                    "{} of {total} hosts failed within the {budget}% budget: {}",
                    failed.len(),
                    list()
                );
                return self
                    .roll_back(failed.keys().cloned().collect(), why, true)
                    .await;
            }
            (Some(e), _) if failed.is_empty() => e.clone(),
            _ => format!(
                "{} of {total} hosts failed, over the {budget}% failure budget ({})",
                failed.len(),
                list()
            ),
        };
        self.journal.record("deploy", "", "abort", "fail", &reason);
        let touched: Vec<String> = hosts.keys().cloned().collect();
        if touched.is_empty() {
            return Outcome {
                state: DeployState::Failed,
                reason: Some(reason),
                left_out: Vec::new(),
            };
        }
        self.roll_back(touched, reason, false).await
    }

    /// Rolls `hosts` back to their previous versions, once; the deploy's outcome.
    async fn roll_back(&self, hosts: Vec<String>, reason: String, within_budget: bool) -> Outcome {
        let t = &self.plan.target;
        if !t.auto_rollback || self.plan.kind == DeployKind::Rollback {
            return Outcome {
                state: DeployState::Failed,
                reason: Some(reason),
                left_out: Vec::new(),
            };
        }
        if self.journal.outcome("rollback", "", "begin").is_none() {
            self.journal
                .record("rollback", "", "begin", "ok", &hosts.join(", "));
        }
        let mut by_version: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut left_out = Vec::new();
        let mut broken = Vec::new();
        for h in hosts {
            // Attempted once: a host an earlier runner already rolled back is not touched again.
            match self.journal.outcome("rollback", &h, "rollback") {
                Some(Ok(())) => continue,
                Some(Err(why)) => {
                    broken.push(format!("{h}: {why}"));
                    continue;
                }
                None => {}
            }
            match self.plan.previous.get(&h).cloned().flatten() {
                Some(v) => by_version.entry(v).or_default().push(h),
                None => left_out.push((h, "ran no version before; nothing to roll back to".into())),
            }
        }
        let deadline = t.strategy.node_deadline() * (self.plan.batches.len().max(1) as u32)
            + Duration::from_secs(60);
        for (version, hosts) in by_version {
            let run = match self.playbook(true).and_then(|p| {
                self.vars("rollback", &version, Some(&self.plan.to))
                    .map(|v| (p, v))
            }) {
                Ok((playbook, vars)) => {
                    self.run_playbook("rollback", &playbook, &vars, Some(&hosts), deadline)
                        .await
                }
                Err(e) => RunResult {
                    error: Some(e),
                    ..RunResult::default()
                },
            };
            for h in &hosts {
                match run.hosts.get(h) {
                    Some(r) if !r.failed && run.error.is_none() => {
                        self.journal
                            .record("rollback", h, "rollback", "ok", &version);
                        self.journal.set_node(h, Some(&version), "in_rotation");
                    }
                    other => {
                        let why = other
                            .map(|r| r.reason.clone())
                            .filter(|r| !r.is_empty())
                            .or(run.error.clone())
                            .unwrap_or_else(|| "not rolled back".into());
                        self.journal.record("rollback", h, "rollback", "fail", &why);
                        self.journal.set_node(h, None, "failed");
                        broken.push(format!("{h}: {why}"));
                    }
                }
            }
        }
        let state = if !broken.is_empty() {
            DeployState::FailedRollback
        } else if within_budget {
            // As the orchestrator does: not every host got the version, so not a success.
            DeployState::Failed
        } else {
            DeployState::RolledBack
        };
        let reason = if broken.is_empty() {
            reason
        } else {
            format!("{reason}; rollback failed: {}", broken.join("; "))
        };
        Outcome {
            state,
            reason: Some(reason),
            left_out,
        }
    }
}

/// Where one run's callback plugin and its events live.
struct Events {
    dir: PathBuf,
    file: PathBuf,
}

impl AnsibleDeploy {
    /// Writes the callback plugin beside the log (a private directory) and starts a fresh
    /// events file for `phase`.
    fn callback(&self, phase: &str) -> Result<Events, String> {
        let dir = self.plan.log_path.with_extension("ansible");
        crate::paths::private_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let plugin = dir.join(format!("{}.py", parse::PLUGIN_NAME));
        crate::paths::write_private(&plugin, parse::PLUGIN.as_bytes())
            .map_err(|e| format!("{}: {e}", plugin.display()))?;
        let file = dir.join(format!("{phase}.events.jsonl"));
        crate::paths::write_private(&file, b"").map_err(|e| format!("{}: {e}", file.display()))?;
        Ok(Events { dir, file })
    }
}

/// Reads the events file as it grows, whole lines only.
#[derive(Default)]
struct EventReader {
    offset: u64,
    partial: Vec<u8>,
}

impl EventReader {
    fn read(&mut self, path: &Path, parser: &mut Parser<'_>) {
        use std::io::{Seek, SeekFrom};
        let Ok(mut f) = std::fs::File::open(path) else {
            return;
        };
        if f.seek(SeekFrom::Start(self.offset)).is_err() {
            return;
        }
        let mut chunk = Vec::new();
        let Ok(n) = f.read_to_end(&mut chunk) else {
            return;
        };
        self.offset += n as u64;
        self.partial.extend_from_slice(&chunk);
        while let Some(end) = memchr::memchr(b'\n', &self.partial) {
            let line: Vec<u8> = self.partial.drain(..=end).collect();
            parser.line(&String::from_utf8_lossy(&line));
        }
    }
}

fn sanitize(v: &str) -> String {
    v.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(40)
        .collect()
}
