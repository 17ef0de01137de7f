//! The GitHub provider against a loopback GitHub API (wiremock with state): pagination, ETags
//! and 304s, rate limits and their reset, 401, 5xx back-off, HTML and truncated answers, capped
//! and trickling bodies, the incident marker and label, Actions runs, and a simulated hour of
//! polling three repos (L2).

mod common;
#[path = "common/github.rs"]
mod fake;

use std::sync::Arc;
use std::time::{Duration, Instant};

use fake::{FakeGithub, gh_workspace};
use flightdeck::domain::{ItemKind, ItemState, NewItem, Severity};
use flightdeck::providers::github::{GhClient, GithubBacklog, GithubRuns, Token};
use flightdeck::providers::{BacklogMutation, BacklogSource, BuildSource, ProviderError};
use wiremock::ResponseTemplate;

const CANARY: &str = "ghp_CANARY0123456789abcdefCANARY";

fn client(url: &str, timeout: Duration) -> Arc<GhClient> {
    Arc::new(GhClient::new(url, Some(&Token::new(CANARY, "test")), timeout).unwrap())
}

fn backlog(c: &Arc<GhClient>, repos: &[&str], store: &std::path::Path) -> GithubBacklog {
    GithubBacklog::new(
        "gh",
        Arc::clone(c),
        repos.iter().map(|r| r.to_string()).collect(),
        "incident",
        store.to_path_buf(),
        "ana",
    )
}

/// The fake with one issue in `acme/api`, and a backlog of it (keep the dir while it is used).
async fn one_issue() -> (FakeGithub, tempfile::TempDir, Arc<GhClient>, GithubBacklog) {
    let gh = FakeGithub::start().await;
    gh.add_issue("acme/api", "one", &[], false);
    let tmp = tempfile::tempdir().unwrap();
    let c = client(&gh.url(), Duration::from_secs(5));
    let b = backlog(&c, &["acme/api"], &tmp.path().join("s.db"));
    (gh, tmp, c, b)
}

/// Sleeps until the Unix second `until` has begun.
async fn wait_past(until: i64) {
    while now_ms() < until * 1000 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test]
async fn issues_paginate_skip_pull_requests_and_unchanged_lists_cost_304s() {
    let gh = FakeGithub::start().await;
    for i in 0..150 {
        gh.add_issue("acme/api", &format!("issue {i}"), &["bug"], false);
    }
    gh.add_issue("acme/api", "a pull request", &[], true);
    gh.add_issue(
        "acme/api",
        "\u{1b}]52;c;cHduZWQ=\u{7}\u{202e}evil",
        &["incident", "severity:high"],
        false,
    );
    let tmp = tempfile::tempdir().unwrap();
    let c = client(&gh.url(), Duration::from_secs(5));
    let b = backlog(&c, &["acme/api"], &tmp.path().join("s.db"));

    let items = b.list(false).await.unwrap().expect("first list");
    assert_eq!(items.len(), 151, "150 issues + 1 incident, no pull request");
    let hostile = items.iter().find(|i| i.title.contains("evil")).unwrap();
    assert_eq!(hostile.kind, ItemKind::Incident);
    assert_eq!(hostile.severity, Some(Severity::High));
    assert!(hostile.id.starts_with("acme/api#"));
    let first = gh.seen();
    assert_eq!(first.len(), 2, "two pages of 100: {first:?}");
    assert!(first[1].path.contains("page=2"));
    assert!(
        first
            .iter()
            .all(|s| s.auth.as_deref() == Some(&format!("Bearer {CANARY}") as &str))
    );

    assert_eq!(b.list(false).await.unwrap(), None, "unchanged: nothing new");
    let again = &gh.seen()[2..];
    assert!(
        again.iter().all(|s| s.conditional && s.status == 304),
        "{again:?}"
    );
    assert_eq!(
        b.list(true).await.unwrap().unwrap().len(),
        151,
        "forced: served from the cache"
    );
    assert_eq!(c.budget().not_modified, 4);
    assert_eq!(c.budget().limit, Some(5000));

    gh.add_issue("acme/api", "new one", &[], false);
    let items = b.list(false).await.unwrap().expect("a change is seen");
    assert_eq!(items.len(), 152);
}

