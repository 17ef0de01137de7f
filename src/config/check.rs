//! `[[checks]]`: health checks, their thresholds, forecasts and remediations.

use serde::Deserialize;

use super::http;
use crate::domain::Severity;
use crate::engine::health::forecast::Method;
use crate::engine::health::promtext::Aggregate;

/// What a check measures.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    /// `GET` a URL (or each node of a target): status, latency, optional body match.
    Http,
    /// This machine: `metric = "cpu" | "memory" | "disk" | "load"`.
    Host,
    /// Scrape a Prometheus text-format `/metrics` endpoint and select one series.
    Metrics,
    /// An instant or range PromQL query against a `prometheus` provider.
    Prometheus,
    /// The active alerts of an `alertmanager` provider.
    Alertmanager,
}

impl CheckKind {
    /// The config name.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::Http => "http",
            CheckKind::Host => "host",
            CheckKind::Metrics => "metrics",
            CheckKind::Prometheus => "prometheus",
            CheckKind::Alertmanager => "alertmanager",
        }
    }
}

/// What to do when a check goes bad: run a script or a playbook.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RemediationMode {
    /// Shown on the check; one confirmed key runs it.
    #[default]
    Propose,
    /// Runs by itself within its bounds (never in read-only mode), audited.
    Auto,
}

/// `remediate = { ... }` on a check.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RemediationConfig {
    /// Shown as the action's name ("add a worker").
    pub name: String,
    /// argv of a script; it gets `FLIGHTDECK_CHECK`, `FLIGHTDECK_VALUE`, `FLIGHTDECK_CAPACITY`.
    pub run: Option<Vec<String>>,
    /// An Ansible playbook run with `ansible-playbook` (extra var `capacity`).
    pub playbook: Option<String>,
    /// `propose` (default) or `auto`.
    #[serde(default)]
    pub mode: RemediationMode,
    /// Capacity the action starts from (default: `min`).
    pub capacity: Option<u32>,
    /// Lowest capacity the action may leave (default 1).
    pub min: Option<u32>,
    /// Highest capacity the action may reach (default: `min`).
    pub max: Option<u32>,
    /// Seconds before the action may run again (default 600).
    pub cooldown_secs: Option<u64>,
}

/// `[[checks]]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CheckConfig {
    /// Unique name.
    pub name: String,
    /// What it measures.
    pub kind: CheckKind,
    /// Groups checks in the health pane (default: the target, else the kind).
    pub service: Option<String>,
    /// `http`, `metrics`: the URL.
    pub url: Option<String>,
    /// `http`, `metrics`: probe each node of this deploy target at `path` instead of `url`.
    /// A check on a target is held (not filed) while that target deploys.
    pub target: Option<String>,
    /// With `target`: the path on each node (`/healthz`).
    pub path: Option<String>,
    /// `http`: the status that counts as up (default 200).
    pub expect_status: Option<u16>,
    /// `http`: a string the body must contain.
    pub expect_body: Option<String>,
    /// `host`: `cpu`, `memory`, `disk` (of `path`, default `/`) or `load`.
    pub metric: Option<String>,
    /// `metrics`: a selector, `name` or `name{label="value"}`.
    pub series: Option<String>,
    /// `metrics`: how matching series become one value (default `sum`).
    #[serde(default)]
    pub aggregate: Aggregate,
    /// `metrics`: the series is a counter; the value is its increase per second.
    #[serde(default)]
    pub rate: bool,
    /// `prometheus`, `alertmanager`: the provider id.
    pub provider: Option<String>,
    /// `prometheus`: the PromQL expression.
    pub query: Option<String>,
    /// `prometheus`: also fetch this many seconds of range for the chart and forecast.
    pub range_secs: Option<u64>,
    /// `prometheus`: an empty result fails the check (default true).
    pub must_have_data: Option<bool>,
    /// `prometheus`: an empty result counts as healthy (default false).
    #[serde(default)]
    pub empty_is_healthy: bool,
    /// `alertmanager`: only alerts with these `label=value` pairs.
    #[serde(default)]
    pub matchers: Vec<String>,
    /// Seconds between runs (default 15).
    pub interval_secs: Option<u64>,
    /// Seconds a run may take (default 5).
    pub timeout_secs: Option<u64>,
    /// Value at which the check warns.
    pub warn: Option<f64>,
    /// Value at which the check is critical.
    pub crit: Option<f64>,
    /// Lower values are worse (free space, request rate).
    #[serde(default)]
    pub below: bool,
    /// Unit shown after the value (`%`, `ms`, `req/s`).
    pub unit: Option<String>,
    /// Seconds a critical status must last before it fires (default 30).
    pub for_secs: Option<u64>,
    /// Seconds it must stay healthy before a fired check counts as recovered (default 120).
    pub recover_secs: Option<u64>,
    /// Severity of the incident it files (default `high`).
    pub severity: Option<Severity>,
    /// File incidents when it fires (default true).
    pub incident: Option<bool>,
    /// Forecast the series toward `crit` (else `warn`) with this method (`linear`, `holt`).
    pub forecast: Option<Method>,
    /// Seconds of samples the forecast fits (default 900).
    pub forecast_window_secs: Option<u64>,
    /// Seconds ahead a forecast breach warns (default 21600).
    pub forecast_horizon_secs: Option<u64>,
    /// What to run when it goes bad.
    pub remediate: Option<RemediationConfig>,
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

