//! Validation of the HTTP keys wherever they appear: `[http]`, providers, checks, targets and
//! their smoke gates. Each error names the file, the line and the key, and says what to do.

use super::http::{HttpLayer, validate_layer, validate_url};
use super::{CheckKind, ConfigError, EngineKind, Loaded, ProviderKind};

fn any(l: HttpLayer<'_>) -> bool {
    l.tls.is_some()
        || l.auth.is_some()
        || l.headers.is_some_and(|h| !h.is_empty())
        || l.keep_alive.is_some()
}

/// Checks every HTTP key and URL of the config.
pub(super) fn http(loaded: &Loaded) -> Result<(), ConfigError> {
    let c = &loaded.config;
    let defaults = &c.http;
    let at = |table: &str, entry: &str, (key, msg): (&str, String)| {
        loaded.error_near(table, key, entry, msg)
    };
    validate_layer(defaults.layer()).map_err(|e| at("http", "", e))?;
    if let Some(p) = &defaults.proxy {
        validate_url(p, false).map_err(|m| at("http", p, ("proxy", m)))?;
    }
    for p in &c.providers {
        let entry = p.id.as_str();
        match p.kind {
            ProviderKind::Prometheus | ProviderKind::Alertmanager => {
                validate_layer(p.http()).map_err(|e| at("providers", entry, e))?;
                if let Some(u) = &p.url {
                    let auth = defaults.settings(&[p.http()]).auth.is_some();
                    validate_url(u, auth).map_err(|m| at("providers", entry, ("url", m)))?;
                }
            }
            ProviderKind::Local | ProviderKind::Github if any(p.http()) => {
                return Err(at(
                    "providers",
                    entry,
                    (
                        "tls",
                        format!(
                            "provider {entry:?}: only prometheus and alertmanager providers take `tls`, `auth`, `headers` and `keep_alive`"
                        ),
                    ),
                ));
            }
            ProviderKind::Local | ProviderKind::Github => {}
        }
    }
    for k in &c.checks {
        let entry = k.name.as_str();
        if k.kind == CheckKind::Host {
            if any(k.http()) {
                return Err(at(
                    "checks",
                    entry,
                    (
                        "tls",
                        format!(
                            "check {entry:?}: a host check makes no HTTP request; remove `tls`, `auth`, `headers` and `keep_alive`"
                        ),
                    ),
                ));
            }
            continue;
        }
        validate_layer(k.http()).map_err(|e| at("checks", entry, e))?;
        let settings =
            crate::engine::health::spec::http_settings(k, defaults, &c.providers, &c.targets);
        if let Some(u) = &k.url {
            validate_url(u, settings.auth.is_some())
                .map_err(|m| at("checks", entry, ("url", m)))?;
        }
        if let Some(t) = c
            .targets
            .iter()
            .find(|t| Some(&t.name) == k.target.as_ref())
            && t.engine != EngineKind::LocalFleet
        {
            let base = t.node_url.clone().unwrap_or_else(|| "http://{node}".into());
            validate_url(&base, settings.auth.is_some()).map_err(|m| {
                at(
                    "checks",
                    entry,
                    (
                        "auth",
                        format!("check {entry:?} on target {:?}: {m}", t.name),
                    ),
                )
            })?;
        }
    }
    for t in &c.targets {
        let entry = t.name.as_str();
        validate_layer(t.http()).map_err(|e| at("targets", entry, e))?;
        if let Some(u) = &t.node_url {
            if matches!(t.engine, EngineKind::LocalFleet | EngineKind::GithubActions) {
                return Err(at(
                    "targets",
                    entry,
                    (
                        "node_url",
                        format!(
                            "target {entry:?}: node_url does not apply to a {} target",
                            t.engine.as_str()
                        ),
                    ),
                ));
            }
            validate_url(u, false).map_err(|m| at("targets", entry, ("node_url", m)))?;
        }
        for g in &t.smoke {
            validate_layer(g.http()).map_err(|(k, m)| {
                at(
                    "targets",
                    &g.name,
                    (k, format!("smoke gate {:?}: {m}", g.name)),
                )
            })?;
            let mut layers = vec![t.http()];
            if let Some(p) = c
                .providers
                .iter()
                .find(|p| g.prometheus.as_ref() == Some(&p.id))
            {
                layers.push(p.http());
            }
            layers.push(g.http());
            let auth = defaults.settings(&layers).auth.is_some();
            let url = match (&g.http, &g.prometheus) {
                (Some(path), _) if path.starts_with('/') => match t.engine {
                    EngineKind::LocalFleet => None,
                    _ => Some(t.node_url.clone().unwrap_or_else(|| "http://{node}".into())),
                },
                (Some(u), _) => Some(u.clone()),
                (None, Some(p)) if p.contains("://") => Some(p.clone()),
                _ => None,
            };
            if let Some(u) = url {
                validate_url(&u, auth).map_err(|m| {
                    at(
                        "targets",
                        &g.name,
                        ("smoke", format!("smoke gate {:?}: {m}", g.name)),
                    )
                })?;
            }
        }
    }
    Ok(())
}
