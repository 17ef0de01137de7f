//! `[[targets]]`: where deploys go, how (engine), and the safety rails around them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::http;

/// Per-node deadline when the strategy does not set one (10 minutes).
pub const DEFAULT_NODE_DEADLINE_SECS: u64 = 600;

/// One deploy target.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    /// Unique name (`flightdeck deploy NAME VERSION`).
    pub name: String,
    /// `production`, `staging`, … (shown, and `production` is protected unless said otherwise).
    #[serde(default = "default_environment")]
    pub environment: String,
    /// Node names, in deploy order.
    #[serde(default)]
    pub nodes: Vec<String>,
    /// An Ansible inventory instead of a node list (the `ansible` engine reads hosts from it).
    pub inventory: Option<PathBuf>,
    /// How nodes are changed.
    pub engine: EngineKind,
    /// Batches, failure budget and deadline.
    #[serde(default)]
    pub strategy: StrategyConfig,
    /// Checks a node must pass after its deploy, before it returns to rotation.
    #[serde(default)]
    pub smoke: Vec<GateConfig>,
    /// Take each node out of rotation before changing it (default true).
    #[serde(default = "yes")]
    pub drain: bool,
    /// Roll back by itself when the deploy fails (default true).
    #[serde(default = "yes")]
    pub auto_rollback: bool,
    /// Ask for the target's name to be typed before deploying; default: true for `production`.
    pub protected: Option<bool>,
    /// `local-fleet`: the command a node runs (default: the built-in demo service).
    pub run: Option<Vec<String>>,
    /// `script`: one command per phase.
    #[serde(default)]
    pub script: ScriptConfig,
    /// `ansible`: the playbook and how to roll back.
    pub ansible: Option<AnsibleConfig>,
    /// `github-actions`: the workflow a deploy dispatches.
    pub github: Option<GithubDeployConfig>,
    /// Environment for every command this target runs.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Versions the cockpit offers to deploy (releases of local pipelines are offered too).
    #[serde(default)]
    pub versions: Vec<String>,
    /// A node's base URL, `{node}` standing for its name (default `http://{node}`): used by
    /// checks with `target` and by relative smoke gates.
    pub node_url: Option<String>,
    /// TLS for its nodes' checks and gates (`ca_file`, `cert_file`, `key_file`, `server_name`, `insecure_skip_verify`).
    pub tls: Option<http::TlsConfig>,
    /// Credentials (`bearer_env` | `bearer_file` | `bearer_cmd`, or `basic_user` and a password source).
    pub auth: Option<http::AuthConfig>,
    /// Extra request headers; a value may be `{ env = "NAME" }`.
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, http::HeaderValue>,
    /// Reuse connections between requests (default false).
    pub keep_alive: Option<bool>,
}

fn default_environment() -> String {
    "production".into()
}

fn yes() -> bool {
    true
}

impl TargetConfig {
    /// Its HTTP keys (the defaults of its node checks and gates).
    pub fn http(&self) -> http::HttpLayer<'_> {
        http::HttpLayer::of(&self.tls, &self.auth, &self.headers, self.keep_alive)
    }

    /// The HTTP settings of one of its gates: `[http]`, then the target's keys when the gate
    /// probes a node (a relative `http` path), then the gate's own (a prometheus gate has its
    /// provider's folded in by then).
    pub fn gate_settings(
        &self,
        defaults: &http::HttpDefaults,
        gate: &GateConfig,
    ) -> http::HttpSettings {
        if gate.http.as_deref().is_some_and(|p| p.starts_with('/')) {
            defaults.settings(&[self.http(), gate.http()])
        } else {
            defaults.settings(&[gate.http()])
        }
    }

    /// The base URL of `node`: `node_url` with `{node}` replaced, else `http://NODE`.
    pub fn node_base(&self, node: &str) -> String {
        match &self.node_url {
            Some(t) => t.replace("{node}", node).trim_end_matches('/').to_string(),
            None => format!("http://{node}"),
        }
    }

    /// Whether a deploy needs the target's name typed to confirm.
    pub fn is_protected(&self) -> bool {
        self.protected
            .unwrap_or(self.environment.eq_ignore_ascii_case("production"))
    }
}

