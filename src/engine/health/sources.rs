//! Where readings come from: HTTP probes, this host, a `/metrics` scrape, Prometheus queries
//! and Alertmanager's active alerts. Each run is bounded by the check's timeout.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;

use super::host;
use super::promtext::{self, Aggregate, Selector};
use super::rules::Reading;
use crate::domain::{CheckStatus, Timestamp};
use crate::http::{Client, MAX_BODY, Response, urlencode};

/// How a check gets its reading.
#[derive(Debug)]
pub enum Source {
    /// `GET url`; the value is the latency in ms.
    Http {
        /// The URL.
        url: String,
        /// The status that counts as up.
        expect_status: u16,
        /// A string the body must contain.
        expect_body: Option<String>,
        /// Its client (TLS, credentials, headers).
        client: Client,
    },
    /// A host metric of this machine.
    Host {
        /// `cpu`, `memory`, `disk`, `load`.
        metric: String,
        /// The filesystem for `disk`.
        path: String,
        /// The previous CPU reading.
        prev: Mutex<Option<(u64, u64)>>,
    },
    /// One series of a Prometheus text-format endpoint.
    Scrape {
        /// The `/metrics` URL.
        url: String,
        /// Which series.
        selector: Selector,
        /// How several become one.
        aggregate: Aggregate,
        /// Its client.
        client: Client,
    },
    /// A PromQL query.
    Prometheus {
        /// The server's base URL.
        base: String,
        /// The expression.
        query: String,
        /// Seconds of range to fetch for the chart and forecast.
        range_secs: Option<u64>,
        /// Lower is worse: the worst series is the lowest.
        below: bool,
        /// Its client.
        client: Client,
    },
    /// Alertmanager's active alerts, one reading per (alertname, service).
    Alerts {
        /// The Alertmanager's base URL.
        base: String,
        /// `label=value` filters.
        matchers: Vec<String>,
        /// Its client.
        client: Client,
    },
}

impl Source {
    /// The URL and client of an HTTP or scrape source.
    pub fn http(&self) -> Option<(&str, &Client)> {
        match self {
            Source::Http { url, client, .. } | Source::Scrape { url, client, .. } => {
                Some((url, client))
            }
            Source::Prometheus { base, client, .. } | Source::Alerts { base, client, .. } => {
                Some((base, client))
            }
            Source::Host { .. } => None,
        }
    }
}

/// One reading and what explains it.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// The reading.
    pub reading: Reading,
    /// One line for the pane.
    pub detail: String,
    /// Samples of a range query, for the chart and the forecast.
    pub range: Option<Vec<(Timestamp, f64)>>,
    /// A status the source itself decided (an alert's severity), overriding thresholds.
    pub status: Option<CheckStatus>,
    /// An alert group's `name=value` matchers (what silences it).
    pub alert: Option<Vec<String>>,
}

impl Outcome {
    /// The check could not run.
    pub fn error(why: String) -> Outcome {
        Outcome::new(Reading::Error(why.clone()), why)
    }

    /// Nothing there to check.
    pub fn nothing(why: &str) -> Outcome {
        Outcome::new(Reading::NoData, why)
    }

    /// Healthy, with no value.
    pub fn ok(why: &str) -> Outcome {
        let mut o = Outcome::new(Reading::NoData, why);
        o.status = Some(CheckStatus::Ok);
        o
    }

    fn new(reading: Reading, detail: impl Into<String>) -> Outcome {
        Outcome {
            reading,
            detail: detail.into(),
            range: None,
            status: None,
            alert: None,
        }
    }
}

/// Runs a source once. Most give one outcome (key `None`); Alertmanager gives one per alert
/// group, keyed by its name.
/// An answering Alertmanager also gives a summary (key `None`) with the number of alerts.
pub async fn run(source: &Source, timeout: Duration) -> Vec<(Option<String>, Outcome)> {
    match source {
        Source::Alerts {
            base,
            matchers,
            client,
        } => match alerts(client, base, matchers, timeout).await {
            Ok(groups) => {
                let n: f64 = groups
                    .values()
                    .map(|o| match o.reading {
                        Reading::Value(v) => v,
                        _ => 0.0,
                    })
                    .sum();
                let mut summary = Outcome::new(
                    Reading::Value(n),
                    if n == 0.0 {
                        "no active alert".to_string()
                    } else {
                        format!("{n} active alerts in {} groups", groups.len())
                    },
                );
                summary.status = Some(CheckStatus::Ok);
                std::iter::once((None, summary))
                    .chain(groups.into_iter().map(|(k, o)| (Some(k), o)))
                    .collect()
            }
            Err(e) => vec![(None, Outcome::new(Reading::Error(e.clone()), e))],
        },
        _ => vec![(None, one(source, None, timeout).await)],
    }
}

