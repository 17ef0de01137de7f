//! The deploys pane's commands: reading targets from the store, and starting, aborting or
//! resuming deploys through the launcher (and so the gate).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;

use crate::app::{Command, Event};
use crate::config::TargetConfig;
use crate::engine::deploy::launch::{self, Launcher};
use crate::engine::deploy::view;
use crate::engine::gate::{Gate, GateError};
use crate::providers::github::GhClient;
use crate::providers::github::deployments::{GithubEnv, latest, releases};
use crate::providers::{ProviderError, with_timeout};
use crate::store::Store;

/// How long reading the targets may take.
const LIST_TIMEOUT: Duration = Duration::from_secs(10);

/// How often GitHub's deployments of an environment are read again.
const GITHUB_EVERY: std::time::Duration = Duration::from_secs(30);

/// What the deploys pane's commands need.
pub struct Deploys {
    targets: Vec<TargetConfig>,
    launcher: Launcher,
    /// One connection for the frequent listing.
    store: Arc<Mutex<Option<Store>>>,
    /// GitHub clients by provider id.
    github: Vec<(String, Arc<GhClient>)>,
    /// GitHub's deployments by target, with when they were read and the last deploy then.
    envs: Mutex<std::collections::HashMap<String, (std::time::Instant, String, GithubEnv)>>,
    /// Targets whose GitHub read is in flight.
    reading: Mutex<std::collections::HashSet<String>>,
}

fn other(e: impl std::fmt::Display) -> GateError {
    GateError::Provider(ProviderError::Other(e.to_string()))
}

impl Deploys {
    /// The deploys of a workspace with these targets.
    pub fn new(
        targets: Vec<TargetConfig>,
        launcher: Launcher,
        github: Vec<(String, Arc<GhClient>)>,
    ) -> Deploys {
        Deploys {
            targets,
            launcher,
            store: Arc::default(),
            github,
            envs: Mutex::default(),
            reading: Mutex::default(),
        }
    }

