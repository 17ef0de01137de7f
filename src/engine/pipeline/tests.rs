use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::*;
use crate::config::pipeline::{ArtifactConfig, StepConfig, TriggerConfig};

fn step(name: &str, script: &str) -> StepConfig {
    StepConfig {
        name: name.into(),
        run: None,
        script: Some(script.into()),
        env: Default::default(),
        dir: None,
        timeout_secs: None,
        junit: vec![],
    }
}

fn pipeline(steps: Vec<StepConfig>) -> PipelineConfig {
    PipelineConfig {
        name: "ci".into(),
        dir: None,
        env: Default::default(),
        steps,
        artifact: None,
        on: TriggerConfig::default(),
    }
}

struct Fixture {
    tmp: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("repo")).unwrap();
        Fixture { tmp }
    }

    fn repo(&self) -> PathBuf {
        self.tmp.path().join("repo")
    }

    fn git(&self, args: &[&str]) {
        let ok = std::process::Command::new("git")
            .args(args)
            .current_dir(self.repo())
            .status()
            .unwrap();
        assert!(ok.success(), "git {args:?}");
    }

    fn commit(&self) {
        self.git(&[
            "-c",
            "user.email=a@b",
            "-c",
            "user.name=a",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "x",
        ]);
    }

    fn git_init(&self) {
        self.git(&["init", "-q", "-b", "main"]);
        self.commit();
    }

    fn run(&self, p: &PipelineConfig, cancel: &AtomicBool) -> (Run, Vec<Progress>) {
        let (run, seen, _) = self.run_with_tail(p, cancel);
        (run, seen)
    }

    fn run_with_tail(
        &self,
        p: &PipelineConfig,
        cancel: &AtomicBool,
    ) -> (Run, Vec<Progress>, Arc<Mutex<Tail>>) {
        let plan = Plan::new(p, &self.repo());
        let tail = Arc::new(Mutex::new(Tail::default()));
        let mut seen = Vec::new();
        let trigger = Trigger {
            kind: "manual".into(),
            actor: "ana@host".into(),
        };
        let run = execute(
            &plan,
            &trigger,
            &self.tmp.path().join("state/store.db"),
            &tail,
            cancel,
            &mut |p| {
                if p != Progress::Output {
                    seen.push(p)
                }
            },
        )
        .unwrap();
        (run, seen, tail)
    }

    fn store(&self) -> Store {
        Store::open(&self.tmp.path().join("state/store.db")).unwrap()
    }
}

fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{}/stat", pid.trim()))
        .map(|s| s.split_whitespace().nth(2).is_none_or(|st| st != "Z"))
        .unwrap_or(false)
}

#[test]
fn a_successful_run_counts_tests_and_records_a_release() {
    let f = Fixture::new();
    let mut p = pipeline(vec![
        step("build", "echo building \"$GREETING\"; mkdir -p dist"),
        step(
            "test",
            "printf 'test a ... ok\\ntest result: ok. 3 passed; 0 failed; 1 ignored; 0 measured\\n'",
        ),
        step("package", "echo payload > dist/app.tar"),
    ]);
    p.env
        .insert("GREETING".into(), "$(touch /tmp/never); `x`".into());
    p.artifact = Some(ArtifactConfig {
        step: None,
        path: "dist/app.tar".into(),
    });
    let (run, progress) = f.run(&p, &AtomicBool::new(false));
    assert_eq!(run.status, RunStatus::Success);
    assert_eq!(
        run.tests,
        Some(TestCounts {
            passed: 3,
            failed: 0,
            skipped: 1
        })
    );
    assert_eq!(
        run.steps.iter().map(|s| s.exit_code).collect::<Vec<_>>(),
        [Some(0); 3]
    );
    assert!(matches!(progress.first(), Some(Progress::Started(_))));
    assert!(matches!(progress.last(), Some(Progress::Finished(_))));
    let log = std::fs::read_to_string(run.log_path.unwrap()).unwrap();
    // Values reach scripts as environment, never spliced into the shell string.
    assert!(log.contains("building $(touch /tmp/never); `x`"), "{log}");
    let (a, b) = run.steps[0].log_range.unwrap();
    assert!(log[a as usize..b as usize].contains("building"));
    let releases = f.store().releases().unwrap();
    assert_eq!(releases.len(), 1);
    assert_eq!(releases[0].version, format!("r{}", run.id));
    assert_eq!(
        releases[0].sha256,
        release::sha256_file(Path::new(&releases[0].artifact)).unwrap()
    );
    assert_eq!(
        std::fs::read_to_string(&releases[0].artifact).unwrap(),
        "payload\n"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&releases[0].artifact)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the kept artifact is private");
    let dir = Path::new(&releases[0].artifact).parent().unwrap();
    let names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names.len(), 1, "no temp file left: {names:?}");
}

