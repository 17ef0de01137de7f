//! The rolling deploy: per batch drain → deploy → healthy by the deadline → smoke gates →
//! undrain; a failure budget that aborts when exceeded; one make-before-break rollback; and an
//! always-run clean-up that returns drained nodes to rotation or says why it could not.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{DeployKind, DeployPlan, Engine, GateRun, Journal, gates};
use crate::domain::DeployState;

/// How a deploy ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Final state.
    pub state: DeployState,
    /// Why it did not succeed.
    pub reason: Option<String>,
    /// Nodes left out of rotation, each with the reason.
    pub left_out: Vec<(String, String)>,
}

/// Phase names in the journal.
const FORWARD: &str = "forward";
const ROLLBACK: &str = "rollback";
const CLEANUP: &str = "cleanup";

/// Drives one deploy. Knows nothing of terminals: the runner, the CLI and tests drive it.
pub struct Orchestrator {
    plan: DeployPlan,
    engine: Arc<dyn Engine>,
    journal: Arc<dyn Journal>,
    drained: Mutex<BTreeSet<String>>,
    /// Most nodes ever drained at once (the invariant: never above the batch size).
    pub max_drained: Mutex<usize>,
}

impl Orchestrator {
    /// An orchestrator for `plan`.
    pub fn new(plan: DeployPlan, engine: Arc<dyn Engine>, journal: Arc<dyn Journal>) -> Self {
        Orchestrator {
            plan,
            engine,
            journal,
            drained: Mutex::new(BTreeSet::new()),
            max_drained: Mutex::new(0),
        }
    }

    /// Nodes an earlier attempt left drained (read from its journal by the runner on resume).
    pub fn assume_drained(&self, nodes: &[String]) {
        for n in nodes {
            self.mark_drained(n, true);
        }
    }

    fn op_timeout(&self) -> Duration {
        self.plan.target.strategy.node_deadline()
    }

    /// Runs `work` as journaled step `phase/node/step`, unless an earlier attempt finished it
    /// (resume repeats no completed step).
    async fn step(
        &self,
        phase: &str,
        node: &str,
        step: &str,
        work: impl Future<Output = Result<(), String>>,
    ) -> Result<(), String> {
        if let Some(done) = self.journal.outcome(phase, node, step) {
            return done;
        }
        self.journal.record(phase, node, step, "start", "");
        let r = match tokio::time::timeout(self.op_timeout(), work).await {
            Ok(r) => r,
            Err(_) => Err(format!("timed out after {}s", self.op_timeout().as_secs())),
        };
        match &r {
            Ok(()) => self.journal.record(phase, node, step, "ok", ""),
            Err(e) => self.journal.record(phase, node, step, "fail", e),
        }
        r
    }

    fn mark_drained(&self, node: &str, drained: bool) {
        let mut d = self.drained.lock().unwrap_or_else(|p| p.into_inner());
        if drained {
            d.insert(node.to_string());
        } else {
            d.remove(node);
        }
        let mut max = self.max_drained.lock().unwrap_or_else(|p| p.into_inner());
        *max = (*max).max(d.len());
    }

    fn is_drained(&self, node: &str) -> bool {
        self.drained
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(node)
    }

    async fn drain(&self, phase: &str, node: &str) -> Result<(), String> {
        if !self.plan.target.drain || self.is_drained(node) {
            return Ok(());
        }
        // Counted before the call: a drain that fails half-way may have drained it.
        self.mark_drained(node, true);
        self.step(phase, node, "drain", self.engine.drain(node))
            .await?;
        self.journal.set_node(node, None, "drained");
        Ok(())
    }

    async fn undrain(&self, phase: &str, node: &str, version: Option<&str>) -> Result<(), String> {
        self.step(phase, node, "undrain", self.engine.undrain(node))
            .await?;
        self.mark_drained(node, false);
        self.journal.set_node(node, version, "in_rotation");
        Ok(())
    }

    /// Polls the node until healthy or past the deadline (50 ms, doubling to 1 s). An
    /// operator's abort cuts the wait short going forward, never in the rollback it started.
    async fn wait_healthy(&self, phase: &str, node: &str) -> Result<(), String> {
        let deadline = self.plan.target.strategy.node_deadline();
        let start = tokio::time::Instant::now();
        let mut wait = Duration::from_millis(50);
        let mut last = String::from("no answer yet");
        loop {
            let left = deadline.saturating_sub(start.elapsed());
            match tokio::time::timeout(
                left.max(Duration::from_millis(1)),
                self.engine.healthy(node),
            )
            .await
            {
                Ok(Ok(true)) => return Ok(()),
                Ok(Ok(false)) => last = "unhealthy".into(),
                Ok(Err(e)) => last = e,
                Err(_) => {}
            }
            // An operator's abort does not wait out a long deadline.
            if phase == FORWARD && self.journal.abort_requested() {
                return Err("aborted by an operator while waiting for health".into());
            }
            if start.elapsed() + wait > deadline {
                tokio::time::sleep(deadline.saturating_sub(start.elapsed())).await;
                return Err(format!(
                    "not healthy within the {}s deadline ({last})",
                    deadline.as_secs()
                ));
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(1));
        }
    }