    /// Adds GitHub's deployments to the `github-actions` targets from what was last read. A
    /// read that is due (every 30 s, or as soon as a deploy of the target moved on) runs in the
    /// background: a slow GitHub never holds the pane's own data back.
    fn add_github(self: &Arc<Self>, snaps: &mut [view::TargetSnapshot]) {
        for s in snaps.iter_mut() {
            let Some(t) = self.targets.iter().find(|t| t.name == s.view.target) else {
                continue;
            };
            let Some(g) = &t.github else { continue };
            let marker = s
                .view
                .last
                .as_ref()
                .map(|d| format!("{} {}", d.id, d.state))
                .unwrap_or_default();
            let (cached, due) = {
                let envs = self.envs.lock().unwrap_or_else(|p| p.into_inner());
                let e = envs.get(&t.name);
                let due = e.is_none_or(|(at, m, _)| at.elapsed() >= GITHUB_EVERY || *m != marker);
                (e.map(|(_, _, env)| env.clone()), due)
            };
            if due
                && self
                    .reading
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(t.name.clone())
            {
                let me = Arc::clone(self);
                let (name, repo, env, provider) = (
                    t.name.clone(),
                    g.repo.clone(),
                    t.environment.clone(),
                    g.provider.clone(),
                );
                tokio::spawn(async move {
                    let read = me.read_github(&provider, &repo, &env).await;
                    me.envs
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(name.clone(), (std::time::Instant::now(), marker, read));
                    me.reading
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&name);
                });
            }
            let Some(env) = cached else { continue };
            // GitHub releases come first among the versions a deploy is offered.
            let mut versions = env.releases.clone();
            versions.extend(s.versions.drain(..).filter(|v| !env.releases.contains(v)));
            s.versions = versions;
            s.github = Some(env);
        }
    }

    /// Reads an environment's latest deployments and the repo's releases.
    async fn read_github(&self, provider: &str, repo: &str, environment: &str) -> GithubEnv {
        let mut env = GithubEnv {
            repo: repo.to_string(),
            environment: environment.to_string(),
            ..GithubEnv::default()
        };
        let Some((_, c)) = self.github.iter().find(|(id, _)| id == provider) else {
            env.error = Some(format!("no github provider {provider:?}"));
            return env;
        };
        let read = async {
            let d = latest(c, repo, environment, 3).await?;
            let r = releases(c, repo, 10).await?;
            Ok((d, r))
        };
        match with_timeout(LIST_TIMEOUT, read).await {
            Ok((d, r)) => {
                env.deployments = d;
                env.releases = r;
            }
            Err(e) => env.error = Some(e.to_string()),
        }
        env
    }

    /// Starts the task for one deploys command.
    pub fn run(self: &Arc<Self>, cmd: Command, gate: Gate, tx: UnboundedSender<Event>) {
        let me = Arc::clone(self);
        match cmd {
            Command::ListDeploys { request } => {
                tokio::spawn(async move {
                    let lister = Arc::clone(&me);
                    let work = tokio::task::spawn_blocking(move || lister.list());
                    let mut result = with_timeout(LIST_TIMEOUT, async move {
                        work.await
                            .map_err(|e| ProviderError::Other(e.to_string()))?
                            .map(Some)
                    })
                    .await;
                    if let Ok(Some(snaps)) = result.as_mut() {
                        me.add_github(snaps);
                    }
                    let _ = tx.send(Event::DeploysListed { request, result });
                });
            }
            Command::StartDeploy {
                request,
                target,
                kind,
                version,
                expected,
            } => {
                tokio::spawn(async move {
                    let what = format!("{} {target} {version}", kind.as_str());
                    let result = me.start(&gate, &target, kind, &version, &expected).await;
                    let _ = tx.send(Event::DeployActed {
                        request,
                        what,
                        result,
                    });
                });
            }
            Command::SteerDeploy {
                request,
                target,
                deploy,
                abort,
            } => {
                tokio::spawn(async move {
                    let what = format!(
                        "{} deploy #{deploy} of {target}",
                        if abort { "abort" } else { "resume" }
                    );
                    let result = me.steer(&gate, deploy, abort).await;
                    let _ = tx.send(Event::DeployActed {
                        request,
                        what,
                        result,
                    });
                });
            }
            _ => {}
        }
    }

    fn list(&self) -> Result<Vec<view::TargetSnapshot>, ProviderError> {
        let mut guard = self.store.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            *guard = Some(
                Store::open(&self.launcher.store_path)
                    .map_err(|e| ProviderError::Other(e.to_string()))?,
            );
        }
        let store = guard
            .as_ref()
            .ok_or_else(|| ProviderError::Other("no store".into()))?;
        view::snapshot(store, &self.targets).map_err(|e| {
            // A broken connection is reopened next time.
            *guard = None;
            ProviderError::Other(e.to_string())
        })
    }

    async fn start(
        &self,
        gate: &Gate,
        target: &str,
        kind: crate::engine::deploy::DeployKind,
        version: &str,
        expected: &std::collections::BTreeMap<String, Option<String>>,
    ) -> Result<String, GateError> {
        let cfg = self
            .targets
            .iter()
            .find(|t| t.name == target)
            .ok_or_else(|| other(format!("no target {target}")))?;
        let plan = {
            let store = Store::open(&self.launcher.store_path).map_err(other)?;
            if let Some(why) = launch::busy(&store, target).map_err(other)? {
                return Err(other(why));
            }
            let plan = self
                .launcher
                .plan(&store, cfg, kind, version)
                .map_err(other)?;
            // Inventory targets list their hosts only at plan time; the rest must match.
            if !cfg.nodes.is_empty() && &plan.previous != expected {
                return Err(other(
                    "the nodes changed since the plan was shown: nothing deployed, plan again",
                ));
            }
            plan
        };
        let (id, pid) = self.launcher.start(gate, &plan).await?;
        Ok(format!(
            "{} #{id} of {target} started ({} → {version}, runner pid {pid})",
            kind.as_str(),
            plan.from_version().as_deref().unwrap_or("nothing"),
        ))
    }

    async fn steer(&self, gate: &Gate, deploy: i64, abort: bool) -> Result<String, GateError> {
        let d = Store::open(&self.launcher.store_path)
            .and_then(|s| s.deploy(deploy))
            .map_err(other)?;
        if d.state != "running" {
            return Err(other(format!(
                "deploy #{deploy} already ended ({})",
                d.state
            )));
        }
        if abort {
            let pid = self.launcher.abort(gate, &d).await?;
            Ok(match pid {
                Some(pid) => format!(
                    "deploy #{deploy}: abort requested, a new runner (pid {pid}) rolls back"
                ),
                None => format!("deploy #{deploy}: abort requested; it rolls back what it changed"),
            })
        } else {
            let pid = self.launcher.resume(gate, &d).await?;
            Ok(format!("deploy #{deploy} resumed (runner pid {pid})"))
        }
    }
}
