//! Health costs (PERFORMANCE.md / issue targets): a forecast over 10,000 points (≤ 1 ms), and
//! one monitor round of 1,000 HTTP checks against a loopback server, in CPU time.
//!
//! The CPU figure of 1,000 checks at a 1 s interval is printed by `probe_cpu` below: it runs
//! the monitor for 10 s on this thread against a loopback server on another thread, and
//! reports this thread's CPU share (the server's is not counted).

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

/// A loopback HTTP server on its own thread and runtime (so its CPU is not the monitor's),
/// answering every request `200 ok`.
fn server() -> u16 {
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
                let (mut s, _) = l.accept().await.unwrap();
                tokio::spawn(async move {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let mut buf = [0u8; 2048];
                    let mut got = Vec::new();
                    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                        match s.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => got.extend_from_slice(&buf[..n]),
                        }
                    }
                    let _ = s
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")
                        .await;
                });
            }
        });
    });
    rx.recv().unwrap()
}

fn checks(port: u16, n: usize) -> Vec<CheckConfig> {
    (0..n)
        .map(|i| {
            toml::from_str(&format!(
                "name = \"probe {i}\"\nkind = \"http\"\nurl = \"http://127.0.0.1:{port}/healthz\"\n\
                 interval_secs = 1\ntimeout_secs = 5\nincident = false\n"
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

/// A monitor of 1,000 HTTP checks against a fresh loopback server, its store, and a runtime.
fn monitor_of_1000() -> (tempfile::TempDir, tokio::runtime::Runtime, Monitor) {
    let port = server();
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let specs = spec::build(&checks(port, 1000), &Default::default(), &[], &[]);
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

fn probe_cpu() {
    let (_dir, rt, mut m) = monitor_of_1000();
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
        "1000 HTTP checks at 1 s for 10 s: {probes} probes in {rounds} rounds, {ok} ok, \
         {share:.1}% of one core (target ≤ 15%)"
    );
}

fn main() {
    probe_cpu();
    divan::main();
}
