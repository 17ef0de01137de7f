//! The evidence an incident is filed with: the check and its value, a series excerpt, the
//! target's last deploy and version, the last pipeline run, and the times.

use std::fmt::Write as _;

use crate::domain::{Check, Timestamp};
use crate::store::Store;

/// A time as `2026-11-28 14:03:07 UTC`.
pub fn time(t: Timestamp) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| t.to_string())
}

/// A check's value with its unit, or "no value".
pub fn value(c: &Check) -> String {
    match c.value {
        Some(v) => format!(
            "{} {}",
            crate::engine::health::monitor::fmt_value(v),
            c.unit.as_deref().unwrap_or("")
        )
        .trim_end()
        .to_string(),
        None => "no value".into(),
    }
}

/// The last deploy of `target` and the last pipeline run, as Markdown lines.
pub fn context(store: &Store, target: Option<&str>) -> String {
    let mut out = String::new();
    if let Some(t) = target {
        match store.deploys(t, 1).ok().and_then(|d| d.into_iter().next()) {
            Some(d) => {
                let _ = writeln!(
                    out,
                    "- last deploy of `{t}`: #{} {} → `{}`, {} ({}, by {})",
                    d.id,
                    d.from.as_deref().unwrap_or("-"),
                    d.to,
                    d.state.replace('_', " "),
                    time(d.started),
                    d.actor
                );
            }
            None => {
                let _ = writeln!(out, "- no deploy of `{t}` on record");
            }
        }
    }
    if let Some(r) = store
        .list_runs("local", 1)
        .ok()
        .and_then(|r| r.into_iter().next())
    {
        let _ = writeln!(
            out,
            "- last pipeline run: {} #{} {} ({}{})",
            r.pipeline,
            r.number,
            r.status.as_str(),
            time(r.started),
            r.commit
                .as_deref()
                .map(|c| format!(", commit {}", &c[..c.len().min(10)]))
                .unwrap_or_default()
        );
    }
    out
}

/// The body of a check's incident.
pub fn for_check(store: &Store, c: &Check, target: Option<&str>, for_secs: i64) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Check **{}** ({}) is **{}**: {}.\n",
        c.check,
        c.service,
        c.status.as_str(),
        c.detail
    );
    let _ = writeln!(out, "- value: {}", value(c));
    if let Some(k) = c.crit {
        let _ = writeln!(
            out,
            "- critical at: {}",
            crate::engine::health::monitor::fmt_value(k)
        );
    }
    let _ = writeln!(
        out,
        "- bad since: {} (fired after {for_secs}s)",
        time(c.since.unwrap_or(c.updated))
    );
    let _ = writeln!(out, "- filed: {}", time(c.updated));
    out.push_str(&context(store, target));
    let recent: Vec<String> = c
        .series
        .iter()
        .rev()
        .take(12)
        .rev()
        .map(|(t, v)| {
            format!(
                "{} {}",
                time(*t).get(11..19).unwrap_or(""),
                crate::engine::health::monitor::fmt_value(*v)
            )
        })
        .collect();
    if !recent.is_empty() {
        let _ = writeln!(out, "\nRecent samples:\n\n```\n{}\n```", recent.join("\n"));
    }
    out
}