#[tokio::test]
async fn incidents_file_once_with_marker_and_label_even_when_the_answer_is_lost() {
    let gh = FakeGithub::start().await;
    gh.add_issue("acme/api", "unrelated", &["incident"], false);
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("s.db");
    flightdeck::store::Store::open(&store).unwrap();
    let c = client(&gh.url(), Duration::from_secs(5));
    let b = backlog(&c, &["acme/api", "acme/web"], &store);
    let new = NewItem {
        title: "api healthz failing".into(),
        body: "evidence".into(),
        kind: Some(ItemKind::Incident),
        severity: Some(Severity::Critical),
        labels: vec!["auto".into()],
        key: Some("check:api healthz".into()),
    };
    gh.state.lock().unwrap().lose_next_create = true;
    let err = b
        .apply(BacklogMutation::Create(new.clone()))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ProviderError::BadResponse("502 Bad Gateway: HTML page: 502 Bad Gateway".into())
    );
    // The host is backed off after the 5xx; then reconcile by listing labelled issues (never
    // search): the lost create is found.
    let wait = c.budget().wait_until.expect("backing off");
    assert!(
        b.find_key("check:api healthz").await.is_err(),
        "nothing sent while backing off"
    );
    wait_past(wait).await;
    let found = b
        .find_key("check:api healthz")
        .await
        .unwrap()
        .expect("found by marker");
    assert_eq!(found.id, "acme/api#2");
    assert!(found.auto);
    assert_eq!(found.severity, Some(Severity::Critical));
    let id = b.apply(BacklogMutation::Create(new)).await.unwrap();
    assert_eq!(id, "acme/api#2", "a retried create returns the first issue");
    let seen = gh.seen();
    assert_eq!(seen.iter().filter(|s| s.method == "POST").count(), 1);
    assert!(seen.iter().all(|s| !s.path.contains("/search")));
    assert!(seen.iter().any(|s| s.path.contains("labels=incident")));
    let stored = gh.issues("acme/api");
    let issue = stored.iter().find(|i| i["number"] == 2).unwrap();
    let labels: Vec<&str> = issue["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["auto", "incident", "severity:critical"]);
    assert!(
        issue["body"]
            .as_str()
            .unwrap()
            .contains("<!-- flightdeck-key: check:api healthz -->")
    );

    // Triage: comment, acknowledge, assign, close and reopen.
    b.apply(BacklogMutation::Comment {
        id: id.clone(),
        body: "looking".into(),
    })
    .await
    .unwrap();
    b.apply(BacklogMutation::Acknowledge { id: id.clone() })
        .await
        .unwrap();
    b.apply(BacklogMutation::Assign {
        id: id.clone(),
        assignee: Some("bo".into()),
    })
    .await
    .unwrap();
    b.apply(BacklogMutation::SetState {
        id: id.clone(),
        state: ItemState::Closed,
    })
    .await
    .unwrap();
    let item = b.find_key("check:api healthz").await.unwrap().unwrap();
    assert_eq!(item.state, ItemState::Closed);
    assert_eq!(item.assignee.as_deref(), Some("bo"));
    assert!(item.labels.contains(&"acked".to_string()));
    let comments = b.comments(&id).await.unwrap();
    assert_eq!(comments.len(), 2);
    assert_eq!(comments[1].body, "Acknowledged by ana.");

    // An edit keeps the hidden key; a stale edit is refused.
    let edit = NewItem {
        title: "renamed".into(),
        body: "new text".into(),
        ..NewItem::default()
    };
    let err = b
        .apply(BacklogMutation::Edit {
            id: id.clone(),
            item: edit.clone(),
            base: Some(1),
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err, ProviderError::Invalid(ref m) if m.contains("conflict")),
        "{err:?}"
    );
    b.apply(BacklogMutation::Edit {
        id: id.clone(),
        item: edit,
        base: None,
    })
    .await
    .unwrap();
    let item = b.find_key("check:api healthz").await.unwrap().unwrap();
    assert_eq!(item.title, "renamed");
    assert_eq!(item.kind, ItemKind::Incident, "still an incident");

    // Merge moves the key; dismiss mutes it in the workspace store.
    b.apply(BacklogMutation::Merge {
        id: id.clone(),
        into: "acme/api#1".into(),
    })
    .await
    .unwrap();
    assert_eq!(
        b.find_key("check:api healthz").await.unwrap().unwrap().id,
        "acme/api#1"
    );
    b.apply(BacklogMutation::Dismiss {
        id: "acme/api#1".into(),
        hours: 2,
    })
    .await
    .unwrap();
    let s = flightdeck::store::Store::open(&store).unwrap();
    assert_eq!(s.mutes(flightdeck::domain::now()).unwrap().len(), 1);
    assert!(
        b.apply(BacklogMutation::Comment {
            id: "nope".into(),
            body: "x".into()
        })
        .await
        .is_err()
    );
}

#[tokio::test]
async fn rate_limit_is_honoured_until_its_reset_and_nothing_is_sent_meanwhile() {
    let (gh, _tmp, c, b) = one_issue().await;
    let until = now_ms() / 1000 + 2;
    gh.state.lock().unwrap().limited_until = Some(until);
    let err = b.list(false).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::RateLimited(ref m) if m.contains("rate limit exceeded")),
        "{err:?}"
    );
    assert_eq!(gh.seen().len(), 1);
    assert_eq!(c.budget().wait_until, Some(until));
    let start = Instant::now();
    while now_ms() / 1000 < until {
        let err = b.list(false).await.unwrap_err();
        assert!(matches!(err, ProviderError::RateLimited(_)));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(start.elapsed() >= Duration::from_millis(900));
    assert_eq!(gh.seen().len(), 1, "no request before the reset");
    assert!(
        b.list(false).await.unwrap().is_some(),
        "after the reset it polls again"
    );
    assert!(gh.seen()[1].at_ms >= until * 1000);

    // 429 with retry-after: nothing until it has passed.
    gh.state.lock().unwrap().inject.push_back(
        ResponseTemplate::new(429)
            .insert_header("retry-after", "1")
            .set_body_json(serde_json::json!({"message": "Too many requests"})),
    );
    let err = b.list(true).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::RateLimited(ref m) if m.starts_with("429")),
        "{err:?}"
    );
    let n = gh.seen().len();
    assert!(matches!(
        b.list(true).await,
        Err(ProviderError::RateLimited(_))
    ));
    assert_eq!(gh.seen().len(), n, "nothing sent during retry-after");
    let until = c.budget().wait_until.unwrap();
    wait_past(until).await;
    assert!(b.list(true).await.is_ok());

    // retry-after on a secondary limit
    gh.state.lock().unwrap().inject.push_back(
        ResponseTemplate::new(403)
            .insert_header("retry-after", "30")
            .set_body_json(
                serde_json::json!({"message": "You have exceeded a secondary rate limit."}),
            ),
    );
    assert!(matches!(
        b.list(true).await,
        Err(ProviderError::RateLimited(_))
    ));
    let n = gh.seen().len();
    assert!(matches!(
        b.list(true).await,
        Err(ProviderError::RateLimited(_))
    ));
    assert_eq!(gh.seen().len(), n);
}

