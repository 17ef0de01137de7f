//! The incident loop's memory: one row per dedup key (open or resolved, firing or not, how
//! often), the durable outbox of backlog changes still to make, and mute rules. Every
//! transition is one `IMMEDIATE` transaction, so several `watch` processes and cockpits on
//! one store agree on who files.

use rusqlite::{OptionalExtension, TransactionBehavior, params};
use serde::Serialize;

use super::{Store, StoreError};
use crate::domain::Timestamp;

/// One incident as the loop knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IncidentRecord {
    /// Stable dedup key (`check:api`, `deploy:demo-api`, `pipeline:demo-ci`).
    pub key: String,
    /// Title it was filed with.
    pub title: String,
    /// Severity name.
    pub severity: String,
    /// `open` or `resolved`.
    pub state: String,
    /// Still failing.
    pub firing: bool,
    /// How many times it fired.
    pub occurrences: i64,
    /// The backlog item, once filed.
    pub item_id: Option<String>,
    /// When first opened.
    pub opened: Timestamp,
    /// When it last fired.
    pub last_fired: Timestamp,
    /// When last resolved.
    pub resolved: Option<Timestamp>,
}

/// What a fire did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fired {
    /// A new incident: filed through the outbox.
    Opened,
    /// An open incident fired again: an occurrence comment.
    Refired,
    /// A resolved incident came back: reopened.
    Reopened,
    /// It is firing already (another process saw it first): nothing.
    AlreadyFiring,
    /// A mute rule covers the key: nothing.
    Muted,
}

/// What an incident is filed with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FireRequest {
    /// Dedup key.
    pub key: String,
    /// Title.
    pub title: String,
    /// Severity name.
    pub severity: String,
    /// Markdown evidence.
    pub body: String,
    /// Labels for the item.
    pub labels: Vec<String>,
    /// A one-shot event (a failed deploy): it does not stay firing, so the next one counts.
    pub one_shot: bool,
}

/// An event as claimed: (id, kind, key, detail JSON, created).
pub type Event = (i64, String, String, String, Timestamp);

/// One backlog change waiting in the outbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxRow {
    /// Row id (also the idempotency marker of its comment).
    pub id: i64,
    /// Dedup key.
    pub key: String,
    /// `open`, `occurrence`, `reopen`, `resolve`.
    pub action: String,
    /// JSON payload.
    pub payload: String,
    /// Attempts so far, this one included.
    pub attempts: i64,
}

const SELECT_INCIDENT: &str = "SELECT key, title, severity, state, firing, occurrences, item_id,
    opened, last_fired, resolved FROM incidents";

fn incident_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<IncidentRecord> {
    Ok(IncidentRecord {
        key: r.get(0)?,
        title: r.get(1)?,
        severity: r.get(2)?,
        state: r.get(3)?,
        firing: r.get(4)?,
        occurrences: r.get(5)?,
        item_id: r.get(6)?,
        opened: r.get(7)?,
        last_fired: r.get(8)?,
        resolved: r.get(9)?,
    })
}

fn enqueue(
    tx: &rusqlite::Transaction<'_>,
    key: &str,
    action: &str,
    payload: &serde_json::Value,
    now: Timestamp,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO incident_outbox (key, action, payload, created, next_at)
         VALUES (?1, ?2, ?3, ?4, ?4)",
        params![key, action, payload.to_string(), now],
    )?;
    Ok(())
}