    async fn forward_node(&self, node: &str) -> Result<(), String> {
        let to = self.plan.to.as_str();
        self.drain(FORWARD, node).await?;
        self.step(FORWARD, node, "deploy", self.engine.deploy(node, to))
            .await?;
        self.step(FORWARD, node, "health", self.wait_healthy(FORWARD, node))
            .await?;
        for gate in &self.plan.target.smoke {
            let run = GateRun {
                gate,
                node,
                version: to,
                node_url: self.engine.node_url(node),
            };
            let name = format!("smoke:{}", gate.name);
            self.step(FORWARD, node, &name, gates::run(&self.plan, run))
                .await?;
        }
        if self.engine.has_smoke() {
            self.step(FORWARD, node, "smoke", self.engine.smoke(node, to))
                .await?;
        }
        self.undrain(FORWARD, node, Some(to)).await
    }

    /// Make-before-break back to the node's previous version, then back into rotation.
    async fn rollback_node(&self, node: &str) -> Result<(), String> {
        let prev = self.plan.previous.get(node).cloned().flatten();
        // Rolled back already (within the budget, or before a resume): nothing to redo, and
        // draining it again would leave it out of rotation with every later step replayed.
        if self.rolled_back(node) {
            return Ok(());
        }
        self.drain(ROLLBACK, node).await?;
        self.step(
            ROLLBACK,
            node,
            "rollback",
            self.engine.rollback(node, prev.as_deref()),
        )
        .await?;
        if prev.is_none() {
            // It ran nothing before: rolled back means stopped.
            self.mark_drained(node, false);
            self.journal.set_node(node, None, "stopped");
            return Ok(());
        }
        self.step(ROLLBACK, node, "health", self.wait_healthy(ROLLBACK, node))
            .await?;
        self.undrain(ROLLBACK, node, prev.as_deref()).await
    }

