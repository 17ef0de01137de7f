//! One GitHub API client per host: conditional requests from an ETag cache, one request in
//! flight, the rate limit honoured before anything is sent, back-off on 5xx, bodies capped and
//! every call timed out.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use http::{HeaderMap, Method, StatusCode};
use http_body_util::BodyExt;
use octocrab::Octocrab;

use super::auth::Token;
use crate::providers::ProviderError;

/// The largest JSON body read from the API.
pub const BODY_CAP: usize = 8 << 20;
/// Cached answers kept for conditional requests.
const CACHE_ENTRIES: usize = 512;
/// Bytes of cached answers kept at most.
const CACHE_BYTES: usize = 64 << 20;
/// The longest wait a rate-limit header can impose.
const MAX_WAIT: i64 = 3600;
/// The longest back-off after repeated server errors.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// The API budget as the last answer reported it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Budget {
    /// Requests left in this window.
    pub remaining: Option<u64>,
    /// Requests per window.
    pub limit: Option<u64>,
    /// When the window resets (Unix seconds).
    pub reset: Option<i64>,
    /// Scopes of the token (`x-oauth-scopes`), when the host reports them.
    pub scopes: Option<String>,
    /// Why no request goes out until `wait_until` (rate limited, backing off).
    pub waiting: Option<String>,
    /// Unix seconds before which nothing is sent.
    pub wait_until: Option<i64>,
    /// Why searches wait until `search_wait_until` (the search API's own budget).
    pub search_waiting: Option<String>,
    /// Unix seconds before which no search is sent.
    pub search_wait_until: Option<i64>,
    /// Set after a 401: nothing more is sent to this host.
    pub auth_failed: Option<String>,
    /// Requests sent (every attempt that reached the network).
    pub sent: u64,
    /// Answers served from the cache after a 304.
    pub not_modified: u64,
}

/// One answer: the body (fresh or from the cache) and what the headers said.
#[derive(Clone, Debug)]
pub struct Answer {
    /// HTTP status (200 for a body served from the cache after a 304).
    pub status: StatusCode,
    /// The body.
    pub body: bytes::Bytes,
    /// True when the server said nothing changed since the cached copy.
    pub cached: bool,
    /// The next page (`Link: <…>; rel="next"`), as a path and query.
    pub next: Option<String>,
    /// `Location`, for redirects (job logs).
    pub location: Option<String>,
}

#[derive(Clone)]
struct Cached {
    etag: String,
    body: bytes::Bytes,
    next: Option<String>,
    used: u64,
}

#[derive(Default)]
struct Conn {
    cache: HashMap<String, Cached>,
    bytes: usize,
    uses: u64,
    failures: u32,
}

/// A client for one API host.
pub struct GhClient {
    octo: std::sync::OnceLock<Octocrab>,
    anon: std::sync::OnceLock<Octocrab>,
    root: String,
    token: Option<Token>,
    host: String,
    base_path: String,
    timeout: Duration,
    /// Held for the whole of each request: at most one in flight.
    conn: tokio::sync::Mutex<Conn>,
    budget: Mutex<Budget>,
}

impl std::fmt::Debug for GhClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GhClient")
            .field("host", &self.host)
            .finish()
    }
}

/// Splits an API URL into its scheme-and-authority and its path prefix.
fn split_url(api_url: &str) -> Result<(http::Uri, String, String), ProviderError> {
    let uri: http::Uri = api_url
        .trim_end_matches('/')
        .parse()
        .map_err(|e| ProviderError::Invalid(format!("api_url {api_url:?}: {e}")))?;
    let host = uri
        .authority()
        .map(|a| a.to_string())
        .ok_or_else(|| ProviderError::Invalid(format!("api_url {api_url:?} has no host")))?;
    let path = uri.path().trim_end_matches('/').to_string();
    Ok((uri, host, path))
}

impl GhClient {
    /// A client for `api_url` with `token` (none: anonymous) and a per-call `timeout`; the
    /// connection is made on first use, inside the runtime that uses it.
    pub fn new(
        api_url: &str,
        token: Option<&Token>,
        timeout: Duration,
    ) -> Result<GhClient, ProviderError> {
        let (uri, host, base_path) = split_url(api_url)?;
        let root = format!(
            "{}://{}",
            uri.scheme_str().unwrap_or("https"),
            uri.authority().map(|a| a.as_str()).unwrap_or_default()
        );
        Ok(GhClient {
            octo: std::sync::OnceLock::new(),
            anon: std::sync::OnceLock::new(),
            root,
            token: token.cloned(),
            host,
            base_path,
            timeout,
            conn: tokio::sync::Mutex::new(Conn::default()),
            budget: Mutex::new(Budget::default()),
        })
    }

