//! Alertmanager silences: list, create and expire, each one call with a timeout. Creating and
//! expiring are mutations: callers run them through the gate.

use std::time::Duration;

use serde_json::{Value, json};

use crate::config::ProviderConfig;
use crate::config::http::HttpDefaults;
use crate::http::{Client, HttpError};
use crate::providers::ProviderError;

/// An Alertmanager as configured: where it is, its client and its timeout.
#[derive(Clone, Debug)]
pub struct Alertmanager {
    /// The provider id.
    pub id: String,
    /// Its base URL.
    pub url: String,
    /// The client (TLS, credentials, headers).
    pub client: Client,
    /// A call's timeout.
    pub timeout: Duration,
}

impl Alertmanager {
    /// The Alertmanager of provider `p`, with the `[http]` defaults under its own keys.
    pub fn new(defaults: &HttpDefaults, p: &ProviderConfig) -> Alertmanager {
        Alertmanager {
            id: p.id.clone(),
            url: p.url.clone().unwrap_or_default(),
            client: Client::new(&defaults.settings(&[p.http()])),
            timeout: p.timeout(),
        }
    }
}

/// One silence as Alertmanager reports it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Silence {
    /// Its id.
    pub id: String,
    /// `active`, `pending` or `expired`.
    pub state: String,
    /// `name=value` matchers.
    pub matchers: Vec<String>,
    /// Who made it.
    pub created_by: String,
    /// Why.
    pub comment: String,
    /// When it ends (RFC 3339).
    pub ends_at: String,
}

fn base(url: &str) -> &str {
    url.trim_end_matches('/')
}

async fn call(
    am: &Alertmanager,
    method: reqwest::Method,
    path: &str,
    body: Option<String>,
) -> Result<String, ProviderError> {
    let url = format!("{}{path}", base(&am.url));
    let p = am
        .client
        .request(method, &url, body, am.timeout)
        .await
        .map_err(|e| match e {
            HttpError::Config(e) => ProviderError::Invalid(e),
            e => ProviderError::Unreachable(e.to_string()),
        })?;
    if p.refused() {
        return Err(ProviderError::Auth(super::sources::refused(&am.client, &p)));
    }
    if p.status / 100 != 2 {
        let first = p.body.lines().next().unwrap_or_default();
        return Err(ProviderError::BadResponse(format!(
            "alertmanager answered HTTP {}: {}",
            p.status,
            crate::ui::text::clean(first)
                .chars()
                .take(120)
                .collect::<String>()
        )));
    }
    Ok(p.body)
}

/// Every silence Alertmanager knows, active first.
pub async fn list(am: &Alertmanager) -> Result<Vec<Silence>, ProviderError> {
    let body = call(am, reqwest::Method::GET, "/api/v2/silences", None).await?;
    let v: Vec<Value> = serde_json::from_str(&body)
        .map_err(|e| ProviderError::BadResponse(format!("silences: {e}")))?;
    let mut out: Vec<Silence> = v
        .iter()
        .map(|s| Silence {
            id: s["id"].as_str().unwrap_or("").to_string(),
            state: s["status"]["state"].as_str().unwrap_or("").to_string(),
            matchers: s["matchers"]
                .as_array()
                .map(|m| {
                    m.iter()
                        .map(|m| {
                            format!(
                                "{}={}",
                                m["name"].as_str().unwrap_or(""),
                                m["value"].as_str().unwrap_or("")
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
            created_by: s["createdBy"].as_str().unwrap_or("").to_string(),
            comment: s["comment"].as_str().unwrap_or("").to_string(),
            ends_at: s["endsAt"].as_str().unwrap_or("").to_string(),
        })
        .collect();
    out.sort_by_key(|s| (s.state != "active", s.ends_at.clone()));
    Ok(out)
}

/// Parses `name=value` matchers; every one must have a name and a value.
pub fn parse_matchers(args: &[String]) -> Result<Vec<(String, String)>, String> {
    if args.is_empty() {
        return Err("a silence needs at least one name=value matcher".into());
    }
    args.iter()
        .map(|a| match a.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() && !v.is_empty() => {
                Ok((k.trim().to_string(), v.to_string()))
            }
            _ => Err(format!("matcher {a:?} is not name=value")),
        })
        .collect()
}

/// Silences alerts matching every `(name, value)` for `hours`; returns the silence id.
pub async fn create(
    am: &Alertmanager,
    matchers: &[(String, String)],
    hours: u64,
    actor: &str,
    comment: &str,
) -> Result<String, ProviderError> {
    let now = chrono::Utc::now();
    let end = now + chrono::Duration::hours(hours as i64);
    let body = json!({
        "matchers": matchers.iter().map(|(k, v)| json!({
            "name": k, "value": v, "isRegex": false, "isEqual": true,
        })).collect::<Vec<_>>(),
        "startsAt": now.to_rfc3339(),
        "endsAt": end.to_rfc3339(),
        "createdBy": actor,
        "comment": comment,
    });
    let answer = call(
        am,
        reqwest::Method::POST,
        "/api/v2/silences",
        Some(body.to_string()),
    )
    .await?;
    let v: Value = serde_json::from_str(&answer)
        .map_err(|e| ProviderError::BadResponse(format!("silence: {e}")))?;
    v["silenceID"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| ProviderError::BadResponse("no silenceID in the answer".into()))
}

/// Expires a silence now.
pub async fn expire(am: &Alertmanager, id: &str) -> Result<(), ProviderError> {
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return Err(ProviderError::Invalid(format!(
            "{id:?} is not a silence id"
        )));
    }
    call(
        am,
        reqwest::Method::DELETE,
        &format!("/api/v2/silence/{id}"),
        None,
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matchers_are_checked() {
        assert!(parse_matchers(&[]).is_err());
        assert!(parse_matchers(&["alertname".into()]).is_err());
        assert!(parse_matchers(&["=x".into()]).is_err());
        assert_eq!(
            parse_matchers(&["alertname=Disk Full".into(), "service=api".into()]).unwrap(),
            [
                ("alertname".to_string(), "Disk Full".to_string()),
                ("service".to_string(), "api".to_string())
            ]
        );
    }
}
