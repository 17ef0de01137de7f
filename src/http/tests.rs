use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;

use super::*;
use crate::config::http::AuthConfig;

/// What a test server writes back, given the request head.
type Answer = Box<dyn Fn(&str) -> Vec<u8> + Send>;

/// A server that answers each connection with the next of `answers` (a closure of the request
/// head) and sends each request head it saw on the channel.
fn serve(answers: Vec<Answer>) -> (String, mpsc::Receiver<String>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for answer in answers {
            let Ok((mut s, _)) = l.accept() else { return };
            let mut head = Vec::new();
            let mut b = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut b) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&b[..n]),
                }
            }
            let head = String::from_utf8_lossy(&head).into_owned();
            let _ = s.write_all(&answer(&head));
            let _ = tx.send(head);
            // Keep the connection open a moment: the length, not EOF, ends the body.
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    (format!("http://{addr}"), rx)
}

fn text(status: &str, body: &str) -> Answer {
    let r = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    Box::new(move |_| r.clone().into_bytes())
}

fn redirect(to: String) -> Answer {
    Box::new(move |_| {
        format!("HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\n\r\n").into_bytes()
    })
}

fn with_bearer(dir: &std::path::Path) -> Client {
    let token = dir.join("token");
    std::fs::write(&token, "canary-redirect-token\n").unwrap();
    let mut s = HttpSettings {
        auth: Some(AuthConfig {
            bearer_file: Some(token),
            ..AuthConfig::default()
        }),
        ..HttpSettings::default()
    };
    s.headers.insert(
        "X-Scope-OrgID".into(),
        crate::config::http::HeaderValue::Text("acme".into()),
    );
    Client::new(&s)
}

const T: Duration = Duration::from_secs(3);

#[tokio::test]
async fn answers_status_and_body_and_ends_on_the_length() {
    let (base, _) = serve(vec![text("503 Service Unavailable", "draining")]);
    let r = Client::plain()
        .get(&format!("{base}/ready"), T)
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.body.as_str(), r.truncated),
        (503, "draining", false)
    );
    assert!(r.latency > 0.0 && r.latency < 3.0, "{}", r.latency);
}

#[tokio::test]
async fn a_chunked_body_is_decoded() {
    let chunked: Answer = Box::new(|_| {
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
            .to_vec()
    });
    let (base, _) = serve(vec![chunked]);
    let r = Client::plain().get(&base, T).await.unwrap();
    assert_eq!(r.body, "hello world");
}

#[tokio::test]
async fn silence_times_out_and_a_closed_port_is_refused() {
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", silent.local_addr().unwrap());
    let start = Instant::now();
    let e = Client::plain()
        .get(&url, Duration::from_millis(300))
        .await
        .unwrap_err();
    assert_eq!(e, HttpError::Timeout(Duration::from_millis(300)));
    assert!(e.to_string().contains("timed out"), "{e}");
    assert!(start.elapsed() < Duration::from_secs(2));
    let e = Client::plain()
        .get("http://127.0.0.1:1/", T)
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), "127.0.0.1:1: connection refused");
    let e = Client::plain()
        .get("http://name-that-does-not-resolve.invalid/", T)
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("cannot resolve name-that-does-not-resolve.invalid"),
        "{e}"
    );
}

#[tokio::test]
async fn bad_urls_are_refused_before_any_connection() {
    for (url, want) in [
        ("ftp://127.0.0.1/", "only http:// and https://"),
        ("http://user:pw@127.0.0.1/", "credentials in a URL"),
        ("not a url", "bad URL"),
    ] {
        let e = Client::plain().get(url, T).await.unwrap_err();
        assert!(matches!(e, HttpError::Config(_)), "{url}: {e:?}");
        assert!(e.to_string().contains(want), "{url}: {e}");
        assert!(!e.to_string().contains("pw"), "{e}");
    }
}

#[tokio::test]
async fn credentials_stay_with_their_origin_across_redirects() {
    let dir = tempfile::tempdir().unwrap();
    let client = with_bearer(dir.path());
    let (other, other_seen) = serve(vec![text("200 OK", "elsewhere")]);
    // The same server through another name is another origin.
    let other = other.replace("127.0.0.1", "localhost");
    let (own, own_seen) = serve(vec![redirect(format!("{other}/landed"))]);
    let r = client.get(&format!("{own}/start"), T).await.unwrap();
    assert_eq!((r.status, r.body.as_str()), (200, "elsewhere"));
    let first = own_seen.recv().unwrap().to_ascii_lowercase();
    assert!(
        first.contains("authorization: bearer canary-redirect-token"),
        "{first}"
    );
    assert!(first.contains("x-scope-orgid: acme"), "{first}");
    let second = other_seen.recv().unwrap().to_ascii_lowercase();
    assert!(second.starts_with("get /landed"), "{second}");
    assert!(!second.contains("authorization"), "{second}");
    assert!(!second.contains("canary"), "{second}");
    assert!(!second.contains("x-scope-orgid"), "{second}");
}

