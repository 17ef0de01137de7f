//! Building the reqwest client of one endpoint's settings, and rebuilding it when a file it
//! was built from changes (a renewed client certificate, a CA that appeared).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::HeaderName;

use crate::config::http::{Credentials, HeaderValue, HttpSettings};
use crate::secret::Cached;

/// How often the files behind a client are looked at again.
const RECHECK: Duration = Duration::from_secs(60);
/// How soon a client that could not be built is tried again.
const RETRY: Duration = Duration::from_secs(5);

/// What one endpoint's requests are made with.
#[derive(Debug)]
pub(super) struct Inner {
    pub(super) client: reqwest::Client,
    pub(super) credentials: Option<Secret>,
    pub(super) headers: Vec<(HeaderName, HeaderValue)>,
    pub(super) insecure: bool,
    /// The name certificates are checked against, when not the URL's host.
    pub(super) server_name: Option<String>,
    /// A configured header holds a credential.
    pub(super) secret_headers: bool,
    /// The proxies in use, by the scheme they carry (`http`, `https`, `all`), and what
    /// `NO_PROXY` excludes: for messages only.
    proxies: Vec<(&'static str, String)>,
    no_proxy: Vec<String>,
}

impl Inner {
    /// The proxy a request to `url` goes through (`host:port`), as far as a message needs.
    pub(super) fn proxy_for(&self, url: &str) -> Option<String> {
        let u = url::Url::parse(url).ok()?;
        let host = u.host_str()?.trim_matches(['[', ']']).to_ascii_lowercase();
        let excluded = super::is_loopback(&u)
            || self.no_proxy.iter().any(|n| {
                let n = n.trim_start_matches('.');
                n == "*" || host == n || host.ends_with(&format!(".{n}"))
            });
        if excluded {
            return None;
        }
        self.proxies
            .iter()
            .find(|(s, _)| *s == u.scheme() || *s == "all")
            .map(|(_, p)| p.clone())
    }
}

/// Credentials and where their secret comes from.
#[derive(Debug)]
pub(super) enum Secret {
    Bearer(Cached),
    Basic { user: String, password: Cached },
}

impl Secret {
    pub(super) fn cached(&self) -> &Cached {
        match self {
            Secret::Bearer(c) | Secret::Basic { password: c, .. } => c,
        }
    }
}

/// A built client, or why it could not be built, and when its files were last looked at.
#[derive(Debug)]
pub(super) struct Built {
    settings: HttpSettings,
    state: Mutex<State>,
}

/// The client now, when its files were looked at, and their modification times then.
#[derive(Debug)]
struct State {
    inner: Arc<Result<Inner, String>>,
    checked: Instant,
    stamps: Vec<Option<SystemTime>>,
}

fn stamps(s: &HttpSettings) -> Vec<Option<SystemTime>> {
    [&s.tls.ca_file, &s.tls.cert_file, &s.tls.key_file]
        .into_iter()
        .map(|p| {
            p.as_ref()
                .and_then(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        })
        .collect()
}

impl Built {
    /// Builds the client of `settings` now.
    pub(super) fn new(settings: &HttpSettings) -> Built {
        Built {
            settings: settings.clone(),
            state: Mutex::new(State {
                inner: Arc::new(build(settings)),
                checked: Instant::now(),
                stamps: stamps(settings),
            }),
        }
    }

    /// The client to use now: rebuilt when its files changed (looked at once a minute), or
    /// when it could not be built (tried again after a few seconds).
    pub(super) fn current(&self) -> Arc<Result<Inner, String>> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let due = if st.inner.is_err() { RETRY } else { RECHECK };
        if st.checked.elapsed() >= due {
            let now = stamps(&self.settings);
            if st.inner.is_err() || now != st.stamps {
                st.inner = Arc::new(build(&self.settings));
            }
            st.checked = Instant::now();
            st.stamps = now;
        }
        st.inner.clone()
    }

    /// The client as it is, without looking at its files.
    pub(super) fn peek(&self) -> Arc<Result<Inner, String>> {
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.inner.clone()
    }
}

/// A variable by its upper- or lower-case name, when set and not blank.
fn env(name: &str) -> Option<String> {
    [name.to_string(), name.to_ascii_lowercase()]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
}

/// The proxies: `[http] proxy`, else the environment's; this machine is always reached
/// directly (a local service behind a corporate proxy, and no secret ever travels to a proxy
/// in clear on its way to loopback).
fn proxies(
    b: reqwest::ClientBuilder,
    configured: Option<&str>,
) -> Result<reqwest::ClientBuilder, String> {
    let list = format!(
        "{},localhost,127.0.0.0/8,::1",
        env("NO_PROXY").unwrap_or_default()
    );
    let no = || reqwest::NoProxy::from_string(&list);
    let bad = |k: &str| format!("{k} is not a proxy URL");
    let mut b = b.no_proxy();
    if let Some(p) = configured {
        return Ok(b.proxy(
            reqwest::Proxy::all(p)
                .map_err(|_| bad("[http] proxy"))?
                .no_proxy(no()),
        ));
    }
    if let Some(p) = env("HTTPS_PROXY") {
        b = b.proxy(
            reqwest::Proxy::https(&p)
                .map_err(|_| bad("HTTPS_PROXY"))?
                .no_proxy(no()),
        );
    }
    if let Some(p) = env("HTTP_PROXY") {
        b = b.proxy(
            reqwest::Proxy::http(&p)
                .map_err(|_| bad("HTTP_PROXY"))?
                .no_proxy(no()),
        );
    }
    if let Some(p) = env("ALL_PROXY") {
        b = b.proxy(
            reqwest::Proxy::all(&p)
                .map_err(|_| bad("ALL_PROXY"))?
                .no_proxy(no()),
        );
    }
    Ok(b)
}

fn build(s: &HttpSettings) -> Result<Inner, String> {
    let tls = super::tls::client_config(&s.tls)?;
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
    let client = proxies(b, s.proxy.as_deref())?
        .build()
        .map_err(|e| format!("HTTP client: {e}"))?;
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
        server_name: s.tls.server_name.clone(),
        secret_headers: s
            .headers
            .keys()
            .any(|k| crate::config::http::secret_header(k)),
        proxies: proxy_names(s.proxy.as_deref()),
        no_proxy: env("NO_PROXY")
            .unwrap_or_default()
            .split(',')
            .map(|n| n.trim().to_ascii_lowercase())
            .filter(|n| !n.is_empty())
            .collect(),
    })
}

/// `host:port` of each proxy in use, by the scheme it carries.
fn proxy_names(configured: Option<&str>) -> Vec<(&'static str, String)> {
    let name = |p: &str| {
        url::Url::parse(p)
            .ok()
            .map(|u| super::error::shown(&u))
            .unwrap_or_else(|| "?".into())
    };
    if let Some(p) = configured {
        return vec![("all", name(p))];
    }
    [
        ("https", "HTTPS_PROXY"),
        ("http", "HTTP_PROXY"),
        ("all", "ALL_PROXY"),
    ]
    .into_iter()
    .filter_map(|(s, k)| env(k).map(|p| (s, name(&p))))
    .collect()
}
