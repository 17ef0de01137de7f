//! The orchestrator against an in-memory fleet: budget boundaries (F7), the drained-node
//! invariant and clean-up (F8), a failing rollback (F9), the deadline under a paused clock
//! (F10) and resume without repeating a completed step (F11).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use futures::future::BoxFuture;

use super::*;
use crate::config::TargetConfig;

#[derive(Default)]
struct Fleet {
    version: BTreeMap<String, Option<String>>,
    next: BTreeMap<String, String>,
    drained: BTreeSet<String>,
    max_drained: usize,
    calls: Vec<String>,
    /// Nodes just (re)started: their first health probe says "not yet".
    starting: BTreeSet<String>,
}

#[derive(Default)]
struct Fake {
    fleet: Mutex<Fleet>,
    /// Nodes whose smoke fails on the new version.
    bad_nodes: BTreeSet<String>,
    /// Nodes that never become healthy.
    never_healthy: BTreeSet<String>,
    fail_rollback: bool,
    /// Nodes whose rollback fails (every node's when `fail_rollback`).
    fail_rollback_on: BTreeSet<String>,
    /// Nodes whose drain fails.
    fail_drain: BTreeSet<String>,
    /// A node started takes one probe to become healthy, like a real process.
    slow_start: bool,
    /// An operator aborts while this node's deploy runs.
    abort_during: Option<(String, Arc<MemJournal>)>,
}

impl Fake {
    fn new(nodes: &[&str], bad: &[&str]) -> Fake {
        let f = Fake {
            bad_nodes: bad.iter().map(|s| s.to_string()).collect(),
            ..Fake::default()
        };
        for n in nodes {
            f.fleet
                .lock()
                .unwrap()
                .version
                .insert(n.to_string(), Some("v1".into()));
        }
        f
    }
    fn call(&self, what: String) {
        self.fleet.lock().unwrap().calls.push(what);
    }
    fn versions(&self) -> Vec<Option<String>> {
        self.fleet
            .lock()
            .unwrap()
            .version
            .values()
            .cloned()
            .collect()
    }
}

impl Engine for Fake {
    fn drain<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.call(format!("drain {node}"));
            if self.fail_drain.contains(node) {
                return Err("load balancer refused".into());
            }
            let mut f = self.fleet.lock().unwrap();
            f.drained.insert(node.into());
            f.max_drained = f.max_drained.max(f.drained.len());
            Ok(())
        })
    }
    fn deploy<'a>(&'a self, node: &'a str, v: &'a str) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.call(format!("deploy {node} {v}"));
            if let Some((n, j)) = &self.abort_during
                && n == node
            {
                j.abort.store(true, std::sync::atomic::Ordering::SeqCst);
            }
            let mut f = self.fleet.lock().unwrap();
            f.next.insert(node.into(), v.into());
            if self.slow_start {
                f.starting.insert(node.into());
            }
            Ok(())
        })
    }
    fn healthy<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<bool, String>> {
        let starting = self.fleet.lock().unwrap().starting.remove(node);
        let h = !self.never_healthy.contains(node) && !starting;
        Box::pin(async move { Ok(h) })
    }
    fn has_smoke(&self) -> bool {
        true
    }
    fn smoke<'a>(&'a self, node: &'a str, _v: &'a str) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.call(format!("smoke {node}"));
            if self.bad_nodes.contains(node) {
                Err("500 on /api".into())
            } else {
                Ok(())
            }
        })
    }
    fn undrain<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.call(format!("undrain {node}"));
            let mut f = self.fleet.lock().unwrap();
            if let Some(v) = f.next.remove(node) {
                f.version.insert(node.into(), Some(v));
            }
            f.drained.remove(node);
            Ok(())
        })
    }
    fn rollback<'a>(
        &'a self,
        node: &'a str,
        v: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.call(format!("rollback {node}"));
            if self.fail_rollback || self.fail_rollback_on.contains(node) {
                return Err("previous version will not start".into());
            }
            let mut f = self.fleet.lock().unwrap();
            if self.slow_start {
                f.starting.insert(node.into());
            }
            f.next.remove(node);
            if f.version.get(node).cloned().flatten().as_deref() != v {
                f.next.insert(node.into(), v.unwrap_or_default().into());
            }
            Ok(())
        })
    }
    fn node_url(&self, _node: &str) -> Option<String> {
        None
    }
}