/// Runs an HTTP or scrape source against `url` instead of its own (a target's node).
pub async fn run_at(source: &Source, url: &str, timeout: Duration) -> Outcome {
    one(source, Some(url), timeout).await
}

async fn one(source: &Source, at: Option<&str>, timeout: Duration) -> Outcome {
    match source {
        Source::Http {
            url,
            expect_status,
            expect_body,
            client,
        } => match client.get(at.unwrap_or(url), timeout).await {
            Ok(p) => {
                let ms = p.latency * 1000.0;
                if p.refused() && *expect_status != p.status {
                    Outcome::new(Reading::Down(format!("{}", p.status)), refused(client, &p))
                } else if p.status != *expect_status {
                    Outcome::new(
                        Reading::Down(format!("{}", p.status)),
                        format!("HTTP {} (want {expect_status}) in {ms:.0} ms", p.status),
                    )
                } else if let Some(want) = expect_body.as_deref().filter(|w| !p.body.contains(w)) {
                    Outcome::new(Reading::Down("body".into()), format!("body lacks {want:?}"))
                } else {
                    Outcome::new(
                        Reading::Value(ms),
                        format!("HTTP {} in {ms:.0} ms", p.status),
                    )
                }
            }
            Err(e) => Outcome::new(Reading::Down(e.to_string()), e.to_string()),
        },
        Source::Host { metric, path, prev } => host_reading(metric, path, prev).await,
        Source::Scrape {
            url,
            selector,
            aggregate,
            client,
        } => match client
            .fetch(
                reqwest::Method::GET,
                at.unwrap_or(url),
                None,
                timeout,
                MAX_BODY,
            )
            .await
        {
            Ok(p) if p.status == 200 => scraped(&p, selector, *aggregate),
            Ok(p) if p.refused() => {
                let e = refused(client, &p);
                Outcome::new(Reading::Error(e.clone()), e)
            }
            Ok(p) => {
                let e = format!("scrape answered HTTP {}", p.status);
                Outcome::new(Reading::Error(e.clone()), e)
            }
            // The endpoint is the service itself: not answering is the service being down.
            Err(e) => Outcome::new(Reading::Down(e.to_string()), e.to_string()),
        },
        Source::Prometheus {
            base,
            query,
            range_secs,
            below,
            client,
        } => prometheus(client, base, query, *range_secs, *below, timeout).await,
        Source::Alerts { .. } => unreachable!("alerts give several outcomes"),
    }
}

async fn host_reading(metric: &str, path: &str, prev: &Mutex<Option<(u64, u64)>>) -> Outcome {
    let r = match metric {
        "cpu" => {
            let before = *prev.lock().unwrap_or_else(|p| p.into_inner());
            let before = match before {
                Some(b) => Ok(b),
                None => {
                    // First run: measure over a quarter of a second.
                    let b = host::cpu_ticks();
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    b
                }
            };
            match (before, host::cpu_ticks()) {
                (Ok(b), Ok(a)) => {
                    *prev.lock().unwrap_or_else(|p| p.into_inner()) = Some(a);
                    host::cpu_percent(b, a).ok_or_else(|| "no CPU time passed".to_string())
                }
                (Err(e), _) | (_, Err(e)) => Err(e),
            }
        }
        "memory" => host::memory_percent(),
        "disk" => host::disk_percent(std::path::Path::new(path)),
        _ => host::load1(),
    };
    match r {
        Ok(v) => Outcome::new(Reading::Value(v), String::new()),
        Err(e) => Outcome::new(Reading::Error(e.clone()), e),
    }
}

/// A scrape's one value: a body cut at the cap says so rather than losing series silently.
fn scraped(p: &Response, selector: &Selector, aggregate: Aggregate) -> Outcome {
    let cap = MAX_BODY >> 20;
    // A cut body ends mid-line: parse only its whole lines.
    let body = if p.truncated {
        &p.body[..p.body.rfind('\n').unwrap_or(0)]
    } else {
        p.body.as_str()
    };
    match promtext::parse(body) {
        Ok(samples) => match (promtext::select(&samples, selector, aggregate), p.truncated) {
            (Some(v), false) => Outcome::new(Reading::Value(v), String::new()),
            (Some(v), true) => Outcome::new(
                Reading::Value(v),
                format!("truncated: the body is over {cap} MiB; series past it were not read"),
            ),
            (None, false) => Outcome::new(Reading::NoData, "no matching series"),
            (None, true) => {
                let e = format!(
                    "truncated: the body is over {cap} MiB and the series is not in the first {cap} MiB"
                );
                Outcome::new(Reading::Error(e.clone()), e)
            }
        },
        Err(e) => Outcome::new(Reading::Error(e.clone()), e),
    }
}