/// Two runs releasing at once never take the same version: each reservation is one
/// IMMEDIATE transaction.
#[test]
fn concurrent_releases_get_distinct_versions() {
    let f = Fixture::new();
    let path = f.tmp.path().join("state/store.db");
    let mut s = f.store();
    let new = crate::store::NewRun {
        pipeline: "ci".into(),
        commit: None,
        branch: None,
        trigger: "manual".into(),
        actor: "t".into(),
        steps: vec!["s".into()],
    };
    let ids: Vec<i64> = (0..8)
        .map(|_| s.start_run(&new, 1, 1).unwrap().id.parse().unwrap())
        .collect();
    let threads: Vec<_> = ids
        .into_iter()
        .map(|i| {
            let path = path.clone();
            std::thread::spawn(move || {
                let s = Store::open(&path).unwrap();
                s.reserve_release("ci", "abc1234", i, 1).unwrap()
            })
        })
        .collect();
    let mut got: Vec<String> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    got.sort();
    got.dedup();
    assert_eq!(got.len(), 8, "{got:?}");
    assert!(
        f.store().releases().unwrap().is_empty(),
        "reservations are not releases yet"
    );
}

#[test]
fn a_failing_step_stops_the_run_and_main_branch_failures_become_events() {
    let f = Fixture::new();
    f.git_init();
    let p = pipeline(vec![
        step(
            "test",
            "echo 'test m::broken ... FAILED'; echo 'test result: FAILED. 1 passed; 1 failed; 0 ignored'; exit 3",
        ),
        step("never", "echo should not run"),
    ]);
    let (run, _) = f.run(&p, &AtomicBool::new(false));
    assert_eq!(run.status, RunStatus::Failure);
    assert_eq!(run.steps[0].exit_code, Some(3));
    assert_eq!(run.steps[1].status, RunStatus::Cancelled);
    assert_eq!(run.failed_tests, ["m::broken"]);
    assert_eq!(run.branch.as_deref(), Some("main"));
    assert_eq!(run.commit.as_ref().map(String::len), Some(40));
    let events = f.store().pending_events().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].1, "pipeline:ci:main");
    assert!(events[0].2.contains("m::broken"));
}

#[test]
fn a_test_that_fails_then_passes_on_the_same_commit_is_flaky() {
    let f = Fixture::new();
    f.git_init();
    let p = pipeline(vec![step(
        "test",
        "if [ -e ../tried ]; then echo 'test result: ok. 2 passed; 0 failed; 0 ignored'; else touch ../tried; echo 'test t::sometimes ... FAILED'; exit 101; fi",
    )]);
    let (first, _) = f.run(&p, &AtomicBool::new(false));
    assert_eq!(first.status, RunStatus::Failure);
    let (second, _) = f.run(&p, &AtomicBool::new(false));
    assert_eq!(second.status, RunStatus::Success);
    assert_eq!(second.number, 2);
    assert_eq!(second.flaky_tests, ["t::sometimes"]);
}

#[test]
fn a_timeout_kills_the_whole_process_group() {
    let f = Fixture::new();
    let mut s = step("hang", "sleep 300 & echo $! > ../bg.pid; sleep 300");
    s.timeout_secs = Some(1);
    let started = Instant::now();
    let (run, _) = f.run(&pipeline(vec![s]), &AtomicBool::new(false));
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(run.status, RunStatus::Failure);
    let pid = std::fs::read_to_string(f.tmp.path().join("bg.pid")).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert!(!alive(&pid), "background child {pid} survived");
    let log = std::fs::read_to_string(run.log_path.unwrap()).unwrap();
    assert!(log.contains("timed out after 1s"), "{log}");
}

#[test]
fn cancel_kills_the_group_and_records_cancelled() {
    let f = Fixture::new();
    let cancel = Arc::new(AtomicBool::new(false));
    let c2 = Arc::clone(&cancel);
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        c2.store(true, Ordering::Relaxed);
    });
    let p = pipeline(vec![step(
        "hang",
        "trap '' TERM; sleep 300 & echo $! > ../bg.pid; sleep 300",
    )]);
    let (run, _) = f.run(&p, &cancel);
    assert_eq!(run.status, RunStatus::Cancelled);
    let pid = std::fs::read_to_string(f.tmp.path().join("bg.pid")).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !alive(&pid),
        "SIGTERM-proof child {pid} survived the SIGKILL"
    );
}

