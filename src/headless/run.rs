//! `flightdeck run PIPELINE`: runs a local pipeline through the mutation gate, streams its log,
//! and exits with the pipeline's status.

use std::io::{IsTerminal, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use color_eyre::eyre::Result;

use crate::domain::{Run, RunStatus};
use crate::engine::pipeline::step::Tail;
use crate::engine::pipeline::{self, Progress, Trigger};
use crate::providers::ProviderError;
use crate::ui::text::keep_sgr;
use crate::workspace::{UsageError, Workspace};

/// Copies the log to stdout as it grows until `done` is set and the file is drained.
fn stream(path: PathBuf, done: Arc<AtomicBool>) {
    let tty = std::io::stdout().is_terminal();
    let mut out = std::io::stdout().lock();
    let mut pos = 0u64;
    let mut pending = Vec::new();
    loop {
        let finished = done.load(Ordering::Acquire);
        let mut buf = Vec::new();
        if let Ok(mut f) = std::fs::File::open(&path)
            && f.seek(SeekFrom::Start(pos)).is_ok()
            && let Ok(n) = f.read_to_end(&mut buf)
        {
            pos += n as u64;
        }
        // Whole lines go out in one pass over what arrived; the unfinished last line waits.
        // Linear in the output: each byte is looked at once, and the remainder moved once.
        let searched = pending.len();
        pending.extend_from_slice(&buf);
        let mut start = 0;
        let first_nl = memchr::memchr(b'\n', &pending[searched..]).map(|i| searched + i);
        let mut next = first_nl;
        while let Some(i) = next {
            let line = &pending[start..=i];
            if tty {
                // Only colour reaches a terminal; other escapes in a log are not ours to send.
                let _ = writeln!(
                    out,
                    "{}",
                    keep_sgr(String::from_utf8_lossy(line).trim_end_matches(['\n', '\r']))
                );
            } else {
                let _ = out.write_all(line);
            }
            start = i + 1;
            next = memchr::memchr(b'\n', &pending[start..]).map(|j| start + j);
        }
        pending.drain(..start);
        let _ = out.flush();
        if finished && buf.is_empty() {
            if !pending.is_empty() {
                let _ = writeln!(out, "{}", keep_sgr(&String::from_utf8_lossy(&pending)));
            }
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A one-line summary of a finished run.
pub fn summary(run: &Run) -> String {
    let mut s = format!("{} #{} {}", run.pipeline, run.number, run.status.as_str());
    if let Some(end) = run.finished {
        s.push_str(&format!(" in {}s", (end - run.started).max(0)));
    }
    if let Some(t) = run.tests {
        s.push_str(&format!(
            " — tests: {} passed, {} failed, {} skipped",
            t.passed, t.failed, t.skipped
        ));
    }
    if !run.failed_tests.is_empty() {
        s.push_str(&format!(" — failing: {}", run.failed_tests.join(", ")));
    }
    if !run.flaky_tests.is_empty() {
        s.push_str(&format!(" — flaky: {}", run.flaky_tests.join(", ")));
    }
    s
}

/// Runs `name`; returns the exit code (0 success, 1 failure, 130 cancelled).
pub fn run(ws: &Workspace, name: &str, rt: &tokio::runtime::Runtime) -> Result<i32> {
    let Some(plan) = ws.pipeline(name).cloned() else {
        let known: Vec<&str> = ws.pipelines.iter().map(|p| p.name.as_str()).collect();
        return Err(UsageError(format!(
            "no pipeline {name:?}; this workspace has: {}",
            if known.is_empty() {
                "none ([[pipelines]] in the config)".into()
            } else {
                known.join(", ")
            }
        ))
        .into());
    };
    if !plan.manual {
        return Err(UsageError(format!(
            "pipeline {name:?} has `on.manual = false`: it runs only on new commits of its branch"
        ))
        .into());
    }
    let cancel = Arc::new(AtomicBool::new(false));
    let c2 = Arc::clone(&cancel);
    // Ctrl-C, SIGTERM or a closed terminal cancel the run: its process group is killed and
    // the run is recorded as cancelled, never left behind.
    rt.spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) else {
            return;
        };
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
            _ = hup.recv() => {}
        }
        c2.store(true, Ordering::Relaxed);
    });
    let done = Arc::new(AtomicBool::new(false));
    let (path_tx, path_rx) = mpsc::channel::<PathBuf>();
    let d2 = Arc::clone(&done);
    let streamer = std::thread::spawn(move || {
        if let Ok(path) = path_rx.recv() {
            stream(path, d2);
        }
    });
    let store_path = ws.registry.store_path.clone();
    let trigger = Trigger {
        kind: "manual".into(),
        actor: ws.actor.clone(),
    };
    let work = async move {
        tokio::task::spawn_blocking(move || {
            let tail = Arc::new(Mutex::new(Tail::default()));
            pipeline::execute(&plan, &trigger, &store_path, &tail, &cancel, &mut |p| {
                if let Progress::Started(run) = p
                    && let Some(log) = run.log_path
                {
                    let _ = path_tx.send(PathBuf::from(log));
                }
            })
            .map_err(|e| ProviderError::Other(e.to_string()))
        })
        .await
        .map_err(|e| ProviderError::Other(e.to_string()))?
    };
    let result =
        rt.block_on(
            ws.gate
                .run("run_pipeline", &format!("pipeline:{name}"), "manual", work),
        );
    done.store(true, Ordering::Release);
    let _ = streamer.join();
    match result {
        Ok(run) => {
            eprintln!("{}", summary(&run));
            Ok(match run.status {
                RunStatus::Success => 0,
                RunStatus::Cancelled => 130,
                _ => 1,
            })
        }
        // Refused (read-only) or failed before it ran: the caller prints it with its code.
        Err(e) => Err(e.into()),
    }
}
