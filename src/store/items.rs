//! Local backlog items and their comments.

use rusqlite::{Row, params};

use super::{Store, StoreError};
use crate::domain::{Comment, ItemKind, ItemState, NewItem, Severity, Timestamp, WorkItem};

const SELECT_ITEM: &str = "SELECT i.id, i.title, i.body, i.state, i.kind, i.severity, i.labels,
        i.author, i.created, i.updated,
        (SELECT COUNT(*) FROM comments c WHERE c.item_id = i.id),
        i.assignee, i.dedup_key
    FROM items i";

/// Reads a text column, replacing invalid UTF-8 instead of failing the whole list.
fn text(row: &Row<'_>, idx: usize) -> rusqlite::Result<String> {
    use rusqlite::types::ValueRef;
    Ok(match row.get_ref(idx)? {
        ValueRef::Text(b) | ValueRef::Blob(b) => String::from_utf8_lossy(b).into_owned(),
        ValueRef::Null => String::new(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) => f.to_string(),
    })
}

fn item_from_row(row: &Row<'_>, provider: &str) -> rusqlite::Result<WorkItem> {
    let labels: Vec<String> = serde_json::from_str(&text(row, 6)?).unwrap_or_default();
    let severity = row
        .get::<_, Option<String>>(5)?
        .and_then(|s| Severity::parse(&s));
    Ok(WorkItem {
        id: row.get::<_, i64>(0)?.to_string(),
        provider: provider.to_string(),
        title: text(row, 1)?,
        body: text(row, 2)?,
        state: ItemState::parse(&text(row, 3)?).unwrap_or(ItemState::Open),
        kind: ItemKind::parse(&text(row, 4)?).unwrap_or(ItemKind::Issue),
        severity,
        labels,
        author: text(row, 7)?,
        created: row.get(8)?,
        updated: row.get(9)?,
        comments: row.get(10)?,
        assignee: row.get(11)?,
        // Keys the cockpit makes for its own forms start with `ui:`; the rest were filed
        // by the incident loop.
        auto: row
            .get::<_, Option<String>>(12)?
            .is_some_and(|k| !k.starts_with("ui:")),
        sections: Vec::new(),
    })
}

pub(super) fn parse_id(id: &str) -> Result<i64, StoreError> {
    id.trim_start_matches('#')
        .parse()
        .map_err(|_| StoreError::NoSuchItem(id.to_string()))
}

fn labels_json(labels: &[String]) -> String {
    serde_json::to_string(labels).unwrap_or_else(|_| "[]".into())
}

