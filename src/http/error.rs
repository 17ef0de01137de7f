//! Why a request got no response, in one line that says what to do where it can.

use std::time::Duration;

use url::Url;

use super::tls;

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

/// `host:port` of a URL, for messages (never its path or query, which may carry values).
pub(super) fn shown(u: &Url) -> String {
    match (u.host_str(), u.port_or_known_default()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => u.scheme().to_string(),
    }
}

/// A reqwest error in words: the TLS reason, a refused connection, a name that does not
/// resolve, or the innermost cause. `tls_name` is the name certificates are checked against.
pub(super) fn classify(e: &reqwest::Error, url: &Url, tls_name: &str) -> HttpError {
    let at = shown(url);
    let host = url.host_str().unwrap_or_default();
    // The top error names the whole URL (its query may carry values): start below it.
    let mut cur = std::error::Error::source(e);
    let mut kind = None;
    let mut dns = false;
    let mut last = if e.is_body() || e.is_decode() {
        "the body was cut short".to_string()
    } else {
        "the request failed".to_string()
    };
    while let Some(s) = cur {
        if let Some(t) = s.downcast_ref::<rustls::Error>() {
            return HttpError::Tls(format!("{} ({at})", tls::describe(t, tls_name)));
        }
        // I/O errors nest (hyper-util wraps tokio-rustls's): look inside each one.
        let mut inner = s.downcast_ref::<std::io::Error>();
        while let Some(io) = inner {
            kind.get_or_insert(io.kind());
            let wrapped = io.get_ref();
            if let Some(t) = wrapped.and_then(|i| i.downcast_ref::<rustls::Error>()) {
                // The reason first: at 80 columns the address is what gets cut.
                return HttpError::Tls(format!("{} ({at})", tls::describe(t, tls_name)));
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
