//! Deploys, their journal (one durable record per step), each node's version, and the
//! one-deploy-per-target lock.

use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};
use serde::Serialize;

use super::{Store, StoreError};
use crate::domain::Timestamp;

/// What is known when a deploy is asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDeploy {
    /// Target name.
    pub target: String,
    /// `deploy` or `rollback`.
    pub kind: String,
    /// The version most nodes ran before.
    pub from: Option<String>,
    /// The version to install.
    pub to: String,
    /// The plan, as JSON.
    pub plan: String,
    /// Who asked (`user@host`).
    pub actor: String,
}

/// One deploy as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeployRecord {
    /// Id.
    pub id: i64,
    /// Target name.
    pub target: String,
    /// `deploy` or `rollback`.
    pub kind: String,
    /// Version before.
    pub from: Option<String>,
    /// Version to install.
    pub to: String,
    /// `running`, `succeeded`, `rolled_back`, `failed`, `failed_rollback`.
    pub state: String,
    /// The plan, as JSON.
    #[serde(skip)]
    pub plan: String,
    /// Who asked.
    pub actor: String,
    /// The runner's pid while it runs.
    pub pid: Option<u32>,
    /// When it started.
    pub started: Timestamp,
    /// When it ended.
    pub finished: Option<Timestamp>,
    /// Why it failed.
    pub reason: Option<String>,
    /// Someone asked it to stop.
    pub abort_requested: bool,
}

/// One journal record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct JournalEntry {
    /// Position in the deploy's journal.
    pub seq: i64,
    /// Milliseconds since the Unix epoch.
    pub ts_ms: i64,
    /// `forward`, `rollback`, `cleanup` or `deploy`.
    pub phase: String,
    /// Node name (empty for the deploy as a whole).
    pub node: String,
    /// `drain`, `deploy`, `health`, `smoke:NAME`, `undrain`, `rollback`, …
    pub step: String,
    /// `start`, `ok`, `fail`.
    pub status: String,
    /// What happened.
    pub detail: String,
}

/// A node's version and state, as the last deploy left it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeRecord {
    /// Node name.
    pub node: String,
    /// Version it runs.
    pub version: Option<String>,
    /// `in_rotation`, `drained`, `failed`, …
    pub state: String,
    /// Engine-private data (the local fleet keeps pids and ports here).
    #[serde(skip)]
    pub data: String,
    /// When it last changed.
    pub updated: Timestamp,
}

/// Who holds a target's deploy lock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LockInfo {
    /// Target name.
    pub target: String,
    /// The lock's id (force-unlock needs it).
    pub lock_id: String,
    /// The deploy holding it.
    pub deploy_id: i64,
    /// `user@host`.
    pub holder: String,
    /// The runner's pid.
    pub pid: u32,
    /// When it was taken.
    pub acquired: Timestamp,
    /// Last sign of life.
    pub heartbeat: Timestamp,
    /// Set when the lock is kept on purpose (`needs human`).
    pub reason: Option<String>,
}

/// Why a deploy could not start.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another deploy holds the target.
    #[error(
        "{} is locked by deploy #{} ({} pid {}, since {}{}); lock id {}",
        .0.target, .0.deploy_id, .0.holder, .0.pid, fmt_ts(.0.acquired),
        .0.reason.as_deref().map(|r| format!(", {r}")).unwrap_or_default(), .0.lock_id
    )]
    Held(Box<LockInfo>),
    /// A deploy of the target stopped half-way; resume or roll it back first.
    #[error(
        "deploy #{0} of {1} did not finish (its runner stopped); resume it (`flightdeck deploy {1} --resume`) or roll back (`flightdeck rollback {1}`)"
    )]
    Unfinished(i64, String),
    /// The deploy already ended: nothing to resume.
    #[error("deploy #{0} already ended ({1}); nothing to resume")]
    Ended(i64, String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for LockError {
    fn from(e: rusqlite::Error) -> Self {
        LockError::Store(e.into())
    }
}

fn fmt_ts(ts: Timestamp) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%SZ").to_string())
        .unwrap_or_default()
}