impl Store {
    /// Every item, newest first, tagged with `provider`.
    pub fn list_items(&self, provider: &str) -> Result<Vec<WorkItem>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("{SELECT_ITEM} ORDER BY i.id DESC"))?;
        let rows = stmt.query_map([], |r| item_from_row(r, provider))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One item.
    pub fn get_item(&self, provider: &str, id: &str) -> Result<WorkItem, StoreError> {
        let n = parse_id(id)?;
        let mut stmt = self
            .conn
            .prepare_cached(&format!("{SELECT_ITEM} WHERE i.id = ?1"))?;
        let mut rows = stmt.query_map([n], |r| item_from_row(r, provider))?;
        match rows.next() {
            Some(item) => Ok(item?),
            None => Err(StoreError::NoSuchItem(id.to_string())),
        }
    }

    /// The item created with this dedup key, if any.
    pub fn item_by_key(&self, provider: &str, key: &str) -> Result<Option<WorkItem>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "{SELECT_ITEM} WHERE i.dedup_key = ?1
                    OR i.id = (SELECT item_id FROM item_aliases WHERE key = ?1)
                 ORDER BY i.dedup_key = ?1 LIMIT 1"
        ))?;
        let mut rows = stmt.query_map([key], |r| item_from_row(r, provider))?;
        Ok(rows.next().transpose()?)
    }

    /// The comments of an item, oldest first.
    pub fn comments(&self, id: &str) -> Result<Vec<Comment>, StoreError> {
        let n = parse_id(id)?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT author, body, created FROM comments WHERE item_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([n], |r| {
            Ok(Comment {
                author: text(r, 0)?,
                body: text(r, 1)?,
                created: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Creates an item and returns its id.
    pub fn create_item(
        &self,
        item: &NewItem,
        author: &str,
        now: Timestamp,
    ) -> Result<String, StoreError> {
        let kind = item.kind.unwrap_or(ItemKind::Issue);
        let severity = severity_for(kind, item.severity);
        let inserted = self.conn.execute(
            "INSERT INTO items (title, body, state, kind, severity, labels, author, created, updated, dedup_key)
             VALUES (?1, ?2, 'open', ?3, ?4, ?5, ?6, ?7, ?7, ?8)
             ON CONFLICT(dedup_key) DO NOTHING",
            params![
                item.title.trim(),
                item.body,
                kind.as_str(),
                severity.map(Severity::as_str),
                labels_json(&item.labels),
                author,
                now,
                item.key
            ],
        )?;
        if inserted == 0 {
            // Created before under the same key: answer with that item.
            let id: i64 = self.conn.query_row(
                "SELECT id FROM items WHERE dedup_key = ?1",
                [&item.key],
                |r| r.get(0),
            )?;
            return Ok(id.to_string());
        }
        Ok(self.conn.last_insert_rowid().to_string())
    }

    /// Replaces the title, body, kind, severity and labels of an item.
    /// `base`, when given, must still be the item's `updated` time, else [`StoreError::Conflict`].
    pub fn update_item(
        &self,
        id: &str,
        item: &NewItem,
        base: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let kind = item.kind.unwrap_or(ItemKind::Issue);
        let changed = self.conn.execute(
            "UPDATE items SET title = ?2, body = ?3, kind = ?4, severity = ?5, labels = ?6,
             updated = ?7 WHERE id = ?1 AND (?8 IS NULL OR updated = ?8)",
            params![
                parse_id(id)?,
                item.title.trim(),
                item.body,
                kind.as_str(),
                severity_for(kind, item.severity).map(Severity::as_str),
                labels_json(&item.labels),
                now,
                base
            ],
        )?;
        if changed == 0 && base.is_some() && self.get_item("local", id).is_ok() {
            return Err(StoreError::Conflict(id.to_string()));
        }
        found(changed, id)
    }

    /// Opens or closes an item.
    pub fn set_state(&self, id: &str, state: ItemState, now: Timestamp) -> Result<(), StoreError> {
        let changed = self.conn.execute(
            "UPDATE items SET state = ?2, updated = ?3 WHERE id = ?1",
            params![parse_id(id)?, state.as_str(), now],
        )?;
        found(changed, id)
    }

    /// Replaces the labels of an item.
    pub fn set_labels(
        &self,
        id: &str,
        labels: &[String],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let changed = self.conn.execute(
            "UPDATE items SET labels = ?2, updated = ?3 WHERE id = ?1",
            params![parse_id(id)?, labels_json(labels), now],
        )?;
        found(changed, id)
    }

    /// Adds a comment to an item.
    pub fn add_comment(
        &self,
        id: &str,
        author: &str,
        body: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let n = parse_id(id)?;
        let tx = self.conn.unchecked_transaction()?;
        let changed = tx.execute(
            "UPDATE items SET updated = ?2 WHERE id = ?1",
            params![n, now],
        )?;
        found(changed, id)?;
        tx.execute(
            "INSERT INTO comments (item_id, author, body, created) VALUES (?1, ?2, ?3, ?4)",
            params![n, author, body, now],
        )?;
        tx.commit()?;
        Ok(())
    }
}

/// Only incidents carry a severity; an incident without one is `medium`.
fn severity_for(kind: ItemKind, severity: Option<Severity>) -> Option<Severity> {
    match kind {
        ItemKind::Incident => Some(severity.unwrap_or(Severity::Medium)),
        ItemKind::Issue => None,
    }
}

pub(super) fn found(changed: usize, id: &str) -> Result<(), StoreError> {
    if changed == 0 {
        Err(StoreError::NoSuchItem(id.to_string()))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let tmp = tempfile::tempdir().unwrap();
        let s = Store::open(&tmp.path().join("s.db")).unwrap();
        (tmp, s)
    }

    #[test]
    fn create_edit_comment_close_label() {
        let (_t, s) = store();
        let id = s
            .create_item(
                &NewItem {
                    title: "  Disk fills up ".into(),
                    body: "body".into(),
                    kind: Some(ItemKind::Incident),
                    severity: None,
                    labels: vec!["ops".into()],
                    key: None,
                },
                "ana",
                100,
            )
            .unwrap();
        let item = s.get_item("local", &id).unwrap();
        assert_eq!(item.title, "Disk fills up");
        assert_eq!(item.severity, Some(Severity::Medium));
        assert_eq!(item.state, ItemState::Open);
        s.add_comment(&id, "bo", "seen it", 200).unwrap();
        s.set_state(&id, ItemState::Closed, 300).unwrap();
        s.set_labels(&id, &["a".into(), "b".into()], 400).unwrap();
        let item = s.get_item("local", &id).unwrap();
        assert_eq!(item.comments, 1);
        assert_eq!(item.state, ItemState::Closed);
        assert_eq!(item.labels, vec!["a", "b"]);
        assert_eq!(item.updated, 400);
        let c = s.comments(&id).unwrap();
        assert_eq!(c[0].body, "seen it");
        assert!(matches!(
            s.update_item(
                &id,
                &NewItem {
                    title: "late".into(),
                    ..NewItem::default()
                },
                Some(1),
                450
            ),
            Err(StoreError::Conflict(_))
        ));
        s.update_item(
            &id,
            &NewItem {
                title: "t2".into(),
                kind: Some(ItemKind::Issue),
                severity: Some(Severity::High),
                ..NewItem::default()
            },
            Some(400),
            500,
        )
        .unwrap();
        let item = s.get_item("local", &id).unwrap();
        assert_eq!((item.title.as_str(), item.severity), ("t2", None));
        assert!(matches!(
            s.set_state("999", ItemState::Open, 1),
            Err(StoreError::NoSuchItem(_))
        ));
        assert!(s.add_comment("999", "x", "y", 1).is_err());
    }

    #[test]
    fn a_create_retried_with_its_key_files_nothing_twice() {
        let (_t, s) = store();
        let item = NewItem {
            title: "once".into(),
            key: Some("session-1-7".into()),
            ..NewItem::default()
        };
        let a = s.create_item(&item, "a", 1).unwrap();
        let b = s.create_item(&item, "a", 2).unwrap();
        assert_eq!(a, b);
        assert_eq!(s.list_items("local").unwrap().len(), 1);
        let keyless = NewItem { key: None, ..item };
        s.create_item(&keyless, "a", 3).unwrap();
        s.create_item(&keyless, "a", 3).unwrap();
        assert_eq!(s.list_items("local").unwrap().len(), 3, "no key, no dedup");
    }

    #[test]
    fn another_connection_sees_writes_and_data_version_moves() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("s.db");
        let a = Store::open(&path).unwrap();
        let b = Store::open(&path).unwrap();
        let v0 = b.data_version().unwrap();
        a.create_item(
            &NewItem {
                title: "x".into(),
                ..NewItem::default()
            },
            "a",
            1,
        )
        .unwrap();
        assert_ne!(b.data_version().unwrap(), v0);
        assert_eq!(b.list_items("local").unwrap().len(), 1);
    }

    #[test]
    fn invalid_utf8_is_read_lossily() {
        let (_t, s) = store();
        s.conn
            .execute(
                "INSERT INTO items (title, created, updated) VALUES (CAST(X'41FF42' AS TEXT), 1, 1)",
                [],
            )
            .unwrap();
        let items = s.list_items("local").unwrap();
        assert_eq!(items[0].title, "A\u{FFFD}B");
    }
}