    /// The octocrab client, built on first use (it needs a running tokio runtime).
    fn octo(&self) -> Result<&Octocrab, ProviderError> {
        if let Some(o) = self.octo.get() {
            return Ok(o);
        }
        let o = self.build(self.token.as_ref())?;
        Ok(self.octo.get_or_init(|| o))
    }

    /// A client without the token, for URLs outside the API (signed log downloads): octocrab
    /// sends a personal token with every request, whatever its host.
    fn anonymous(&self) -> Result<&Octocrab, ProviderError> {
        if let Some(o) = self.anon.get() {
            return Ok(o);
        }
        let o = self.build(None)?;
        Ok(self.anon.get_or_init(|| o))
    }

    fn build(&self, token: Option<&Token>) -> Result<Octocrab, ProviderError> {
        let mut b = Octocrab::builder()
            .base_uri(self.root.as_str())
            .map_err(|e| ProviderError::Invalid(format!("api_url {:?}: {e}", self.root)))?
            // The whole call is timed out by `call`; a read timeout here would race it.
            .set_connect_timeout(Some(self.timeout));
        if let Some(t) = token {
            b = b.personal_token(t.secret().to_string());
        }
        b.build().map_err(|e| {
            ProviderError::Other(format!("GitHub client: {}", one_line(&e.to_string())))
        })
    }

    /// The web site pages of this host live on (`https://github.com`).
    pub fn web(&self) -> String {
        super::web_base(&format!("{}{}", self.root, self.base_path))
    }