/// Deploy engines.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum EngineKind {
    /// Nodes are local processes on loopback ports.
    LocalFleet,
    /// User commands per phase.
    Script,
    /// `ansible-playbook` on an inventory.
    Ansible,
    /// A GitHub Actions workflow, dispatched once per deploy; the environment is its one node.
    GithubActions,
}

impl EngineKind {
    /// The config name.
    pub fn as_str(self) -> &'static str {
        match self {
            EngineKind::LocalFleet => "local-fleet",
            EngineKind::Script => "script",
            EngineKind::Ansible => "ansible",
            EngineKind::GithubActions => "github-actions",
        }
    }
}

/// `strategy = { batch_size = 1, max_fail_percentage = 0, node_deadline_secs = 600 }`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct StrategyConfig {
    /// Nodes changed at once (default 1).
    pub batch_size: Option<usize>,
    /// Or a percentage of the nodes, rounded up.
    pub batch_percentage: Option<u8>,
    /// Share of nodes that may fail before the deploy aborts; exceeded, not equalled (default 0).
    pub max_fail_percentage: Option<u8>,
    /// Seconds a node has to become healthy after its deploy (default 600).
    pub node_deadline_secs: Option<u64>,
}

impl StrategyConfig {
    /// Nodes per batch for `n` nodes: at least 1, at most `n`.
    pub fn batch_size(&self, n: usize) -> usize {
        let size = match (self.batch_size, self.batch_percentage) {
            (Some(s), _) => s,
            (None, Some(p)) => (n * p as usize).div_ceil(100),
            (None, None) => 1,
        };
        size.clamp(1, n.max(1))
    }

    /// The failure budget in percent.
    pub fn max_fail_percentage(&self) -> u8 {
        self.max_fail_percentage.unwrap_or(0)
    }

    /// The per-node deadline.
    pub fn node_deadline(&self) -> Duration {
        Duration::from_secs(
            self.node_deadline_secs
                .unwrap_or(DEFAULT_NODE_DEADLINE_SECS)
                .max(1),
        )
    }
}

/// A smoke gate: an HTTP check or a command.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct GateConfig {
    /// Shown in the plan and the journal.
    pub name: String,
    /// `GET` this URL; a path (`/healthz`) is relative to the node's own address.
    pub http: Option<String>,
    /// The status the HTTP check expects (default 200).
    pub expect_status: Option<u16>,
    /// Text the HTTP body must contain; `{version}` stands for the version being deployed.
    pub expect_body: Option<String>,
    /// Or a command (argv; values arrive as `FLIGHTDECK_*` environment variables).
    pub command: Option<Vec<String>>,
    /// Or a PromQL query against this `prometheus` provider (its id, or a URL): it passes
    /// when every series of the answer is 1 (write the condition with `bool`, e.g.
    /// `sum(rate(errors_total[1m])) < bool 0.05`); an empty answer, NaN or an unreachable
    /// Prometheus is an error, never a pass.
    pub prometheus: Option<String>,
    /// The PromQL query of a `prometheus` gate.
    pub query: Option<String>,
    /// Measurements a `prometheus` gate takes, 2 s apart (default 1).
    pub samples: Option<u32>,
    /// Measurements that may be errors before the gate fails (default 0).
    pub error_limit: Option<u32>,
    /// Seconds before the gate fails (default 10).
    pub timeout_secs: Option<u64>,
    /// TLS for this endpoint (`ca_file`, `cert_file`, `key_file`, `server_name`, `insecure_skip_verify`).
    pub tls: Option<http::TlsConfig>,
    /// Credentials (`bearer_env` | `bearer_file` | `bearer_cmd`, or `basic_user` and a password source).
    pub auth: Option<http::AuthConfig>,
    /// Extra request headers; a value may be `{ env = "NAME" }`.
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, http::HeaderValue>,
    /// Reuse connections between requests (default false).
    pub keep_alive: Option<bool>,
}

