//! `demo-api`: the demo workspace's service, a tiny HTTP server one local-fleet node runs.
//! Version `v3` is the broken release: `/api/orders` answers 500, so its smoke gate fails.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long a started node answers `/healthz` with 503 "warming up".
const WARM_UP: Duration = Duration::from_millis(1500);

/// The release the demo ships broken.
pub const BROKEN_VERSION: &str = "v3";

/// The service's state, shared by its connection threads.
struct Service {
    version: String,
    node: String,
    started: Instant,
    /// How long after start `/healthz` says "warming up", as a real service loading its
    /// caches does (and so a demo deploy can be watched node by node).
    warm_up: Duration,
    drained: AtomicBool,
    requests: AtomicU64,
    errors: AtomicU64,
    /// Jobs waiting: arrivals outpace the worker slightly, so the depth climbs slowly.
    queue: AtomicU64,
    /// Microseconds spent serving requests, for the latency metric.
    busy_us: AtomicU64,
}

impl Service {
    /// One second of the job queue: 2–3 jobs arrive (2.25 a second on average), 2 are done.
    fn queue_tick(&self, tick: u64) {
        let arrived = 2 + u64::from(tick.is_multiple_of(4));
        let depth = self.queue.load(Ordering::Relaxed) + arrived;
        self.queue.store(depth.saturating_sub(2), Ordering::Relaxed);
    }

    fn respond(&self, method: &str, path: &str) -> (u16, &'static str, String) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let path = path.split('?').next().unwrap_or("/");
        let text = "text/plain; charset=utf-8";
        match (method, path) {
            ("GET", "/healthz") if self.started.elapsed() < self.warm_up => {
                (503, text, "warming up\n".into())
            }
            ("GET", "/healthz") => (200, text, "ok\n".into()),
            ("GET", "/ready") if self.drained.load(Ordering::Relaxed) => {
                (503, text, "drained\n".into())
            }
            ("GET", "/ready") => (200, text, "ready\n".into()),
            ("GET", "/version") => (200, text, format!("{}\n", self.version)),
            ("POST", "/drain") => {
                self.drained.store(true, Ordering::Relaxed);
                (200, text, "drained\n".into())
            }
            ("POST", "/undrain") => {
                self.drained.store(false, Ordering::Relaxed);
                (200, text, "in rotation\n".into())
            }
            ("GET", "/api/orders") if self.version == BROKEN_VERSION => {
                self.errors.fetch_add(1, Ordering::Relaxed);
                (
                    500,
                    "application/json",
                    "{\"error\":\"orders: nil pointer in price calculation\"}\n".into(),
                )
            }
            ("GET", "/api/orders") => (
                200,
                "application/json",
                format!(
                    "{{\"orders\":[{{\"id\":1,\"total\":42}},{{\"id\":2,\"total\":7}}],\"node\":\"{}\"}}\n",
                    self.node
                ),
            ),
            ("GET", "/metrics") => (200, "text/plain; version=0.0.4", self.metrics()),
            _ => (404, text, "not found\n".into()),
        }
    }

    fn metrics(&self) -> String {
        format!(
            "# HELP demo_api_up Whether the service is up.\n# TYPE demo_api_up gauge\ndemo_api_up 1\n\
             # HELP demo_api_info The running version.\n# TYPE demo_api_info gauge\ndemo_api_info{{version=\"{v}\",node=\"{n}\"}} 1\n\
             # HELP demo_api_drained Whether the node is out of rotation.\n# TYPE demo_api_drained gauge\ndemo_api_drained {d}\n\
             # HELP demo_api_requests_total Requests served.\n# TYPE demo_api_requests_total counter\ndemo_api_requests_total {r}\n\
             # HELP demo_api_errors_total Requests answered with a 5xx.\n# TYPE demo_api_errors_total counter\ndemo_api_errors_total {e}\n\
             # HELP demo_api_uptime_seconds Seconds since start.\n# TYPE demo_api_uptime_seconds gauge\ndemo_api_uptime_seconds {u}\n\
             # HELP demo_api_queue_depth Jobs waiting for the worker.\n# TYPE demo_api_queue_depth gauge\ndemo_api_queue_depth {q}\n\
             # HELP demo_api_request_duration_seconds Time spent serving requests.\n# TYPE demo_api_request_duration_seconds summary\ndemo_api_request_duration_seconds_sum {ls}\ndemo_api_request_duration_seconds_count {r}\n",
            v = self.version,
            n = self.node,
            d = u8::from(self.drained.load(Ordering::Relaxed)),
            r = self.requests.load(Ordering::Relaxed),
            e = self.errors.load(Ordering::Relaxed),
            u = self.started.elapsed().as_secs(),
            q = self.queue.load(Ordering::Relaxed),
            ls = self.busy_us.load(Ordering::Relaxed) as f64 / 1e6,
        )
    }

