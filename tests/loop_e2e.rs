//! The whole loop in the cockpit, in a real terminal, on the demo workspace: build a release,
//! deploy it to every node, deploy the broken v3 (smoke fails, automatic rollback, one incident
//! with evidence), kill a node (a health incident after its `for` window), bring it back (both
//! incidents resolve). Asserted on the screen and on `status --json`.

mod common;

use serde_json::Value;

use common::fleet::{Fleet, wait_until};
use common::{Cockpit, Sandbox, filed_incidents as incidents};

fn versions(s: &Value) -> Vec<String> {
    s["deploys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["target"] == "demo-api")
        .unwrap()["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["version"].as_str().unwrap_or("-").to_string())
        .collect()
}

/// Picks `version` in the deploy picker of the focused target by typing it into the picker's
/// filter, and confirms the plan (the picker lists what the last refresh knew: a new release
/// may take a refresh to show).
fn deploy(c: &mut Cockpit, version: &str) {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        c.send("d");
        c.wait_for("Deploy which version", 5);
        if c.screen().contains(&format!(" {version} ")) || std::time::Instant::now() > until {
            break;
        }
        c.send("\x1b");
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    c.send(&format!("/{version}"));
    c.send("\r");
    c.wait_for(&format!("→ {version}"), 5);
    c.send("y");
}

#[test]
fn the_whole_loop_in_the_cockpit() {
    let sb = Sandbox::new();
    let _fleet = Fleet {
        sb: &sb,
        args: vec!["demo", "--stop"],
    };
    let mut c = Cockpit::start(&sb, &[], &[], 160, 48);
    c.wait_for("Welcome to flightdeck", 10);

    // Build: demo-ci runs its tests and records release r1.
    c.send("2");
    c.send("p");
    c.wait_for("Run which pipeline?", 3);
    c.send("\r");
    c.wait_for("✓ success", 90);
    wait_until("release r1 is recorded", 10, || {
        sb.status(&[])["releases"][0]["version"] == "r1"
    });

    // Deploy r1 (the release demo-ci just recorded) to every node.
    c.send("3");
    deploy(&mut c, "r1");
    wait_until("every node runs r1", 90, || {
        versions(&sb.status(&[])) == ["r1", "r1", "r1"]
    });
    c.wait_for("✓ succeeded", 20);

    // Deploy the broken v3: its smoke test fails, the deploy rolls back, one incident is filed.
    deploy(&mut c, "v3");
    c.wait_for("↺ rolled back", 90);
    wait_until("the rollback is filed", 30, || {
        incidents(&sb.status(&[])).len() == 1
    });
    let s = sb.status(&[]);
    assert_eq!(versions(&s), ["r1", "r1", "r1"], "every node back on r1");
    let inc = &incidents(&s)[0];
    assert!(
        inc["title"].as_str().unwrap().contains("rolled back"),
        "{inc}"
    );
    c.send("1");
    c.wait_for("↯", 10);

    // Operate: a node dies; its health check files an incident after the `for` window.
    let (code, _, err) = sb.run(&["demo", "--kill", "demo-api-2"]);
    assert_eq!(code, 0, "{err}");
    let killed = std::time::Instant::now();
    c.send("4");
    c.wait_for("CRIT", 20);
    wait_until("the dead node is filed", 60, || {
        incidents(&sb.status(&[])).len() == 2
    });
    assert!(
        killed.elapsed().as_secs() >= 15,
        "not before its `for` window"
    );
    c.send("1");
    c.wait_for("healthz · demo-api-2", 10);

    // Bring it back with a good deploy: both incidents resolve and close.
    c.send("3");
    deploy(&mut c, "v2");
    wait_until("both incidents resolve", 120, || {
        let inc = incidents(&sb.status(&[]));
        inc.len() == 2 && inc.iter().all(|i| i["state"] == "closed")
    });
    let s = sb.status(&[]);
    assert_eq!(versions(&s), ["v2", "v2", "v2"]);
    assert!(
        s["incidents"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["state"] == "resolved"),
        "{}",
        s["incidents"]
    );
    c.send("q");
    assert_eq!(c.wait_exit(10), 0);
    c.assert_restored();
}
