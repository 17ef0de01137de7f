//! TLS for the HTTP client: the system's roots plus a private CA, client certificates,
//! a server name other than the URL's host, and failures said in words with their fix.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    AlertDescription, CertificateError, ClientConfig, DigitallySignedStruct, Error, RootCertStore,
    SignatureScheme,
};

use crate::config::http::TlsConfig;

fn provider() -> Arc<CryptoProvider> {
    static P: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    P.get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// The machine's trusted roots, read once.
fn system_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| rustls_native_certs::load_native_certs().certs)
}

/// PEM files larger than this are refused (a bundle of every public CA is about 200 KiB).
const MAX_PEM: u64 = 4 << 20;

fn certs(what: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    crate::secret::check_file(path, MAX_PEM).map_err(|e| format!("{what} {e}"))?;
    let list: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{what} {}: {}", path.display(), pem_error(e)))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{what} {}: {}", path.display(), pem_error(e)))?;
    if list.is_empty() {
        return Err(format!(
            "{what} {} holds no PEM certificate",
            path.display()
        ));
    }
    Ok(list)
}

fn key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    crate::secret::check_file(path, MAX_PEM).map_err(|e| format!("key_file {e}"))?;
    PrivateKeyDer::from_pem_file(path)
        .map_err(|e| format!("key_file {}: {}", path.display(), pem_error(e)))
}

fn pem_error(e: rustls::pki_types::pem::Error) -> String {
    match e {
        rustls::pki_types::pem::Error::Io(e) => format!("cannot read: {e}"),
        rustls::pki_types::pem::Error::NoItemsFound => {
            "no PEM item of the right kind in it (an encrypted key is not supported)".into()
        }
        other => format!("not valid PEM ({other:?})"),
    }
}

/// The rustls configuration for `t`.
pub fn client_config(t: &TlsConfig) -> Result<ClientConfig, String> {
    let provider = provider();
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(system_roots().iter().cloned());
    if let Some(p) = &t.ca_file {
        let (added, _) = roots.add_parsable_certificates(certs("ca_file", p)?);
        if added == 0 {
            return Err(format!("ca_file {}: no usable CA certificate", p.display()));
        }
    }
    let algorithms = provider.signature_verification_algorithms;
    let verifier: Arc<dyn ServerCertVerifier> = if t.insecure() {
        Arc::new(AnyCertificate { algorithms })
    } else {
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| {
                format!("no trusted roots: install ca-certificates or set tls.ca_file ({e})")
            })?;
        let name = match &t.server_name {
            Some(n) => Some(
                ServerName::try_from(n.clone())
                    .map_err(|_| format!("tls.server_name {n:?} is not a host name"))?,
            ),
            None => None,
        };
        Arc::new(Verifier { webpki, name })
    };
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match (&t.cert_file, &t.key_file) {
        (Some(c), Some(k)) => builder
            .with_client_auth_cert(certs("cert_file", c)?, key(k)?)
            .map_err(|e| format!("cert_file / key_file: {e}"))?,
        _ => builder.with_no_client_auth(),
    };
    // Offer HTTP/2, and HTTP/1.1 to servers without it.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// The standard WebPKI verification, against `tls.server_name` when it is set.
#[derive(Debug)]
struct Verifier {
    webpki: Arc<WebPkiServerVerifier>,
    name: Option<ServerName<'static>>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let name = self.name.as_ref().unwrap_or(server_name);
        self.webpki
            .verify_server_cert(end_entity, intermediates, name, ocsp, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// `insecure_skip_verify = true`: any certificate is accepted; the handshake's signatures are
/// still checked, so the session is encrypted, only not authenticated.
#[derive(Debug)]
struct AnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// A TLS failure in words, with what to do about it.
pub fn describe(e: &Error, host: &str) -> String {
    match e {
        Error::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer => {
                "certificate signed by unknown authority: trust its CA with tls.ca_file".into()
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "certificate expired: the server must renew it".into()
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "certificate not valid yet: check this machine's clock".into()
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                format!(
                    "hostname mismatch: the certificate is not valid for {host}; use a name it covers or set tls.server_name"
                )
            }
            CertificateError::Revoked => "certificate revoked".into(),
            CertificateError::BadSignature => "certificate has a bad signature".into(),
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
                "certificate is not for server authentication".into()
            }
            CertificateError::Other(o) => {
                let why = format!("{o:?}");
                // webpki's reasons come wrapped: name the one a user can act on.
                if why.contains("CaUsedAsEndEntity") {
                    "the server's certificate says CA:TRUE (self-signed?): remake it with CA:FALSE and trust it with tls.ca_file".into()
                } else {
                    let inner = why
                        .trim_start_matches("OtherError(")
                        .trim_end_matches(')')
                        .to_string();
                    format!("certificate refused: {inner}")
                }
            }
            other => format!("certificate refused: {other:?}"),
        },
        Error::AlertReceived(AlertDescription::CertificateRequired) => {
            "the server wants a client certificate: set tls.cert_file and tls.key_file".into()
        }
        Error::AlertReceived(
            AlertDescription::BadCertificate
            | AlertDescription::UnknownCA
            | AlertDescription::CertificateUnknown
            | AlertDescription::UnsupportedCertificate
            | AlertDescription::AccessDenied,
        ) => "the server refused our client certificate (tls.cert_file)".into(),
        Error::AlertReceived(a) => format!("TLS handshake refused by the server ({a:?})"),
        Error::InvalidMessage(_) => format!("{host} does not speak TLS here: is it http://?"),
        other => format!("TLS: {other}"),
    }
}