    fn serve(&self, stream: TcpStream) -> std::io::Result<()> {
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        stream.set_write_timeout(Some(Duration::from_secs(5)))?;
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut line = String::new();
        reader.read_line(&mut line)?;
        // Headers are read and dropped; requests carry no body the service needs.
        let mut header = String::new();
        while reader.read_line(&mut header)? > 2 {
            if header.len() > 16 * 1024 {
                break;
            }
            header.clear();
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
        let t = Instant::now();
        let (status, ctype, body) = self.respond(method, path);
        let reason = match status {
            200 => "OK",
            404 => "Not Found",
            503 => "Service Unavailable",
            _ => "Internal Server Error",
        };
        let mut out = stream;
        write!(
            out,
            "HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )?;
        let r = out.flush();
        self.busy_us
            .fetch_add(t.elapsed().as_micros() as u64, Ordering::Relaxed);
        r
    }
}

/// Serves until killed: port, version and node come from `FLIGHTDECK_PORT`,
/// `FLIGHTDECK_VERSION` and `FLIGHTDECK_NODE`.
pub fn run() -> i32 {
    let port = std::env::var("FLIGHTDECK_PORT").unwrap_or_default();
    let Ok(port) = port.parse::<u16>() else {
        eprintln!("demo-api: FLIGHTDECK_PORT must be a port number, got {port:?}");
        return 2;
    };
    let listener = match TcpListener::bind(("127.0.0.1", port)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("demo-api: cannot listen on 127.0.0.1:{port}: {e}");
            return 1;
        }
    };
    let service = Arc::new(Service {
        version: std::env::var("FLIGHTDECK_VERSION").unwrap_or_else(|_| "dev".into()),
        node: std::env::var("FLIGHTDECK_NODE").unwrap_or_else(|_| "demo-api".into()),
        started: Instant::now(),
        warm_up: WARM_UP,
        drained: AtomicBool::new(false),
        requests: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        queue: AtomicU64::new(0),
        busy_us: AtomicU64::new(0),
    });
    let worker = Arc::clone(&service);
    std::thread::spawn(move || {
        for tick in 0.. {
            std::thread::sleep(Duration::from_secs(1));
            worker.queue_tick(tick);
        }
    });
    eprintln!(
        "demo-api {} ({}) listening on 127.0.0.1:{port}",
        service.version, service.node
    );
    for stream in listener.incoming().flatten() {
        let s = Arc::clone(&service);
        std::thread::spawn(move || {
            let _ = s.serve(stream);
        });
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(version: &str) -> Service {
        Service {
            version: version.into(),
            node: "n1".into(),
            started: Instant::now(),
            warm_up: Duration::ZERO,
            drained: AtomicBool::new(false),
            requests: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            queue: AtomicU64::new(0),
            busy_us: AtomicU64::new(0),
        }
    }

    #[test]
    fn the_queue_grows_slowly_and_honestly() {
        let s = service("v1");
        for t in 0..400 {
            s.queue_tick(t);
        }
        assert_eq!(s.queue.load(Ordering::Relaxed), 100, "0.25 jobs a second");
        assert!(s.metrics().contains("demo_api_queue_depth 100"));
    }

    #[test]
    fn only_the_broken_release_fails_its_orders_endpoint() {
        assert_eq!(service("v2").respond("GET", "/api/orders").0, 200);
        let broken = service(BROKEN_VERSION);
        assert_eq!(broken.respond("GET", "/api/orders").0, 500);
        assert_eq!(
            broken.respond("GET", "/healthz").0,
            200,
            "v3 is healthy, just wrong"
        );
        assert!(broken.metrics().contains("demo_api_errors_total 1"));
    }

    #[test]
    fn a_node_warms_up_before_it_is_healthy() {
        let mut s = service("v1");
        s.warm_up = Duration::from_secs(60);
        assert_eq!(
            s.respond("GET", "/healthz"),
            (503, "text/plain; charset=utf-8", "warming up\n".into())
        );
        s.warm_up = Duration::ZERO;
        assert_eq!(s.respond("GET", "/healthz").0, 200);
    }

    #[test]
    fn drain_takes_the_node_out_of_rotation() {
        let s = service("v1");
        assert_eq!(s.respond("GET", "/ready").0, 200);
        s.respond("POST", "/drain");
        assert_eq!(s.respond("GET", "/ready").0, 503);
        assert!(s.metrics().contains("demo_api_drained 1"));
        s.respond("POST", "/undrain");
        assert_eq!(s.respond("GET", "/ready").0, 200);
        assert_eq!(s.respond("GET", "/version?x=1").2, "v1\n");
    }
}