    /// Rolls `nodes` back in batches of the plan's size. A node that fails does not stop the
    /// others: every node is tried, and every failure is reported.
    async fn rollback(&self, nodes: &[String]) -> Result<(), String> {
        if self.journal.outcome(ROLLBACK, "", "begin").is_none() {
            self.journal
                .record(ROLLBACK, "", "begin", "ok", &nodes.join(","));
        }
        let mut errors = Vec::new();
        for batch in nodes.chunks(self.plan.batch_size()) {
            let results =
                futures::future::join_all(batch.iter().map(|n| self.rollback_node(n))).await;
            for (n, r) in batch.iter().zip(results) {
                if let Err(e) = r {
                    self.journal.set_node(n, None, "failed");
                    errors.push(format!("{n}: {e}"));
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }

    /// Whether the deploy may have changed `node`: its forward deploy step started. A node
    /// whose drain failed, or that was drained but not yet deployed, runs what it ran.
    fn changed(&self, node: &str) -> bool {
        self.journal.began(FORWARD, node, "deploy")
    }

    /// Whether `node`'s rollback ran to its end: back in rotation, or (when it ran nothing
    /// before) stopped.
    fn rolled_back(&self, node: &str) -> bool {
        let done = |step| self.journal.outcome(ROLLBACK, node, step) == Some(Ok(()));
        let ran_nothing = self.plan.previous.get(node).cloned().flatten().is_none();
        done("undrain") || (ran_nothing && done("rollback"))
    }

    /// Returns every node still drained to rotation when its current version is healthy;
    /// the others stay out, each with the reason. With `unchanged_only`, only the nodes the
    /// deploy never changed (their drain failed, or came before an abort).
    async fn cleanup(
        &self,
        failed: &[(String, String)],
        unchanged_only: bool,
    ) -> Vec<(String, String)> {
        let drained: Vec<String> = self
            .drained
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|n| !unchanged_only || !self.changed(n))
            .cloned()
            .collect();
        let mut left_out = Vec::new();
        for node in drained {
            // A node the deploy changed and no rollback put back must not return to rotation
            // on a version that may be the failed one: it waits for a human (this holds after
            // a resume too, when the forward failures are not in `failed`). One that failed
            // before its deploy started still runs its old version and goes back if healthy.
            if self.changed(&node) && !self.rolled_back(&node) {
                let why = failed
                    .iter()
                    .find(|(n, _)| *n == node)
                    .map_or("its rollback did not finish".to_string(), |(_, w)| {
                        format!("its deploy failed ({w})")
                    });
                left_out.push((node, format!("{why}; kept out of rotation")));
                continue;
            }
            let healthy = tokio::time::timeout(Duration::from_secs(10), self.engine.healthy(&node))
                .await
                .map_err(|_| "health probe timed out".to_string())
                .and_then(|r| r);
            match healthy {
                Ok(true) => {
                    if let Err(e) = self.undrain(CLEANUP, &node, None).await {
                        left_out.push((node, format!("undrain failed: {e}")));
                    }
                }
                Ok(false) => left_out.push((node, "unhealthy; kept out of rotation".into())),
                Err(e) => left_out.push((node, format!("health unknown ({e}); kept out"))),
            }
        }
        for (n, why) in &left_out {
            self.journal.record(CLEANUP, n, "left_out", "fail", why);
        }
        left_out
    }

    /// Carries the plan out (or on from where an earlier attempt stopped) and returns the end.
    pub async fn run(&self) -> Outcome {
        let plan = &self.plan;
        let total = plan.target.nodes.len().max(1);
        let budget = plan.target.strategy.max_fail_percentage() as usize;
        let mut failed: Vec<(String, String)> = Vec::new();
        let mut abort: Option<String> = None;
        // Nodes whose own rollback (within the budget) failed: they need a human.
        let mut broken: Vec<String> = Vec::new();
        // A rollback already under way (the runner died during it) goes on, never anew.
        let rollback_begun = self.journal.outcome(ROLLBACK, "", "begin").is_some();
        if rollback_begun {
            abort = Some("resumed during rollback".into());
        }
        for batch in plan.batches.iter().filter(|_| !rollback_begun) {
            if self.journal.abort_requested() {
                abort = Some("aborted by an operator".into());
                break;
            }
            let results =
                futures::future::join_all(batch.iter().map(|n| self.forward_node(n))).await;
            let mut batch_failed = Vec::new();
            for (n, r) in batch.iter().zip(results) {
                if let Err(e) = r {
                    self.journal.set_node(n, None, "failed");
                    if self.changed(n) {
                        batch_failed.push(n.clone());
                    }
                    failed.push((n.clone(), e));
                }
            }
            if failed.len() * 100 > budget * total {
                abort = Some(format!(
                    "{} of {} node{} failed, over the {}% failure budget ({}: {})",
                    failed.len(),
                    total,
                    if total == 1 { "" } else { "s" },
                    budget,
                    failed[0].0,
                    failed[0].1
                ));
                break;
            }
            // Within budget: a node whose drain failed was never changed and goes back into
            // rotation now, so it never counts against a later batch.
            if batch.iter().any(|n| self.is_drained(n) && !self.changed(n)) {
                let _ = self.cleanup(&failed, true).await;
            }
            // Within budget: each failed node goes back to its previous version and serves.
            for n in &batch_failed {
                if plan.target.auto_rollback
                    && plan.kind == DeployKind::Deploy
                    && let Err(e) = self.rollback_node(n).await
                {
                    broken.push(format!("{n}: {e}"));
                }
            }
        }
        // An abort asked for during the last batch still rolls back.
        if abort.is_none() && !rollback_begun && self.journal.abort_requested() {
            abort = Some("aborted by an operator".into());
        }
        if abort.is_none() && !broken.is_empty() {
            let left_out = self.cleanup(&failed, false).await;
            return Outcome {
                state: DeployState::FailedRollback,
                reason: Some(format!("rollback failed: {}", broken.join("; "))),
                left_out,
            };
        }
        let Some(reason) = abort else {
            let left_out = self.cleanup(&failed, false).await;
            let reason = (!failed.is_empty()).then(|| {
                format!(
                    "{} of {} nodes failed within the {}% budget: {}",
                    failed.len(),
                    total,
                    budget,
                    failed
                        .iter()
                        .map(|(n, e)| format!("{n}: {e}"))
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            });
            let state = if failed.is_empty() && left_out.is_empty() {
                DeployState::Succeeded
            } else {
                DeployState::Failed
            };
            return Outcome {
                state,
                reason,
                left_out,
            };
        };
        self.journal.record("deploy", "", "abort", "fail", &reason);
        let wants_rollback = plan.target.auto_rollback && plan.kind == DeployKind::Deploy;
        if !wants_rollback && !rollback_begun {
            let left_out = self.cleanup(&failed, false).await;
            return Outcome {
                state: DeployState::Failed,
                reason: Some(reason),
                left_out,
            };
        }
        // Roll back every node the deploy changed: the drained ones (the failing batch) first.
        let mut order: Vec<String> = plan
            .target
            .nodes
            .iter()
            .filter(|n| self.is_drained(n) && self.changed(n))
            .cloned()
            .collect();
        for n in &plan.target.nodes {
            if !order.contains(n) && self.changed(n) {
                order.push(n.clone());
            }
        }
        // Nodes drained but never changed go back first, so they do not count against the
        // batch while the changed ones roll back.
        let mut left_out = self.cleanup(&failed, true).await;
        let result = self.rollback(&order).await;
        left_out.extend(self.cleanup(&failed, false).await);
        match result {
            Ok(()) => Outcome {
                state: DeployState::RolledBack,
                reason: Some(reason),
                left_out,
            },
            Err(e) => Outcome {
                state: DeployState::FailedRollback,
                reason: Some(format!("{reason}; rollback failed: {e}")),
                left_out,
            },
        }
    }
}

#[cfg(test)]
mod tests;
