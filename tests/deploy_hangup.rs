//! F1: the terminal goes away mid-deploy (a dropped SSH connection). The deploy started from
//! the cockpit carries on in its detached runner and ends with every node in rotation.

mod common;

use common::fleet::{KillFleet, target, versions, wait_until, write_config};
use common::{Cockpit, Sandbox, alive, bin};

/// Processes whose environment carries `needle`, not zombies.
fn processes_with(needle: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| String::from_utf8_lossy(&env).contains(needle))
                && alive(*pid)
        })
        .collect()
}

#[test]
fn closing_the_terminal_mid_deploy_leaves_no_node_drained_and_no_orphan() {
    let sb = Sandbox::new();
    let _fleet = KillFleet(sb.state().join("t/store.db"), "four");
    let marker = format!("F1_MARK={}", sb.path().display());
    write_config(
        &sb,
        &format!(
            r#"
[[targets]]
name = "four"
environment = "staging"
nodes = ["f1", "f2", "f3", "f4"]
engine = "local-fleet"
versions = ["v1"]
run = ["sh", "-c", "sleep 0.7; exec \"$FD\" demo-api"]
env = {{ FD = "{}", F1_MARK = "{}" }}
strategy = {{ node_deadline_secs = 20 }}
"#,
            bin(),
            sb.path().display()
        ),
    );
    let mut c = Cockpit::start(&sb, &[], &[], 160, 48);
    c.wait_for("four", 10);
    c.send("3");
    c.send("d");
    c.wait_for("Deploy which version", 5);
    c.send("\r");
    c.wait_for("y/enter starts it", 5);
    c.send("y");
    c.wait_for("deploying", 10);
    let cockpit = c.app_pid();
    c.hang_up();
    assert_eq!(
        target(&sb.status(&[]), "four")["state"],
        "running",
        "the terminal closed mid-deploy"
    );
    wait_until("the cockpit to exit on hang-up", 10, || !alive(cockpit));

    wait_until("the deploy to end", 60, || {
        target(&sb.status(&[]), "four")["state"] != "running"
    });
    let s = sb.status(&[]);
    let t = target(&s, "four");
    assert_eq!(t["state"], "succeeded", "{t}");
    assert_eq!(versions(t), ["v1", "v1", "v1", "v1"]);
    assert!(
        t["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["state"] == "in_rotation"),
        "no node left drained: {t}"
    );
    assert!(t["lock"].is_null(), "lock released: {t}");
    // The runner is gone and exactly one instance per node serves: nothing orphaned.
    wait_until("the runner to exit", 10, || {
        std::fs::read_dir("/proc").unwrap().flatten().all(|e| {
            std::fs::read(e.path().join("cmdline")).map_or(true, |c| {
                let c = String::from_utf8_lossy(&c);
                !(c.contains("deploy-runner") && c.contains(&*sb.path().to_string_lossy()))
            }) || !e
                .file_name()
                .to_str()
                .and_then(|p| p.parse().ok())
                .is_some_and(alive)
        })
    });
    assert_eq!(processes_with(&marker).len(), 4, "one service per node");
}
