//! The demo workspace: a real local store seeded with a few items on first use, and the
//! `demo-ci` pipeline whose steps really run.

pub mod api;
pub mod selftest;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::config::pipeline::{ArtifactConfig, StepConfig, TriggerConfig};
use crate::config::{PipelineConfig, TargetConfig};

use crate::domain::{self, ItemKind, ItemState, NewItem, Severity};
use crate::store::{Store, StoreError};

const SEEDED_KEY: &str = "demo_seeded";
const AUTHOR: &str = "flightdeck-demo";

/// Seeds the demo store once; later runs keep whatever the user changed.
pub fn seed(store_path: &Path) -> Result<(), StoreError> {
    let store = Store::open(store_path)?;
    if store.meta(SEEDED_KEY)?.is_some() {
        return Ok(());
    }
    let now = domain::now();
    // Title, body, kind, severity, labels, age in seconds.
    type Seed<'a> = (
        &'a str,
        &'a str,
        ItemKind,
        Option<Severity>,
        &'a [&'a str],
        i64,
    );
    let items: [Seed; 5] = [
        (
            "Welcome to flightdeck: walk the loop",
            "This backlog lives in the demo workspace's own SQLite store; every change you make here is real and persists.\n\n## Try\n- `j`/`k` to move, `Enter` to open, `Esc` to back out\n- `n` to file a new item, `c` to comment, `x` to close\n- `/` to filter: `is:closed`, `kind:incident`, `label:demo`\n- `:` for the command palette, `?` for every key\n\nThe builds, deploys and health panes say what they need; they fill in as those capabilities are configured.",
            ItemKind::Issue,
            None,
            &["demo", "docs"],
            60,
        ),
        (
            "demo-api p99 latency above 300 ms after v2 rollout",
            "Seen during the last rollout of `demo-api`.\n\n> p99 rose from 120 ms to 340 ms on demo-api-2\n\n### Next steps\n- [ ] compare v1 and v2 `/metrics`\n- [ ] decide: roll back or fix forward",
            ItemKind::Incident,
            Some(Severity::High),
            &["demo-api", "latency"],
            50 * 60,
        ),
        (
            "Add a smoke test for /version to the deploy gate",
            "A deploy should fail its smoke gate when `/version` does not report the version just deployed.",
            ItemKind::Issue,
            None,
            &["deploy", "testing"],
            26 * 3600,
        ),
        (
            "Write the rollback runbook for on-call",
            "What to check, which key rolls back, and who to tell.",
            ItemKind::Issue,
            None,
            &["docs", "on-call"],
            4 * 86400,
        ),
        (
            "Queue depth alert fired on demo-api-3",
            "Resolved after the node was restarted.",
            ItemKind::Incident,
            Some(Severity::Medium),
            &["demo-api"],
            9 * 86400,
        ),
    ];
    for (title, body, kind, severity, labels, age) in items {
        let created = now - age;
        let id = store.create_item(
            &NewItem {
                title: title.to_string(),
                body: body.to_string(),
                kind: Some(kind),
                severity,
                labels: labels.iter().map(|l| l.to_string()).collect(),
                key: None,
            },
            AUTHOR,
            created,
        )?;
        if kind == ItemKind::Incident && age > 86400 {
            store.add_comment(
                &id,
                "ops-bot",
                "Node restarted; queue drained in 4 minutes.",
                created + 1800,
            )?;
            store.set_state(&id, ItemState::Closed, created + 1900)?;
        }
    }
    store.add_comment(
        "2",
        AUTHOR,
        "Latency is back under 150 ms on demo-api-1 and demo-api-3; demo-api-2 still slow.",
        now - 600,
    )?;
    store.set_meta(SEEDED_KEY, &now.to_string())?;
    Ok(())
}

/// Where `demo-ci` runs: a directory of the demo workspace.
pub fn workspace_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("demo").join("workspace")
}

/// The `demo-ci` pipeline: check the binary, run its self-test (real tests, parsed like
/// `cargo test`), and package it as a release.
pub fn pipeline(bin: &Path) -> PipelineConfig {
    let step = |name: &str, run: Option<Vec<String>>, script: Option<&str>| StepConfig {
        name: name.into(),
        run,
        script: script.map(str::to_string),
        env: BTreeMap::new(),
        dir: None,
        timeout_secs: Some(120),
        junit: Vec::new(),
    };
    let bin_s = bin.display().to_string();
    let mut env = BTreeMap::new();
    env.insert("FLIGHTDECK_BIN".to_string(), bin_s.clone());
    PipelineConfig {
        name: "demo-ci".into(),
        dir: None,
        env,
        steps: vec![
            step("check", Some(vec![bin_s.clone(), "--version".into()]), None),
            step("test", Some(vec![bin_s, "demo-selftest".into()]), None),
            step(
                "package",
                None,
                Some(
                    "mkdir -p dist && cp \"$FLIGHTDECK_BIN\" dist/demo-api && \
                     (cd dist && sha256sum demo-api > SHA256SUMS) && \
                     tar -cf dist/demo-api.tar -C dist demo-api SHA256SUMS && \
                     echo packaged dist/demo-api.tar",
                ),
            ),
        ],
        artifact: Some(ArtifactConfig {
            step: Some("package".into()),
            path: "dist/demo-api.tar".into(),
        }),
        on: TriggerConfig::default(),
    }
}

