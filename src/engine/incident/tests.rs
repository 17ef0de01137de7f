//! F14: idempotent filing through the outbox, with a backlog that loses answers.

use std::sync::atomic::{AtomicU32, Ordering};

use futures::future::BoxFuture;

use super::*;
use crate::domain::{Comment, WorkItem};
use crate::providers::ProviderError;
use crate::providers::local::LocalBacklog;

/// A backlog whose mutations succeed but whose answers are lost `lose` times, and whose
/// lookups fail `blind` times.
struct Lossy {
    inner: LocalBacklog,
    lose: AtomicU32,
    blind: AtomicU32,
    applied: AtomicU32,
}

impl BacklogSource for Lossy {
    fn id(&self) -> &str {
        self.inner.id()
    }
    fn list(&self, force: bool) -> BoxFuture<'_, Result<Option<Vec<WorkItem>>, ProviderError>> {
        self.inner.list(force)
    }
    fn comments(&self, id: &str) -> BoxFuture<'_, Result<Vec<Comment>, ProviderError>> {
        self.inner.comments(id)
    }
    fn find_key(&self, key: &str) -> BoxFuture<'_, Result<Option<WorkItem>, ProviderError>> {
        if self.blind.load(Ordering::SeqCst) > 0 {
            self.blind.fetch_sub(1, Ordering::SeqCst);
            return Box::pin(async { Err(ProviderError::Unreachable("lookup down".into())) });
        }
        self.inner.find_key(key)
    }
    fn apply(&self, change: BacklogMutation) -> BoxFuture<'_, Result<String, ProviderError>> {
        Box::pin(async move {
            let r = self.inner.apply(change).await;
            self.applied.fetch_add(1, Ordering::SeqCst);
            if r.is_ok() && self.lose.load(Ordering::SeqCst) > 0 {
                self.lose.fetch_sub(1, Ordering::SeqCst);
                return Err(ProviderError::Timeout(Duration::from_secs(10)));
            }
            r
        })
    }
}

fn setup(lose: u32, blind: u32) -> (tempfile::TempDir, Arc<Lossy>, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("s.db");
    let inner = LocalBacklog::open("local", &path, "watch@test").unwrap();
    let lossy = Arc::new(Lossy {
        inner,
        lose: AtomicU32::new(lose),
        blind: AtomicU32::new(blind),
        applied: AtomicU32::new(0),
    });
    (tmp, lossy, path)
}

fn deliverer(path: &std::path::Path, backlog: Arc<Lossy>, owner: &str) -> Deliverer {
    Deliverer {
        store: Arc::new(Mutex::new(Store::open(path).unwrap())),
        backlog,
        gate: Gate::open(path, "watch@test", false).unwrap(),
        timeout: Duration::from_secs(5),
        owner: owner.into(),
    }
}

fn fire(path: &std::path::Path, key: &str, now: Timestamp) {
    let mut s = Store::open(path).unwrap();
    s.incident_fire(
        &FireRequest {
            key: key.into(),
            title: format!("{key} is down"),
            severity: "high".into(),
            body: "evidence".into(),
            labels: vec!["incident".into()],
            one_shot: false,
        },
        now,
    )
    .unwrap();
}

fn incidents(path: &std::path::Path) -> Vec<WorkItem> {
    Store::open(path)
        .unwrap()
        .list_items("local")
        .unwrap()
        .into_iter()
        .filter(|i| i.kind == ItemKind::Incident)
        .collect()
}

/// F14: the create succeeds but its answer is lost, the deliverer "restarts" (a new one, new
/// owner) after the lease, and the lookup fails once on the way: exactly one incident.
#[tokio::test(flavor = "multi_thread")]
async fn a_lost_answer_and_a_restart_file_exactly_one_incident() {
    let (_tmp, backlog, path) = setup(1, 0);
    fire(&path, "check:api", 100);
    let first = deliverer(&path, backlog.clone(), "w1");
    let (done, err) = first.deliver(100).await;
    assert_eq!(done, 0);
    assert!(err.unwrap().contains("timed out"));
    assert_eq!(incidents(&path).len(), 1, "the create did happen");
    drop(first);
    // Another process claimed `check:db`, created its item, and died before recording it.
    fire(&path, "check:db", 100);
    let dead = Store::open(&path)
        .unwrap()
        .outbox_claim("dead", 101, LEASE_SECS);
    assert_eq!(dead.unwrap().unwrap().key, "check:db");
    backlog
        .inner
        .apply(BacklogMutation::Create(NewItem {
            title: "check:db is down".into(),
            kind: Some(ItemKind::Incident),
            key: Some("check:db".into()),
            ..NewItem::default()
        }))
        .await
        .unwrap();
    let waiting = deliverer(&path, backlog.clone(), "w3");
    assert_eq!(
        waiting.deliver(150).await,
        (1, None),
        "check:api is reconciled; check:db stays leased until the dead owner's lease ends"
    );
    assert_eq!(incidents(&path).len(), 2);
    // The lookup is down when the new deliverer tries: fail closed, file nothing.
    backlog.blind.store(1, Ordering::SeqCst);
    let second = deliverer(&path, backlog.clone(), "w2");
    let (done, err) = second.deliver(100 + 400).await;
    assert_eq!(done, 0);
    assert!(err.unwrap().contains("lookup down"));
    let (done, err) = second.deliver(100 + 1000).await;
    assert_eq!((done, err), (1, None));
    let items = incidents(&path);
    assert_eq!(
        items.len(),
        2,
        "reconciled by key, not created twice: {items:?}"
    );
    for inc in Store::open(&path).unwrap().incidents().unwrap() {
        let item = items.iter().find(|i| Some(&i.id) == inc.item_id.as_ref());
        assert!(item.is_some(), "{} recorded against its item", inc.key);
    }
    assert_eq!(second.store().outbox_pending().unwrap().0, 0);
}

