//! Deploy orchestration overhead (PERFORMANCE.md: ≤ 100 ms per batch beyond the work): whole
//! deploys through the orchestrator and the real, fsync'd store journal, with an engine whose
//! steps cost nothing; and what the cockpit pays to read and draw a 200-node target.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use divan::Bencher;
use flightdeck::app::{Event, Init, State, update};
use flightdeck::config::TargetConfig;
use flightdeck::engine::deploy::runner::StoreJournal;
use flightdeck::engine::deploy::view;
use flightdeck::engine::deploy::{DeployKind, DeployPlan, Engine, Orchestrator};
use flightdeck::store::{NewDeploy, Store};
use flightdeck::theme::ThemeSet;
use futures::future::BoxFuture;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

/// Every step succeeds at once: what remains is flightdeck's own cost.
struct Instant;

impl Engine for Instant {
    fn drain<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }
    fn deploy<'a>(&'a self, _: &'a str, _: &'a str) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }
    fn healthy<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<bool, String>> {
        Box::pin(async { Ok(true) })
    }
    fn smoke<'a>(&'a self, _: &'a str, _: &'a str) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }
    fn undrain<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }
    fn rollback<'a>(&'a self, _: &'a str, _: Option<&'a str>) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }
    fn node_url(&self, _: &str) -> Option<String> {
        None
    }
}

fn target(nodes: usize, batch: usize) -> TargetConfig {
    let list: Vec<String> = (1..=nodes).map(|i| format!("\"n{i}\"")).collect();
    toml::from_str(&format!(
        "name = \"t\"\nenvironment = \"bench\"\nengine = \"local-fleet\"\nnodes = [{}]\nstrategy = {{ batch_size = {batch} }}\n",
        list.join(",")
    ))
    .unwrap()
}

fn plan(nodes: usize, batch: usize, dir: &std::path::Path) -> DeployPlan {
    let current: BTreeMap<String, Option<String>> = (1..=nodes)
        .map(|i| (format!("n{i}"), Some("v1".to_string())))
        .collect();
    DeployPlan::new(
        &target(nodes, batch),
        DeployKind::Deploy,
        "v2",
        &current,
        dir.to_path_buf(),
        PathBuf::from("flightdeck"),
        dir.join("deploy.log"),
    )
}

/// One whole deploy of `nodes` nodes in batches of `batch`, journaled durably.
fn deploy(bencher: Bencher, nodes: usize, batch: usize) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let p = plan(nodes, batch, dir.path());
    let json = serde_json::to_string(&p).unwrap();
    let mut n = 0;
    bencher.bench_local(|| {
        n += 1;
        let mut store = Store::open(&db).unwrap();
        let (id, lock) = store
            .begin_deploy(
                &NewDeploy {
                    target: format!("t{n}"),
                    kind: "deploy".into(),
                    from: Some("v1".into()),
                    to: "v2".into(),
                    plan: json.clone(),
                    actor: "bench".into(),
                },
                "bench",
                1,
                30,
                0,
            )
            .unwrap();
        let journal = Arc::new(StoreJournal::open(&db, id, "t", &p.log_path).unwrap());
        let out = rt.block_on(Orchestrator::new(p.clone(), Arc::new(Instant), journal).run());
        assert_eq!(out.state, flightdeck::domain::DeployState::Succeeded);
        store.release_lock(&lock).unwrap();
    });
}

/// 10 batches of one node: divide by 10 for the cost of a batch.
#[divan::bench(sample_count = 10)]
fn deploy_10_batches_of_1(bencher: Bencher) {
    deploy(bencher, 10, 1);
}

/// 10 batches of 20 nodes (a 200-node fleet): divide by 10 for the cost of a batch.
#[divan::bench(sample_count = 5)]
fn deploy_10_batches_of_20(bencher: Bencher) {
    deploy(bencher, 200, 20);
}

/// A 200-node target mid-deploy, with the journal of its deploy.
fn big_store() -> (tempfile::TempDir, PathBuf, TargetConfig) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let t = target(200, 20);
    let mut store = Store::open(&db).unwrap();
    let (id, _) = store
        .begin_deploy(
            &NewDeploy {
                target: "t".into(),
                kind: "deploy".into(),
                from: Some("v1".into()),
                to: "v2".into(),
                plan: "{}".into(),
                actor: "bench".into(),
            },
            "bench",
            1,
            30,
            0,
        )
        .unwrap();
    let journal = StoreJournal::open(&db, id, "t", &dir.path().join("log")).unwrap();
    use flightdeck::engine::deploy::Journal;
    for n in &t.nodes {
        for step in ["drain", "deploy", "health", "undrain"] {
            journal.record("forward", n, step, "start", "");
            journal.record("forward", n, step, "ok", "");
        }
        journal.set_node(n, Some("v2"), "in_rotation");
    }
    (dir, db, t)
}

/// What the cockpit reads every second while a 200-node deploy runs.
#[divan::bench(sample_count = 20)]
fn snapshot_200_nodes(bencher: Bencher) {
    let (_dir, db, t) = big_store();
    let store = Store::open(&db).unwrap();
    bencher.bench_local(|| view::snapshot(&store, std::slice::from_ref(&t)).unwrap());
}

/// One 160×48 frame of the deploys pane, zoomed, with a 200-node target.
#[divan::bench(sample_count = 50)]
fn frame_160x48_200_nodes(bencher: Bencher) {
    let (_dir, db, t) = big_store();
    let snap = view::snapshot(&Store::open(&db).unwrap(), std::slice::from_ref(&t)).unwrap();
    let mut s = State::new(Init {
        targets: vec![t],
        ..Init::local("bench", (160, 48))
    });
    let cmds = update(&mut s, Event::Tick, 0);
    let request = cmds
        .iter()
        .find_map(|c| match c {
            flightdeck::app::Command::ListDeploys { request } => Some(*request),
            _ => None,
        })
        .unwrap();
    update(
        &mut s,
        Event::DeploysListed {
            request,
            result: Ok(Some(snap)),
        },
        0,
    );
    s.focus = flightdeck::domain::PaneId::Deploys;
    s.zoom = true;
    let themes = ThemeSet::load(None).unwrap();
    let theme = themes.get("default").unwrap();
    let mut term = Terminal::new(TestBackend::new(160, 48)).unwrap();
    bencher.bench_local(|| {
        term.draw(|f| flightdeck::ui::render(f, &s, theme, 0))
            .unwrap();
    });
}

fn main() {
    divan::main();
}