/// The demo fleet's target name.
pub const TARGET: &str = "demo-api";

/// The demo target: three local nodes of the built-in service, one at a time, each checked
/// for the version it reports and a working `/api/orders` before it returns to rotation.
pub fn target() -> TargetConfig {
    const DEMO_TARGET: &str = r#"
name = "demo-api"
environment = "demo"
nodes = ["demo-api-1", "demo-api-2", "demo-api-3"]
engine = "local-fleet"
versions = ["v1", "v2", "v3"]
strategy = { batch_size = 1, max_fail_percentage = 0, node_deadline_secs = 30 }
smoke = [
  { name = "version", http = "/version", expect_body = "{version}", timeout_secs = 5 },
  { name = "orders", http = "/api/orders", expect_status = 200, timeout_secs = 5 },
]
"#;
    toml::from_str(DEMO_TARGET).expect("the built-in demo target parses")
}

/// The demo's health checks: each node probed, each node's queue depth (growing slowly, so
/// the forecast has a real trend to predict), and this machine.
pub fn checks() -> Vec<crate::config::CheckConfig> {
    const DEMO_CHECKS: &str = r#"
[[checks]]
name = "healthz"
kind = "http"
target = "demo-api"
path = "/healthz"
interval_secs = 5
timeout_secs = 2
warn = 250.0
crit = 1000.0
for_secs = 15
recover_secs = 15
severity = "high"

[[checks]]
name = "queue depth"
kind = "metrics"
target = "demo-api"
path = "/metrics"
series = "demo_api_queue_depth"
interval_secs = 5
timeout_secs = 2
warn = 600.0
crit = 900.0
unit = "jobs"
forecast = "linear"
forecast_window_secs = 600
incident = false

[[checks]]
name = "request rate"
kind = "metrics"
target = "demo-api"
path = "/metrics"
series = "demo_api_requests_total"
rate = true
unit = "req/s"
interval_secs = 5
timeout_secs = 2
incident = false

[[checks]]
name = "cpu"
kind = "host"
metric = "cpu"
service = "this host"
interval_secs = 5
warn = 85.0
crit = 98.0
for_secs = 120
incident = false

[[checks]]
name = "memory"
kind = "host"
metric = "memory"
service = "this host"
interval_secs = 15
warn = 85.0
crit = 95.0
incident = false

[[checks]]
name = "disk /"
kind = "host"
metric = "disk"
path = "/"
service = "this host"
interval_secs = 60
warn = 85.0
crit = 95.0
forecast = "linear"
forecast_window_secs = 3600
incident = false
"#;
    #[derive(serde::Deserialize)]
    struct Checks {
        checks: Vec<crate::config::CheckConfig>,
    }
    toml::from_str::<Checks>(DEMO_CHECKS)
        .expect("the built-in demo checks parse")
        .checks
}

/// Kills one demo node's process, as a crash would (the store still says it runs there): its
/// health check goes critical and, after its `for`, files an incident.
pub fn kill(store_path: &Path, node: &str) -> Result<u32, String> {
    let store = Store::open(store_path).map_err(|e| e.to_string())?;
    let nodes = store.nodes(TARGET).map_err(|e| e.to_string())?;
    let known: Vec<&str> = nodes.iter().map(|n| n.node.as_str()).collect();
    let n = nodes.iter().find(|n| n.node == node).ok_or_else(|| {
        format!(
            "no demo node {node:?} has run yet (nodes: {})",
            known.join(", ")
        )
    })?;
    let d: crate::engine::deploy::local_fleet::NodeData =
        serde_json::from_str(&n.data).unwrap_or_default();
    match d.current {
        Some(inst) if crate::engine::deploy::local_fleet::alive(inst.pid) => {
            let pid = nix::unistd::Pid::from_raw(inst.pid as i32);
            let _ = nix::sys::signal::killpg(pid, nix::sys::signal::Signal::SIGKILL);
            Ok(inst.pid)
        }
        _ => Err(format!("{node} is not running")),
    }
}

/// Stops the demo fleet's nodes; how many processes were stopped.
pub fn stop(store_path: &Path) -> Result<usize, String> {
    crate::engine::deploy::local_fleet::stop_all(store_path, TARGET)
}

/// Wipes the demo workspace's state so the next start seeds it afresh.
pub fn reset(state_dir: &Path) -> std::io::Result<()> {
    let dir = state_dir.join("demo");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_once() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("demo/store.db");
        seed(&path).unwrap();
        let store = Store::open(&path).unwrap();
        let items = store.list_items("local").unwrap();
        assert_eq!(items.len(), 5);
        assert!(items.iter().any(|i| i.state == ItemState::Closed));
        store.set_state("1", ItemState::Closed, 1).unwrap();
        seed(&path).unwrap();
        assert_eq!(
            store.list_items("local").unwrap().len(),
            5,
            "not seeded twice"
        );
        reset(tmp.path()).unwrap();
        assert_eq!(target().nodes.len(), 3);
        for c in checks() {
            crate::config::check::validate(&c).unwrap();
        }
        assert!(!target().is_protected(), "the demo is not production");
        assert!(!path.exists());
    }
}
