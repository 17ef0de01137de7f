//! A private CA made by the test (rcgen) with server certificates good, expired and for the
//! wrong host, a client certificate, and a loopback HTTPS server (tokio-rustls) that answers
//! every request with `200 secure`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, date_time_ymd};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// PEM files of a test PKI, in a temporary directory.
pub struct Pki {
    /// The directory holding every file.
    pub dir: tempfile::TempDir,
    /// The CA certificate (what `tls.ca_file` names).
    pub ca: PathBuf,
    /// The CA's certificate and key, served as if they were a server's (a self-signed CA:TRUE).
    pub ca_as_server: (PathBuf, PathBuf),
    /// Server certificate and key for `localhost`, 127.0.0.1 and this machine's host name.
    pub server: (PathBuf, PathBuf),
    /// An expired one for the same names.
    pub expired: (PathBuf, PathBuf),
    /// One for `other.example` only.
    pub wrong_host: (PathBuf, PathBuf),
    /// A client certificate and key signed by the CA.
    pub client: (PathBuf, PathBuf),
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

impl Pki {
    /// Makes the CA and every certificate.
    pub fn new() -> Pki {
        let dir = tempfile::Builder::new().prefix("pki-").tempdir().unwrap();
        let d = dir.path().to_path_buf();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "flightdeck test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let ca = write(&d, "ca.pem", &ca_cert.pem());
        let ca_as_server = (ca.clone(), write(&d, "ca-key.pem", &ca_key.serialize_pem()));
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf = |name: &str, sans: &[&str], expired: bool| {
            let key = KeyPair::generate().unwrap();
            let mut p =
                CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                    .unwrap();
            p.distinguished_name.push(DnType::CommonName, sans[0]);
            if expired {
                p.not_before = date_time_ymd(2020, 1, 1);
                p.not_after = date_time_ymd(2021, 1, 1);
            }
            let cert = p.signed_by(&key, &issuer).unwrap();
            (
                write(&d, &format!("{name}.pem"), &cert.pem()),
                write(&d, &format!("{name}-key.pem"), &key.serialize_pem()),
            )
        };
        let host = hostname();
        let server = leaf("server", &["localhost", "127.0.0.1", &host], false);
        let expired = leaf("expired", &["localhost", "127.0.0.1"], true);
        let wrong_host = leaf("wrong-host", &["other.example"], false);
        let client = leaf("client", &["flightdeck-client"], false);
        Pki {
            dir,
            ca,
            ca_as_server,
            server,
            expired,
            wrong_host,
            client,
        }
    }
}

/// This machine's host name (which `/etc/hosts` maps to a loopback address here).
pub fn hostname() -> String {
    nix::unistd::gethostname().unwrap().into_string().unwrap()
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Serves HTTPS on 127.0.0.1 with `cert` until the test ends; with `client_ca`, only clients
/// with a certificate it signed get through. Returns the port.
pub async fn serve(cert: &(PathBuf, PathBuf), client_ca: Option<&Path>) -> u16 {
    serve_requiring(cert, client_ca, None).await
}

/// Like [`serve`], answering `401` to a request without the header line `require` (as
/// `name: value`, compared without case).
pub async fn serve_requiring(
    cert: &(PathBuf, PathBuf),
    client_ca: Option<&Path>,
    require: Option<String>,
) -> u16 {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert.0)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(&cert.1).unwrap();
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = match client_ca {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_file_iter(ca).unwrap() {
                roots.add(c.unwrap()).unwrap();
            }
            let v = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider(),
            )
            .build()
            .unwrap();
            builder.with_client_cert_verifier(v)
        }
        None => builder.with_no_client_auth(),
    };
    let config = builder.with_single_cert(chain, key).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let require = require.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = vec![0u8; 8192];
                let mut head = Vec::new();
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
                let answer: &[u8] = match &require {
                    Some(r) if !head.contains(&r.to_ascii_lowercase()) => {
                        b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    }
                    _ => b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nsecure",
                };
                let _ = tls.write_all(answer).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    port
}
