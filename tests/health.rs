//! The incident loop through the real binary on the demo fleet: `flightdeck watch` probes the
//! three nodes; the broken v3 files one incident; a killed node files one after its `for`
//! window; a redeploy resolves both.

mod common;

use serde_json::Value;

use common::fleet::{Fleet, wait_until};
use common::{Sandbox, Watch, filed_incidents as incidents};

fn check<'a>(s: &'a Value, name: &str) -> &'a Value {
    s["health"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == name)
        .unwrap_or_else(|| panic!("no check {name}: {}", s["health"]))
}

/// The pid of a demo node's running instance, from the store.
fn node_pid(sb: &Sandbox, node: &str) -> i32 {
    let conn = rusqlite::Connection::open(sb.state().join("demo/store.db")).unwrap();
    let data: String = conn
        .query_row(
            "SELECT data FROM deploy_nodes WHERE target = 'demo-api' AND node = ?1",
            [node],
            |r| r.get(0),
        )
        .unwrap();
    let v: Value = serde_json::from_str(&data).unwrap();
    v["current"]["pid"].as_i64().unwrap() as i32
}

#[test]
fn deploy_failures_and_a_killed_node_file_one_incident_each_and_recovery_resolves() {
    let sb = Sandbox::new();
    let _fleet = Fleet {
        sb: &sb,
        args: vec!["demo", "--stop"],
    };
    let (code, out, err) = sb.run(&["deploy", "demo-api", "v1"]);
    assert_eq!(code, 0, "{out}{err}");
    // Two watchers on one store: they must never file twice.
    let _w1 = Watch::start(&sb, &[]);
    let _w2 = Watch::start(&sb, &["--log-level", "info"]);
    wait_until("the nodes are probed", 30, || {
        let s = sb.status(&[]);
        check(&s, "healthz · demo-api-1")["status"] == "ok"
            && check(&s, "queue depth · demo-api-3")["value"].is_number()
            && check(&s, "cpu")["value"].is_number()
            && check(&s, "request rate · demo-api-2")["value"].is_number()
    });
    let s = sb.status(&[]);
    assert!(
        check(&s, "cpu")["value"].is_number(),
        "host metrics: {}",
        s["health"]
    );
    assert!(
        s["health"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c.get("forecast").is_some())
    );

    let (code, out, _) = sb.run(&["deploy", "demo-api", "v3"]);
    assert_eq!(code, 1, "v3 rolls back: {out}");
    wait_until("the rollback is filed", 20, || {
        incidents(&sb.status(&[])).len() == 1
    });
    let s = sb.status(&[]);
    let inc = &incidents(&s)[0];
    assert!(
        inc["title"].as_str().unwrap().contains("rolled back"),
        "{inc}"
    );
    assert!(
        inc["labels"]
            .as_array()
            .unwrap()
            .contains(&"incident".into())
    );

    // Kill a node: nothing for the first seconds (the `for` window is 15 s), then one incident.
    let pid = node_pid(&sb, "demo-api-2");
    let (code, _, err) = sb.run(&["demo", "--kill", "demo-api-2"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(&format!("pid {pid}")), "{err}");
    let killed = std::time::Instant::now();
    wait_until("the killed node is seen", 20, || {
        check(&sb.status(&[]), "healthz · demo-api-2")["status"] == "crit"
    });
    assert_eq!(
        incidents(&sb.status(&[])).len(),
        1,
        "not filed before its `for` window"
    );
    wait_until("the killed node is filed", 40, || {
        incidents(&sb.status(&[])).len() == 2
    });
    assert!(killed.elapsed().as_secs() >= 15, "filed only after `for`");
    let s = sb.status(&[]);
    let down = incidents(&s)
        .into_iter()
        .find(|i| {
            i["title"]
                .as_str()
                .unwrap()
                .starts_with("healthz · demo-api-2")
        })
        .unwrap_or_else(|| panic!("{}", s["backlog"]));
    assert_eq!(down["severity"], "high");
    assert_eq!(check(&s, "healthz · demo-api-2")["firing"], true);
    let keys: Vec<String> = s["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["key"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(keys.len(), 2, "{keys:?}");

    // Redeploy: the node comes back; both incidents resolve and close.
    let (code, out, err) = sb.run(&["deploy", "demo-api", "v2"]);
    assert_eq!(code, 0, "{out}{err}");
    wait_until("both incidents resolve", 60, || {
        let s = sb.status(&[]);
        let inc = incidents(&s);
        inc.len() == 2 && inc.iter().all(|i| i["state"] == "closed")
    });
    let s = sb.status(&[]);
    for i in s["incidents"].as_array().unwrap() {
        assert_eq!(i["state"], "resolved", "{i}");
        assert_eq!(i["occurrences"], 1, "one firing each: {i}");
    }
    assert_eq!(check(&s, "healthz · demo-api-2")["status"], "ok");
}

/// Remediation in `auto` mode: runs once when the check goes bad, within its cool-down and
/// bounds, audited; a read-only watcher never runs it.
#[test]
fn auto_remediation_runs_within_bounds_and_never_read_only() {
    let sb = Sandbox::new();
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    let out = sb.path().join("scaled");
    common::fleet::write_config(
        &sb,
        &format!(
            r#"
[[checks]]
name = "api"
kind = "http"
url = "http://127.0.0.1:{port}/healthz"
interval_secs = 1
for_secs = 1
remediate = {{ name = "add a worker", run = ["sh", "-c", "echo $FLIGHTDECK_CAPACITY >> {out}"], mode = "auto", min = 1, max = 3, cooldown_secs = 3600 }}
"#,
            out = out.display()
        ),
    );
    let ro = Watch::start(&sb, &["--read-only"]);
    wait_until("the read-only watcher sees it down", 20, || {
        check(&sb.status(&[]), "api")["status"] == "crit"
    });
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert!(!out.exists(), "read-only never remediates");
    drop(ro);
    let _w = Watch::start(&sb, &[]);
    wait_until("the action ran", 20, || out.exists());
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "2\n",
        "once, within its cool-down"
    );
    let (code, audit, _) = sb.run(&["audit", "verify"]);
    assert_eq!(code, 0, "{audit}");
    let db = rusqlite::Connection::open(sb.state().join("t/store.db")).unwrap();
    let n: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM audit WHERE action = 'remediate' AND phase = 'ok'",
            [],
            |r| r.get(0),
        )
        .unwrap_or(0);
    assert_eq!(n, 1, "audited once");
}
