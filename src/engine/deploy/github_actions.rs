//! The `github-actions` engine: a deploy dispatches the target's workflow with the version,
//! follows exactly the run it started (F12) to its end, runs the smoke gates, and on failure
//! dispatches the previous version the same way, once. The environment is the target's one
//! node; the journal records the run id, so a resumed runner follows the same run and never
//! dispatches twice.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{DeployPlan, GateRun, Journal, Outcome, gates};
use crate::config::target::GithubDeployConfig;
use crate::domain::{DeployState, RunStatus, Workflow};
use crate::providers::github::Clients;
use crate::providers::github::dispatch::{Dispatched, Dispatcher};

/// How often a run's status is read.
const POLL: Duration = Duration::from_secs(5);

/// One deploy through a workflow.
pub struct ActionsDeploy {
    plan: DeployPlan,
    journal: Arc<dyn Journal>,
    cfg: GithubDeployConfig,
    d: Dispatcher,
    poll: Duration,
}

impl ActionsDeploy {
    /// The deploy of `plan`, dispatching through the provider the plan carries; pending
    /// dispatches are kept in the store at `store_path`.
    pub fn new(
        plan: DeployPlan,
        journal: Arc<dyn Journal>,
        store_path: &Path,
    ) -> Result<ActionsDeploy, String> {
        let provider = plan
            .github
            .clone()
            .ok_or("the plan names no github provider")?;
        let cfg = plan
            .target
            .github
            .clone()
            .ok_or("the target has no `github` table")?;
        let (client, _) = Clients::default().for_provider(&provider)?;
        let poll = cfg
            .poll_secs
            .map_or(POLL, |s| Duration::from_secs(s.max(1)));
        Ok(ActionsDeploy {
            d: Dispatcher {
                provider: provider.id.clone(),
                client,
                store: store_path.to_path_buf(),
                actor: format!("deploy of {}", plan.target.name),
                find: (3, poll),
            },
            plan,
            journal,
            cfg,
            poll,
        })
    }

    fn node(&self) -> String {
        self.plan
            .target
            .nodes
            .first()
            .cloned()
            .unwrap_or_else(|| self.plan.target.environment.clone())
    }

    /// Finds the run of this phase: from the journal (a resumed runner), from a dispatch whose
    /// run had not shown yet, or by dispatching now.
    async fn start(
        &self,
        phase: &str,
        w: &Workflow,
        version: &str,
        until: Instant,
    ) -> Result<u64, String> {
        let node = self.node();
        if let Some(id) = self
            .journal
            .detail(phase, &node, "dispatch")
            .and_then(|d| d.parse().ok())
        {
            return Ok(id);
        }
        self.journal
            .record(phase, &node, "dispatch", "start", version);
        let found = self.d.reconcile(w).await.map_err(|e| e.to_string())?;
        let pending = self.d.pending(w).map_err(|e| e.to_string())?;
        let run = match found {
            Some(id) => Some(id),
            // An earlier attempt's dispatch is on its way: wait for its run, never send again.
            None if pending => None,
            None => {
                let mut values: BTreeMap<String, String> = self.cfg.inputs.clone();
                values.insert(
                    self.cfg
                        .version_input
                        .clone()
                        .unwrap_or_else(|| "version".into()),
                    version.to_string(),
                );
                let git_ref = self.cfg.git_ref.clone().unwrap_or(w.default_ref.clone());
                match self.d.dispatch(w, &git_ref, &values).await {
                    Ok(Dispatched::Run(id)) => id.rsplit('/').next().and_then(|n| n.parse().ok()),
                    Ok(Dispatched::Pending(_)) => None,
                    Err(e) => {
                        self.journal
                            .record(phase, &node, "dispatch", "fail", &e.to_string());
                        return Err(format!("dispatch of {}: {e}", w.name));
                    }
                }
            }
        };
        let mut run = run;
        // Accepted but not seen yet: look again (never send again) until the deadline.
        while run.is_none() {
            if Instant::now() >= until {
                let why = format!("{} was dispatched but its run never appeared", w.name);
                self.journal.record(phase, &node, "dispatch", "fail", &why);
                return Err(why);
            }
            tokio::time::sleep(self.poll).await;
            run = self.d.reconcile(w).await.map_err(|e| e.to_string())?;
        }
        let id = run.unwrap_or_default();
        self.journal
            .record(phase, &node, "dispatch", "ok", &id.to_string());
        Ok(id)
    }

