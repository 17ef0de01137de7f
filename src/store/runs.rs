//! Pipeline runs, their steps, the releases they produce, and events for the incident loop.

use std::path::PathBuf;

use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};

use super::{Store, StoreError};
use crate::domain::{Run, RunStatus, Step, TestCounts, Timestamp};

/// What is known when a run starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRun {
    /// Pipeline name.
    pub pipeline: String,
    /// Commit being built, if the pipeline dir is a git checkout.
    pub commit: Option<String>,
    /// Branch being built.
    pub branch: Option<String>,
    /// `manual`, `commit` or `rerun`.
    pub trigger: String,
    /// Who started it.
    pub actor: String,
    /// The step names, in order.
    pub steps: Vec<String>,
}

/// A step's state as the runner writes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepRecord {
    /// Position in the pipeline.
    pub idx: usize,
    /// Status.
    pub status: RunStatus,
    /// Exit code, if it exited.
    pub exit_code: Option<i32>,
    /// When it started.
    pub started: Option<Timestamp>,
    /// How long it ran.
    pub duration_ms: Option<u64>,
    /// Its bytes in the run log.
    pub log_range: Option<(u64, u64)>,
}

/// A deployable version a run produced.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Release {
    /// Pipeline that made it.
    pub pipeline: String,
    /// Tag, short commit or `rN`.
    pub version: String,
    /// Where the artifact is kept.
    pub artifact: String,
    /// Its SHA-256, hex.
    pub sha256: String,
    /// The run that made it.
    pub run_id: i64,
    /// When.
    pub created: Timestamp,
}

const SELECT_RUN: &str = "SELECT id, pipeline, number, commit_sha, branch, trigger, actor, status,
    started, finished, log_path, tests, failed_tests, flaky_tests FROM runs";

fn json_list(s: Option<String>) -> Vec<String> {
    s.and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default()
}

fn run_from_row(r: &Row<'_>, provider: &str) -> rusqlite::Result<Run> {
    let tests: Option<String> = r.get(11)?;
    Ok(Run {
        id: r.get::<_, i64>(0)?.to_string(),
        provider: provider.to_string(),
        pipeline: r.get(1)?,
        number: r.get::<_, i64>(2)? as u64,
        commit: r.get(3)?,
        branch: r.get(4)?,
        trigger: r.get(5)?,
        actor: r.get(6)?,
        status: RunStatus::parse(&r.get::<_, String>(7)?).unwrap_or(RunStatus::Cancelled),
        started: r.get(8)?,
        finished: r.get(9)?,
        log_path: r.get(10)?,
        tests: tests.and_then(|t| serde_json::from_str(&t).ok()),
        failed_tests: json_list(r.get(12)?),
        flaky_tests: json_list(r.get(13)?),
        steps: Vec::new(),
    })
}

impl Store {
    /// Where run logs live, beside the store.
    pub fn runs_dir(&self) -> PathBuf {
        self.path
            .parent()
            .map_or_else(|| PathBuf::from("runs"), |p| p.join("runs"))
    }

    /// Records a new run (numbered after the pipeline's last) with every step queued.
    pub fn start_run(&mut self, new: &NewRun, pid: u32, now: Timestamp) -> Result<Run, StoreError> {
        let dir = self.runs_dir();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let number: i64 = tx.query_row(
            "SELECT COALESCE(MAX(number), 0) + 1 FROM runs WHERE pipeline = ?1",
            [&new.pipeline],
            |r| r.get(0),
        )?;
        tx.execute(
            "INSERT INTO runs (pipeline, number, commit_sha, branch, trigger, actor, status, started, log_path, pid)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'running', ?7, '', ?8)",
            params![new.pipeline, number, new.commit, new.branch, new.trigger, new.actor, now, pid],
        )?;
        let id = tx.last_insert_rowid();
        let log = dir.join(format!("run-{id}.log")).display().to_string();
        tx.execute(
            "UPDATE runs SET log_path = ?2 WHERE id = ?1",
            params![id, log],
        )?;
        for (idx, name) in new.steps.iter().enumerate() {
            tx.execute(
                "INSERT INTO run_steps (run_id, idx, name, status) VALUES (?1, ?2, ?3, 'queued')",
                params![id, idx as i64, name],
            )?;
        }
        tx.commit()?;
        self.get_run("local", &id.to_string())
    }

