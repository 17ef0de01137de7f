//! Builds provider clients from `[[providers]]` and says which pane each one feeds.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::github::{self, GhClient, GithubBacklog, GithubRuns, Token};
use super::local::LocalBacklog;
use super::local_builds::LocalBuilds;
use super::{BacklogSource, BuildSource};
use crate::config::{DEFAULT_TIMEOUT_SECS, Loaded, ProviderKind};
use crate::store::StoreError;

/// The id of the built-in local store provider.
pub const LOCAL_ID: &str = "local";

/// What the status bar and `check` say about one provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderInfo {
    /// Provider id.
    pub id: String,
    /// Provider kind name.
    pub kind: String,
    /// Why it cannot be used, if it cannot.
    pub unavailable: Option<String>,
    /// The panes it feeds (`backlog`, `builds`), for the status bar.
    pub feeds: Vec<&'static str>,
}

/// Every provider of a workspace, by capability.
pub struct Registry {
    /// The backlog pane's source and its call timeout.
    pub backlog: Option<(Arc<dyn BacklogSource>, Duration)>,
    /// Why the backlog has no source, when it has none.
    pub backlog_missing: Option<String>,
    /// The builds pane's source, when the workspace has pipelines.
    pub builds: Option<(Arc<dyn BuildSource>, Duration)>,
    /// Every configured provider, plus the built-in local store.
    pub infos: Vec<ProviderInfo>,
    /// The workspace's own store (audit log, local backlog).
    pub store_path: PathBuf,
    /// GitHub clients by provider id, with the token each found (for `check` and the status bar).
    pub github: Vec<(String, Arc<GhClient>, Option<Token>)>,
}

/// The store file of a workspace inside the state dir.
pub fn workspace_store(state_dir: &Path, workspace: &str) -> PathBuf {
    let safe: String = workspace
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    state_dir.join(safe).join("store.db")
}

impl Registry {
    /// Opens every provider the config names; `actor` authors local changes.
    pub fn build(
        loaded: &Loaded,
        state_dir: &Path,
        actor: &str,
        pipelines: bool,
    ) -> Result<Registry, StoreError> {
        let config = &loaded.config;
        let store_path = workspace_store(state_dir, &config.workspace);
        // Each provider serves the panes its kind can serve: without `[backlog]` or `[builds]`,
        // the first provider in the file that can feed a pane feeds it (local pipelines, when
        // the workspace has some, keep the builds pane).
        let first = |kinds: &[ProviderKind]| {
            config
                .providers
                .iter()
                .find(|p| kinds.contains(&p.kind))
                .map(|p| p.id.as_str())
        };
        let backlog_id = config
            .backlog
            .provider
            .as_deref()
            .or_else(|| first(&[ProviderKind::Local, ProviderKind::Github]))
            .unwrap_or(LOCAL_ID);
        let mut infos = Vec::new();
        let mut backlog = None;
        let mut backlog_missing = None;
        let mut explicit_local = false;
        let builds_id = config.builds.provider.as_deref().or_else(|| {
            (!pipelines)
                .then(|| first(&[ProviderKind::Github]))
                .flatten()
        });
        let mut builds = None;
        let mut clients = github::Clients::default();
        let mut gh = Vec::new();
        for p in &config.providers {
            let unavailable = match p.kind {
                ProviderKind::Local => None,
                ProviderKind::Github if p.repos.is_empty() => {
                    Some(format!("provider {:?} needs `repos`", p.id))
                }
                ProviderKind::Github => match clients.for_provider(p) {
                    Ok((client, token)) => {
                        if p.id == backlog_id {
                            let label = p
                                .incident_label
                                .as_deref()
                                .unwrap_or(github::DEFAULT_INCIDENT_LABEL);
                            let src: Arc<dyn BacklogSource> = Arc::new(
                                GithubBacklog::new(
                                    &p.id,
                                    Arc::clone(&client),
                                    p.repos.clone(),
                                    label,
                                    store_path.clone(),
                                    actor,
                                )
                                .with_sections(
                                    p.sections
                                        .iter()
                                        .map(|s| (s.name.clone(), s.query.clone()))
                                        .collect(),
                                ),
                            );
                            backlog = Some((src, p.timeout()));
                        }
                        if builds_id == Some(p.id.as_str()) {
                            let src: Arc<dyn BuildSource> = Arc::new(
                                GithubRuns::new(
                                    &p.id,
                                    Arc::clone(&client),
                                    p.repos.clone(),
                                    p.branches.clone(),
                                    store_path
                                        .with_file_name("github-logs")
                                        .join(p.id.replace(['/', '.'], "_")),
                                )
                                .with_dispatch(store_path.clone(), actor),
                            );
                            builds = Some((src, p.timeout()));
                        }
                        gh.push((p.id.clone(), client, token));
                        None
                    }
                    Err(e) => Some(format!("provider {:?}: {e}", p.id)),
                },
                // Health sources: the monitor calls them from the checks that name them.
                ProviderKind::Prometheus | ProviderKind::Alertmanager if p.url.is_none() => {
                    Some(format!("provider {:?} needs `url`", p.id))
                }
                ProviderKind::Prometheus | ProviderKind::Alertmanager if p.id == backlog_id => {
                    Some(format!("a {} provider holds no backlog", p.kind.as_str()))
                }
                ProviderKind::Prometheus | ProviderKind::Alertmanager => None,
            };
            if p.kind == ProviderKind::Local && p.id == backlog_id {
                explicit_local = true;
                let path = p.path.clone().unwrap_or_else(|| store_path.clone());
                let src: Arc<dyn BacklogSource> =
                    Arc::new(LocalBacklog::open(&p.id, &path, actor)?);
                backlog = Some((src, p.timeout()));
            } else if p.id == backlog_id {
                backlog_missing = unavailable.clone();
            }
            infos.push(ProviderInfo {
                id: p.id.clone(),
                kind: p.kind.as_str().to_string(),
                unavailable,
                feeds: Vec::new(),
            });
        }
        if backlog_id == LOCAL_ID && !explicit_local {
            let src: Arc<dyn BacklogSource> =
                Arc::new(LocalBacklog::open(LOCAL_ID, &store_path, actor)?);
            backlog = Some((src, Duration::from_secs(DEFAULT_TIMEOUT_SECS)));
            infos.insert(
                0,
                ProviderInfo {
                    id: LOCAL_ID.into(),
                    kind: "local".into(),
                    unavailable: None,
                    feeds: Vec::new(),
                },
            );
        }
        if builds.is_none() && pipelines && builds_id.is_none_or(|b| b == LOCAL_ID) {
            let src: Arc<dyn BuildSource> = Arc::new(LocalBuilds::open(LOCAL_ID, &store_path)?);
            builds = Some((src, Duration::from_secs(DEFAULT_TIMEOUT_SECS)));
        }
        for info in &mut infos {
            if backlog.as_ref().is_some_and(|(s, _)| s.id() == info.id) {
                info.feeds.push("backlog");
            }
            if builds.as_ref().is_some_and(|(s, _)| s.id() == info.id) {
                info.feeds.push("builds");
            }
        }
        Ok(Registry {
            backlog,
            backlog_missing,
            builds,
            infos,
            store_path,
            github: gh,
        })
    }
}
