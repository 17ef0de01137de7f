//! GitHub Actions workflow runs as a build source: runs of the configured repos (and branches),
//! with their jobs and steps; a run's jobs are fetched again only when the run changed.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use serde::Deserialize;

use super::client::GhClient;
use super::dispatch::{Dispatched, Dispatcher};
use super::parse_time;
use crate::domain::{Run, RunStatus, Step, Workflow};
use crate::http::urlencode as encode;
use crate::providers::{BuildSource, ProviderError, RunAction};

/// Runs listed per repo and branch.
const RUNS_PER_LIST: usize = 30;

#[derive(Deserialize)]
struct Actor {
    login: String,
}

#[derive(Deserialize)]
struct WfRun {
    id: u64,
    name: Option<String>,
    run_number: u64,
    status: Option<String>,
    conclusion: Option<String>,
    head_branch: Option<String>,
    head_sha: Option<String>,
    event: Option<String>,
    actor: Option<Actor>,
    run_started_at: Option<String>,
    created_at: String,
    updated_at: String,
}

#[derive(Deserialize)]
struct RunList {
    workflow_runs: Vec<WfRun>,
}

#[derive(Deserialize)]
struct WfStep {
    name: String,
    status: Option<String>,
    conclusion: Option<String>,
    started_at: Option<String>,
    completed_at: Option<String>,
}

#[derive(Deserialize)]
struct Job {
    id: u64,
    name: String,
    status: Option<String>,
    conclusion: Option<String>,
    started_at: Option<String>,
    completed_at: Option<String>,
    #[serde(default)]
    steps: Vec<WfStep>,
}

#[derive(Deserialize)]
struct JobList {
    jobs: Vec<Job>,
}

/// A run or step status from GitHub's `status` and `conclusion`.
pub fn status_of(status: Option<&str>, conclusion: Option<&str>) -> RunStatus {
    match (status.unwrap_or("queued"), conclusion) {
        ("completed", Some("success" | "skipped" | "neutral")) => RunStatus::Success,
        ("completed", Some("cancelled" | "stale")) => RunStatus::Cancelled,
        ("completed", _) => RunStatus::Failure,
        ("in_progress", _) => RunStatus::Running,
        _ => RunStatus::Queued,
    }
}

fn span(started: Option<&str>, completed: Option<&str>) -> (Option<i64>, Option<u64>) {
    let s = started.map(parse_time).filter(|&t| t > 0);
    let d = match (s, completed.map(parse_time).filter(|&t| t > 0)) {
        (Some(a), Some(b)) if b >= a => Some((b - a) as u64 * 1000),
        _ => None,
    };
    (s, d)
}

/// A job as the log download needs it: id, name, status.
#[derive(Clone, Debug)]
struct JobRef {
    id: u64,
    name: String,
    status: RunStatus,
}

/// What is remembered of a run's jobs, with the run's `updated_at` they were read at.
#[derive(Clone)]
struct Known {
    updated: String,
    steps: Vec<Step>,
    jobs: Vec<JobRef>,
}

/// The most of one run's logs kept on disk.
const LOG_CAP: usize = 64 << 20;
/// Downloaded logs kept; older ones are deleted.
const LOGS_KEPT: usize = 40;

/// Deletes all but the `keep` newest files of `dir`.
fn prune(dir: &std::path::Path, keep: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
        .flatten()
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    files.sort_by_key(|f| std::cmp::Reverse(f.0));
    for (_, p) in files.into_iter().skip(keep) {
        let _ = std::fs::remove_file(p);
    }
}

/// A run's jobs as steps: each job, then its steps indented under it.
fn steps_of(jobs: Vec<Job>) -> Vec<Step> {
    let mut out = Vec::new();
    for j in jobs {
        let (started, duration_ms) = span(j.started_at.as_deref(), j.completed_at.as_deref());
        out.push(Step {
            name: j.name.clone(),
            status: status_of(j.status.as_deref(), j.conclusion.as_deref()),
            exit_code: None,
            started,
            duration_ms,
            log_range: None,
        });
        for s in j.steps {
            let (started, duration_ms) = span(s.started_at.as_deref(), s.completed_at.as_deref());
            out.push(Step {
                name: format!("  {}", s.name),
                status: status_of(s.status.as_deref(), s.conclusion.as_deref()),
                exit_code: None,
                started,
                duration_ms,
                log_range: None,
            });
        }
    }
    out
}

