//! Runs the commands `update` returns as tasks, each with its provider's timeout, and sends
//! the results back as events. The event loop never waits on one.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;

use crate::app::{Command, Event};
use crate::engine::gate::Gate;
use crate::engine::pipeline::step::Tail;
use crate::engine::pipeline::{self, Plan, Trigger, logfile};
use crate::providers::{BacklogSource, BuildSource, ProviderError, with_timeout};
use crate::store::Store;
use crate::workspace::Workspace;

mod deploys;

type Source<T> = Option<(Arc<T>, Duration)>;

/// How long reading or searching a log may take before it is abandoned.
const LOG_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs file work on a blocking thread with a timeout.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, ProviderError> {
    with_timeout(LOG_TIMEOUT, async move {
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| ProviderError::Other(e.to_string()))?
            .map_err(|e| ProviderError::Other(format!("log: {e}")))
    })
    .await
}

/// Starts tasks for commands and remembers the pipeline runs it started.
pub struct Scheduler {
    tx: UnboundedSender<Event>,
    backlog: Source<dyn BacklogSource>,
    builds: Source<dyn BuildSource>,
    gate: Gate,
    pipelines: Vec<Plan>,
    store_path: std::path::PathBuf,
    actor: String,
    /// Cancel flags of the runs this cockpit is executing.
    running: Arc<Mutex<Vec<Arc<AtomicBool>>>>,
    /// Deploy targets and their launcher, when there are targets.
    deploys: Option<Arc<deploys::Deploys>>,
    /// Alertmanager providers: id, URL, timeout.
    alertmanagers: Vec<crate::engine::health::silence::Alertmanager>,
    /// GitHub clients by provider id: their budgets go to the status bar after each call.
    github: Vec<(String, Arc<crate::providers::github::GhClient>)>,
    /// Remediations by check name, and where they run.
    remedies: Arc<(
        Vec<(String, crate::config::check::RemediationConfig)>,
        crate::engine::health::remedy::Place,
    )>,
}

impl Scheduler {
    /// A scheduler sending results on `tx`.
    pub fn new(tx: UnboundedSender<Event>, ws: &Workspace) -> Scheduler {
        Scheduler {
            tx,
            backlog: ws.registry.backlog.clone(),
            builds: ws.registry.builds.clone(),
            gate: ws.gate.clone(),
            pipelines: ws.pipelines.clone(),
            store_path: ws.registry.store_path.clone(),
            actor: ws.actor.clone(),
            running: Arc::default(),
            github: ws
                .registry
                .github
                .iter()
                .map(|(id, c, _)| (id.clone(), Arc::clone(c)))
                .collect(),
            deploys: (!ws.targets.is_empty())
                .then(|| ws.launcher().ok())
                .flatten()
                .map(|l| {
                    let gh = ws
                        .registry
                        .github
                        .iter()
                        .map(|(id, c, _)| (id.clone(), Arc::clone(c)))
                        .collect();
                    Arc::new(deploys::Deploys::new(ws.targets.clone(), l, gh))
                }),
            alertmanagers: ws
                .loaded
                .config
                .providers
                .iter()
                .filter(|p| p.kind == crate::config::ProviderKind::Alertmanager)
                .map(|p| {
                    crate::engine::health::silence::Alertmanager::new(&ws.loaded.config.http, p)
                })
                .collect(),
            remedies: Arc::new((
                crate::engine::health::spec::build(
                    &ws.checks,
                    &ws.loaded.config.http,
                    &ws.loaded.config.providers,
                    &ws.targets,
                )
                .into_iter()
                .filter_map(|s| s.remediate.map(|r| (s.name, r)))
                .collect(),
                crate::watch::place(ws),
            )),
        }
    }

