//! A check ready to run: its source, rule and timing, built from `[[checks]]` (a check on a
//! target becomes one per node).

use std::sync::Mutex;
use std::time::Duration;

use super::forecast::Method;
use super::promtext::Selector;
use super::rules::Rule;
use super::sources::Source;
use crate::config::check::RemediationConfig;
use crate::config::http::{HttpDefaults, HttpLayer, HttpSettings};
use crate::config::{CheckConfig, CheckKind, ProviderConfig, TargetConfig};
use crate::domain::Severity;
use crate::http::Client;

/// A node of a deploy target whose address is looked up at each run (a local-fleet node
/// moves to a new port with each deploy).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeEndpoint {
    /// Target name.
    pub target: String,
    /// Node name.
    pub node: String,
    /// Path on the node.
    pub path: String,
    /// The node's base URL (`node_url`), or `None` for a local-fleet node, whose address is
    /// in the store.
    pub base: Option<String>,
}

/// One runnable check.
#[derive(Debug)]
pub struct Spec {
    /// Unique name (`name · node` for a node of a target).
    pub name: String,
    /// The config entry it comes from.
    pub config_name: String,
    /// Group shown in the pane.
    pub service: String,
    /// Where readings come from.
    pub source: Source,
    /// Resolved at each run, when the check is on a target's node.
    pub endpoint: Option<NodeEndpoint>,
    /// Thresholds and timing.
    pub rule: Rule,
    /// Time between runs.
    pub interval: Duration,
    /// Time a run may take.
    pub timeout: Duration,
    /// Unit of the value.
    pub unit: Option<String>,
    /// The deploy target it watches (held while it deploys).
    pub target: Option<String>,
    /// Severity of its incident.
    pub severity: Severity,
    /// Files incidents.
    pub incident: bool,
    /// Forecast method, if forecasting.
    pub forecast: Option<Method>,
    /// Seconds of samples the forecast fits.
    pub window: i64,
    /// Seconds ahead a breach warns.
    pub horizon: i64,
    /// What to run when it goes bad.
    pub remediate: Option<RemediationConfig>,
    /// The `prometheus` or `alertmanager` provider it asks.
    pub provider: Option<String>,
    /// The value is a counter's increase per second.
    pub rate: bool,
    /// Its certificates go unverified (`insecure_skip_verify`): the row shows a badge.
    pub insecure: bool,
}

impl Spec {
    /// The incident dedup key.
    pub fn key(&self) -> String {
        format!("check:{}", self.name)
    }
}

/// The HTTP settings of a check: `[http]`, then its target's keys (only when it probes the
/// target's nodes), its provider's, and its own.
pub fn http_settings(
    c: &CheckConfig,
    defaults: &HttpDefaults,
    providers: &[ProviderConfig],
    targets: &[TargetConfig],
) -> HttpSettings {
    let on_nodes = c.url.is_none() && matches!(c.kind, CheckKind::Http | CheckKind::Metrics);
    let target = targets
        .iter()
        .find(|t| on_nodes && Some(&t.name) == c.target.as_ref());
    let provider = providers
        .iter()
        .find(|p| Some(&p.id) == c.provider.as_ref());
    let layers: Vec<HttpLayer<'_>> = target
        .map(TargetConfig::http)
        .into_iter()
        .chain(provider.map(ProviderConfig::http))
        .chain([c.http()])
        .collect();
    defaults.settings(&layers)
}