/// One journal row: phase, node, step, status, detail.
type Row = (String, String, String, String, String);

#[derive(Default)]
struct MemJournal {
    entries: Mutex<Vec<Row>>,
    nodes: Mutex<BTreeMap<String, String>>,
    abort: std::sync::atomic::AtomicBool,
}

impl Journal for MemJournal {
    fn record(&self, phase: &str, node: &str, step: &str, status: &str, detail: &str) {
        self.entries.lock().unwrap().push((
            phase.into(),
            node.into(),
            step.into(),
            status.into(),
            detail.into(),
        ));
    }
    fn outcome(&self, phase: &str, node: &str, step: &str) -> Option<Result<(), String>> {
        self.entries
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|e| e.0 == phase && e.1 == node && e.2 == step && e.3 != "start")
            .map(|e| {
                if e.3 == "ok" {
                    Ok(())
                } else {
                    Err(e.4.clone())
                }
            })
    }
    fn began(&self, phase: &str, node: &str, step: &str) -> bool {
        self.entries
            .lock()
            .unwrap()
            .iter()
            .any(|e| e.0 == phase && e.1 == node && e.2 == step)
    }
    fn set_node(&self, node: &str, _v: Option<&str>, state: &str) {
        self.nodes.lock().unwrap().insert(node.into(), state.into());
    }
    fn abort_requested(&self) -> bool {
        self.abort.load(std::sync::atomic::Ordering::SeqCst)
    }
}

fn target(nodes: &[&str], batch: usize, budget: u8) -> TargetConfig {
    let text = format!(
        "name = \"api\"\nengine = \"script\"\nnodes = {:?}\nscript = {{ deploy = [\"true\"] }}\nstrategy = {{ batch_size = {batch}, max_fail_percentage = {budget} }}\n",
        nodes
    );
    toml::from_str(&text).unwrap()
}

fn plan(t: &TargetConfig) -> DeployPlan {
    let current = t
        .nodes
        .iter()
        .map(|n| (n.clone(), Some("v1".to_string())))
        .collect();
    DeployPlan::new(
        t,
        DeployKind::Deploy,
        "v2",
        &current,
        ".".into(),
        "flightdeck".into(),
        "/dev/null".into(),
    )
}

async fn deploy(
    nodes: &[&str],
    batch: usize,
    budget: u8,
    fake: Fake,
) -> (Outcome, Arc<Fake>, Arc<MemJournal>) {
    let t = target(nodes, batch, budget);
    let fake = Arc::new(fake);
    let journal = Arc::new(MemJournal::default());
    let o = Orchestrator::new(plan(&t), fake.clone(), journal.clone());
    let out = o.run().await;
    // Nodes left out for a human (their rollback failed) do not hold the others back.
    let stuck = out.left_out.len();
    assert!(
        *o.max_drained.lock().unwrap() <= batch + stuck,
        "drained nodes ≤ batch size"
    );
    assert!(
        fake.fleet.lock().unwrap().max_drained <= batch + stuck,
        "drained nodes ≤ batch size"
    );
    (out, fake, journal)
}

const FOUR: [&str; 4] = ["n1", "n2", "n3", "n4"];

#[tokio::test]
async fn a_clean_deploy_succeeds_on_every_node() {
    let (out, fake, _) = deploy(&FOUR, 2, 0, Fake::new(&FOUR, &[])).await;
    assert_eq!(out.state, DeployState::Succeeded, "{out:?}");
    assert!(fake.versions().iter().all(|v| v.as_deref() == Some("v2")));
    assert!(fake.fleet.lock().unwrap().drained.is_empty());
}

