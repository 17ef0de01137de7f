//! Headless commands: `status`, `check` and `audit verify`.

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::providers::with_timeout;
use crate::store::Store;
use crate::workspace::Workspace;

/// Refreshes every provider once and returns the state of all four panes as JSON.
pub async fn status_json(ws: &Workspace) -> Value {
    let mut providers: Vec<Value> = ws
        .registry
        .infos
        .iter()
        .map(|p| {
            json!({
                "id": p.id,
                "kind": p.kind,
                "ok": p.unavailable.is_none(),
                "error": p.unavailable,
            })
        })
        .collect();
    let mut backlog = Vec::new();
    if let Some((src, timeout)) = &ws.registry.backlog {
        match with_timeout(*timeout, src.list()).await {
            Ok(items) => {
                for i in items.unwrap_or_default() {
                    backlog.push(json!({
                        "id": i.id,
                        "title": i.title,
                        "state": i.state.as_str(),
                        "kind": i.kind.as_str(),
                        "severity": i.severity.map(|s| s.as_str()),
                        "labels": i.labels,
                        "author": i.author,
                        "created": i.created,
                        "updated": i.updated,
                        "comments": i.comments,
                        "provider": i.provider,
                    }));
                }
            }
            Err(e) => {
                for p in providers.iter_mut().filter(|p| p["id"] == src.id()) {
                    p["ok"] = json!(false);
                    p["error"] = json!(e.to_string());
                }
            }
        }
    }
    json!({
        "workspace": ws.loaded.config.workspace,
        "config": ws.loaded.source.to_string(),
        "read_only": ws.gate.read_only(),
        "backlog": backlog,
        "builds": [],
        "deploys": [],
        "health": [],
        "providers": providers,
    })
}

/// The same state as readable text.
pub fn status_text(v: &Value) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "workspace {} ({})",
        v["workspace"].as_str().unwrap_or(""),
        v["config"].as_str().unwrap_or("")
    );
    let empty = Vec::new();
    let backlog = v["backlog"].as_array().unwrap_or(&empty);
    let open = backlog.iter().filter(|i| i["state"] == "open").count();
    let _ = writeln!(out, "backlog: {open} open, {} closed", backlog.len() - open);
    for i in backlog.iter().filter(|i| i["state"] == "open") {
        let _ = writeln!(
            out,
            "  #{:<5} {:<8} {}",
            i["id"].as_str().unwrap_or(""),
            i["kind"].as_str().unwrap_or(""),
            crate::ui::text::clean(i["title"].as_str().unwrap_or(""))
        );
    }
    for pane in ["builds", "deploys", "health"] {
        let _ = writeln!(out, "{pane}: not configured");
    }
    for p in v["providers"].as_array().unwrap_or(&empty) {
        let mark = if p["ok"] == true { "ok" } else { "FAILED" };
        let _ = write!(
            out,
            "provider {} ({}): {mark}",
            p["id"].as_str().unwrap_or(""),
            p["kind"].as_str().unwrap_or("")
        );
        if let Some(e) = p["error"].as_str() {
            let _ = write!(out, ": {e}");
        }
        out.push('\n');
    }
    out
}

/// Validates the workspace and reaches each provider; returns the report and whether all passed.
pub async fn check(ws: &Workspace) -> (String, bool) {
    let mut out = String::new();
    let mut ok = true;
    let _ = writeln!(out, "config: {} — valid", ws.loaded.source);
    let _ = writeln!(out, "workspace: {}", ws.loaded.config.workspace);
    let _ = writeln!(out, "state dir: {}", ws.state_dir.display());
    match Store::open(&ws.registry.store_path) {
        Ok(s) => {
            let v = s.schema_version().unwrap_or(-1);
            let _ = writeln!(
                out,
                "store: {} (schema v{v}) — ok",
                ws.registry.store_path.display()
            );
            match s.audit_verify() {
                Ok(Ok(r)) => {
                    let _ = writeln!(out, "audit log: {} records — chain intact", r.records);
                }
                Ok(Err(e)) => {
                    ok = false;
                    let _ = writeln!(out, "audit log: {e}");
                }
                Err(e) => {
                    ok = false;
                    let _ = writeln!(out, "audit log: {e}");
                }
            }
        }
        Err(e) => {
            ok = false;
            let _ = writeln!(out, "store: {e}");
        }
    }
    let _ = writeln!(out, "theme: {}", ws.themes.by_index(ws.theme_index).name());
    for p in &ws.registry.infos {
        let line = match &p.unavailable {
            Some(why) => {
                ok = false;
                format!("FAILED: {why}")
            }
            None => match &ws.registry.backlog {
                Some((src, t)) if src.id() == p.id => match with_timeout(*t, src.list()).await {
                    Ok(items) => format!("ok ({} items)", items.map_or(0, |i| i.len())),
                    Err(e) => {
                        ok = false;
                        format!("FAILED: {e}")
                    }
                },
                _ => "ok".into(),
            },
        };
        let _ = writeln!(out, "provider {} ({}): {line}", p.id, p.kind);
    }
    (out, ok)
}
