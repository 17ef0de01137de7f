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
        let u = url.clone();
        let resp = tokio::task::spawn_blocking(move || crate::http::get(&u, timeout))
            .await
            .map_err(|e| e.to_string())??;
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
    let argv = g.gate.command.clone().unwrap_or_default();
    let env = node_env(plan, g.node, g.version, g.node_url.as_deref());
    command(plan, &format!("smoke {}", g.gate.name), argv, env, timeout).await
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
        let (exit, _, _) = step::run(&step, log, &tail, &|| false);
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
