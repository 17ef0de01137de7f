//! The one HTTP client for everything but GitHub: probes, scrapes, gates, Prometheus,
//! Alertmanager and the demo fleet. reqwest on the hyper / rustls stack octocrab already
//! brings, with our own TLS configuration (`tls`), credentials (`auth`), headers and proxy.
//!
//! Every exchange is bounded by one deadline that includes name resolution; bodies are streamed
//! and capped (a cut body says so); redirects are followed by hand, at most
//! [`MAX_REDIRECTS`], and credentials and configured headers go only to the URL's own origin.
//! By default each request opens a fresh connection, so a probe's latency includes its connect
//! and handshake; `keep_alive = true` reuses connections.

mod build;
mod error;
pub mod tls;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, HeaderName, LOCATION};
use url::Url;

use build::{Built, Inner, Secret};
pub use error::HttpError;
use error::{classify, shown};

use crate::config::http::{HeaderValue, HttpSettings};

/// Largest body of a `/metrics` scrape or a Prometheus or Alertmanager API answer; a longer
/// one is cut there and marked `truncated`.
pub const MAX_BODY: usize = 32 << 20;
/// Largest body kept of anything else (a probe, a gate, a silence).
pub const SMALL_BODY: usize = 1 << 20;
/// Redirects followed before a request fails.
pub const MAX_REDIRECTS: usize = 5;

/// Percent-encodes a URL query value or path segment (everything but `A-Za-z0-9-_.~`).
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Whether `url` points at this machine (`localhost`, 127.0.0.0/8, `[::1]`).
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// A response: status, the (capped, lossily decoded) body, and how long it took.
#[derive(Clone, Debug, PartialEq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The body, lossily decoded, at most the request's cap.
    pub body: String,
    /// The body was longer than the cap and was cut.
    pub truncated: bool,
    /// Seconds from the start (resolution, connect, handshake) to the last byte.
    pub latency: f64,
    /// The server spoke HTTP/2 (offered to https servers through ALPN).
    pub http2: bool,
}

impl Response {
    /// Whether the server refused the credentials (or wants some).
    pub fn refused(&self) -> bool {
        matches!(self.status, 401 | 403)
    }
}

/// A client for one endpoint's settings; cheap to clone, shared by every endpoint with the
/// same settings.
#[derive(Clone, Debug)]
pub struct Client {
    built: Arc<Built>,
}

impl Client {
    /// The client for `settings`: built once per distinct settings in this process, except a
    /// `keep_alive` one, whose pooled connections belong to the runtime that opened them (the
    /// caller shares it among its own endpoints).
    pub fn new(settings: &HttpSettings) -> Client {
        if settings.keep_alive {
            return Client {
                built: Arc::new(Built::new(settings)),
            };
        }
        static CLIENTS: OnceLock<Mutex<HashMap<HttpSettings, Client>>> = OnceLock::new();
        let mut all = CLIENTS
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        all.entry(settings.clone())
            .or_insert_with(|| Client {
                built: Arc::new(Built::new(settings)),
            })
            .clone()
    }

    /// A client with no settings (system roots, proxies from the environment).
    pub fn plain() -> Client {
        Client::new(&HttpSettings::default())
    }

    /// Whether certificates go unverified (`insecure_skip_verify`).
    pub fn insecure(&self) -> bool {
        self.built
            .peek()
            .as_ref()
            .as_ref()
            .is_ok_and(|i| i.insecure)
    }

    /// Whether credentials are configured.
    pub fn has_credentials(&self) -> bool {
        self.built
            .peek()
            .as_ref()
            .as_ref()
            .is_ok_and(|i| i.credentials.is_some())
    }

    /// `GET url` within `timeout`, the body capped at [`SMALL_BODY`].
    pub async fn get(&self, url: &str, timeout: Duration) -> Result<Response, HttpError> {
        self.fetch(Method::GET, url, None, timeout, SMALL_BODY)
            .await
    }

    /// `method url` with an optional JSON body, the body capped at [`SMALL_BODY`].
    pub async fn request(
        &self,
        method: Method,
        url: &str,
        json: Option<String>,
        timeout: Duration,
    ) -> Result<Response, HttpError> {
        self.fetch(method, url, json, timeout, SMALL_BODY).await
    }

    /// `method url` with an optional JSON body, the whole exchange within `timeout`, the
    /// body kept up to `cap` bytes.
    pub async fn fetch(
        &self,
        method: Method,
        url: &str,
        json: Option<String>,
        timeout: Duration,
        cap: usize,
    ) -> Result<Response, HttpError> {
        let inner = self.built.current();
        let inner = match inner.as_ref() {
            Ok(i) => i,
            Err(e) => return Err(HttpError::Config(e.clone())),
        };
        let work = exchange(inner, method, url, json, cap);
        match tokio::time::timeout(timeout, work).await {
            Ok(Err(HttpError::Connect(e))) => Err(HttpError::Connect(match inner.proxy_for(url) {
                Some(p) => format!("{e} (through the proxy {p})"),
                None => e,
            })),
            Ok(r) => r,
            // Still waiting for the secret: say so, not that the server was slow.
            Err(_) => Err(match &inner.credentials {
                Some(s) if s.cached().fresh().is_none() => HttpError::Config(format!(
                    "auth: {} gave no answer within the {}s timeout",
                    s.cached().describe(),
                    timeout.as_secs_f32()
                )),
                _ => HttpError::Timeout(timeout),
            }),
        }
    }
}