    /// Dispatches `version` and follows its run to the end.
    async fn roll(&self, phase: &str, version: &str, deadline: Duration) -> Result<(), String> {
        let node = self.node();
        if let Some(done) = self.journal.outcome(phase, &node, "run") {
            return done;
        }
        let until = Instant::now() + deadline;
        let w = self
            .d
            .workflow(&self.cfg.repo, &self.cfg.workflow)
            .await
            .map_err(|e| format!("workflow {}: {e}", self.cfg.workflow))?;
        let run = self.start(phase, &w, version, until).await?;
        self.journal.record(
            phase,
            &node,
            "run",
            "start",
            &format!("{}/actions/runs/{run}", self.cfg.repo),
        );
        let mut errors = 0;
        let result = loop {
            if self.journal.abort_requested() {
                let _ = self.d.cancel(&self.cfg.repo, run).await;
                break Err("aborted by an operator: run cancelled".to_string());
            }
            if Instant::now() >= until {
                let _ = self.d.cancel(&self.cfg.repo, run).await;
                break Err(format!(
                    "run {run} did not finish within {}s: cancelled",
                    deadline.as_secs()
                ));
            }
            match self.d.run_state(&self.cfg.repo, run).await {
                Ok((RunStatus::Success, _, _)) => break Ok(()),
                Ok((s, conclusion, url)) if s.is_final() => {
                    break Err(format!("run {run} ended {conclusion} {url}")
                        .trim()
                        .to_string());
                }
                Ok(_) => errors = 0,
                // A few failed reads in a row are the network; many are an answer.
                Err(e) => {
                    errors += 1;
                    if errors >= 12 {
                        break Err(format!("cannot follow run {run}: {e}"));
                    }
                }
            }
            tokio::time::sleep(self.poll).await;
        };
        match &result {
            Ok(()) => self.journal.record(phase, &node, "run", "ok", ""),
            Err(e) => self.journal.record(phase, &node, "run", "fail", e),
        }
        result
    }

    async fn smoke(&self) -> Result<(), String> {
        let node = self.node();
        for g in &self.plan.target.smoke {
            let step = format!("smoke {}", g.name);
            if let Some(done) = self.journal.outcome("forward", &node, &step) {
                done?;
                continue;
            }
            self.journal.record("forward", &node, &step, "start", "");
            let r = gates::run(
                &self.plan,
                GateRun {
                    gate: g,
                    node: &node,
                    version: &self.plan.to,
                    node_url: None,
                },
            )
            .await;
            match &r {
                Ok(()) => self.journal.record("forward", &node, &step, "ok", ""),
                Err(e) => self.journal.record("forward", &node, &step, "fail", e),
            }
            r?;
        }
        Ok(())
    }

    /// Runs the deploy to its end.
    pub async fn run(&self) -> Outcome {
        let node = self.node();
        let deadline = self.plan.target.strategy.node_deadline();
        let forward = match self.roll("forward", &self.plan.to, deadline).await {
            Ok(()) => self.smoke().await,
            Err(e) => Err(e),
        };
        let reason = match forward {
            Ok(()) => {
                self.journal
                    .set_node(&node, Some(&self.plan.to), "in_rotation");
                return Outcome {
                    state: DeployState::Succeeded,
                    reason: None,
                    left_out: Vec::new(),
                };
            }
            Err(e) => e,
        };
        self.journal.set_node(&node, None, "failed");
        let previous = self.plan.from_version();
        let (Some(prev), true) = (previous, self.plan.target.auto_rollback) else {
            return Outcome {
                state: DeployState::Failed,
                reason: Some(reason),
                left_out: Vec::new(),
            };
        };
        match self.roll("rollback", &prev, deadline).await {
            Ok(()) => {
                self.journal.set_node(&node, Some(&prev), "in_rotation");
                Outcome {
                    state: DeployState::RolledBack,
                    reason: Some(reason),
                    left_out: Vec::new(),
                }
            }
            Err(e) => Outcome {
                state: DeployState::FailedRollback,
                reason: Some(format!("{reason}; rollback to {prev}: {e}")),
                left_out: Vec::new(),
            },
        }
    }
}