/// Workflow runs of GitHub repositories.
pub struct GithubRuns {
    id: String,
    client: Arc<GhClient>,
    repos: Vec<String>,
    branches: Vec<String>,
    /// Steps and jobs by run id.
    jobs: Mutex<HashMap<u64, Known>>,
    /// Where downloaded logs go.
    log_dir: PathBuf,
    /// Logs downloaded, by run id.
    logs: Mutex<HashMap<u64, String>>,
    /// Dispatches, when the workspace store is known.
    dispatcher: Option<Dispatcher>,
    /// A run was listed without its steps (its jobs could not be read): list in full again.
    incomplete: std::sync::atomic::AtomicBool,
}

/// Splits a run id (`owner/name/123`) into the repo and the number.
fn split_run(id: &str) -> Result<(String, u64), ProviderError> {
    let bad = || ProviderError::Invalid(format!("not a GitHub run id: {id:?}"));
    let (repo, n) = id.rsplit_once('/').ok_or_else(bad)?;
    let n: u64 = n.parse().map_err(|_| bad())?;
    super::repo_and_number(&format!("{repo}#{n}"))
}

impl GithubRuns {
    /// Runs of `repos`, only on `branches` when any are given.
    /// Runs of `repos`, only on `branches` when any are given; logs are downloaded to `log_dir`.
    pub fn new(
        id: &str,
        client: Arc<GhClient>,
        repos: Vec<String>,
        branches: Vec<String>,
        log_dir: PathBuf,
    ) -> GithubRuns {
        GithubRuns {
            id: id.to_string(),
            client,
            repos,
            branches,
            jobs: Mutex::new(HashMap::new()),
            log_dir,
            logs: Mutex::new(HashMap::new()),
            dispatcher: None,
            incomplete: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Lets workflows be dispatched, recording each dispatch in the workspace `store`.
    pub fn with_dispatch(mut self, store: PathBuf, actor: &str) -> GithubRuns {
        self.dispatcher = Some(Dispatcher {
            provider: self.id.clone(),
            client: Arc::clone(&self.client),
            store,
            actor: actor.to_string(),
            find: (5, std::time::Duration::from_secs(2)),
        });
        self
    }

    /// How many times, and how often, a dispatch looks for its new run (tests shorten it).
    pub fn find_runs(mut self, tries: u32, every: std::time::Duration) -> GithubRuns {
        if let Some(d) = self.dispatcher.as_mut() {
            d.find = (tries, every);
        }
        self
    }

    fn known(&self, run: u64, updated: &str) -> Option<Known> {
        let jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        jobs.get(&run).filter(|k| k.updated == updated).cloned()
    }

    /// Reads a run's jobs and remembers them.
    async fn read_jobs(&self, repo: &str, run: u64, updated: &str) -> Result<Known, ProviderError> {
        let a = self
            .client
            .get(&format!(
                "/repos/{repo}/actions/runs/{run}/jobs?per_page=100"
            ))
            .await?;
        let list: JobList = serde_json::from_slice(&a.body)
            .map_err(|e| ProviderError::BadResponse(format!("{repo}: unreadable jobs ({e})")))?;
        let jobs = list
            .jobs
            .iter()
            .map(|j| JobRef {
                id: j.id,
                name: j.name.clone(),
                status: status_of(j.status.as_deref(), j.conclusion.as_deref()),
            })
            .collect();
        let k = Known {
            updated: updated.to_string(),
            steps: steps_of(list.jobs),
            jobs,
        };
        self.jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(run, k.clone());
        Ok(k)
    }

    async fn download(&self, run_id: &str) -> Result<String, ProviderError> {
        let (repo, run) = split_run(run_id)?;
        let known = self
            .jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&run)
            .cloned();
        let known = match known {
            Some(k) => k,
            None => self.read_jobs(&repo, run, "").await?,
        };
        let mut out: Vec<u8> = Vec::new();
        for j in &known.jobs {
            out.extend_from_slice(
                format!("=== job {} ({}) ===\n", j.name, j.status.as_str()).as_bytes(),
            );
            if !j.status.is_final() {
                out.extend_from_slice(
                    b"(still going: GitHub serves a job's log once it has ended)\n",
                );
                continue;
            }
            let a = self
                .client
                .get(&format!("/repos/{repo}/actions/jobs/{}/logs", j.id))
                .await?;
            let room = LOG_CAP.saturating_sub(out.len());
            let body = match a.location {
                Some(url) if a.status.is_redirection() => {
                    self.client.get_absolute(&url, room).await?.body
                }
                _ => a.body,
            };
            out.extend_from_slice(&body[..body.len().min(room)]);
            if !out.ends_with(b"\n") {
                out.push(b'\n');
            }
        }
        let dir = self.log_dir.clone();
        let name = format!("{}-{run}.log", repo.replace('/', "_"));
        let path = tokio::task::spawn_blocking(move || -> std::io::Result<PathBuf> {
            crate::paths::private_dir(&dir)?;
            let path = dir.join(name);
            let tmp = path.with_extension("tmp");
            crate::paths::write_private(&tmp, &out)?;
            std::fs::rename(&tmp, &path)?;
            prune(&dir, LOGS_KEPT);
            Ok(path)
        })
        .await
        .map_err(|e| ProviderError::Other(e.to_string()))?
        .map_err(|e| ProviderError::Other(format!("cannot write the log: {e}")))?;
        let path = path.display().to_string();
        self.logs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(run, path.clone());
        Ok(path)
    }

    async fn steer(&self, run_id: &str, action: RunAction) -> Result<String, ProviderError> {
        let (repo, run) = split_run(run_id)?;
        let (verb, done) = match action {
            RunAction::Rerun => ("rerun", "rerun requested"),
            RunAction::RerunFailed => ("rerun-failed-jobs", "rerun of the failed jobs requested"),
            RunAction::Cancel => ("cancel", "cancel requested"),
        };
        self.client
            .send(
                http::Method::POST,
                &format!("/repos/{repo}/actions/runs/{run}/{verb}"),
                None,
            )
            .await?;
        Ok(format!("{repo} run {run}: {done}"))
    }

    async fn list(&self, force: bool) -> Result<Option<Vec<Run>>, ProviderError> {
        use std::sync::atomic::Ordering;
        let force = self.incomplete.swap(false, Ordering::Relaxed) || force;
        let mut runs: Vec<(String, WfRun)> = Vec::new();
        let mut changed = false;
        let filters: Vec<Option<&String>> = if self.branches.is_empty() {
            vec![None]
        } else {
            self.branches.iter().map(Some).collect()
        };
        for repo in &self.repos {
            for b in &filters {
                let mut path = format!("/repos/{repo}/actions/runs?per_page={RUNS_PER_LIST}");
                if let Some(b) = b {
                    path.push_str(&format!("&branch={}", encode(b)));
                }
                let a = self.client.get(&path).await?;
                changed |= !a.cached;
                let list: RunList = serde_json::from_slice(&a.body).map_err(|e| {
                    ProviderError::BadResponse(format!("{repo}: unreadable runs ({e})"))
                })?;
                runs.extend(list.workflow_runs.into_iter().map(|r| (repo.clone(), r)));
            }
        }
        if !changed && !force {
            return Ok(None);
        }
        let mut out = Vec::new();
        let mut keep = Vec::new();
        for (repo, r) in runs {
            let steps = match self.known(r.id, &r.updated_at) {
                Some(k) => k.steps,
                None => match self.read_jobs(&repo, r.id, &r.updated_at).await {
                    Ok(k) => k.steps,
                    // The run list is still worth showing; its steps come with a later poll.
                    Err(ProviderError::RateLimited(_)) | Err(ProviderError::Timeout(_)) => {
                        self.incomplete.store(true, Ordering::Relaxed);
                        Vec::new()
                    }
                    Err(e) => return Err(e),
                },
            };
            keep.push(r.id);
            let status = status_of(r.status.as_deref(), r.conclusion.as_deref());
            let started = parse_time(r.run_started_at.as_deref().unwrap_or(&r.created_at));
            out.push(Run {
                id: format!("{repo}/{}", r.id),
                provider: self.id.clone(),
                pipeline: format!(
                    "{} · {}",
                    repo.rsplit('/').next().unwrap_or(&repo),
                    r.name.unwrap_or_else(|| "workflow".into())
                ),
                number: r.run_number,
                status,
                commit: r.head_sha.map(|s| s.chars().take(7).collect()),
                branch: r.head_branch,
                trigger: r.event.unwrap_or_default(),
                actor: r.actor.map(|a| a.login).unwrap_or_default(),
                started,
                finished: status.is_final().then(|| parse_time(&r.updated_at)),
                steps,
                tests: None,
                failed_tests: Vec::new(),
                flaky_tests: Vec::new(),
                log_path: self
                    .logs
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get(&r.id)
                    .cloned(),
            });
        }
        self.jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|id, _| keep.contains(id));
        out.sort_by(|a, b| b.started.cmp(&a.started).then_with(|| a.id.cmp(&b.id)));
        Ok(Some(out))
    }
}