/// The secret of `inner`'s credentials: from its cache, else read off the async threads (a
/// file or a command may block).
async fn secret(inner: &Inner, url: &Url) -> Result<Option<String>, HttpError> {
    let sends = inner.credentials.is_some() || inner.secret_headers;
    if sends && url.scheme() == "http" && !is_loopback(url) {
        return Err(HttpError::Config(format!(
            "refusing to send credentials unencrypted to {}: use https://",
            shown(url)
        )));
    }
    let Some(s) = &inner.credentials else {
        return Ok(None);
    };
    let value = match s.cached().fresh() {
        Some(v) => v,
        None => {
            let cached = s.cached().clone();
            tokio::task::spawn_blocking(move || cached.get())
                .await
                .map_err(|e| HttpError::Config(e.to_string()))?
        }
    };
    value
        .map(Some)
        .map_err(|e| HttpError::Config(format!("auth: {e}")))
}

async fn exchange(
    inner: &Inner,
    mut method: Method,
    url: &str,
    mut json: Option<String>,
    cap: usize,
) -> Result<Response, HttpError> {
    let origin = parse(url)?;
    let secret = secret(inner, &origin).await?;
    let mut headers = Vec::with_capacity(inner.headers.len());
    for (name, v) in &inner.headers {
        headers.push((name.clone(), header_value(name, v)?));
    }
    let tls_name = inner
        .server_name
        .clone()
        .unwrap_or_else(|| origin.host_str().unwrap_or_default().to_string());
    let mut current = origin.clone();
    let start = Instant::now();
    for hop in 0..=MAX_REDIRECTS {
        let own = same_origin(&origin, &current);
        let mut rb = inner.client.request(method.clone(), current.clone());
        if own {
            rb = match (&inner.credentials, &secret) {
                (Some(Secret::Bearer(_)), Some(v)) => rb.bearer_auth(v),
                (Some(Secret::Basic { user, .. }), Some(v)) => rb.basic_auth(user, Some(v)),
                _ => rb,
            };
            for (name, v) in &headers {
                rb = rb.header(name.clone(), v.clone());
            }
        }
        if let Some(body) = &json {
            rb = rb
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let name = if own {
            tls_name.as_str()
        } else {
            current.host_str().unwrap_or_default()
        };
        let mut resp = rb.send().await.map_err(|e| classify(&e, &current, name))?;
        let status = resp.status().as_u16();
        let http2 = resp.version() == reqwest::Version::HTTP_2;
        if let (301 | 302 | 303 | 307 | 308, Some(loc)) = (status, resp.headers().get(LOCATION)) {
            if hop == MAX_REDIRECTS {
                return Err(HttpError::Protocol(format!(
                    "more than {MAX_REDIRECTS} redirects (last to {})",
                    shown(&current)
                )));
            }
            let bad = || {
                HttpError::Protocol(format!(
                    "redirect to a bad location from {}",
                    shown(&current)
                ))
            };
            let next = current
                .join(loc.to_str().map_err(|_| bad())?)
                .map_err(|_| bad())?;
            if !matches!(next.scheme(), "http" | "https") {
                return Err(HttpError::Protocol(format!(
                    "redirect to a {}:// URL",
                    next.scheme()
                )));
            }
            // 303, and 301/302 after a POST, continue as a GET without a body.
            if status == 303 || (method == Method::POST && status < 303) {
                method = Method::GET;
                json = None;
            }
            if json.is_some() && !same_origin(&origin, &next) {
                return Err(HttpError::Protocol(format!(
                    "refusing to send the request's body on to another host ({})",
                    shown(&next)
                )));
            }
            current = next;
            continue;
        }
        let mut body = Vec::new();
        let mut truncated = false;
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| classify(&e, &current, name))?
        {
            let room = cap - body.len();
            if chunk.len() > room {
                body.extend_from_slice(&chunk[..room]);
                truncated = true;
                break;
            }
            body.extend_from_slice(&chunk);
        }
        if own && matches!(status, 401 | 403) {
            // Read the secret again next time: it may have been rotated.
            if let Some(c) = &inner.credentials {
                c.cached().forget();
            }
        }
        return Ok(Response {
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
            truncated,
            latency: start.elapsed().as_secs_f64(),
            http2,
        });
    }
    Err(HttpError::Protocol(format!(
        "more than {MAX_REDIRECTS} redirects"
    )))
}

fn header_value(
    name: &HeaderName,
    v: &HeaderValue,
) -> Result<reqwest::header::HeaderValue, HttpError> {
    let text = match v {
        HeaderValue::Text(t) => t.clone(),
        HeaderValue::Env(e) => std::env::var(&e.env)
            .map_err(|_| HttpError::Config(format!("header {name}: ${} is not set", e.env)))?,
    };
    let mut value = reqwest::header::HeaderValue::from_str(text.trim())
        .map_err(|_| HttpError::Config(format!("header {name}: not a valid header value")))?;
    value.set_sensitive(matches!(v, HeaderValue::Env(_)));
    Ok(value)
}

fn parse(url: &str) -> Result<Url, HttpError> {
    let u = Url::parse(url).map_err(|e| HttpError::Config(format!("bad URL: {e}")))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(HttpError::Config(format!(
            "{}:// URLs are not supported: only http:// and https://",
            u.scheme()
        )));
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(HttpError::Config(
            "credentials in a URL are refused: use `auth`".into(),
        ));
    }
    Ok(u)
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host() == b.host()
        && a.port_or_known_default() == b.port_or_known_default()
}

#[cfg(test)]
mod tests;
