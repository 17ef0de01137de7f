//! Opening the store: created private and migrated where it can be written; read-only (and
//! immutable) where it cannot; a file that is not a sound database is named as damaged.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;

use super::{MIGRATIONS, Store, StoreError};
use crate::paths;

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
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

/// `path` as a read-only SQLite URI; `immutable` when no -shm or -wal file exists nor can be
/// made (a read-only directory after a clean close: then no writer is at work either).
fn ro_uri(path: &Path, immutable: bool) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut uri = String::from("file:");
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/._-~".contains(&b) {
            uri.push(b as char);
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri.push_str(if immutable {
        "?mode=ro&immutable=1"
    } else {
        "?mode=ro"
    });
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
        // Read-only but live first (a writer's -wal and -shm are read, so nothing is stale);
        // immutable only when that cannot open (no -shm, and none can be made here).
        let open = |immutable| -> Result<(Store, i64), StoreError> {
            let conn = Connection::open_with_flags(ro_uri(path, immutable), flags)?;
            let store = Store {
                conn,
                path: path.to_path_buf(),
                read_only: true,
            };
            let found = store.schema_version()?;
            Ok((store, found))
        };
        let (store, found) = match open(false).or_else(|_| open(true)) {
            Ok(x) => x,
            // Damage is said only when the live view (no immutable caching) says it too.
            Err(StoreError::Sql(e)) if is_damage(&e) && open(false).is_err() => {
                return Err(StoreError::Damaged {
                    path: path.to_path_buf(),
                    why: e.to_string(),
                });
            }
            Err(e) => return Err(e),
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

/// What `flightdeck store check` found: one line per finding, and whether all is sound.
pub fn check(path: &Path) -> (Vec<String>, bool) {
    use rusqlite::OpenFlags;
    let mut lines = Vec::new();
    if !path.is_file() {
        return (vec![format!("{}: no store here yet", path.display())], true);
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = match Connection::open_with_flags(path, flags) {
        Ok(c) => c,
        Err(e) => return (vec![format!("{}: cannot open: {e}", path.display())], false),
    };
    let mut ok = true;
    let integrity: Result<Vec<String>, rusqlite::Error> = conn
        .prepare("PRAGMA integrity_check(20)")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect());
    match integrity {
        Ok(rows) if rows == ["ok"] => lines.push("integrity: ok".into()),
        Ok(rows) => {
            ok = false;
            lines.push(format!("integrity: {} problems:", rows.len()));
            lines.extend(rows.into_iter().map(|r| format!("  {r}")));
        }
        Err(e) => {
            ok = false;
            lines.push(format!("integrity: cannot be read: {e}"));
        }
    }
    let version: Result<i64, _> = conn.pragma_query_value(None, "user_version", |r| r.get(0));
    match version {
        Ok(v) if v as usize <= MIGRATIONS.len() => lines.push(format!(
            "schema: v{v} (this flightdeck knows v{})",
            MIGRATIONS.len()
        )),
        Ok(v) => {
            ok = false;
            lines.push(format!(
                "schema: v{v}, newer than this flightdeck knows (v{}): upgrade flightdeck",
                MIGRATIONS.len()
            ));
        }
        Err(e) => {
            ok = false;
            lines.push(format!("schema: cannot be read: {e}"));
        }
    }
    if ok {
        match Store::open(path).and_then(|s| s.audit_verify()) {
            Ok(Ok(r)) => lines.push(format!(
                "audit log: {}, chain intact",
                crate::domain::count(r.records.max(0) as usize, "record")
            )),
            Ok(Err(e)) => {
                ok = false;
                lines.push(format!("audit log: {e}"));
            }
            Err(e) => {
                ok = false;
                lines.push(format!("audit log: {e}"));
            }
        }
    }
    if !ok {
        lines.push(format!(
            "to recover: stop flightdeck, move {} aside (with its -wal and -shm files) and restore a backup; `sqlite3 FILE .recover` can save what is readable",
            path.display()
        ));
    }
    (lines, ok)
}