impl CheckConfig {
    /// Its HTTP keys.
    pub fn http(&self) -> http::HttpLayer<'_> {
        http::HttpLayer::of(&self.tls, &self.auth, &self.headers, self.keep_alive)
    }

    /// The group it shows under.
    pub fn service(&self) -> String {
        self.service
            .clone()
            .or_else(|| self.target.clone())
            .unwrap_or_else(|| self.kind.as_str().to_string())
    }

    /// Seconds between runs.
    pub fn interval(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.interval_secs.unwrap_or(15).max(1))
    }

    /// Seconds a run may take.
    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.timeout_secs.unwrap_or(5).max(1))
    }
}

/// Checks one `[[checks]]` entry; the error names the key.
pub fn validate(c: &CheckConfig) -> Result<(), (&'static str, String)> {
    if c.name.trim().is_empty() {
        return Err(("name", "must not be empty".into()));
    }
    let need = |v: bool, key: &'static str, what: &str| {
        if v {
            Ok(())
        } else {
            Err((key, format!("a {} check needs {what}", c.kind.as_str())))
        }
    };
    match c.kind {
        CheckKind::Http => need(
            c.url.is_some() != (c.target.is_some() && c.path.is_some()),
            "url",
            "either `url` or both `target` and `path`",
        )?,
        CheckKind::Metrics => {
            need(
                c.url.is_some() != (c.target.is_some() && c.path.is_some()),
                "url",
                "either `url` or both `target` and `path`",
            )?;
            let sel = c
                .series
                .as_deref()
                .ok_or(("series", "a metrics check needs `series`".to_string()))?;
            crate::engine::health::promtext::Selector::parse(sel).map_err(|e| ("series", e))?;
        }
        CheckKind::Host => {
            let m = c.metric.as_deref().unwrap_or_default();
            if !["cpu", "memory", "disk", "load"].contains(&m) {
                return Err((
                    "metric",
                    format!("a host check's metric is cpu, memory, disk or load, not {m:?}"),
                ));
            }
        }
        CheckKind::Prometheus => {
            need(c.provider.is_some(), "provider", "`provider`")?;
            need(c.query.is_some(), "query", "`query`")?;
        }
        CheckKind::Alertmanager => need(c.provider.is_some(), "provider", "`provider`")?,
    }
    if let (Some(w), Some(k)) = (c.warn, c.crit) {
        let ordered = if c.below { w >= k } else { w <= k };
        if !ordered {
            return Err((
                "warn",
                format!(
                    "warn ({w}) must come before crit ({k}) ({})",
                    if c.below {
                        "below = true: warn ≥ crit"
                    } else {
                        "warn ≤ crit"
                    }
                ),
            ));
        }
    }
    if let Some(r) = &c.remediate {
        if r.run.is_some() == r.playbook.is_some() {
            return Err((
                "remediate",
                "needs exactly one of `run` or `playbook`".into(),
            ));
        }
        if let (Some(lo), Some(hi)) = (r.min, r.max)
            && lo > hi
        {
            return Err(("remediate", format!("min ({lo}) is above max ({hi})")));
        }
    }
    Ok(())
}
