//! Starting, resuming and aborting deploys through the mutation gate: shared by the headless
//! commands and the cockpit, so both take the same lock and start the same runner.

use std::path::{Path, PathBuf};

pub use super::view::runner_alive;
use super::{DeployKind, DeployPlan, LOCK_TTL_SECS, runner, view};
use crate::config::TargetConfig;
use crate::engine::gate::{Gate, GateError};
use crate::providers::ProviderError;
use crate::store::{DeployRecord, LockError, NewDeploy, Store, StoreError};

/// What starting a runner needs: the store, the state dir, who acts and the binary.
#[derive(Clone, Debug)]
pub struct Launcher {
    /// The workspace's store.
    pub store_path: PathBuf,
    /// The state dir (logs, fleet output).
    pub state_dir: PathBuf,
    /// Relative paths in targets are from here.
    pub base_dir: PathBuf,
    /// `user@host`.
    pub actor: String,
    /// The flightdeck binary the runner runs as.
    pub program: PathBuf,
    /// The workspace's providers (a `github-actions` plan carries its provider's settings).
    pub providers: Vec<crate::config::ProviderConfig>,
    /// The `[http]` defaults, carried in each plan for its gates.
    pub http: crate::config::http::HttpDefaults,
}

fn other(e: impl std::fmt::Display) -> ProviderError {
    ProviderError::Other(e.to_string())
}

/// A lock that is held, or a deploy that is unfinished or over, refuses; a store error fails.
fn lock_err(e: LockError) -> ProviderError {
    match e {
        LockError::Store(e) => other(e),
        e => ProviderError::Conflict(e.to_string()),
    }
}

/// The running (or interrupted) deploy of a target, if any.
pub fn unfinished(store: &Store, target: &str) -> Result<Option<DeployRecord>, StoreError> {
    Ok(store
        .deploys(target, 1)?
        .into_iter()
        .next()
        .filter(|d| d.state == "running"))
}

/// Why a new deploy of `target` must wait, if it must: one running, or one interrupted.
pub fn busy(store: &Store, target: &str) -> Result<Option<String>, StoreError> {
    let Some(d) = unfinished(store, target)? else {
        return Ok(None);
    };
    Ok(Some(if runner_alive(&d) {
        format!(
            "deploy #{} of {target} is running (runner pid {}, {} → {}); follow it with `flightdeck deploy {target} --resume`, stop it with `flightdeck deploy {target} --abort`",
            d.id,
            d.pid.unwrap_or(0),
            d.from.as_deref().unwrap_or("nothing"),
            d.to,
        )
    } else {
        LockError::Unfinished(d.id, target.to_string()).to_string()
    }))
}

/// The version the last successful deploy replaced: what a rollback returns to.
pub fn rollback_version(store: &Store, target: &str) -> Result<Result<String, String>, StoreError> {
    let last_ok = store
        .deploys(target, 200)?
        .into_iter()
        .find(|d| d.kind == "deploy" && d.state == "succeeded");
    Ok(match last_ok {
        None => Err(format!(
            "nothing to roll back: {target} has no successful deploy"
        )),
        Some(d) => d.from.ok_or(format!(
            "nothing to roll back to: deploy #{} put the first version ({}) on {target}",
            d.id, d.to
        )),
    })
}

/// The versions `t` is known to have, newest first: `remote` (its GitHub releases), the
/// workspace's releases, its `versions` and what it ran before. `None` when it knows none of
/// its own (no `versions`, no GitHub releases), so any version goes: the releases of local
/// pipelines only add to a list a target has, they do not make one for it.
pub fn known_versions(
    store: &Store,
    t: &TargetConfig,
    remote: &[String],
) -> Result<Option<Vec<String>>, StoreError> {
    if t.versions.is_empty() && remote.is_empty() {
        return Ok(None);
    }
    let releases: Vec<String> = store.releases()?.into_iter().map(|r| r.version).collect();
    let history = store.deploys(&t.name, 200)?;
    let mut known: Vec<String> = Vec::new();
    let all = remote
        .iter()
        .cloned()
        .chain(releases)
        .chain(t.versions.iter().rev().cloned())
        .chain(
            history
                .into_iter()
                .flat_map(|d| [Some(d.to), d.from])
                .flatten(),
        );
    for v in all {
        if !known.contains(&v) {
            known.push(v);
        }
    }
    Ok(Some(known))
}