#[tokio::test]
async fn a_401_stops_that_host_and_server_errors_back_off() {
    let (gh, tmp, _, b) = one_issue().await;
    gh.state
        .lock()
        .unwrap()
        .inject
        .push_back(fake::bad_credentials());
    let err = b.list(false).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::Auth(ref m) if m.contains("Bad credentials")),
        "{err:?}"
    );
    assert!(err.to_string().starts_with("auth expired"));
    for _ in 0..5 {
        assert!(matches!(b.list(true).await, Err(ProviderError::Auth(_))));
    }
    assert_eq!(gh.seen().len(), 1, "no retry after a 401");
    assert!(!err.to_string().contains(CANARY));

    // A fresh client (another host would be another client): 5xx backs off.
    let c = client(&gh.url(), Duration::from_secs(5));
    let b = backlog(&c, &["acme/api"], &tmp.path().join("s.db"));
    gh.state.lock().unwrap().inject.push_back(
        ResponseTemplate::new(504).set_body_string(
            "<!DOCTYPE html>\n<html><head><title>504 Gateway Time-out</title></head><body><h1>504</h1>\n\n</body></html>",
        ),
    );
    let err = b.list(false).await.unwrap_err().to_string();
    assert_eq!(
        err,
        "bad response: 504 Gateway Timeout: HTML page: 504 Gateway Time-out"
    );
    let n = gh.seen().len();
    let err = b.list(false).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::Unreachable(ref m) if m.contains("backing off")),
        "{err:?}"
    );
    assert_eq!(gh.seen().len(), n, "backing off sends nothing");
}

#[tokio::test]
async fn truncated_huge_and_trickling_answers_fail_in_one_line() {
    let gh = FakeGithub::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("s.db");
    let c = client(&gh.url(), Duration::from_secs(5));
    let b = backlog(&c, &["acme/api"], &store);
    gh.state
        .lock()
        .unwrap()
        .inject
        .push_back(ResponseTemplate::new(200).set_body_string(r#"[{"number": 1, "tit"#));
    let err = b.list(false).await.unwrap_err().to_string();
    assert!(err.contains("unreadable answer"), "{err}");
    assert!(!err.contains('\n'));

    let c = client(&gh.url(), Duration::from_secs(5));
    let b = backlog(&c, &["acme/api"], &store);
    gh.state
        .lock()
        .unwrap()
        .inject
        .push_back(ResponseTemplate::new(200).set_body_bytes(vec![b'['; 9 << 20]));
    let err = b.list(false).await.unwrap_err().to_string();
    assert_eq!(err, "bad response: answer larger than 8 MiB");

    // A body that trickles one byte a second is abandoned at the call's timeout.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                use tokio::io::AsyncReadExt;
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = sock
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n")
                    .await;
                for _ in 0..1000 {
                    if sock.write_all(b" ").await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            });
        }
    });
    let c = client(&format!("http://{addr}"), Duration::from_secs(2));
    let b = backlog(&c, &["acme/api"], &store);
    let start = Instant::now();
    let err = b.list(false).await.unwrap_err();
    assert_eq!(err, ProviderError::Timeout(Duration::from_secs(2)));
    assert!(start.elapsed() < Duration::from_secs(4));
}

#[tokio::test]
async fn actions_runs_with_jobs_and_steps_fetched_again_only_when_a_run_changed() {
    let gh = FakeGithub::start().await;
    gh.add_run("acme/api", "CI", "completed", Some("success"));
    gh.add_run("acme/api", "CI", "completed", Some("failure"));
    gh.add_run("acme/web", "Deploy", "in_progress", None);
    let c = client(&gh.url(), Duration::from_secs(5));
    let r = GithubRuns::new(
        "gh",
        Arc::clone(&c),
        vec!["acme/api".into(), "acme/web".into()],
        vec![],
        std::env::temp_dir(),
    );
    let runs = r.runs(false).await.unwrap().unwrap();
    assert_eq!(runs.len(), 3);
    let failed = runs
        .iter()
        .find(|r| r.status == flightdeck::domain::RunStatus::Failure)
        .unwrap();
    assert_eq!(failed.pipeline, "api · CI");
    assert_eq!(failed.actor, "octocat");
    assert_eq!(failed.commit.as_deref(), Some("0123456"));
    assert_eq!(failed.branch.as_deref(), Some("main"));
    let names: Vec<&str> = failed.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["build", "  Set up job", "  cargo test"]);
    assert_eq!(failed.steps[0].duration_ms, Some(90_000));
    let jobs = |s: &[fake::Seen]| s.iter().filter(|s| s.path.contains("/jobs")).count();
    assert_eq!(jobs(&gh.seen()), 3);
    assert_eq!(r.runs(false).await.unwrap(), None);
    assert_eq!(r.runs(true).await.unwrap().unwrap().len(), 3);
    assert_eq!(jobs(&gh.seen()), 3, "unchanged runs: no jobs fetched again");
    gh.add_run("acme/api", "CI", "queued", None);
    assert_eq!(r.runs(false).await.unwrap().unwrap().len(), 4);
    assert_eq!(jobs(&gh.seen()), 4, "only the new run's jobs");
}

