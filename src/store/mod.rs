//! The embedded SQLite store: local backlog, audit log and (later) runs, journals and outbox.

mod audit;
mod deploys;
mod dispatches;
mod health;
mod incidents;
mod items;
mod open;

pub use open::check;
mod runs;
mod triage;
pub use dispatches::Dispatch;

pub use audit::{AuditRecord, AuditReport, AuditVerifyError};
pub use deploys::{DeployRecord, JournalEntry, LockError, LockInfo, NewDeploy, NodeRecord};
pub use health::RemedyState;
pub use incidents::{FireRequest, Fired, IncidentRecord, OutboxRow};
pub use runs::{NewRun, Release, StepRecord};

use std::path::{Path, PathBuf};

use rusqlite::Connection;

/// Errors from the store, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened or created.
    #[error("cannot open store {path}: {source}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// SQLite refused a statement.
    #[error("store error: {0}")]
    Sql(#[from] rusqlite::Error),
    /// The store's file is not a sound database.
    #[error(
        "store {path} is damaged ({why}): restore it from a backup or move it aside; `flightdeck store check` tells more"
    )]
    Damaged {
        /// The database file.
        path: PathBuf,
        /// SQLite's words.
        why: String,
    },
    /// The store can only be read (its file or directory is read-only).
    #[error(
        "store {path} is read-only (its file or directory cannot be written): cannot {what}; make it writable, or use --read-only to look"
    )]
    ReadOnly {
        /// The database file.
        path: PathBuf,
        /// What was to be done.
        what: String,
    },
    /// The store was written by a newer flightdeck.
    #[error(
        "store {path} has schema version {found}, newer than this flightdeck knows ({known}); upgrade flightdeck"
    )]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// Version on disk.
        found: i64,
        /// Newest version this build knows.
        known: i64,
    },
    /// The store records another workspace's name.
    #[error(
        "store {path} belongs to workspace {found:?}, not {wanted:?}: rename the workspace back, or move the directory aside"
    )]
    Foreign {
        /// The database file.
        path: PathBuf,
        /// The name it records.
        found: String,
        /// The name the config gives.
        wanted: String,
    },
    /// An earlier flightdeck kept this workspace where another could have kept its own.
    #[error(
        "workspace {wanted:?} was kept in {legacy}, which workspace {:?} would also use: if it is {wanted:?}'s, move it to {new}; to start {wanted:?} afresh, create {new}",
        legacy.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    )]
    Ambiguous {
        /// Where the old store is.
        legacy: PathBuf,
        /// The workspace being opened.
        wanted: String,
        /// Where its store goes now.
        new: PathBuf,
    },
    /// An item id that does not exist.
    #[error("no item {0}")]
    NoSuchItem(String),
    /// The item changed since the editor opened.
    #[error(
        "item #{0} changed since you opened it (someone else saved first); your text is kept — copy what you need, Esc, and reopen"
    )]
    Conflict(String),
}

