//! GitHub Issues as a backlog: issues of the configured repos, incidents by label, dedup keys as
//! hidden markers in the body (found by listing labelled issues, never by search, which lags).

use std::path::PathBuf;
use std::sync::Arc;

use futures::future::BoxFuture;
use http::Method;
use serde::Deserialize;
use serde_json::json;

use super::client::GhClient;
use super::{parse_time, repo_and_number};
use crate::domain::{Comment, ItemKind, ItemState, NewItem, Severity, WorkItem};
use crate::http::urlencode as encode;
use crate::providers::{BacklogMutation, BacklogSource, ProviderError};

/// Pages of 100 issues read per repo and list.
const LIST_PAGES: usize = 3;
/// Pages read when looking a dedup key up among labelled issues.
const KEY_PAGES: usize = 10;
/// The label an acknowledged incident gets.
const ACKED: &str = "acked";

/// The hidden marker that carries a dedup key in an issue's body.
pub fn key_marker(key: &str) -> String {
    // `--` would end the HTML comment early.
    format!(
        "<!-- flightdeck-key: {} -->",
        key.replace("--", "-\u{2010}")
    )
}

/// Every dedup key marked in a body.
pub fn keys_in(body: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(i) = rest.find("<!-- flightdeck-key: ") {
        rest = &rest[i + 21..];
        if let Some(end) = rest.find(" -->") {
            out.push(rest[..end].replace("-\u{2010}", "--"));
            rest = &rest[end..];
        }
    }
    out
}

#[derive(Deserialize)]
struct User {
    login: String,
}

#[derive(Deserialize)]
struct Label {
    name: String,
}

#[derive(Deserialize)]
struct Issue {
    number: u64,
    title: String,
    body: Option<String>,
    state: String,
    #[serde(default)]
    labels: Vec<Label>,
    user: Option<User>,
    assignee: Option<User>,
    created_at: String,
    updated_at: String,
    #[serde(default)]
    comments: u32,
    pull_request: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct IssueComment {
    body: Option<String>,
    user: Option<User>,
    created_at: String,
}

/// Issues of GitHub repositories.
pub struct GithubBacklog {
    id: String,
    client: Arc<GhClient>,
    repos: Vec<String>,
    label: String,
    store: PathBuf,
    actor: String,
    /// Saved searches: (name, query).
    sections: Vec<(String, String)>,
}

#[derive(Deserialize)]
struct SearchIssue {
    repository_url: String,
    #[serde(flatten)]
    issue: Issue,
}

#[derive(Deserialize)]
struct SearchPage {
    items: Vec<SearchIssue>,
}

impl GithubBacklog {
    /// A backlog over `repos`; incidents carry `label`; mutes of dismissed incidents go to the
    /// workspace `store`.
    pub fn new(
        id: &str,
        client: Arc<GhClient>,
        repos: Vec<String>,
        label: &str,
        store: PathBuf,
        actor: &str,
    ) -> GithubBacklog {
        GithubBacklog {
            id: id.to_string(),
            client,
            repos,
            label: label.to_string(),
            store,
            actor: actor.to_string(),
            sections: Vec::new(),
        }
    }

    /// Adds saved searches: each item found carries the section's name.
    pub fn with_sections(mut self, sections: Vec<(String, String)>) -> GithubBacklog {
        self.sections = sections;
        self
    }

    /// Runs each section's search; whether any answer changed.
    async fn search_sections(&self, all: &mut Vec<WorkItem>) -> Result<bool, ProviderError> {
        let mut changed = false;
        let scope: Vec<String> = self.repos.iter().map(|r| format!("repo:{r}")).collect();
        for (name, query) in &self.sections {
            let q = format!("{query} is:issue {}", scope.join(" "));
            let path = format!("/search/issues?q={}&per_page=100", encode(&q));
            let (pages, ch) = self.client.get_pages(&path, 1).await?;
            changed |= ch;
            for p in pages {
                let page: SearchPage = serde_json::from_slice(&p).map_err(|e| bad(name, &e))?;
                for found in page.items {
                    let Some(repo) = found
                        .repository_url
                        .rsplit_once("/repos/")
                        .map(|(_, r)| r.to_string())
                        .filter(|r| self.repos.contains(r))
                    else {
                        continue;
                    };
                    if found.issue.pull_request.is_some() {
                        continue;
                    }
                    let item = self.item(&repo, found.issue);
                    match all.iter_mut().find(|i| i.id == item.id) {
                        Some(i) => i.sections.push(name.clone()),
                        None => {
                            let mut item = item;
                            item.sections.push(name.clone());
                            all.push(item);
                        }
                    }
                }
            }
        }
        Ok(changed)
    }

