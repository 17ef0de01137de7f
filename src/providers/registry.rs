//! Builds provider clients from `[[providers]]` and says which pane each one feeds.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::github::{self, GhClient, GithubBacklog, GithubRuns, Token};
use super::local::LocalBacklog;
use super::local_builds::LocalBuilds;
use super::{BacklogSource, BuildSource};
use crate::config::{DEFAULT_TIMEOUT_SECS, Loaded, ProviderKind};
use crate::store::{Store, StoreError};

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

/// The store file of a workspace inside the state dir (see `paths::name_for`).
pub fn workspace_store(state_dir: &Path, workspace: &str) -> PathBuf {
    state_dir
        .join(crate::paths::name_for(workspace))
        .join("store.db")
}

/// Opens (creating if need be) the store of `workspace`, first moving a store an earlier
/// flightdeck kept under a name two workspaces could share; refuses a store that records
/// another workspace's name.
pub fn open_workspace_store(state_dir: &Path, workspace: &str) -> Result<PathBuf, StoreError> {
    let path = workspace_store(state_dir, workspace);
    let legacy_name = crate::paths::legacy_name_for(workspace);
    let legacy = state_dir.join(&legacy_name);
    let dir = path.parent().unwrap_or(state_dir);
    if !dir.exists() && legacy != dir && legacy.join("store.db").is_file() {
        let theirs = Store::open(&legacy.join("store.db"))?.meta(WORKSPACE_KEY)?;
        // `__` (from `本番`) is nobody's chosen name, but `a_b` (from `a/b`) may be a
        // workspace of its own: then only the user can say whose store it is.
        let shared = legacy_name.chars().any(|c| c.is_ascii_alphanumeric());
        match theirs {
            Some(t) if t != workspace => {}
            None if shared => {
                return Err(StoreError::Ambiguous {
                    legacy,
                    wanted: workspace.to_string(),
                    new: dir.to_path_buf(),
                });
            }
            _ => {
                std::fs::rename(&legacy, dir).map_err(|source| StoreError::Open {
                    path: legacy.clone(),
                    source,
                })?;
                tracing::warn!(from = %legacy.display(), to = %dir.display(), workspace, "store moved");
            }
        }
    }
    let store = Store::open(&path)?;
    match store.meta(WORKSPACE_KEY)? {
        Some(found) if found != workspace => Err(StoreError::Foreign {
            path,
            found,
            wanted: workspace.to_string(),
        }),
        Some(_) => Ok(path),
        None if store.is_read_only() => Ok(path),
        None => {
            store.set_meta(WORKSPACE_KEY, workspace)?;
            Ok(path)
        }
    }
}

/// The meta key that records which workspace a store belongs to.
const WORKSPACE_KEY: &str = "workspace";

impl Registry {
    /// Opens every provider the config names; `actor` authors local changes.
    pub fn build(
        loaded: &Loaded,
        state_dir: &Path,
        actor: &str,
        pipelines: bool,
    ) -> Result<Registry, StoreError> {
        let config = &loaded.config;
        let store_path = open_workspace_store(state_dir, &config.workspace)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// R5: two workspaces never share a store; a store from the old shared mapping moves to
    /// the first workspace that opens it, and a store of another workspace is refused.
    #[test]
    fn workspaces_get_their_own_store_and_a_legacy_one_moves() {
        let tmp = tempfile::tempdir().unwrap();
        let state = tmp.path();
        // An earlier flightdeck kept 本番 at state/__ (and 試験 would have shared it).
        let legacy = state.join("__/store.db");
        Store::open(&legacy)
            .unwrap()
            .set_meta("marker", "old")
            .unwrap();
        let prod = open_workspace_store(state, "本番").unwrap();
        assert_ne!(prod, legacy);
        assert_eq!(
            Store::open(&prod)
                .unwrap()
                .meta("marker")
                .unwrap()
                .as_deref(),
            Some("old")
        );
        assert!(!legacy.exists(), "moved, not copied");
        let test = open_workspace_store(state, "試験").unwrap();
        assert_ne!(test, prod);
        assert_eq!(Store::open(&test).unwrap().meta("marker").unwrap(), None);
        // `a_b` may be a workspace of its own: its old store is not taken by `a/b`.
        Store::open(&state.join("a_b/store.db")).unwrap();
        let err = open_workspace_store(state, "a/b").unwrap_err().to_string();
        assert!(err.contains("move it to") && err.contains("a_b-"), "{err}");
        std::fs::create_dir(state.join(crate::paths::name_for("a/b"))).unwrap();
        let ab = open_workspace_store(state, "a/b").unwrap();
        let a_b = open_workspace_store(state, "a_b").unwrap();
        assert_ne!(ab, a_b);
        // Once `a_b` has claimed its store, `a/b` no longer asks.
        std::fs::remove_dir_all(ab.parent().unwrap()).unwrap();
        assert_ne!(open_workspace_store(state, "a/b").unwrap(), a_b);
        // A store recording another name is refused, with both names.
        Store::open(&a_b)
            .unwrap()
            .set_meta("workspace", "other")
            .unwrap();
        let err = open_workspace_store(state, "a_b").unwrap_err().to_string();
        assert!(
            err.contains("belongs to workspace \"other\", not \"a_b\""),
            "{err}"
        );
    }
}
