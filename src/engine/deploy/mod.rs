//! Deploys: the plan, the engines that change nodes, the orchestrator that rolls a version out
//! in batches with gates and rollback, and the detached runner that owns a deploy.

pub mod ansible;
pub mod gates;
pub mod github_actions;
pub mod launch;
pub mod local_fleet;
pub mod orchestrator;
pub mod runner;
pub mod script;
pub mod view;

use std::collections::BTreeMap;
use std::path::PathBuf;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::config::TargetConfig;
use crate::config::target::GateConfig;

pub use orchestrator::{Orchestrator, Outcome};

/// Lock heartbeat TTL in seconds: a silent holder's lock expires after this.
pub const LOCK_TTL_SECS: i64 = 30;

/// A deploy or a rollback.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeployKind {
    /// Roll a new version out.
    Deploy,
    /// Put the previous version back.
    Rollback,
}

impl DeployKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeployKind::Deploy => "deploy",
            DeployKind::Rollback => "rollback",
        }
    }
}

/// Everything a runner needs to carry a deploy out, stored with the deploy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployPlan {
    /// The target as configured when the deploy was planned.
    pub target: TargetConfig,
    /// Deploy or rollback.
    pub kind: DeployKind,
    /// The version to install.
    pub to: String,
    /// What each node ran before (what a rollback returns it to).
    pub previous: BTreeMap<String, Option<String>>,
    /// Nodes in batches, in order.
    pub batches: Vec<Vec<String>>,
    /// Relative paths in the target are from here.
    pub base_dir: PathBuf,
    /// The flightdeck binary (the local fleet's built-in service).
    pub program: PathBuf,
    /// Where the runner writes its log.
    pub log_path: PathBuf,
    /// `github-actions`: the provider the workflow is dispatched through, as configured then.
    #[serde(default)]
    pub github: Option<crate::config::ProviderConfig>,
    /// The `[http]` defaults as configured then (the target and its gates carry their own keys).
    #[serde(default)]
    pub http: crate::config::http::HttpDefaults,
}

impl DeployPlan {
    /// The HTTP client of a gate (see `TargetConfig::gate_settings`).
    pub fn gate_client(&self, gate: &crate::config::target::GateConfig) -> crate::http::Client {
        crate::http::Client::new(&self.target.gate_settings(&self.http, gate))
    }

    /// Plans `to` on `target`, given the version each node runs now.
    pub fn new(
        target: &TargetConfig,
        kind: DeployKind,
        to: &str,
        current: &BTreeMap<String, Option<String>>,
        base_dir: PathBuf,
        program: PathBuf,
        log_path: PathBuf,
    ) -> DeployPlan {
        let nodes = target.nodes.clone();
        let size = target.strategy.batch_size(nodes.len());
        let batches = nodes.chunks(size).map(<[String]>::to_vec).collect();
        let previous = nodes
            .iter()
            .map(|n| (n.clone(), current.get(n).cloned().flatten()))
            .collect();
        DeployPlan {
            target: target.clone(),
            kind,
            to: to.to_string(),
            previous,
            batches,
            base_dir,
            program,
            log_path,
            github: None,
            http: Default::default(),
        }
    }

    /// The version most nodes run now (`None` when none runs anything).
    pub fn from_version(&self) -> Option<String> {
        view::majority(self.previous.values())
    }

    /// Nodes per batch.
    pub fn batch_size(&self) -> usize {
        self.batches.iter().map(Vec::len).max().unwrap_or(1)
    }

