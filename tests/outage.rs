//! One provider in trouble, the rest of the cockpit carrying on, in a real terminal: GitHub
//! stops answering (F4, L6) or refuses the token (F16) while the builds pane runs a local
//! pipeline on its own schedule.

mod common;
#[path = "common/github.rs"]
mod fake;

use std::sync::Arc;
use std::time::{Duration, Instant};

use fake::{FakeGithub, gh_workspace};

const TOKEN: &str = "ghp_OUTAGE0123456789abcdefOUTAGE";

/// A local pipeline for the builds pane, beside the GitHub backlog.
const PIPELINE: &str =
    "[[pipelines]]\nname = \"tick\"\nsteps = [{ name = \"tick\", script = \"sleep 1\" }]\n";

/// A GitHub backlog refreshed every second, with the local pipeline.
fn workspace(gh: &FakeGithub) -> common::Sandbox {
    let sb = gh_workspace(gh, &["backlog"], "timeout_secs = 1", PIPELINE);
    let cfg = sb.path().join("flightdeck.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(text.contains("[backlog]\n"), "{text}");
    std::fs::write(
        &cfg,
        text.replace("[backlog]\n", "[backlog]\nrefresh_secs = 1\n"),
    )
    .unwrap();
    sb
}

/// Runs the local pipeline from the builds pane and waits for it to end, then goes back to
/// the backlog: the builds pane keeps its own schedule whatever GitHub does.
fn run_the_local_pipeline(c: &mut common::Cockpit, runs: usize) {
    c.send("2");
    c.wait_for("┏ 2 Builds", 2);
    c.send("p");
    c.wait_for("Run which pipeline?", 3);
    c.send("\r");
    c.wait_until("the run did not end", 15, |s| {
        s.matches("✓ success").count() >= runs
    });
    c.send("1");
    c.wait_for("┏ 1 Backlog", 2);
}

/// F4 and L6: GitHub accepts and never answers. The pane says so within its timeout and a
/// second and keeps the last good data, the keyboard stays live, a local pipeline runs to its
/// end meanwhile, and when GitHub answers again the pane recovers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_stops_answering_goes_stale_and_recovers() {
    let gh = FakeGithub::start().await;
    gh.add_issue("acme/api", "Still here while offline", &[], false);
    let sb = workspace(&gh);
    let state = Arc::clone(&gh.state);
    tokio::task::spawn_blocking(move || {
        let mut c = common::Cockpit::start(&sb, &[], &[("GH_TOKEN", TOKEN)], 120, 32);
        c.wait_for("Still here while offline", 10);
        let before = {
            let mut s = state.lock().unwrap();
            s.hang = Some(Duration::from_secs(30));
            s.seen.len()
        };
        let lost = Instant::now();
        // Timeout (1 s) + a refresh (1 s) + a second to draw.
        c.wait_for("⚠ stale", 4);
        assert!(lost.elapsed() < Duration::from_secs(4));
        assert!(
            c.screen().contains("Still here while offline"),
            "last good data kept"
        );
        // The keyboard stays live and the builds pane keeps its schedule while GitHub hangs.
        let t = Instant::now();
        run_the_local_pipeline(&mut c, 1);
        assert!(t.elapsed() < Duration::from_secs(15));
        let hung: Vec<i64> = {
            let mut s = state.lock().unwrap();
            s.hang = None;
            s.seen[before..].iter().map(|r| r.at_ms).collect()
        };
        // No pile-up: one request at a time, each given its whole 1 s timeout.
        assert!(!hung.is_empty(), "GitHub was asked while it hung");
        for pair in hung.windows(2) {
            assert!(pair[1] - pair[0] >= 900, "requests piled up: {hung:?}");
        }
        let hung = hung.len();
        let back = Instant::now();
        c.wait_until("no recovery", 40, |s| !s.contains("⚠ stale"));
        eprintln!(
            "F4: recovered {:?} after the provider came back; {hung} requests while it hung",
            back.elapsed()
        );
        c.send("q");
    })
    .await
    .unwrap();
}

/// F16: GitHub starts refusing the token mid-session. The cockpit says "auth expired" with
/// GitHub's reason once, keeps the last data, asks that host nothing more, and the builds pane
/// carries on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_said_once_and_other_panes_carry_on() {
    let gh = FakeGithub::start().await;
    gh.add_issue("acme/api", "Kept after expiry", &[], false);
    let sb = workspace(&gh);
    let state = Arc::clone(&gh.state);
    tokio::task::spawn_blocking(move || {
        let mut c = common::Cockpit::start(&sb, &[], &[("GH_TOKEN", TOKEN)], 120, 32);
        c.wait_for("Kept after expiry", 10);
        state
            .lock()
            .unwrap()
            .inject
            .push_back(fake::bad_credentials());
        c.wait_for("Bad credentials", 5);
        c.wait_for("fix the token", 1);
        let asked = state.lock().unwrap().seen.len();
        run_the_local_pipeline(&mut c, 1);
        // The message goes after a few seconds and is not said again.
        c.wait_until("the message stays", 8, |s| !s.contains("Bad credentials"));
        let quiet = Instant::now() + Duration::from_secs(4);
        while Instant::now() < quiet {
            let screen = c.screen();
            assert!(!screen.contains("Bad credentials"), "said again:\n{screen}");
            std::thread::sleep(Duration::from_millis(50));
        }
        let screen = c.screen();
        assert!(screen.contains("Kept after expiry"), "{screen}");
        assert!(screen.contains("⚠ stale"), "{screen}");
        assert!(screen.contains("gh ⚠ auth expired"), "{screen}");
        assert!(!screen.contains(TOKEN), "{screen}");
        let seen = state.lock().unwrap().seen.clone();
        assert_eq!(seen.len(), asked, "asked again after a 401: {seen:?}");
        run_the_local_pipeline(&mut c, 2);
        c.send("q");
    })
    .await
    .unwrap();
}

/// A token refused from the start: the empty pane says why, in full, and what to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_refused_from_the_start_is_explained_in_the_pane() {
    let gh = FakeGithub::start().await;
    gh.add_issue("acme/api", "Never shown", &[], false);
    gh.state
        .lock()
        .unwrap()
        .inject
        .push_back(fake::bad_credentials());
    let sb = workspace(&gh);
    tokio::task::spawn_blocking(move || {
        let mut c = common::Cockpit::start(&sb, &[], &[("GH_TOKEN", TOKEN)], 120, 32);
        c.wait_for("Nothing loaded: auth expired:", 10);
        c.wait_for("then restart flightdeck", 1);
        assert!(!c.screen().contains("Never shown"));
        assert!(!c.screen().contains("No items yet"));
        c.send("q");
    })
    .await
    .unwrap();
}
