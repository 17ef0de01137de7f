//! S7: the HTTP client against a real TLS server whose CA the test makes. A bad certificate
//! (unknown authority, expired, wrong host) fails closed and says why; a private CA, a
//! server name, mutual TLS and `insecure_skip_verify` work as configured.

mod common;

use std::time::Duration;

use common::tls::{Pki, serve};
use flightdeck::config::http::{AuthConfig, HttpSettings, TlsConfig};
use flightdeck::http::{Client, HttpError};

const T: Duration = Duration::from_secs(5);

fn client(tls: TlsConfig) -> Client {
    Client::new(&HttpSettings {
        tls,
        ..HttpSettings::default()
    })
}

fn trusting(pki: &Pki) -> TlsConfig {
    TlsConfig {
        ca_file: Some(pki.ca.clone()),
        ..TlsConfig::default()
    }
}

async fn tls_error(c: &Client, url: &str) -> String {
    match c.get(url, T).await {
        Err(HttpError::Tls(e)) => e,
        other => panic!("{url}: wanted a TLS error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_private_ca_is_trusted_only_when_configured() {
    let pki = Pki::new();
    let port = serve(&pki.server, None).await;
    let url = format!("https://127.0.0.1:{port}/healthz");
    let e = tls_error(&Client::plain(), &url).await;
    assert_eq!(
        e,
        format!(
            "certificate signed by unknown authority: trust its CA with tls.ca_file (127.0.0.1:{port})"
        )
    );
    let r = client(trusting(&pki)).get(&url, T).await.unwrap();
    assert_eq!((r.status, r.body.as_str()), (200, "secure"));
    // By name too: the certificate covers `localhost`.
    let r = client(trusting(&pki))
        .get(&url.replace("127.0.0.1", "localhost"), T)
        .await
        .unwrap();
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn expired_and_wrong_host_certificates_fail_closed() {
    let pki = Pki::new();
    let expired = serve(&pki.expired, None).await;
    let e = tls_error(
        &client(trusting(&pki)),
        &format!("https://127.0.0.1:{expired}/"),
    )
    .await;
    assert!(e.contains("certificate expired"), "{e}");
    let wrong = serve(&pki.wrong_host, None).await;
    let url = format!("https://localhost:{wrong}/");
    let e = tls_error(&client(trusting(&pki)), &url).await;
    assert!(
        e.contains("hostname mismatch: the certificate is not valid for localhost"),
        "{e}"
    );
    assert!(e.contains("tls.server_name"), "{e}");
    // The name it does cover, given as server_name, passes.
    let named = client(TlsConfig {
        server_name: Some("other.example".into()),
        ..trusting(&pki)
    });
    assert_eq!(named.get(&url, T).await.unwrap().status, 200);
}

#[tokio::test]
async fn insecure_skip_verify_accepts_any_certificate_and_says_so() {
    let pki = Pki::new();
    let port = serve(&pki.expired, None).await;
    let c = client(TlsConfig {
        insecure_skip_verify: Some(true),
        ..TlsConfig::default()
    });
    assert!(c.insecure());
    let r = c
        .get(&format!("https://127.0.0.1:{port}/"), T)
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert!(!client(trusting(&pki)).insecure());
}

#[tokio::test]
async fn mutual_tls_needs_the_client_certificate() {
    let pki = Pki::new();
    let port = serve(&pki.server, Some(&pki.ca)).await;
    let url = format!("https://127.0.0.1:{port}/");
    let e = client(trusting(&pki)).get(&url, T).await.unwrap_err();
    assert!(
        e.to_string().contains("client certificate"),
        "a refused client must be told about tls.cert_file: {e}"
    );
    let with_cert = client(TlsConfig {
        cert_file: Some(pki.client.0.clone()),
        key_file: Some(pki.client.1.clone()),
        ..trusting(&pki)
    });
    assert_eq!(with_cert.get(&url, T).await.unwrap().status, 200);
}

#[tokio::test]
async fn https_to_a_plain_http_port_says_so() {
    let plain = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = plain.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for s in plain.incoming().take(1) {
            let mut s = s.unwrap();
            let mut b = [0u8; 1024];
            let _ = s.read(&mut b);
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        }
    });
    let e = Client::plain()
        .get(&format!("https://127.0.0.1:{port}/"), T)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("does not speak TLS here"), "{e}");
}

#[tokio::test]
async fn unreadable_tls_files_and_bad_auth_are_config_errors() {
    let pki = Pki::new();
    let missing = client(TlsConfig {
        ca_file: Some(pki.dir.path().join("nope.pem")),
        ..TlsConfig::default()
    });
    let e = missing.get("https://127.0.0.1:1/", T).await.unwrap_err();
    assert!(
        matches!(&e, HttpError::Config(m) if m.contains("ca_file") && m.contains("nope.pem")),
        "{e:?}"
    );
    let not_a_cert = client(TlsConfig {
        ca_file: Some(pki.server.1.clone()),
        ..TlsConfig::default()
    });
    let e = not_a_cert.get("https://127.0.0.1:1/", T).await.unwrap_err();
    assert!(e.to_string().contains("ca_file"), "{e}");
    let secret = pki.dir.path().join("token");
    let c = Client::new(&HttpSettings {
        auth: Some(AuthConfig {
            bearer_file: Some(secret.clone()),
            ..AuthConfig::default()
        }),
        ..HttpSettings::default()
    });
    let e = c.get("https://127.0.0.1:1/", T).await.unwrap_err();
    assert!(
        matches!(&e, HttpError::Config(m) if m.starts_with("auth: cannot read")),
        "{e:?}"
    );
}

#[tokio::test]
async fn a_ca_file_that_appears_later_is_picked_up() {
    let pki = Pki::new();
    let port = serve(&pki.server, None).await;
    let url = format!("https://127.0.0.1:{port}/");
    let later = pki.dir.path().join("later-ca.pem");
    let c = client(TlsConfig {
        ca_file: Some(later.clone()),
        ..TlsConfig::default()
    });
    let e = c.get(&url, T).await.unwrap_err();
    assert!(matches!(e, HttpError::Config(_)), "{e:?}");
    std::fs::copy(&pki.ca, &later).unwrap();
    // A client that could not be built is tried again after a few seconds.
    tokio::time::sleep(Duration::from_millis(5200)).await;
    assert_eq!(c.get(&url, T).await.unwrap().status, 200);
}

#[tokio::test]
async fn a_self_signed_ca_certificate_on_a_server_says_how_to_remake_it() {
    let pki = Pki::new();
    let port = serve(&pki.ca_as_server, None).await;
    let e = tls_error(
        &client(trusting(&pki)),
        &format!("https://127.0.0.1:{port}/"),
    )
    .await;
    assert!(e.contains("CA:TRUE") && e.contains("CA:FALSE"), "{e}");
}