const SELECT_DEPLOY: &str = "SELECT id, target, kind, from_version, to_version, state, plan, actor,
    pid, started, finished, reason, abort_requested FROM deploys";

fn deploy_from_row(r: &Row<'_>) -> rusqlite::Result<DeployRecord> {
    Ok(DeployRecord {
        id: r.get(0)?,
        target: r.get(1)?,
        kind: r.get(2)?,
        from: r.get(3)?,
        to: r.get(4)?,
        state: r.get(5)?,
        plan: r.get(6)?,
        actor: r.get(7)?,
        pid: r.get::<_, Option<i64>>(8)?.map(|p| p as u32),
        started: r.get(9)?,
        finished: r.get(10)?,
        reason: r.get(11)?,
        abort_requested: r.get::<_, i64>(12)? != 0,
    })
}

const SELECT_LOCK: &str =
    "SELECT target, lock_id, deploy_id, holder, pid, acquired, heartbeat, reason FROM deploy_locks";

fn lock_from_row(r: &Row<'_>) -> rusqlite::Result<LockInfo> {
    Ok(LockInfo {
        target: r.get(0)?,
        lock_id: r.get(1)?,
        deploy_id: r.get(2)?,
        holder: r.get(3)?,
        pid: r.get::<_, i64>(4)? as u32,
        acquired: r.get(5)?,
        heartbeat: r.get(6)?,
        reason: r.get(7)?,
    })
}

fn new_lock_id(target: &str, deploy_id: i64) -> String {
    use sha2::{Digest, Sha256};
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let digest = Sha256::digest(format!(
        "{target}\0{deploy_id}\0{nanos}\0{}",
        std::process::id()
    ));
    digest[..6].iter().map(|b| format!("{b:02x}")).collect()
}

impl Store {
    /// Records a new deploy and takes the target's lock, atomically: of any number of
    /// concurrent callers exactly one wins. A lock whose heartbeat is older than `ttl` seconds
    /// is free again, unless its deploy never finished (then it must be resumed or rolled back)
    /// or it is kept for a human.
    pub fn begin_deploy(
        &mut self,
        new: &NewDeploy,
        holder: &str,
        pid: u32,
        ttl: i64,
        now: Timestamp,
    ) -> Result<(i64, String), LockError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let held = tx
            .query_row(
                &format!("{SELECT_LOCK} WHERE target = ?1"),
                [&new.target],
                lock_from_row,
            )
            .optional()?;
        if let Some(lock) = held {
            if lock.reason.is_some() || lock.heartbeat + ttl > now {
                return Err(LockError::Held(Box::new(lock)));
            }
            tx.execute("DELETE FROM deploy_locks WHERE target = ?1", [&new.target])?;
        }
        let unfinished: Option<i64> = tx
            .query_row(
                "SELECT id FROM deploys WHERE target = ?1 AND state = 'running' ORDER BY id DESC LIMIT 1",
                [&new.target],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(id) = unfinished {
            return Err(LockError::Unfinished(id, new.target.clone()));
        }
        tx.execute(
            "INSERT INTO deploys (target, kind, from_version, to_version, state, plan, actor, started)
             VALUES (?1, ?2, ?3, ?4, 'running', ?5, ?6, ?7)",
            params![new.target, new.kind, new.from, new.to, new.plan, new.actor, now],
        )?;
        let id = tx.last_insert_rowid();
        let lock_id = new_lock_id(&new.target, id);
        tx.execute(
            "INSERT INTO deploy_locks (target, lock_id, deploy_id, holder, pid, acquired, heartbeat)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
            params![new.target, lock_id, id, holder, pid, now],
        )?;
        tx.commit()?;
        Ok((id, lock_id))
    }

