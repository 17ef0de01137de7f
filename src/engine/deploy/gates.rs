//! Smoke gates (HTTP checks and commands) and the commands engines run, all with values passed
//! as environment variables, never spliced into a shell string.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{DeployPlan, GateRun};
use crate::engine::pipeline::step::{self, StepPlan, Tail};

/// Runs one gate against one node.
pub async fn run(plan: &DeployPlan, g: GateRun<'_>) -> Result<(), String> {
    let timeout = g.gate.timeout();
    if let Some(url) = &g.gate.http {
        // A relative gate is named by its path: the node's address is in the journal already.
        let shown = url.clone();
        let url = if url.starts_with('/') {
            let base = g
                .node_url
                .clone()
                .ok_or_else(|| format!("node {} has no address for {url}", g.node))?;
            format!("{base}{url}")
        } else {
            url.clone()
        };
        let want = g.gate.expect_status.unwrap_or(200);
        let body = g
            .gate
            .expect_body
            .as_ref()
            .map(|b| b.replace("{version}", g.version));
        let client = plan.gate_client(g.gate);
        let resp = client.get(&url, timeout).await?;
        if resp.refused() && resp.status != want {
            return Err(format!(
                "GET {shown}: {}",
                crate::engine::health::sources::refused(&client, &resp)
            ));
        }
        if resp.status != want {
            return Err(format!(
                "GET {shown} answered {} (wanted {want}): {}",
                resp.status,
                first_line(&resp.body)
            ));
        }
        if let Some(b) = body
            && !resp.body.contains(&b)
        {
            return Err(format!(
                "GET {shown} body lacks {b:?}: {}",
                first_line(&resp.body)
            ));
        }
        return Ok(());
    }
    if let (Some(base), Some(query)) = (&g.gate.prometheus, &g.gate.query) {
        return metrics_gate(&plan.gate_client(g.gate), base, query, g.gate, timeout).await;
    }
    let argv = g.gate.command.clone().unwrap_or_default();
    let env = node_env(plan, g.node, g.version, g.node_url.as_deref());
    command(plan, &format!("smoke {}", g.gate.name), argv, env, timeout).await
}

/// F5: a PromQL gate. Each measurement is a pass (every series is 1), a failure (the gate
/// fails at once), or an error (empty, NaN, unreachable): errors count against the limit and
/// never as a pass.
async fn metrics_gate(
    client: &crate::http::Client,
    base: &str,
    query: &str,
    gate: &crate::config::target::GateConfig,
    timeout: Duration,
) -> Result<(), String> {
    use crate::engine::health::rules::Reading;
    let samples = gate.samples.unwrap_or(1).clamp(1, 60);
    let limit = gate.error_limit.unwrap_or(0);
    let mut errors = Vec::new();
    for i in 0..samples {
        if i > 0 {
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        let out = crate::engine::health::sources::query_all(client, base, query, timeout).await;
        match out {
            Ok(values) if values.is_empty() => errors.push("empty result".to_string()),
            Ok(values) if values.iter().any(|v| v.is_nan()) => errors.push("NaN".to_string()),
            Ok(values) if values.iter().all(|v| *v == 1.0) => {}
            Ok(values) => {
                return Err(format!(
                    "{query} is false ({})",
                    values
                        .iter()
                        .map(|v| v.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            Err(Reading::Error(e) | Reading::Down(e)) => errors.push(e),
            Err(_) => errors.push("no answer".into()),
        }
        if errors.len() as u32 > limit {
            return Err(format!(
                "{} measurement error(s), over the limit of {limit}: {}",
                errors.len(),
                first_line(errors.last().map(String::as_str).unwrap_or(""))
            ));
        }
    }
    Ok(())
}

fn first_line(s: &str) -> String {
    // The UI sanitises again on display; the journal keeps no control characters either.
    s.lines()
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(120)
        .collect()
}

/// The environment every command for `node` gets.
pub fn node_env(
    plan: &DeployPlan,
    node: &str,
    version: &str,
    url: Option<&str>,
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = plan
        .target
        .env
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let prev = plan
        .previous
        .get(node)
        .cloned()
        .flatten()
        .unwrap_or_default();
    env.extend([
        ("FLIGHTDECK_TARGET".into(), plan.target.name.clone()),
        (
            "FLIGHTDECK_ENVIRONMENT".into(),
            plan.target.environment.clone(),
        ),
        ("FLIGHTDECK_NODE".into(), node.to_string()),
        ("FLIGHTDECK_VERSION".into(), version.to_string()),
        ("FLIGHTDECK_PREVIOUS_VERSION".into(), prev),
    ]);
    if let Some(u) = url {
        env.push(("FLIGHTDECK_NODE_URL".into(), u.to_string()));
    }
    env
}

/// Runs `argv` (no shell) in its own process group with `env`, its output appended to the
/// deploy log; killed as a group at `timeout`.
pub async fn command(
    plan: &DeployPlan,
    name: &str,
    argv: Vec<String>,
    env: Vec<(String, String)>,
    timeout: Duration,
) -> Result<(), String> {
    let code = command_output(plan, name, argv, env, timeout).await?;
    code.map(|_| ())
}

/// Like [`command`], and returns the last line the command printed on success.
pub async fn command_output(
    plan: &DeployPlan,
    name: &str,
    argv: Vec<String>,
    env: Vec<(String, String)>,
    timeout: Duration,
) -> Result<Result<String, String>, String> {
    let log = crate::paths::append_private(&plan.log_path)
        .map_err(|e| format!("cannot open {}: {e}", plan.log_path.display()))?;
    let step = StepPlan {
        name: name.to_string(),
        argv,
        env,
        dir: plan.base_dir.clone(),
        timeout,
        junit: Vec::new(),
    };
    let name = name.to_string();
    tokio::task::spawn_blocking(move || {
        let tail = Arc::new(Mutex::new(Tail::default()));
        let (exit, _, _) = step::run(&step, log, &tail, &|| false, &|_| {});
        let last = tail
            .lock()
            .map(|t| t.lines.back().cloned().unwrap_or_default())
            .unwrap_or_default();
        if exit.success() {
            Ok(last)
        } else {
            Err(format!(
                "{name}: {}; {}",
                exit.describe(timeout),
                first_line(&last)
            ))
        }
    })
    .await
    .map_err(|e| e.to_string())
}