    /// The plan as lines for the plan screen and `--dry-run`.
    pub fn describe(&self) -> Vec<String> {
        let t = &self.target;
        let s = &t.strategy;
        let gates: Vec<&str> = t.smoke.iter().map(|g| g.name.as_str()).collect();
        let mut lines = vec![
            format!(
                "{} {} ({}, {} engine): {} → {}",
                self.kind.as_str(),
                t.name,
                t.environment,
                t.engine.as_str(),
                self.from_version().unwrap_or_else(|| "nothing".into()),
                self.to
            ),
            format!(
                "nodes: {} in {} batch{} of {}",
                t.nodes.len(),
                self.batches.len(),
                if self.batches.len() == 1 { "" } else { "es" },
                self.batch_size()
            ),
        ];
        for (i, b) in self.batches.iter().enumerate() {
            lines.push(format!("  batch {}: {}", i + 1, b.join(", ")));
        }
        if let (crate::config::EngineKind::GithubActions, Some(g)) = (t.engine, &t.github) {
            lines.push(format!(
                "dispatch {} in {} with {} = {}; follow its run; then {}",
                g.workflow,
                g.repo,
                g.version_input.as_deref().unwrap_or("version"),
                self.to,
                if gates.is_empty() {
                    "no smoke gates".to_string()
                } else {
                    format!("smoke {}", gates.join(", "))
                },
            ));
        } else if t.engine == crate::config::EngineKind::Ansible {
            let book = t
                .ansible
                .as_ref()
                .map_or(String::new(), |a| a.playbook.display().to_string());
            lines.push(format!(
                "ansible-playbook {book}: serial {}, max_fail_percentage {}; then {}",
                self.batch_size(),
                s.max_fail_percentage(),
                if gates.is_empty() {
                    "no smoke gates".to_string()
                } else {
                    format!("smoke {} on each host", gates.join(", "))
                },
            ));
        } else {
            lines.push(format!(
                "each node: {}deploy → healthy within {}s → {} → {}",
                if t.drain { "drain → " } else { "" },
                s.node_deadline().as_secs(),
                if gates.is_empty() {
                    "no smoke gates".to_string()
                } else {
                    format!("smoke {}", gates.join(", "))
                },
                if t.drain { "undrain" } else { "done" },
            ));
        }
        lines.push(format!(
            "failure budget: {}% of nodes (aborts when exceeded)",
            s.max_fail_percentage()
        ));
        lines.push(if self.kind == DeployKind::Rollback {
            "rollback of a rollback: none (a failure needs a human)".into()
        } else if t.auto_rollback {
            "on failure: roll back automatically to each node's previous version, once".into()
        } else {
            "on failure: stop and leave nodes as they are (auto_rollback = false)".into()
        });
        lines
    }
}

/// How an engine changes one node. Every call is bounded by the orchestrator's deadline;
/// errors are one line for the journal.
pub trait Engine: Send + Sync {
    /// Takes the node out of rotation.
    fn drain<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), String>>;
    /// Installs `version` on the node (the previous one may keep running until undrain).
    fn deploy<'a>(&'a self, node: &'a str, version: &'a str) -> BoxFuture<'a, Result<(), String>>;
    /// One health probe: Ok(true) when healthy.
    fn healthy<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<bool, String>>;
    /// Whether [`Engine::smoke`] does anything.
    fn has_smoke(&self) -> bool {
        false
    }
    /// The engine's own smoke test, if it has one.
    fn smoke<'a>(&'a self, node: &'a str, version: &'a str) -> BoxFuture<'a, Result<(), String>>;
    /// Makes the deployed version the node's own and returns it to rotation.
    fn undrain<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), String>>;
    /// Make-before-break back to `version` (`None`: the node ran nothing before).
    fn rollback<'a>(
        &'a self,
        node: &'a str,
        version: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), String>>;
    /// The node's base URL for relative HTTP gates.
    fn node_url(&self, node: &str) -> Option<String>;
}

/// Where the orchestrator writes what it does, and reads what it already did (resume).
pub trait Journal: Send + Sync {
    /// Appends one record (durably, before returning).
    fn record(&self, phase: &str, node: &str, step: &str, status: &str, detail: &str);
    /// How this step ended in an earlier attempt, if it did.
    fn outcome(&self, phase: &str, node: &str, step: &str) -> Option<Result<(), String>>;
    /// Whether step `step` of `phase` was ever started for `node` (the node may have changed).
    fn began(&self, phase: &str, node: &str, step: &str) -> bool;
    /// The detail of the step's last successful end (what a resumed step needs to know, like
    /// the id of the run it started); journals that keep none say `None`.
    fn detail(&self, phase: &str, node: &str, step: &str) -> Option<String> {
        let _ = (phase, node, step);
        None
    }
    /// Records a node's version (when known) and state.
    fn set_node(&self, node: &str, version: Option<&str>, state: &str);
    /// Whether an operator asked the deploy to stop.
    fn abort_requested(&self) -> bool;
}

/// A smoke gate and what it needs to run.
#[derive(Clone, Debug)]
pub struct GateRun<'a> {
    /// The gate.
    pub gate: &'a GateConfig,
    /// Node name.
    pub node: &'a str,
    /// Version being checked.
    pub version: &'a str,
    /// The node's base URL.
    pub node_url: Option<String>,
}
