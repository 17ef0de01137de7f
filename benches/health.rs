//! Health costs (PERFORMANCE.md / issue targets): a forecast over 10,000 points (≤ 1 ms), and
//! one monitor round of 1,000 HTTP checks against a loopback server, in CPU time.
//!
//! The CPU figures of 1,000 checks at a 1 s interval are printed by `probe_cpu` below: it runs
//! the monitor for 10 s on this thread against a loopback server on another thread, and
//! reports this thread's CPU share (the server's is not counted): plain http with a fresh
//! connection per probe (the default), https with `keep_alive`, and https with a fresh
//! connection, whose difference from plain http is the CPU cost of a TLS handshake.

use std::time::{Duration, Instant};

use divan::Bencher;
use flightdeck::config::CheckConfig;
use flightdeck::engine::health::forecast::{self, Method, Point};
use flightdeck::engine::health::{Monitor, spec};

fn series(n: usize) -> Vec<Point> {
    let mut seed = 42u64;
    (0..n)
        .map(|i| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
            let noise = ((seed >> 33) % 1000) as f64 / 100.0 - 5.0;
            Point {
                t: 1.7e9 + i as f64 * 15.0,
                v: 40.0 + i as f64 * 0.004 + noise,
            }
        })
        .collect()
}

#[divan::bench(args = [Method::Linear, Method::Holt])]
fn forecast_10k_points(b: Bencher, method: Method) {
    let pts = series(10_000);
    b.bench(|| forecast::breach(method, divan::black_box(&pts), 90.0, false, 1e9));
}

/// A test CA and a server certificate for 127.0.0.1, as PEM files in `dir`: (ca, cert, key).
fn pki(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let files = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&files.0, ca_pem).unwrap();
    std::fs::write(&files.1, cert.pem()).unwrap();
    std::fs::write(&files.2, key.serialize_pem()).unwrap();
    files
}

/// Answers `200 ok` to each request on a connection until it closes.
async fn answer<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(mut s: S) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = [0u8; 2048];
    let mut got = Vec::new();
    loop {
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        got.clear();
        if s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
            .await
            .is_err()
        {
            return;
        }
    }
}

/// A loopback HTTPS server (keep-alive) on its own thread and runtime.
fn tls_server(cert: &std::path::Path, key: &std::path::Path) -> u16 {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(key).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    on_own_thread(move |s| {
        let acceptor = acceptor.clone();
        async move {
            if let Ok(tls) = acceptor.accept(s).await {
                answer(tls).await;
            }
        }
    })
}

/// Listens on a loopback port on its own thread and runtime (so its CPU is not the
/// monitor's), handing each connection to `serve`; the port.
fn on_own_thread<F, Fut>(serve: F) -> u16
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + 'static + Send,
{
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(l.local_addr().unwrap().port()).unwrap();
            loop {
                let (s, _) = l.accept().await.unwrap();
                tokio::spawn(serve(s));
            }
        });
    });
    rx.recv().unwrap()
}

/// A loopback HTTP server on its own thread and runtime (so its CPU is not the monitor's),
/// answering every request `200 ok`.
fn server() -> u16 {
    on_own_thread(answer)
}

fn checks(port: u16, n: usize) -> Vec<CheckConfig> {
    checks_at(&format!("http://127.0.0.1:{port}/healthz"), "", n)
}

fn checks_at(url: &str, extra: &str, n: usize) -> Vec<CheckConfig> {
    (0..n)
        .map(|i| {
            toml::from_str(&format!(
                "name = \"probe {i}\"\nkind = \"http\"\nurl = \"{url}\"\n\
                 interval_secs = 1\ntimeout_secs = 5\nincident = false\n{extra}"
            ))
            .unwrap()
        })
        .collect()
}

/// This thread's CPU seconds (user + system) so far.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
    let f: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    ticks as f64 / 100.0
}

/// How the checks reach the server.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Variant {
    /// Plain http, a fresh connection per probe (the default).
    Plain,
    /// https with `keep_alive = true`.
    TlsKeepAlive,
    /// https with a fresh connection (and handshake) per probe.
    TlsFresh,
}

/// A monitor of 1,000 HTTP checks against a fresh loopback server, its store, and a runtime.
fn monitor_of_1000() -> (tempfile::TempDir, tokio::runtime::Runtime, Monitor) {
    monitor_of(Variant::Plain)
}

fn monitor_of(v: Variant) -> (tempfile::TempDir, tokio::runtime::Runtime, Monitor) {
    let dir = tempfile::tempdir().unwrap();
    let checks = match v {
        Variant::Plain => checks(server(), 1000),
        Variant::TlsKeepAlive | Variant::TlsFresh => {
            let (ca, cert, key) = pki(dir.path());
            let port = tls_server(&cert, &key);
            let extra = format!(
                "tls = {{ ca_file = \"{}\" }}\nkeep_alive = {}\n",
                ca.display(),
                v == Variant::TlsKeepAlive
            );
            checks_at(&format!("https://127.0.0.1:{port}/healthz"), &extra, 1000)
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let specs = spec::build(&checks, &Default::default(), &[], &[]);
    let m = Monitor::new(specs, &dir.path().join("s.db"), false, true).unwrap();
    (dir, rt, m)
}

/// One round of 1,000 checks (all due), the store write included.
#[divan::bench(sample_count = 10)]
fn monitor_round_1000_http_checks(b: Bencher) {
    let (_dir, rt, mut m) = monitor_of_1000();
    b.bench_local(|| {
        rt.block_on(async {
            tokio::time::sleep_until(tokio::time::Instant::from_std(m.next_due())).await;
            m.round().await.unwrap()
        })
    });
}

fn probe_cpu(v: Variant) -> f64 {
    let (_dir, rt, mut m) = monitor_of(v);
    let (cpu0, t0) = (cpu_secs(), Instant::now());
    let mut rounds = 0;
    rt.block_on(async {
        while t0.elapsed() < Duration::from_secs(10) {
            tokio::time::sleep_until(tokio::time::Instant::from_std(m.next_due())).await;
            m.round().await.unwrap();
            rounds += 1;
        }
    });
    let share = (cpu_secs() - cpu0) / t0.elapsed().as_secs_f64() * 100.0;
    let all = m.checks();
    let ok = all
        .iter()
        .filter(|c| c.status == flightdeck::domain::CheckStatus::Ok)
        .count();
    let probes: usize = all.iter().map(|c| c.series.len()).sum();
    let mut lat: Vec<f64> = all
        .iter()
        .flat_map(|c| c.series.iter().map(|p| p.1))
        .collect();
    lat.sort_by(f64::total_cmp);
    println!(
        "probe latency ms: p50 {:.1}, p99 {:.1}, max {:.1}",
        lat[lat.len() / 2],
        lat[lat.len() * 99 / 100],
        lat[lat.len() - 1]
    );
    println!(
        "1000 checks ({v:?}) at 1 s for 10 s: {probes} probes in {rounds} rounds, {ok} ok, \
         {share:.1}% of one core (target ≤ 15%)"
    );
    // CPU seconds per probe.
    share / 100.0 * t0.elapsed().as_secs_f64() / probes.max(1) as f64
}

fn main() {
    let plain = probe_cpu(Variant::Plain);
    probe_cpu(Variant::TlsKeepAlive);
    let fresh = probe_cpu(Variant::TlsFresh);
    println!(
        "a fresh TLS handshake costs the client {:.0} µs of CPU per probe beyond a plain http probe",
        (fresh - plain) * 1e6
    );
    divan::main();
}
