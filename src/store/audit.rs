//! The hash-chained audit log: one record before each mutating action, one after.

use rusqlite::{OptionalExtension, TransactionBehavior, params};
use sha2::{Digest, Sha256};

use super::{Store, StoreError};
use crate::domain::Timestamp;

/// The hash that precedes the first record.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// The meta key that remembers the newest record, so deleting the tail is detected too.
const HEAD_KEY: &str = "audit_head";

/// One audit record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    /// Position in the chain, from 1 with no gaps.
    pub seq: i64,
    /// When it was written.
    pub ts: Timestamp,
    /// Who acted (`user@host`).
    pub actor: String,
    /// The action's name (`create_item`, …).
    pub action: String,
    /// What it acted on (`local#12`).
    pub target: String,
    /// `intent` before the action, `ok` or `error` after.
    pub phase: String,
    /// A short description; never a secret.
    pub detail: String,
    /// Hash of the previous record.
    pub prev_hash: String,
    /// Hash of this record's fields and `prev_hash`.
    pub hash: String,
}

/// A chain that verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditReport {
    /// How many records.
    pub records: i64,
    /// Hash of the newest record.
    pub head: String,
}

/// Where and how the chain is broken.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("audit log broken at record {seq}: {reason}")]
pub struct AuditVerifyError {
    /// The first record that does not verify.
    pub seq: i64,
    /// What is wrong with it.
    pub reason: String,
}

fn record_hash(r: &AuditRecord) -> String {
    // A JSON array is an unambiguous encoding of the fields, whatever they contain.
    let canonical = serde_json::json!([
        r.seq,
        r.ts,
        r.actor,
        r.action,
        r.target,
        r.phase,
        r.detail,
        r.prev_hash
    ]);
    let digest = Sha256::digest(canonical.to_string().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl Store {
    /// Appends one record to the chain atomically and returns it.
    pub fn audit_append(
        &mut self,
        ts: Timestamp,
        actor: &str,
        action: &str,
        target: &str,
        phase: &str,
        detail: &str,
    ) -> Result<AuditRecord, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let last: Option<(i64, String)> = tx
            .query_row(
                "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let (seq, prev_hash) = match last {
            Some((seq, hash)) => (seq + 1, hash),
            None => (1, GENESIS.to_string()),
        };
        let mut rec = AuditRecord {
            seq,
            ts,
            actor: actor.into(),
            action: action.into(),
            target: target.into(),
            phase: phase.into(),
            detail: detail.into(),
            prev_hash,
            hash: String::new(),
        };
        rec.hash = record_hash(&rec);
        tx.execute(
            "INSERT INTO audit (seq, ts, actor, action, target, phase, detail, prev_hash, hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                rec.seq,
                rec.ts,
                rec.actor,
                rec.action,
                rec.target,
                rec.phase,
                rec.detail,
                rec.prev_hash,
                rec.hash
            ],
        )?;
        tx.execute(
            "INSERT INTO meta(key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![HEAD_KEY, format!("{} {}", rec.seq, rec.hash)],
        )?;
        tx.commit()?;
        Ok(rec)
    }

    /// Every audit record in order.
    pub fn audit_records(&self) -> Result<Vec<AuditRecord>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT seq, ts, actor, action, target, phase, detail, prev_hash, hash
             FROM audit ORDER BY seq",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(AuditRecord {
                seq: r.get(0)?,
                ts: r.get(1)?,
                actor: r.get(2)?,
                action: r.get(3)?,
                target: r.get(4)?,
                phase: r.get(5)?,
                detail: r.get(6)?,
                prev_hash: r.get(7)?,
                hash: r.get(8)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Checks the whole chain: hashes, links, no gaps, and the remembered head.
    pub fn audit_verify(&self) -> Result<Result<AuditReport, AuditVerifyError>, StoreError> {
        let records = self.audit_records()?;
        let head = self.meta(HEAD_KEY)?;
        Ok(verify_chain(&records, head.as_deref()))
    }
}

/// Verifies records (in `seq` order) against each other and the remembered head.
fn verify_chain(
    records: &[AuditRecord],
    head: Option<&str>,
) -> Result<AuditReport, AuditVerifyError> {
    let broken = |seq, reason: &str| AuditVerifyError {
        seq,
        reason: reason.to_string(),
    };
    let mut prev = GENESIS.to_string();
    for (i, r) in records.iter().enumerate() {
        let expected_seq = i as i64 + 1;
        if r.seq != expected_seq {
            return Err(broken(expected_seq, "record missing (deleted)"));
        }
        if r.prev_hash != prev {
            return Err(broken(r.seq, "link to the previous record does not match"));
        }
        if record_hash(r) != r.hash {
            return Err(broken(r.seq, "content does not match its hash (edited)"));
        }
        prev = r.hash.clone();
    }
    let count = records.len() as i64;
    match head {
        None if count == 0 => {}
        None => return Err(broken(count, "head marker missing")),
        Some(h) => {
            let expected = format!("{count} {prev}");
            if h != expected {
                let seq = h
                    .split(' ')
                    .next()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(count);
                return Err(broken(
                    seq,
                    "newest records missing (deleted) or head edited",
                ));
            }
        }
    }
    Ok(AuditReport {
        records: count,
        head: prev,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with(n: usize) -> (tempfile::TempDir, Store) {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = Store::open(&tmp.path().join("s.db")).unwrap();
        for i in 0..n {
            s.audit_append(
                i as i64,
                "ana@host",
                "create_item",
                "local#1",
                "intent",
                "x\ny",
            )
            .unwrap();
        }
        (tmp, s)
    }

    #[test]
    fn empty_and_intact_chains_verify() {
        let (_t, s) = store_with(0);
        assert_eq!(s.audit_verify().unwrap().unwrap().records, 0);
        let (_t, s) = store_with(5);
        let report = s.audit_verify().unwrap().unwrap();
        assert_eq!(report.records, 5);
    }

    #[test]
    fn edit_is_detected() {
        let (_t, s) = store_with(5);
        s.conn
            .execute("UPDATE audit SET detail = 'forged' WHERE seq = 3", [])
            .unwrap();
        let err = s.audit_verify().unwrap().unwrap_err();
        assert_eq!(err.seq, 3);
        assert!(err.reason.contains("edited"));
    }

    #[test]
    fn middle_and_tail_deletions_are_detected() {
        let (_t, s) = store_with(5);
        s.conn
            .execute("DELETE FROM audit WHERE seq = 2", [])
            .unwrap();
        assert_eq!(s.audit_verify().unwrap().unwrap_err().seq, 2);
        let (_t, s) = store_with(5);
        s.conn
            .execute("DELETE FROM audit WHERE seq = 5", [])
            .unwrap();
        let err = s.audit_verify().unwrap().unwrap_err();
        assert!(err.reason.contains("deleted"), "{err}");
    }

    #[test]
    fn rehashing_an_edit_still_breaks_the_next_link() {
        let (_t, mut s) = store_with(3);
        let mut recs = s.audit_records().unwrap();
        recs[0].detail = "forged".into();
        recs[0].hash = record_hash(&recs[0]);
        s.conn
            .execute(
                "UPDATE audit SET detail = ?1, hash = ?2 WHERE seq = 1",
                params![recs[0].detail, recs[0].hash],
            )
            .unwrap();
        assert_eq!(s.audit_verify().unwrap().unwrap_err().seq, 2);
        // Appending after a break keeps the break visible.
        s.audit_append(9, "a", "b", "c", "intent", "d").unwrap();
        assert!(s.audit_verify().unwrap().is_err());
    }
}