    /// Records the process group a running step's processes are in.
    pub fn set_step_group(
        &self,
        run_id: i64,
        idx: usize,
        pgid: u32,
        start: u64,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE run_steps SET pgid = ?3, pgid_start = ?4 WHERE run_id = ?1 AND idx = ?2",
            params![run_id, idx as i64, pgid, start as i64],
        )?;
        Ok(())
    }

    /// Writes a step's latest state.
    pub fn update_step(&self, run_id: i64, s: &StepRecord) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE run_steps SET status = ?3, exit_code = ?4, started = ?5, duration_ms = ?6,
             log_start = ?7, log_end = ?8 WHERE run_id = ?1 AND idx = ?2",
            params![
                run_id,
                s.idx as i64,
                s.status.as_str(),
                s.exit_code,
                s.started,
                s.duration_ms.map(|d| d as i64),
                s.log_range.map(|r| r.0 as i64),
                s.log_range.map(|r| r.1 as i64),
            ],
        )?;
        Ok(())
    }

    /// Records how a run ended.
    pub fn finish_run(
        &self,
        run_id: i64,
        status: RunStatus,
        now: Timestamp,
        tests: Option<TestCounts>,
        failed: &[String],
        flaky: &[String],
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE runs SET status = ?2, finished = ?3, tests = ?4, failed_tests = ?5,
             flaky_tests = ?6, pid = NULL WHERE id = ?1",
            params![
                run_id,
                status.as_str(),
                now,
                tests.and_then(|t| serde_json::to_string(&t).ok()),
                serde_json::to_string(failed).unwrap_or_else(|_| "[]".into()),
                serde_json::to_string(flaky).unwrap_or_else(|_| "[]".into()),
            ],
        )?;
        // Steps that never started end with the run.
        self.conn.execute(
            "UPDATE run_steps SET status = 'cancelled' WHERE run_id = ?1 AND status IN ('queued', 'running')",
            [run_id],
        )?;
        Ok(())
    }

    /// One run with its steps.
    pub fn get_run(&self, provider: &str, id: &str) -> Result<Run, StoreError> {
        let n: i64 = id
            .parse()
            .map_err(|_| StoreError::NoSuchItem(id.to_string()))?;
        let mut run = self
            .conn
            .query_row(&format!("{SELECT_RUN} WHERE id = ?1"), [n], |r| {
                run_from_row(r, provider)
            })
            .optional()?
            .ok_or_else(|| StoreError::NoSuchItem(id.to_string()))?;
        run.steps = self.steps(n)?;
        Ok(run)
    }

    fn steps(&self, run_id: i64) -> Result<Vec<Step>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT name, status, exit_code, started, duration_ms, log_start, log_end
             FROM run_steps WHERE run_id = ?1 ORDER BY idx",
        )?;
        let rows = stmt.query_map([run_id], |r| {
            let start: Option<i64> = r.get(5)?;
            let end: Option<i64> = r.get(6)?;
            Ok(Step {
                name: r.get(0)?,
                status: RunStatus::parse(&r.get::<_, String>(1)?).unwrap_or(RunStatus::Cancelled),
                exit_code: r.get(2)?,
                started: r.get(3)?,
                duration_ms: r.get::<_, Option<i64>>(4)?.map(|d| d as u64),
                log_range: start.zip(end).map(|(s, e)| (s as u64, e as u64)),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The newest runs first, with their steps.
    pub fn list_runs(&self, provider: &str, limit: usize) -> Result<Vec<Run>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("{SELECT_RUN} ORDER BY id DESC LIMIT ?1"))?;
        let runs: Vec<Run> = stmt
            .query_map([limit as i64], |r| run_from_row(r, provider))?
            .collect::<Result<_, _>>()?;
        runs.into_iter()
            .map(|mut run| {
                run.steps = self.steps(run.id.parse().unwrap_or_default())?;
                Ok(run)
            })
            .collect()
    }

    /// Tests that failed in earlier runs of this pipeline on this commit.
    pub fn earlier_failures(
        &self,
        pipeline: &str,
        commit: &str,
        before: i64,
    ) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT failed_tests FROM runs WHERE pipeline = ?1 AND commit_sha = ?2 AND id < ?3",
        )?;
        let mut out: Vec<String> = Vec::new();
        for list in stmt.query_map(params![pipeline, commit, before], |r| {
            r.get::<_, Option<String>>(0)
        })? {
            out.extend(json_list(list?));
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Marks runs whose runner process is gone as cancelled; returns the process groups
    /// (and their leaders' start times) their running steps were in.
    pub fn abandon_dead_runs(
        &self,
        alive: impl Fn(u32) -> bool,
        now: Timestamp,
    ) -> Result<Vec<(u32, u64)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, pid FROM runs WHERE status = 'running'")?;
        let running: Vec<(i64, Option<i64>)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let mut groups = Vec::new();
        for (id, pid) in running {
            if pid.is_none_or(|p| !alive(p as u32)) {
                let mut steps = self.conn.prepare_cached(
                    "SELECT pgid, pgid_start FROM run_steps
                     WHERE run_id = ?1 AND status = 'running' AND pgid IS NOT NULL",
                )?;
                let found: Vec<(i64, i64)> = steps
                    .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<_, _>>()?;
                groups.extend(found.into_iter().map(|(g, s)| (g as u32, s as u64)));
                self.finish_run(id, RunStatus::Cancelled, now, None, &[], &[])?;
            }
        }
        Ok(groups)
    }

    /// Asks the runner of a running run to cancel it; false when it is not running.
    pub fn request_cancel(&self, run_id: &str) -> Result<bool, StoreError> {
        let n: i64 = run_id
            .parse()
            .map_err(|_| StoreError::NoSuchItem(run_id.to_string()))?;
        let changed = self.conn.execute(
            "UPDATE runs SET cancel_requested = 1 WHERE id = ?1 AND status = 'running'",
            [n],
        )?;
        Ok(changed > 0)
    }

    /// Whether someone asked to cancel this run.
    pub fn cancel_requested(&self, run_id: i64) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT cancel_requested FROM runs WHERE id = ?1",
                [run_id],
                |r| r.get::<_, i64>(0),
            )
            .optional()?
            .is_some_and(|v| v != 0))
    }

    /// Records the commit a watched branch points at; true when it moved since the last look
    /// (and this caller won the right to build it). The first look only records.
    pub fn claim_commit(
        &mut self,
        pipeline: &str,
        branch: &str,
        commit: &str,
    ) -> Result<bool, StoreError> {
        let key = format!("watch:{pipeline}:{branch}");
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let seen: Option<String> = tx
            .query_row("SELECT value FROM meta WHERE key = ?1", [&key], |r| {
                r.get(0)
            })
            .optional()?;
        if seen.as_deref() == Some(commit) {
            return Ok(false);
        }
        tx.execute(
            "INSERT INTO meta(key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, commit],
        )?;
        tx.commit()?;
        Ok(seen.is_some())
    }

    /// Records a release; the version must be new for the pipeline.
    pub fn add_release(&self, r: &Release) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO releases (pipeline, version, artifact, sha256, run_id, created)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                r.pipeline, r.version, r.artifact, r.sha256, r.run_id, r.created
            ],
        )?;
        Ok(())
    }

    /// Reserves the first free version of `base` (`base`, `base-2`, …) for a pipeline's
    /// release in one `IMMEDIATE` transaction, so two runs at once never take the same one;
    /// the row has no artifact until `complete_release`.
    pub fn reserve_release(
        &self,
        pipeline: &str,
        base: &str,
        run_id: i64,
        now: Timestamp,
    ) -> Result<String, StoreError> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        let reserve = || -> Result<String, StoreError> {
            let mut v = base.to_string();
            let mut n = 2;
            while self.has_release(pipeline, &v)? {
                v = format!("{base}-{n}");
                n += 1;
            }
            self.conn.execute(
                "INSERT INTO releases (pipeline, version, artifact, sha256, run_id, created)
                 VALUES (?1, ?2, '', '', ?3, ?4)",
                params![pipeline, v, run_id, now],
            )?;
            Ok(v)
        };
        match reserve().and_then(|v| Ok(self.conn.execute_batch("COMMIT").map(|()| v)?)) {
            Ok(v) => Ok(v),
            Err(e) => {
                // A failed COMMIT leaves the transaction open: end it either way.
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// Fills in a reserved release once its artifact is in place.
    pub fn complete_release(&self, r: &Release) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE releases SET artifact = ?3, sha256 = ?4 WHERE pipeline = ?1 AND version = ?2",
            params![r.pipeline, r.version, r.artifact, r.sha256],
        )?;
        Ok(())
    }

    /// Gives back a reservation whose artifact could not be kept.
    pub fn drop_release(&self, pipeline: &str, version: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "DELETE FROM releases WHERE pipeline = ?1 AND version = ?2 AND sha256 = ''",
            params![pipeline, version],
        )?;
        Ok(())
    }

    /// Whether a pipeline already has a release with this version.
    pub fn has_release(&self, pipeline: &str, version: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM releases WHERE pipeline = ?1 AND version = ?2",
                params![pipeline, version],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Releases, newest first.
    pub fn releases(&self) -> Result<Vec<Release>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT pipeline, version, artifact, sha256, run_id, created FROM releases
             WHERE sha256 != '' ORDER BY id DESC",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(Release {
                pipeline: r.get(0)?,
                version: r.get(1)?,
                artifact: r.get(2)?,
                sha256: r.get(3)?,
                run_id: r.get(4)?,
                created: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records an event for the incident loop (a pipeline failing on the main branch, …).
    pub fn record_event(
        &self,
        kind: &str,
        key: &str,
        detail: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO events (kind, key, detail, created) VALUES (?1, ?2, ?3, ?4)",
            params![kind, key, detail, now],
        )?;
        Ok(())
    }

    /// Events not yet handled, oldest first: (kind, key, detail).
    pub fn pending_events(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT kind, key, detail FROM events WHERE handled = 0 ORDER BY id")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_run(commit: &str) -> NewRun {
        NewRun {
            pipeline: "ci".into(),
            commit: Some(commit.into()),
            branch: Some("main".into()),
            trigger: "manual".into(),
            actor: "ana@host".into(),
            steps: vec!["build".into(), "test".into()],
        }
    }

    #[test]
    fn runs_are_numbered_and_finish_with_their_steps() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = Store::open(&tmp.path().join("w/store.db")).unwrap();
        let a = s.start_run(&new_run("abc"), 1, 10).unwrap();
        let b = s.start_run(&new_run("abc"), 1, 11).unwrap();
        assert_eq!((a.number, b.number), (1, 2));
        assert!(
            a.log_path
                .unwrap()
                .ends_with(&format!("w/runs/run-{}.log", a.id))
        );
        let id: i64 = a.id.parse().unwrap();
        s.update_step(
            id,
            &StepRecord {
                idx: 0,
                status: RunStatus::Success,
                exit_code: Some(0),
                started: Some(10),
                duration_ms: Some(1500),
                log_range: Some((0, 42)),
            },
        )
        .unwrap();
        let counts = TestCounts {
            passed: 3,
            failed: 1,
            skipped: 0,
        };
        s.finish_run(
            id,
            RunStatus::Failure,
            12,
            Some(counts),
            &["t::x".into()],
            &[],
        )
        .unwrap();
        let run = s.get_run("local", &a.id).unwrap();
        assert_eq!(run.status, RunStatus::Failure);
        assert_eq!(run.tests, Some(counts));
        assert_eq!(run.steps[0].log_range, Some((0, 42)));
        assert_eq!(
            run.steps[1].status,
            RunStatus::Cancelled,
            "unstarted step ends with the run"
        );
        assert_eq!(
            s.earlier_failures("ci", "abc", b.id.parse().unwrap())
                .unwrap(),
            ["t::x"]
        );
        assert!(s.earlier_failures("ci", "other", 99).unwrap().is_empty());
        let listed = s.list_runs("local", 10).unwrap();
        assert_eq!(listed[0].id, b.id);
        assert!(
            s.abandon_dead_runs(|_| false, 20).unwrap().is_empty(),
            "no group recorded"
        );
        assert_eq!(
            s.get_run("local", &b.id).unwrap().status,
            RunStatus::Cancelled
        );
    }

    #[test]
    fn a_moved_branch_is_claimed_once() {
        let tmp = tempfile::tempdir().unwrap();
        let mut a = Store::open(&tmp.path().join("store.db")).unwrap();
        let mut b = Store::open(&tmp.path().join("store.db")).unwrap();
        assert!(
            !a.claim_commit("ci", "main", "c1").unwrap(),
            "first look only records"
        );
        assert!(!b.claim_commit("ci", "main", "c1").unwrap());
        assert!(a.claim_commit("ci", "main", "c2").unwrap());
        assert!(
            !b.claim_commit("ci", "main", "c2").unwrap(),
            "another watcher does not build it again"
        );
    }

    #[test]
    fn releases_are_unique_per_pipeline_version() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = Store::open(&tmp.path().join("store.db")).unwrap();
        let run = s.start_run(&new_run("abc"), 1, 1).unwrap();
        let r = Release {
            pipeline: "ci".into(),
            version: "v1".into(),
            artifact: "/x".into(),
            sha256: "00".into(),
            run_id: run.id.parse().unwrap(),
            created: 2,
        };
        s.add_release(&r).unwrap();
        assert!(s.add_release(&r).is_err());
        assert!(s.has_release("ci", "v1").unwrap());
        assert_eq!(s.releases().unwrap(), vec![r]);
    }
}