impl Store {
    /// Records a fire of `req.key` and queues what the backlog must see.
    pub fn incident_fire(
        &mut self,
        req: &FireRequest,
        now: Timestamp,
    ) -> Result<Fired, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let muted: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM mutes WHERE key = ?1 AND until > ?2)",
            params![req.key, now],
            |r| r.get(0),
        )?;
        if muted {
            return Ok(Fired::Muted);
        }
        let row: Option<(String, bool)> = tx
            .query_row(
                "SELECT state, firing FROM incidents WHERE key = ?1",
                [&req.key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let firing = !req.one_shot;
        let payload = serde_json::json!({
            "title": req.title, "severity": req.severity, "body": req.body, "labels": req.labels,
        });
        let out = match row {
            None => {
                tx.execute(
                    "INSERT INTO incidents (key, title, severity, state, firing, occurrences,
                        opened, last_fired) VALUES (?1, ?2, ?3, 'open', ?4, 1, ?5, ?5)",
                    params![req.key, req.title, req.severity, firing, now],
                )?;
                enqueue(&tx, &req.key, "open", &payload, now)?;
                Fired::Opened
            }
            Some((state, true)) if state == "open" => {
                tx.execute(
                    "UPDATE incidents SET last_fired = ?2 WHERE key = ?1",
                    params![req.key, now],
                )?;
                Fired::AlreadyFiring
            }
            Some((state, _)) => {
                let reopen = state != "open";
                tx.execute(
                    "UPDATE incidents SET state = 'open', firing = ?2,
                        occurrences = occurrences + 1, last_fired = ?3, resolved = NULL
                     WHERE key = ?1",
                    params![req.key, firing, now],
                )?;
                let action = if reopen { "reopen" } else { "occurrence" };
                enqueue(&tx, &req.key, action, &payload, now)?;
                if reopen {
                    Fired::Reopened
                } else {
                    Fired::Refired
                }
            }
        };
        tx.commit()?;
        Ok(out)
    }

    /// Records a recovery: an open incident is resolved and the backlog told. False when
    /// there was nothing open under the key.
    pub fn incident_recover(
        &mut self,
        key: &str,
        body: &str,
        close: bool,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let changed = tx.execute(
            "UPDATE incidents SET state = 'resolved', firing = 0, resolved = ?2
             WHERE key = ?1 AND state = 'open'",
            params![key, now],
        )?;
        if changed > 0 {
            let payload = serde_json::json!({ "body": body, "close": close });
            enqueue(&tx, key, "resolve", &payload, now)?;
        }
        tx.commit()?;
        Ok(changed > 0)
    }

    /// Every incident the loop knows, newest first.
    pub fn incidents(&self) -> Result<Vec<IncidentRecord>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("{SELECT_INCIDENT} ORDER BY last_fired DESC"))?;
        let rows = stmt.query_map([], incident_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The incident filed as (or merged into) this backlog item, if any.
    pub fn incident_by_item(&self, item_id: &str) -> Result<Option<IncidentRecord>, StoreError> {
        Ok(self
            .conn
            .query_row(
                &format!("{SELECT_INCIDENT} WHERE item_id = ?1 ORDER BY last_fired DESC"),
                [item_id],
                incident_row,
            )
            .optional()?)
    }

    /// Remembers which backlog item holds the incident.
    pub fn set_incident_item(&self, key: &str, item_id: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE incidents SET item_id = ?2 WHERE key = ?1",
            params![key, item_id],
        )?;
        Ok(())
    }

    /// Marks the open incident of `key` resolved (a dismissal: nothing more is filed for it).
    pub fn resolve_incident(&self, key: &str, now: Timestamp) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE incidents SET state = 'resolved', firing = 0, resolved = ?2
             WHERE key = ?1 AND state = 'open'",
            params![key, now],
        )?;
        Ok(())
    }

    /// Mutes `key` until `until`: fires under it file nothing.
    pub fn mute(
        &self,
        key: &str,
        until: Timestamp,
        reason: &str,
        actor: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO mutes (key, until, reason, actor, created) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![key, until, reason, actor, now],
        )?;
        Ok(())
    }

    /// Mutes still in force: (key, until, reason).
    pub fn mutes(&self, now: Timestamp) -> Result<Vec<(String, Timestamp, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT key, until, reason FROM mutes WHERE until > ?1 ORDER BY id")?;
        let rows = stmt.query_map([now], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Leases the oldest due outbox row whose key has nothing older pending, for `lease` s.
    pub fn outbox_claim(
        &mut self,
        owner: &str,
        now: Timestamp,
        lease: i64,
    ) -> Result<Option<OutboxRow>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let row = tx
            .query_row(
                "SELECT o.id, o.key, o.action, o.payload, o.attempts FROM incident_outbox o
                 WHERE o.done = 0 AND o.next_at <= ?1 AND o.lease_until <= ?1
                   AND NOT EXISTS (SELECT 1 FROM incident_outbox p
                                   WHERE p.done = 0 AND p.key = o.key AND p.id < o.id)
                 ORDER BY o.id LIMIT 1",
                [now],
                |r| {
                    Ok(OutboxRow {
                        id: r.get(0)?,
                        key: r.get(1)?,
                        action: r.get(2)?,
                        payload: r.get(3)?,
                        attempts: r.get::<_, i64>(4)? + 1,
                    })
                },
            )
            .optional()?;
        if let Some(r) = &row {
            tx.execute(
                "UPDATE incident_outbox SET lease_owner = ?2, lease_until = ?3,
                    attempts = attempts + 1 WHERE id = ?1",
                params![r.id, owner, now + lease],
            )?;
        }
        tx.commit()?;
        Ok(row)
    }

    /// Marks an outbox row done (only by the lease's holder).
    pub fn outbox_done(&self, id: i64, owner: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE incident_outbox SET done = 1, last_error = NULL
             WHERE id = ?1 AND lease_owner = ?2",
            params![id, owner],
        )?;
        Ok(())
    }

    /// Releases an outbox row to be retried at `next_at` (only by the lease's holder).
    pub fn outbox_retry(
        &self,
        id: i64,
        owner: &str,
        error: &str,
        next_at: Timestamp,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE incident_outbox SET lease_until = 0, lease_owner = NULL, last_error = ?3,
                next_at = ?4 WHERE id = ?1 AND lease_owner = ?2",
            params![id, owner, error, next_at],
        )?;
        Ok(())
    }

    /// Outbox rows not yet done, and the last error among them.
    pub fn outbox_pending(&self) -> Result<(i64, Option<String>), StoreError> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*), (SELECT last_error FROM incident_outbox
                WHERE done = 0 AND last_error IS NOT NULL ORDER BY id DESC LIMIT 1)
             FROM incident_outbox WHERE done = 0",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    }

    /// The events not yet handled (failed deploys, pipelines failing on main), oldest
    /// first: (id, kind, key, detail, created). Take each with [`Store::take_event`].
    pub fn unhandled_events(&self) -> Result<Vec<Event>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, kind, key, detail, created FROM events WHERE handled = 0 ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Takes one event: true for exactly one caller. `handled = false` hands it back after
    /// a failure, so it is not lost.
    pub fn take_event(&self, id: i64, handled: bool) -> Result<bool, StoreError> {
        let n = if handled {
            self.conn.execute(
                "UPDATE events SET handled = 1 WHERE id = ?1 AND handled = 0",
                [id],
            )?
        } else {
            self.conn
                .execute("UPDATE events SET handled = 0 WHERE id = ?1", [id])?
        };
        Ok(n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(key: &str, one_shot: bool) -> FireRequest {
        FireRequest {
            key: key.into(),
            title: format!("{key} failing"),
            severity: "high".into(),
            body: "evidence".into(),
            labels: vec!["incident".into()],
            one_shot,
        }
    }

    #[test]
    fn fire_refire_recover_reopen_and_mute() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("s.db");
        let mut a = Store::open(&path).unwrap();
        let mut b = Store::open(&path).unwrap();
        assert_eq!(
            a.incident_fire(&req("check:x", false), 10).unwrap(),
            Fired::Opened
        );
        assert_eq!(
            b.incident_fire(&req("check:x", false), 11).unwrap(),
            Fired::AlreadyFiring,
            "a second watcher files nothing"
        );
        assert!(a.incident_recover("check:x", "ok again", true, 20).unwrap());
        assert!(!b.incident_recover("check:x", "ok again", true, 21).unwrap());
        assert_eq!(
            b.incident_fire(&req("check:x", false), 30).unwrap(),
            Fired::Reopened
        );
        assert_eq!(
            a.incident_fire(&req("deploy:t", true), 30).unwrap(),
            Fired::Opened
        );
        assert_eq!(
            a.incident_fire(&req("deploy:t", true), 31).unwrap(),
            Fired::Refired
        );
        a.mute("check:y", 100, "known", "me", 30).unwrap();
        assert_eq!(
            a.incident_fire(&req("check:y", false), 40).unwrap(),
            Fired::Muted
        );
        assert_eq!(
            a.incident_fire(&req("check:y", false), 101).unwrap(),
            Fired::Opened
        );
        let inc = a.incidents().unwrap();
        let x = inc.iter().find(|i| i.key == "check:x").unwrap();
        assert_eq!(
            (x.occurrences, x.state.as_str(), x.firing),
            (2, "open", true)
        );
        // Outbox: per key in order, one lease at a time.
        let r1 = a.outbox_claim("w1", 200, 60).unwrap().unwrap();
        assert_eq!((r1.key.as_str(), r1.action.as_str()), ("check:x", "open"));
        let r2 = b.outbox_claim("w2", 200, 60).unwrap().unwrap();
        assert_eq!(r2.key, "deploy:t", "check:x's next row waits for its first");
        a.outbox_retry(r1.id, "nobody", "boom", 0).unwrap();
        let held: i64 = a
            .conn
            .query_row(
                "SELECT lease_until FROM incident_outbox WHERE id = ?1",
                [r1.id],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(held, 260, "only the lease's holder releases it");
        a.outbox_retry(r1.id, "w1", "boom", 500).unwrap();
        let r3 = a.outbox_claim("w1", 200, 60).unwrap().unwrap();
        assert_eq!(r3.key, "check:y");
        assert!(a.outbox_claim("w1", 200, 60).unwrap().is_none());
        let again = a.outbox_claim("w1", 500, 60).unwrap().unwrap();
        assert_eq!((again.id, again.attempts), (r1.id, 2));
        a.outbox_done(again.id, "w1").unwrap();
        let next = a.outbox_claim("w1", 500, 60).unwrap().unwrap();
        assert_eq!(
            (next.key.as_str(), next.action.as_str()),
            ("check:x", "resolve")
        );
        assert_eq!(a.outbox_pending().unwrap().0, 5);
    }
}
