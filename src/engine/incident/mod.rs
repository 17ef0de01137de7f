//! The incident loop: failures become one incident per dedup key in the backlog. Fires and
//! recoveries are recorded in the store (which decides, in one transaction, whether anything
//! is filed); the [`Deliverer`] carries the queued changes to the backlog provider through the
//! gate, reconciling by dedup key before every attempt so a lost answer never files twice.

pub mod evidence;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::domain::{ItemKind, ItemState, NewItem, Severity, Timestamp};
use crate::engine::gate::Gate;
use crate::providers::{BacklogMutation, BacklogSource, with_timeout};
use crate::store::{FireRequest, OutboxRow, Store, StoreError};

/// Seconds an outbox row stays leased by one deliverer.
pub const LEASE_SECS: i64 = 60;

/// Turns the deploy and pipeline events not yet handled into fires and recoveries; returns
/// how many events were taken.
pub fn take_events(store: &mut Store, close: bool, now: Timestamp) -> Result<usize, StoreError> {
    let mut n = 0;
    for (id, kind, key, detail, created) in store.unhandled_events()? {
        // Exactly one process takes each event; a failure below hands it back.
        if !store.take_event(id, true)? {
            continue;
        }
        n += 1;
        if let Err(e) = take_event(store, close, now, &kind, key, &detail, created) {
            store.take_event(id, false)?;
            return Err(e);
        }
    }
    Ok(n)
}

