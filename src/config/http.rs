//! The HTTP keys shared by checks, smoke gates, targets, Prometheus and Alertmanager providers
//! and the top-level `[http]` table: `tls`, `auth`, `headers`, `keep_alive` (and `proxy` at the
//! top). A lower level overrides the one above it: `[http]` → target → provider → check or gate.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::secret::SecretSource;

/// `tls = { ca_file, cert_file, key_file, server_name, insecure_skip_verify }`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq, Hash)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificates trusted besides the system's roots (a private CA).
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate chain, for mutual TLS (with `key_file`).
    pub cert_file: Option<PathBuf>,
    /// PEM private key of `cert_file`.
    pub key_file: Option<PathBuf>,
    /// The name the server's certificate must be valid for, instead of the URL's host.
    pub server_name: Option<String>,
    /// Accept any certificate (shown as a badge; `flightdeck check` warns).
    pub insecure_skip_verify: Option<bool>,
}

impl TlsConfig {
    /// Each key of `upper` that is set replaces this one's.
    pub fn overlay(&mut self, upper: &TlsConfig) {
        let TlsConfig {
            ca_file,
            cert_file,
            key_file,
            server_name,
            insecure_skip_verify,
        } = upper.clone();
        self.ca_file = ca_file.or(self.ca_file.take());
        self.cert_file = cert_file.or(self.cert_file.take());
        self.key_file = key_file.or(self.key_file.take());
        self.server_name = server_name.or(self.server_name.take());
        self.insecure_skip_verify = insecure_skip_verify.or(self.insecure_skip_verify);
    }

    /// Whether certificates are not verified.
    pub fn insecure(&self) -> bool {
        self.insecure_skip_verify == Some(true)
    }
}

/// `auth = { bearer_env | bearer_file | bearer_cmd }` or
/// `auth = { basic_user, password_env | password_file | password_cmd }`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq, Hash)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// The environment variable holding a bearer token.
    pub bearer_env: Option<String>,
    /// A file whose first line is a bearer token.
    pub bearer_file: Option<PathBuf>,
    /// A command (argv, no shell, 5 s) that prints a bearer token.
    pub bearer_cmd: Option<Vec<String>>,
    /// The user name of basic auth.
    pub basic_user: Option<String>,
    /// The environment variable holding the basic-auth password.
    pub password_env: Option<String>,
    /// A file whose first line is the basic-auth password.
    pub password_file: Option<PathBuf>,
    /// A command (argv, no shell, 5 s) that prints the basic-auth password.
    pub password_cmd: Option<Vec<String>>,
}

/// Credentials as the client sends them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Credentials {
    /// `Authorization: Bearer …`.
    Bearer(SecretSource),
    /// `Authorization: Basic …`.
    Basic {
        /// The user.
        user: String,
        /// Where the password comes from.
        password: SecretSource,
    },
}

fn one_source(
    env: &Option<String>,
    file: &Option<PathBuf>,
    cmd: &Option<Vec<String>>,
) -> Vec<SecretSource> {
    let mut out = Vec::new();
    out.extend(env.clone().map(SecretSource::Env));
    out.extend(file.clone().map(SecretSource::File));
    out.extend(cmd.clone().map(SecretSource::Command));
    out
}

impl AuthConfig {
    /// The credentials this table describes, or what is wrong with it.
    pub fn credentials(&self) -> Result<Credentials, String> {
        for (key, name) in [
            ("bearer_env", &self.bearer_env),
            ("password_env", &self.password_env),
        ] {
            if let Some(n) = name
                && (n.is_empty() || n.contains(['=', '\0']) || n.contains(char::is_whitespace))
            {
                return Err(format!("{key} {n:?} is not an environment variable's name"));
            }
        }
        for (key, path) in [
            ("bearer_file", &self.bearer_file),
            ("password_file", &self.password_file),
        ] {
            if path.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
                return Err(format!("{key} is empty: name the file"));
            }
        }
        if self
            .basic_user
            .as_ref()
            .is_some_and(|u| u.is_empty() || u.contains(':'))
        {
            return Err("basic_user must be a name without `:`".into());
        }
        let bearer = one_source(&self.bearer_env, &self.bearer_file, &self.bearer_cmd);
        let password = one_source(&self.password_env, &self.password_file, &self.password_cmd);
        let empty_cmd = [&self.bearer_cmd, &self.password_cmd]
            .iter()
            .any(|c| c.as_ref().is_some_and(Vec::is_empty));
        if empty_cmd {
            return Err("a `*_cmd` is an argv and must not be empty".into());
        }
        match (bearer.len(), &self.basic_user, password.len()) {
            (1, None, 0) => Ok(Credentials::Bearer(bearer[0].clone())),
            (0, Some(user), 1) => Ok(Credentials::Basic {
                user: user.clone(),
                password: password[0].clone(),
            }),
            (0, Some(_), _) => Err(
                "basic auth needs exactly one of `password_env`, `password_file` or `password_cmd`"
                    .into(),
            ),
            (0, None, 0) => Err(
                "set `bearer_env`, `bearer_file` or `bearer_cmd`, or `basic_user` with a password source"
                    .into(),
            ),
            _ => Err(
                "use one of `bearer_env`, `bearer_file`, `bearer_cmd`, or `basic_user` with one password source"
                    .into(),
            ),
        }
    }
}

