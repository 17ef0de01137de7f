//! The embedded SQLite store: local backlog, audit log and (later) runs, journals and outbox.

mod audit;
mod deploys;
mod dispatches;
mod health;
mod incidents;
mod items;
mod runs;
mod triage;
pub use dispatches::Dispatch;

pub use audit::{AuditRecord, AuditReport, AuditVerifyError};
pub use deploys::{DeployRecord, JournalEntry, LockError, LockInfo, NewDeploy, NodeRecord};
pub use health::RemedyState;
pub use incidents::{FireRequest, Fired, IncidentRecord, OutboxRow};
pub use runs::{NewRun, Release, StepRecord};

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;

use crate::paths;

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
];

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// One connection to the store. Cheap to open; open one per thread.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    read_only: bool,
}

/// Whether an I/O error means "not allowed to write here".
fn is_denied(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
    )
}

/// Whether SQLite says the file is not a sound database.
fn is_damage(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
    )
}

/// `path` as an SQLite URI that opens it read-only and, since nothing can write a file in a
/// directory no one may write, immutable (no -shm or -wal file is needed).
fn immutable_uri(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut uri = String::from("file:");
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/._-~".contains(&b) {
            uri.push(b as char);
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri.push_str("?mode=ro&immutable=1");
    uri
}

impl Store {
    /// Opens (creating if needed) the store at `path`: dir 0700, files 0600, WAL, migrated.
    /// A store that exists but may not be written (a read-only state dir) opens read-only:
    /// reads work, and a write says the store is read-only.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        match Store::open_rw(path) {
            Err(StoreError::Open { source, .. }) if is_denied(&source) && path.is_file() => {
                Store::open_ro(path)
            }
            Err(StoreError::Sql(e))
                if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ReadOnly)
                    || e.sqlite_error_code() == Some(rusqlite::ErrorCode::CannotOpen) =>
            {
                Store::open_ro(path)
            }
            Err(StoreError::Sql(e)) if is_damage(&e) => Err(StoreError::Damaged {
                path: path.to_path_buf(),
                why: e.to_string(),
            }),
            other => other,
        }
    }

    /// Opens an existing store for reading only (see `open`).
    fn open_ro(path: &Path) -> Result<Store, StoreError> {
        use rusqlite::OpenFlags;
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(immutable_uri(path), flags)?;
        let store = Store {
            conn,
            path: path.to_path_buf(),
            read_only: true,
        };
        let found = match store.schema_version() {
            Err(StoreError::Sql(e)) if is_damage(&e) => {
                return Err(StoreError::Damaged {
                    path: path.to_path_buf(),
                    why: e.to_string(),
                });
            }
            r => r?,
        };
        let known = MIGRATIONS.len() as i64;
        if found > known {
            return Err(StoreError::TooNew {
                path: path.to_path_buf(),
                found,
                known,
            });
        }
        if found < known {
            return Err(StoreError::ReadOnly {
                path: path.to_path_buf(),
                what: "bring its schema up to date (open it once where it can be written)".into(),
            });
        }
        tracing::info!(path = %path.display(), "store opened read-only");
        Ok(store)
    }

    /// Whether this connection can only read (the store's file or directory is read-only).
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// An error naming the store when it can only be read, for an action about to write.
    pub fn writable(&self, what: &str) -> Result<(), StoreError> {
        if self.read_only {
            return Err(StoreError::ReadOnly {
                path: self.path.clone(),
                what: what.to_string(),
            });
        }
        Ok(())
    }

    fn open_rw(path: &Path) -> Result<Store, StoreError> {
        let io_err = |source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent() {
            paths::private_dir(dir).map_err(io_err)?;
        }
        // Create the file ourselves so it is 0600 from its first byte; SQLite gives its
        // -wal and -shm files the same mode.
        paths::append_private(path).map_err(io_err)?;
        // A store whose directory cannot be written cannot keep a WAL: read-only then.
        if let Some(dir) = path.parent()
            && nix::unistd::access(dir, nix::unistd::AccessFlags::W_OK).is_err()
        {
            return Err(io_err(std::io::Error::from(
                std::io::ErrorKind::PermissionDenied,
            )));
        }
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
            read_only: false,
        };
        // Two processes creating the store at once: switching to WAL and migrating take
        // locks SQLite's busy handler does not wait for, so wait here.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            match store.setup() {
                Err(StoreError::Sql(e)) if is_busy(&e) && std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                other => break other?,
            }
        }
        for suffix in ["-wal", "-shm"] {
            let mut p = path.as_os_str().to_owned();
            p.push(suffix);
            let p = PathBuf::from(p);
            if p.exists() {
                paths::private_file(&p).map_err(io_err)?;
            }
        }
        Ok(store)
    }

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

    fn setup(&mut self) -> Result<(), StoreError> {
        self.conn.pragma_update(None, "journal_mode", "WAL")?;
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        self.conn.pragma_update(None, "foreign_keys", "ON")?;
        self.migrate()
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let known = MIGRATIONS.len() as i64;
        let found = self.schema_version()?;
        if found > known {
            return Err(StoreError::TooNew {
                path: self.path.clone(),
                found,
                known,
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            let tx = self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            // Another process may have migrated while we waited for the write lock.
            let now: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
            if now > i as i64 {
                continue;
            }
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", i as i64 + 1)?;
            tx.commit()?;
        }
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