/// A 401 or 403 in words: credentials refused, or credentials wanted.
pub fn refused(client: &Client, p: &Response) -> String {
    if client.has_credentials() {
        format!("HTTP {}: credentials refused: check `auth`", p.status)
    } else {
        format!(
            "HTTP {}: the endpoint wants credentials: set `auth`",
            p.status
        )
    }
}

/// Calls a Prometheus-style JSON API and returns `data`, or a one-line error.
async fn api(client: &Client, url: &str, timeout: Duration) -> Result<Value, String> {
    let p = client
        .fetch(reqwest::Method::GET, url, None, timeout, MAX_BODY)
        .await?;
    if p.refused() {
        return Err(refused(client, &p));
    }
    let v: Value = serde_json::from_str(&p.body).map_err(|_| {
        format!(
            "HTTP {}: not JSON: {}",
            p.status,
            crate::ui::text::clean(p.body.lines().next().unwrap_or_default())
                .chars()
                .take(80)
                .collect::<String>()
        )
    })?;
    if p.status != 200 || v["status"] != "success" {
        return Err(format!(
            "HTTP {}: {}",
            p.status,
            v["error"].as_str().unwrap_or("query failed")
        ));
    }
    Ok(v["data"].clone())
}

fn sample_value(pair: &Value) -> Option<(Timestamp, f64)> {
    let t = pair.get(0)?.as_f64()?;
    let v = pair.get(1)?.as_str()?.parse::<f64>().ok()?;
    Some((t as Timestamp, v))
}

/// Every value of an instant query's answer (a scalar is one value); an unreachable or
/// failing server is `Err(Reading::Error)`.
pub async fn query_all(
    client: &Client,
    base: &str,
    query: &str,
    timeout: Duration,
) -> Result<Vec<f64>, Reading> {
    let url = format!(
        "{}/api/v1/query?query={}",
        base.trim_end_matches('/'),
        urlencode(query)
    );
    let data = api(client, &url, timeout).await.map_err(Reading::Error)?;
    match data["resultType"].as_str() {
        Some("vector") => Ok(data["result"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| sample_value(&s["value"]).map(|(_, v)| v))
                    .collect()
            })
            .unwrap_or_default()),
        Some("scalar") => Ok(sample_value(&data["result"])
            .map(|(_, v)| v)
            .into_iter()
            .collect()),
        other => Err(Reading::Error(format!("unsupported result type {other:?}"))),
    }
}

async fn prometheus(
    client: &Client,
    base: &str,
    query: &str,
    range_secs: Option<u64>,
    below: bool,
    timeout: Duration,
) -> Outcome {
    let base = base.trim_end_matches('/');
    let values = match query_all(client, base, query, timeout).await {
        Ok(v) => v,
        // F5: a failing metrics backend is an error, never a pass.
        Err(Reading::Error(e)) => return Outcome::new(Reading::Error(e.clone()), e),
        Err(r) => return Outcome::new(r, String::new()),
    };
    // F6: NaN anywhere makes the answer inconclusive; none at all is no data.
    let mut out = if values.is_empty() {
        Outcome::new(Reading::NoData, "empty result")
    } else if values.iter().any(|v| !v.is_finite()) {
        Outcome::new(Reading::Value(f64::NAN), "NaN in the result")
    } else {
        let worst = values.iter().copied().fold(
            if below {
                f64::INFINITY
            } else {
                f64::NEG_INFINITY
            },
            |a, b| {
                if below { a.min(b) } else { a.max(b) }
            },
        );
        Outcome::new(Reading::Value(worst), format!("{} series", values.len()))
    };
    if let Some(secs) = range_secs {
        let end = crate::domain::now();
        let start = end - secs as i64;
        let step = (secs / 120).max(1);
        let url = format!(
            "{base}/api/v1/query_range?query={}&start={start}&end={end}&step={step}",
            urlencode(query)
        );
        if let Ok(d) = api(client, &url, timeout).await {
            // The worst series by its last value.
            let series: Vec<Vec<(Timestamp, f64)>> = d["result"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|s| {
                            s["values"]
                                .as_array()
                                .map(|v| v.iter().filter_map(sample_value).collect())
                                .unwrap_or_default()
                        })
                        .collect()
                })
                .unwrap_or_default();
            let last = |s: &Vec<(Timestamp, f64)>| s.last().map(|p| p.1).unwrap_or(f64::NAN);
            out.range = series.into_iter().max_by(|a, b| {
                let (a, b) = (last(a), last(b));
                let o = a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal);
                if below { o.reverse() } else { o }
            });
        }
    }
    out
}