/// Turns one event into a fire or a recovery.
fn take_event(
    store: &mut Store,
    close: bool,
    now: Timestamp,
    kind: &str,
    key: String,
    detail: &str,
    created: Timestamp,
) -> Result<(), StoreError> {
    {
        let d: Value = serde_json::from_str(detail).unwrap_or(Value::Null);
        let s = |k: &str| d[k].as_str().unwrap_or("").to_string();
        match kind {
            "deploy_succeeded" | "pipeline_succeeded" => {
                let body = match kind {
                    "deploy_succeeded" => format!(
                        "Deploy #{} of `{}` to `{}` succeeded at {}.",
                        d["deploy"],
                        s("to"),
                        s("target"),
                        evidence::time(created)
                    ),
                    _ => format!(
                        "{} run #{} passed at {}.",
                        s("pipeline"),
                        d["run"],
                        evidence::time(created)
                    ),
                };
                store.incident_recover(&key, &body, close, now)?;
            }
            k if k.starts_with("deploy_") => {
                let state = s("state");
                let target = s("target");
                let severity = if state == "failed_rollback" {
                    Severity::Critical
                } else {
                    Severity::High
                };
                let title = match state.as_str() {
                    "rolled_back" => format!("Deploy of {} to {target} rolled back", s("to")),
                    "failed_rollback" => format!("Rollback of {target} failed: needs a human"),
                    _ => format!("Deploy of {} to {target} failed", s("to")),
                };
                let mut body = format!(
                    "Deploy #{} of `{target}` from `{}` to `{}` ended **{}** at {}.\n\n- reason: {}\n",
                    d["deploy"],
                    d["from"].as_str().unwrap_or("-"),
                    s("to"),
                    state.replace('_', " "),
                    evidence::time(created),
                    s("reason"),
                );
                body.push_str(&evidence::context(store, Some(&target)));
                if state == "failed_rollback" {
                    body.push_str(&format!(
                        "\nNext: read its journal (Enter on `{target}` in the deploys pane), put the nodes right by hand, then free the target with `flightdeck unlock {target} LOCK_ID` (the lock id is in `flightdeck status --json`).\n"
                    ));
                }
                store.incident_fire(
                    &FireRequest {
                        key,
                        title,
                        severity: severity.as_str().into(),
                        body,
                        labels: vec!["incident".into(), "deploy".into(), target],
                        one_shot: true,
                    },
                    now,
                )?;
            }
            "pipeline_failed" => {
                let failed: Vec<String> = d["failed_tests"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|t| t.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default();
                let mut body = format!(
                    "Pipeline `{}` run {} failed on `{}` at {}{}.\n",
                    s("pipeline"),
                    d["run"],
                    s("branch"),
                    evidence::time(created),
                    d["commit"]
                        .as_str()
                        .map(|c| format!(" (commit {})", &c[..c.len().min(10)]))
                        .unwrap_or_default()
                );
                if !failed.is_empty() {
                    body.push_str(&format!("\nFailed tests:\n- {}\n", failed.join("\n- ")));
                }
                store.incident_fire(
                    &FireRequest {
                        key,
                        title: format!("{} failing on {}", s("pipeline"), s("branch")),
                        severity: Severity::Medium.as_str().into(),
                        body,
                        labels: vec!["incident".into(), "ci".into()],
                        one_shot: true,
                    },
                    now,
                )?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// Carries outbox rows to the backlog provider.
pub struct Deliverer {
    /// The store holding the outbox.
    pub store: Arc<Mutex<Store>>,
    /// Where incidents are filed.
    pub backlog: Arc<dyn BacklogSource>,
    /// Every change goes through it (refused in read-only mode: rows wait).
    pub gate: Gate,
    /// Per provider call.
    pub timeout: Duration,
    /// Who holds leases (`host:pid`).
    pub owner: String,
}

/// The line that marks a comment as the outbox row's: how a retry knows it already posted.
fn marker(id: i64) -> String {
    format!("— flightdeck incident loop, event {id}.")
}

impl Deliverer {
    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Delivers every due row; returns how many were delivered and the last error.
    pub async fn deliver(&self, now: Timestamp) -> (usize, Option<String>) {
        let mut done = 0;
        let mut last_err = None;
        let start = std::time::Instant::now();
        // A row's work is up to four provider calls: the lease outlasts them all.
        let lease = LEASE_SECS.max(4 * self.timeout.as_secs() as i64 + 60);
        // Bounded per call, so one slow provider cannot hold the loop.
        for _ in 0..50 {
            let now = now + start.elapsed().as_secs() as i64;
            let row = match self.store().outbox_claim(&self.owner, now, lease) {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(e) => {
                    last_err = Some(e.to_string());
                    break;
                }
            };
            match self.one(&row).await {
                Ok(()) => {
                    let _ = self.store().outbox_done(row.id, &self.owner);
                    done += 1;
                }
                Err(e) => {
                    // Back off 5 s, 10 s, … up to 5 min, with jitter, from now.
                    let now = now + start.elapsed().as_secs() as i64;
                    let base = (5i64 << row.attempts.clamp(0, 6) as u32).min(300);
                    let jitter = (row.id * 7 + row.attempts * 13) % (base / 5 + 1);
                    let _ = self
                        .store()
                        .outbox_retry(row.id, &self.owner, &e, now + base + jitter);
                    last_err = Some(e);
                }
            }
        }
        (done, last_err)
    }

    async fn apply(&self, change: BacklogMutation) -> Result<String, String> {
        self.gate
            .backlog(self.backlog.as_ref(), change, self.timeout)
            .await
            .map_err(|e| e.to_string())
    }

    /// One row: look the key up first (fail closed when the lookup fails), then act.
    async fn one(&self, row: &OutboxRow) -> Result<(), String> {
        let p: Value = serde_json::from_str(&row.payload).unwrap_or(Value::Null);
        let found = with_timeout(self.timeout, self.backlog.find_key(&row.key))
            .await
            .map_err(|e| format!("lookup of {}: {e}", row.key))?;
        let body = p["body"].as_str().unwrap_or("").to_string();
        let id = match (row.action.as_str(), found) {
            ("resolve", None) => return Ok(()),
            ("resolve", Some(item)) => {
                self.comment_once(&item.id, row.id, &body).await?;
                // An item that other keys were merged into stays open while one of them is.
                let others_open = self.store().incidents().is_ok_and(|all| {
                    all.iter().any(|i| {
                        i.key != row.key
                            && i.state == "open"
                            && i.item_id.as_deref() == Some(item.id.as_str())
                    })
                });
                if p["close"].as_bool().unwrap_or(true)
                    && item.state == ItemState::Open
                    && !others_open
                {
                    self.apply(BacklogMutation::SetState {
                        id: item.id.clone(),
                        state: ItemState::Closed,
                    })
                    .await?;
                }
                item.id
            }
            (_, None) => {
                let item = NewItem {
                    title: p["title"].as_str().unwrap_or(&row.key).to_string(),
                    body,
                    kind: Some(ItemKind::Incident),
                    severity: p["severity"].as_str().and_then(Severity::parse),
                    labels: p["labels"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|l| l.as_str().map(String::from))
                                .collect()
                        })
                        .unwrap_or_default(),
                    key: Some(row.key.clone()),
                };
                self.apply(BacklogMutation::Create(item)).await?
            }
            (action, Some(item)) => {
                if item.state == ItemState::Closed {
                    self.apply(BacklogMutation::SetState {
                        id: item.id.clone(),
                        state: ItemState::Open,
                    })
                    .await?;
                }
                if action != "open" {
                    let what = if action == "reopen" {
                        "Recurred after it was resolved"
                    } else {
                        "Fired again"
                    };
                    self.comment_once(&item.id, row.id, &format!("{what}.\n\n{body}"))
                        .await?;
                }
                item.id
            }
        };
        let _ = self.store().set_incident_item(&row.key, &id);
        Ok(())
    }

    /// Posts a comment unless a comment with this row's marker is already there.
    async fn comment_once(&self, item: &str, row: i64, body: &str) -> Result<(), String> {
        let mark = marker(row);
        let comments = with_timeout(self.timeout, self.backlog.comments(item))
            .await
            .map_err(|e| format!("comments of {item}: {e}"))?;
        if comments.iter().any(|c| c.body.contains(&mark)) {
            return Ok(());
        }
        self.apply(BacklogMutation::Comment {
            id: item.to_string(),
            body: format!("{body}\n\n{mark}"),
        })
        .await
        .map(|_| ())
    }
}

#[cfg(test)]
mod tests;