/// L2: an hour of default polling (every 10 s) of three repos' issues and runs, with a change
/// every few minutes and a rate-limit window in the middle.
#[tokio::test]
async fn an_hour_of_polling_three_repos_is_mostly_304s_and_silent_while_limited() {
    let gh = FakeGithub::start().await;
    let repos = ["acme/api", "acme/web", "acme/ops"];
    for r in repos {
        for i in 0..40 {
            gh.add_issue(r, &format!("{r} {i}"), &[], false);
        }
        gh.add_run(r, "CI", "completed", Some("success"));
    }
    let tmp = tempfile::tempdir().unwrap();
    let c = client(&gh.url(), Duration::from_secs(5));
    let b = backlog(&c, &repos, &tmp.path().join("s.db"));
    let runs = GithubRuns::new(
        "gh",
        Arc::clone(&c),
        repos.iter().map(|r| r.to_string()).collect(),
        vec![],
        std::env::temp_dir(),
    );
    let mut window = None;
    for poll in 0..360 {
        if poll % 30 == 29 {
            gh.add_issue(repos[poll % 3], "new", &[], false);
        }
        if poll == 180 {
            let until = now_ms() / 1000 + 2;
            gh.state.lock().unwrap().limited_until = Some(until);
            window = Some((gh.seen().len(), until * 1000));
            // Polls go on at a faster pace while limited: none may reach the server.
            while now_ms() < until * 1000 + 50 {
                let _ = b.list(false).await;
                let _ = runs.runs(false).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        let _ = b.list(false).await;
        let _ = runs.runs(false).await;
    }
    let seen = gh.seen();
    let (from, to) = window.unwrap();
    let during: Vec<_> = seen[from..].iter().filter(|s| s.at_ms < to).collect();
    assert_eq!(
        during.len(),
        1,
        "only the request that met the limit: {during:?}"
    );
    let lists: Vec<_> = seen
        .iter()
        .filter(|s| s.method == "GET" && (s.path.contains("/issues?") || s.path.contains("/runs?")))
        .skip(6)
        .collect();
    let not_modified = lists.iter().filter(|s| s.status == 304).count();
    let share = not_modified as f64 / lists.len() as f64;
    eprintln!(
        "L2: {} list polls after the first round, {} answered 304 ({:.1} %), {} requests in all",
        lists.len(),
        not_modified,
        share * 100.0,
        seen.len()
    );
    assert!(share >= 0.8, "only {:.1} % 304s", share * 100.0);
}

/// No file under `dir` (config, store with its audit log and journal, logs, downloaded logs)
/// holds the token (S1).
fn assert_no_canary_under(dir: &std::path::Path) {
    common::assert_no_secret_under(dir, CANARY);
}

/// Watches every process's arguments while it lives, and says whether any held the token (S1):
/// the token reaches child processes only through their environment.
struct ArgvWatch(
    Arc<std::sync::atomic::AtomicBool>,
    Option<std::thread::JoinHandle<Vec<String>>>,
);

impl ArgvWatch {
    fn start() -> ArgvWatch {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let scan = std::thread::spawn(move || {
            let mut hits = Vec::new();
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                for e in std::fs::read_dir("/proc").unwrap().flatten() {
                    let argv = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
                    if argv.windows(CANARY.len()).any(|w| w == CANARY.as_bytes()) {
                        hits.push(String::from_utf8_lossy(&argv).replace('\0', " "));
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            hits
        });
        ArgvWatch(stop, Some(scan))
    }

    fn assert_clean(mut self) {
        let hits = self.stop();
        assert!(
            hits.is_empty(),
            "the token in a process's arguments: {hits:?}"
        );
    }

    fn stop(&mut self) -> Vec<String> {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
        self.1.take().map(|t| t.join().unwrap()).unwrap_or_default()
    }
}

impl Drop for ArgvWatch {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `check` names the token's source (redacted), its scopes and the rate limit; `status --json`
/// shows GitHub issues and runs; at trace level no file, output or argument carries the token (S1).
/// The config has no `[backlog]` or `[builds]`: its one github provider feeds both panes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_and_status_through_the_binary_never_disclose_the_token() {
    let gh = FakeGithub::start().await;
    gh.add_issue("acme/api", "login broken", &["bug"], false);
    gh.add_run("acme/api", "CI", "completed", Some("failure"));
    let sb = Arc::new(gh_workspace(&gh, &[], "", ""));
    let run = |args: &'static [&'static str]| {
        let sb = Arc::clone(&sb);
        tokio::task::spawn_blocking(move || {
            sb.run_env(args, &[("GH_TOKEN", CANARY), ("GITHUB_TOKEN", "ghp_OTHER")])
        })
    };
    let (code, out, err) = run(&["--log-level", "trace", "check"]).await.unwrap();
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        !out.contains(CANARY) && !err.contains(CANARY),
        "check shows the token"
    );
    let line = out.lines().find(|l| l.starts_with("provider gh")).unwrap();
    let redacted = format!("token from $GH_TOKEN ghp_… ({} chars)", CANARY.len());
    assert!(line.contains(&redacted), "{line}");
    assert!(line.contains("scopes: repo, workflow"), "{line}");
    assert!(line.contains("rate limit "), "{line}");
    assert!(
        line.contains("acme/api ✓") && line.contains("issues: 1") && line.contains("runs: 1"),
        "{line}"
    );
    let (code, out, err) = run(&["--log-level", "trace", "status", "--json"])
        .await
        .unwrap();
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["backlog"][0]["id"], "acme/api#1");
    assert_eq!(v["backlog"][0]["provider"], "gh");
    assert_eq!(v["builds"][0]["status"], "failure");
    assert_eq!(v["builds"][0]["pipeline"], "api · CI");
    assert!(
        !out.contains(CANARY) && !err.contains(CANARY),
        "status shows the token"
    );
    assert_no_canary_under(sb.path());
    assert!(
        gh.seen()
            .iter()
            .all(|s| s.auth.as_deref() == Some(&format!("Bearer {CANARY}") as &str))
    );
}

#[tokio::test]
async fn logs_of_finished_jobs_download_through_the_redirect_without_the_token_and_runs_are_steered()
 {
    let gh = FakeGithub::start().await;
    let done = gh.add_run("acme/api", "CI", "completed", Some("failure"));
    let going = gh.add_run("acme/api", "CI", "in_progress", None);
    let tmp = tempfile::tempdir().unwrap();
    let c = client(&gh.url(), Duration::from_secs(5));
    let r = GithubRuns::new(
        "gh",
        Arc::clone(&c),
        vec!["acme/api".into()],
        vec![],
        tmp.path().join("logs"),
    );
    r.runs(false).await.unwrap().unwrap();
    let path = r.fetch_log(&format!("acme/api/{done}")).await.unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("=== job build (failure) ===\n"), "{text}");
    assert!(text.contains(&format!("test ok for job {}", done * 10)));
    let blob = gh
        .seen()
        .into_iter()
        .find(|s| s.path.starts_with("/_blob/"))
        .unwrap();
    assert_eq!(blob.auth, None, "the signed log URL gets no token");
    let runs = r.runs(true).await.unwrap().unwrap();
    assert_eq!(
        runs.iter()
            .find(|x| x.id.ends_with(&done.to_string()))
            .unwrap()
            .log_path
            .as_deref(),
        Some(path.as_str())
    );
    let text =
        std::fs::read_to_string(r.fetch_log(&format!("acme/api/{going}")).await.unwrap()).unwrap();
    assert!(text.contains("still going"), "{text}");

    use flightdeck::providers::RunAction;
    assert_eq!(
        r.act(&format!("acme/api/{done}"), RunAction::RerunFailed)
            .await
            .unwrap(),
        format!("acme/api run {done}: rerun of the failed jobs requested")
    );
    r.act(&format!("acme/api/{going}"), RunAction::Cancel)
        .await
        .unwrap();
    let err = r
        .act(&format!("acme/api/{going}"), RunAction::Cancel)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("Cannot cancel a workflow run that is completed"),
        "{err}"
    );
    let runs = r.runs(false).await.unwrap().expect("the runs changed");
    let status = |id: u64| {
        runs.iter()
            .find(|x| x.id.ends_with(&id.to_string()))
            .unwrap()
            .status
    };
    assert_eq!(status(done), flightdeck::domain::RunStatus::Queued);
    assert_eq!(status(going), flightdeck::domain::RunStatus::Cancelled);
    // A run id that would leave the API's paths (or the log dir) is refused before any request.
    let before = gh.seen().len();
    assert!(r.fetch_log("../acme/1").await.is_err());
    assert!(r.fetch_log("acme/api?x=/1").await.is_err());
    assert_eq!(gh.seen().len(), before);
}

