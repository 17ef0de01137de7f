//! S2: where the GitHub token comes from, through the binary: `$GITHUB_TOKEN` alone, then
//! `gh auth token` for the API's host, and a `gh` that hangs gives up after 5 s (anonymous).

mod common;
#[path = "common/github.rs"]
mod fake;

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fake::{FakeGithub, gh_workspace};

/// A directory with a `gh` that runs `body` (sh), first on PATH.
fn fake_gh(sb: &common::Sandbox, body: &str) -> String {
    let dir = sb.path().join("bin");
    std::fs::create_dir_all(&dir).unwrap();
    let gh = dir.join("gh");
    std::fs::write(&gh, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&gh, std::fs::Permissions::from_mode(0o755)).unwrap();
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// `flightdeck check`'s line for provider `gh`, and how long it took.
async fn check(sb: &Arc<common::Sandbox>, env: Vec<(&'static str, String)>) -> (String, Duration) {
    let sb = Arc::clone(sb);
    tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let t = Instant::now();
        let (_, out, err) = sb.run_env(&["check"], &env);
        let line = out
            .lines()
            .find(|l| l.starts_with("provider gh"))
            .unwrap_or_else(|| panic!("no provider line: {out}{err}"))
            .to_string();
        (line, t.elapsed())
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_token_then_gh_auth_token_then_anonymous() {
    let gh = FakeGithub::start().await;
    gh.add_issue("acme/api", "one", &[], false);
    let sb = Arc::new(gh_workspace(&gh, &["backlog"], "", ""));
    let secret = "ghp_TOKENS0123456789abcdefTOKENS";

    // $GITHUB_TOKEN alone; a `gh` on PATH is not asked when an env var has the token.
    let path = fake_gh(&sb, "echo asked >> \"$HOME/gh.calls\"; echo ghp_FROMGH");
    let (line, _) = check(
        &sb,
        vec![("GITHUB_TOKEN", secret.into()), ("PATH", path.clone())],
    )
    .await;
    assert!(line.contains("token from $GITHUB_TOKEN ghp_…"), "{line}");
    assert!(!sb.path().join("gh.calls").exists(), "gh asked needlessly");
    let auth = gh.seen().last().unwrap().auth.clone();
    assert_eq!(auth.as_deref(), Some(&format!("Bearer {secret}") as &str));

    // No env var: `gh auth token --hostname HOST` for the API's host.
    let path = fake_gh(
        &sb,
        "echo \"$@\" >> \"$HOME/gh.calls\"; echo ghp_FROMGH0123456789abcdefFROMGH",
    );
    let (line, _) = check(&sb, vec![("PATH", path)]).await;
    assert!(line.contains("token from gh auth token ghp_…"), "{line}");
    let calls = std::fs::read_to_string(sb.path().join("gh.calls")).unwrap();
    assert_eq!(calls.trim(), "auth token --hostname 127.0.0.1", "{calls}");
    let auth = gh.seen().last().unwrap().auth.clone();
    assert_eq!(
        auth.as_deref(),
        Some("Bearer ghp_FROMGH0123456789abcdefFROMGH")
    );

    // A `gh` that never answers is given 5 s, then the provider goes on anonymous.
    let path = fake_gh(&sb, "exec sleep 60");
    let (line, took) = check(&sb, vec![("PATH", path)]).await;
    assert!(took < Duration::from_secs(15), "waited {took:?} for gh");
    assert!(line.contains("anonymous"), "{line}");
    assert!(gh.seen().last().unwrap().auth.is_none());
}
