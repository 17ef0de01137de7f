//! What a target looks like now, read from the store: node versions, the lock, the last deploy.
//! `status --json`, the headless commands and the cockpit all read targets through here.

use std::collections::BTreeMap;

use serde::Serialize;

use super::LOCK_TTL_SECS;
use super::local_fleet::{NodeData, alive};
use crate::config::{EngineKind, TargetConfig};
use crate::store::{DeployRecord, JournalEntry, LockInfo, Store, StoreError};

/// One node of a target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeView {
    /// Node name.
    pub name: String,
    /// The version it runs (as far as flightdeck knows).
    pub version: Option<String>,
    /// `in_rotation`, `drained`, `deploying`, `failed`, `down`, `unknown`, …
    pub state: String,
}

/// One target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TargetView {
    /// Target name.
    pub target: String,
    /// Its environment.
    pub environment: String,
    /// Its engine.
    pub engine: &'static str,
    /// The version most nodes run.
    pub version: Option<String>,
    /// `idle` before any deploy, else the last deploy's state.
    pub state: String,
    /// Every configured node.
    pub nodes: Vec<NodeView>,
    /// Who holds the deploy lock.
    pub lock: Option<LockInfo>,
    /// The last deploy or rollback.
    pub last: Option<DeployRecord>,
}

/// The version each node runs now. For the local fleet a node whose process is gone runs
/// nothing, whatever the store last said.
pub fn current_versions(
    store: &Store,
    t: &TargetConfig,
) -> Result<BTreeMap<String, Option<String>>, StoreError> {
    Ok(nodes(store, t)?
        .into_iter()
        .map(|n| (n.name, n.version))
        .collect())
}

/// Every configured node of `t` with its recorded version and state.
pub fn nodes(store: &Store, t: &TargetConfig) -> Result<Vec<NodeView>, StoreError> {
    let recorded: BTreeMap<String, crate::store::NodeRecord> = store
        .nodes(&t.name)?
        .into_iter()
        .map(|n| (n.node.clone(), n))
        .collect();
    // Without a node list (an Ansible inventory), the hosts are those the store knows.
    let names: Vec<String> = if t.nodes.is_empty() {
        recorded.keys().cloned().collect()
    } else {
        t.nodes.clone()
    };
    Ok(names
        .iter()
        .map(|name| match recorded.get(name) {
            None => NodeView {
                name: name.clone(),
                version: None,
                state: "unknown".into(),
            },
            Some(r) if t.engine == EngineKind::LocalFleet => {
                let d: NodeData = serde_json::from_str(&r.data).unwrap_or_default();
                match d.current.filter(|c| alive(c.pid)) {
                    Some(c) => NodeView {
                        name: name.clone(),
                        version: Some(c.version),
                        state: r.state.clone(),
                    },
                    None => NodeView {
                        name: name.clone(),
                        version: None,
                        state: "down".into(),
                    },
                }
            }
            Some(r) => NodeView {
                name: name.clone(),
                version: r.version.clone(),
                state: r.state.clone(),
            },
        })
        .collect())
}

/// Whether the deploy's runner lives (a runner that has not yet said its pid counts as
/// starting for one lock TTL).
pub fn runner_alive(d: &DeployRecord) -> bool {
    match d.pid {
        // The pid must still be a deploy runner: a recycled pid is not.
        Some(pid) => {
            alive(pid)
                && std::fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).contains("deploy-runner"))
        }
        None => crate::domain::now() - d.started < LOCK_TTL_SECS,
    }
}

/// The version most of `versions` are on.
pub fn majority<'a>(versions: impl IntoIterator<Item = &'a Option<String>>) -> Option<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for v in versions.into_iter().flatten() {
        *counts.entry(v).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by_key(|(_, c)| *c)
        .map(|(v, _)| v.to_string())
}

/// The target as it is now.
pub fn target_view(store: &Store, t: &TargetConfig) -> Result<TargetView, StoreError> {
    let nodes = nodes(store, t)?;
    let last = store.deploys(&t.name, 1)?.into_iter().next();
    Ok(TargetView {
        target: t.name.clone(),
        environment: t.environment.clone(),
        engine: t.engine.as_str(),
        version: majority(nodes.iter().map(|n| &n.version)),
        state: last
            .as_ref()
            .map(|d| d.state.clone())
            .unwrap_or_else(|| "idle".into()),
        nodes,
        lock: store.lock(&t.name)?,
        last,
    })
}

/// Deploys kept in a target's history.
pub const HISTORY: usize = 20;

/// Journal records of the last deploy kept for the cockpit.
pub const JOURNAL_TAIL: usize = 400;

/// One target for the cockpit: as it is now, its recent deploys, the last deploy's journal
/// and the versions it can be given.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TargetSnapshot {
    /// Nodes, lock and last deploy.
    pub view: TargetView,
    /// Recent deploys, newest first.
    pub history: Vec<DeployRecord>,
    /// The end of the last deploy's journal.
    pub journal: Vec<JournalEntry>,
    /// Versions to offer: configured ones, then releases, then earlier deploys.
    pub versions: Vec<String>,
    /// The last deploy's runner log.
    pub log: Option<String>,
    /// Whether the last deploy's runner process lives (read here, off the UI loop).
    pub runner_alive: bool,
    /// GitHub's deployments of the environment, for a `github-actions` target.
    pub github: Option<crate::providers::github::deployments::GithubEnv>,
}

/// Every target as the cockpit shows it.
pub fn snapshot(
    store: &Store,
    targets: &[TargetConfig],
) -> Result<Vec<TargetSnapshot>, StoreError> {
    let releases = store.releases()?;
    targets
        .iter()
        .map(|t| {
            let view = target_view(store, t)?;
            let history = store.deploys(&t.name, HISTORY)?;
            let journal = match &view.last {
                Some(d) => {
                    let mut j = store.journal(d.id, 0)?;
                    let cut = j.len().saturating_sub(JOURNAL_TAIL);
                    j.drain(..cut);
                    j
                }
                None => Vec::new(),
            };
            let mut versions: Vec<String> = Vec::new();
            let known = t
                .versions
                .iter()
                .cloned()
                .chain(releases.iter().map(|r| r.version.clone()))
                .chain(history.iter().map(|d| d.to.clone()));
            for v in known {
                if !versions.contains(&v) {
                    versions.push(v);
                }
            }
            let log = view
                .last
                .as_ref()
                .and_then(|d| serde_json::from_str::<super::DeployPlan>(&d.plan).ok())
                .map(|p| p.log_path.display().to_string());
            let runner_alive = view.last.as_ref().is_some_and(runner_alive);
            Ok(TargetSnapshot {
                github: None,
                view,
                history,
                journal,
                versions,
                log,
                runner_alive,
            })
        })
        .collect()
}