const DEPLOY_YML: &str = r#"name: Deploy
run-name: Deploy ${{ inputs.environment }} ${{ inputs.flightdeck_id }}
on:
  workflow_dispatch:
    inputs:
      environment:
        description: Where to deploy
        type: choice
        options: [staging, production]
        required: true
      dry_run:
        type: boolean
        default: false
      flightdeck_id:
        description: set by flightdeck to find the run it started
"#;

/// The deploy workflow with a required `version` input (what the github-actions engine fills).
fn deploy_with_version() -> String {
    DEPLOY_YML.replace(
        "      dry_run:",
        "      version:\n        required: true\n      dry_run:",
    )
}

/// F12: the dispatched run is tracked exactly, whether the host returns its id, answers 204
/// (found by the correlation input among others' runs), or times out after accepting; a
/// dispatch whose run has not appeared is never sent again.
#[tokio::test]
async fn dispatch_tracks_exactly_its_run_in_every_answer_mode() {
    use std::collections::BTreeMap;
    let gh = FakeGithub::start().await;
    gh.add_workflow("acme/api", 42, "Deploy", DEPLOY_YML);
    gh.add_workflow(
        "acme/api",
        43,
        "CI",
        "name: CI\non:\n  push:\n    branches: [main]\n",
    );
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("s.db");
    flightdeck::store::Store::open(&store).unwrap();
    let c = client(&gh.url(), Duration::from_secs(2));
    let r = GithubRuns::new(
        "gh",
        Arc::clone(&c),
        vec!["acme/api".into()],
        vec![],
        tmp.path().join("logs"),
    )
    .with_dispatch(store.clone(), "ana")
    .find_runs(3, Duration::from_millis(200));
    let flows = r.workflows().await.unwrap();
    assert_eq!(flows.len(), 1, "only the dispatchable workflow");
    let w = flows[0].clone();
    assert_eq!(
        (w.name.as_str(), w.default_ref.as_str()),
        ("Deploy", "main")
    );
    assert_eq!(w.inputs.len(), 3);
    let mut values = BTreeMap::new();
    values.insert("environment".to_string(), "moon".to_string());
    let err = r
        .dispatch(w.clone(), "main".into(), values.clone())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("one of: staging, production"),
        "{err}"
    );
    assert!(
        gh.state.lock().unwrap().dispatches.is_empty(),
        "a bad input is never sent"
    );
    values.insert("environment".to_string(), "staging".to_string());

    // 1. The host returns the run id.
    let (msg, run) = r
        .dispatch(w.clone(), "main".into(), values.clone())
        .await
        .unwrap();
    let first = run.expect("run id returned");
    assert!(msg.contains("dispatched"), "{msg}");
    let sent = gh.state.lock().unwrap().dispatches[0].clone();
    assert_eq!(sent["ref"], "main");
    assert_eq!(sent["inputs"]["dry_run"], "false");
    assert!(
        sent["inputs"]["flightdeck_id"]
            .as_str()
            .unwrap()
            .starts_with("fd-")
    );

    // 2. 204: someone else's dispatch run appears too; ours is found by its correlation.
    gh.state.lock().unwrap().dispatch_mode = "no_content".into();
    gh.add_dispatch_run("acme/api", 42, "Deploy production by bo");
    let (_, run) = r
        .dispatch(w.clone(), "main".into(), values.clone())
        .await
        .unwrap();
    let second = run.expect("found by correlation");
    assert_ne!(second, first);
    let runs = gh.state.lock().unwrap().runs["acme/api"].clone();
    let title = |id: &str| {
        runs.iter()
            .find(|x| format!("acme/api/{}", x["id"]) == id)
            .unwrap()["display_title"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let corr = gh.state.lock().unwrap().dispatches[1]["inputs"]["flightdeck_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(title(&second).contains(&corr));

    // 3. Accepted, but the answer is lost to a timeout: the next dispatch reconciles it first.
    gh.state.lock().unwrap().dispatch_mode = "slow".into();
    let err = r
        .dispatch(w.clone(), "main".into(), values.clone())
        .await
        .unwrap_err();
    assert_eq!(err, ProviderError::Timeout(Duration::from_secs(2)));
    // A timeout backs the host off, like a server error.
    let wait = c
        .budget()
        .wait_until
        .expect("backing off after the timeout");
    wait_past(wait).await;
    gh.state.lock().unwrap().dispatch_mode = "run_id".into();
    let (_, run) = r
        .dispatch(w.clone(), "main".into(), values.clone())
        .await
        .unwrap();
    assert!(run.is_some());
    let s = flightdeck::store::Store::open(&store).unwrap();
    assert_eq!(
        s.dispatch_claimed("acme/api").unwrap().len(),
        4,
        "every dispatch matched to its own run"
    );
    assert_eq!(gh.state.lock().unwrap().dispatches.len(), 4);

    // 4. Accepted, and its run never shows: not sent again.
    gh.state.lock().unwrap().dispatch_mode = "never".into();
    let (msg, run) = r
        .dispatch(w.clone(), "main".into(), values.clone())
        .await
        .unwrap();
    assert_eq!(run, None);
    assert!(msg.contains("has not appeared yet"), "{msg}");
    let err = r
        .dispatch(w.clone(), "main".into(), values.clone())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not sent again"), "{err}");
    assert_eq!(
        gh.state.lock().unwrap().dispatches.len(),
        5,
        "no blind resend"
    );
}

/// The cockpit in a real terminal on a GitHub workspace: issues and runs listed, the budget in
/// the status bar, a failed run's log downloaded and shown, a workflow dispatched from its form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cockpit_lists_github_issues_and_runs_opens_logs_and_dispatches() {
    let gh = FakeGithub::start().await;
    gh.add_issue("acme/api", "Login page times out", &["bug"], false);
    gh.add_issue("acme/api", "Typo in footer", &[], false);
    gh.add_run("acme/api", "CI", "completed", Some("failure"));
    gh.add_workflow("acme/api", 42, "Deploy", DEPLOY_YML);
    let sb = gh_workspace(
        &gh,
        &["backlog", "builds"],
        r#"sections = [{ name = "Bugs", query = "is:open label:bug" }]"#,
        "",
    );
    let state = Arc::clone(&gh.state);
    tokio::task::spawn_blocking(move || {
        let mut c = common::Cockpit::start(&sb, &[], &[("GH_TOKEN", CANARY)], 120, 32);
        c.wait_for("Login page times out", 10);
        c.wait_for("Typo in footer", 10);
        c.wait_for("api · CI", 10);
        c.wait_for("/5000 ↻", 10);
        // `]` shows the section: only what its search found.
        c.send("]");
        c.wait_for("[Bugs]", 5);
        assert!(!c.screen().contains("Typo in footer"), "{}", c.screen());
        assert!(c.screen().contains("Login page times out"));
        c.send("2");
        c.send("\r");
        c.wait_for("test ok for job", 10);
        // The log line's OSC title sequence is dropped, its text kept.
        c.wait_for("error: test failed", 5);
        assert!(!c.screen().contains("pwned"), "{}", c.screen());
        c.send("\x1b");
        c.send("p");
        c.wait_for("Dispatch which workflow?", 10);
        c.send("\r");
        c.wait_for("Dispatch acme/api · Deploy", 5);
        c.send("\t");
        c.send("\x1b[C");
        c.wait_for("‹ production ›", 5);
        c.send("\r");
        // It asks first, showing what goes out (not the correlation input).
        c.wait_for("Dispatch Deploy in acme/api on main with dry_run=false,", 5);
        c.wait_for("environment=production?", 5);
        assert!(!c.screen().contains("flightdeck_id="), "{}", c.screen());
        c.send("y");
        c.wait_for("Deploy dispatched", 10);
        assert!(!c.screen().contains(CANARY));
        // No display here: `o` shows the selected run's web page instead of opening it.
        c.send("o");
        c.wait_for("/acme/api/actions/runs/", 5);
        let sent = state.lock().unwrap().dispatches.clone();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0]["inputs"]["environment"], "production");
        c.send("q");
    })
    .await
    .unwrap();
}