/// Whether `version` may be deployed to `t`: refused, with the known ones, when `t` knows its
/// versions and this is not one of them.
pub fn check_known(
    store: &Store,
    t: &TargetConfig,
    version: &str,
    remote: &[String],
) -> Result<Result<(), String>, StoreError> {
    let Some(known) = known_versions(store, t, remote)? else {
        return Ok(Ok(()));
    };
    if known.iter().any(|v| v == version) {
        return Ok(Ok(()));
    }
    const SHOWN: usize = 10;
    let more = known.len().saturating_sub(SHOWN);
    Ok(Err(format!(
        "{version} is not a known version of {}: known are {}{}; pass --allow-unknown-version to deploy it anyway",
        t.name,
        known[..known.len().min(SHOWN)].join(", "),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        }
    )))
}

/// Whether a target can be deployed from here: its programs exist and an Ansible inventory
/// lists hosts. What was found, or what is missing.
pub fn check_target(t: &TargetConfig, base: &Path) -> Result<String, String> {
    use crate::config::EngineKind;
    let find = |argv: &Option<Vec<String>>| -> Result<(), String> {
        let Some(program) = argv.as_ref().and_then(|a| a.first()) else {
            return Ok(());
        };
        let found = if program.contains('/') {
            base.join(program).exists()
        } else {
            std::env::var_os("PATH")
                .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        };
        if found {
            Ok(())
        } else {
            Err(format!("{program} not found"))
        }
    };
    match t.engine {
        EngineKind::LocalFleet => {
            find(&t.run)?;
            Ok(crate::domain::count(t.nodes.len(), "node"))
        }
        EngineKind::Script => {
            let s = &t.script;
            for argv in [
                &s.drain,
                &s.deploy,
                &s.health,
                &s.smoke,
                &s.undrain,
                &s.rollback,
            ] {
                find(argv)?;
            }
            Ok(crate::domain::count(t.nodes.len(), "node"))
        }
        EngineKind::GithubActions => Ok(t.github.as_ref().map_or(String::new(), |g| {
            format!("workflow {} in {}", g.workflow, g.repo)
        })),
        EngineKind::Ansible => {
            find(&Some(vec!["ansible-playbook".to_string()]))?;
            let hosts = match &t.inventory {
                Some(inv) => super::ansible::hosts(inv, base)?,
                None => t.nodes.clone(),
            };
            Ok(crate::domain::count(hosts.len(), "host"))
        }
    }
}

impl Launcher {
    /// Plans `kind` to `to` on `t` from what its nodes run now.
    pub fn plan(
        &self,
        store: &Store,
        t: &TargetConfig,
        kind: DeployKind,
        to: &str,
    ) -> Result<DeployPlan, String> {
        let mut t = t.clone();
        if t.nodes.is_empty()
            && let Some(inv) = &t.inventory
        {
            // An Ansible target without a node list deploys to its inventory's hosts.
            t.nodes = super::ansible::hosts(inv, &self.base_dir)?;
        }
        let t = &t;
        let known = view::current_versions(store, t).map_err(|e| e.to_string())?;
        let current = t
            .nodes
            .iter()
            .map(|n| (n.clone(), known.get(n).cloned().flatten()))
            .collect();
        let hint = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3f").to_string();
        let mut plan = DeployPlan::new(
            t,
            kind,
            to,
            &current,
            self.base_dir.clone(),
            self.program.clone(),
            runner::log_path(&self.state_dir, &t.name, &hint),
        );
        plan.http = self.http.clone();
        if let Some(g) = &t.github {
            plan.github = Some(
                self.providers
                    .iter()
                    .find(|p| p.id == g.provider)
                    .cloned()
                    .ok_or_else(|| format!("no github provider {:?}", g.provider))?,
            );
        }
        Ok(plan)
    }

    /// Starts the runner of deploy `id`, reaped by a thread of this process.
    fn spawn(&self, id: i64, log: &Path) -> Result<u32, ProviderError> {
        let mut child = runner::spawn(&self.program, &self.store_path, &self.state_dir, id, log)
            .map_err(other)?;
        let pid = child.id();
        std::thread::spawn(move || child.wait());
        Ok(pid)
    }