/// Schema migrations; index + 1 is the `user_version` each one brings the store to.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE items (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        title TEXT NOT NULL,
        body TEXT NOT NULL DEFAULT '',
        state TEXT NOT NULL DEFAULT 'open',
        kind TEXT NOT NULL DEFAULT 'issue',
        severity TEXT,
        labels TEXT NOT NULL DEFAULT '[]',
        author TEXT NOT NULL DEFAULT '',
        created INTEGER NOT NULL,
        updated INTEGER NOT NULL,
        dedup_key TEXT UNIQUE
    );
    CREATE TABLE comments (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        item_id INTEGER NOT NULL REFERENCES items(id),
        author TEXT NOT NULL,
        body TEXT NOT NULL,
        created INTEGER NOT NULL
    );
    CREATE INDEX comments_item ON comments(item_id);
    CREATE TABLE audit (
        seq INTEGER PRIMARY KEY,
        ts INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        phase TEXT NOT NULL,
        detail TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
    "CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        pipeline TEXT NOT NULL,
        number INTEGER NOT NULL,
        commit_sha TEXT,
        branch TEXT,
        trigger TEXT NOT NULL,
        actor TEXT NOT NULL,
        status TEXT NOT NULL,
        started INTEGER NOT NULL,
        finished INTEGER,
        log_path TEXT NOT NULL,
        tests TEXT,
        failed_tests TEXT NOT NULL DEFAULT '[]',
        flaky_tests TEXT NOT NULL DEFAULT '[]',
        pid INTEGER,
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        UNIQUE (pipeline, number)
    );
    CREATE TABLE run_steps (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        idx INTEGER NOT NULL,
        name TEXT NOT NULL,
        status TEXT NOT NULL,
        exit_code INTEGER,
        started INTEGER,
        duration_ms INTEGER,
        log_start INTEGER,
        log_end INTEGER,
        PRIMARY KEY (run_id, idx)
    );
    CREATE TABLE releases (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        pipeline TEXT NOT NULL,
        version TEXT NOT NULL,
        artifact TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        run_id INTEGER NOT NULL REFERENCES runs(id),
        created INTEGER NOT NULL,
        UNIQUE (pipeline, version)
    );
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        detail TEXT NOT NULL,
        created INTEGER NOT NULL,
        handled INTEGER NOT NULL DEFAULT 0
    );",
    "CREATE TABLE deploys (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        target TEXT NOT NULL,
        kind TEXT NOT NULL,
        from_version TEXT,
        to_version TEXT NOT NULL,
        state TEXT NOT NULL,
        plan TEXT NOT NULL,
        actor TEXT NOT NULL,
        pid INTEGER,
        started INTEGER NOT NULL,
        finished INTEGER,
        reason TEXT,
        abort_requested INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX deploys_target ON deploys(target, id);
    CREATE TABLE deploy_journal (
        deploy_id INTEGER NOT NULL REFERENCES deploys(id),
        seq INTEGER NOT NULL,
        ts_ms INTEGER NOT NULL,
        phase TEXT NOT NULL,
        node TEXT NOT NULL,
        step TEXT NOT NULL,
        status TEXT NOT NULL,
        detail TEXT NOT NULL,
        PRIMARY KEY (deploy_id, seq)
    );
    CREATE TABLE deploy_nodes (
        target TEXT NOT NULL,
        node TEXT NOT NULL,
        version TEXT,
        state TEXT NOT NULL,
        data TEXT NOT NULL DEFAULT '{}',
        updated INTEGER NOT NULL,
        PRIMARY KEY (target, node)
    );
    CREATE TABLE deploy_locks (
        target TEXT PRIMARY KEY,
        lock_id TEXT NOT NULL,
        deploy_id INTEGER NOT NULL,
        holder TEXT NOT NULL,
        pid INTEGER NOT NULL,
        acquired INTEGER NOT NULL,
        heartbeat INTEGER NOT NULL,
        reason TEXT
    );",
    "CREATE TABLE check_state (
        name TEXT PRIMARY KEY,
        data TEXT NOT NULL,
        status TEXT NOT NULL,
        since INTEGER NOT NULL,
        firing INTEGER NOT NULL,
        updated INTEGER NOT NULL
    );
    CREATE TABLE incidents (
        key TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        severity TEXT NOT NULL,
        state TEXT NOT NULL,
        firing INTEGER NOT NULL,
        occurrences INTEGER NOT NULL,
        item_id TEXT,
        opened INTEGER NOT NULL,
        last_fired INTEGER NOT NULL,
        resolved INTEGER
    );
    CREATE TABLE incident_outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL,
        action TEXT NOT NULL,
        payload TEXT NOT NULL,
        created INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at INTEGER NOT NULL,
        lease_until INTEGER NOT NULL DEFAULT 0,
        lease_owner TEXT,
        last_error TEXT,
        done INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX incident_outbox_pending ON incident_outbox(done, key, id);
    CREATE TABLE mutes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL,
        until INTEGER NOT NULL,
        reason TEXT NOT NULL,
        actor TEXT NOT NULL,
        created INTEGER NOT NULL
    );
    ALTER TABLE items ADD COLUMN assignee TEXT;
    CREATE TABLE item_aliases (key TEXT PRIMARY KEY, item_id INTEGER NOT NULL);
    UPDATE events SET handled = 1;
    CREATE TABLE remediations (
        check_name TEXT PRIMARY KEY,
        capacity INTEGER NOT NULL,
        last_run INTEGER,
        last_result TEXT
    );",
    "CREATE TABLE dispatches (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        provider TEXT NOT NULL,
        repo TEXT NOT NULL,
        workflow INTEGER NOT NULL,
        git_ref TEXT NOT NULL,
        inputs TEXT NOT NULL,
        correlation TEXT NOT NULL,
        state TEXT NOT NULL,
        run_id INTEGER,
        actor TEXT NOT NULL,
        created INTEGER NOT NULL
    );
    CREATE INDEX dispatches_open ON dispatches(repo, workflow, state);",
    // A running step's process group and when its leader started (clock ticks since boot):
    // what to kill when the runner died, and proof the group is still that one.
    "ALTER TABLE run_steps ADD COLUMN pgid INTEGER;
    ALTER TABLE run_steps ADD COLUMN pgid_start INTEGER;",
];

/// One connection to the store. Cheap to open; open one per thread.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    read_only: bool,
}

impl Store {
    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Makes every commit on this connection reach the disk before it returns (the deploy
    /// journal's one-fsync-per-record promise).
    pub fn durable(&self) -> Result<(), StoreError> {
        self.conn.pragma_update(None, "synchronous", "FULL")?;
        Ok(())
    }

    /// The schema version on disk.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    /// Changes whenever another connection commits; cheap to poll.
    pub fn data_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .pragma_query_value(None, "data_version", |r| r.get(0))?)
    }

    /// A value from the meta table.
    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        use rusqlite::OptionalExtension;
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    /// Sets a value in the meta table.
    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO meta(key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [key, value],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn open_migrates_and_is_private() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("state/store.db");
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
        drop(store);
        // Reopening is a no-op migration.
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        let journal: String = store
            .conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(journal, "wal");
    }

    #[test]
    fn newer_schema_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("store.db");
        let store = Store::open(&path).unwrap();
        store.conn.pragma_update(None, "user_version", 99).unwrap();
        drop(store);
        let err = Store::open(&path).err().unwrap();
        assert!(err.to_string().contains("newer"), "{err}");
    }
}