#[test]
fn a_firehose_step_never_blocks_and_memory_stays_bounded() {
    let f = Fixture::new();
    let p = pipeline(vec![step("firehose", "seq 1 500000; echo done >&2")]);
    let (run, _, tail) = f.run_with_tail(&p, &AtomicBool::new(false));
    assert_eq!(run.status, RunStatus::Success);
    let t = tail.lock().unwrap();
    assert_eq!(t.lines.len(), step::TAIL_LINES);
    assert_eq!(t.lines.back().map(String::as_str), Some("done"));
    let log = std::fs::read_to_string(run.log_path.unwrap()).unwrap();
    assert!(log.contains("\n500000\n"));
}

#[test]
fn a_command_that_does_not_exist_fails_clearly() {
    let f = Fixture::new();
    let mut s = step("x", "");
    s.script = None;
    s.run = Some(vec!["/nonexistent/tool".into(), "--flag".into()]);
    let (run, _) = f.run(&pipeline(vec![s]), &AtomicBool::new(false));
    assert_eq!(run.status, RunStatus::Failure);
    let log = std::fs::read_to_string(run.log_path.unwrap()).unwrap();
    assert!(log.contains("could not start"), "{log}");
}

#[test]
fn a_cancel_requested_through_the_store_stops_the_run() {
    let f = Fixture::new();
    let db = f.tmp.path().join("state/store.db");
    let db2 = db.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(400));
        // Another process would do exactly this: find the running run and ask.
        let s = Store::open(&db2).unwrap();
        let run = s.list_runs("local", 1).unwrap().remove(0);
        assert!(s.request_cancel(&run.id).unwrap());
    });
    let (run, _) = f.run(
        &pipeline(vec![step("hang", "sleep 300")]),
        &AtomicBool::new(false),
    );
    assert_eq!(run.status, RunStatus::Cancelled);
    assert!(
        !Store::open(&db).unwrap().request_cancel(&run.id).unwrap(),
        "no longer running"
    );
}

#[test]
fn a_watched_branch_triggers_once_per_new_commit() {
    let f = Fixture::new();
    f.git_init();
    let db = f.tmp.path().join("state/store.db");
    let watched = vec![("ci".to_string(), f.repo(), "main".to_string())];
    assert!(
        moved_branches(&db, &watched).is_empty(),
        "the first look is the baseline"
    );
    assert!(moved_branches(&db, &watched).is_empty());
    f.commit();
    assert_eq!(moved_branches(&db, &watched), ["ci"]);
    assert!(moved_branches(&db, &watched).is_empty(), "claimed once");
    let missing = vec![("ci".to_string(), f.repo(), "no-such-branch".to_string())];
    assert!(moved_branches(&db, &missing).is_empty());
}

/// Writes `xml` under the repo, as a report left there `age` ago.
fn report(f: &Fixture, rel: &str, xml: &str, age: Duration) {
    let path = f.repo().join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, xml).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - age)
        .unwrap();
}

fn suite(classname: &str, failing: &str) -> String {
    format!(
        r#"<testsuite><testcase classname="{classname}" name="ok"/><testcase classname="{classname}" name="{failing}"><failure><![CDATA[</testcase>]]></failure></testcase></testsuite>"#
    )
}

#[test]
fn junit_reports_are_globbed_read_once_and_stale_ones_ignored() {
    let f = Fixture::new();
    let hour = Duration::from_secs(3600);
    // The step copies these into place, so only the copies are fresh.
    report(&f, "fixtures/a.xml", &suite("Java", "a"), hour);
    report(&f, "fixtures/b.xml", &suite("Go", "b"), hour);
    // Left over from an earlier run.
    report(&f, "reports/old.xml", &suite("Old", "old"), hour);
    let mut s = step(
        "test",
        "mkdir -p target/x/y && cp fixtures/a.xml reports/a.xml && cp fixtures/b.xml target/x/y/TEST-b.xml; exit 1",
    );
    s.junit = [
        "reports/*.xml",
        "target/**/TEST-*.xml",
        "reports/a.xml",
        "missing/*.xml",
    ]
    .map(PathBuf::from)
    .to_vec();
    let (run, _) = f.run(
        &pipeline(vec![s, step("never", "true")]),
        &AtomicBool::new(false),
    );
    assert_eq!(
        run.tests,
        Some(TestCounts {
            passed: 2,
            failed: 2,
            skipped: 0
        })
    );
    assert_eq!(run.failed_tests, ["Java.a", "Go.b"]);
    let log = std::fs::read_to_string(run.log_path.unwrap()).unwrap();
    let (a, b) = run.steps[0].log_range.unwrap();
    let step_log = &log[a as usize..b as usize];
    for line in [
        "flightdeck: JUnit report reports/old.xml: older than this step, ignored\n",
        "flightdeck: JUnit report missing/*.xml: no file matches\n",
    ] {
        assert!(step_log.contains(line), "{line} in the step's part: {log}");
    }
    // The notes are counted in the step's range: the footer ends it.
    assert!(step_log.ends_with("==> test exit code 1\n"), "{step_log:?}");
}