impl GateConfig {
    /// Its HTTP keys.
    pub fn http(&self) -> http::HttpLayer<'_> {
        http::HttpLayer::of(&self.tls, &self.auth, &self.headers, self.keep_alive)
    }

    /// Takes `upper`'s keys (its provider's) wherever the gate sets none of its own.
    pub fn inherit(&mut self, upper: http::HttpLayer<'_>) {
        if let Some(t) = upper.tls {
            let mut merged = t.clone();
            if let Some(own) = &self.tls {
                merged.overlay(own);
            }
            self.tls = Some(merged);
        }
        if self.auth.is_none() {
            self.auth = upper.auth.cloned();
        }
        for (k, v) in upper.headers.into_iter().flatten() {
            self.headers.entry(k.clone()).or_insert_with(|| v.clone());
        }
        self.keep_alive = self.keep_alive.or(upper.keep_alive);
    }

    /// The gate's timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs.unwrap_or(10).max(1))
    }
}

/// `script = { deploy = ["./deploy.sh"], health = [...], ... }`: argv per phase; each gets
/// `FLIGHTDECK_TARGET`, `FLIGHTDECK_NODE`, `FLIGHTDECK_VERSION`, `FLIGHTDECK_PREVIOUS_VERSION`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ScriptConfig {
    /// Take the node out of rotation.
    pub drain: Option<Vec<String>>,
    /// Install the version on the node (required for `script`).
    pub deploy: Option<Vec<String>>,
    /// Exit 0 when the node is healthy; retried until the deadline.
    pub health: Option<Vec<String>>,
    /// An extra smoke test.
    pub smoke: Option<Vec<String>>,
    /// Return the node to rotation.
    pub undrain: Option<Vec<String>>,
    /// Put the previous version back (default: `deploy` with the previous version).
    pub rollback: Option<Vec<String>>,
    /// Prints the version a node runs (optional).
    pub version: Option<Vec<String>>,
}

/// `ansible = { playbook = "deploy.yml", rollback_playbook = "rollback.yml" }`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AnsibleConfig {
    /// The playbook, relative to the config file.
    pub playbook: PathBuf,
    /// A playbook for rollback (default: `playbook` with the previous version).
    pub rollback_playbook: Option<PathBuf>,
    /// Extra arguments for `ansible-playbook` (argv, no shell).
    #[serde(default)]
    pub args: Vec<String>,
}

/// `github = { provider = "gh", repo = "acme/api", workflow = "deploy.yml" }`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct GithubDeployConfig {
    /// The `github` provider whose host and token are used.
    pub provider: String,
    /// `owner/name`.
    pub repo: String,
    /// The workflow's file name (`deploy.yml`) or id.
    pub workflow: String,
    /// The branch or tag it runs on (default: the repo's default branch).
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    /// The input that receives the version (default `version`).
    pub version_input: Option<String>,
    /// Other inputs, sent as they are.
    #[serde(default)]
    pub inputs: BTreeMap<String, String>,
    /// Seconds between looks at the run (default 5).
    pub poll_secs: Option<u64>,
}

