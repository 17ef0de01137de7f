//! Triage of incidents in the local backlog: acknowledge, assign, merge one into another,
//! dismiss (close and mute its key for a while).

use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::items::{found, parse_id};
use super::{Store, StoreError};
use crate::domain::Timestamp;

impl Store {
    /// Labels the item `acked` and says who acknowledged it.
    pub fn acknowledge(&mut self, id: &str, actor: &str, now: Timestamp) -> Result<(), StoreError> {
        let item = self.get_item("local", id)?;
        let mut labels = item.labels.clone();
        if !labels.iter().any(|l| l == "acked") {
            labels.push("acked".into());
            labels.sort();
        }
        self.set_labels(id, &labels, now)?;
        self.add_comment(id, actor, &format!("Acknowledged by {actor}."), now)
    }

    /// Assigns the item to `who` (`None` unassigns).
    pub fn assign(&self, id: &str, who: Option<&str>, now: Timestamp) -> Result<(), StoreError> {
        let n = parse_id(id)?;
        let changed = self.conn.execute(
            "UPDATE items SET assignee = ?2, updated = ?3 WHERE id = ?1",
            params![n, who, now],
        )?;
        found(changed, id)
    }

    /// Merges `id` into `into`: both get a comment, `id` closes, and its dedup key now
    /// finds `into`, so later fires land there.
    pub fn merge(
        &mut self,
        id: &str,
        into: &str,
        actor: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let (a, b) = (parse_id(id)?, parse_id(into)?);
        if a == b {
            return Err(StoreError::Conflict(
                "an item cannot be merged into itself".into(),
            ));
        }
        let target = self.get_item("local", into)?;
        let item = self.get_item("local", id)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let key: Option<String> = tx
            .query_row("SELECT dedup_key FROM items WHERE id = ?1", [a], |r| {
                r.get(0)
            })
            .optional()?
            .flatten();
        if let Some(k) = &key {
            tx.execute("UPDATE items SET dedup_key = NULL WHERE id = ?1", [a])?;
            tx.execute(
                "INSERT INTO item_aliases (key, item_id) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET item_id = ?2",
                params![k, b],
            )?;
            tx.execute(
                "UPDATE incidents SET item_id = ?2 WHERE key = ?1",
                params![k, into],
            )?;
        }
        // Aliases that pointed at the merged item follow it.
        tx.execute(
            "UPDATE item_aliases SET item_id = ?2 WHERE item_id = ?1",
            [a, b],
        )?;
        tx.execute(
            "UPDATE items SET state = 'closed', updated = ?2 WHERE id = ?1",
            params![a, now],
        )?;
        for (on, body) in [
            (a, format!("Merged into #{} by {actor}.", target.id)),
            (
                b,
                format!(
                    "Merged #{} ({}) into this, by {actor}.",
                    item.id, item.title
                ),
            ),
        ] {
            tx.execute(
                "INSERT INTO comments (item_id, author, body, created) VALUES (?1, ?2, ?3, ?4)",
                params![on, actor, body, now],
            )?;
        }
        tx.execute(
            "UPDATE items SET updated = ?2 WHERE id = ?1",
            params![b, now],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Closes the item and mutes its dedup key, and the keys merged into it, for `hours`:
    /// the same failures file nothing until then. Returns the keys muted.
    pub fn dismiss(
        &mut self,
        id: &str,
        hours: u64,
        actor: &str,
        now: Timestamp,
    ) -> Result<Vec<String>, StoreError> {
        let n = parse_id(id)?;
        let own: Option<String> = self
            .conn
            .query_row("SELECT dedup_key FROM items WHERE id = ?1", [n], |r| {
                r.get(0)
            })
            .optional()?
            .ok_or_else(|| StoreError::NoSuchItem(id.to_string()))?;
        let mut keys: Vec<String> = own.into_iter().collect();
        {
            let mut stmt = self
                .conn
                .prepare("SELECT key FROM item_aliases WHERE item_id = ?1 ORDER BY key")?;
            let rows = stmt.query_map([n], |r| r.get::<_, String>(0))?;
            for k in rows {
                keys.push(k?);
            }
        }
        let until = now + hours as i64 * 3600;
        let text = if keys.is_empty() {
            format!("Dismissed by {actor}.")
        } else {
            let list: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
            format!(
                "Dismissed by {actor}; {} muted for {hours} h.",
                list.join(", ")
            )
        };
        self.add_comment(id, actor, &text, now)?;
        self.set_state(id, crate::domain::ItemState::Closed, now)?;
        for k in &keys {
            self.mute(k, until, &format!("dismissed #{id}"), actor, now)?;
            self.resolve_incident(k, now)?;
        }
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ItemKind, ItemState, NewItem};
    use crate::store::FireRequest;

    fn incident(s: &Store, key: &str) -> String {
        s.create_item(
            &NewItem {
                title: format!("{key} down"),
                kind: Some(ItemKind::Incident),
                key: Some(key.into()),
                ..NewItem::default()
            },
            "watch",
            1,
        )
        .unwrap()
    }

    #[test]
    fn ack_assign_merge_dismiss() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = Store::open(&tmp.path().join("s.db")).unwrap();
        let a = incident(&s, "check:a");
        let b = incident(&s, "check:b");
        assert!(s.get_item("local", &a).unwrap().auto);
        s.acknowledge(&a, "ana", 2).unwrap();
        assert_eq!(s.get_item("local", &a).unwrap().labels, ["acked"]);
        s.assign(&a, Some("bo"), 3).unwrap();
        assert_eq!(
            s.get_item("local", &a).unwrap().assignee.as_deref(),
            Some("bo")
        );
        assert!(s.merge(&a, &a, "ana", 4).is_err());
        s.merge(&b, &a, "ana", 4).unwrap();
        assert_eq!(s.get_item("local", &b).unwrap().state, ItemState::Closed);
        let found = s.item_by_key("local", "check:b").unwrap().unwrap();
        assert_eq!(
            found.id, a,
            "the merged key finds the item it was merged into"
        );
        assert_eq!(s.item_by_key("local", "check:a").unwrap().unwrap().id, a);
        s.incident_fire(
            &FireRequest {
                key: "check:a".into(),
                title: "a".into(),
                severity: "high".into(),
                body: String::new(),
                labels: vec![],
                one_shot: false,
            },
            5,
        )
        .unwrap();
        assert_eq!(
            s.dismiss(&a, 24, "ana", 10).unwrap(),
            ["check:a", "check:b"],
            "the merged key is muted too"
        );
        assert_eq!(s.get_item("local", &a).unwrap().state, ItemState::Closed);
        assert_eq!(s.mutes(11).unwrap().len(), 2);
        assert!(
            s.mutes(10 + 24 * 3600).unwrap().is_empty(),
            "the mute expires"
        );
        assert_eq!(s.incidents().unwrap()[0].state, "resolved");
    }
}
