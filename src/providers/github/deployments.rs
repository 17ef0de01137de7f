//! GitHub's deployments of an environment, newest first, each with its latest status.

use serde::{Deserialize, Serialize};

use super::client::GhClient;
use super::parse_time;
use crate::http::urlencode as encode;
use crate::providers::ProviderError;

/// One deployment as GitHub records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GhDeployment {
    /// Its id.
    pub id: u64,
    /// The branch, tag or sha deployed.
    pub git_ref: String,
    /// The commit, shortened.
    pub sha: String,
    /// Who created it.
    pub creator: String,
    /// When.
    pub created: i64,
    /// Its latest status (`success`, `failure`, `in_progress`, …; `pending` without one).
    pub state: String,
    /// Its description, if any.
    pub description: String,
}

/// An environment's recent deployments, or why they could not be read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct GithubEnv {
    /// `owner/name`.
    pub repo: String,
    /// The environment.
    pub environment: String,
    /// Newest first.
    pub deployments: Vec<GhDeployment>,
    /// The repo's latest release tags, newest first (versions a deploy can be given).
    pub releases: Vec<String>,
    /// The last failure to read them.
    pub error: Option<String>,
}

#[derive(Deserialize)]
struct User {
    login: String,
}

#[derive(Deserialize)]
struct Deployment {
    id: u64,
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    sha: Option<String>,
    creator: Option<User>,
    created_at: String,
    description: Option<String>,
}

#[derive(Deserialize)]
struct Status {
    state: String,
}

#[derive(Deserialize)]
struct Release {
    tag_name: String,
    #[serde(default)]
    draft: bool,
}

/// The tags of the latest `n` published releases of `repo`, newest first.
pub async fn releases(
    client: &GhClient,
    repo: &str,
    n: usize,
) -> Result<Vec<String>, ProviderError> {
    let a = client
        .get(&format!("/repos/{repo}/releases?per_page={n}"))
        .await?;
    let list: Vec<Release> = serde_json::from_slice(&a.body)
        .map_err(|e| ProviderError::BadResponse(format!("unreadable releases ({e})")))?;
    Ok(list
        .into_iter()
        .filter(|r| !r.draft)
        .map(|r| r.tag_name)
        .collect())
}

/// The latest `n` deployments of `environment` in `repo`, with their statuses (every request
/// conditional, so an unchanged environment costs 304s).
pub async fn latest(
    client: &GhClient,
    repo: &str,
    environment: &str,
    n: usize,
) -> Result<Vec<GhDeployment>, ProviderError> {
    let a = client
        .get(&format!(
            "/repos/{repo}/deployments?environment={}&per_page={n}",
            encode(environment)
        ))
        .await?;
    let list: Vec<Deployment> = serde_json::from_slice(&a.body)
        .map_err(|e| ProviderError::BadResponse(format!("unreadable deployments ({e})")))?;
    let mut out = Vec::new();
    for d in list.into_iter().take(n) {
        let s = client
            .get(&format!(
                "/repos/{repo}/deployments/{}/statuses?per_page=1",
                d.id
            ))
            .await?;
        let statuses: Vec<Status> = serde_json::from_slice(&s.body)
            .map_err(|e| ProviderError::BadResponse(format!("unreadable statuses ({e})")))?;
        out.push(GhDeployment {
            id: d.id,
            git_ref: d.git_ref.unwrap_or_default(),
            sha: d.sha.unwrap_or_default().chars().take(7).collect(),
            creator: d.creator.map(|u| u.login).unwrap_or_default(),
            created: parse_time(&d.created_at),
            state: statuses
                .into_iter()
                .next()
                .map_or_else(|| "pending".into(), |s| s.state),
            description: d.description.unwrap_or_default(),
        });
    }
    Ok(out)
}
