//! Checks across entries that serde cannot make: empty and duplicate names, references to
//! providers and targets that exist, per-entry rules, each error at its entry.

use super::{CheckKind, ConfigError, Loaded, ProviderKind, check, pipeline, target};

/// Every rule a parsed config must keep.
pub(super) fn validate(loaded: &Loaded) -> Result<(), ConfigError> {
    let c = &loaded.config;
    if c.workspace.trim().is_empty() {
        return Err(loaded.error_at("", "workspace", "must not be empty".into()));
    }
    super::validate::http(loaded)?;
    let mut seen = std::collections::BTreeSet::new();
    for (i, p) in c.providers.iter().enumerate() {
        if p.id.trim().is_empty() {
            return Err(loaded.error_in("providers", i, "id", "must not be empty".into()));
        }
        if !seen.insert(p.id.as_str()) {
            return Err(loaded.error_in(
                "providers",
                i,
                "id",
                format!("duplicate provider id {:?}", p.id),
            ));
        }
    }
    let mut names = std::collections::BTreeSet::new();
    for (i, p) in c.pipelines.iter().enumerate() {
        if let Err((key, msg)) = pipeline::validate(p) {
            return Err(loaded.error_in("pipelines", i, key, msg));
        }
        if !names.insert(p.name.as_str()) {
            return Err(loaded.error_in(
                "pipelines",
                i,
                "name",
                format!("duplicate pipeline {:?}", p.name),
            ));
        }
    }
    let mut targets = std::collections::BTreeSet::new();
    for (i, t) in c.targets.iter().enumerate() {
        if let Err((key, msg)) = target::validate(t) {
            return Err(loaded.error_in("targets", i, key, msg));
        }
        if let Some(g) = &t.github
            && !c
                .providers
                .iter()
                .any(|x| x.id == g.provider && x.kind == ProviderKind::Github)
        {
            return Err(loaded.error_in(
                "targets",
                i,
                "github",
                format!("target {:?}: no github provider {:?}", t.name, g.provider),
            ));
        }
        for g in &t.smoke {
            if let Some(p) = &g.prometheus
                && !p.contains("://")
                && !c
                    .providers
                    .iter()
                    .any(|x| &x.id == p && x.kind == ProviderKind::Prometheus)
            {
                return Err(loaded.error_in(
                    "targets",
                    i,
                    "prometheus",
                    format!("smoke gate {:?}: no prometheus provider {p:?}", g.name),
                ));
            }
        }
        if !targets.insert(t.name.as_str()) {
            return Err(loaded.error_in(
                "targets",
                i,
                "name",
                format!("duplicate target {:?}", t.name),
            ));
        }
    }
    let mut checks = std::collections::BTreeSet::new();
    for (i, k) in c.checks.iter().enumerate() {
        if let Err((key, msg)) = check::validate(k) {
            return Err(loaded.error_in("checks", i, key, msg));
        }
        if !checks.insert(k.name.as_str()) {
            return Err(loaded.error_in(
                "checks",
                i,
                "name",
                format!("duplicate check {:?}", k.name),
            ));
        }
        if let Some(p) = &k.provider {
            let kind = c.providers.iter().find(|x| &x.id == p).map(|x| x.kind);
            let want = match k.kind {
                CheckKind::Alertmanager => ProviderKind::Alertmanager,
                _ => ProviderKind::Prometheus,
            };
            if kind != Some(want) {
                return Err(loaded.error_in(
                    "checks",
                    i,
                    "provider",
                    format!("no {} provider with id {p:?}", want.as_str()),
                ));
            }
        }
        if let Some(t) = &k.target
            && !targets.contains(t.as_str())
        {
            return Err(loaded.error_in(
                "checks",
                i,
                "target",
                format!("no target {t:?} (define it in [[targets]])"),
            ));
        }
    }
    if let Some(id) = &c.backlog.provider
        && id != "local"
        && !seen.contains(id.as_str())
    {
        return Err(loaded.error_at(
            "backlog",
            "provider",
            format!("no provider with id {id:?} (define it in [[providers]])"),
        ));
    }
    if let Some(id) = &c.builds.provider
        && id != "local"
        && !c
            .providers
            .iter()
            .any(|p| &p.id == id && p.kind == ProviderKind::Github)
    {
        return Err(loaded.error_at(
            "builds",
            "provider",
            format!("no github provider with id {id:?} (define it in [[providers]])"),
        ));
    }
    for (i, p) in c
        .providers
        .iter()
        .enumerate()
        .filter(|(_, p)| p.kind == ProviderKind::Github)
    {
        if let Some(r) = p
            .repos
            .iter()
            .find(|r| r.split('/').count() != 2 || r.split('/').any(|x| x.is_empty() || x == ".."))
        {
            return Err(loaded.error_in(
                "providers",
                i,
                "repos",
                format!("provider {:?}: {r:?} is not `owner/name`", p.id),
            ));
        }
    }
    Ok(())
}