    fn item(&self, repo: &str, i: Issue) -> WorkItem {
        let mut labels: Vec<String> = i.labels.into_iter().map(|l| l.name).collect();
        labels.sort();
        labels.dedup();
        let incident = labels.contains(&self.label);
        let severity = labels
            .iter()
            .find_map(|l| l.strip_prefix("severity:").and_then(Severity::parse));
        let body = i.body.unwrap_or_default();
        WorkItem {
            id: format!("{repo}#{}", i.number),
            provider: self.id.clone(),
            title: i.title,
            // Keys the cockpit's own forms make start with `ui:`; the rest were filed by the
            // incident loop.
            auto: keys_in(&body).iter().any(|k| !k.starts_with("ui:")),
            sections: Vec::new(),
            body,
            state: if i.state == "closed" {
                ItemState::Closed
            } else {
                ItemState::Open
            },
            kind: if incident {
                ItemKind::Incident
            } else {
                ItemKind::Issue
            },
            severity: severity.filter(|_| incident),
            labels,
            author: i.user.map(|u| u.login).unwrap_or_default(),
            created: parse_time(&i.created_at),
            updated: parse_time(&i.updated_at),
            comments: i.comments,
            assignee: i.assignee.map(|u| u.login),
        }
    }

    /// Parses pages of issues, leaving pull requests out.
    fn items(&self, repo: &str, pages: &[bytes::Bytes]) -> Result<Vec<WorkItem>, ProviderError> {
        let mut out = Vec::new();
        for p in pages {
            let issues: Vec<Issue> = serde_json::from_slice(p).map_err(|e| bad(repo, &e))?;
            out.extend(
                issues
                    .into_iter()
                    .filter(|i| i.pull_request.is_none())
                    .map(|i| self.item(repo, i)),
            );
        }
        Ok(out)
    }

    async fn list_all(&self, force: bool) -> Result<Option<Vec<WorkItem>>, ProviderError> {
        let mut all = Vec::new();
        let mut changed = false;
        for repo in &self.repos {
            let path =
                format!("/repos/{repo}/issues?state=all&sort=updated&direction=desc&per_page=100");
            let (pages, ch) = self.client.get_pages(&path, LIST_PAGES).await?;
            changed |= ch;
            all.extend(self.items(repo, &pages)?);
        }
        changed |= self.search_sections(&mut all).await?;
        if !changed && !force {
            return Ok(None);
        }
        all.sort_by(|a, b| b.updated.cmp(&a.updated).then_with(|| a.id.cmp(&b.id)));
        Ok(Some(all))
    }

    async fn issue(&self, id: &str) -> Result<(String, u64, WorkItem), ProviderError> {
        let (repo, n) = repo_and_number(id)?;
        let a = self
            .client
            .get(&format!("/repos/{repo}/issues/{n}"))
            .await?;
        let i: Issue = serde_json::from_slice(&a.body).map_err(|e| bad(&repo, &e))?;
        let item = self.item(&repo, i);
        Ok((repo, n, item))
    }

    async fn by_key(&self, key: &str) -> Result<Option<WorkItem>, ProviderError> {
        let mark = key_marker(key);
        let mut found: Vec<WorkItem> = Vec::new();
        for repo in &self.repos {
            let path = format!(
                "/repos/{repo}/issues?labels={}&state=all&sort=updated&direction=desc&per_page=100",
                encode(&self.label)
            );
            let (pages, _) = self.client.get_pages(&path, KEY_PAGES).await?;
            found.extend(
                self.items(repo, &pages)?
                    .into_iter()
                    .filter(|i| i.body.contains(&mark)),
            );
        }
        // An open one wins (a merge leaves the key on the closed item too).
        found.sort_by_key(|i| (i.state != ItemState::Open, -i.updated));
        Ok(found.into_iter().next())
    }

