//! The one HTTP client for everything but GitHub: probes, scrapes, gates, Prometheus,
//! Alertmanager and the demo fleet. reqwest on the hyper / rustls stack octocrab already
//! brings, with our own TLS configuration (`tls`), credentials (`auth`), headers and proxy.
//!
//! Every exchange is bounded by one deadline that includes name resolution; bodies are streamed
//! and capped at [`MAX_BODY`] (a cut body says so); redirects are followed by hand, at most
//! [`MAX_REDIRECTS`], and credentials and configured headers go only to the URL's own origin.
//! By default each request opens a fresh connection, so a probe's latency includes its connect
//! and handshake; `keep_alive = true` reuses connections.

pub mod tls;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, HeaderName, LOCATION};
use url::Url;

use crate::config::http::{Credentials, HeaderValue, HttpSettings};
use crate::secret::Cached;

/// Largest body kept; a longer one is cut there and marked `truncated`.
pub const MAX_BODY: usize = 32 << 20;
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
    /// The body, lossily decoded, at most [`MAX_BODY`] bytes.
    pub body: String,
    /// The body was longer than [`MAX_BODY`] and was cut.
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

/// Why a request got no response; the text says what to do where it can.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// Nothing complete within the deadline.
    #[error("timed out after {}s", .0.as_secs_f32())]
    Timeout(Duration),
    /// The TLS handshake failed (the text says why: unknown authority, expired, …).
    #[error("{0}")]
    Tls(String),
    /// Resolution or connection failed.
    #[error("{0}")]
    Connect(String),
    /// The endpoint's settings are wrong (a credential source, a header, a URL).
    #[error("{0}")]
    Config(String),
    /// The server answered something that is not a usable HTTP response.
    #[error("{0}")]
    Protocol(String),
}

impl From<HttpError> for String {
    fn from(e: HttpError) -> String {
        e.to_string()
    }
}

/// A client for one endpoint's settings; cheap to clone, shared by every endpoint with the
/// same settings.
#[derive(Clone, Debug)]
pub struct Client {
    inner: Arc<Result<Inner, String>>,
}

#[derive(Debug)]
struct Inner {
    client: reqwest::Client,
    credentials: Option<Secret>,
    headers: Vec<(HeaderName, HeaderValue)>,
    insecure: bool,
}

#[derive(Debug)]
enum Secret {
    Bearer(Cached),
    Basic { user: String, password: Cached },
}

impl Secret {
    fn cached(&self) -> &Cached {
        match self {
            Secret::Bearer(c) | Secret::Basic { password: c, .. } => c,
        }
    }
}

impl Client {
    /// The client for `settings` (built once per distinct settings in this process).
    pub fn new(settings: &HttpSettings) -> Client {
        static CLIENTS: OnceLock<Mutex<HashMap<HttpSettings, Client>>> = OnceLock::new();
        let mut all = CLIENTS
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        all.entry(settings.clone())
            .or_insert_with(|| Client {
                inner: Arc::new(build(settings)),
            })
            .clone()
    }

    /// A client with no settings (system roots, proxies from the environment).
    pub fn plain() -> Client {
        Client::new(&HttpSettings::default())
    }

    /// Whether certificates go unverified (`insecure_skip_verify`).
    pub fn insecure(&self) -> bool {
        self.inner.as_ref().as_ref().is_ok_and(|i| i.insecure)
    }

    /// Whether credentials are configured.
    pub fn has_credentials(&self) -> bool {
        self.inner
            .as_ref()
            .as_ref()
            .is_ok_and(|i| i.credentials.is_some())
    }

    /// `GET url` within `timeout`.
    pub async fn get(&self, url: &str, timeout: Duration) -> Result<Response, HttpError> {
        self.request(Method::GET, url, None, timeout).await
    }

    /// `method url` with an optional JSON body, the whole exchange within `timeout`.
    pub async fn request(
        &self,
        method: Method,
        url: &str,
        json: Option<String>,
        timeout: Duration,
    ) -> Result<Response, HttpError> {
        match tokio::time::timeout(timeout, self.exchange(method, url, json)).await {
            Ok(r) => r,
            Err(_) => Err(HttpError::Timeout(timeout)),
        }
    }

