use super::*;

fn new(target: &str) -> NewDeploy {
    NewDeploy {
        target: target.into(),
        kind: "deploy".into(),
        from: Some("v1".into()),
        to: "v2".into(),
        plan: "{}".into(),
        actor: "a@h".into(),
    }
}

/// F13: two operators start a deploy of one target at the same instant, 200 times over;
/// exactly one wins each time and the other is told who holds the lock.
#[test]
fn exactly_one_of_two_concurrent_deploys_wins() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("s.db");
    Store::open(&path).unwrap();
    for round in 0..200 {
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        let handles: Vec<_> = (0..2)
            .map(|who| {
                let (path, barrier) = (path.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let mut s = Store::open(&path).unwrap();
                    barrier.wait();
                    s.begin_deploy(
                        &new("api"),
                        &format!("op{who}@h"),
                        100 + who,
                        30,
                        1000 + round,
                    )
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let wins: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(wins.len(), 1, "round {round}: {results:?}");
        let loser = results.iter().find_map(|r| r.as_ref().err()).unwrap();
        match loser {
            LockError::Held(l) => assert!(l.holder.starts_with("op"), "{l:?}"),
            other => panic!("round {round}: loser saw {other}"),
        }
        let (id, lock) = wins[0];
        let s = Store::open(&path).unwrap();
        s.finish_deploy(*id, "succeeded", None, 1000 + round)
            .unwrap();
        s.release_lock(lock).unwrap();
    }
}

#[test]
fn a_dead_holder_keeps_the_lock_until_its_ttl_and_an_unfinished_deploy_blocks() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = Store::open(&tmp.path().join("s.db")).unwrap();
    let (id, lock) = s.begin_deploy(&new("api"), "a@h", 1, 30, 100).unwrap();
    let err = s.begin_deploy(&new("api"), "b@h", 2, 30, 129).unwrap_err();
    assert!(matches!(err, LockError::Held(_)), "{err}");
    assert!(err.to_string().contains(&lock), "names the lock id: {err}");
    // Past the TTL the lock is free, but the deploy under it never finished.
    let err = s.begin_deploy(&new("api"), "b@h", 2, 30, 131).unwrap_err();
    assert!(
        matches!(err, LockError::Unfinished(i, _) if i == id),
        "{err}"
    );
    // A runner that still exists is never joined by a second, however old its heartbeat.
    assert!(matches!(
        s.resume_lock(id, "b@h", 2, 10_000, true),
        Err(LockError::Held(_))
    ));
    // Resuming takes the lock over; a finished deploy frees the target.
    let again = s.resume_lock(id, "b@h", 2, 131, false).unwrap();
    assert_eq!(again, lock);
    s.finish_deploy(id, "succeeded", None, 140).unwrap();
    s.release_lock(&lock).unwrap();
    assert!(
        matches!(
            s.resume_lock(id, "c@h", 3, 141, false),
            Err(LockError::Ended(..))
        ),
        "an ended deploy is never resumed"
    );
    assert!(s.begin_deploy(&new("api"), "b@h", 2, 30, 141).is_ok());
}

#[test]
fn a_lock_kept_for_a_human_needs_its_id_to_go() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = Store::open(&tmp.path().join("s.db")).unwrap();
    let (id, lock) = s.begin_deploy(&new("api"), "a@h", 1, 30, 100).unwrap();
    s.finish_deploy(id, "failed_rollback", Some("x"), 110)
        .unwrap();
    s.hold_lock(&lock, "needs human").unwrap();
    let err = s
        .begin_deploy(&new("api"), "b@h", 2, 30, 10_000)
        .unwrap_err();
    assert!(err.to_string().contains("needs human"), "{err}");
    assert!(s.force_unlock("api", "wrong", 10_001).unwrap().is_none());
    assert!(s.lock("api").unwrap().is_some());
    assert!(s.force_unlock("api", &lock, 10_002).unwrap().is_some());
    assert!(s.begin_deploy(&new("api"), "b@h", 2, 30, 10_003).is_ok());
}

#[test]
fn journal_and_nodes_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = Store::open(&tmp.path().join("s.db")).unwrap();
    s.durable().unwrap();
    let (id, _) = s.begin_deploy(&new("api"), "a@h", 1, 30, 100).unwrap();
    let e = JournalEntry {
        seq: 0,
        ts_ms: 5,
        phase: "forward".into(),
        node: "n1".into(),
        step: "drain".into(),
        status: "ok".into(),
        detail: String::new(),
    };
    assert_eq!(s.journal_append(id, &e).unwrap(), 1);
    assert_eq!(s.journal_append(id, &e).unwrap(), 2);
    assert_eq!(s.journal(id, 1).unwrap().len(), 1);
    s.set_node("api", "n1", Some("v2"), "in_rotation", 1)
        .unwrap();
    s.set_node("api", "n1", None, "drained", 2).unwrap();
    let n = &s.nodes("api").unwrap()[0];
    assert_eq!(
        (n.version.as_deref(), n.state.as_str()),
        (Some("v2"), "drained")
    );
}