    async fn patch(&self, id: &str, body: serde_json::Value) -> Result<String, ProviderError> {
        let (repo, n) = repo_and_number(id)?;
        self.client
            .send(
                Method::PATCH,
                &format!("/repos/{repo}/issues/{n}"),
                Some(&body),
            )
            .await?;
        Ok(id.to_string())
    }

    async fn comment(&self, id: &str, body: &str) -> Result<String, ProviderError> {
        if body.trim().is_empty() {
            return Err(ProviderError::Invalid("the comment is empty".into()));
        }
        let (repo, n) = repo_and_number(id)?;
        self.client
            .send(
                Method::POST,
                &format!("/repos/{repo}/issues/{n}/comments"),
                Some(&json!({ "body": body })),
            )
            .await?;
        Ok(id.to_string())
    }

    fn labels_for(&self, item: &NewItem) -> Vec<String> {
        let mut labels = item.labels.clone();
        if item.kind == Some(ItemKind::Incident) {
            labels.push(self.label.clone());
            if let Some(s) = item.severity {
                labels.push(format!("severity:{}", s.as_str()));
            }
        }
        labels.sort();
        labels.dedup();
        labels
    }

    async fn create(&self, item: NewItem) -> Result<String, ProviderError> {
        if item.title.trim().is_empty() {
            return Err(ProviderError::Invalid("the title is empty".into()));
        }
        if let Some(k) = &item.key
            && let Some(found) = self.by_key(k).await?
        {
            return Ok(found.id);
        }
        let repo = self
            .repos
            .first()
            .ok_or_else(|| ProviderError::Invalid("no repos configured".into()))?;
        let mut body = item.body.clone();
        if let Some(k) = &item.key {
            body = format!("{body}\n\n{}", key_marker(k));
        }
        let a = self
            .client
            .send(
                Method::POST,
                &format!("/repos/{repo}/issues"),
                Some(
                    &json!({ "title": item.title, "body": body, "labels": self.labels_for(&item) }),
                ),
            )
            .await?;
        let i: Issue = serde_json::from_slice(&a.body).map_err(|e| bad(repo, &e))?;
        Ok(format!("{repo}#{}", i.number))
    }

    async fn edit(
        &self,
        id: &str,
        item: NewItem,
        base: Option<i64>,
    ) -> Result<String, ProviderError> {
        if item.title.trim().is_empty() {
            return Err(ProviderError::Invalid("the title is empty".into()));
        }
        let (_, _, now) = self.issue(id).await?;
        if base.is_some_and(|b| b != now.updated) {
            return Err(ProviderError::Invalid(format!(
                "conflict: {id} changed since the editor opened"
            )));
        }
        // Keep the hidden keys: the incident loop still finds the item after an edit.
        let mut body = item.body.clone();
        for k in keys_in(&now.body) {
            if !body.contains(&key_marker(&k)) {
                body = format!("{body}\n\n{}", key_marker(&k));
            }
        }
        let mut labels = self.labels_for(&item);
        if now.kind == ItemKind::Incident && !labels.contains(&self.label) {
            labels.push(self.label.clone());
        }
        self.patch(
            id,
            json!({ "title": item.title, "body": body, "labels": labels }),
        )
        .await
    }