    async fn exchange(
        &self,
        mut method: Method,
        url: &str,
        mut json: Option<String>,
    ) -> Result<Response, HttpError> {
        let inner = match self.inner.as_ref() {
            Ok(i) => i,
            Err(e) => return Err(HttpError::Config(e.clone())),
        };
        let origin = parse(url)?;
        let mut current = origin.clone();
        let start = Instant::now();
        for hop in 0..=MAX_REDIRECTS {
            let own = same_origin(&origin, &current);
            let mut rb = inner.client.request(method.clone(), current.clone());
            if own {
                rb = self.credentials(inner, rb, &current).await?;
                for (name, v) in &inner.headers {
                    rb = rb.header(name.clone(), header_value(name, v)?);
                }
            }
            if let Some(body) = &json {
                rb = rb
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            let mut resp = rb.send().await.map_err(|e| classify(&e, &current))?;
            let status = resp.status();
            let http2 = resp.version() == reqwest::Version::HTTP_2;
            if status.is_redirection()
                && let Some(loc) = resp.headers().get(LOCATION)
            {
                if hop == MAX_REDIRECTS {
                    return Err(HttpError::Protocol(format!(
                        "more than {MAX_REDIRECTS} redirects (last to {})",
                        shown(&current)
                    )));
                }
                let loc = loc.to_str().unwrap_or_default();
                current = current.join(loc).map_err(|_| {
                    HttpError::Protocol(format!("redirect to a bad location {loc:?}"))
                })?;
                if !matches!(current.scheme(), "http" | "https") {
                    return Err(HttpError::Protocol(format!(
                        "redirect to a {}:// URL",
                        current.scheme()
                    )));
                }
                // 303, and 301/302 after a POST, continue as a GET without a body.
                if status.as_u16() == 303 || (method == Method::POST && status.as_u16() < 303) {
                    method = Method::GET;
                    json = None;
                }
                continue;
            }
            let mut body = Vec::new();
            let mut truncated = false;
            while let Some(chunk) = resp.chunk().await.map_err(|e| classify(&e, &current))? {
                let room = MAX_BODY - body.len();
                if chunk.len() > room {
                    body.extend_from_slice(&chunk[..room]);
                    truncated = true;
                    break;
                }
                body.extend_from_slice(&chunk);
            }
            if own && matches!(status.as_u16(), 401 | 403) {
                // Read the secret again next time: it may have been rotated.
                if let Some(c) = &inner.credentials {
                    c.cached().forget();
                }
            }
            return Ok(Response {
                status: status.as_u16(),
                body: String::from_utf8_lossy(&body).into_owned(),
                truncated,
                latency: start.elapsed().as_secs_f64(),
                http2,
            });
        }
        unreachable!("the loop returns at its last hop")
    }

    async fn credentials(
        &self,
        inner: &Inner,
        rb: reqwest::RequestBuilder,
        url: &Url,
    ) -> Result<reqwest::RequestBuilder, HttpError> {
        let Some(secret) = &inner.credentials else {
            return Ok(rb);
        };
        if url.scheme() == "http" && !is_loopback(url) {
            return Err(HttpError::Config(format!(
                "refusing to send credentials unencrypted to {}: use https://",
                shown(url)
            )));
        }
        // A file or a command may block: read it off the async threads.
        let this = self.clone();
        let value = tokio::task::spawn_blocking(move || match this.inner.as_ref() {
            Ok(i) => i.credentials.as_ref().map(|s| s.cached().get()),
            Err(_) => None,
        })
        .await
        .map_err(|e| HttpError::Config(e.to_string()))?
        .unwrap_or_else(|| Err("no credentials".into()))
        .map_err(|e| HttpError::Config(format!("auth: {e}")))?;
        Ok(match secret {
            Secret::Bearer(_) => rb.bearer_auth(value),
            Secret::Basic { user, .. } => rb.basic_auth(user, Some(value)),
        })
    }
}

fn build(s: &HttpSettings) -> Result<Inner, String> {
    let tls = tls::client_config(&s.tls)?;
    let mut b = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("flightdeck/", env!("CARGO_PKG_VERSION")))
        .tcp_nodelay(true);
    b = if s.keep_alive {
        b.pool_idle_timeout(Duration::from_secs(90))
    } else {
        b.pool_max_idle_per_host(0)
    };
    if let Some(p) = &s.proxy {
        let proxy = reqwest::Proxy::all(p.as_str())
            .map_err(|_| "[http] proxy is not a URL".to_string())?
            .no_proxy(reqwest::NoProxy::from_env());
        b = b.no_proxy().proxy(proxy);
    }
    let client = b.build().map_err(|e| format!("HTTP client: {e}"))?;
    let credentials = match &s.auth {
        None => None,
        Some(a) => Some(match a.credentials().map_err(|e| format!("auth: {e}"))? {
            Credentials::Bearer(src) => Secret::Bearer(Cached::new(src)),
            Credentials::Basic { user, password } => Secret::Basic {
                user,
                password: Cached::new(password),
            },
        }),
    };
    let headers = s
        .headers
        .iter()
        .map(|(k, v)| {
            HeaderName::from_bytes(k.as_bytes())
                .map(|n| (n, v.clone()))
                .map_err(|_| format!("headers: {k:?} is not a header name"))
        })
        .collect::<Result<_, _>>()?;
    Ok(Inner {
        client,
        credentials,
        headers,
        insecure: s.tls.insecure(),
    })
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
    let u = Url::parse(url).map_err(|e| HttpError::Config(format!("bad URL {url:?}: {e}")))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(HttpError::Config(format!(
            "{url:?}: only http:// and https:// URLs are supported"
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

/// `host:port` of a URL, for messages (never its path or query, which may carry values).
fn shown(u: &Url) -> String {
    match (u.host_str(), u.port_or_known_default()) {
        (Some(h), Some(p)) if h.contains(':') => format!("[{h}]:{p}"),
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => u.scheme().to_string(),
    }
}

/// A reqwest error in words: the TLS reason, a refused connection, a name that does not
/// resolve, or the innermost cause.
fn classify(e: &reqwest::Error, url: &Url) -> HttpError {
    let at = shown(url);
    let host = url.host_str().unwrap_or_default();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut kind = None;
    let mut dns = false;
    let mut last = e.to_string();
    while let Some(s) = cur {
        if let Some(t) = s.downcast_ref::<rustls::Error>() {
            return HttpError::Tls(format!("{at}: {}", tls::describe(t, host)));
        }
        // I/O errors nest (hyper-util wraps tokio-rustls's): look inside each one.
        let mut inner = s.downcast_ref::<std::io::Error>();
        while let Some(io) = inner {
            kind.get_or_insert(io.kind());
            let wrapped = io.get_ref();
            if let Some(t) = wrapped.and_then(|i| i.downcast_ref::<rustls::Error>()) {
                return HttpError::Tls(format!("{at}: {}", tls::describe(t, host)));
            }
            inner = wrapped.and_then(|i| i.downcast_ref::<std::io::Error>());
        }
        let text = s.to_string();
        dns |= text.contains("dns error");
        last = text;
        cur = s.source();
    }
    use std::io::ErrorKind;
    match kind {
        _ if dns => HttpError::Connect(format!("cannot resolve {host}: {last}")),
        Some(ErrorKind::ConnectionRefused) => {
            HttpError::Connect(format!("{at}: connection refused"))
        }
        Some(ErrorKind::ConnectionReset) => HttpError::Connect(format!("{at}: connection reset")),
        Some(ErrorKind::TimedOut) => HttpError::Connect(format!("{at}: connect timed out")),
        _ if e.is_body() || e.is_decode() => {
            HttpError::Protocol(format!("{at}: body cut short: {last}"))
        }
        _ if e.is_connect() => HttpError::Connect(format!("{at}: {last}")),
        _ => HttpError::Protocol(format!("{at}: {last}")),
    }
}

#[cfg(test)]
mod tests;