/// Not a test: serves the fake GitHub (with a few issues, runs and a dispatchable workflow) for
/// trying the cockpit by hand and for `scripts/screenshots.sh`. Its URL goes to the file named
/// by `FAKE_GITHUB_URL_FILE`; it serves until that file is removed (or `FAKE_GITHUB_SECS`,
/// default 600, pass).
#[tokio::test]
#[ignore]
async fn serve_fake_github() {
    let Ok(file) = std::env::var("FAKE_GITHUB_URL_FILE") else {
        return;
    };
    let gh = FakeGithub::start().await;
    gh.add_issue(
        "acme/api",
        "Checkout returns 502 under load",
        &["bug", "p1"],
        false,
    );
    gh.add_issue(
        "acme/api",
        "Add rate limiting to /login",
        &["enhancement"],
        false,
    );
    gh.add_issue(
        "acme/web",
        "api healthz failing",
        &["incident", "severity:critical"],
        false,
    );
    gh.add_issue("acme/web", "Dark mode for the dashboard", &[], false);
    gh.add_run("acme/api", "CI", "completed", Some("success"));
    gh.add_run("acme/api", "CI", "completed", Some("failure"));
    gh.add_run("acme/web", "CI", "in_progress", None);
    gh.add_run("acme/web", "Release", "completed", Some("success"));
    gh.add_workflow("acme/api", 42, "Deploy", &deploy_with_version());
    std::fs::write(&file, gh.url()).unwrap();
    let secs = std::env::var("FAKE_GITHUB_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    let end = Instant::now() + Duration::from_secs(secs);
    while std::path::Path::new(&file).exists() && Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The incident loop files into GitHub: a failing check becomes one labelled issue with the
/// hidden key, found again (not filed twice) by a second watcher, and closed on recovery.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_files_a_failing_check_into_github_issues_once() {
    let argv = ArgvWatch::start();
    let gh = FakeGithub::start().await;
    // A port nothing listens on: the probe fails at once.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    let check = format!(
        "[[checks]]\nname = \"api healthz\"\nkind = \"http\"\nurl = \"http://127.0.0.1:{port}/healthz\"\nservice = \"api\"\nfor_secs = 0\n"
    );
    let sb = Arc::new(gh_workspace(
        &gh,
        &["backlog"],
        r#"incident_label = "sev-incident""#,
        &check,
    ));
    for _ in 0..2 {
        let sb = Arc::clone(&sb);
        let (code, out, err) = tokio::task::spawn_blocking(move || {
            sb.run_env(&["watch", "--once"], &[("GH_TOKEN", CANARY)])
        })
        .await
        .unwrap();
        assert_eq!(code, 0, "{out}{err}");
    }
    let issues = gh.issues("acme/api");
    assert_eq!(
        issues.len(),
        1,
        "one incident for one failing check: {issues:#?}"
    );
    let i = &issues[0];
    let labels: Vec<&str> = i["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert!(labels.contains(&"sev-incident"), "{labels:?}");
    assert!(
        i["body"]
            .as_str()
            .unwrap()
            .contains("<!-- flightdeck-key: ")
    );
    assert!(
        i["title"].as_str().unwrap().contains("api healthz"),
        "{}",
        i["title"]
    );
    assert!(gh.seen().iter().all(|s| !s.path.contains("/search")));
    // Nothing filed, stored or logged carries the token (S1).
    assert!(!serde_json::to_string(&issues).unwrap().contains(CANARY));
    assert_no_canary_under(sb.path());
    argv.assert_clean();
}

/// The `github-actions` engine: a deploy dispatches the workflow with the version and follows
/// exactly its run; a failed run rolls back by dispatching the previous version, once; all
/// through the same journal and lock as the other engines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_actions_deploys_follow_their_run_and_roll_back() {
    let argv = ArgvWatch::start();
    let gh = FakeGithub::start().await;
    gh.add_workflow("acme/api", 42, "Deploy", &deploy_with_version());
    let sb = Arc::new(gh_workspace(
        &gh,
        &[],
        "",
        r#"[[targets]]
name = "api"
environment = "staging"
engine = "github-actions"
github = { provider = "gh", repo = "acme/api", workflow = "deploy.yml", poll_secs = 1, inputs = { environment = "staging" } }
"#,
    ));
    let run = |args: Vec<&'static str>| {
        let sb = Arc::clone(&sb);
        tokio::task::spawn_blocking(move || sb.run_env(&args, &[("GH_TOKEN", CANARY)]))
    };
    // A dispatch GitHub refuses fails the deploy, and blocks nothing after it.
    gh.state.lock().unwrap().dispatch_mode = "reject".into();
    let (code, out, err) = run(vec!["deploy", "api", "v1", "--yes"]).await.unwrap();
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("Unexpected inputs") && out.contains(": failed in"),
        "{out}"
    );
    gh.state.lock().unwrap().dispatch_mode = "run_id".into();
    let (code, out, err) = run(vec!["deploy", "api", "v1", "--yes"]).await.unwrap();
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(": succeeded in"), "{out}");
    // R3: the repo's releases are the versions it knows; another is refused, listing them.
    let (code, out, err) = run(vec!["deploy", "api", "bad", "--yes"]).await.unwrap();
    assert_eq!(code, 3, "{out}{err}");
    assert!(
        err.contains("bad is not a known version of api: known are v2, v1"),
        "{err}"
    );
    let (code, out, err) = run(vec![
        "deploy",
        "api",
        "bad",
        "--yes",
        "--allow-unknown-version",
    ])
    .await
    .unwrap();
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains(": rolled_back in") && out.contains("ended failure"),
        "{out}"
    );
    let sent: Vec<String> = gh
        .state
        .lock()
        .unwrap()
        .dispatches
        .iter()
        .map(|d| {
            format!(
                "{}@{}",
                d["inputs"]["version"].as_str().unwrap(),
                d["inputs"]["environment"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        sent,
        ["v1@staging", "v1@staging", "bad@staging", "v1@staging"],
        "refused, deploy, deploy, one rollback"
    );
    let s = tokio::task::spawn_blocking({
        let sb = Arc::clone(&sb);
        move || sb.status(&[])
    })
    .await
    .unwrap();
    let t = s["deploys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["target"] == "api")
        .unwrap()
        .clone();
    assert_eq!(t["state"], "rolled_back", "{t}");
    assert_eq!(t["nodes"][0]["name"], "staging");
    assert_eq!(t["nodes"][0]["version"], "v1", "{t}");
    assert!(t["lock"].is_null(), "the lock is released: {t}");
    // Deploys, their runner, journal and audit records never write the token (S1).
    assert_no_canary_under(sb.path());
    argv.assert_clean();

    // The cockpit shows the environment and GitHub's own record of its deployments.
    tokio::task::spawn_blocking(move || {
        let mut c = common::Cockpit::start(&sb, &[], &[("GH_TOKEN", CANARY)], 160, 40);
        c.wait_for("rolled back", 10);
        c.send("3");
        c.wait_for("GitHub deployments to staging:", 10);
        c.wait_for("✓ success main@89abcde · version v1", 10);
        assert!(
            c.screen().contains("✗ failure main@89abcde · version bad"),
            "{}",
            c.screen()
        );
        // The version picker offers the repo's published releases.
        c.send("d");
        c.wait_for("v2", 5);
        assert!(!c.screen().contains("v3-draft"), "{}", c.screen());
        c.send("\x1b");
        c.send("q");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn sections_are_github_searches_within_the_repos() {
    let gh = FakeGithub::start().await;
    gh.add_issue("acme/api", "p1 bug", &["p1"], false);
    gh.add_issue("acme/api", "minor", &[], false);
    gh.add_issue("other/repo", "p1 elsewhere", &["p1"], false);
    let tmp = tempfile::tempdir().unwrap();
    let c = client(&gh.url(), Duration::from_secs(5));
    let b = backlog(&c, &["acme/api"], &tmp.path().join("s.db"))
        .with_sections(vec![("P1".into(), "is:open label:p1".into())]);
    let items = b.list(false).await.unwrap().unwrap();
    assert_eq!(items.len(), 2, "only the configured repo: {items:?}");
    let p1: Vec<&str> = items
        .iter()
        .filter(|i| i.sections == ["P1"])
        .map(|i| i.title.as_str())
        .collect();
    assert_eq!(p1, ["p1 bug"]);
    let search = gh
        .seen()
        .into_iter()
        .find(|s| s.path.starts_with("/search/issues"))
        .unwrap();
    assert!(search.path.contains("repo%3Aacme%2Fapi"), "{}", search.path);
    assert_eq!(
        b.list(false).await.unwrap(),
        None,
        "an unchanged search is a 304 too"
    );
    // A label added here shows in the section at the next list.
    let minor = items
        .iter()
        .find(|i| i.title == "minor")
        .unwrap()
        .id
        .clone();
    b.apply(BacklogMutation::SetLabels {
        id: minor,
        labels: vec!["p1".into()],
    })
    .await
    .unwrap();
    let items = b.list(false).await.unwrap().expect("changed");
    assert_eq!(items.iter().filter(|i| i.sections == ["P1"]).count(), 2);
}

/// L2: one request in flight per host. Three calls at once reach GitHub one after another,
/// each after the previous one's (slow) answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_to_one_host_go_one_at_a_time() {
    let gh = FakeGithub::start().await;
    gh.add_issue("acme/api", "one", &[], false);
    gh.state.lock().unwrap().hang = Some(Duration::from_millis(300));
    let c = client(&gh.url(), Duration::from_secs(5));
    let (a, b, d) = tokio::join!(
        c.get("/repos/acme/api"),
        c.get("/repos/acme/api/issues"),
        c.get("/repos/acme/api/actions/runs")
    );
    assert!(a.is_ok() && b.is_ok() && d.is_ok(), "{a:?} {b:?} {d:?}");
    let mut at: Vec<i64> = gh.seen().iter().map(|s| s.at_ms).collect();
    at.sort_unstable();
    assert_eq!(at.len(), 3, "{at:?}");
    for pair in at.windows(2) {
        assert!(
            pair[1] - pair[0] >= 280,
            "two requests in flight at once: {at:?}"
        );
    }
}