    /// The host this client talks to (`api.github.com`, `127.0.0.1:8080`).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The budget as last reported.
    pub fn budget(&self) -> Budget {
        self.budget
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn with_budget<T>(&self, f: impl FnOnce(&mut Budget) -> T) -> T {
        f(&mut self.budget.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// A GET, conditional when an earlier answer for `path` carried an ETag.
    pub async fn get(&self, path: &str) -> Result<Answer, ProviderError> {
        self.call(Method::GET, path, None, true).await
    }

    /// A GET of a whole paginated list (up to `max_pages`), each page conditional; `changed`
    /// is false when the first page came back 304.
    pub async fn get_pages(
        &self,
        path: &str,
        max_pages: usize,
    ) -> Result<(Vec<bytes::Bytes>, bool), ProviderError> {
        let first = self.get(path).await?;
        let changed = !first.cached;
        let mut next = first.next.clone();
        let mut pages = vec![first.body];
        while let Some(p) = next.take() {
            if pages.len() >= max_pages {
                break;
            }
            let a = self.get(&p).await?;
            next = a.next.clone();
            pages.push(a.body);
        }
        Ok((pages, changed))
    }

    /// A mutating call with an optional JSON body; never cached.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Answer, ProviderError> {
        self.call(method, path, body, false).await
    }

    /// Fetches an absolute URL (a log's redirect target); the token is not sent to other hosts.
    pub async fn get_absolute(&self, url: &str, cap: usize) -> Result<Answer, ProviderError> {
        // Waiting for the one request in flight is bounded by that request's own timeout.
        let _one = self.conn.lock().await;
        self.ready(false)?;
        let fut = async {
            let req = self
                .anonymous()?
                .build_request(
                    http::Request::builder().method(Method::GET).uri(url),
                    None::<&()>,
                )
                .map_err(|e| ProviderError::Invalid(e.to_string()))?;
            self.with_budget(|b| b.sent += 1);
            let res = self
                .anonymous()?
                .execute(req)
                .await
                .map_err(|e| ProviderError::Unreachable(one_line(&e.to_string())))?;
            let status = res.status();
            let body = read_capped(res.into_body(), cap, true).await?;
            if !status.is_success() {
                return Err(ProviderError::BadResponse(format!(
                    "{status}: {}",
                    summarize(&body)
                )));
            }
            Ok(Answer {
                status,
                body,
                cached: false,
                next: None,
                location: None,
            })
        };
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(ProviderError::Timeout(self.timeout)),
        }
    }

    /// Refuses at once when this host failed auth or asked us to wait (the search API has a
    /// budget of its own).
    fn ready(&self, search: bool) -> Result<(), ProviderError> {
        let b = self.budget();
        if let Some(why) = b.auth_failed {
            return Err(ProviderError::Auth(why));
        }
        let (until, why) = if search {
            (b.search_wait_until, b.search_waiting)
        } else {
            (b.wait_until, b.waiting)
        };
        if let (Some(until), Some(why)) = (until, why)
            && crate::domain::now() < until
        {
            return Err(ProviderError::RateLimited(format!(
                "{why}; next request after {}",
                clock(until)
            )));
        }
        Ok(())
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
        conditional: bool,
    ) -> Result<Answer, ProviderError> {
        let search = path.starts_with("/search/");
        // Taken before the timeout starts: the wait is bounded by the holder's own timeout,
        // and a call that timed out waiting would not know whether it was sent.
        let mut conn = self.conn.lock().await;
        self.ready(search)?;
        let cached = if conditional {
            conn.cache.get(path).cloned()
        } else {
            None
        };
        let fut = async {
            let full = format!("{}{}", self.base_path, path);
            let mut builder = http::Request::builder()
                .method(method.clone())
                .uri(full.as_str())
                .header(http::header::ACCEPT, "application/vnd.github+json")
                .header("X-GitHub-Api-Version", "2022-11-28")
                .header(http::header::USER_AGENT, "flightdeck");
            if let Some(c) = &cached {
                builder = builder.header(http::header::IF_NONE_MATCH, c.etag.as_str());
            }
            let req = self
                .octo()?
                .build_request(builder, body)
                .map_err(|e| ProviderError::Invalid(e.to_string()))?;
            self.with_budget(|b| b.sent += 1);
            let res = self
                .octo()?
                .execute(req)
                .await
                .map_err(|e| ProviderError::Unreachable(one_line(&e.to_string())))?;
            let status = res.status();
            let headers = res.headers().clone();
            self.note_budget(&headers);
            let body = read_capped(res.into_body(), BODY_CAP, false).await?;
            Ok::<_, ProviderError>((status, headers, body))
        };
        let (status, headers, body) = match tokio::time::timeout(self.timeout, fut).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                if matches!(e, ProviderError::Unreachable(_)) {
                    self.back_off(&mut conn, "unreachable");
                }
                return Err(e);
            }
            Err(_) => {
                self.back_off(&mut conn, "a timeout");
                return Err(ProviderError::Timeout(self.timeout));
            }
        };
        if status == StatusCode::NOT_MODIFIED {
            conn.failures = 0;
            let Some(mut c) = cached else {
                return Err(ProviderError::BadResponse(
                    "304 without a cached copy".into(),
                ));
            };
            self.with_budget(|b| b.not_modified += 1);
            conn.uses += 1;
            c.used = conn.uses;
            conn.cache.insert(path.to_string(), c.clone());
            return Ok(Answer {
                status: StatusCode::OK,
                body: c.body,
                cached: true,
                next: c.next,
                location: None,
            });
        }
        if let Some(err) = self.failure(&mut conn, status, &headers, &body, search) {
            return Err(err);
        }
        conn.failures = 0;
        let next = link_next(&headers, &self.base_path);
        let location = headers
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if conditional
            && status == StatusCode::OK
            && let Some(etag) = headers
                .get(http::header::ETAG)
                .and_then(|v| v.to_str().ok())
        {
            conn.remember(path, etag, &body, next.clone());
        }
        Ok(Answer {
            status,
            body,
            cached: false,
            next,
            location,
        })
    }

    /// Records the rate-limit headers of an answer (the core budget, or the search API's).
    fn note_budget(&self, h: &HeaderMap) {
        let num = |k: &str| {
            h.get(k)
                .and_then(|v| v.to_str().ok()?.trim().parse::<i64>().ok())
        };
        let now = crate::domain::now();
        let search = h
            .get("x-ratelimit-resource")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|r| r == "search");
        self.with_budget(|b| {
            if let Some(s) = h.get("x-oauth-scopes").and_then(|v| v.to_str().ok()) {
                b.scopes = Some(s.to_string());
            }
            let spent = num("x-ratelimit-remaining") == Some(0);
            let reset = num("x-ratelimit-reset").map(|t| t.clamp(now, now + MAX_WAIT));
            if search {
                // A spent search budget pauses searches only.
                if spent && let Some(t) = reset.filter(|&t| t > now) {
                    b.search_waiting = Some("search rate limit spent".into());
                    b.search_wait_until = Some(t);
                }
                return;
            }
            if let Some(r) = num("x-ratelimit-remaining") {
                b.remaining = Some(r.max(0) as u64);
            }
            if let Some(l) = num("x-ratelimit-limit") {
                b.limit = Some(l.max(0) as u64);
            }
            if let Some(t) = reset {
                b.reset = Some(t);
            }
            // A spent budget: wait for the reset rather than spend a request to learn it.
            if spent && let Some(t) = reset.filter(|&t| t > now) {
                b.waiting = Some("rate limit spent".into());
                b.wait_until = Some(t);
            }
        });
    }

    /// Turns a failed answer into an error, and into a wait when the host asked for one.
    fn failure(
        &self,
        conn: &mut Conn,
        status: StatusCode,
        h: &HeaderMap,
        body: &[u8],
        search: bool,
    ) -> Option<ProviderError> {
        if status.is_success() || status.is_redirection() {
            return None;
        }
        let what = summarize(body);
        let now = crate::domain::now();
        let num = |k: &str| {
            h.get(k)
                .and_then(|v| v.to_str().ok()?.trim().parse::<i64>().ok())
        };
        let retry_after = num(http::header::RETRY_AFTER.as_str());
        let remaining = num("x-ratelimit-remaining");
        let reset = num("x-ratelimit-reset");
        let limited = status == StatusCode::TOO_MANY_REQUESTS
            || (status == StatusCode::FORBIDDEN
                && (retry_after.is_some()
                    || remaining == Some(0)
                    || what.to_ascii_lowercase().contains("rate limit")));
        if status == StatusCode::UNAUTHORIZED {
            let why = format!("{} answered 401: {what}", self.host);
            self.with_budget(|b| b.auth_failed = Some(why.clone()));
            return Some(ProviderError::Auth(why));
        }
        if limited {
            // retry-after wins; else the reset; else a minute (secondary limits say neither);
            // never more than an hour, whatever a header says.
            let until = retry_after
                .map(|s| now.saturating_add(s.clamp(1, MAX_WAIT)))
                .or(reset.filter(|&t| t > now).map(|t| t.min(now + MAX_WAIT)))
                .unwrap_or(now + 60);
            self.with_budget(|b| {
                if search {
                    b.search_waiting = Some(format!("search rate limited ({status})"));
                    b.search_wait_until = Some(until);
                } else {
                    b.waiting = Some(format!("rate limited ({status})"));
                    b.wait_until = Some(until);
                }
            });
            return Some(ProviderError::RateLimited(format!(
                "{status}: {what}; next request after {}",
                clock(until)
            )));
        }
        if status.is_server_error() {
            self.back_off(conn, status.as_str());
            return Some(ProviderError::BadResponse(format!("{status}: {what}")));
        }
        Some(match status {
            StatusCode::NOT_FOUND => ProviderError::NotFound(what),
            StatusCode::FORBIDDEN => ProviderError::Auth(format!("forbidden: {what}")),
            StatusCode::UNPROCESSABLE_ENTITY | StatusCode::BAD_REQUEST => {
                ProviderError::Invalid(what)
            }
            _ => ProviderError::BadResponse(format!("{status}: {what}")),
        })
    }

    /// Waits 2 s, 4 s, … up to 5 min, plus up to a quarter more at random, after consecutive
    /// failures (server errors, timeouts, unreachable).
    fn back_off(&self, conn: &mut Conn, why: &str) {
        use std::hash::{BuildHasher, Hasher};
        conn.failures = conn.failures.saturating_add(1);
        let base = 1u64 << conn.failures.min(8);
        // A randomly keyed hasher is a random number without another dependency.
        let mut r = std::collections::hash_map::RandomState::new().build_hasher();
        r.write_u32(conn.failures);
        let jitter = r.finish() % (base / 4 + 1);
        let secs = (base + jitter).min(MAX_BACKOFF.as_secs());
        let until = crate::domain::now() + secs as i64;
        self.with_budget(|b| {
            b.waiting = Some(format!("backing off after {why}"));
            b.wait_until = Some(until);
        });
    }
}

