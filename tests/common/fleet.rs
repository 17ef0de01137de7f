//! Helpers for deploy tests: status and journal readers, configs, and fleet clean-up.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Sandbox, bin};

/// Stops every fleet process a test started, whatever the test's outcome.
pub struct Fleet<'a> {
    pub sb: &'a Sandbox,
    pub args: Vec<&'a str>,
}

impl Drop for Fleet<'_> {
    fn drop(&mut self) {
        self.sb.run(&self.args);
    }
}

pub fn target<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["deploys"]
        .as_array()
        .and_then(|d| d.iter().find(|t| t["target"] == name))
        .unwrap_or_else(|| panic!("no target {name} in {status}"))
}

pub fn versions(t: &Value) -> Vec<String> {
    t["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["version"].as_str().unwrap_or("-").to_string())
        .collect()
}

pub fn journal(db: &Path, id: i64) -> Vec<(String, String, String, String)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT phase, node, step, status FROM deploy_journal WHERE deploy_id = ?1 ORDER BY seq")
        .unwrap();
    stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

pub fn write_config(sb: &Sandbox, body: &str) {
    std::fs::write(
        sb.path().join("flightdeck.toml"),
        format!("workspace = \"t\"\n{body}"),
    )
    .unwrap();
}

pub fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Kills a configured target's local fleet when the test ends.
pub struct KillFleet(pub PathBuf, pub &'static str);

impl Drop for KillFleet {
    fn drop(&mut self) {
        stop_fleet(&self.0, self.1);
    }
}

/// Stops a configured target's local fleet (the tests' own `demo --stop`).
pub fn stop_fleet(db: &Path, target: &str) {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT data FROM deploy_nodes WHERE target = ?1")
        .unwrap();
    let data: Vec<String> = stmt
        .query_map([target], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for d in data {
        let v: Value = serde_json::from_str(&d).unwrap_or_default();
        for k in ["current", "next"] {
            if let Some(pid) = v[k]["pid"].as_i64() {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
}

/// Configures target `slow`: three local-fleet nodes of the demo service, each taking
/// `sleep` seconds to start, with the given strategy.
pub fn slow_fleet(sb: &Sandbox, sleep: &str, strategy: &str) {
    write_config(
        sb,
        &format!(
            r#"
[[targets]]
name = "slow"
environment = "staging"
nodes = ["s1", "s2", "s3"]
engine = "local-fleet"
run = ["sh", "-c", "sleep {sleep}; exec \"$FD\" demo-api"]
env = {{ FD = "{}" }}
strategy = {{ {strategy} }}
"#,
            bin()
        ),
    );
}