/// F7: one bad node of four is 25 %. A 25 % budget is equalled, not exceeded: the deploy
/// goes on and the bad node returns to v1. A 24 % budget is exceeded: abort and roll back.
#[tokio::test]
async fn the_failure_budget_aborts_when_exceeded_not_when_equalled() {
    let (out, fake, _) = deploy(&FOUR, 1, 25, Fake::new(&FOUR, &["n2"])).await;
    assert_eq!(out.state, DeployState::Failed, "{out:?}");
    assert_eq!(
        fake.versions(),
        [Some("v2"), Some("v1"), Some("v2"), Some("v2")].map(|v| v.map(String::from))
    );
    assert!(
        fake.fleet
            .lock()
            .unwrap()
            .calls
            .contains(&"deploy n4 v2".to_string())
    );

    let (out, fake, _) = deploy(&FOUR, 1, 24, Fake::new(&FOUR, &["n2"])).await;
    assert_eq!(out.state, DeployState::RolledBack, "{out:?}");
    assert!(out.reason.unwrap().contains("over the 24% failure budget"));
    assert!(
        fake.versions().iter().all(|v| v.as_deref() == Some("v1")),
        "every node back on v1"
    );
    let f = fake.fleet.lock().unwrap();
    assert!(f.drained.is_empty(), "every node in rotation");
    assert!(
        !f.calls.contains(&"deploy n3 v2".to_string()),
        "no batch after the abort"
    );
}

/// F7: rollback is make-before-break: the previous version is up before the failed one goes.
#[tokio::test]
async fn rollback_starts_the_previous_version_before_stopping_the_new_one() {
    let (out, fake, journal) = deploy(&FOUR, 2, 0, Fake::new(&FOUR, &["n3"])).await;
    assert_eq!(out.state, DeployState::RolledBack);
    let f = fake.fleet.lock().unwrap();
    let pos = |s: &str| f.calls.iter().position(|c| c == s).unwrap();
    // n1 had been switched to v2: v1 starts (rollback), is checked, then undrain switches.
    assert!(pos("rollback n1") < f.calls.iter().rposition(|c| c == "undrain n1").unwrap());
    let rollbacks = journal
        .entries
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.0 == "rollback" && e.2 == "begin")
        .count();
    assert_eq!(rollbacks, 1, "one rollback attempt");
}

/// F8: an abort mid-batch leaves no node drained, and never more than a batch at once.
#[tokio::test]
async fn abort_cleans_up_without_auto_rollback() {
    let mut t = target(&FOUR, 2, 0);
    t.auto_rollback = false;
    let fake = Arc::new(Fake::new(&FOUR, &["n1"]));
    let journal = Arc::new(MemJournal::default());
    let o = Orchestrator::new(plan(&t), fake.clone(), journal);
    let out = o.run().await;
    assert_eq!(out.state, DeployState::Failed);
    let f = fake.fleet.lock().unwrap();
    assert_eq!(
        f.drained.iter().collect::<Vec<_>>(),
        ["n1"],
        "the failed node stays out of rotation, the healthy one went back"
    );
    assert_eq!(out.left_out.len(), 1, "{out:?}");
    assert!(out.left_out[0].1.contains("its deploy failed"), "{out:?}");
    assert!(f.max_drained <= 2);
}

/// F9: the rollback fails: `failed_rollback`, attempted once, the node listed with a reason.
#[tokio::test]
async fn a_failed_rollback_needs_a_human() {
    let fake = Fake {
        fail_rollback: true,
        ..Fake::new(&FOUR, &["n2"])
    };
    let (out, fake, _) = deploy(&FOUR, 1, 0, fake).await;
    assert_eq!(out.state, DeployState::FailedRollback, "{out:?}");
    let reason = out.reason.unwrap();
    assert!(reason.contains("rollback failed"), "{reason}");
    assert!(
        reason.contains("n1: ") && reason.contains("n2: "),
        "{reason}"
    );
    let f = fake.fleet.lock().unwrap();
    for n in ["n1", "n2"] {
        let tries = f.calls.iter().filter(|c| **c == format!("rollback {n}"));
        assert_eq!(tries.count(), 1, "{n} tried once: {:?}", f.calls);
    }
}

