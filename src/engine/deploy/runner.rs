//! The detached deploy runner: a process of its own session that owns one deploy from start
//! (or resume) to its final state, writing one durable journal record per step.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::local_fleet::LocalFleet;
use super::script::Script;
use super::{DeployPlan, Engine, Journal, Orchestrator, Outcome};
use crate::config::EngineKind;
use crate::domain::DeployState;
use crate::store::{JournalEntry, Store};

/// The journal in the store, with each record also written to the deploy's log.
pub struct StoreJournal {
    store: Mutex<Store>,
    deploy_id: i64,
    target: String,
    seen: Mutex<Vec<JournalEntry>>,
    log: Mutex<Option<std::fs::File>>,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl StoreJournal {
    /// The journal of deploy `deploy_id`, with what earlier attempts recorded.
    pub fn open(
        store_path: &Path,
        deploy_id: i64,
        target: &str,
        log: &Path,
    ) -> Result<Self, String> {
        let store = Store::open(store_path).map_err(|e| e.to_string())?;
        store.durable().map_err(|e| e.to_string())?;
        let seen = store.journal(deploy_id, 0).map_err(|e| e.to_string())?;
        Ok(StoreJournal {
            store: Mutex::new(store),
            deploy_id,
            target: target.to_string(),
            seen: Mutex::new(seen),
            log: Mutex::new(crate::paths::append_private(log).ok()),
        })
    }

    /// Nodes an earlier attempt left drained, by its journal.
    pub fn drained_nodes(&self) -> Vec<String> {
        let mut drained = std::collections::BTreeSet::new();
        for e in self.seen.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            match (e.step.as_str(), e.status.as_str()) {
                ("drain", "start" | "ok") => {
                    drained.insert(e.node.clone());
                }
                ("undrain", "ok") => {
                    drained.remove(&e.node);
                }
                _ => {}
            }
        }
        drained.into_iter().collect()
    }

    fn log_line(&self, line: &str) {
        if let Some(f) = self.log.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            let _ = writeln!(f, "{line}");
        }
    }
}