    async fn apply_one(&self, change: BacklogMutation) -> Result<String, ProviderError> {
        match change {
            BacklogMutation::Create(item) => self.create(item).await,
            BacklogMutation::Edit { id, item, base } => self.edit(&id, item, base).await,
            BacklogMutation::Comment { id, body } => self.comment(&id, &body).await,
            BacklogMutation::SetState { id, state } => {
                self.patch(&id, json!({ "state": state.as_str() })).await
            }
            BacklogMutation::SetLabels { id, labels } => {
                let (repo, n) = repo_and_number(&id)?;
                self.client
                    .send(
                        Method::PUT,
                        &format!("/repos/{repo}/issues/{n}/labels"),
                        Some(&json!({ "labels": labels })),
                    )
                    .await?;
                Ok(id)
            }
            BacklogMutation::Acknowledge { id } => {
                let (repo, n) = repo_and_number(&id)?;
                self.client
                    .send(
                        Method::POST,
                        &format!("/repos/{repo}/issues/{n}/labels"),
                        Some(&json!({ "labels": [ACKED] })),
                    )
                    .await?;
                self.comment(&id, &format!("Acknowledged by {}.", self.actor))
                    .await
            }
            BacklogMutation::Assign { id, assignee } => {
                let who: Vec<String> = assignee.into_iter().collect();
                self.patch(&id, json!({ "assignees": who })).await
            }
            BacklogMutation::Merge { id, into } => {
                let (_, _, from) = self.issue(&id).await?;
                let (_, _, to) = self.issue(&into).await?;
                let mut body = to.body.clone();
                for k in keys_in(&from.body) {
                    if !body.contains(&key_marker(&k)) {
                        body = format!("{body}\n\n{}", key_marker(&k));
                    }
                }
                if body != to.body {
                    self.patch(&into, json!({ "body": body })).await?;
                }
                self.comment(&id, &format!("Merged into {into} by {}.", self.actor))
                    .await?;
                self.patch(&id, json!({ "state": "closed" })).await?;
                Ok(into)
            }
            BacklogMutation::Dismiss { id, hours } => {
                let (_, _, item) = self.issue(&id).await?;
                let keys = keys_in(&item.body);
                let list: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
                let text = if keys.is_empty() {
                    format!("Dismissed by {}.", self.actor)
                } else {
                    format!(
                        "Dismissed by {}; {} muted for {hours} h.",
                        self.actor,
                        list.join(", ")
                    )
                };
                self.comment(&id, &text).await?;
                self.patch(&id, json!({ "state": "closed" })).await?;
                let (store, actor) = (self.store.clone(), self.actor.clone());
                let now = crate::domain::now();
                tokio::task::spawn_blocking(move || -> Result<(), ProviderError> {
                    let s = crate::store::Store::open(&store)?;
                    for k in &keys {
                        s.mute(
                            k,
                            now + hours as i64 * 3600,
                            &format!("dismissed {id}"),
                            &actor,
                            now,
                        )?;
                        s.resolve_incident(k, now)?;
                    }
                    Ok(())
                })
                .await
                .map_err(|e| ProviderError::Other(format!("store task failed: {e}")))??;
                Ok(item.id)
            }
        }
    }
}

fn bad(repo: &str, e: &serde_json::Error) -> ProviderError {
    ProviderError::BadResponse(format!("{repo}: unreadable answer ({e})"))
}

impl BacklogSource for GithubBacklog {
    fn id(&self) -> &str {
        &self.id
    }

    fn list(&self, force: bool) -> BoxFuture<'_, Result<Option<Vec<WorkItem>>, ProviderError>> {
        Box::pin(self.list_all(force))
    }

    fn comments(&self, id: &str) -> BoxFuture<'_, Result<Vec<Comment>, ProviderError>> {
        let id = id.to_string();
        Box::pin(async move {
            let (repo, n) = repo_and_number(&id)?;
            let (pages, _) = self
                .client
                .get_pages(
                    &format!("/repos/{repo}/issues/{n}/comments?per_page=100"),
                    10,
                )
                .await?;
            let mut out = Vec::new();
            for p in pages {
                let cs: Vec<IssueComment> =
                    serde_json::from_slice(&p).map_err(|e| bad(&repo, &e))?;
                out.extend(cs.into_iter().map(|c| Comment {
                    author: c.user.map(|u| u.login).unwrap_or_default(),
                    body: c.body.unwrap_or_default(),
                    created: parse_time(&c.created_at),
                }));
            }
            Ok(out)
        })
    }

    fn web_url(&self, id: &str) -> Option<String> {
        let (repo, n) = repo_and_number(id).ok()?;
        Some(format!("{}/{repo}/issues/{n}", self.client.web()))
    }

    fn find_key(&self, key: &str) -> BoxFuture<'_, Result<Option<WorkItem>, ProviderError>> {
        let key = key.to_string();
        Box::pin(async move { self.by_key(&key).await })
    }

    fn apply(&self, change: BacklogMutation) -> BoxFuture<'_, Result<String, ProviderError>> {
        Box::pin(self.apply_one(change))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_markers() {
        let body = format!(
            "text\n\n{}\n{}",
            key_marker("check:api healthz"),
            key_marker("a--b")
        );
        assert_eq!(keys_in(&body), vec!["check:api healthz", "a--b"]);
        assert!(!key_marker("x-->y").contains("-->y"));
    }
}
