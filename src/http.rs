//! A small blocking HTTP/1.1 client for probes and gates on plain `http://` URLs: one
//! request per connection, every read and write bounded by a deadline, bodies capped.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Largest body kept; the rest is read and dropped (bounded by the deadline).
pub const MAX_BODY: usize = 1 << 20;

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

/// A response: status and (capped) body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The body, lossily decoded and capped at [`MAX_BODY`].
    pub body: String,
}

/// `GET url`.
pub fn get(url: &str, timeout: Duration) -> Result<Response, String> {
    request("GET", url, timeout)
}

/// `POST url` with an empty body.
pub fn post(url: &str, timeout: Duration) -> Result<Response, String> {
    request("POST", url, timeout)
}

fn split(url: &str) -> Result<(&str, &str), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("only http:// URLs are supported here: {url}"))?;
    Ok(match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    })
}

fn request(method: &str, url: &str, timeout: Duration) -> Result<Response, String> {
    let deadline = Instant::now() + timeout;
    let (authority, path) = split(url)?;
    if authority.is_empty() || authority.contains(['@', ' ']) || path.contains([' ', '\r', '\n']) {
        return Err(format!("malformed URL {url:?}"));
    }
    let addr_str = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let addr = addr_str
        .to_socket_addrs()
        .map_err(|e| format!("{authority}: {e}"))?
        .next()
        .ok_or_else(|| format!("{authority}: no address"))?;
    let left = |d: Instant| {
        d.saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1))
    };
    let mut stream = TcpStream::connect_timeout(&addr, left(deadline))
        .map_err(|e| format!("{authority}: {e}"))?;
    stream.set_write_timeout(Some(left(deadline))).ok();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Length: 0\r\nUser-Agent: flightdeck\r\n\r\n"
    );
    stream
        .write_all(req.as_bytes())
        .map_err(|e| format!("{authority}: {e}"))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if Instant::now() >= deadline {
            return Err(format!("timed out after {}s", timeout.as_secs_f32()));
        }
        stream.set_read_timeout(Some(left(deadline))).ok();
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                if buf.len() < MAX_BODY + 64 * 1024 {
                    buf.extend_from_slice(&chunk[..n]);
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(format!("timed out after {}s", timeout.as_secs_f32()));
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("{authority}: {e}")),
        }
    }
    parse(&buf)
}

/// Parses a whole response (head and body; a chunked body is decoded).
pub fn parse(buf: &[u8]) -> Result<Response, String> {
    let head_end = memchr::memmem::find(buf, b"\r\n\r\n")
        .ok_or_else(|| "truncated response (no header end)".to_string())?;
    let head = String::from_utf8_lossy(&buf[..head_end]);
    let status_line = head.lines().next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .filter(|_| status_line.starts_with("HTTP/"))
        .ok_or_else(|| {
            format!(
                "not an HTTP response: {:?}",
                crate::ui::text::clean(status_line)
            )
        })?;
    let body = &buf[head_end + 4..];
    let chunked = head.lines().any(|l| {
        l.split_once(':').is_some_and(|(k, v)| {
            k.trim().eq_ignore_ascii_case("transfer-encoding")
                && v.to_ascii_lowercase().contains("chunked")
        })
    });
    let mut body = if chunked {
        dechunk(body)
    } else {
        body.to_vec()
    };
    body.truncate(MAX_BODY);
    Ok(Response {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// Decodes a chunked body, keeping what arrived when it is cut short.
fn dechunk(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut rest = body;
    while let Some(eol) = memchr::memmem::find(rest, b"\r\n") {
        let size = std::str::from_utf8(&rest[..eol])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next()?.trim(), 16).ok());
        let Some(size) = size else { break };
        rest = &rest[eol + 2..];
        if size == 0 {
            break;
        }
        let take = size.min(rest.len());
        out.extend_from_slice(&rest[..take]);
        rest = rest.get(take + 2..).unwrap_or_default();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses() {
        let r = parse(b"HTTP/1.1 503 Service Unavailable\r\nX: y\r\n\r\ndraining").unwrap();
        assert_eq!((r.status, r.body.as_str()), (503, "draining"));
        assert!(parse(b"HTTP/1.1 200 OK\r\n").is_err());
        let c = parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
        assert_eq!(c.unwrap().body, "hello world");
        assert_eq!(dechunk(b"5\r\nhel"), b"hel");
        assert!(parse(b"<html>504</html>\r\n\r\n").is_err());
        assert!(get("https://example.invalid/", Duration::from_secs(1)).is_err());
        assert!(get("http://127.0.0.1:1/x y", Duration::from_secs(1)).is_err());
    }

    #[test]
    fn a_server_that_never_answers_times_out() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/healthz", l.local_addr().unwrap());
        let t = Instant::now();
        let e = get(&url, Duration::from_millis(300)).unwrap_err();
        assert!(e.contains("timed out"), "{e}");
        assert!(t.elapsed() < Duration::from_secs(3));
        drop(l);
    }
}