/// A header value: text, or `{ env = "NAME" }` read when the request is sent.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq, Hash)]
#[serde(untagged)]
pub enum HeaderValue {
    /// Sent as written.
    Text(String),
    /// Read from an environment variable (for a key that must stay out of the file).
    Env(EnvRef),
}

/// `{ env = "NAME" }`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq, Hash)]
#[serde(deny_unknown_fields)]
pub struct EnvRef {
    /// The variable's name.
    pub env: String,
}

/// The HTTP keys of one level (a check, gate, target or provider).
#[derive(Clone, Copy, Debug, Default)]
pub struct HttpLayer<'a> {
    /// `tls`.
    pub tls: Option<&'a TlsConfig>,
    /// `auth`.
    pub auth: Option<&'a AuthConfig>,
    /// `headers`.
    pub headers: Option<&'a BTreeMap<String, HeaderValue>>,
    /// `keep_alive`.
    pub keep_alive: Option<bool>,
}

/// `[http]`: defaults for every HTTP client but GitHub's.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct HttpDefaults {
    /// TLS for every endpoint.
    pub tls: Option<TlsConfig>,
    /// Credentials for every endpoint (rarely what you want: prefer each provider's).
    pub auth: Option<AuthConfig>,
    /// Headers sent to every endpoint.
    #[serde(default)]
    pub headers: BTreeMap<String, HeaderValue>,
    /// Reuse connections between probes (default false: each probe's latency includes its
    /// connect and TLS handshake).
    pub keep_alive: Option<bool>,
    /// `http://proxy:3128`; default: `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY`.
    pub proxy: Option<String>,
}

impl HttpDefaults {
    /// Its keys as the top layer.
    pub fn layer(&self) -> HttpLayer<'_> {
        HttpLayer {
            tls: self.tls.as_ref(),
            auth: self.auth.as_ref(),
            headers: Some(&self.headers),
            keep_alive: self.keep_alive,
        }
    }

    /// The settings of an endpoint configured by `layers`, top to bottom.
    pub fn settings(&self, layers: &[HttpLayer<'_>]) -> HttpSettings {
        let mut s = HttpSettings {
            proxy: self.proxy.clone(),
            ..HttpSettings::default()
        };
        for l in std::iter::once(&self.layer()).chain(layers) {
            if let Some(t) = l.tls {
                s.tls.overlay(t);
            }
            if let Some(a) = l.auth {
                s.auth = Some(a.clone());
            }
            if let Some(h) = l.headers {
                s.headers
                    .extend(h.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            s.keep_alive = l.keep_alive.unwrap_or(s.keep_alive);
        }
        s
    }
}

/// What one endpoint's client is built from, every level folded in.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq, Hash)]
pub struct HttpSettings {
    /// TLS.
    pub tls: TlsConfig,
    /// Credentials.
    pub auth: Option<AuthConfig>,
    /// Extra headers.
    pub headers: BTreeMap<String, HeaderValue>,
    /// Reuse connections.
    pub keep_alive: bool,
    /// An explicit proxy.
    pub proxy: Option<String>,
}

impl HttpSettings {
    /// Whether requests carry a secret: credentials, or a header named like one.
    pub fn sends_secrets(&self) -> bool {
        self.auth.is_some() || self.headers.keys().any(|k| secret_header(k))
    }
}

/// Makes the paths of a level absolute from the config file's directory.
pub(super) fn absolutize(tls: Option<&mut TlsConfig>, auth: Option<&mut AuthConfig>, base: &Path) {
    let fix = |p: &mut Option<PathBuf>| {
        // An empty path stays empty, for validation to name.
        if let Some(x) = p
            && x.is_relative()
            && !x.as_os_str().is_empty()
        {
            *x = base.join(&*x);
        }
    };
    if let Some(t) = tls {
        fix(&mut t.ca_file);
        fix(&mut t.cert_file);
        fix(&mut t.key_file);
    }
    if let Some(a) = auth {
        fix(&mut a.bearer_file);
        fix(&mut a.password_file);
    }
}

/// Header names that hold credentials: never as text in a config file, never over plain HTTP.
pub fn secret_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n == "cookie"
        || ["auth", "key", "token", "secret", "password"]
            .iter()
            .any(|w| n.contains(w))
}

/// Checks one level's keys; the error names the key (`tls`, `auth`, `headers`). The files
/// they name are read by the client, which reports one it cannot read on that endpoint alone.
pub fn validate_layer(l: HttpLayer<'_>) -> Result<(), (&'static str, String)> {
    if let Some(t) = l.tls {
        if t.cert_file.is_some() != t.key_file.is_some() {
            return Err((
                "tls",
                "`cert_file` and `key_file` go together (mutual TLS needs both)".into(),
            ));
        }
        for (key, path) in [
            ("ca_file", &t.ca_file),
            ("cert_file", &t.cert_file),
            ("key_file", &t.key_file),
        ] {
            if path.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
                return Err(("tls", format!("{key} is empty: name the PEM file")));
            }
        }
        if let Some(n) = &t.server_name
            && rustls_pki_types::ServerName::try_from(n.as_str()).is_err()
        {
            return Err(("tls", format!("server_name {n:?} is not a host name")));
        }
    }
    if let Some(a) = l.auth {
        a.credentials().map_err(|e| ("auth", e))?;
    }
    for (name, v) in l.headers.into_iter().flatten() {
        if l.auth.is_some() && name.eq_ignore_ascii_case("authorization") {
            return Err((
                "headers",
                "`auth` already sends Authorization: set one or the other".into(),
            ));
        }
        const FIXED: [&str; 5] = [
            "host",
            "content-length",
            "transfer-encoding",
            "connection",
            "content-type",
        ];
        if FIXED.contains(&name.to_ascii_lowercase().as_str()) {
            return Err((
                "headers",
                format!("{name} is set by flightdeck itself; remove it"),
            ));
        }
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(("headers", format!("{name:?} is not a header name")));
        }
        match v {
            HeaderValue::Text(t) => {
                if secret_header(name) {
                    return Err((
                        "headers",
                        format!(
                            "{name} carries a credential: use `auth`, or {{ env = \"NAME\" }} to keep it out of the file"
                        ),
                    ));
                }
                if http::HeaderValue::from_str(t).is_err() {
                    return Err((
                        "headers",
                        format!("the value of {name} is not a valid header value"),
                    ));
                }
            }
            HeaderValue::Env(e) if e.env.trim().is_empty() => {
                return Err(("headers", format!("{name}: `env` names no variable")));
            }
            HeaderValue::Env(_) => {}
        }
    }
    Ok(())
}