    /// Takes over the lock of an unfinished deploy to resume it: allowed only when its runner
    /// is gone (`runner_alive` says no).
    pub fn resume_lock(
        &mut self,
        deploy_id: i64,
        holder: &str,
        pid: u32,
        now: Timestamp,
        runner_alive: bool,
    ) -> Result<String, LockError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let d = tx.query_row(
            &format!("{SELECT_DEPLOY} WHERE id = ?1"),
            [deploy_id],
            deploy_from_row,
        )?;
        if d.state != "running" {
            return Err(LockError::Ended(d.id, d.state));
        }
        let lock = tx
            .query_row(
                &format!("{SELECT_LOCK} WHERE target = ?1"),
                [&d.target],
                lock_from_row,
            )
            .optional()?;
        let lock_id = match lock {
            Some(l) if l.deploy_id != deploy_id => return Err(LockError::Held(Box::new(l))),
            // A runner that still exists (even one that stopped beating, paused or stuck) is
            // never joined by a second one.
            Some(l) if runner_alive => return Err(LockError::Held(Box::new(l))),
            Some(l) => l.lock_id,
            None => new_lock_id(&d.target, deploy_id),
        };
        tx.execute(
            "INSERT INTO deploy_locks (target, lock_id, deploy_id, holder, pid, acquired, heartbeat)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
             ON CONFLICT(target) DO UPDATE SET holder = excluded.holder, pid = excluded.pid,
                heartbeat = excluded.heartbeat, reason = NULL",
            params![d.target, lock_id, deploy_id, holder, pid, now],
        )?;
        tx.execute(
            "UPDATE deploys SET state = 'running', finished = NULL WHERE id = ?1",
            [deploy_id],
        )?;
        tx.commit()?;
        Ok(lock_id)
    }

    /// Records the runner's pid on the deploy and its lock.
    pub fn set_runner(&self, deploy_id: i64, pid: u32) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE deploys SET pid = ?2 WHERE id = ?1",
            params![deploy_id, pid],
        )?;
        self.conn.execute(
            "UPDATE deploy_locks SET pid = ?2 WHERE deploy_id = ?1",
            params![deploy_id, pid],
        )?;
        Ok(())
    }

    /// Refreshes the lock's heartbeat; false when the lock is no longer this one's.
    pub fn heartbeat(&self, lock_id: &str, now: Timestamp) -> Result<bool, StoreError> {
        Ok(self.conn.execute(
            "UPDATE deploy_locks SET heartbeat = ?2 WHERE lock_id = ?1",
            params![lock_id, now],
        )? == 1)
    }

    /// Lets the lock go.
    pub fn release_lock(&self, lock_id: &str) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM deploy_locks WHERE lock_id = ?1", [lock_id])?;
        Ok(())
    }

    /// Keeps the lock on purpose: it no longer expires until force-unlocked.
    pub fn hold_lock(&self, lock_id: &str, reason: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE deploy_locks SET reason = ?2 WHERE lock_id = ?1",
            params![lock_id, reason],
        )?;
        Ok(())
    }

    /// Removes a target's lock if `lock_id` is its id; an unfinished deploy under it ends
    /// `failed`. Returns the lock that was removed.
    pub fn force_unlock(
        &mut self,
        target: &str,
        lock_id: &str,
        now: Timestamp,
    ) -> Result<Option<LockInfo>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let lock = tx
            .query_row(
                &format!("{SELECT_LOCK} WHERE target = ?1 AND lock_id = ?2"),
                [target, lock_id],
                lock_from_row,
            )
            .optional()?;
        if let Some(l) = &lock {
            tx.execute("DELETE FROM deploy_locks WHERE target = ?1", [target])?;
            tx.execute(
                "UPDATE deploys SET state = 'failed', finished = ?2,
                    reason = COALESCE(reason || '; ', '') || 'force-unlocked'
                 WHERE id = ?1 AND state = 'running'",
                params![l.deploy_id, now],
            )?;
        }
        tx.commit()?;
        Ok(lock)
    }

    /// A target's lock, if held.
    pub fn lock(&self, target: &str) -> Result<Option<LockInfo>, StoreError> {
        Ok(self
            .conn
            .query_row(
                &format!("{SELECT_LOCK} WHERE target = ?1"),
                [target],
                lock_from_row,
            )
            .optional()?)
    }

    /// Ends a deploy.
    pub fn finish_deploy(
        &self,
        id: i64,
        state: &str,
        reason: Option<&str>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE deploys SET state = ?2, reason = ?3, finished = ?4 WHERE id = ?1",
            params![id, state, reason, now],
        )?;
        Ok(())
    }

    /// Asks a running deploy to stop (it rolls back when its policy says so).
    pub fn request_abort(&self, id: i64) -> Result<bool, StoreError> {
        Ok(self.conn.execute(
            "UPDATE deploys SET abort_requested = 1 WHERE id = ?1 AND state = 'running'",
            [id],
        )? == 1)
    }

    /// One deploy.
    pub fn deploy(&self, id: i64) -> Result<DeployRecord, StoreError> {
        Ok(self.conn.query_row(
            &format!("{SELECT_DEPLOY} WHERE id = ?1"),
            [id],
            deploy_from_row,
        )?)
    }

    /// A target's deploys, newest first.
    pub fn deploys(&self, target: &str, limit: usize) -> Result<Vec<DeployRecord>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "{SELECT_DEPLOY} WHERE target = ?1 ORDER BY id DESC LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![target, limit as i64], deploy_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Appends a journal record; with [`Store::durable`] it is on disk when this returns.
    pub fn journal_append(&self, deploy_id: i64, e: &JournalEntry) -> Result<i64, StoreError> {
        let seq: i64 = self.conn.query_row(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM deploy_journal WHERE deploy_id = ?1",
            [deploy_id],
            |r| r.get(0),
        )?;
        self.conn.execute(
            "INSERT INTO deploy_journal (deploy_id, seq, ts_ms, phase, node, step, status, detail)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                deploy_id, seq, e.ts_ms, e.phase, e.node, e.step, e.status, e.detail
            ],
        )?;
        Ok(seq)
    }

    /// A deploy's journal records after `after_seq`, in order.
    pub fn journal(&self, deploy_id: i64, after_seq: i64) -> Result<Vec<JournalEntry>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT seq, ts_ms, phase, node, step, status, detail FROM deploy_journal
             WHERE deploy_id = ?1 AND seq > ?2 ORDER BY seq",
        )?;
        let rows = stmt.query_map(params![deploy_id, after_seq], |r| {
            Ok(JournalEntry {
                seq: r.get(0)?,
                ts_ms: r.get(1)?,
                phase: r.get(2)?,
                node: r.get(3)?,
                step: r.get(4)?,
                status: r.get(5)?,
                detail: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every node of a target the store knows, by name.
    pub fn nodes(&self, target: &str) -> Result<Vec<NodeRecord>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT node, version, state, data, updated FROM deploy_nodes WHERE target = ?1 ORDER BY node",
        )?;
        let rows = stmt.query_map([target], |r| {
            Ok(NodeRecord {
                node: r.get(0)?,
                version: r.get(1)?,
                state: r.get(2)?,
                data: r.get(3)?,
                updated: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Sets a node's version (when `Some`) and state.
    pub fn set_node(
        &self,
        target: &str,
        node: &str,
        version: Option<&str>,
        state: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO deploy_nodes (target, node, version, state, updated) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(target, node) DO UPDATE SET version = COALESCE(excluded.version, version),
                state = excluded.state, updated = excluded.updated",
            params![target, node, version, state, now],
        )?;
        Ok(())
    }

    /// Replaces a node's engine-private data.
    pub fn set_node_data(
        &self,
        target: &str,
        node: &str,
        data: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO deploy_nodes (target, node, state, data, updated) VALUES (?1, ?2, 'unknown', ?3, ?4)
             ON CONFLICT(target, node) DO UPDATE SET data = excluded.data, updated = excluded.updated",
            params![target, node, data, now],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
