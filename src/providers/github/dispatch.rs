//! Dispatching a workflow and tracking exactly the run it started (F12): the run id GitHub
//! returns, else a unique value in a correlation input found in the run's title, else the first
//! unclaimed dispatch run since. A dispatch whose run is not known yet is never sent again.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use http::Method;
use serde::Deserialize;
use serde_json::json;
use yaml_rust2::{Yaml, YamlLoader};

use super::client::GhClient;
use super::parse_time;
use crate::domain::{InputKind, Workflow, WorkflowInput};
use crate::providers::ProviderError;
use crate::store::{Dispatch, Store};

/// The input that, when a workflow declares it, carries a unique value per dispatch; the
/// workflow's `run-name` should include it (`run-name: deploy ${{ inputs.flightdeck_id }}`).
pub const CORRELATION_INPUT: &str = "flightdeck_id";
/// After this long, a dispatch whose run never appeared is given up (and may be sent again).
pub const GIVE_UP_SECS: i64 = 600;

/// What a dispatch came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dispatched {
    /// The run it started (`owner/name/id`, as the builds pane names runs).
    Run(String),
    /// Accepted, but its run has not appeared yet; it is matched on a later attempt.
    Pending(String),
}

#[derive(Deserialize)]
struct WfEntry {
    id: u64,
    name: String,
    path: String,
    state: String,
}

#[derive(Deserialize)]
struct WfList {
    workflows: Vec<WfEntry>,
}

#[derive(Deserialize)]
struct Content {
    content: String,
}

#[derive(Deserialize)]
struct RepoInfo {
    default_branch: String,
}

#[derive(Deserialize)]
struct RunEntry {
    id: u64,
    display_title: Option<String>,
    created_at: String,
}

#[derive(Deserialize)]
struct RunPage {
    workflow_runs: Vec<RunEntry>,
}

#[derive(Deserialize)]
struct RunState {
    status: Option<String>,
    conclusion: Option<String>,
    html_url: Option<String>,
}

fn text(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The inputs of a workflow file's `on.workflow_dispatch`, or `None` when it cannot be
/// dispatched by hand.
pub fn dispatch_inputs(yaml: &str) -> Result<Option<Vec<WorkflowInput>>, String> {
    let docs = YamlLoader::load_from_str(yaml).map_err(|e| format!("unreadable YAML: {e}"))?;
    let Some(doc) = docs.first() else {
        return Ok(None);
    };
    // `on` may be a name, a list of names, or a map.
    let dispatch = match &doc["on"] {
        Yaml::String(s) if s == "workflow_dispatch" => return Ok(Some(Vec::new())),
        Yaml::Array(a) if a.iter().any(|y| y.as_str() == Some("workflow_dispatch")) => {
            return Ok(Some(Vec::new()));
        }
        Yaml::Hash(h) => match h.get(&Yaml::String("workflow_dispatch".into())) {
            Some(d) => d,
            None => return Ok(None),
        },
        _ => return Ok(None),
    };
    let Some(inputs) = dispatch["inputs"].as_hash() else {
        return Ok(Some(Vec::new()));
    };
    let mut out = Vec::new();
    for (k, v) in inputs {
        let Some(name) = text(k) else { continue };
        let kind = match v["type"].as_str().unwrap_or("string") {
            "boolean" => InputKind::Boolean,
            "number" => InputKind::Number,
            "environment" => InputKind::Environment,
            "choice" => InputKind::Choice(
                v["options"]
                    .as_vec()
                    .map(|o| o.iter().filter_map(text).collect())
                    .unwrap_or_default(),
            ),
            _ => InputKind::Text,
        };
        out.push(WorkflowInput {
            name,
            description: v["description"].as_str().unwrap_or_default().to_string(),
            required: v["required"].as_bool().unwrap_or(false),
            default: text(&v["default"]),
            kind,
        });
    }
    Ok(Some(out))
}

/// Whether the workflow's `run-name` includes the correlation input.
pub fn run_name_correlates(yaml: &str) -> bool {
    YamlLoader::load_from_str(yaml)
        .ok()
        .and_then(|d| d.first()?["run-name"].as_str().map(str::to_string))
        .is_some_and(|n| n.contains(&format!("inputs.{CORRELATION_INPUT}")))
}

/// A unique, fixed-width value for the correlation input (never a substring of another).
fn correlation_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    format!("fd-{:016x}", h.finish())
}

