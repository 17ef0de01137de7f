//! Alertmanager silences: list, create and expire, each one call with a timeout. Creating and
//! expiring are mutations: callers run them through the gate.

use std::time::Duration;

use serde_json::{Value, json};

use super::probe;
use crate::providers::ProviderError;

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
    method: &str,
    url: &str,
    body: Option<&str>,
    timeout: Duration,
) -> Result<String, ProviderError> {
    let p = probe::request(method, url, body, timeout)
        .await
        .map_err(ProviderError::Unreachable)?;
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
pub async fn list(url: &str, timeout: Duration) -> Result<Vec<Silence>, ProviderError> {
    let body = call(
        "GET",
        &format!("{}/api/v2/silences", base(url)),
        None,
        timeout,
    )
    .await?;
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
    url: &str,
    matchers: &[(String, String)],
    hours: u64,
    actor: &str,
    comment: &str,
    timeout: Duration,
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
        "POST",
        &format!("{}/api/v2/silences", base(url)),
        Some(&body.to_string()),
        timeout,
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
pub async fn expire(url: &str, id: &str, timeout: Duration) -> Result<(), ProviderError> {
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return Err(ProviderError::Invalid(format!(
            "{id:?} is not a silence id"
        )));
    }
    call(
        "DELETE",
        &format!("{}/api/v2/silence/{id}", base(url)),
        None,
        timeout,
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
