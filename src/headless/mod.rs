//! Headless commands: `status`, `check` and `run`.

pub mod deploy;
mod reach;
pub mod run;
pub mod silence;

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::providers::with_timeout;
use crate::store::Store;
use crate::workspace::Workspace;

/// Reaches a GitHub provider: its token's source (redacted), scopes, rate limit and repos.
async fn github_check(ws: &Workspace, id: &str) -> Result<String, String> {
    let (_, client, token) = ws
        .registry
        .github
        .iter()
        .find(|g| g.0 == id)
        .ok_or("no client")?;
    let who = match token {
        Some(t) => format!("token from {} {}", t.source, t.redacted()),
        None => "no token: anonymous, 60 requests an hour".into(),
    };
    client
        .send(http::Method::GET, "/rate_limit", None)
        .await
        .map_err(|e| format!("{who}: {e}"))?;
    let b = client.budget();
    let mut repos = Vec::new();
    let conf = ws.loaded.config.providers.iter().find(|p| p.id == id);
    for r in conf.map(|p| p.repos.as_slice()).unwrap_or_default() {
        match client.get(&format!("/repos/{r}")).await {
            Ok(_) => repos.push(format!("{r} ✓")),
            Err(e) => return Err(format!("{who}; repo {r}: {e}")),
        }
    }
    if let Some((src, t)) = ws.registry.backlog.as_ref().filter(|(s, _)| s.id() == id) {
        let items = with_timeout(*t, src.list(true))
            .await
            .map_err(|e| format!("{who}; issues: {e}"))?;
        repos.push(format!("issues: {}", items.map_or(0, |i| i.len())));
    }
    if let Some((src, t)) = ws.registry.builds.as_ref().filter(|(s, _)| s.id() == id) {
        let runs = with_timeout(*t, src.runs(true))
            .await
            .map_err(|e| format!("{who}; runs: {e}"))?;
        repos.push(format!("runs: {}", runs.map_or(0, |r| r.len())));
    }
    Ok(format!(
        "{who}; scopes: {}; rate limit {}/{} until {}; {}",
        b.scopes
            .as_deref()
            .filter(|s| !s.is_empty())
            .unwrap_or("none reported"),
        b.remaining.map_or("?".into(), |r| r.to_string()),
        b.limit.map_or("?".into(), |r| r.to_string()),
        b.reset
            .map_or("?".into(), crate::providers::github::client::clock),
        repos.join(", ")
    ))
}