impl Conn {
    /// Keeps an answer for conditional requests, dropping the least recently used ones past
    /// the entry and byte budgets.
    fn remember(&mut self, path: &str, etag: &str, body: &bytes::Bytes, next: Option<String>) {
        self.uses += 1;
        let used = self.uses;
        if let Some(old) = self.cache.remove(path) {
            self.bytes -= old.body.len();
        }
        if body.len() > CACHE_BYTES / 4 {
            return;
        }
        while self.cache.len() >= CACHE_ENTRIES || self.bytes + body.len() > CACHE_BYTES {
            let Some(oldest) = self
                .cache
                .iter()
                .min_by_key(|(_, c)| c.used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(c) = self.cache.remove(&oldest) {
                self.bytes -= c.body.len();
            }
        }
        self.bytes += body.len();
        self.cache.insert(
            path.to_string(),
            Cached {
                etag: etag.to_string(),
                body: body.clone(),
                next,
                used,
            },
        );
    }
}

/// Reads a body up to `cap` bytes: past it, an error, or (`truncate`) the first `cap` bytes.
async fn read_capped<B>(
    mut body: B,
    cap: usize,
    truncate: bool,
) -> Result<bytes::Bytes, ProviderError>
where
    B: http_body::Body<Data = bytes::Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ProviderError::Unreachable(one_line(&e.to_string())))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if out.len() + data.len() > cap {
            if !truncate {
                return Err(ProviderError::BadResponse(format!(
                    "answer larger than {} MiB",
                    cap >> 20
                )));
            }
            out.extend_from_slice(&data[..cap - out.len()]);
            break;
        }
        out.extend_from_slice(&data);
    }
    Ok(out.into())
}

