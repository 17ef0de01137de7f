//! R7: a state dir that cannot be written. Looking works (`--read-only status`, `check`, the
//! cockpit); acting fails with an error that names the path, and leaves nothing behind.
//! Root ignores file modes, so as root the commands run as `nobody` through `setpriv`.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Sandbox, bin};

/// Runs flightdeck as a user the file modes apply to.
struct Unprivileged {
    root: bool,
    program: PathBuf,
}

impl Unprivileged {
    fn new(sb: &Sandbox) -> Unprivileged {
        let root = nix::unistd::geteuid().is_root();
        let program = if root {
            // `nobody` may not reach the build dir: give it its own copy.
            let copy = sb.path().join("flightdeck");
            std::fs::copy(bin(), &copy).unwrap();
            std::fs::set_permissions(sb.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
            copy
        } else {
            PathBuf::from(bin())
        };
        Unprivileged { root, program }
    }

    /// Hands the sandbox to the user that runs the commands.
    fn own(&self, dir: &Path) {
        if self.root {
            let status = Command::new("chown")
                .args(["-R", "65534:65534"])
                .arg(dir)
                .status()
                .unwrap();
            assert!(status.success());
        }
    }

    fn run(&self, sb: &Sandbox, args: &[&str]) -> (i32, String, String) {
        let mut cmd = if self.root {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(&self.program);
            c
        } else {
            Command::new(&self.program)
        };
        let out = cmd
            .args(args)
            .current_dir(sb.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", sb.path())
            .env("FLIGHTDECK_STATE_DIR", sb.state())
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

fn chmod_tree(dir: &Path, writable: bool) {
    let status = Command::new("chmod")
        .args(["-R", if writable { "u+w" } else { "a-w" }])
        .arg(dir)
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn a_read_only_state_dir_can_be_looked_at_and_refuses_changes_by_path() {
    let sb = Sandbox::new();
    std::fs::write(
        sb.path().join("flightdeck.toml"),
        "workspace = \"t\"\n[[targets]]\nname = \"web\"\nenvironment = \"test\"\nnodes = [\"w1\"]\nengine = \"script\"\ndrain = false\nscript = { deploy = [\"true\"], health = [\"true\"] }\n",
    )
    .unwrap();
    let me = Unprivileged::new(&sb);
    me.own(sb.path());
    let (code, out, err) = me.run(&sb, &["deploy", "web", "v1"]);
    assert_eq!(code, 0, "{out}{err}");

    // Only the deploy logs' directory is read-only: the deploy is refused before anything
    // is recorded, naming the directory.
    let deploys = sb.state().join("deploys");
    std::fs::set_permissions(&deploys, std::fs::Permissions::from_mode(0o500)).unwrap();
    let (code, out, err) = me.run(&sb, &["deploy", "web", "v2"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains(&format!(
            "cannot write the deploy log {}",
            deploys.display()
        )),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    let (_, json, _) = me.run(&sb, &["status", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        v["deploys"][0]["state"], "succeeded",
        "no failed deploy left: {json}"
    );
    assert_eq!(v["deploys"][0]["last"]["id"], 1, "{json}");

    // The whole state dir is read-only.
    chmod_tree(&sb.state(), false);
    let (code, out, err) = me.run(&sb, &["--read-only", "status"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("web (test) on v1"), "{out}");
    assert!(err.is_empty(), "read-only use says nothing of logs: {err}");
    let (code, out, err) = me.run(&sb, &["--read-only", "check"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = me.run(&sb, &["deploy", "web", "v2"]);
    assert_eq!(code, 1, "{out}{err}");
    let store = sb.state().join("t/store.db");
    assert!(
        err.contains(&format!("store {} is read-only", store.display()))
            && err.contains("--read-only"),
        "{err}"
    );
    let (code, _, err) = me.run(&sb, &["--read-only", "deploy", "web", "v2"]);
    assert_eq!(code, 3, "refused: {err}");
    chmod_tree(&sb.state(), true);
}