/// Asks a provider no pane feeds from whether it answers: GitHub's rate limit (free of
/// charge), a Prometheus's or Alertmanager's readiness; the local store always does.
async fn reach_quietly(ws: &Workspace, id: &str) -> Result<(), String> {
    let kind = ws
        .registry
        .infos
        .iter()
        .find(|p| p.id == id)
        .map(|p| p.kind.as_str());
    match kind {
        Some("github") => {
            let (_, client, _) = ws
                .registry
                .github
                .iter()
                .find(|g| g.0 == id)
                .ok_or("no client")?;
            with_timeout(
                std::time::Duration::from_secs(10),
                client.send(http::Method::GET, "/rate_limit", None),
            )
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
        }
        Some("prometheus" | "alertmanager") => reach::provider(ws, id).await.map(|_| ()),
        _ => Ok(()),
    }
}

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
                "feeds": p.feeds,
            })
        })
        .collect();
    let mut backlog = Vec::new();
    if let Some((src, timeout)) = &ws.registry.backlog {
        match with_timeout(*timeout, src.list(true)).await {
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
                        "assignee": i.assignee,
                        "auto": i.auto,
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
    let mut builds = Vec::new();
    if let Some((src, timeout)) = &ws.registry.builds {
        match with_timeout(*timeout, src.runs(true)).await {
            Ok(runs) => builds = runs.unwrap_or_default().iter().map(run_json).collect(),
            Err(e) => {
                for p in providers.iter_mut().filter(|p| p["id"] == src.id()) {
                    p["ok"] = json!(false);
                    p["error"] = json!(e.to_string());
                }
            }
        }
    }
    // `ok` means the provider answered: those no pane asked are asked now.
    let asked: Vec<&str> = [
        ws.registry.backlog.as_ref().map(|(s, _)| s.id()),
        ws.registry.builds.as_ref().map(|(s, _)| s.id()),
    ]
    .into_iter()
    .flatten()
    .collect();
    let unasked: Vec<String> = providers
        .iter()
        .filter(|p| p["ok"] == true && !asked.contains(&p["id"].as_str().unwrap_or("")))
        .filter_map(|p| p["id"].as_str().map(str::to_string))
        .collect();
    let answers = futures::future::join_all(unasked.iter().map(|id| reach_quietly(ws, id))).await;
    for (id, answer) in unasked.iter().zip(answers) {
        if let Err(e) = answer {
            for p in providers.iter_mut().filter(|p| p["id"] == id.as_str()) {
                p["ok"] = json!(false);
                p["error"] = json!(e);
            }
        }
    }
    let releases = Store::open(&ws.registry.store_path)
        .and_then(|s| s.releases())
        .map(|r| serde_json::to_value(r).unwrap_or_default())
        .unwrap_or_default();
    let deploys: Vec<Value> = match Store::open(&ws.registry.store_path) {
        Ok(store) => ws
            .targets
            .iter()
            .map(|t| match crate::engine::deploy::view::target_view(&store, t) {
                Ok(v) => serde_json::to_value(v).unwrap_or_default(),
                Err(e) => json!({"target": t.name, "state": "unknown", "error": e.to_string(), "nodes": []}),
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    json!({
        "workspace": ws.loaded.config.workspace,
        "config": ws.loaded.source.to_string(),
        "read_only": ws.gate.read_only(),
        "backlog": backlog,
        "builds": builds,
        "releases": releases,
        "pipelines": ws.pipelines.iter().map(|p| p.name.clone()).collect::<Vec<_>>(),
        "deploys": deploys,
        "health": health_json(ws),
        "incidents": Store::open(&ws.registry.store_path)
            .and_then(|s| s.incidents())
            .map(|r| serde_json::to_value(r).unwrap_or_default())
            .unwrap_or_default(),
        "providers": providers,
    })
}

/// The checks' latest verdicts as the monitor (a cockpit or `watch`) saved them; a check
/// that nothing has run yet is `unknown`.
fn health_json(ws: &Workspace) -> Vec<Value> {
    let saved = Store::open(&ws.registry.store_path)
        .and_then(|s| s.checks())
        .unwrap_or_default();
    let specs = crate::engine::health::spec::build(
        &ws.checks,
        &ws.loaded.config.http,
        &ws.loaded.config.providers,
        &ws.targets,
    );
    let mut out: Vec<Value> = Vec::new();
    for s in &specs {
        let mine: Vec<&crate::domain::Check> = saved
            .iter()
            .filter(|c| c.check == s.name || c.check.starts_with(&format!("{}: ", s.name)))
            .collect();
        if mine.is_empty() {
            out.push(json!({
                "check": s.name, "service": s.service, "status": "unknown", "value": null,
                "unit": s.unit, "forecast": null, "since": null, "firing": false,
                "detail": "not run yet (start the cockpit or `flightdeck watch`)", "updated": null,
            }));
        }
        for c in mine {
            out.push(json!({
                "check": c.check, "service": c.service, "status": c.status.as_str(),
                "value": c.value, "unit": c.unit, "forecast": c.forecast, "since": c.since,
                "firing": c.firing, "detail": c.detail, "updated": c.updated,
                "insecure": c.insecure,
                "remedy": c.remedy,
            }));
        }
    }
    out
}

/// One run in the `status --json` shape.
fn run_json(r: &crate::domain::Run) -> Value {
    let t = r.tests.unwrap_or_default();
    json!({
        "id": r.id,
        "pipeline": r.pipeline,
        "number": r.number,
        "status": r.status.as_str(),
        "provider": r.provider,
        "commit": r.commit,
        "branch": r.branch,
        "trigger": r.trigger,
        "actor": r.actor,
        "started": r.started,
        "finished": r.finished,
        "tests": {"passed": t.passed, "failed": t.failed, "skipped": t.skipped},
        "failed_tests": r.failed_tests,
        "flaky_tests": r.flaky_tests,
        "steps": r.steps.iter().map(|s| json!({
            "name": s.name, "status": s.status.as_str(), "exit_code": s.exit_code, "duration_ms": s.duration_ms,
        })).collect::<Vec<_>>(),
        "log": r.log_path,
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
            "  {:<6} {:<8} {}",
            crate::domain::backlog::item_ref(i["id"].as_str().unwrap_or("")),
            i["kind"].as_str().unwrap_or(""),
            crate::ui::text::clean(i["title"].as_str().unwrap_or(""))
        );
    }
    let builds = v["builds"].as_array().unwrap_or(&empty);
    let remote = builds.iter().any(|r| r["provider"] != "local");
    if v["pipelines"].as_array().is_none_or(|p| p.is_empty()) && !remote {
        let _ = writeln!(out, "builds: not configured");
    } else {
        let _ = writeln!(out, "builds: {}", crate::domain::count(builds.len(), "run"));
        for r in builds.iter().take(10) {
            let _ = writeln!(
                out,
                "  {} #{:<4} {:<9} tests {}/{} passed",
                r["pipeline"].as_str().unwrap_or(""),
                r["number"],
                r["status"].as_str().unwrap_or(""),
                r["tests"]["passed"],
                r["tests"]["passed"].as_u64().unwrap_or(0)
                    + r["tests"]["failed"].as_u64().unwrap_or(0),
            );
        }
    }
    let deploys = v["deploys"].as_array().unwrap_or(&empty);
    if deploys.is_empty() {
        let _ = writeln!(out, "deploys: not configured");
    }
    for d in deploys {
        let _ = write!(
            out,
            "deploys: {} ({}) on {}, last deploy {}",
            d["target"].as_str().unwrap_or(""),
            d["environment"].as_str().unwrap_or(""),
            d["version"].as_str().unwrap_or("nothing"),
            d["state"].as_str().unwrap_or("")
        );
        if let Some(l) = d["lock"].as_object() {
            let _ = write!(
                out,
                ", locked by deploy #{} (lock id {})",
                l["deploy_id"],
                l["lock_id"].as_str().unwrap_or("")
            );
        }
        out.push('\n');
        for n in d["nodes"].as_array().unwrap_or(&empty) {
            let _ = writeln!(
                out,
                "  {:<16} {:<10} {}",
                n["name"].as_str().unwrap_or(""),
                n["version"].as_str().unwrap_or("-"),
                n["state"].as_str().unwrap_or("")
            );
        }
    }
    let health = v["health"].as_array().unwrap_or(&empty);
    if health.is_empty() {
        let _ = writeln!(out, "health: not configured");
    } else {
        let idle =
            |c: &&Value| c["status"] == "unknown" && c["detail"] == crate::domain::NOT_DEPLOYED;
        let bad = health
            .iter()
            .filter(|c| c["status"] != "ok" && !idle(c))
            .count();
        let waiting = health.iter().filter(idle).count();
        let _ = writeln!(
            out,
            "health: {}, {bad} not ok{}",
            crate::domain::count(health.len(), "check"),
            if waiting > 0 {
                format!(", {waiting} not deployed yet")
            } else {
                String::new()
            }
        );
        // Not ok, and ok only because its certificates go unverified.
        for c in health
            .iter()
            .filter(|c| c["status"] != "ok" || c["insecure"] == true)
        {
            let mark = if c["insecure"] == true {
                "TLS UNVERIFIED · "
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "  {:<8} {:<36} {mark}{}",
                c["status"].as_str().unwrap_or(""),
                crate::ui::text::clean(c["check"].as_str().unwrap_or("")),
                crate::ui::text::clean(c["detail"].as_str().unwrap_or(""))
            );
        }
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
                    let records = crate::domain::count(r.records.max(0) as usize, "record");
                    let _ = writeln!(out, "audit log: {records} — chain intact");
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
                _ if p.kind == "github" => match github_check(ws, &p.id).await {
                    Ok(what) => format!("ok ({what})"),
                    Err(e) => {
                        ok = false;
                        format!("FAILED: {e}")
                    }
                },
                Some((src, t)) if src.id() == p.id => {
                    match with_timeout(*t, src.list(true)).await {
                        Ok(items) => format!(
                            "ok ({})",
                            crate::domain::count(items.map_or(0, |i| i.len()), "item")
                        ),
                        Err(e) => {
                            ok = false;
                            format!("FAILED: {e}")
                        }
                    }
                }
                _ if p.kind == "prometheus" || p.kind == "alertmanager" => {
                    match reach::provider(ws, &p.id).await {
                        Ok(what) => format!("ok ({what})"),
                        Err(e) => {
                            ok = false;
                            format!("FAILED: {e}")
                        }
                    }
                }
                _ => "ok".into(),
            },
        };
        let _ = writeln!(out, "provider {} ({}): {line}", p.id, p.kind);
    }
    for t in &ws.targets {
        let line = match crate::engine::deploy::launch::check_target(t, &ws.base_dir) {
            Ok(what) => format!("ok ({what})"),
            Err(e) => {
                ok = false;
                format!("FAILED: {e}")
            }
        };
        let _ = writeln!(
            out,
            "target {} ({}, {}): {line}",
            t.name,
            t.environment,
            t.engine.as_str()
        );
    }
    for p in &ws.pipelines {
        let missing = std::iter::once(&p.dir)
            .chain(p.steps.iter().map(|s| &s.dir))
            .find(|d| !d.is_dir());
        let line = match missing {
            Some(d) => {
                ok = false;
                format!("FAILED: working directory {} does not exist", d.display())
            }
            None => format!("ok ({})", crate::domain::count(p.steps.len(), "step")),
        };
        let _ = writeln!(out, "pipeline {}: {line}", p.name);
    }
    let (lines, reached) = reach::endpoints(ws).await;
    out.push_str(&lines);
    (out, ok && reached)
}