    /// Records the deploy, takes the lock and starts its runner, all through the gate:
    /// the deploy's id and the runner's pid.
    pub async fn start(&self, gate: &Gate, plan: &DeployPlan) -> Result<(i64, u32), GateError> {
        let new = NewDeploy {
            target: plan.target.name.clone(),
            kind: plan.kind.as_str().into(),
            from: plan.from_version(),
            to: plan.to.clone(),
            plan: serde_json::to_string(plan).map_err(other)?,
            actor: self.actor.clone(),
        };
        let detail = format!("{} → {}", new.from.as_deref().unwrap_or("nothing"), new.to);
        let work = async {
            let mut store = Store::open(&self.store_path).map_err(other)?;
            store
                .writable(&format!("{} {}", plan.kind.as_str(), plan.target.name))
                .map_err(other)?;
            // The runner's log must be writable before anything is recorded: a deploy that
            // cannot start leaves nothing behind.
            runner::open_log(&plan.log_path).map_err(other)?;
            let now = crate::domain::now();
            let (id, lock) = store
                .begin_deploy(&new, &self.actor, std::process::id(), LOCK_TTL_SECS, now)
                .map_err(lock_err)?;
            match self.spawn(id, &plan.log_path) {
                Ok(pid) => Ok((id, pid)),
                Err(e) => {
                    // Nothing ran: the deploy ends here and the target is free again.
                    let _ = store.finish_deploy(id, "failed", Some(&e.to_string()), now);
                    let _ = store.release_lock(&lock);
                    Err(e)
                }
            }
        };
        let target = format!("target:{}", plan.target.name);
        gate.run(plan.kind.as_str(), &target, &detail, work).await
    }

    /// Starts a fresh runner for an interrupted deploy (its journal says what is done).
    pub async fn resume(&self, gate: &Gate, d: &DeployRecord) -> Result<u32, GateError> {
        let log = serde_json::from_str::<DeployPlan>(&d.plan)
            .map(|p| p.log_path)
            .unwrap_or_else(|_| runner::log_path(&self.state_dir, &d.target, &d.id.to_string()));
        let work = async {
            let mut store = Store::open(&self.store_path).map_err(other)?;
            store
                .resume_lock(
                    d.id,
                    &self.actor,
                    std::process::id(),
                    crate::domain::now(),
                    runner_alive(d),
                )
                .map_err(lock_err)?;
            self.spawn(d.id, &log)
        };
        let target = format!("target:{}", d.target);
        gate.run("deploy_resume", &target, &format!("deploy #{}", d.id), work)
            .await
    }

    /// Asks deploy `d` to stop and roll back; a dead runner is replaced so the rollback
    /// happens. The new runner's pid when one was started.
    pub async fn abort(&self, gate: &Gate, d: &DeployRecord) -> Result<Option<u32>, GateError> {
        let target = format!("target:{}", d.target);
        let work = async {
            let asked = Store::open(&self.store_path)
                .and_then(|s| s.request_abort(d.id))
                .map_err(other)?;
            if asked {
                Ok(())
            } else {
                Err(ProviderError::Conflict(format!(
                    "deploy #{} already ended",
                    d.id
                )))
            }
        };
        gate.run("deploy_abort", &target, &format!("deploy #{}", d.id), work)
            .await?;
        if runner_alive(d) {
            Ok(None)
        } else {
            self.resume(gate, d).await.map(Some)
        }
    }

    /// Frees a lock kept for a human (audited): what was freed, if the id matched.
    pub async fn unlock(
        &self,
        gate: &Gate,
        target: &str,
        lock_id: &str,
    ) -> Result<Option<crate::store::LockInfo>, GateError> {
        let work = async {
            let mut store = Store::open(&self.store_path).map_err(other)?;
            // Unlocking under a live runner would let a second deploy change the same nodes.
            if let Some(l) = store.lock(target).map_err(other)?
                && l.lock_id == lock_id
                && let Ok(d) = store.deploy(l.deploy_id)
                && d.state == "running"
                && runner_alive(&d)
            {
                return Err(ProviderError::Conflict(format!(
                    "deploy #{} of {target} is still running (runner pid {}); abort it (`flightdeck deploy {target} --abort`) instead",
                    d.id,
                    d.pid.unwrap_or(0)
                )));
            }
            store
                .force_unlock(target, lock_id, crate::domain::now())
                .map_err(other)
        };
        gate.run("force_unlock", &format!("target:{target}"), lock_id, work)
            .await
    }
}
