//! GitHub (or GitHub Enterprise) as a provider: issues for the backlog, Actions runs for builds,
//! over one rate-limit-aware client per host.

pub mod auth;
pub mod client;
pub mod deployments;
pub mod dispatch;
pub mod issues;
pub mod runs;

use std::collections::HashMap;
use std::sync::Arc;

pub use auth::Token;
pub use client::{Budget, GhClient};
pub use issues::GithubBacklog;
pub use runs::GithubRuns;

use crate::config::ProviderConfig;
use crate::providers::ProviderError;

/// The public API when a provider sets no `api_url`.
pub const DEFAULT_API: &str = "https://api.github.com";
/// The label that marks incidents when a provider sets none.
pub const DEFAULT_INCIDENT_LABEL: &str = "incident";

/// Unix seconds of an RFC 3339 time (0 when unreadable).
pub fn parse_time(s: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|d| d.timestamp())
        .unwrap_or(0)
}

/// Whether `repo` is `owner/name` with only the characters GitHub allows (so it can go into a
/// URL path as it is).
pub fn valid_repo(repo: &str) -> bool {
    let parts: Vec<&str> = repo.split('/').collect();
    parts.len() == 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && *p != "."
                && *p != ".."
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        })
}

/// Splits `owner/name#12` into the repo and the number.
pub fn repo_and_number(id: &str) -> Result<(String, u64), ProviderError> {
    let bad = || ProviderError::Invalid(format!("not a GitHub issue id: {id:?}"));
    let (repo, n) = id.rsplit_once('#').ok_or_else(bad)?;
    let n: u64 = n.parse().map_err(|_| bad())?;
    if !valid_repo(repo) {
        return Err(bad());
    }
    Ok((repo.to_string(), n))
}

/// The web site of an API URL: `https://api.github.com` → `https://github.com`,
/// `https://ghe.corp/api/v3` → `https://ghe.corp`.
pub fn web_base(api_url: &str) -> String {
    let api = api_url.trim_end_matches('/');
    if let Some(rest) = api.strip_prefix("https://api.") {
        return format!("https://{rest}");
    }
    api.strip_suffix("/api/v3").unwrap_or(api).to_string()
}

/// One client per API host, shared by every provider that names it.
#[derive(Default)]
pub struct Clients {
    by_host: HashMap<String, (Arc<GhClient>, Option<Token>, TokenSetting)>,
}

/// How a provider names its token: `token_cmd` and `token_env`.
type TokenSetting = (Option<Vec<String>>, Option<String>);

impl Clients {
    /// The client for a provider's host, made (and its token found) on first use. Providers
    /// on one host share it, so they must name the same token; a token never goes over plain
    /// HTTP except to this machine.
    pub fn for_provider(
        &mut self,
        p: &ProviderConfig,
    ) -> Result<(Arc<GhClient>, Option<Token>), String> {
        let api = p
            .api_url
            .as_deref()
            .unwrap_or(DEFAULT_API)
            .trim_end_matches('/')
            .to_string();
        let how = (p.token_cmd.clone(), p.token_env.clone());
        if let Some((c, t, first)) = self.by_host.get(&api) {
            if *first != how {
                return Err(format!(
                    "another provider on {api} names a different token; providers of one host share one client"
                ));
            }
            return Ok((Arc::clone(c), t.clone()));
        }
        let host = api
            .split("://")
            .nth(1)
            .unwrap_or(&api)
            .split('/')
            .next()
            .unwrap_or_default()
            .to_string();
        let token = auth::resolve(p.token_cmd.as_deref(), p.token_env.as_deref(), &host)?;
        let name = host.rsplit_once(':').map_or(host.as_str(), |(h, _)| h);
        let local = matches!(name, "127.0.0.1" | "localhost" | "[::1]");
        if token.is_some() && api.starts_with("http://") && !local {
            return Err(format!(
                "refusing to send a token over plain http to {host}: use https"
            ));
        }
        let client = GhClient::new(&api, token.as_ref(), p.timeout()).map_err(|e| e.to_string())?;
        let client = Arc::new(client);
        self.by_host
            .insert(api, (Arc::clone(&client), token.clone(), how));
        Ok((client, token))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_times() {
        assert_eq!(
            repo_and_number("acme/api#12").unwrap(),
            ("acme/api".to_string(), 12)
        );
        assert!(repo_and_number("acme#12").is_err());
        assert!(repo_and_number("../x#1").is_err());
        assert!(repo_and_number("a/b#x").is_err());
        assert!(repo_and_number("acme/api?x=#1").is_err());
        assert!(repo_and_number("acme/./#1").is_err());
        assert!(valid_repo("my-org/my.repo_2"));
        assert_eq!(parse_time("2026-11-28T10:00:00Z"), 1_795_860_000);
        assert_eq!(parse_time("garbage"), 0);
        assert_eq!(web_base("https://api.github.com"), "https://github.com");
        assert_eq!(web_base("https://ghe.corp/api/v3/"), "https://ghe.corp");
    }
}