impl Journal for StoreJournal {
    fn record(&self, phase: &str, node: &str, step: &str, status: &str, detail: &str) {
        let e = JournalEntry {
            seq: 0,
            ts_ms: now_ms(),
            phase: phase.into(),
            node: node.into(),
            step: step.into(),
            status: status.into(),
            detail: detail.into(),
        };
        self.log_line(&format_entry(&e));
        let store = self.store.lock().unwrap_or_else(|p| p.into_inner());
        // A journal that cannot be written is a runner that cannot promise anything: retry
        // briefly (the store may be busy), then say so loudly.
        let mut tries = 0;
        while let Err(err) = store.journal_append(self.deploy_id, &e) {
            tries += 1;
            if tries >= 20 {
                tracing::error!(error = %err, "journal record lost");
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).push(e);
    }

    fn outcome(&self, phase: &str, node: &str, step: &str) -> Option<Result<(), String>> {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.iter()
            .rev()
            .find(|e| e.phase == phase && e.node == node && e.step == step && e.status != "start")
            .map(|e| {
                if e.status == "ok" {
                    Ok(())
                } else {
                    Err(e.detail.clone())
                }
            })
    }

    fn began(&self, phase: &str, node: &str, step: &str) -> bool {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.iter()
            .any(|e| e.phase == phase && e.node == node && e.step == step)
    }

    fn detail(&self, phase: &str, node: &str, step: &str) -> Option<String> {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.iter()
            .rev()
            .find(|e| e.phase == phase && e.node == node && e.step == step && e.status == "ok")
            .map(|e| e.detail.clone())
    }

    fn set_node(&self, node: &str, version: Option<&str>, state: &str) {
        let store = self.store.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = store.set_node(&self.target, node, version, state, crate::domain::now()) {
            tracing::error!(error = %e, node, "node state not written");
        }
    }

    fn abort_requested(&self) -> bool {
        let store = self.store.lock().unwrap_or_else(|p| p.into_inner());
        store
            .deploy(self.deploy_id)
            .map(|d| d.abort_requested)
            .unwrap_or(false)
    }
}

/// One journal record as a line: time (UTC, like every stored time), phase, node, step,
/// status and detail.
pub fn format_entry(e: &JournalEntry) -> String {
    let time = chrono::DateTime::from_timestamp_millis(e.ts_ms)
        .map(|t| t.format("%H:%M:%SZ").to_string())
        .unwrap_or_default();
    format!(
        "{time} {:<8} {:<12} {:<14} {}{}{}",
        e.phase,
        if e.node.is_empty() { "-" } else { &e.node },
        e.step,
        e.status,
        if e.detail.is_empty() { "" } else { ": " },
        e.detail
    )
}

/// The engine a plan names.
pub fn engine_for(
    plan: &DeployPlan,
    store_path: &Path,
    state_dir: &Path,
) -> Result<Arc<dyn Engine>, String> {
    match plan.target.engine {
        EngineKind::LocalFleet => {
            let logs = state_dir
                .join("fleet")
                .join(crate::paths::name_for(&plan.target.name));
            Ok(Arc::new(LocalFleet::new(plan, store_path, logs)?))
        }
        EngineKind::Script => Ok(Arc::new(Script::new(plan))),
        EngineKind::Ansible => Err("the ansible engine runs whole playbooks, not steps".into()),
        EngineKind::GithubActions => Err("the github-actions engine runs whole workflows".into()),
    }
}

/// Where a deploy's log lives.
pub fn log_path(state_dir: &Path, target: &str, id_hint: &str) -> PathBuf {
    state_dir
        .join("deploys")
        .join(format!("{}-{id_hint}.log", crate::paths::name_for(target)))
}

/// Runs (or resumes) deploy `deploy_id` to its end: the body of `flightdeck deploy-runner`.
pub async fn run(store_path: &Path, state_dir: &Path, deploy_id: i64) -> Result<Outcome, String> {
    let store = Store::open(store_path).map_err(|e| e.to_string())?;
    store.durable().map_err(|e| e.to_string())?;
    let d = store.deploy(deploy_id).map_err(|e| e.to_string())?;
    let plan: DeployPlan =
        serde_json::from_str(&d.plan).map_err(|e| format!("deploy #{deploy_id}: bad plan: {e}"))?;
    store
        .set_runner(deploy_id, std::process::id())
        .map_err(|e| e.to_string())?;
    let lock_id = store
        .lock(&d.target)
        .map_err(|e| e.to_string())?
        .filter(|l| l.deploy_id == deploy_id)
        .map(|l| l.lock_id)
        .ok_or_else(|| format!("deploy #{deploy_id} does not hold the lock of {}", d.target))?;
    let journal = Arc::new(StoreJournal::open(
        store_path,
        deploy_id,
        &d.target,
        &plan.log_path,
    )?);
    let beat = {
        let (path, lock) = (store_path.to_path_buf(), lock_id.clone());
        tokio::spawn(async move {
            let Ok(s) = Store::open(&path) else { return };
            loop {
                let _ = s.heartbeat(&lock, crate::domain::now());
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        })
    };
    let started = journal.outcome("deploy", "", "begin").is_some();
    journal.record(
        "deploy",
        "",
        if started { "resume" } else { "begin" },
        "ok",
        &format!(
            "{} → {} by {}",
            d.from.as_deref().unwrap_or("nothing"),
            d.to,
            d.actor
        ),
    );
    let outcome = if plan.target.engine == EngineKind::Ansible {
        super::ansible::AnsibleDeploy::new(plan.clone(), journal.clone())
            .run()
            .await
    } else if plan.target.engine == EngineKind::GithubActions {
        match super::github_actions::ActionsDeploy::new(plan.clone(), journal.clone(), store_path) {
            Ok(d) => d.run().await,
            Err(e) => Outcome {
                state: DeployState::Failed,
                reason: Some(e),
                left_out: Vec::new(),
            },
        }
    } else {
        match engine_for(&plan, store_path, state_dir) {
            Ok(engine) => {
                let orch = Orchestrator::new(plan.clone(), engine, journal.clone());
                orch.assume_drained(&journal.drained_nodes());
                orch.run().await
            }
            Err(e) => Outcome {
                state: DeployState::Failed,
                reason: Some(e),
                left_out: Vec::new(),
            },
        }
    };
    beat.abort();
    finish(&store, &d, &lock_id, &outcome, journal.as_ref())?;
    Ok(outcome)
}

fn finish(
    store: &Store,
    d: &crate::store::DeployRecord,
    lock_id: &str,
    o: &Outcome,
    journal: &dyn Journal,
) -> Result<(), String> {
    let state = state_name(o.state);
    let mut reason = o.reason.clone();
    if !o.left_out.is_empty() {
        let list: Vec<String> = o
            .left_out
            .iter()
            .map(|(n, w)| format!("{n}: {w}"))
            .collect();
        let r = reason.get_or_insert_default();
        if !r.is_empty() {
            r.push_str("; ");
        }
        r.push_str(&format!("left out of rotation: {}", list.join(", ")));
    }
    journal.record("deploy", "", "end", state, reason.as_deref().unwrap_or(""));
    let now = crate::domain::now();
    store
        .finish_deploy(d.id, state, reason.as_deref(), now)
        .map_err(|e| e.to_string())?;
    if o.state == DeployState::FailedRollback {
        store
            .hold_lock(lock_id, "needs human: the rollback failed")
            .map_err(|e| e.to_string())?;
    } else {
        store.release_lock(lock_id).map_err(|e| e.to_string())?;
    }
    // Every final state is an event: failures open incidents, a success resolves them.
    if matches!(
        o.state,
        DeployState::RolledBack
            | DeployState::Failed
            | DeployState::FailedRollback
            | DeployState::Succeeded
    ) {
        let detail = serde_json::json!({
            "deploy": d.id, "target": d.target, "from": d.from, "to": d.to,
            "state": state, "reason": reason,
        });
        store
            .record_event(
                &format!("deploy_{state}"),
                &format!("deploy:{}", d.target),
                &detail.to_string(),
                now,
            )
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The stored name of a deploy state.
pub fn state_name(s: DeployState) -> &'static str {
    match s {
        DeployState::Idle => "idle",
        DeployState::Running => "running",
        DeployState::Succeeded => "succeeded",
        DeployState::RolledBack => "rolled_back",
        DeployState::Failed => "failed",
        DeployState::FailedRollback => "failed_rollback",
    }
}

/// Opens (creating it and its directory, private) a deploy's log for appending; the error
/// names the path.
pub fn open_log(log: &Path) -> Result<std::fs::File, String> {
    if let Some(dir) = log.parent() {
        crate::paths::private_dir(dir)
            .map_err(|e| format!("cannot create the deploy log dir {}: {e}", dir.display()))?;
    }
    crate::paths::append_private(log)
        .map_err(|e| format!("cannot write the deploy log {}: {e}", log.display()))
}

/// Starts the runner for deploy `deploy_id` as a process that outlives its parent: it makes
/// its own session at start, so no terminal's hang-up reaches it.
pub fn spawn(
    program: &Path,
    store_path: &Path,
    state_dir: &Path,
    deploy_id: i64,
    log: &Path,
) -> Result<Child, String> {
    let out = open_log(log)?;
    Command::new(program)
        .arg("deploy-runner")
        .arg("--store")
        .arg(store_path)
        .arg("--id")
        .arg(deploy_id.to_string())
        .env(crate::paths::STATE_DIR_ENV, state_dir)
        .stdin(Stdio::null())
        .stdout(out.try_clone().map_err(|e| e.to_string())?)
        .stderr(out)
        .spawn()
        .map_err(|e| format!("cannot start the deploy runner: {e}"))
}

/// The runner process's own set-up: a new session (no controlling terminal, so no SIGHUP
/// from one) and SIGHUP ignored for good measure.
pub fn detach() {
    let _ = nix::unistd::setsid();
}