/// Checks a URL the config gives (a `{node}` placeholder is allowed): `http` or `https`, no
/// credentials in it, and no credentials over plain HTTP, nor to a server whose certificate
/// goes unverified, except on this machine.
pub fn validate_endpoint(url: &str, s: &HttpSettings) -> Result<(), String> {
    validate_url(url, s.sends_secrets())?;
    let probe = url.replace("{node}", "node");
    if s.auth.is_some()
        && s.tls.insecure()
        && url::Url::parse(&probe).is_ok_and(|u| !crate::http::is_loopback(&u))
    {
        return Err(format!(
            "{url:?}: `auth` with `insecure_skip_verify` sends the secret to whoever answers; trust the server's CA with tls.ca_file instead"
        ));
    }
    Ok(())
}

/// Checks a URL the config gives: `http` or `https`, and no credentials over plain HTTP
/// except to this machine. A `{node}` placeholder is allowed in the host.
pub fn validate_url(url: &str, auth: bool) -> Result<(), String> {
    check_url(url, auth, false)
}

/// Checks `[http] proxy`: `http` or `https`; credentials in it are the proxy's own.
pub fn validate_proxy(url: &str) -> Result<(), String> {
    check_url(url, false, true)
}

fn check_url(url: &str, auth: bool, proxy: bool) -> Result<(), String> {
    let probe = url.replace("{node}", "node");
    let Ok(mut u) = url::Url::parse(&probe) else {
        return Err(format!("{:?} is not a URL", masked(url)));
    };
    // Messages never show a password given in the URL.
    let shown = masked(url);
    match u.scheme() {
        "http" | "https" => {}
        s => {
            return Err(format!(
                "{shown:?}: scheme {s}:// is not supported; use http:// or https://"
            ));
        }
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(format!("{shown:?} has no host"));
    }
    if !proxy && (!u.username().is_empty() || u.password().is_some()) {
        return Err(format!(
            "{shown:?}: put credentials in `auth`, not in the URL (it shows on screen and in logs)"
        ));
    }
    let _ = u.set_password(None);
    if auth && u.scheme() == "http" && !crate::http::is_loopback(&u) {
        return Err(format!(
            "{shown:?}: `auth` (or a credential header) would send the secret unencrypted over http://; use https:// (only this machine may use http)"
        ));
    }
    Ok(())
}

/// `url` with any password in it replaced by `***`.
fn masked(url: &str) -> String {
    match url.find("://").map(|i| i + 3) {
        Some(start) => {
            let rest = &url[start..];
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            match rest[..end].rfind('@') {
                Some(at) => {
                    let user = rest[..at].split(':').next().unwrap_or_default();
                    format!("{}{user}:***{}", &url[..start], &rest[at..])
                }
                None => url.to_string(),
            }
        }
        None => url.to_string(),
    }
}

impl<'a> HttpLayer<'a> {
    /// A level from its four keys.
    pub fn of(
        tls: &'a Option<TlsConfig>,
        auth: &'a Option<AuthConfig>,
        headers: &'a BTreeMap<String, HeaderValue>,
        keep_alive: Option<bool>,
    ) -> HttpLayer<'a> {
        HttpLayer {
            tls: tls.as_ref(),
            auth: auth.as_ref(),
            headers: Some(headers),
            keep_alive,
        }
    }
}
