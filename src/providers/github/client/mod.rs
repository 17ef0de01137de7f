//! One GitHub API client per host: conditional requests from an ETag cache, one request in
//! flight, the rate limit honoured before anything is sent, back-off on 5xx, bodies capped and
//! every call timed out.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use http::{Method, StatusCode};
use octocrab::Octocrab;

mod limits;
mod wire;

pub use wire::{clock, one_line, summarize};

use wire::{link_next, read_capped};

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
/// Short enough that a pane recovers soon after the network does (F4).
const MAX_BACKOFF: Duration = Duration::from_secs(30);

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
