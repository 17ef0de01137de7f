//! Real Prometheus, node_exporter and Alertmanager (Debian packages) on loopback: PromQL
//! results in `status` and in the pane, F6 as a table, an alerting rule firing through
//! Alertmanager into exactly one incident, F5 (a dead Prometheus is never healthy), and L3
//! (an alert storm: at most one incident per key, several watchers filing nothing twice).

mod common;
#[path = "common/monitoring.rs"]
mod monitoring;

use std::time::Duration;

use serde_json::Value;

use common::fleet::{wait_until, write_config};
use common::{Cockpit, Sandbox, Watch};
use monitoring::{Monitoring, Options, http_post_json};

fn check<'a>(s: &'a Value, name: &str) -> Option<&'a Value> {
    s["health"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == name)
}

fn status_of(s: &Value, name: &str) -> String {
    check(s, name)
        .map(|c| c["status"].as_str().unwrap_or("").to_string())
        .unwrap_or_default()
}

fn incidents(s: &Value) -> Vec<Value> {
    s["backlog"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "incident")
        .cloned()
        .collect()
}

const RULES: &str = "groups:
- name: t
  rules:
  - alert: AlwaysFiring
    expr: vector(1)
    for: 0s
    labels: {severity: critical, service: demo}
    annotations: {summary: \"the demo is on fire\"}
";

fn config(m: &Monitoring) -> String {
    format!(
        r#"
[[providers]]
id = "prom"
kind = "prometheus"
url = "{prom}"

[[providers]]
id = "am"
kind = "alertmanager"
url = "{am}"

[[checks]]
name = "node up"
kind = "prometheus"
provider = "prom"
query = 'up{{job="node"}}'
below = true
crit = 0.5
range_secs = 120
interval_secs = 1
for_secs = 0
recover_secs = 0
incident = false

[[checks]]
name = "load"
kind = "prometheus"
provider = "prom"
query = "node_load1"
warn = 1000.0
interval_secs = 1
unit = "load"

[[checks]]
name = "empty"
kind = "prometheus"
provider = "prom"
query = 'up{{job="nothing"}}'
crit = 1.0
interval_secs = 1

[[checks]]
name = "empty is healthy"
kind = "prometheus"
provider = "prom"
query = 'up{{job="nothing"}}'
crit = 1.0
empty_is_healthy = true
interval_secs = 1

[[checks]]
name = "nan"
kind = "prometheus"
provider = "prom"
query = "vector(0) / 0"
crit = 1.0
interval_secs = 1

[[checks]]
name = "partial"
kind = "prometheus"
provider = "prom"
query = 'up{{job="node"}} or vector(0) / 0'
crit = 1.0
interval_secs = 1

[[checks]]
name = "alerts"
kind = "alertmanager"
provider = "am"
interval_secs = 1
"#,
        prom = m.prometheus,
        am = m.alertmanager.as_deref().unwrap(),
    )
}

#[test]
fn promql_alerts_and_a_dead_prometheus() {
    let mut m = Monitoring::start(Options {
        rules: Some(RULES.into()),
        ..Options::default()
    });
    let sb = Sandbox::new();
    write_config(&sb, &config(&m));
    let _w = Watch::start(&sb, &[]);
    wait_until("the alert is filed", 40, || {
        incidents(&sb.status(&[])).len() == 1
    });
    let s = sb.status(&[]);
    // F6, as a table: what each answer means.
    let table = [
        ("node up", "ok"),
        ("load", "ok"),
        ("empty", "unknown"),
        ("empty is healthy", "ok"),
        ("nan", "unknown"),
        ("partial", "unknown"),
        ("alerts: AlwaysFiring · demo", "crit"),
        ("alerts", "ok"),
    ];
    for (name, want) in table {
        assert_eq!(status_of(&s, name), want, "{name}: {:?}", check(&s, name));
    }
    let up = check(&s, "node up").unwrap();
    assert_eq!(up["value"], 1.0, "{up}");
    assert!(check(&s, "load").unwrap()["value"].as_f64().unwrap() >= 0.0);
    let inc = &incidents(&s)[0];
    assert!(
        inc["title"].as_str().unwrap().contains("AlwaysFiring"),
        "{inc}"
    );
    assert_eq!(inc["severity"], "high");
    assert_eq!(
        check(&s, "alerts: AlwaysFiring · demo").unwrap()["firing"],
        true
    );

    // The pane shows the PromQL results.
    let mut c = Cockpit::start(&sb, &[], &[], 160, 48);
    c.send("4");
    c.wait_for("node up", 10);
    c.wait_for("FIRING 1 ", 10);
    c.send("j");
    c.send("\r");
    c.wait_for("1 active: the demo is on fire", 10);
    assert!(!c.screen().contains("prom ✗"), "{}", c.screen());
    // Silence it from the pane: through the gate, into Alertmanager; silenced holds the
    // incident (neither fires again nor resolves).
    c.send("\x1b");
    std::thread::sleep(Duration::from_millis(300));
    c.send("S");
    c.wait_for("Silence alerts: AlwaysFiring", 5);
    c.send("\r");
    c.wait_for("silenced for 2 h", 10);
    c.wait_for("FIRING 1 sil", 15);
    c.send("q");
    assert_eq!(c.wait_exit(5), 0);
    let (code, out, err) = sb.run(&["silence", "list"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("active") && out.contains("alertname=AlwaysFiring,service=demo"),
        "{out}"
    );
    let id = out.split_whitespace().next().unwrap().to_string();
    let (code, _, err) = sb.run(&["--read-only", "silence", "expire", &id]);
    assert_ne!(code, 0);
    assert!(err.contains("read-only"), "{err}");
    let (code, out, err) = sb.run(&["silence", "expire", &id]);
    assert_eq!(code, 0, "{out}{err}");
    wait_until("the expired silence lets the alert through", 20, || {
        status_of(&sb.status(&[]), "alerts: AlwaysFiring · demo") == "crit"
    });
    let s = sb.status(&[]);
    assert_eq!(
        incidents(&s).len(),
        1,
        "silence and unsilence file nothing new"
    );
    assert_eq!(incidents(&s)[0]["state"], "open");

    // F5: Prometheus dies: its checks turn unknown (never ok), nothing is resolved.
    m.kill("prometheus");
    wait_until("a dead Prometheus is unknown", 20, || {
        status_of(&sb.status(&[]), "node up") == "unknown"
    });
    let s = sb.status(&[]);
    let detail = check(&s, "node up").unwrap()["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        detail.contains("refused") || detail.contains("timed out"),
        "{detail}"
    );
    m.kill("alertmanager");
    wait_until("a dead Alertmanager is unknown", 20, || {
        status_of(&sb.status(&[]), "alerts") == "unknown"
    });
    std::thread::sleep(Duration::from_secs(2));
    let s = sb.status(&[]);
    assert_eq!(incidents(&s).len(), 1);
    assert_eq!(
        incidents(&s)[0]["state"],
        "open",
        "missing data resolves nothing"
    );
}

/// L3: 500 alerts across 50 services, two watchers: one incident per (alert, service) key.
#[test]
fn an_alert_storm_files_one_incident_per_key() {
    let m = Monitoring::start(Options {
        node_exporter: false,
        ..Options::default()
    });
    let am = m.alertmanager.clone().unwrap();
    let sb = Sandbox::new();
    write_config(
        &sb,
        &format!(
            "[[providers]]\nid = \"am\"\nkind = \"alertmanager\"\nurl = \"{am}\"\n\n\
             [[checks]]\nname = \"alerts\"\nkind = \"alertmanager\"\nprovider = \"am\"\ninterval_secs = 1\n"
        ),
    );
    let alerts: Vec<Value> = (0..500)
        .map(|i| {
            serde_json::json!({
                "labels": {
                    "alertname": format!("Storm{}", i % 10),
                    "service": format!("svc{:02}", i % 50),
                    "instance": format!("host{i}"),
                    "severity": "critical",
                },
                "annotations": {"summary": "\u{1b}]52;c;aGk=\u{7} storm"},
            })
        })
        .collect();
    let (code, body) = http_post_json(
        &format!("{am}/api/v2/alerts"),
        &serde_json::to_string(&alerts).unwrap(),
    );
    assert_eq!(code, 200, "{body}");
    let _w1 = Watch::start(&sb, &[]);
    let _w2 = Watch::start(&sb, &[]);
    wait_until("fifty incidents", 60, || {
        incidents(&sb.status(&[])).len() >= 50
    });
    std::thread::sleep(Duration::from_secs(3));
    let s = sb.status(&[]);
    let inc = incidents(&s);
    assert_eq!(inc.len(), 50, "one per (alert, service)");
    let mut titles: Vec<&str> = inc.iter().map(|i| i["title"].as_str().unwrap()).collect();
    titles.sort();
    titles.dedup();
    assert_eq!(titles.len(), 50);
    for i in s["incidents"].as_array().unwrap() {
        assert_eq!(i["occurrences"], 1, "{i}");
    }
    assert!(
        !serde_json::to_string(&s).unwrap().contains('\u{1b}'),
        "hostile annotations stay inert"
    );

    // Key → frame while the storm is on screen (the cockpit polls the 500 alerts too).
    let mut c = Cockpit::start(&sb, &[], &[], 160, 48);
    c.send("4");
    c.wait_for("Storm0 · svc00", 15);
    std::thread::sleep(Duration::from_secs(2));
    let mut lat = Vec::new();
    for i in 0..80 {
        let before = c.raw.lock().unwrap().len();
        let t = std::time::Instant::now();
        c.send_now(if i % 10 < 5 { "j" } else { "k" });
        while c.raw.lock().unwrap().len() == before {
            assert!(t.elapsed() < Duration::from_secs(2), "no frame after a key");
            std::thread::sleep(Duration::from_micros(500));
        }
        lat.push(t.elapsed());
        std::thread::sleep(Duration::from_millis(30));
    }
    lat.sort();
    let p99 = lat[lat.len() * 99 / 100];
    eprintln!("L3 key→frame: p50 {:?}, p99 {:?}", lat[lat.len() / 2], p99);
    assert!(p99 < Duration::from_millis(100), "key→frame p99 {p99:?}");
    assert!(!c.screen().contains("]52;"), "no OSC 52 reaches the screen");
    c.send("q");
    assert_eq!(c.wait_exit(5), 0);
}

fn gate_config(m: &Monitoring, query: &str) -> String {
    format!(
        r#"
[[providers]]
id = "prom"
kind = "prometheus"
url = "{prom}"

[[targets]]
name = "svc"
environment = "dev"
nodes = ["svc-1", "svc-2"]
engine = "local-fleet"
versions = ["v1", "v2"]
smoke = [{{ name = "errors", prometheus = "prom", query = '{query}', timeout_secs = 3 }}]
"#,
        prom = m.prometheus
    )
}

/// F5: a metrics gate passes only on a true answer; an empty answer or a dead Prometheus is
/// a measurement error, never a pass, and the deploy rolls back.
#[test]
fn a_metrics_gate_never_passes_on_errors() {
    let mut m = Monitoring::start(Options {
        node_exporter: false,
        alertmanager: false,
        ..Options::default()
    });
    let sb = Sandbox::new();
    let _fleet = common::fleet::KillFleet(sb.state().join("t/store.db"), "svc");
    write_config(&sb, &gate_config(&m, "vector(1)"));
    let (code, out, err) = sb.run(&["deploy", "svc", "v1"]);
    assert_eq!(code, 0, "a true gate passes: {out}{err}");
    write_config(&sb, &gate_config(&m, r#"up{job="nothing"} == bool 1"#));
    let (code, out, _) = sb.run(&["deploy", "svc", "v2"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("empty result") && out.contains("rolled_back"),
        "{out}"
    );
    write_config(&sb, &gate_config(&m, "vector(0)"));
    let (code, out, _) = sb.run(&["deploy", "svc", "v2"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("is false"), "{out}");
    m.kill("prometheus");
    write_config(&sb, &gate_config(&m, "vector(1)"));
    let (code, out, _) = sb.run(&["deploy", "svc", "v2"]);
    assert_eq!(code, 1, "a dead Prometheus is no pass: {out}");
    assert!(out.contains("measurement error"), "{out}");
    let s = sb.status(&[]);
    let t = common::fleet::target(&s, "svc");
    assert_eq!(
        common::fleet::versions(t),
        ["v1", "v1"],
        "every node back on v1"
    );
}