#[test]
fn a_pytest_step_and_its_junitxml_are_counted_once() {
    let f = Fixture::new();
    report(
        &f,
        "fixtures/junit.xml",
        &suite("tests.test_api", "test_version"),
        Duration::from_secs(3600),
    );
    let mut s = step(
        "pytest",
        "cp fixtures/junit.xml junit.xml; echo 'FAILED tests/test_api.py::test_version - assert 1 == 2'; echo '==== 1 failed, 1 passed in 0.10s ===='",
    );
    s.junit = vec!["junit.xml".into()];
    let (run, _) = f.run(&pipeline(vec![s]), &AtomicBool::new(false));
    assert_eq!(
        run.tests,
        Some(TestCounts {
            passed: 1,
            failed: 1,
            skipped: 0
        })
    );
    assert_eq!(run.failed_tests, ["tests/test_api.py::test_version"]);
}

/// Whatever fails after a run is recorded ends the run: here its log cannot be created.
#[test]
fn a_run_that_cannot_write_its_log_ends_failed_not_running() {
    let f = Fixture::new();
    let _ = f.store();
    // A file where the runs directory should be.
    std::fs::write(f.tmp.path().join("state/runs"), "not a dir").unwrap();
    let plan = Plan::new(&pipeline(vec![step("s", "true")]), &f.repo());
    let err = execute(
        &plan,
        &Trigger {
            kind: "manual".into(),
            actor: "a".into(),
        },
        &f.tmp.path().join("state/store.db"),
        &Arc::new(Mutex::new(Tail::default())),
        &AtomicBool::new(false),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("runs"), "{err}");
    let runs = f.store().list_runs("local", 5).unwrap();
    assert_eq!(runs[0].status, RunStatus::Failure, "{runs:?}");
    assert!(runs[0].finished.is_some());
}

/// Step ranges come from the log file's length: each step's range holds its own output.
#[test]
fn step_log_ranges_cover_exactly_their_steps() {
    let f = Fixture::new();
    let (run, _) = f.run(
        &pipeline(vec![step("one", "echo first"), step("two", "echo second")]),
        &AtomicBool::new(false),
    );
    let log = std::fs::read_to_string(run.log_path.as_ref().unwrap()).unwrap();
    let part = |i: usize| {
        let (a, b) = run.steps[i].log_range.unwrap();
        log[a as usize..b as usize].to_string()
    };
    assert!(
        part(0).starts_with("==> step 1 (one)") && part(0).contains("first"),
        "{}",
        part(0)
    );
    assert!(
        part(1).starts_with("==> step 2 (two)") && part(1).contains("second"),
        "{}",
        part(1)
    );
    assert_eq!(run.steps[1].log_range.unwrap().1 as usize, log.len());
}

/// A process that leaves the step's group (`setsid`) and keeps its output open cannot hold
/// the run: the drain gives up after its bounded wait and the log says why.
#[test]
fn a_setsid_grandchild_does_not_hang_the_run() {
    let f = Fixture::new();
    let marker = format!("setsid_mark_{}", std::process::id());
    // The step waits until the grandchild has left its group, so it is not killed with it.
    let script = format!("setsid sh -c 'sleep 30 # {marker}' & sleep 0.5; echo started");
    let started = std::time::Instant::now();
    let (run, _) = f.run(
        &pipeline(vec![step("escape", &script)]),
        &AtomicBool::new(false),
    );
    assert_eq!(run.status, RunStatus::Success);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    let log = std::fs::read_to_string(run.log_path.as_ref().unwrap()).unwrap();
    assert!(log.contains("still holds its output open"), "{log}");
    // Clean up the escaped process (it is outside every group we own, by design).
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if std::fs::read(e.path().join("cmdline"))
            .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&marker))
            && let Some(pid) = e.file_name().to_str().and_then(|p| p.parse::<i32>().ok())
        {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}
