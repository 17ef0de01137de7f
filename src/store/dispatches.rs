//! Workflow dispatches to a remote CI, kept until the run each one started is known (F12): a
//! dispatch whose answer was lost, or whose run has not appeared, is never sent again before it
//! is reconciled.

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError};
use crate::domain::Timestamp;

/// One dispatch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dispatch {
    /// Row id.
    pub id: i64,
    /// `owner/name`.
    pub repo: String,
    /// Workflow id.
    pub workflow: u64,
    /// Branch or tag it ran on.
    pub git_ref: String,
    /// The inputs, as JSON.
    pub inputs: String,
    /// The unique value put in the correlation input (also kept when there is none).
    pub correlation: String,
    /// `sending` (answer not seen), `accepted` (run not found yet), `tracked`, `abandoned`.
    pub state: String,
    /// The run it started, once known.
    pub run_id: Option<u64>,
    /// When it was sent.
    pub created: Timestamp,
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Dispatch> {
    Ok(Dispatch {
        id: r.get(0)?,
        repo: r.get(1)?,
        workflow: r.get::<_, i64>(2)? as u64,
        git_ref: r.get(3)?,
        inputs: r.get(4)?,
        correlation: r.get(5)?,
        state: r.get(6)?,
        run_id: r.get::<_, Option<i64>>(7)?.map(|v| v as u64),
        created: r.get(8)?,
    })
}

const COLS: &str = "id, repo, workflow, git_ref, inputs, correlation, state, run_id, created";

impl Store {
    /// Records a dispatch about to be sent.
    #[allow(clippy::too_many_arguments)]
    pub fn dispatch_begin(
        &self,
        provider: &str,
        repo: &str,
        workflow: u64,
        git_ref: &str,
        inputs: &str,
        correlation: &str,
        actor: &str,
        now: Timestamp,
    ) -> Result<i64, StoreError> {
        self.conn.execute(
            "INSERT INTO dispatches (provider, repo, workflow, git_ref, inputs, correlation,
                                     state, actor, created)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'sending', ?7, ?8)",
            params![
                provider,
                repo,
                workflow as i64,
                git_ref,
                inputs,
                correlation,
                actor,
                now
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Moves a dispatch on (`accepted`, `tracked` with its run, `abandoned`).
    pub fn dispatch_set(
        &self,
        id: i64,
        state: &str,
        run_id: Option<u64>,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE dispatches SET state = ?2, run_id = COALESCE(?3, run_id) WHERE id = ?1",
            params![id, state, run_id.map(|r| r as i64)],
        )?;
        Ok(())
    }

    /// The oldest dispatch of a workflow by `actor` whose run is not known yet, if any.
    pub fn dispatch_unreconciled(
        &self,
        repo: &str,
        workflow: u64,
        actor: &str,
    ) -> Result<Option<Dispatch>, StoreError> {
        Ok(self
            .conn
            .query_row(
                &format!(
                    "SELECT {COLS} FROM dispatches
                     WHERE repo = ?1 AND workflow = ?2 AND actor = ?3
                       AND state IN ('sending', 'accepted')
                     ORDER BY id LIMIT 1"
                ),
                params![repo, workflow as i64, actor],
                row,
            )
            .optional()?)
    }

    /// Runs already matched to a dispatch of this repo (never matched twice).
    pub fn dispatch_claimed(&self, repo: &str) -> Result<Vec<u64>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT run_id FROM dispatches WHERE repo = ?1 AND run_id IS NOT NULL")?;
        let rows = stmt.query_map([repo], |r| r.get::<_, i64>(0))?;
        Ok(rows.filter_map(Result::ok).map(|v| v as u64).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dispatch_stays_unreconciled_until_its_run_is_known() {
        let tmp = tempfile::tempdir().unwrap();
        let s = Store::open(&tmp.path().join("s.db")).unwrap();
        let id = s
            .dispatch_begin("gh", "a/b", 7, "main", "{}", "fd-1", "ana", 10)
            .unwrap();
        assert_eq!(
            s.dispatch_unreconciled("a/b", 7, "ana")
                .unwrap()
                .unwrap()
                .id,
            id
        );
        assert!(s.dispatch_unreconciled("a/b", 8, "ana").unwrap().is_none());
        assert!(
            s.dispatch_unreconciled("a/b", 7, "bo").unwrap().is_none(),
            "bo's are his"
        );
        s.dispatch_set(id, "accepted", None).unwrap();
        assert_eq!(
            s.dispatch_unreconciled("a/b", 7, "ana")
                .unwrap()
                .unwrap()
                .state,
            "accepted"
        );
        s.dispatch_set(id, "tracked", Some(99)).unwrap();
        assert!(s.dispatch_unreconciled("a/b", 7, "ana").unwrap().is_none());
        assert_eq!(s.dispatch_claimed("a/b").unwrap(), vec![99]);
    }
}
