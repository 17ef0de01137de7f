//! The `script` engine: the user's commands per phase. Values reach them only as environment
//! variables (`FLIGHTDECK_NODE`, `FLIGHTDECK_VERSION`, …), never spliced into a shell string.

use std::time::Duration;

use futures::future::BoxFuture;

use super::gates::{command, node_env};
use super::{DeployPlan, Engine};

/// The engine.
pub struct Script {
    plan: DeployPlan,
}

impl Script {
    /// The engine for `plan`'s target.
    pub fn new(plan: &DeployPlan) -> Script {
        Script { plan: plan.clone() }
    }

    fn phase<'a>(
        &'a self,
        phase: &'static str,
        argv: Option<&'a Vec<String>>,
        node: &'a str,
        version: &'a str,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let Some(argv) = argv else { return Ok(()) };
            let env = node_env(&self.plan, node, version, None);
            let timeout = self.plan.target.strategy.node_deadline();
            command(
                &self.plan,
                &format!("{phase} {node}"),
                argv.clone(),
                env,
                timeout,
            )
            .await
        })
    }
}

impl Engine for Script {
    fn drain<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), String>> {
        self.phase(
            "drain",
            self.plan.target.script.drain.as_ref(),
            node,
            &self.plan.to,
        )
    }

    fn deploy<'a>(&'a self, node: &'a str, version: &'a str) -> BoxFuture<'a, Result<(), String>> {
        self.phase(
            "deploy",
            self.plan.target.script.deploy.as_ref(),
            node,
            version,
        )
    }

    fn healthy<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<bool, String>> {
        Box::pin(async move {
            let Some(argv) = self.plan.target.script.health.clone() else {
                return Ok(true);
            };
            let env = node_env(&self.plan, node, &self.plan.to, None);
            Ok(command(
                &self.plan,
                &format!("health {node}"),
                argv,
                env,
                Duration::from_secs(30),
            )
            .await
            .is_ok())
        })
    }

    fn has_smoke(&self) -> bool {
        self.plan.target.script.smoke.is_some()
    }

    fn smoke<'a>(&'a self, node: &'a str, version: &'a str) -> BoxFuture<'a, Result<(), String>> {
        self.phase(
            "smoke",
            self.plan.target.script.smoke.as_ref(),
            node,
            version,
        )
    }

    fn undrain<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), String>> {
        self.phase(
            "undrain",
            self.plan.target.script.undrain.as_ref(),
            node,
            &self.plan.to,
        )
    }

    fn rollback<'a>(
        &'a self,
        node: &'a str,
        version: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), String>> {
        let s = &self.plan.target.script;
        let argv = s.rollback.as_ref().or(s.deploy.as_ref());
        self.phase("rollback", argv, node, version.unwrap_or_default())
    }

    fn node_url(&self, node: &str) -> Option<String> {
        Some(self.plan.target.node_base(node))
    }
}