/// The path and query of the `rel="next"` link, relative to the API's base path.
fn link_next(h: &HeaderMap, base_path: &str) -> Option<String> {
    let link = h.get(http::header::LINK)?.to_str().ok()?;
    for part in link.split(',') {
        let (url, rel) = part.split_once(';')?;
        if !rel.contains("rel=\"next\"") {
            continue;
        }
        let url = url.trim().trim_start_matches('<').trim_end_matches('>');
        let uri: http::Uri = url.parse().ok()?;
        let pq = uri.path_and_query()?.as_str();
        return Some(pq.strip_prefix(base_path).unwrap_or(pq).to_string());
    }
    None
}

/// One line saying what an error body says: GitHub's `message`, an HTML page's title, or the
/// start of the text.
pub fn summarize(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(64 << 10)]);
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
        && let Some(m) = v.get("message").and_then(|m| m.as_str())
    {
        return one_line(m);
    }
    let lower = text.to_ascii_lowercase();
    if lower.contains("<html") || lower.contains("<!doctype") {
        if let (Some(a), Some(b)) = (lower.find("<title>"), lower.find("</title>"))
            && a + 7 <= b
        {
            return format!("HTML page: {}", one_line(&text[a + 7..b]));
        }
        return "an HTML page".into();
    }
    if text.trim().is_empty() {
        return "empty answer".into();
    }
    one_line(&text)
}

/// Collapses whitespace and controls to single spaces and keeps at most 160 characters.
pub fn one_line(s: &str) -> String {
    let mut out = String::new();
    for w in s.split(|c: char| c.is_whitespace() || c.is_control()) {
        if w.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
        if out.chars().count() > 160 {
            let cut: String = out.chars().take(159).collect();
            return format!("{cut}…");
        }
    }
    out
}

/// `HH:MM:SS` UTC of a Unix time.
pub fn clock(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%H:%M:%S UTC").to_string())
        .unwrap_or_else(|| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_are_one_line() {
        assert_eq!(
            summarize(br#"{"message":"Bad\ncredentials","documentation_url":"x"}"#),
            "Bad credentials"
        );
        assert_eq!(
            summarize(b"<!DOCTYPE html><html><head><title>504 Gateway\n Time-out</title></head><body>...</body></html>"),
            "HTML page: 504 Gateway Time-out"
        );
        assert_eq!(summarize(b"  "), "empty answer");
        assert_eq!(summarize(b"{\"trunc"), "{\"trunc");
        assert!(one_line(&"x".repeat(500)).chars().count() <= 160);
    }

    #[test]
    fn next_link_is_relative_to_the_base() {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::LINK,
            r#"<https://ghe.example/api/v3/repos/a/b/issues?page=2>; rel="next", <https://ghe.example/api/v3/repos/a/b/issues?page=5>; rel="last""#
                .parse()
                .unwrap(),
        );
        assert_eq!(
            link_next(&h, "/api/v3").as_deref(),
            Some("/repos/a/b/issues?page=2")
        );
        h.insert(
            http::header::LINK,
            r#"<https://x/y?page=1>; rel="prev""#.parse().unwrap(),
        );
        assert_eq!(link_next(&h, ""), None);
    }
}