fn bad(what: &str, e: impl std::fmt::Display) -> ProviderError {
    ProviderError::BadResponse(format!("unreadable {what} ({e})"))
}

/// Dispatches for one provider: its client, the workspace store and who acts.
#[derive(Clone)]
pub struct Dispatcher {
    /// Provider id.
    pub provider: String,
    /// The API client.
    pub client: Arc<GhClient>,
    /// The workspace store (pending dispatches).
    pub store: PathBuf,
    /// Who dispatches.
    pub actor: String,
    /// How long to look for a new run after a 204, and how often.
    pub find: (u32, Duration),
}

impl Dispatcher {
    /// The workflows of `repos` that can be dispatched by hand, with their inputs.
    pub async fn workflows(&self, repos: &[String]) -> Result<Vec<Workflow>, ProviderError> {
        let mut out = Vec::new();
        for repo in repos {
            let branch = self.default_branch(repo).await?;
            let a = self
                .client
                .get(&format!("/repos/{repo}/actions/workflows?per_page=100"))
                .await?;
            let list: WfList = serde_json::from_slice(&a.body).map_err(|e| bad("workflows", e))?;
            for w in list.workflows.into_iter().filter(|w| w.state == "active") {
                let path = w.path.clone();
                match self.load(repo, w, &branch).await {
                    Ok(Some(w)) => out.push(w),
                    Ok(None) => {}
                    // Generated workflows (CodeQL, Dependabot) have no file to read: skip them.
                    Err(e @ (ProviderError::NotFound(_) | ProviderError::BadResponse(_))) => {
                        tracing::info!(repo, path, error = %e, "workflow skipped");
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(out)
    }

    /// One workflow by file name or id; an error when it cannot be dispatched by hand.
    pub async fn workflow(&self, repo: &str, name: &str) -> Result<Workflow, ProviderError> {
        let branch = self.default_branch(repo).await?;
        let a = self
            .client
            .get(&format!(
                "/repos/{repo}/actions/workflows/{}",
                crate::http::urlencode(name)
            ))
            .await?;
        let w: WfEntry = serde_json::from_slice(&a.body).map_err(|e| bad("workflow", e))?;
        let path = w.path.clone();
        self.load(repo, w, &branch).await?.ok_or_else(|| {
            ProviderError::Invalid(format!("{path} in {repo} has no workflow_dispatch trigger"))
        })
    }

    async fn default_branch(&self, repo: &str) -> Result<String, ProviderError> {
        let info: RepoInfo =
            serde_json::from_slice(&self.client.get(&format!("/repos/{repo}")).await?.body)
                .map_err(|e| bad("repository", e))?;
        Ok(info.default_branch)
    }

    /// A workflow's inputs from its file; `None` when it has no `workflow_dispatch`.
    async fn load(
        &self,
        repo: &str,
        w: WfEntry,
        branch: &str,
    ) -> Result<Option<Workflow>, ProviderError> {
        let path: Vec<String> = w.path.split('/').map(crate::http::urlencode).collect();
        let c = self
            .client
            .get(&format!("/repos/{repo}/contents/{}", path.join("/")))
            .await?;
        let c: Content = serde_json::from_slice(&c.body).map_err(|e| bad("file", e))?;
        let raw: String = c.content.split_whitespace().collect();
        let yaml = base64::engine::general_purpose::STANDARD
            .decode(raw)
            .map_err(|e| bad("file", e))?;
        let yaml = String::from_utf8_lossy(&yaml);
        let correlated = run_name_correlates(&yaml);
        Ok(dispatch_inputs(&yaml)
            .ok()
            .flatten()
            .map(|inputs| Workflow {
                repo: repo.to_string(),
                id: w.id,
                name: w.name,
                path: w.path,
                default_ref: branch.to_string(),
                correlated: correlated && inputs.iter().any(|i| i.name == CORRELATION_INPUT),
                inputs,
            }))
    }

    /// The run of this workflow's oldest unreconciled dispatch, once it shows (tracked from
    /// then); `None` when there is no such dispatch or its run has not appeared.
    pub async fn reconcile(&self, w: &Workflow) -> Result<Option<u64>, ProviderError> {
        let Some(d) = self.store(|s| s.dispatch_unreconciled(&w.repo, w.id, &self.actor))? else {
            return Ok(None);
        };
        let run = self.find_run(w, &d).await?;
        if let Some(run) = run {
            self.store(|s| s.dispatch_set(d.id, "tracked", Some(run)))?;
        }
        Ok(run)
    }

    /// Whether a dispatch of `w` by this actor is still waiting for its run.
    pub fn pending(&self, w: &Workflow) -> Result<bool, ProviderError> {
        Ok(self
            .store(|s| s.dispatch_unreconciled(&w.repo, w.id, &self.actor))?
            .is_some())
    }

    /// A run's status and conclusion, and its web page.
    pub async fn run_state(
        &self,
        repo: &str,
        run: u64,
    ) -> Result<(crate::domain::RunStatus, String, String), ProviderError> {
        let a = self
            .client
            .send(
                Method::GET,
                &format!("/repos/{repo}/actions/runs/{run}"),
                None,
            )
            .await?;
        let r: RunState = serde_json::from_slice(&a.body).map_err(|e| bad("run", e))?;
        Ok((
            super::runs::status_of(r.status.as_deref(), r.conclusion.as_deref()),
            r.conclusion.unwrap_or_default(),
            r.html_url.unwrap_or_default(),
        ))
    }

    /// Asks GitHub to cancel a run.
    pub async fn cancel(&self, repo: &str, run: u64) -> Result<(), ProviderError> {
        self.client
            .send(
                Method::POST,
                &format!("/repos/{repo}/actions/runs/{run}/cancel"),
                None,
            )
            .await
            .map(|_| ())
    }

    fn store<T>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, crate::store::StoreError>,
    ) -> Result<T, ProviderError> {
        let s = Store::open(&self.store)?;
        Ok(f(&s)?)
    }

    /// Looks for the run of a dispatch among the workflow's dispatch runs.
    async fn find_run(&self, w: &Workflow, d: &Dispatch) -> Result<Option<u64>, ProviderError> {
        let a = self
            .client
            .send(
                Method::GET,
                &format!(
                    "/repos/{}/actions/workflows/{}/runs?event=workflow_dispatch&per_page=30",
                    w.repo, w.id
                ),
                None,
            )
            .await?;
        let page: RunPage = serde_json::from_slice(&a.body).map_err(|e| bad("runs", e))?;
        let claimed = self.store(|s| s.dispatch_claimed(&w.repo))?;
        let correlated = w.correlated;
        let mut candidates: Vec<&RunEntry> = page
            .workflow_runs
            .iter()
            .filter(|r| !claimed.contains(&r.id))
            .filter(|r| {
                if correlated {
                    r.display_title
                        .as_deref()
                        .is_some_and(|t| t.contains(&d.correlation))
                } else {
                    parse_time(&r.created_at) >= d.created - 5
                }
            })
            .collect();
        candidates.sort_by_key(|r| (parse_time(&r.created_at), r.id));
        Ok(candidates.first().map(|r| r.id))
    }

    /// Dispatches `w` on `git_ref` with `values` (checked against the inputs first).
    pub async fn dispatch(
        &self,
        w: &Workflow,
        git_ref: &str,
        values: &BTreeMap<String, String>,
    ) -> Result<Dispatched, ProviderError> {
        let mut inputs = w.check(values).map_err(ProviderError::Invalid)?;
        let now = crate::domain::now();
        // Reconcile the one before, if its run is not known: never send twice blind.
        if let Some(prev) = self.store(|s| s.dispatch_unreconciled(&w.repo, w.id, &self.actor))? {
            match self.find_run(w, &prev).await? {
                Some(run) => self.store(|s| s.dispatch_set(prev.id, "tracked", Some(run)))?,
                None if now - prev.created > GIVE_UP_SECS => {
                    self.store(|s| s.dispatch_set(prev.id, "abandoned", None))?
                }
                None => {
                    return Err(ProviderError::Invalid(format!(
                        "the dispatch of {} sent at {} has not shown its run yet; it is not sent again until it does (or {} min pass)",
                        w.name,
                        super::client::clock(prev.created),
                        GIVE_UP_SECS / 60
                    )));
                }
            }
        }
        let correlation = correlation_id();
        if w.inputs.iter().any(|i| i.name == CORRELATION_INPUT) {
            inputs.insert(CORRELATION_INPUT.into(), correlation.clone());
        }
        let inputs_json = serde_json::to_string(&inputs).unwrap_or_default();
        let id = self.store(|s| {
            s.dispatch_begin(
                &self.provider,
                &w.repo,
                w.id,
                git_ref,
                &inputs_json,
                &correlation,
                &self.actor,
                now,
            )
        })?;
        let sent = self
            .client
            .send(
                Method::POST,
                &format!("/repos/{}/actions/workflows/{}/dispatches", w.repo, w.id),
                Some(&json!({ "ref": git_ref, "inputs": inputs, "return_run_details": true })),
            )
            .await;
        let a = match sent {
            Ok(a) => a,
            // Refused (or never sent): nothing runs, nothing to reconcile.
            Err(
                e @ (ProviderError::Invalid(_)
                | ProviderError::NotFound(_)
                | ProviderError::Auth(_)
                | ProviderError::RateLimited(_)),
            ) => {
                self.store(|s| s.dispatch_set(id, "failed", None))?;
                return Err(e);
            }
            // A timeout or a lost answer: it may run; the next dispatch reconciles it first.
            Err(e) => return Err(e),
        };
        // Newer hosts answer with the run; older ones with 204 and nothing.
        if let Some(run) = serde_json::from_slice::<serde_json::Value>(&a.body)
            .ok()
            .and_then(|v| v["workflow_run_id"].as_u64())
        {
            self.store(|s| s.dispatch_set(id, "tracked", Some(run)))?;
            return Ok(Dispatched::Run(format!("{}/{run}", w.repo)));
        }
        self.store(|s| s.dispatch_set(id, "accepted", None))?;
        let d = self
            .store(|s| s.dispatch_unreconciled(&w.repo, w.id, &self.actor))?
            .ok_or_else(|| ProviderError::Other("the dispatch record vanished".into()))?;
        let (tries, every) = self.find;
        for n in 0..tries {
            if n > 0 {
                tokio::time::sleep(every).await;
            }
            if let Some(run) = self.find_run(w, &d).await? {
                self.store(|s| s.dispatch_set(id, "tracked", Some(run)))?;
                return Ok(Dispatched::Run(format!("{}/{run}", w.repo)));
            }
        }
        Ok(Dispatched::Pending(format!(
            "{} dispatched on {git_ref}; its run has not appeared yet",
            w.name
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_from_a_workflow_file() {
        let y = r#"
name: Deploy
run-name: deploy ${{ inputs.environment }} ${{ inputs.flightdeck_id }}
on:
  push:
    branches: [main]
  workflow_dispatch:
    inputs:
      environment:
        description: Where to
        type: choice
        options: [staging, production]
        required: true
      dry_run:
        type: boolean
        default: false
      replicas:
        type: number
        default: 3
      flightdeck_id:
        description: correlation
"#;
        let inputs = dispatch_inputs(y).unwrap().unwrap();
        let names: Vec<&str> = inputs.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(
            names,
            ["environment", "dry_run", "replicas", "flightdeck_id"]
        );
        assert_eq!(
            inputs[0].kind,
            InputKind::Choice(vec!["staging".into(), "production".into()])
        );
        assert!(inputs[0].required);
        assert_eq!(inputs[1].default.as_deref(), Some("false"));
        assert_eq!(inputs[2].default.as_deref(), Some("3"));
        assert_eq!(inputs[3].kind, InputKind::Text);
        assert_eq!(
            dispatch_inputs("on: workflow_dispatch").unwrap(),
            Some(vec![])
        );
        assert_eq!(
            dispatch_inputs("on: [push, workflow_dispatch]").unwrap(),
            Some(vec![])
        );
        assert_eq!(dispatch_inputs("on: push").unwrap(), None);
        assert!(dispatch_inputs("on: [unclosed").is_err());
    }
}
