//! Validation of the HTTP keys wherever they appear: `[http]`, providers, checks, targets and
//! their smoke gates. Each error names the file, the line and the key, and says what to do.
//! URLs are checked with the settings that will really be used for them (every level folded).

use super::http::{HttpLayer, validate_endpoint, validate_layer, validate_proxy};
use super::{CheckKind, ConfigError, EngineKind, Loaded, ProviderKind};

fn any(l: HttpLayer<'_>) -> bool {
    l.tls.is_some()
        || l.auth.is_some()
        || l.headers.is_some_and(|h| !h.is_empty())
        || l.keep_alive.is_some()
}

const NOT_HERE: &str = "remove `tls`, `auth`, `headers` and `keep_alive`";

/// Checks every HTTP key and URL of the config.
pub(super) fn http(loaded: &Loaded) -> Result<(), ConfigError> {
    let c = &loaded.config;
    let defaults = &c.http;
    let at = |table: &str, entry: &str, (key, msg): (&str, String)| {
        loaded.error_near(table, key, entry, msg)
    };
    validate_layer(defaults.layer()).map_err(|e| at("http", "", e))?;
    if let Some(p) = &defaults.proxy {
        validate_proxy(p).map_err(|m| at("http", "", ("proxy", m)))?;
    }
    for p in &c.providers {
        let entry = p.id.as_str();
        match p.kind {
            ProviderKind::Prometheus | ProviderKind::Alertmanager => {
                validate_layer(p.http()).map_err(|e| at("providers", entry, e))?;
                if let Some(u) = &p.url {
                    validate_endpoint(u, &defaults.settings(&[p.http()]))
                        .map_err(|m| at("providers", entry, ("url", m)))?;
                    if p.tls.is_some() && u.starts_with("http://") {
                        let m = format!(
                            "provider {entry:?}: `tls` applies to https:// URLs only, and {u:?} is http://"
                        );
                        return Err(at("providers", entry, ("tls", m)));
                    }
                }
            }
            ProviderKind::Local | ProviderKind::Github if any(p.http()) => {
                let m = format!(
                    "provider {entry:?}: only prometheus and alertmanager providers take `tls`, `auth`, `headers` and `keep_alive`"
                );
                return Err(at("providers", entry, ("tls", m)));
            }
            ProviderKind::Local | ProviderKind::Github => {}
        }
    }
    for k in &c.checks {
        let entry = k.name.as_str();
        if k.kind == CheckKind::Host {
            if any(k.http()) {
                let m = format!("check {entry:?}: a host check makes no HTTP request; {NOT_HERE}");
                return Err(at("checks", entry, ("tls", m)));
            }
            continue;
        }
        validate_layer(k.http()).map_err(|e| at("checks", entry, e))?;
        let s = crate::engine::health::spec::http_settings(k, defaults, &c.providers, &c.targets);
        let provider = c
            .providers
            .iter()
            .find(|p| Some(&p.id) == k.provider.as_ref());
        let target = c
            .targets
            .iter()
            .find(|t| Some(&t.name) == k.target.as_ref());
        let url = match (&k.url, provider, target) {
            (Some(u), _, _) => Some((u.clone(), "url")),
            (None, Some(p), _) => p.url.clone().map(|u| (u, "auth")),
            (None, None, Some(t)) if t.engine != EngineKind::LocalFleet => Some((
                t.node_url.clone().unwrap_or_else(|| "http://{node}".into()),
                "auth",
            )),
            _ => None,
        };
        if let Some((u, key)) = url {
            validate_endpoint(&u, &s)
                .map_err(|m| at("checks", entry, (key, format!("check {entry:?}: {m}"))))?;
            if k.tls.is_some() && u.starts_with("http://") {
                let m = format!(
                    "check {entry:?}: `tls` applies to https:// URLs only, and {u:?} is http://"
                );
                return Err(at("checks", entry, ("tls", m)));
            }
        }
    }
    for t in &c.targets {
        let entry = t.name.as_str();
        validate_layer(t.http()).map_err(|e| at("targets", entry, e))?;
        let base = t.node_url.clone().unwrap_or_else(|| "http://{node}".into());
        if let Some(u) = &t.node_url {
            if matches!(t.engine, EngineKind::LocalFleet | EngineKind::GithubActions) {
                let m = format!(
                    "target {entry:?}: node_url does not apply to a {} target",
                    t.engine.as_str()
                );
                return Err(at("targets", entry, ("node_url", m)));
            }
            validate_endpoint(u, &defaults.settings(&[t.http()]))
                .map_err(|m| at("targets", entry, ("node_url", m)))?;
        }
        for g in &t.smoke {
            let gate = |(k, m): (&'static str, String)| {
                at(
                    "targets",
                    &g.name,
                    (k, format!("smoke gate {:?}: {m}", g.name)),
                )
            };
            validate_layer(g.http()).map_err(gate)?;
            // As the runner will: the gate's prometheus provider's keys come under its own.
            let mut g = g.clone();
            let provider = c
                .providers
                .iter()
                .find(|p| g.prometheus.as_ref() == Some(&p.id));
            if let Some(p) = provider {
                g.inherit(p.http());
            }
            let s = t.gate_settings(defaults, &g);
            let url = match (&g.http, &g.prometheus) {
                (Some(path), _) if path.starts_with('/') => {
                    (t.engine != EngineKind::LocalFleet).then(|| base.clone())
                }
                (Some(u), _) => Some(u.clone()),
                (None, Some(_)) => provider
                    .and_then(|p| p.url.clone())
                    .or_else(|| g.prometheus.clone().filter(|p| p.contains("://"))),
                _ => None,
            };
            if let Some(u) = url {
                validate_endpoint(&u, &s).map_err(|m| gate(("smoke", m)))?;
            }
        }
    }
    Ok(())
}
