//! Headless commands: `status --json`, `check`, `audit verify`, config errors, permissions.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{Sandbox, bin};

#[test]
fn status_json_has_the_contract_keys_and_the_demo_backlog() {
    let sb = Sandbox::new();
    let v = sb.status(&[]);
    for key in ["backlog", "builds", "deploys", "health", "providers"] {
        assert!(v[key].is_array(), "{key} missing: {v}");
    }
    assert_eq!(v["workspace"], "demo");
    let backlog = v["backlog"].as_array().unwrap();
    assert_eq!(backlog.len(), 5);
    for item in backlog {
        for key in ["id", "title", "state", "kind", "labels", "provider"] {
            assert!(!item[key].is_null(), "{key} missing in {item}");
        }
        assert!(["open", "closed"].contains(&item["state"].as_str().unwrap()));
        assert!(["issue", "incident"].contains(&item["kind"].as_str().unwrap()));
    }
    assert!(backlog.iter().any(|i| i["kind"] == "incident"));
    assert_eq!(v["providers"][0]["id"], "local");
    assert_eq!(v["providers"][0]["ok"], true);
}

#[test]
fn check_reports_and_fails_on_unavailable_providers() {
    let sb = Sandbox::new();
    let (code, out, _) = sb.run(&["check"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("built-in demo") && out.contains("provider local (local): ok (5 items)"),
        "{out}"
    );
    let cfg = sb.path().join("gh.toml");
    // A kind flightdeck does not have is a config error, not a provider accepted and left idle.
    std::fs::write(
        &cfg,
        "workspace = \"acme\"\n[[providers]]\nid = \"cmd\"\nkind = \"command\"\n",
    )
    .unwrap();
    let (code, _, err) = sb.run(&["--config", cfg.to_str().unwrap(), "check"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("gh.toml:4:") && err.contains("unknown variant `command`"),
        "{err}"
    );
    std::fs::write(&cfg, "workspace = \"acme\"\n[[providers]]\nid = \"gh\"\nkind = \"github\"\nrepos = [\"acme/api\"]\napi_url = \"http://127.0.0.1:9\"\n").unwrap();
    let (code, out, _) = sb.run(&["--config", cfg.to_str().unwrap(), "check"]);
    assert_eq!(code, 1, "{out}");
    // With no [backlog] or [builds], the first provider that can feed a pane feeds it.
    std::fs::write(&cfg, "workspace = \"acme\"\n[[providers]]\nid = \"mine\"\nkind = \"local\"\n[[providers]]\nid = \"gh\"\nkind = \"github\"\nrepos = [\"acme/api\"]\napi_url = \"http://127.0.0.1:9\"\ntimeout_secs = 1\n").unwrap();
    let (_, json, _) = sb.run(&["--config", cfg.to_str().unwrap(), "status", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let feeds = |id: &str| {
        v["providers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == id)
            .map(|p| p["feeds"].clone())
    };
    assert_eq!(
        feeds("mine"),
        Some(serde_json::json!(["backlog"])),
        "{json}"
    );
    assert_eq!(feeds("gh"), Some(serde_json::json!(["builds"])), "{json}");
    // R6: `ok` means the provider answered, whether or not a pane asked it.
    std::fs::write(&cfg, "workspace = \"acme\"\n[[providers]]\nid = \"mine\"\nkind = \"local\"\n[[providers]]\nid = \"gh\"\nkind = \"github\"\nrepos = [\"acme/api\"]\napi_url = \"http://127.0.0.1:9\"\ntimeout_secs = 1\n[[providers]]\nid = \"gh2\"\nkind = \"github\"\nrepos = [\"acme/api\"]\napi_url = \"http://127.0.0.1:9\"\ntimeout_secs = 1\n[[providers]]\nid = \"prom\"\nkind = \"prometheus\"\nurl = \"http://127.0.0.1:9\"\n").unwrap();
    let (_, json, err) = sb.run(&["--config", cfg.to_str().unwrap(), "status", "--json"]);
    let v: serde_json::Value =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}{err}"));
    let ok = |id: &str| {
        v["providers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == id)
            .map(|p| {
                (
                    p["ok"].clone(),
                    p["error"].as_str().unwrap_or("").to_string(),
                )
            })
            .unwrap()
    };
    assert_eq!(ok("mine").0, true, "{json}");
    for id in ["gh", "gh2", "prom"] {
        let (answered, why) = ok(id);
        assert_eq!(answered, false, "{id}: {json}");
        assert!(
            why.contains("refused") || why.contains("unreachable"),
            "{id}: {why}"
        );
    }
    std::fs::write(&cfg, "workspace = \"acme\"\n[[providers]]\nid = \"gh\"\nkind = \"github\"\nrepos = [\"acme/api\"]\napi_url = \"http://127.0.0.1:9\"\n").unwrap();
    let (code, out, _) = sb.run(&["--config", cfg.to_str().unwrap(), "check"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "provider gh (github): FAILED: no token: anonymous, 60 requests an hour: unreachable"
        ),
        "{out}"
    );
}

#[test]
fn bad_config_names_file_line_column_and_key() {
    let sb = Sandbox::new();
    let cfg = sb.path().join("bad.toml");
    std::fs::write(&cfg, "workspace = \"acme\"\n\n[ui]\nthemee = \"light\"\n").unwrap();
    let (code, _, err) = sb.run(&["--config", cfg.to_str().unwrap(), "check"]);
    assert_eq!(code, 2);
    let want = format!(
        "flightdeck: {}:4:1: key `themee`: unknown field `themee`",
        cfg.display()
    );
    assert!(err.starts_with(&want), "{err}");
    assert_eq!(err.lines().count(), 1, "one plain line, no report: {err}");
    std::fs::write(&cfg, "[keys]\nlaunch_rockets = \"x\"\n").unwrap();
    let (_, _, err) = sb.run(&["--config", cfg.to_str().unwrap(), "check"]);
    assert!(
        err.contains(":2:1: key `keys.launch_rockets`: unknown action"),
        "{err}"
    );
    let (_, _, err) = sb.run(&["--theme", "nope", "check"]);
    assert!(
        err.contains("unknown theme \"nope\"; available: default, light, high-contrast, ansi16"),
        "{err}"
    );
    // The repo-local file is found without flags.
    std::fs::write(sb.path().join("flightdeck.toml"), "workspace = \"repo\"\n").unwrap();
    assert_eq!(sb.status(&[])["workspace"], "repo");
}

#[test]
fn state_is_private_whatever_the_umask() {
    let sb = Sandbox::new();
    let out = std::process::Command::new("sh")
        .args([
            "-c",
            "umask 000; exec \"$0\" status --json >/dev/null",
            bin(),
        ])
        .env("HOME", sb.path())
        .env("FLIGHTDECK_STATE_DIR", sb.state())
        .current_dir(sb.path())
        .status()
        .unwrap();
    assert!(out.success());
    let mode = |p: std::path::PathBuf| std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(sb.state()), 0o700);
    assert_eq!(mode(sb.state().join("demo")), 0o700);
    assert_eq!(mode(sb.state().join("demo/store.db")), 0o600);
    assert_eq!(mode(sb.state().join("logs/flightdeck.log")), 0o600);
    for entry in std::fs::read_dir(sb.state().join("demo")).unwrap() {
        let p = entry.unwrap().path();
        let want = if p.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode(p.clone()), want, "{}", p.display());
    }
}

#[test]
fn a_config_group_or_others_can_write_is_refused() {
    let sb = Sandbox::new();
    let cfg = sb.path().join("shared.toml");
    std::fs::write(&cfg, "workspace = \"shared\"\n").unwrap();
    let arg = cfg.to_str().unwrap();
    let mut modes = vec![0o646, 0o666];
    if nix::unistd::Uid::current().is_root() {
        // Group write counts when the group is one others share (here `nogroup`), not the
        // user's own private group.
        std::os::unix::fs::chown(&cfg, None, Some(65534)).unwrap();
        modes.push(0o664);
    }
    for mode in modes {
        std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(mode)).unwrap();
        let (code, out, err) = sb.run(&["--config", arg, "status", "--json"]);
        assert_eq!(code, 2, "mode {mode:o}: {out}");
        assert!(out.is_empty(), "nothing runs: {out}");
        let want = format!("group or others can write it (mode {mode:o})");
        assert!(err.contains(&want), "{err}");
        assert!(err.contains(&format!("chmod go-w {arg}`")), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(sb.status(&["--config", arg])["workspace"], "shared");
}

#[test]
fn audit_verify_detects_an_edited_and_a_deleted_record() {
    let sb = Sandbox::new();
    let db = sb.state().join("demo/store.db");
    sb.status(&[]);
    // Write three audited records through the gate's own code path.
    {
        let mut store = flightdeck::store::Store::open(&db).unwrap();
        for i in 0..3 {
            store
                .audit_append(i, "ana@host", "close_item", "local#1", "intent", "closed")
                .unwrap();
        }
    }
    let (code, out, _) = sb.run(&["audit", "verify"]);
    assert_eq!((code, out.contains("3 records")), (0, true), "{out}");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute("UPDATE audit SET actor = 'mallory@host' WHERE seq = 2", [])
        .unwrap();
    let (code, out, _) = sb.run(&["audit", "verify"]);
    assert_eq!(code, 1);
    assert!(
        out.contains("broken at record 2") && out.contains("edited"),
        "{out}"
    );
    conn.execute("UPDATE audit SET actor = 'ana@host' WHERE seq = 2", [])
        .unwrap();
    conn.execute("DELETE FROM audit WHERE seq = 1", []).unwrap();
    let (code, out, _) = sb.run(&["audit", "verify"]);
    assert_eq!(code, 1);
    assert!(
        out.contains("broken at record 1") && out.contains("deleted"),
        "{out}"
    );
}

#[test]
fn demo_reset_starts_afresh() {
    let sb = Sandbox::new();
    let db = sb.state().join("demo/store.db");
    sb.status(&[]);
    flightdeck::store::Store::open(&db)
        .unwrap()
        .set_state("1", flightdeck::domain::ItemState::Closed, 1)
        .unwrap();
    // `demo --reset` wipes state before opening the cockpit; without a terminal it stops
    // at the terminal check, after the reset.
    let (code, _, err) = sb.run(&["demo", "--reset"]);
    assert_ne!(code, 0);
    assert!(err.contains("needs a terminal"), "{err}");
    let v = sb.status(&[]);
    let first = v["backlog"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == "1")
        .unwrap()
        .clone();
    assert_eq!(first["state"], "open");
}

#[test]
fn run_streams_the_log_and_exits_with_the_pipeline_status() {
    let sb = Sandbox::new();
    let cfg = sb.path().join("ci.toml");
    std::fs::write(
        &cfg,
        r#"workspace = "ci"
[[pipelines]]
name = "green"
steps = [
  { name = "hello", run = ["echo", "hello from a step"] },
  { name = "tests", script = "echo 'test result: ok. 2 passed; 0 failed; 0 ignored'" },
]
[[pipelines]]
name = "red"
steps = [{ name = "boom", script = "echo 'test a::b ... FAILED'; exit 4" }]
[[pipelines]]
name = "many"
steps = [{ name = "lines", script = "seq 1 200000; printf 'no newline at the end'" }]
"#,
    )
    .unwrap();
    let c = cfg.to_str().unwrap();
    let (code, out, err) = sb.run(&["--config", c, "run", "green"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("hello from a step"), "{out}");
    assert!(
        err.contains("green #1 success") && err.contains("tests: 2 passed, 0 failed"),
        "{err}"
    );
    let (code, _, err) = sb.run(&["--config", c, "run", "red"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("red #1 failure") && err.contains("failing: a::b"),
        "{err}"
    );
    let (code, _, err) = sb.run(&["--config", c, "run", "blue"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("no pipeline \"blue\"; this workspace has: green, red, many"),
        "{err}"
    );
    // A burst of short lines streams whole and in order, the last one unterminated too.
    let (code, out, err) = sb.run(&["--config", c, "run", "many"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().filter(|l| l.parse::<u32>().is_ok()).collect();
    assert_eq!(lines.len(), 200_000);
    assert_eq!((lines[0], lines[199_999]), ("1", "200000"));
    assert!(
        out.contains("no newline at the end"),
        "{}",
        &out[out.len() - 200..]
    );
    let (code, _, err) = sb.run(&["--config", c, "--read-only", "run", "green"]);
    assert_eq!(code, 3, "refused: {err}");
    assert!(err.contains("read-only"), "{err}");
    let (_, out, _) = sb.run(&["--config", c, "status", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["builds"].as_array().unwrap().len(),
        3,
        "the refused run was never recorded"
    );
}

#[test]
fn a_run_whose_runner_died_ends_cancelled_at_the_next_start() {
    let sb = Sandbox::new();
    sb.status(&[]);
    let db = sb.state().join("demo/store.db");
    {
        let mut s = flightdeck::store::Store::open(&db).unwrap();
        let new = flightdeck::store::NewRun {
            pipeline: "demo-ci".into(),
            commit: None,
            branch: None,
            trigger: "manual".into(),
            actor: "a".into(),
            steps: vec!["test".into()],
        };
        // A pid that cannot exist stands for a runner that was killed.
        s.start_run(&new, u32::MAX - 1, 1).unwrap();
    }
    let v = sb.status(&[]);
    assert_eq!(v["builds"][0]["status"], "cancelled");

    // A runner killed with SIGKILL mid-step: the next start cancels the run and kills what
    // the step left running (its recorded process group), nothing else.
    let marker = format!("orphan_mark_{}", std::process::id());
    let cfg = sb.path().join("long.toml");
    std::fs::write(
        &cfg,
        format!("workspace = \"long\"\n[[pipelines]]\nname = \"long\"\nsteps = [{{ name = \"wait\", script = \"sleep 300 # {marker}\" }}]\n"),
    )
    .unwrap();
    let c = cfg.to_str().unwrap();
    let mut runner = std::process::Command::new(bin())
        .args(["--config", c, "run", "long"])
        .current_dir(sb.path())
        .env("HOME", sb.path())
        .env("FLIGHTDECK_STATE_DIR", sb.state())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let step_pids = || -> Vec<i32> {
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
            .filter(|p| {
                std::fs::read(format!("/proc/{p}/cmdline"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&marker))
                    && common::alive(*p)
            })
            .collect()
    };
    common::fleet::wait_until("the step to start", 10, || !step_pids().is_empty());
    runner.kill().unwrap();
    runner.wait().unwrap();
    assert!(!step_pids().is_empty(), "the step outlived its runner");
    let v = sb.status(&["--config", c]);
    assert_eq!(v["builds"][0]["status"], "cancelled");
    common::fleet::wait_until("the orphaned step to be killed", 5, || {
        step_pids().is_empty()
    });
}

#[test]
fn headless_commands_survive_a_closed_pipe_and_a_broken_user_theme() {
    let sb = Sandbox::new();
    let out = std::process::Command::new("bash")
        .args(["-c", "set -o pipefail; \"$0\" status --json | true", bin()])
        .env("HOME", sb.path())
        .env("FLIGHTDECK_STATE_DIR", sb.state())
        .current_dir(sb.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let themes = sb.path().join(".config/flightdeck/themes");
    std::fs::create_dir_all(&themes).unwrap();
    std::fs::write(themes.join("broken.toml"), "inherits = \"nope\"\n").unwrap();
    let (code, _, err) = sb.run(&["status", "--json"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = sb.run(&["--theme", "broken", "check"]);
    assert_ne!(
        code, 0,
        "asking for the broken theme itself still fails: {err}"
    );
}

/// R5: workspaces whose names an earlier flightdeck mapped to one directory keep apart.
#[test]
fn non_ascii_workspaces_keep_their_own_deploys() {
    let sb = Sandbox::new();
    let target = "[[targets]]\nname = \"web\"\nenvironment = \"test\"\nnodes = [\"w1\"]\nengine = \"script\"\ndrain = false\nscript = { deploy = [\"true\"], health = [\"true\"] }\n";
    let mut configs = Vec::new();
    for ws in ["本番", "試験", "a/b", "a_b"] {
        let path = sb.path().join(format!("{}.toml", configs.len()));
        std::fs::write(&path, format!("workspace = \"{ws}\"\n{target}")).unwrap();
        configs.push(path.to_str().unwrap().to_string());
    }
    let (code, out, err) = sb.run(&["--config", &configs[0], "deploy", "web", "v1"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = sb.run(&["--config", &configs[3], "deploy", "web", "v7"]);
    assert_eq!(code, 0, "{out}{err}");
    let state = |i: usize| {
        let v = sb.status(&["--config", &configs[i]]);
        let t = &v["deploys"][0];
        (
            t["state"].as_str().unwrap().to_string(),
            t["nodes"][0]["version"].clone(),
        )
    };
    assert_eq!(state(0), ("succeeded".into(), "v1".into()));
    assert_eq!(state(1).0, "idle", "試験 has its own store");
    assert_eq!(state(2).0, "idle", "a/b has its own store");
    assert_eq!(state(3), ("succeeded".into(), "v7".into()));
    let dirs: Vec<String> = std::fs::read_dir(sb.state())
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("store.db").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(dirs.len(), 4, "{dirs:?}");
}

/// A damaged store, a missing pipeline dir and a lost race are one line each, with what to
/// do, and the documented exit code; never a report with a backtrace.
#[test]
fn user_errors_are_one_line_with_the_documented_exit_code() {
    let sb = Sandbox::new();
    std::fs::write(
        sb.path().join("flightdeck.toml"),
        "workspace = \"t\"\n[[pipelines]]\nname = \"p\"\ndir = \"nope\"\nsteps = [{ name = \"s\", run = [\"true\"] }]\n",
    )
    .unwrap();
    let (code, out, err) = sb.run(&["check"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains(&format!(
            "pipeline p: FAILED: working directory {} does not exist",
            sb.path().join("nope").display()
        )),
        "{out}"
    );
    let (code, out, _) = sb.run(&["run", "p"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("working directory") && out.contains("`dir`"),
        "{out}"
    );

    let (code, out, err) = sb.run(&["store", "check"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("integrity: ok") && out.contains("chain intact"),
        "{out}"
    );
    let db = sb.state().join("t/store.db");
    std::fs::write(&db, vec![0x5a; 8192]).unwrap();
    let (code, out, err) = sb.run(&["status"]);
    assert_eq!(code, 1, "{out}{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("store {} is damaged", db.display()))
            && err.contains("restore it from a backup or move it aside")
            && !err.contains("BACKTRACE")
            && !err.contains("Location"),
        "{err}"
    );
    let (code, out, _) = sb.run(&["store", "check"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("to recover"), "{out}");
}