/// Alerts of one (alertname, service).
struct Group {
    status: CheckStatus,
    n: u32,
    silenced: u32,
    summary: String,
    matchers: Vec<String>,
}

async fn alerts(
    client: &Client,
    base: &str,
    matchers: &[String],
    timeout: Duration,
) -> Result<BTreeMap<String, Outcome>, String> {
    let base = base.trim_end_matches('/');
    // Silenced alerts are fetched too: silenced is not resolved (it holds, neither fires nor
    // recovers).
    let mut url = format!("{base}/api/v2/alerts?active=true&silenced=true&inhibited=true");
    for m in matchers {
        let (k, v) = m.split_once('=').unwrap_or((m, ""));
        url.push_str(&format!("&filter={}", urlencode(&format!("{k}=\"{v}\""))));
    }
    let p = client
        .fetch(reqwest::Method::GET, &url, None, timeout, MAX_BODY)
        .await?;
    if p.refused() {
        return Err(refused(client, &p));
    }
    if p.status != 200 {
        return Err(format!("alertmanager answered HTTP {}", p.status));
    }
    let list: Vec<Value> =
        serde_json::from_str(&p.body).map_err(|e| format!("alertmanager: bad JSON: {e}"))?;
    // One group per (alertname, service): many alerts of one kind are one incident.
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    for a in &list {
        let labels = &a["labels"];
        let name = labels["alertname"].as_str().unwrap_or("alert");
        let (label, service) = match (labels["service"].as_str(), labels["job"].as_str()) {
            (Some(s), _) => ("service", s),
            (None, Some(j)) => ("job", j),
            (None, None) => ("", "-"),
        };
        let mut matchers = vec![format!("alertname={name}")];
        if !label.is_empty() {
            matchers.push(format!("{label}={service}"));
        }
        let status = match labels["severity"].as_str() {
            Some("critical" | "page" | "error") => CheckStatus::Crit,
            _ => CheckStatus::Warn,
        };
        let summary = a["annotations"]["summary"]
            .as_str()
            .or_else(|| a["annotations"]["description"].as_str())
            .unwrap_or_default()
            .to_string();
        // Silenced or inhibited: muted on purpose, not resolved.
        let muted = |k: &str| a["status"][k].as_array().is_some_and(|s| !s.is_empty());
        let silenced = muted("silencedBy") || muted("inhibitedBy");
        let g = groups
            .entry(format!("{name} · {service}"))
            .or_insert_with(|| Group {
                status,
                n: 0,
                silenced: 0,
                summary,
                matchers,
            });
        g.status = g.status.min(status);
        g.n += 1;
        g.silenced += u32::from(silenced);
    }
    Ok(groups
        .into_iter()
        .map(|(k, g)| {
            let n = g.n;
            let all_silenced = g.silenced == n;
            let what = if all_silenced { "silenced" } else { "active" };
            let mut o = Outcome::new(
                Reading::Value(n as f64),
                if g.summary.is_empty() {
                    format!("{n} {what}")
                } else {
                    format!("{n} {what}: {}", g.summary)
                },
            );
            o.status = Some(if all_silenced {
                CheckStatus::Unknown
            } else {
                g.status
            });
            o.alert = Some(g.matchers);
            (k, o)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_encoded() {
        assert_eq!(
            urlencode("up{job=\"node\"} > 0"),
            "up%7Bjob%3D%22node%22%7D%20%3E%200"
        );
    }

    #[test]
    fn sample_pairs_parse_and_nan_is_kept() {
        let v: Value = serde_json::from_str(r#"[1700000000.5, "NaN"]"#).unwrap();
        let (t, x) = sample_value(&v).unwrap();
        assert_eq!(t, 1_700_000_000);
        assert!(x.is_nan());
        assert!(sample_value(&serde_json::json!(["x", "1"])).is_none());
    }
}
