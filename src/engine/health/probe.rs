//! Async HTTP probes on plain `http://` URLs: one request per connection, the whole exchange
//! bounded by a timeout, the body capped. Cheap enough for a thousand checks a second.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::http::MAX_BODY;

/// What a probe saw.
#[derive(Clone, Debug, PartialEq)]
pub struct Probe {
    /// The status code.
    pub status: u16,
    /// The (capped, lossily decoded) body.
    pub body: String,
    /// Seconds from connect to the last byte.
    pub latency: f64,
}

/// `GET url` within `timeout`.
pub async fn get(url: &str, timeout: Duration) -> Result<Probe, String> {
    request("GET", url, None, timeout).await
}

/// `method url` with an optional JSON body, within `timeout`.
pub async fn request(
    method: &str,
    url: &str,
    json: Option<&str>,
    timeout: Duration,
) -> Result<Probe, String> {
    match tokio::time::timeout(timeout, exchange(method, url, json)).await {
        Ok(r) => r,
        Err(_) => Err(format!("timed out after {}s", timeout.as_secs_f32())),
    }
}

async fn exchange(method: &str, url: &str, json: Option<&str>) -> Result<Probe, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("only http:// URLs are probed: {url}"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() || authority.contains(['@', ' ']) || path.contains([' ', '\r', '\n']) {
        return Err(format!("malformed URL {url:?}"));
    }
    let addr = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let start = Instant::now();
    let mut stream = TcpStream::connect(&addr)
        .await
        .map_err(|e| format!("{authority}: {e}"))?;
    stream.set_nodelay(true).ok();
    let body = json.unwrap_or_default();
    let kind = if json.is_some() {
        "Content-Type: application/json\r\n"
    } else {
        ""
    };
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nUser-Agent: flightdeck\r\nAccept: */*\r\n{kind}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(req.as_bytes())
        .await
        .map_err(|e| format!("{authority}: {e}"))?;
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 16 * 1024];
    let mut need: Option<usize> = None;
    loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("{authority}: {e}"))?;
        if n == 0 {
            break;
        }
        if buf.len() < MAX_BODY + 64 * 1024 {
            buf.extend_from_slice(&chunk[..n]);
        }
        // With a Content-Length, stop as soon as the body is complete.
        if need.is_none() {
            need = head_and_length(&buf);
        }
        if need.is_some_and(|total| buf.len() >= total) {
            break;
        }
    }
    let latency = start.elapsed().as_secs_f64();
    let r = crate::http::parse(&buf)?;
    Ok(Probe {
        status: r.status,
        body: r.body,
        latency,
    })
}

/// Header length plus Content-Length, once the header has arrived and names one.
fn head_and_length(buf: &[u8]) -> Option<usize> {
    let end = memchr::memmem::find(buf, b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse::<usize>().ok())
            .flatten()
            .map(|len| end + 4 + len)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_length_ends_the_read() {
        assert_eq!(
            head_and_length(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n"),
            Some(41)
        );
    }

    #[tokio::test]
    async fn probes_a_server_and_times_out_on_a_silent_one() {
        use std::io::{Read, Write};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut b = [0u8; 1024];
            let _ = s.read(&mut b);
            let _ = s.write_all(b"HTTP/1.1 503 Unavailable\r\nContent-Length: 8\r\n\r\ndraining");
            // Keep the connection open: Content-Length ends the read, not EOF.
            std::thread::sleep(Duration::from_secs(2));
        });
        let p = get(&format!("http://{addr}/ready"), Duration::from_secs(1))
            .await
            .unwrap();
        assert_eq!((p.status, p.body.as_str()), (503, "draining"));
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", silent.local_addr().unwrap());
        let e = get(&url, Duration::from_millis(200)).await.unwrap_err();
        assert!(e.contains("timed out"), "{e}");
        let e = get("http://127.0.0.1:1/", Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(e.contains("127.0.0.1:1"), "{e}");
    }
}