    /// Sends the GitHub budgets to the app; called after each provider call.
    fn budgets(&self) -> impl Fn() + Send + 'static {
        let (tx, gh) = (self.tx.clone(), self.github.clone());
        move || {
            if !gh.is_empty() {
                let b = gh.iter().map(|(id, c)| (id.clone(), c.budget())).collect();
                let _ = tx.send(Event::Budgets(b));
            }
        }
    }

    /// Starts the task for one command.
    pub fn run(&self, cmd: Command) {
        let tx = self.tx.clone();
        match cmd {
            Command::Remediate { check } => {
                let (gate, remedies) = (self.gate.clone(), Arc::clone(&self.remedies));
                tokio::spawn(async move {
                    let what = format!("remediate {}", check.check);
                    let Some((_, r)) = remedies.0.iter().find(|(n, _)| *n == check.check) else {
                        return;
                    };
                    let result =
                        crate::engine::health::remedy::remediate(&gate, &remedies.1, r, &check)
                            .await;
                    let _ = tx.send(Event::HealthActed { what, result });
                });
            }
            Command::Silence {
                provider,
                matchers,
                hours,
            } => {
                let Some(am) = self
                    .alertmanagers
                    .iter()
                    .find(|a| a.id == provider)
                    .cloned()
                else {
                    return;
                };
                let (gate, actor) = (self.gate.clone(), self.actor.clone());
                tokio::spawn(async move {
                    let what = format!("silence {}", matchers.join(","));
                    let m = match crate::engine::health::silence::parse_matchers(&matchers) {
                        Ok(m) => m,
                        Err(e) => {
                            let result = Err(crate::engine::gate::GateError::Provider(
                                crate::providers::ProviderError::Invalid(e),
                            ));
                            let _ = tx.send(Event::HealthActed { what, result });
                            return;
                        }
                    };
                    let comment = format!("silenced from flightdeck by {actor}");
                    let fut =
                        crate::engine::health::silence::create(&am, &m, hours, &actor, &comment);
                    let detail = format!("{} for {hours}h", matchers.join(","));
                    let result = gate
                        .run("create_silence", &provider, &detail, fut)
                        .await
                        .map(|id| format!("silenced for {hours} h: {id}"));
                    let _ = tx.send(Event::HealthActed { what, result });
                });
            }
            cmd @ (Command::ListDeploys { .. }
            | Command::StartDeploy { .. }
            | Command::SteerDeploy { .. }) => {
                if let Some(d) = &self.deploys {
                    d.run(cmd, self.gate.clone(), tx);
                }
            }
            Command::ListBacklog { request, force } => {
                let Some((source, timeout)) = self.backlog.clone() else {
                    return;
                };
                let report = self.budgets();
                tokio::spawn(async move {
                    let result = with_timeout(timeout, source.list(force)).await;
                    let _ = tx.send(Event::BacklogListed { request, result });
                    report();
                });
            }
            Command::LoadComments { request, item } => {
                let Some((source, timeout)) = self.backlog.clone() else {
                    return;
                };
                let report = self.budgets();
                tokio::spawn(async move {
                    let result = with_timeout(timeout, source.comments(&item)).await;
                    let _ = tx.send(Event::CommentsLoaded { request, result });
                    report();
                });
            }
            Command::MutateBacklog { request, change } => {
                let Some((source, timeout)) = self.backlog.clone() else {
                    return;
                };
                let gate = self.gate.clone();
                let report = self.budgets();
                tokio::spawn(async move {
                    let result = gate.backlog(source.as_ref(), change, timeout).await;
                    let _ = tx.send(Event::Mutated { request, result });
                    report();
                });
            }
            Command::ListRuns { request, force } => {
                let Some((source, timeout)) = self.builds.clone() else {
                    return;
                };
                let report = self.budgets();
                tokio::spawn(async move {
                    let result = with_timeout(timeout, source.runs(force)).await;
                    let _ = tx.send(Event::RunsListed { request, result });
                    report();
                });
            }
            Command::LoadLog {
                request,
                path,
                anchor,
                rows,
            } => {
                tokio::spawn(async move {
                    let result =
                        blocking(move || logfile::window(Path::new(&path), anchor, rows)).await;
                    let _ = tx.send(Event::LogLoaded { request, result });
                });
            }
            Command::SearchLog {
                request,
                path,
                query,
                from,
                backwards,
            } => {
                tokio::spawn(async move {
                    let what = query.clone();
                    let result = blocking(move || {
                        let path = Path::new(&path);
                        if query.is_empty() {
                            return Ok(logfile::first_error(path)?.map(|at| (at, None)));
                        }
                        match logfile::find(path, &query, from, backwards)? {
                            Some(at) => Ok(Some((at, Some(logfile::rank(path, &query, at)?)))),
                            None => Ok(None),
                        }
                    })
                    .await;
                    let _ = tx.send(Event::LogFound {
                        request,
                        what,
                        result,
                    });
                });
            }
            Command::RunPipeline {
                request,
                pipeline,
                trigger,
            } => self.run_pipeline(request, pipeline, trigger),
            Command::CheckTriggers => {
                let watched: Vec<(String, std::path::PathBuf, String)> = self
                    .pipelines
                    .iter()
                    .filter_map(|p| Some((p.name.clone(), p.dir.clone(), p.branch.clone()?)))
                    .collect();
                let path = self.store_path.clone();
                tokio::spawn(async move {
                    let due = tokio::task::spawn_blocking(move || {
                        pipeline::moved_branches(&path, &watched)
                    })
                    .await
                    .unwrap_or_default();
                    if !due.is_empty() {
                        let _ = tx.send(Event::TriggersChecked { due });
                    }
                });
            }
            Command::ActOnRun { run, action } => {
                let Some((source, timeout)) = self.builds.clone() else {
                    return;
                };
                let gate = self.gate.clone();
                let report = self.budgets();
                tokio::spawn(async move {
                    let target = format!("run:{run}");
                    let work = with_timeout(timeout, source.act(&run, action));
                    let result = gate.run(action.audit_name(), &target, "", work).await;
                    let what = format!("{} {run}", action.audit_name());
                    let _ = tx.send(Event::RunActed { what, result });
                    report();
                });
            }
            Command::OpenWeb { pane, id } => {
                let url = match pane {
                    crate::domain::PaneId::Backlog => {
                        self.backlog.as_ref().and_then(|(s, _)| s.web_url(&id))
                    }
                    crate::domain::PaneId::Builds => {
                        self.builds.as_ref().and_then(|(s, _)| s.web_url(&id))
                    }
                    _ => None,
                };
                // Starting a browser forks a process: not on the loop's thread.
                tokio::task::spawn_blocking(move || {
                    use crate::browser::Opened;
                    let ev = match url.map(|u| crate::browser::open(&u)) {
                        None => Event::Notice {
                            text: "this has no web page (it lives in the local store)".into(),
                            error: true,
                        },
                        Some(Opened::Browser(text)) => Event::Notice { text, error: false },
                        Some(Opened::Failed(text)) => Event::Notice { text, error: true },
                        Some(Opened::Show(url)) => Event::ShowUrl { url },
                    };
                    let _ = tx.send(ev);
                });
            }
            Command::ListWorkflows { request } => {
                let Some((source, timeout)) = self.builds.clone() else {
                    return;
                };
                let report = self.budgets();
                tokio::spawn(async move {
                    // One call per workflow file: a few call timeouts' worth.
                    let result = with_timeout(timeout * 3, source.workflows()).await;
                    let _ = tx.send(Event::WorkflowsListed { request, result });
                    report();
                });
            }
            Command::Dispatch {
                workflow,
                git_ref,
                values,
            } => {
                let Some((source, timeout)) = self.builds.clone() else {
                    return;
                };
                let gate = self.gate.clone();
                let report = self.budgets();
                tokio::spawn(async move {
                    let target = format!("workflow:{}/{}", workflow.repo, workflow.id);
                    let keys: Vec<&String> = values.keys().collect();
                    let detail = format!(
                        "{} on {git_ref} with {}",
                        workflow.name,
                        serde_json::to_string(&keys).unwrap_or_default()
                    );
                    // Looking for the new run takes up to ~10 s after the dispatch itself.
                    let work = with_timeout(
                        timeout * 2 + std::time::Duration::from_secs(12),
                        source.dispatch(workflow, git_ref, values),
                    );
                    let result = gate.run("dispatch_workflow", &target, &detail, work).await;
                    let _ = tx.send(Event::Dispatched { result });
                    report();
                });
            }
            Command::FetchLog { request, run } => {
                let Some((source, timeout)) = self.builds.clone() else {
                    return;
                };
                let report = self.budgets();
                tokio::spawn(async move {
                    // Logs can be large: a few call timeouts' worth.
                    let result = with_timeout(timeout * 6, source.fetch_log(&run)).await;
                    let _ = tx.send(Event::LogFetched {
                        request,
                        run,
                        result,
                    });
                    report();
                });
            }
            Command::CancelRun { request, run } => {
                let gate = self.gate.clone();
                let path = self.store_path.clone();
                let target = format!("run:{run}");
                tokio::spawn(async move {
                    let work = async move {
                        tokio::task::spawn_blocking(move || {
                            Store::open(&path)
                                .and_then(|s| s.request_cancel(&run))
                                .map_err(|e| ProviderError::Other(e.to_string()))
                        })
                        .await
                        .map_err(|e| ProviderError::Other(e.to_string()))?
                    };
                    let result = gate.run("cancel_run", &target, "", work).await;
                    let _ = tx.send(Event::CancelDone { request, result });
                });
            }
        }
    }

    fn run_pipeline(&self, request: u64, name: String, trigger: &'static str) {
        let tx = self.tx.clone();
        let Some(plan) = self.pipelines.iter().find(|p| p.name == name).cloned() else {
            let result = Err(ProviderError::NotFound(format!("pipeline {name}")).into());
            let _ = tx.send(Event::PipelineDone { request, result });
            return;
        };
        let gate = self.gate.clone();
        let path = self.store_path.clone();
        let cancel = Arc::new(AtomicBool::new(false));
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Arc::clone(&cancel));
        let running = Arc::clone(&self.running);
        let who = Trigger {
            kind: trigger.to_string(),
            actor: self.actor.clone(),
        };
        tokio::spawn(async move {
            let flag = Arc::clone(&cancel);
            let work = async move {
                tokio::task::spawn_blocking(move || {
                    let tail = Arc::new(Mutex::new(Tail::default()));
                    pipeline::execute(&plan, &who, &path, &tail, &flag, &mut |_| {})
                        .map_err(|e| ProviderError::Other(e.to_string()))
                })
                .await
                .map_err(|e| ProviderError::Other(e.to_string()))?
            };
            let result = gate
                .run("run_pipeline", &format!("pipeline:{name}"), trigger, work)
                .await
                .map(Box::new);
            running
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .retain(|c| !Arc::ptr_eq(c, &cancel));
            let _ = tx.send(Event::PipelineDone { request, result });
        });
    }

    /// Cancels the runs this cockpit started and waits (up to `limit`) for their process
    /// groups to be gone, so quitting never leaves orphans behind.
    pub async fn cancel_all(&self, limit: Duration) {
        let flags: Vec<_> = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for f in &flags {
            f.store(true, Ordering::Relaxed);
        }
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline
            && !self
                .running
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .is_empty()
        {
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}