impl BuildSource for GithubRuns {
    fn id(&self) -> &str {
        &self.id
    }

    fn runs(&self, force: bool) -> BoxFuture<'_, Result<Option<Vec<Run>>, ProviderError>> {
        Box::pin(self.list(force))
    }

    fn web_url(&self, run: &str) -> Option<String> {
        let (repo, n) = split_run(run).ok()?;
        Some(format!("{}/{repo}/actions/runs/{n}", self.client.web()))
    }

    fn act(&self, run: &str, action: RunAction) -> BoxFuture<'_, Result<String, ProviderError>> {
        let run = run.to_string();
        Box::pin(async move { self.steer(&run, action).await })
    }

    fn workflows(&self) -> BoxFuture<'_, Result<Vec<Workflow>, ProviderError>> {
        Box::pin(async move {
            match &self.dispatcher {
                Some(d) => d.workflows(&self.repos).await,
                None => Ok(Vec::new()),
            }
        })
    }

    fn dispatch(
        &self,
        workflow: Workflow,
        git_ref: String,
        values: BTreeMap<String, String>,
    ) -> BoxFuture<'_, Result<(String, Option<String>), ProviderError>> {
        Box::pin(async move {
            let d = self
                .dispatcher
                .as_ref()
                .ok_or_else(|| ProviderError::Invalid("dispatch is not set up".into()))?;
            if !self.repos.contains(&workflow.repo) {
                return Err(ProviderError::Invalid(format!(
                    "{} is not a configured repo",
                    workflow.repo
                )));
            }
            Ok(match d.dispatch(&workflow, &git_ref, &values).await? {
                Dispatched::Run(run) => (
                    format!("{} dispatched: run {run}", workflow.name),
                    Some(run),
                ),
                Dispatched::Pending(msg) => (msg, None),
            })
        })
    }

    fn fetch_log(&self, run: &str) -> BoxFuture<'_, Result<String, ProviderError>> {
        let run = run.to_string();
        Box::pin(async move { self.download(&run).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map() {
        assert_eq!(
            status_of(Some("completed"), Some("success")),
            RunStatus::Success
        );
        assert_eq!(
            status_of(Some("completed"), Some("timed_out")),
            RunStatus::Failure
        );
        assert_eq!(
            status_of(Some("completed"), Some("cancelled")),
            RunStatus::Cancelled
        );
        assert_eq!(status_of(Some("in_progress"), None), RunStatus::Running);
        assert_eq!(status_of(Some("waiting"), None), RunStatus::Queued);
    }
}