#[tokio::test]
async fn more_than_five_redirects_fail() {
    let hops: Vec<Answer> = (0..7).map(|_| redirect("/again".to_string())).collect();
    let (base, seen) = serve(hops);
    let e = Client::plain().get(&base, T).await.unwrap_err();
    assert!(e.to_string().contains("more than 5 redirects"), "{e}");
    assert_eq!(seen.try_iter().count(), 6);
}

#[tokio::test]
async fn a_see_other_after_a_post_continues_as_a_get() {
    let see_other: Answer = Box::new(|_| {
        b"HTTP/1.1 303 See Other\r\nLocation: /result\r\nContent-Length: 0\r\n\r\n".to_vec()
    });
    let (base, seen) = serve(vec![see_other, text("200 OK", "done")]);
    let r = Client::plain()
        .request(Method::POST, &base, Some("{}".into()), T)
        .await
        .unwrap();
    assert_eq!(r.body, "done");
    assert!(seen.recv().unwrap().starts_with("POST / "));
    assert!(seen.recv().unwrap().starts_with("GET /result "));
}

#[tokio::test]
async fn a_body_past_the_cap_is_cut_and_says_so() {
    let big: Answer = Box::new(|_| {
        let n = MAX_BODY + (1 << 20);
        let mut r = format!("HTTP/1.1 200 OK\r\nContent-Length: {n}\r\n\r\n").into_bytes();
        r.extend(std::iter::repeat_n(b'x', n));
        r
    });
    let exact: Answer = Box::new(|_| {
        let mut r = format!("HTTP/1.1 200 OK\r\nContent-Length: {SMALL_BODY}\r\n\r\n").into_bytes();
        r.extend(std::iter::repeat_n(b'y', SMALL_BODY));
        r
    });
    let (base, _) = serve(vec![big, exact]);
    let long = Duration::from_secs(20);
    let r = Client::plain()
        .fetch(Method::GET, &base, None, long, MAX_BODY)
        .await
        .unwrap();
    assert!(r.truncated);
    assert_eq!(r.body.len(), MAX_BODY);
    // A body of exactly the cap is whole.
    let r = Client::plain().get(&base, long).await.unwrap();
    assert!(!r.truncated);
    assert_eq!(r.body.len(), SMALL_BODY);
}

#[tokio::test]
async fn credentials_never_go_over_plain_http_to_another_machine() {
    let dir = tempfile::tempdir().unwrap();
    let e = with_bearer(dir.path())
        .get("http://192.0.2.1/metrics", T)
        .await
        .unwrap_err();
    assert!(matches!(e, HttpError::Config(_)), "{e:?}");
    assert!(e.to_string().contains("use https://"), "{e}");
}

#[tokio::test]
async fn every_address_of_a_name_is_tried_and_ipv6_literals_work() {
    // `localhost` may resolve to ::1 first; the server listens on 127.0.0.1 only.
    let (base, _) = serve(vec![text("200 OK", "v4")]);
    let r = Client::plain()
        .get(&base.replace("127.0.0.1", "localhost"), T)
        .await
        .unwrap();
    assert_eq!(r.body, "v4");
    if let Ok(l) = TcpListener::bind("[::1]:0") {
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut b = [0u8; 1024];
            let _ = s.read(&mut b);
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nv6");
            std::thread::sleep(Duration::from_millis(50));
        });
        let r = Client::plain()
            .get(&format!("http://[::1]:{port}/"), T)
            .await
            .unwrap();
        assert_eq!(r.body, "v6");
    }
}

#[test]
fn loopback_is_this_machine_only() {
    for (u, want) in [
        ("http://localhost:9090/", true),
        ("http://127.0.0.2/", true),
        ("http://[::1]:80/", true),
        ("http://10.0.0.1/", false),
        ("http://localhost.example.com/", false),
    ] {
        assert_eq!(is_loopback(&Url::parse(u).unwrap()), want, "{u}");
    }
}

#[test]
fn urlencode_keeps_only_unreserved() {
    assert_eq!(urlencode("a b/c?d=é"), "a%20b%2Fc%3Fd%3D%C3%A9");
}
