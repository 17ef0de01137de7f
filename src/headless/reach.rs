//! `flightdeck check`: reach each Prometheus and Alertmanager, and every check and smoke-gate
//! URL once, and say what is wrong with each (TLS, credentials, the connection) and the fix.

use std::fmt::Write as _;

use crate::config::EngineKind;
use crate::engine::health::sources::{self, Source};
use crate::engine::health::spec::{self, NodeEndpoint};
use crate::http::{Client, Response};
use crate::store::Store;
use crate::workspace::Workspace;

const INSECURE: &str = "warning: insecure_skip_verify: the certificate is not verified; trust its CA with tls.ca_file instead";

/// Asks a Prometheus or Alertmanager whether it is ready.
pub(super) async fn provider(ws: &Workspace, id: &str) -> Result<String, String> {
    let config = &ws.loaded.config;
    let p = config
        .providers
        .iter()
        .find(|p| p.id == id)
        .ok_or("not configured")?;
    let client = Client::new(&config.http.settings(&[p.http()]));
    let base = p.url.as_deref().unwrap_or_default().trim_end_matches('/');
    let r = client
        .get(&format!("{base}/-/ready"), p.timeout())
        .await
        .map_err(String::from)?;
    if r.refused() {
        return Err(sources::refused(&client, &r));
    }
    if r.status != 200 {
        return Err(format!("{base}/-/ready answered HTTP {}", r.status));
    }
    let n = ws
        .checks
        .iter()
        .filter(|c| c.provider.as_deref() == Some(id))
        .count();
    let warn = if client.insecure() {
        format!("; {INSECURE}")
    } else {
        String::new()
    };
    let uses = if n == 1 { "check uses" } else { "checks use" };
    Ok(format!("ready; {n} {uses} it{warn}"))
}

/// One URL to reach: what it is for, the URL (or why there is none) and its client.
struct Probe {
    label: String,
    url: Result<Option<String>, String>,
    client: Client,
    timeout: std::time::Duration,
}

/// Every check and gate URL, reached once and concurrently: the report and whether all passed.
pub(super) async fn endpoints(ws: &Workspace) -> (String, bool) {
    let config = &ws.loaded.config;
    let store = Store::open(&ws.registry.store_path).ok();
    let node_url = |e: &NodeEndpoint| match &store {
        Some(s) => crate::engine::health::monitor::node_url(s, e),
        None => Ok(e.base.as_ref().map(|b| format!("{b}{}", e.path))),
    };
    let mut probes = Vec::new();
    for s in spec::build(&ws.checks, &config.http, &config.providers, &ws.targets) {
        // Prometheus and Alertmanager checks were reached with their provider.
        let (Some((url, client)), Source::Http { .. } | Source::Scrape { .. }) =
            (s.source.http(), &s.source)
        else {
            continue;
        };
        probes.push(Probe {
            label: format!("check {:?}", s.name),
            url: match &s.endpoint {
                Some(e) => node_url(e),
                None => Ok(Some(url.to_string())),
            },
            client: client.clone(),
            timeout: s.timeout,
        });
    }
    for t in &ws.targets {
        for g in &t.smoke {
            let client = Client::new(&t.gate_settings(&config.http, g));
            let label = |node: Option<&str>| match node {
                Some(n) => format!("gate {:?} of {} on {n}", g.name, t.name),
                None => format!("gate {:?} of {}", g.name, t.name),
            };
            let mut add = |label: String, url: Result<Option<String>, String>| {
                probes.push(Probe {
                    label,
                    url,
                    client: client.clone(),
                    timeout: g.timeout(),
                })
            };
            match (&g.http, &g.prometheus, &g.query) {
                (Some(path), _, _) if path.starts_with('/') => {
                    for n in &t.nodes {
                        let e = NodeEndpoint {
                            target: t.name.clone(),
                            node: n.clone(),
                            path: path.clone(),
                            base: (t.engine != EngineKind::LocalFleet).then(|| t.node_base(n)),
                        };
                        add(label(Some(n)), node_url(&e));
                    }
                }
                (Some(url), _, _) => add(label(None), Ok(Some(url.clone()))),
                (None, Some(base), Some(query)) => add(
                    label(None),
                    Ok(Some(format!(
                        "{}/api/v1/query?query={}",
                        base.trim_end_matches('/'),
                        crate::http::urlencode(query)
                    ))),
                ),
                _ => {}
            }
        }
    }
    // At most 32 at once, in order.
    use futures::StreamExt;
    let results: Vec<_> = futures::stream::iter(probes.iter().map(|p| async {
        match &p.url {
            Ok(Some(u)) => Some(p.client.get(u, p.timeout).await),
            _ => None,
        }
    }))
    .buffered(32)
    .collect()
    .await;
    let mut out = String::new();
    let mut ok = true;
    for (p, r) in probes.iter().zip(results) {
        let line = match (&p.url, r) {
            (Err(e), _) => {
                ok = false;
                format!("FAILED: {e}")
            }
            (Ok(None), _) | (_, None) => "not deployed: nothing to reach".into(),
            (_, Some(Err(e))) => {
                ok = false;
                format!("FAILED: {e}")
            }
            (_, Some(Ok(r))) if r.refused() => {
                ok = false;
                format!("FAILED: {}", sources::refused(&p.client, &r))
            }
            (_, Some(Ok(r))) => reached(&r, p.client.insecure()),
        };
        let _ = writeln!(out, "{}: {line}", p.label);
    }
    (out, ok)
}

fn reached(r: &Response, insecure: bool) -> String {
    let mut s = format!("ok (HTTP {} in {:.0} ms)", r.status, r.latency * 1000.0);
    if insecure {
        let _ = write!(s, "; {INSECURE}");
    }
    s
}
