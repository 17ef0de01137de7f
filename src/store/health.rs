//! The latest verdict of every health check, shared by every cockpit, `watch` and `status`.

use rusqlite::params;

use super::{Store, StoreError};
use crate::domain::{Check, Timestamp};

impl Store {
    /// Writes the latest verdicts (one transaction for the whole round).
    pub fn save_checks(&mut self, checks: &[Check]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO check_state (name, data, status, since, firing, updated)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(name) DO UPDATE SET data = ?2, status = ?3, since = ?4,
                     firing = ?5, updated = ?6",
            )?;
            for c in checks {
                let data = serde_json::to_string(c).unwrap_or_default();
                stmt.execute(params![
                    c.check,
                    data,
                    c.status.as_str(),
                    c.since.unwrap_or(c.updated),
                    c.firing,
                    c.updated
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Every check's latest verdict, by name.
    pub fn checks(&self) -> Result<Vec<Check>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT data FROM check_state ORDER BY name")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for data in rows {
            if let Ok(c) = serde_json::from_str::<Check>(&data?) {
                out.push(c);
            }
        }
        Ok(out)
    }

    /// Forgets verdicts of checks no longer configured, or not refreshed since `before`.
    pub fn prune_checks(&self, keep: &[String], before: Timestamp) -> Result<usize, StoreError> {
        let keep = serde_json::to_string(keep).unwrap_or_else(|_| "[]".into());
        Ok(self.conn.execute(
            "DELETE FROM check_state
             WHERE name NOT IN (SELECT value FROM json_each(?1)) AND updated < ?2",
            params![keep, before],
        )?)
    }
}

/// What the store remembers of a check's remediation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RemedyState {
    /// The capacity the last run left (`None`: never run).
    pub capacity: Option<u32>,
    /// When it last ran.
    pub last_run: Option<Timestamp>,
    /// How the last run ended.
    pub last_result: Option<String>,
}

impl Store {
    /// The remediation state of a check.
    pub fn remedy(&self, check: &str) -> Result<RemedyState, StoreError> {
        use rusqlite::OptionalExtension;
        Ok(self
            .conn
            .query_row(
                "SELECT capacity, last_run, last_result FROM remediations WHERE check_name = ?1",
                [check],
                |r| {
                    Ok(RemedyState {
                        capacity: Some(r.get(0)?),
                        last_run: r.get(1)?,
                        last_result: r.get(2)?,
                    })
                },
            )
            .optional()?
            .unwrap_or_default())
    }

    /// Claims a remediation run: only when nobody ran it since `cooldown_from` (another
    /// process, or a double key press). True when this caller may run it.
    pub fn claim_remedy(
        &self,
        check: &str,
        capacity: u32,
        cooldown_from: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "INSERT INTO remediations (check_name, capacity, last_run, last_result)
             VALUES (?1, ?2, ?3, 'running')
             ON CONFLICT(check_name) DO UPDATE SET last_run = ?3, last_result = 'running'
             WHERE last_run IS NULL OR last_run <= ?4",
            params![check, capacity, now, cooldown_from],
        )?;
        Ok(n > 0)
    }

    /// Records how a remediation run ended and the capacity it left.
    pub fn finish_remedy(
        &self,
        check: &str,
        capacity: u32,
        result: &str,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE remediations SET capacity = ?2, last_result = ?3 WHERE check_name = ?1",
            params![check, capacity, result],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CheckStatus;

    #[test]
    fn verdicts_round_trip_and_prune() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = Store::open(&tmp.path().join("s.db")).unwrap();
        let c = Check {
            check: "api".into(),
            service: "demo".into(),
            status: CheckStatus::Crit,
            value: Some(12.5),
            unit: Some("ms".into()),
            forecast: None,
            since: Some(100),
            firing: true,
            detail: "HTTP 503".into(),
            warn: None,
            crit: Some(500.0),
            series: vec![(90, 10.0), (100, 12.5)],
            updated: 100,
            alert: None,
            remedy: None,
            insecure: true,
        };
        s.save_checks(std::slice::from_ref(&c)).unwrap();
        assert_eq!(s.checks().unwrap(), vec![c.clone()]);
        assert_eq!(s.prune_checks(&["api".into()], 1000).unwrap(), 0);
        assert_eq!(s.prune_checks(&[], 50).unwrap(), 0, "fresh rows stay");
        assert_eq!(s.prune_checks(&[], 1000).unwrap(), 1);
    }
}