/// R1: an abort after the first node finished rolls every changed node back, although the
/// abort flag stays set while the rollback waits for each node's health.
#[tokio::test(start_paused = true)]
async fn an_abort_after_the_first_node_rolls_everything_back() {
    let nodes = ["n1", "n2", "n3"];
    let journal = Arc::new(MemJournal::default());
    let fake = Arc::new(Fake {
        slow_start: true,
        abort_during: Some(("n2".into(), journal.clone())),
        ..Fake::new(&nodes, &[])
    });
    let t = target(&nodes, 1, 0);
    let out = Orchestrator::new(plan(&t), fake.clone(), journal.clone())
        .run()
        .await;
    assert_eq!(out.state, DeployState::RolledBack, "{out:?}");
    assert!(out.left_out.is_empty(), "{out:?}");
    assert!(fake.versions().iter().all(|v| v.as_deref() == Some("v1")));
    let f = fake.fleet.lock().unwrap();
    assert!(f.drained.is_empty(), "every node back in rotation");
    assert!(
        !f.calls.contains(&"deploy n3 v2".to_string()),
        "{:?}",
        f.calls
    );
    let rows = journal.entries.lock().unwrap();
    assert!(
        !rows.iter().any(|e| e.0 == "rollback" && e.3 == "fail"),
        "{rows:?}"
    );
}

/// R2: one node's failed rollback does not stop the others; each failure is named.
#[tokio::test(start_paused = true)]
async fn a_rollback_that_fails_on_one_node_still_rolls_back_the_others() {
    let fake = Fake {
        fail_rollback_on: ["n3".to_string()].into(),
        ..Fake::new(&FOUR, &["n3"])
    };
    let (out, fake, _) = deploy(&FOUR, 1, 0, fake).await;
    assert_eq!(out.state, DeployState::FailedRollback, "{out:?}");
    let reason = out.reason.unwrap();
    assert!(
        reason.contains("n3: previous version will not start"),
        "{reason}"
    );
    assert_eq!(
        fake.versions(),
        [Some("v1"), Some("v1"), Some("v1"), Some("v1")].map(|v| v.map(String::from)),
        "n3 failed its rollback but still runs v1 beside the failed v2; n1 and n2 are back"
    );
    let f = fake.fleet.lock().unwrap();
    assert!(
        f.calls.contains(&"rollback n1".to_string()),
        "{:?}",
        f.calls
    );
    assert!(
        f.calls.contains(&"rollback n2".to_string()),
        "{:?}",
        f.calls
    );
    assert_eq!(
        f.drained.iter().collect::<Vec<_>>(),
        ["n3"],
        "n3 waits for a human"
    );
}

/// R2: a node whose drain failed was never changed: no rollback, and it goes back to rotation.
#[tokio::test(start_paused = true)]
async fn a_node_whose_drain_failed_is_not_rolled_back() {
    let fake = Fake {
        fail_drain: ["n2".to_string()].into(),
        ..Fake::new(&FOUR, &[])
    };
    let (out, fake, _) = deploy(&FOUR, 1, 0, fake).await;
    assert_eq!(out.state, DeployState::RolledBack, "{out:?}");
    assert!(out.left_out.is_empty(), "{out:?}");
    let f = fake.fleet.lock().unwrap();
    assert!(
        !f.calls.contains(&"rollback n2".to_string()),
        "{:?}",
        f.calls
    );
    assert!(
        f.calls.contains(&"rollback n1".to_string()),
        "{:?}",
        f.calls
    );
}

