//! Real Prometheus and Alertmanager from Debian behind TLS and basic auth (their own
//! `--web.config.file`), with a CA the test makes: PromQL and Alertmanager checks, an https
//! check, silences and a Prometheus smoke gate all work through `flightdeck`; a wrong password
//! or an untrusted CA fails closed and says why; the password never lands in a file, an
//! argument list or the output (S1, S7, S8).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Sandbox;
use common::fleet::write_config;
use common::tls::Pki;
use flightdeck::config::http::{AuthConfig, HttpSettings, TlsConfig};
use flightdeck::http::Client;
use serde_json::Value;

const PASSWORD: &str = "canary-pw-3f9d1c7e55";
const TOKEN: &str = "canary-bearer-8a41e0b2d6";

/// Prometheus and Alertmanager on loopback, both https with basic auth; killed on drop.
struct Secure {
    prometheus: String,
    alertmanager: String,
    procs: Vec<Child>,
    dir: PathBuf,
}

impl Drop for Secure {
    fn drop(&mut self) {
        for p in &mut self.procs {
            let _ = p.kill();
            let _ = p.wait();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn(dir: &Path, name: &str, program: &str, args: &[String]) -> Child {
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("{program}: {e} (.ci/run installs it)"))
}

fn settings(pki: &Pki, password: &Path) -> HttpSettings {
    HttpSettings {
        tls: TlsConfig {
            ca_file: Some(pki.ca.clone()),
            ..TlsConfig::default()
        },
        auth: Some(AuthConfig {
            basic_user: Some("flightdeck".into()),
            password_file: Some(password.to_path_buf()),
            ..AuthConfig::default()
        }),
        ..HttpSettings::default()
    }
}

impl Secure {
    async fn start(pki: &Pki) -> Secure {
        let dir = pki.dir.path().to_path_buf();
        let password = dir.join("password");
        std::fs::write(&password, PASSWORD).unwrap();
        let web = dir.join("web.yml");
        std::fs::write(
            &web,
            format!(
                "tls_server_config:\n  cert_file: {}\n  key_file: {}\nbasic_auth_users:\n  flightdeck: {}\n",
                pki.server.0.display(),
                pki.server.1.display(),
                bcrypt::hash(PASSWORD, 4).unwrap()
            ),
        )
        .unwrap();
        let (prom, am) = (free_port(), free_port());
        std::fs::write(dir.join("alertmanager.yml"), "route:\n  receiver: \"null\"\n  group_wait: 1s\n  group_interval: 1s\nreceivers:\n  - name: \"null\"\n").unwrap();
        std::fs::write(
            dir.join("rules.yml"),
            "groups:\n  - name: t\n    rules:\n      - alert: CheckoutDown\n        expr: vector(1)\n        labels: { severity: critical, service: checkout }\n        annotations: { summary: checkout answers 503 }\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("prometheus.yml"),
            format!(
                "global: {{ scrape_interval: 1s, evaluation_interval: 1s }}\nrule_files: [rules.yml]\nalerting:\n  alertmanagers:\n    - scheme: https\n      tls_config: {{ ca_file: {ca} }}\n      basic_auth: {{ username: flightdeck, password_file: {pw} }}\n      static_configs: [{{ targets: [\"localhost:{am}\"] }}]\nscrape_configs: []\n",
                ca = pki.ca.display(),
                pw = password.display(),
            ),
        )
        .unwrap();
        let mut s = Secure {
            prometheus: format!("https://localhost:{prom}"),
            alertmanager: format!("https://localhost:{am}"),
            procs: Vec::new(),
            dir: dir.clone(),
        };
        let web_arg = format!("--web.config.file={}", web.display());
        s.procs.push(spawn(
            &dir,
            "alertmanager",
            "/usr/bin/prometheus-alertmanager",
            &[
                "--config.file=alertmanager.yml".into(),
                "--storage.path=am".into(),
                format!("--web.listen-address=127.0.0.1:{am}"),
                "--cluster.listen-address=".into(),
                web_arg.clone(),
            ],
        ));
        s.procs.push(spawn(
            &dir,
            "prometheus",
            "/usr/bin/prometheus",
            &[
                "--config.file=prometheus.yml".into(),
                "--storage.tsdb.path=prom".into(),
                format!("--web.listen-address=127.0.0.1:{prom}"),
                "--rules.alert.resend-delay=1s".into(),
                web_arg,
            ],
        ));
        // Ready when both answer our own client, and the alert reached Alertmanager.
        let client = Client::new(&settings(pki, &password));
        let until = Instant::now() + Duration::from_secs(40);
        let alerts = format!("{}/api/v2/alerts", s.alertmanager);
        loop {
            let ready = client
                .get(&format!("{}/-/ready", s.prometheus), Duration::from_secs(2))
                .await
                // Go's TLS servers offer HTTP/2, and the client takes it.
                .is_ok_and(|r| r.status == 200 && r.http2);
            let firing = client
                .get(&alerts, Duration::from_secs(2))
                .await
                .is_ok_and(|r| r.body.contains("CheckoutDown"));
            if ready && firing {
                return s;
            }
            assert!(
                Instant::now() < until,
                "Prometheus and Alertmanager over TLS did not come up: {}",
                s.logs()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    fn logs(&self) -> String {
        ["prometheus", "alertmanager"]
            .iter()
            .map(|n| {
                let t =
                    std::fs::read_to_string(self.dir.join(format!("{n}.log"))).unwrap_or_default();
                let lines: Vec<&str> = t.lines().collect();
                format!(
                    "{n}:\n{}",
                    lines[lines.len().saturating_sub(10)..].join("\n")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn config(s: &Secure, pki: &Pki, password_file: &str, trust: bool, echo: u16) -> String {
    let ca = pki.ca.display();
    let tls = if trust {
        format!("tls = {{ ca_file = \"{ca}\" }}")
    } else {
        String::new()
    };
    let dir = s.dir.display();
    format!(
        r#"
[[providers]]
id = "prom"
kind = "prometheus"
url = "{prom}"
{tls}
auth = {{ basic_user = "flightdeck", password_file = "{password_file}" }}
timeout_secs = 3

[[providers]]
id = "am"
kind = "alertmanager"
url = "{am}"
{tls}
auth = {{ basic_user = "flightdeck", password_cmd = ["cat", "{dir}/password"] }}
timeout_secs = 3

[[checks]]
name = "targets up"
kind = "prometheus"
provider = "prom"
query = "vector(3)"
crit = 10.0
incident = false

[[checks]]
name = "alerts"
kind = "alertmanager"
provider = "am"

[[checks]]
name = "prometheus healthy"
kind = "http"
url = "{prom}/-/healthy"
{tls}
auth = {{ basic_user = "flightdeck", password_file = "{password_file}" }}

[[checks]]
name = "tokened"
kind = "http"
url = "https://localhost:{echo}/healthz"
{tls}
auth = {{ bearer_env = "FD_PROBE_TOKEN" }}

[[targets]]
name = "web"
environment = "staging"
nodes = ["n1"]
engine = "script"
script = {{ deploy = ["true"] }}
# The node's address and credentials: for its node gate, never for Prometheus.
node_url = "https://localhost:{echo}"
{tls}
auth = {{ bearer_env = "FD_PROBE_TOKEN" }}
smoke = [
  {{ name = "no errors", prometheus = "prom", query = "vector(1)", timeout_secs = 5 }},
  {{ name = "node healthz", http = "/healthz", timeout_secs = 5 }},
]
"#,
        prom = s.prometheus,
        am = s.alertmanager,
    )
}

fn health<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["health"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"].as_str().unwrap_or("").starts_with(name))
        .unwrap_or_else(|| panic!("no check {name}: {}", v["health"]))
}

/// Every file under `dir` and every process's arguments are free of the password and token.
fn assert_no_password(dir: &Path, outputs: &[&str]) {
    for secret in [PASSWORD, TOKEN] {
        assert_no_secret(dir, outputs, secret);
    }
}

fn assert_no_secret(dir: &Path, outputs: &[&str], secret: &str) {
    for o in outputs {
        assert!(!o.contains(secret), "a secret in output: {o}");
    }
    common::assert_no_secret_under(dir, secret);
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let argv = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        assert!(
            !argv.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "a secret in a process's arguments"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_and_alertmanager_behind_tls_and_basic_auth() {
    let pki = Pki::new();
    let secure = Secure::start(&pki).await;
    // Answers 401 unless the token arrives.
    let echo = common::tls::serve_requiring(
        &pki.server,
        None,
        Some(format!("authorization: bearer {TOKEN}")),
    )
    .await;
    let password = secure.dir.join("password");
    let sb = Sandbox::new();
    write_config(
        &sb,
        &config(&secure, &pki, &password.display().to_string(), true, echo),
    );
    let run = |args: &[&str]| sb.run_env(args, &[("FD_PROBE_TOKEN", TOKEN)]);

    let (code, out, err) = run(&["--log-level", "trace", "check"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("provider prom (prometheus): ok (ready; 1 check uses it)"),
        "{out}"
    );
    assert!(
        out.contains("provider am (alertmanager): ok (ready; 1 check uses it)"),
        "{out}"
    );
    assert!(
        out.contains("check \"prometheus healthy\": ok (HTTP 200"),
        "{out}"
    );
    assert!(out.contains("check \"tokened\": ok (HTTP 200"), "{out}");
    assert!(
        out.contains("gate \"node healthz\" of web on n1: ok (HTTP 200"),
        "{out}"
    );
    assert!(
        out.contains("gate \"no errors\" of web: ok (HTTP 200"),
        "{out}"
    );

    let (code, out, err) = run(&["--log-level", "trace", "watch", "--once"]);
    assert_eq!(code, 0, "{out}{err}");
    let (_, json, _) = run(&["status", "--json"]);
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(health(&v, "targets up")["status"], "ok", "{json}");
    assert_eq!(health(&v, "targets up")["value"], 3.0, "{json}");
    assert_eq!(health(&v, "prometheus healthy")["status"], "ok", "{json}");
    let alert = health(&v, "alerts: CheckoutDown");
    assert_eq!(alert["status"], "crit", "{json}");

    let (code, out, err) = run(&["silence", "add", "alertname=CheckoutDown", "--hours", "1"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = run(&["silence", "list"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("alertname=CheckoutDown"), "{out}");

    let (code, out, err) = run(&["deploy", "web", "v2", "--yes"]);
    assert_eq!(code, 0, "a prometheus gate over TLS passes: {out}{err}");
    assert_no_password(sb.path(), &[&out, &err, &json]);

    // A wrong password: every part says the credentials were refused.
    let wrong = secure.dir.join("wrong");
    std::fs::write(&wrong, "not-the-password").unwrap();
    write_config(
        &sb,
        &config(&secure, &pki, &wrong.display().to_string(), true, echo),
    );
    let (code, out, _) = run(&["check"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "provider prom (prometheus): FAILED: HTTP 401: credentials refused: check `auth`"
        ),
        "{out}"
    );
    assert!(
        out.contains("check \"prometheus healthy\": FAILED: HTTP 401: credentials refused"),
        "{out}"
    );
    let (code, out, err) = run(&["deploy", "web", "v3", "--yes"]);
    assert_eq!(code, 1, "a refused gate fails the deploy: {out}{err}");
    assert!(
        format!("{out}{err}").contains("credentials refused"),
        "{out}{err}"
    );

    // An untrusted CA fails closed, and says what to do.
    write_config(
        &sb,
        &config(&secure, &pki, &password.display().to_string(), false, echo),
    );
    let (code, out, _) = run(&["check"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "provider prom (prometheus): FAILED: certificate signed by unknown authority: trust its CA with tls.ca_file (localhost:"
        ),
        "{out}"
    );
    let (_, out, _) = run(&["watch", "--once"]);
    let (_, json, _) = run(&["status", "--json"]);
    let v: Value = serde_json::from_str(&json).unwrap();
    let c = health(&v, "prometheus healthy");
    assert_eq!(c["status"], "crit", "{json}{out}");
    assert!(
        c["detail"].as_str().unwrap().contains("unknown authority"),
        "{json}"
    );
    assert_no_password(sb.path(), &[&out, &json]);
}