/// Re-fire comments once even when the comment's answer is lost; recovery closes; a
/// recurrence reopens the same item.
#[tokio::test(flavor = "multi_thread")]
async fn refire_resolve_and_recur_on_one_item() {
    let (_tmp, backlog, path) = setup(0, 0);
    let d = deliverer(&path, backlog.clone(), "w1");
    fire(&path, "check:api", 100);
    assert_eq!(d.deliver(100).await.0, 1);
    {
        let mut s = Store::open(&path).unwrap();
        assert!(
            s.incident_recover("check:api", "back to 12 ms", true, 200)
                .unwrap()
        );
    }
    backlog.lose.store(1, Ordering::SeqCst);
    let (done, _) = d.deliver(200).await;
    assert_eq!(done, 0, "the resolve comment's answer was lost");
    assert_eq!(d.deliver(2000).await.0, 1);
    let items = incidents(&path);
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].state, ItemState::Closed);
    let comments = Store::open(&path).unwrap().comments(&items[0].id).unwrap();
    assert_eq!(
        comments.len(),
        1,
        "one resolve comment despite the retry: {comments:?}"
    );
    fire(&path, "check:api", 3000);
    assert_eq!(d.deliver(3000).await.0, 1);
    let items = incidents(&path);
    assert_eq!(items.len(), 1, "a recurrence reopens, not a new incident");
    assert_eq!(items[0].state, ItemState::Open);
    let comments = Store::open(&path).unwrap().comments(&items[0].id).unwrap();
    assert!(comments[1].body.starts_with("Recurred"), "{comments:?}");
}

/// Read-only mode: nothing reaches the backlog, and nothing is lost either.
#[tokio::test(flavor = "multi_thread")]
async fn read_only_files_nothing_and_keeps_the_row() {
    let (_tmp, backlog, path) = setup(0, 0);
    let mut d = deliverer(&path, backlog.clone(), "w1");
    d.gate = Gate::open(&path, "watch@test", true).unwrap();
    fire(&path, "check:api", 100);
    let (done, err) = d.deliver(100).await;
    assert_eq!(done, 0);
    assert!(err.unwrap().contains("read-only"));
    assert_eq!(backlog.applied.load(Ordering::SeqCst), 0);
    assert_eq!(d.store().outbox_pending().unwrap().0, 1);
}

/// Failed deploys and pipelines become one-shot incidents; success resolves them.
#[test]
fn deploy_and_pipeline_events_fire_and_resolve() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = Store::open(&tmp.path().join("s.db")).unwrap();
    let ev = |kind: &str, state: &str| {
        serde_json::json!({"deploy": 3, "target": "api", "from": "v2", "to": "v3",
            "state": state, "reason": "smoke failed"})
        .to_string()
        .replace("KIND", kind)
    };
    s.record_event(
        "deploy_rolled_back",
        "deploy:api",
        &ev("", "rolled_back"),
        10,
    )
    .unwrap();
    s.record_event(
        "deploy_rolled_back",
        "deploy:api",
        &ev("", "rolled_back"),
        11,
    )
    .unwrap();
    assert_eq!(take_events(&mut s, true, 20).unwrap(), 2);
    assert_eq!(
        take_events(&mut s, true, 21).unwrap(),
        0,
        "each event taken once"
    );
    let inc = s.incidents().unwrap();
    assert_eq!(inc.len(), 1);
    assert_eq!((inc[0].occurrences, inc[0].state.as_str()), (2, "open"));
    s.record_event("deploy_succeeded", "deploy:api", &ev("", "succeeded"), 30)
        .unwrap();
    take_events(&mut s, true, 31).unwrap();
    assert_eq!(s.incidents().unwrap()[0].state, "resolved");
    let (n, _) = s.outbox_pending().unwrap();
    assert_eq!(n, 3, "open, occurrence, resolve");
}