/// F10: a node that never becomes healthy fails at its 600 s deadline and policy applies;
/// the paused clock makes the ten minutes instant.
#[tokio::test(start_paused = true)]
async fn a_node_never_healthy_fails_at_its_deadline() {
    let fake = Fake {
        never_healthy: ["n1".to_string()].into(),
        ..Fake::new(&["n1", "n2"], &[])
    };
    let start = tokio::time::Instant::now();
    let (out, _, journal) = deploy(&["n1", "n2"], 1, 0, fake).await;
    assert!(
        start.elapsed() >= Duration::from_secs(600),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(
        out.state,
        DeployState::FailedRollback,
        "n1's rollback is not healthy either: {out:?}"
    );
    let entries = journal.entries.lock().unwrap();
    let health = entries
        .iter()
        .find(|e| e.2 == "health" && e.3 == "fail")
        .unwrap();
    assert!(health.4.contains("600s deadline"), "{health:?}");
}

/// F11: a second attempt of the same journal repeats no completed step.
#[tokio::test]
async fn resume_repeats_no_completed_step() {
    let t = target(&FOUR, 1, 0);
    let journal = Arc::new(MemJournal::default());
    // The first attempt got through n1 and n2's drain and deploy, then died.
    for (node, step) in [
        ("n1", "drain"),
        ("n1", "deploy"),
        ("n1", "health"),
        ("n1", "smoke"),
        ("n1", "undrain"),
        ("n2", "drain"),
        ("n2", "deploy"),
    ] {
        journal.record("forward", node, step, "ok", "");
    }
    journal.record("forward", "n2", "health", "start", "");
    let fake = Arc::new(Fake::new(&FOUR, &[]));
    fake.fleet
        .lock()
        .unwrap()
        .version
        .insert("n1".into(), Some("v2".into()));
    fake.fleet
        .lock()
        .unwrap()
        .next
        .insert("n2".into(), "v2".into());
    let o = Orchestrator::new(plan(&t), fake.clone(), journal);
    o.assume_drained(&["n2".into()]);
    let out = o.run().await;
    assert_eq!(out.state, DeployState::Succeeded, "{out:?}");
    let f = fake.fleet.lock().unwrap();
    assert!(
        !f.calls
            .iter()
            .any(|c| c.ends_with("n1") || c.starts_with("deploy n1")),
        "{:?}",
        f.calls
    );
    assert!(
        !f.calls.contains(&"drain n2".to_string())
            && !f.calls.contains(&"deploy n2 v2".to_string())
    );
    assert!(f.calls.contains(&"undrain n2".to_string()));
    drop(f);
    assert!(fake.versions().iter().all(|v| v.as_deref() == Some("v2")));
}

/// A node rolled back within the budget is not drained again by a later abort's rollback,
/// and a drain that failed within the budget goes back to rotation before the next batch.
#[tokio::test(start_paused = true)]
async fn a_node_rolled_back_within_budget_stays_in_rotation_after_an_abort() {
    let nodes = ["n1", "n2", "n3", "n4"];
    let journal = Arc::new(MemJournal::default());
    let fake = Arc::new(Fake {
        abort_during: Some(("n3".into(), journal.clone())),
        fail_drain: ["n2".to_string()].into(),
        ..Fake::new(&nodes, &["n1"])
    });
    let t = target(&nodes, 1, 50);
    let o = Orchestrator::new(plan(&t), fake.clone(), journal.clone());
    let out = o.run().await;
    assert_eq!(out.state, DeployState::RolledBack, "{out:?}");
    assert!(out.left_out.is_empty(), "{out:?}");
    assert!(
        *o.max_drained.lock().unwrap() <= 1,
        "never more than the batch drained"
    );
    let f = fake.fleet.lock().unwrap();
    assert!(
        f.drained.is_empty(),
        "every node in rotation: {:?}",
        f.calls
    );
    let drains = f.calls.iter().filter(|c| **c == "drain n1").count();
    assert_eq!(drains, 1, "n1 is not drained a second time: {:?}", f.calls);
    drop(f);
    assert!(fake.versions().iter().all(|v| v.as_deref() == Some("v1")));
}
