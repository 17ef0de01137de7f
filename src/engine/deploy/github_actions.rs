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
use crate::providers::ProviderError;
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
                // Each deploy's dispatches are its own: its log name is unique to it.
                actor: format!(
                    "deploy {}",
                    plan.log_path
                        .file_stem()
                        .map_or(plan.target.name.clone(), |s| s
                            .to_string_lossy()
                            .into_owned())
                ),
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
        // The forward and the rollback dispatch never take each other's run.
        let d = Dispatcher {
            actor: format!("{} {phase}", self.d.actor),
            ..self.d.clone()
        };
        if let Some(id) = self
            .journal
            .detail(phase, &node, "dispatch")
            .and_then(|d| d.parse().ok())
        {
            return Ok(id);
        }
        self.journal
            .record(phase, &node, "dispatch", "start", version);
        let found = d.reconcile(w).await.map_err(|e| e.to_string())?;
        let pending = d.pending(w).map_err(|e| e.to_string())?;
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
                match d.dispatch(w, &git_ref, &values).await {
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
            // A rate limit or a blip: look again later, never send again.
            run = d.reconcile(w).await.unwrap_or_default();
        }
        let id = run.unwrap_or_default();
        self.journal
            .record(phase, &node, "dispatch", "ok", &id.to_string());
        Ok(id)
    }

    /// Dispatches `version` and follows its run to the end.
    async fn roll(&self, phase: &str, version: &str, deadline: Duration) -> Result<(), Roll> {
        let node = self.node();
        if let Some(done) = self.journal.outcome(phase, &node, "run") {
            return done.map_err(Roll::Failed);
        }
        let until = Instant::now() + deadline;
        let w = self
            .d
            .workflow(&self.cfg.repo, &self.cfg.workflow)
            .await
            .map_err(|e| Roll::Failed(format!("workflow {}: {e}", self.cfg.workflow)))?;
        let run = self
            .start(phase, &w, version, until)
            .await
            .map_err(Roll::Failed)?;
        self.journal.record(
            phase,
            &node,
            "run",
            "start",
            &format!("{}/actions/runs/{run}", self.cfg.repo),
        );
        let mut errors = 0;
        let result = loop {
            // An abort stops the forward run; the rollback it asked for runs to its end.
            let stop = if phase == "forward" && self.journal.abort_requested() {
                Some("aborted by an operator".to_string())
            } else if Instant::now() >= until {
                Some(format!(
                    "run {run} did not finish within {}s",
                    deadline.as_secs()
                ))
            } else {
                None
            };
            if let Some(why) = stop {
                // Only a run known to be stopping is left behind; else a human decides.
                break match self.d.cancel(&self.cfg.repo, run).await {
                    Ok(()) => Err(Roll::Failed(format!("{why}: run cancelled"))),
                    Err(e) => Err(Roll::Unsettled(format!(
                        "{why}, and cancelling run {run} failed ({e}): it may still be running"
                    ))),
                };
            }
            match self.d.run_state(&self.cfg.repo, run).await {
                Ok((RunStatus::Success, _, _)) => break Ok(()),
                Ok((s, conclusion, url)) if s.is_final() => {
                    break Err(Roll::Failed(
                        format!("run {run} ended {conclusion} {url}")
                            .trim()
                            .to_string(),
                    ));
                }
                Ok(_) => errors = 0,
                // Asked to wait (a rate limit, a back-off): wait, it is not the run's fault.
                Err(ProviderError::RateLimited(_)) => {}
                Err(_)
                    if self
                        .d
                        .client
                        .budget()
                        .wait_until
                        .is_some_and(|u| u > crate::domain::now()) => {}
                // A few failed reads in a row are the network; many are an answer.
                Err(e) => {
                    errors += 1;
                    if errors >= 12 {
                        break Err(Roll::Unsettled(format!(
                            "cannot follow run {run}: {e}; it may still be running"
                        )));
                    }
                }
            }
            tokio::time::sleep(self.poll).await;
        };
        match &result {
            Ok(()) => self.journal.record(phase, &node, "run", "ok", ""),
            Err(e) => self.journal.record(phase, &node, "run", "fail", e.text()),
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
            Ok(()) => self.smoke().await.map_err(Roll::Failed),
            Err(e) => Err(e),
        };
        let outcome = |state, reason| Outcome {
            state,
            reason,
            left_out: Vec::new(),
        };
        let reason = match forward {
            Ok(()) => {
                self.journal
                    .set_node(&node, Some(&self.plan.to), "in_rotation");
                return outcome(DeployState::Succeeded, None);
            }
            // Its run may still change the environment: no rollback over it; a human decides.
            Err(Roll::Unsettled(e)) => {
                self.journal.set_node(&node, None, "unknown");
                return outcome(DeployState::FailedRollback, Some(e));
            }
            Err(Roll::Failed(e)) => e,
        };
        self.journal.set_node(&node, None, "failed");
        let previous = self.plan.from_version();
        let (Some(prev), true) = (previous, self.plan.target.auto_rollback) else {
            return outcome(DeployState::Failed, Some(reason));
        };
        match self.roll("rollback", &prev, deadline).await {
            Ok(()) => {
                self.journal.set_node(&node, Some(&prev), "in_rotation");
                outcome(DeployState::RolledBack, Some(reason))
            }
            Err(e) => outcome(
                DeployState::FailedRollback,
                Some(format!("{reason}; rollback to {prev}: {}", e.text())),
            ),
        }
    }
}

/// How a phase failed.
enum Roll {
    /// Its run ended (or never started): the environment is as that run left it.
    Failed(String),
    /// Its run's end is not known (it could not be followed or cancelled).
    Unsettled(String),
}

impl Roll {
    fn text(&self) -> &str {
        match self {
            Roll::Failed(s) | Roll::Unsettled(s) => s,
        }
    }
}