/// Checks one target; the error names the key at fault and says what is wrong.
pub(super) fn validate(t: &TargetConfig) -> Result<(), (&'static str, String)> {
    if t.name.trim().is_empty() {
        return Err(("name", "must not be empty".into()));
    }
    // The journal keys a gate by its name: two gates of one name would run as one.
    let mut gates = std::collections::BTreeSet::new();
    for g in &t.smoke {
        let kinds = [
            g.http.is_some(),
            g.command.is_some(),
            g.prometheus.is_some(),
        ];
        if kinds.iter().filter(|k| **k).count() != 1 {
            return Err((
                "smoke",
                format!(
                    "gate {:?} needs exactly one of `http`, `command` or `prometheus`",
                    g.name
                ),
            ));
        }
        if g.prometheus.is_some() != g.query.is_some() {
            return Err((
                "smoke",
                format!(
                    "smoke gate {:?}: a prometheus gate needs `query` (and only it)",
                    g.name
                ),
            ));
        }
        if !gates.insert(g.name.as_str()) {
            return Err((
                "smoke",
                format!("target {:?} has two smoke gates named {:?}", t.name, g.name),
            ));
        }
    }
    if t.engine == EngineKind::Ansible {
        if t.ansible.is_none() {
            return Err((
                "ansible",
                format!(
                    "target {:?} uses engine \"ansible\" but has no `ansible = {{ playbook = … }}`",
                    t.name
                ),
            ));
        }
        if t.inventory.is_none() {
            return Err((
                "inventory",
                format!(
                    "target {:?} uses engine \"ansible\" and needs an `inventory`",
                    t.name
                ),
            ));
        }
    } else if t.engine == EngineKind::GithubActions {
        let Some(g) = &t.github else {
            return Err((
                "github",
                format!(
                    "target {:?} uses engine \"github-actions\" but has no `github = {{ provider = …, repo = …, workflow = … }}`",
                    t.name
                ),
            ));
        };
        if g.repo.split('/').count() != 2 || g.repo.split('/').any(|p| p.is_empty() || p == "..") {
            return Err(("github", format!("repo {:?} is not `owner/name`", g.repo)));
        }
        if g.workflow.is_empty()
            || !g
                .workflow
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            return Err((
                "github",
                format!("workflow {:?} is a file name or an id", g.workflow),
            ));
        }
        if t.nodes.len() > 1 {
            return Err((
                "nodes",
                format!(
                    "target {:?}: a github-actions target deploys one environment (no node list)",
                    t.name
                ),
            ));
        }
    } else if t.nodes.is_empty() {
        return Err(("nodes", format!("target {:?} has no nodes", t.name)));
    }
    let mut seen = std::collections::BTreeSet::new();
    for n in &t.nodes {
        if n.trim().is_empty() || n.starts_with('-') || n.chars().any(char::is_control) {
            return Err(("nodes", format!("node name {n:?} is not usable")));
        }
        if !seen.insert(n) {
            return Err(("nodes", format!("node {n:?} is listed twice")));
        }
    }
    if t.engine == EngineKind::Script && t.script.deploy.as_ref().is_none_or(Vec::is_empty) {
        return Err((
            "script",
            format!(
                "target {:?} uses engine \"script\" and needs `script.deploy`",
                t.name
            ),
        ));
    }
    if let Some(p) = t.strategy.max_fail_percentage
        && p > 100
    {
        return Err(("max_fail_percentage", format!("{p} is over 100")));
    }
    if let Some(p) = t.strategy.batch_percentage
        && !(1..=100).contains(&p)
    {
        return Err(("batch_percentage", format!("{p} is not within 1..=100")));
    }
    if t.strategy.batch_size == Some(0) {
        return Err(("batch_size", "must be at least 1".into()));
    }
    if t.strategy.batch_size.is_some() && t.strategy.batch_percentage.is_some() {
        return Err((
            "batch_percentage",
            format!(
                "target {:?} sets both `batch_size` and `batch_percentage`; keep one",
                t.name
            ),
        ));
    }
    for g in &t.smoke {
        if g.command.as_ref().is_some_and(Vec::is_empty) {
            return Err(("smoke", format!("gate {:?} has an empty `command`", g.name)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_sizes_default_to_the_safe_side() {
        let s = StrategyConfig::default();
        assert_eq!(s.batch_size(10), 1);
        assert_eq!(s.max_fail_percentage(), 0);
        assert_eq!(s.node_deadline(), Duration::from_secs(600));
        let p = StrategyConfig {
            batch_percentage: Some(30),
            ..StrategyConfig::default()
        };
        assert_eq!(p.batch_size(10), 3);
        assert_eq!(p.batch_size(4), 2, "rounded up");
        let big = StrategyConfig {
            batch_size: Some(50),
            ..StrategyConfig::default()
        };
        assert_eq!(big.batch_size(3), 3);
    }
}