fn source(c: &CheckConfig, providers: &[ProviderConfig], url: String, client: Client) -> Source {
    let base = |id: &Option<String>| {
        providers
            .iter()
            .find(|p| Some(&p.id) == id.as_ref())
            .and_then(|p| p.url.clone())
            .unwrap_or_default()
    };
    match c.kind {
        CheckKind::Http => Source::Http {
            url,
            expect_status: c.expect_status.unwrap_or(200),
            expect_body: c.expect_body.clone(),
            client,
        },
        CheckKind::Metrics => Source::Scrape {
            url,
            selector: Selector::parse(c.series.as_deref().unwrap_or_default()).unwrap_or(
                Selector {
                    name: String::new(),
                    labels: Vec::new(),
                },
            ),
            aggregate: c.aggregate,
            client,
        },
        CheckKind::Host => Source::Host {
            metric: c.metric.clone().unwrap_or_default(),
            path: c.path.clone().unwrap_or_else(|| "/".into()),
            prev: Mutex::new(None),
        },
        CheckKind::Prometheus => Source::Prometheus {
            base: base(&c.provider),
            query: c.query.clone().unwrap_or_default(),
            range_secs: c.range_secs,
            below: c.below,
            client,
        },
        CheckKind::Alertmanager => Source::Alerts {
            base: base(&c.provider),
            matchers: c.matchers.clone(),
            client,
        },
    }
}

fn unit(c: &CheckConfig) -> Option<String> {
    c.unit.clone().or_else(|| match c.kind {
        CheckKind::Http => Some("ms".into()),
        CheckKind::Host if c.metric.as_deref() != Some("load") => Some("%".into()),
        _ => None,
    })
}

/// Builds the runnable checks of a workspace.
pub fn build(
    checks: &[CheckConfig],
    http: &HttpDefaults,
    providers: &[ProviderConfig],
    targets: &[TargetConfig],
) -> Vec<Spec> {
    let mut out = Vec::new();
    // Checks with the same settings share one client (and, with keep_alive, its connections).
    let mut clients: std::collections::HashMap<HttpSettings, Client> = Default::default();
    for c in checks {
        let client = clients
            .entry(http_settings(c, http, providers, targets))
            .or_insert_with_key(Client::new)
            .clone();
        let alerts = c.kind == CheckKind::Alertmanager;
        let rule = Rule {
            warn: c.warn,
            crit: c.crit,
            below: c.below,
            // Alertmanager has applied the rule's own `for` already.
            for_secs: c.for_secs.unwrap_or(if alerts { 0 } else { 30 }) as i64,
            // An alert that comes back within a minute is the same incident.
            recover_secs: c.recover_secs.unwrap_or(if alerts { 60 } else { 120 }) as i64,
            empty_is_healthy: c.empty_is_healthy
                || (c.kind == CheckKind::Prometheus && c.must_have_data == Some(false)),
        };
        let make = |name: String, url: String, endpoint: Option<NodeEndpoint>| Spec {
            name,
            config_name: c.name.clone(),
            service: c.service(),
            source: source(c, providers, url, client.clone()),
            insecure: client.insecure(),
            endpoint,
            rule: rule.clone(),
            interval: c.interval(),
            timeout: c.timeout(),
            unit: unit(c),
            target: c.target.clone(),
            severity: c.severity.unwrap_or(Severity::High),
            incident: c.incident.unwrap_or(true),
            forecast: c.forecast,
            window: c.forecast_window_secs.unwrap_or(900) as i64,
            horizon: c.forecast_horizon_secs.unwrap_or(21_600) as i64,
            remediate: c.remediate.clone(),
            provider: c.provider.clone(),
            rate: c.rate,
        };
        match (&c.target, &c.url) {
            (Some(t), None) => {
                let Some(target) = targets.iter().find(|x| &x.name == t) else {
                    continue;
                };
                let local = target.engine == crate::config::EngineKind::LocalFleet;
                for node in &target.nodes {
                    let endpoint = NodeEndpoint {
                        target: t.clone(),
                        node: node.clone(),
                        path: c.path.clone().unwrap_or_else(|| "/".into()),
                        base: (!local).then(|| target.node_base(node)),
                    };
                    out.push(make(
                        format!("{} · {node}", c.name),
                        String::new(),
                        Some(endpoint),
                    ));
                }
            }
            _ => out.push(make(
                c.name.clone(),
                c.url.clone().unwrap_or_default(),
                None,
            )),
        }
    }
    out
}
