//! Deploys through the real binary: the demo fleet of real processes on loopback, a runner
//! killed with SIGKILL and resumed, and hostile versions handed to a script engine.

mod common;

use std::path::{Path, PathBuf};

use common::fleet::{
    Fleet, KillFleet, journal, slow_fleet, target, versions, wait_until, write_config,
};
use common::{Sandbox, bin};

#[test]
fn the_demo_fleet_rolls_v2_out_and_rolls_the_broken_v3_back() {
    let sb = Sandbox::new();
    let _fleet = Fleet {
        sb: &sb,
        args: vec!["demo", "--stop"],
    };
    let (code, out, err) = sb.run(&["deploy", "demo-api", "v1", "--dry-run"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("nothing → v1") && out.contains("dry run: nothing changed"),
        "{out}"
    );
    assert_eq!(
        versions(target(&sb.status(&[]), "demo-api")),
        ["-", "-", "-"]
    );

    let (code, out, err) = sb.run(&["--read-only", "deploy", "demo-api", "v1"]);
    assert_ne!(code, 0, "read-only refuses: {out}");
    assert!(err.contains("read-only"), "{err}");

    for v in ["v1", "v2"] {
        let (code, out, err) = sb.run(&["deploy", "demo-api", v]);
        assert_eq!(code, 0, "deploy {v}: {out}{err}");
        assert!(out.contains(": succeeded in"), "{out}");
    }
    let s = sb.status(&[]);
    let t = target(&s, "demo-api");
    assert_eq!(versions(t), ["v2", "v2", "v2"]);
    assert_eq!(t["state"], "succeeded");
    assert!(t["lock"].is_null(), "the lock is released: {t}");

    let (code, out, _) = sb.run(&["deploy", "demo-api", "v3"]);
    assert_eq!(code, 1, "the broken release fails: {out}");
    assert!(
        out.contains("smoke:orders") && out.contains("answered 500"),
        "{out}"
    );
    assert!(out.contains(": rolled_back in"), "{out}");
    let s = sb.status(&[]);
    let t = target(&s, "demo-api");
    assert_eq!(versions(t), ["v2", "v2", "v2"], "every node back on v2");
    assert_eq!(t["state"], "rolled_back");
    // Only the first node ever ran v3: the budget of 0 stopped the rollout there.
    let db = sb.state().join("demo/store.db");
    let deploys_of_v3 = journal(&db, 3)
        .into_iter()
        .filter(|(p, _, s, st)| p == "forward" && s == "deploy" && st == "ok")
        .count();
    assert_eq!(deploys_of_v3, 1);
    // The failed deploy is an event the incident loop will file.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let (kind, key, detail): (String, String, String) = conn
        .query_row(
            "SELECT kind, key, detail FROM events ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        (kind.as_str(), key.as_str()),
        ("deploy_rolled_back", "deploy:demo-api")
    );
    assert!(detail.contains("answered 500"), "{detail}");

    let (code, out, err) = sb.run(&["rollback", "demo-api"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("v2 → v1"), "{out}");
    assert_eq!(
        versions(target(&sb.status(&[]), "demo-api")),
        ["v1", "v1", "v1"]
    );

    let (code, out, err) = sb.run(&["demo", "--stop"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("stopped 3"), "{out}");
    let t = sb.status(&[]);
    assert!(
        target(&t, "demo-api")["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["state"] == "down"),
        "{t}"
    );
}

#[test]
fn a_runner_killed_mid_deploy_is_resumed_without_repeating_a_finished_step() {
    let sb = Sandbox::new();
    let _fleet = KillFleet(sb.state().join("t/store.db"), "slow");
    // Each node takes a second to start, so the deploy is still running when the runner dies.
    slow_fleet(&sb, "1", "node_deadline_secs = 20");
    let (code, out, err) = sb.run(&["deploy", "slow", "v1"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = sb.run(&["deploy", "slow", "v2", "--detach"]);
    assert_eq!(code, 0, "{out}{err}");

    // A second deploy of the same target is refused while the first runs.
    let (code, _, err) = sb.run(&["deploy", "slow", "v3"]);
    assert_ne!(code, 0);
    assert!(err.contains("deploy #2 of slow is running"), "{err}");

    let db = sb.state().join("t/store.db");
    wait_until("s1 on v2", 30, || {
        journal(&db, 2)
            .iter()
            .any(|(p, n, s, st)| p == "forward" && n == "s1" && s == "undrain" && st == "ok")
    });
    let pid = sb.status(&[])["deploys"][0]["last"]["pid"]
        .as_u64()
        .unwrap() as i32;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_until("the runner to go", 10, || {
        !Path::new(&format!("/proc/{pid}/cmdline")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z"))
    });

    let t = sb.status(&[]);
    assert_eq!(
        target(&t, "slow")["state"],
        "running",
        "the store still says running: {t}"
    );
    let (code, _, err) = sb.run(&["deploy", "slow", "v3"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("did not finish") && err.contains("--resume"),
        "{err}"
    );

    let (code, out, err) = sb.run(&["deploy", "slow", "--resume"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("resumed") && out.contains(": succeeded in"),
        "{out}"
    );
    assert_eq!(
        versions(target(&sb.status(&[]), "slow")),
        ["v2", "v2", "v2"]
    );
    let j = journal(&db, 2);
    let done = |node: &str, step: &str| {
        j.iter()
            .filter(|(p, n, s, st)| p == "forward" && n == node && s == step && st == "ok")
            .count()
    };
    for step in ["drain", "deploy", "health", "undrain"] {
        assert_eq!(done("s1", step), 1, "s1 {step} ran once: {j:?}");
        assert_eq!(done("s3", step), 1, "s3 {step} ran once: {j:?}");
    }
    assert!(
        j.iter().any(|(p, _, s, _)| p == "deploy" && s == "resume"),
        "{j:?}"
    );
    // Exactly one instance per node of this sandbox is left running.
    let state = format!("FLIGHTDECK_STATE_DIR={}", sb.state().display());
    let fleet: Vec<PathBuf> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            std::fs::read(p.join("environ")).is_ok_and(|env| {
                let env = String::from_utf8_lossy(&env);
                env.contains("FLIGHTDECK_TARGET=slow")
                    && env.contains(&format!("FD={}", bin()))
                    && env.contains(&state)
            }) && std::fs::read_to_string(p.join("stat")).is_ok_and(|s| !s.contains(") Z"))
        })
        .collect();
    assert_eq!(fleet.len(), 3, "{fleet:?}");
}

#[test]
fn hostile_versions_reach_scripts_as_data_never_as_code() {
    let sb = Sandbox::new();
    let out = sb.path().join("out");
    std::fs::create_dir(&out).unwrap();
    write_config(
        &sb,
        &format!(
            r#"
[[targets]]
name = "web"
environment = "test"
nodes = ["w1", "w2"]
engine = "script"
drain = false
env = {{ OUT = "{}" }}
script = {{ deploy = ["sh", "-c", "printf '%s' \"$FLIGHTDECK_VERSION\" > \"$OUT/$FLIGHTDECK_NODE\""], health = ["true"] }}
"#,
            out.display()
        ),
    );
    let corpus = [
        "main; touch pwned-1",
        "$(touch pwned-2)",
        "`touch pwned-3`",
        "-rf",
        "--help",
        "v1 && touch pwned-4 || true",
        "a'b\"c\\d",
        "%s%n{version}",
        "versión-ünïcode-🚀",
    ];
    for v in corpus {
        let (code, o, e) = sb.run(&["deploy", "web", "--", v]);
        assert_eq!(code, 0, "{v}: {o}{e}");
        for node in ["w1", "w2"] {
            assert_eq!(
                std::fs::read_to_string(out.join(node)).unwrap(),
                v,
                "{node} got {v:?} verbatim"
            );
        }
    }
    let pwned: Vec<_> = [sb.path(), out.as_path(), Path::new("/tmp")]
        .iter()
        .flat_map(|d| std::fs::read_dir(d).unwrap().flatten())
        .filter(|e| e.file_name().to_string_lossy().starts_with("pwned-"))
        .map(|e| e.path())
        .collect();
    assert!(pwned.is_empty(), "{pwned:?}");
    let (code, _, err) = sb.run(&["deploy", "web", "--", "two\nlines"]);
    assert_ne!(code, 0);
    assert!(err.contains("not usable"), "{err}");
}

/// R3: a target that knows its versions refuses another one, naming the known ones, unless
/// `--allow-unknown-version` says so; a target that knows none takes any.
#[test]
fn an_unknown_version_is_refused_unless_allowed() {
    let sb = Sandbox::new();
    write_config(
        &sb,
        r#"
[[targets]]
name = "web"
environment = "test"
nodes = ["w1"]
engine = "script"
drain = false
versions = ["v1", "v2"]
script = { deploy = ["true"], health = ["true"] }
"#,
    );
    let (code, out, err) = sb.run(&["deploy", "web", "v999", "--yes"]);
    assert_eq!(code, 3, "refused: {out}{err}");
    assert!(
        err.contains("v999 is not a known version of web: known are v2, v1")
            && err.contains("--allow-unknown-version"),
        "{err}"
    );
    assert!(journal(&sb.state().join("t/store.db"), 1).is_empty());
    let (code, out, err) = sb.run(&["deploy", "web", "v2"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = sb.run(&["deploy", "web", "v999", "--allow-unknown-version"]);
    assert_eq!(code, 0, "{out}{err}");
    // Once deployed, it is known: going back to it needs no flag.
    let (code, out, err) = sb.run(&["deploy", "web", "v1"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = sb.run(&["deploy", "web", "v999"]);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn a_protected_target_needs_a_typed_name_or_yes() {
    let sb = Sandbox::new();
    write_config(
        &sb,
        r#"
[[targets]]
name = "prod"
nodes = ["p1"]
engine = "script"
script = { deploy = ["true"], health = ["true"] }
"#,
    );
    let (code, out, err) = sb.run(&["deploy", "prod", "v1"]);
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("protected") && err.contains("--yes"), "{err}");
    assert_eq!(
        target(&sb.status(&[]), "prod")["state"],
        "idle",
        "nothing started"
    );
    let (code, out, err) = sb.run(&["deploy", "prod", "v1", "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, _) = sb.run(&["audit", "verify"]);
    assert_eq!(code, 0);
}

/// Target `slow` on v1, then deploy #2 (v2) started in the background; the store's path.
fn v1_then_v2_detached(sb: &Sandbox, sleep: &str, strategy: &str) -> PathBuf {
    slow_fleet(sb, sleep, strategy);
    let (code, out, err) = sb.run(&["deploy", "slow", "v1"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = sb.run(&["deploy", "slow", "v2", "--detach"]);
    assert_eq!(code, 0, "{out}{err}");
    sb.state().join("t/store.db")
}

#[test]
fn an_abort_stops_a_deploy_waiting_for_health_and_rolls_it_back() {
    let sb = Sandbox::new();
    let _fleet = KillFleet(sb.state().join("t/store.db"), "slow");
    // Nodes take 3 s to start; the whole fleet is one batch.
    let db = v1_then_v2_detached(&sb, "3", "batch_size = 3, node_deadline_secs = 60");
    wait_until("the nodes to wait for health", 10, || {
        journal(&db, 2)
            .iter()
            .any(|(_, _, s, st)| s == "health" && st == "start")
    });
    let started = std::time::Instant::now();
    let (code, out, err) = sb.run(&["deploy", "slow", "--abort"]);
    assert_eq!(code, 1, "an aborted deploy is not a success: {out}{err}");
    assert!(
        out.contains("abort requested") && out.contains(": rolled_back in"),
        "{out}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "the abort did not wait out the 60 s deadline"
    );
    assert_eq!(
        versions(target(&sb.status(&[]), "slow")),
        ["v1", "v1", "v1"]
    );
    let (code, out, _) = sb.run(&["audit", "verify"]);
    assert_eq!(code, 0, "{out}");
}

/// R1: an abort after the first node finished rolls back every node it changed, although the
/// abort flag is still set while the rollback waits for each node's health.
#[test]
fn an_abort_after_the_first_node_finished_ends_rolled_back_with_the_lock_free() {
    let sb = Sandbox::new();
    let _fleet = KillFleet(sb.state().join("t/store.db"), "slow");
    let db = v1_then_v2_detached(&sb, "1", "batch_size = 1, node_deadline_secs = 20");
    wait_until("s1 done and s2 waiting for health", 30, || {
        let j = journal(&db, 2);
        j.iter()
            .any(|(_, n, s, st)| n == "s1" && s == "undrain" && st == "ok")
            && j.iter().any(|(_, n, s, _)| n == "s2" && s == "health")
    });
    let (code, out, err) = sb.run(&["deploy", "slow", "--abort"]);
    assert_eq!(code, 1, "an aborted deploy is not a success: {out}{err}");
    assert!(out.contains(": rolled_back in"), "{out}");
    assert!(!out.contains("rollback failed"), "{out}");
    let s = sb.status(&[]);
    let t = target(&s, "slow");
    assert_eq!(versions(t), ["v1", "v1", "v1"], "{t}");
    assert!(t["lock"].is_null(), "the lock is free: {t}");
    let (code, out, err) = sb.run(&["deploy", "slow", "v2"]);
    assert_eq!(code, 0, "the target takes a new deploy: {out}{err}");

    // R8: a configured local fleet stops with `fleet stop`, on stdout, audited.
    let (code, out, err) = sb.run(&["--read-only", "fleet", "stop", "slow"]);
    assert_eq!(code, 3, "{out}{err}");
    let (code, out, err) = sb.run(&["fleet", "stop", "slow"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("stopped 3 node processes of slow"), "{out}");
    let s = sb.status(&[]);
    let nodes = target(&s, "slow")["nodes"].as_array().unwrap().clone();
    assert!(nodes.iter().all(|n| n["state"] == "down"), "{nodes:?}");
    let (code, out, err) = sb.run(&["--config", "flightdeck.toml", "demo", "--stop"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        err.contains("fleet stop TARGET"),
        "demo --stop says what it does not do: {err}"
    );
}

#[test]
fn a_failed_rollback_keeps_the_lock_until_unlocked_with_its_id() {
    let sb = Sandbox::new();
    write_config(
        &sb,
        r#"
[[targets]]
name = "web"
environment = "staging"
nodes = ["w1"]
engine = "script"
drain = false
script = { deploy = ["sh", "-c", "test \"$FLIGHTDECK_VERSION\" != bad"], health = ["true"], rollback = ["false"] }
"#,
    );
    let (code, out, err) = sb.run(&["deploy", "web", "good"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, _) = sb.run(&["deploy", "web", "bad"]);
    assert_eq!(code, 1);
    assert!(out.contains(": failed_rollback in"), "{out}");
    assert!(out.contains("flightdeck unlock web "), "{out}");
    let s = sb.status(&[]);
    let lock = target(&s, "web")["lock"].clone();
    let id = lock["lock_id"].as_str().unwrap().to_string();
    assert!(
        lock["reason"].as_str().unwrap().contains("needs human"),
        "{lock}"
    );

    // One critical incident says so, with the next steps.
    let (code, out, err) = sb.run(&["watch", "--once"]);
    assert_eq!(code, 0, "{out}{err}");
    let filed = common::filed_incidents(&sb.status(&[]));
    assert_eq!(filed.len(), 1, "{filed:?}");
    assert_eq!(filed[0]["title"], "Rollback of web failed: needs a human");
    assert_eq!(filed[0]["severity"], "critical");
    let body: String = rusqlite::Connection::open(sb.state().join("t/store.db"))
        .unwrap()
        .query_row(
            "SELECT body FROM items WHERE title = 'Rollback of web failed: needs a human'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(body.contains("flightdeck unlock web LOCK_ID"), "{body}");

    let (code, _, err) = sb.run(&["deploy", "web", "good"]);
    assert_ne!(code, 0);
    assert!(err.contains("needs human") && err.contains(&id), "{err}");
    let (code, _, err) = sb.run(&["--read-only", "unlock", "web", &id]);
    assert_ne!(code, 0);
    assert!(err.contains("read-only"), "{err}");
    let (code, out, _) = sb.run(&["unlock", "web", "not-the-id"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("nothing changed"), "{out}");
    let (code, out, err) = sb.run(&["unlock", "web", &id]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("web unlocked"), "{out}");
    let (code, out, err) = sb.run(&["deploy", "web", "good"]);
    assert_eq!(code, 0, "the target is free again: {out}{err}");
    let db = sb.state().join("t/store.db");
    let conn = rusqlite::Connection::open(db).unwrap();
    let unlocks: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM audit WHERE action = 'force_unlock' AND phase = 'ok'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        unlocks, 2,
        "both unlock attempts that reached the store are audited"
    );
}
