//! Real Prometheus, node_exporter and Alertmanager as background child processes on loopback ports, for integration tests.
//!
//! Everything lives in one temporary directory: the generated configs (`prometheus.yml`,
//! `alertmanager.yml`, `rules.yml`), the storage (`prom/`, `am/`) and one log per process
//! (`prometheus.log`, `alertmanager.log`, `node_exporter.log`, stdout and stderr together).
#![allow(dead_code)]

use flightdeck::http::urlencode;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const PROMETHEUS_BIN: &str = "/usr/bin/prometheus";
const NODE_EXPORTER_BIN: &str = "/usr/bin/prometheus-node-exporter";
const ALERTMANAGER_BIN: &str = "/usr/bin/prometheus-alertmanager";

const START_TIMEOUT: Duration = Duration::from_secs(30);
const START_POLL: Duration = Duration::from_millis(100);
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);
const LOG_TAIL_LINES: usize = 20;

/// What to start and how to configure it.
pub struct Options {
    /// Prometheus alerting/recording rules file contents (YAML), if any.
    pub rules: Option<String>,
    /// Extra static scrape targets ("127.0.0.1:PORT"), job name "extra".
    pub extra_targets: Vec<String>,
    /// Start node_exporter and scrape it (job "node").
    pub node_exporter: bool,
    /// Start Alertmanager and point Prometheus at it.
    pub alertmanager: bool,
}

/// No rules, no extra targets, node_exporter and Alertmanager both started.
impl Default for Options {
    fn default() -> Options {
        Options {
            rules: None,
            extra_targets: Vec::new(),
            node_exporter: true,
            alertmanager: true,
        }
    }
}

struct Proc {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

struct StartError {
    bind_conflict: bool,
    message: String,
}

/// The running stack; everything is killed (and reaped) on drop.
pub struct Monitoring {
    /// Prometheus base URL, e.g. "http://127.0.0.1:41234".
    pub prometheus: String,
    /// Alertmanager base URL, when it was started.
    pub alertmanager: Option<String>,
    /// node_exporter base URL, when it was started.
    pub node_exporter: Option<String>,
    procs: Vec<Proc>,
    dir: tempfile::TempDir,
}

impl Monitoring {
    /// Starts the stack and waits up to 30 s for `/-/ready`, Alertmanager discovery and `up{job="node"} == 1`, panicking with log tails on failure.
    pub fn start(opts: Options) -> Monitoring {
        // A port freed by `free_ports` can be taken by someone else before the child binds it:
        // retry the whole start once on fresh ports in that case.
        match Monitoring::try_start(&opts) {
            Ok(m) => m,
            Err(first) if first.bind_conflict => match Monitoring::try_start(&opts) {
                Ok(m) => m,
                Err(second) => panic!(
                    "monitoring stack failed to start, even after a retry for a port clash:\n{}\n\
                     first attempt:\n{}",
                    second.message, first.message
                ),
            },
            Err(e) => panic!("monitoring stack failed to start:\n{}", e.message),
        }
    }

    /// GET a path on Prometheus, returns (status, body).
    pub fn prom_get(&self, path_and_query: &str) -> (u16, String) {
        http_get(&format!("{}{}", self.prometheus, path_and_query))
    }

    /// Runs an instant PromQL query and returns `data.result`, panicking unless the query succeeds.
    pub fn prom_query(&self, expr: &str) -> Value {
        let (status, body) = self.prom_get(&format!("/api/v1/query?query={}", urlencode(expr)));
        assert_eq!(status, 200, "query {expr:?} failed: {body}");
        let v: Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("bad JSON from Prometheus ({e}): {body}"));
        assert_eq!(v["status"], "success", "query {expr:?} failed: {body}");
        v["data"]["result"].clone()
    }

    /// Polls `cond` every 200 ms until true or `timeout`, panicking with `what` on timeout.
    pub fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
        let deadline = Instant::now() + timeout;
        loop {
            if cond() {
                return;
            }
            if Instant::now() >= deadline {
                panic!("timed out after {timeout:?} waiting for {what}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Alertmanager's active alerts as JSON (GET /api/v2/alerts).
    pub fn am_alerts(&self) -> Value {
        let am = self
            .alertmanager
            .as_deref()
            .expect("Alertmanager was not started (Options::alertmanager is false)");
        let (status, body) = http_get(&format!("{am}/api/v2/alerts"));
        assert_eq!(status, 200, "GET {am}/api/v2/alerts: {body}");
        serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("bad JSON from Alertmanager ({e}): {body}"))
    }

    /// The temporary directory holding the configs, storage and process logs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The last lines of every process's log, for failure messages.
    pub fn log_tails(&self) -> String {
        let mut out = String::new();
        for p in &self.procs {
            out.push_str(&format!(
                "--- {} ({}), last {LOG_TAIL_LINES} lines ---\n{}\n",
                p.name,
                p.log.display(),
                tail(&p.log, LOG_TAIL_LINES)
            ));
        }
        out
    }

    fn try_start(opts: &Options) -> Result<Monitoring, StartError> {
        let dir = tempfile::Builder::new()
            .prefix("monitoring-")
            .tempdir()
            .expect("create a temporary directory");
        let root = dir.path().to_path_buf();
        let ports = free_ports(3);
        let (prom_port, am_port, node_port) = (ports[0], ports[1], ports[2]);
        let mut m = Monitoring {
            prometheus: format!("http://127.0.0.1:{prom_port}"),
            alertmanager: opts
                .alertmanager
                .then(|| format!("http://127.0.0.1:{am_port}")),
            node_exporter: opts
                .node_exporter
                .then(|| format!("http://127.0.0.1:{node_port}")),
            procs: Vec::new(),
            dir,
        };

        if opts.node_exporter {
            m.spawn(
                "node_exporter",
                NODE_EXPORTER_BIN,
                &[
                    format!("--web.listen-address=127.0.0.1:{node_port}"),
                    // Fails (and logs an error) on every scrape without systemd's private socket.
                    "--no-collector.systemd".to_string(),
                ],
            )?;
        }

        if opts.alertmanager {
            let config = root.join("alertmanager.yml");
            write_file(&config, ALERTMANAGER_CONFIG);
            m.spawn(
                "alertmanager",
                ALERTMANAGER_BIN,
                &[
                    format!("--config.file={}", config.display()),
                    format!("--storage.path={}", root.join("am").display()),
                    format!("--web.listen-address=127.0.0.1:{am_port}"),
                    "--cluster.listen-address=".to_string(),
                ],
            )?;
        }

        let rules_path = opts.rules.as_ref().map(|rules| {
            let path = root.join("rules.yml");
            write_file(&path, rules);
            path
        });
        let config = root.join("prometheus.yml");
        write_file(
            &config,
            &prometheus_config(opts, am_port, node_port, rules_path.as_deref()),
        );
        m.spawn(
            "prometheus",
            PROMETHEUS_BIN,
            &[
                format!("--config.file={}", config.display()),
                format!("--storage.tsdb.path={}", root.join("prom").display()),
                format!("--web.listen-address=127.0.0.1:{prom_port}"),
                "--rules.alert.resend-delay=1s".to_string(),
                "--web.enable-lifecycle".to_string(),
            ],
        )?;

        let deadline = Instant::now() + START_TIMEOUT;
        let prom = m.prometheus.clone();

        let url = format!("{prom}/-/ready");
        m.wait_ready("Prometheus /-/ready", deadline, || answers_200(&url))?;

        if let Some(am) = m.alertmanager.clone() {
            let url = format!("{am}/-/ready");
            m.wait_ready("Alertmanager /-/ready", deadline, || answers_200(&url))?;
            let url = format!("{prom}/api/v1/alertmanagers");
            m.wait_ready("Prometheus to discover Alertmanager", deadline, || {
                nonempty_data_array(&url, "activeAlertmanagers")
            })?;
        }

        if opts.node_exporter {
            let url = format!(
                "{prom}/api/v1/query?query={}",
                urlencode("up{job=\"node\"} == 1")
            );
            m.wait_ready(
                "a successful scrape of node_exporter (up{job=\"node\"} == 1)",
                deadline,
                || nonempty_data_array(&url, "result"),
            )?;
        }

        Ok(m)
    }

    fn spawn(
        &mut self,
        name: &'static str,
        program: &str,
        args: &[String],
    ) -> Result<(), StartError> {
        let log = self.dir.path().join(format!("{name}.log"));
        let out = File::create(&log).unwrap_or_else(|e| panic!("create {}: {e}", log.display()));
        let err = out.try_clone().expect("duplicate a log file handle");
        let child = Command::new(program)
            .args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| StartError {
                bind_conflict: false,
                message: format!("cannot run {program}: {e}"),
            })?;
        self.procs.push(Proc { name, child, log });
        Ok(())
    }

    /// Polls `ready` until true, failing early if any process has exited, or at `deadline`.
    fn wait_ready(
        &mut self,
        what: &str,
        deadline: Instant,
        mut ready: impl FnMut() -> bool,
    ) -> Result<(), StartError> {
        loop {
            self.check_alive(what)?;
            if ready() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(StartError {
                    bind_conflict: false,
                    message: format!(
                        "timed out after {START_TIMEOUT:?} waiting for {what}\n{}",
                        self.log_tails()
                    ),
                });
            }
            std::thread::sleep(START_POLL);
        }
    }

    fn check_alive(&mut self, waiting_for: &str) -> Result<(), StartError> {
        let mut exited = None;
        for p in &mut self.procs {
            if let Ok(Some(status)) = p.child.try_wait() {
                exited = Some((p.name, status, p.log.clone()));
                break;
            }
        }
        match exited {
            None => Ok(()),
            Some((name, status, log)) => {
                let text =
                    String::from_utf8_lossy(&fs::read(&log).unwrap_or_default()).into_owned();
                Err(StartError {
                    bind_conflict: text.contains("address already in use"),
                    message: format!(
                        "{name} exited ({status}) while waiting for {waiting_for}\n{}",
                        self.log_tails()
                    ),
                })
            }
        }
    }
}

impl Monitoring {
    /// Kills one process of the stack (`prometheus`, `alertmanager`, `node_exporter`).
    pub fn kill(&mut self, name: &str) {
        for p in self.procs.iter_mut().filter(|p| p.name == name) {
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
    }
}

impl Drop for Monitoring {
    fn drop(&mut self) {
        for p in &mut self.procs {
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
    }
}

const ALERTMANAGER_CONFIG: &str = "\
route:
  receiver: \"null\"
  group_by: [\"alertname\"]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: \"null\"
";

fn prometheus_config(opts: &Options, am_port: u16, node_port: u16, rules: Option<&Path>) -> String {
    let mut cfg = String::from(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n",
    );
    if let Some(rules) = rules {
        cfg.push_str(&format!(
            "rule_files:\n  - {}\n",
            yaml_str(&rules.display().to_string())
        ));
    }
    if opts.alertmanager {
        cfg.push_str(&format!(
            "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: [{}]\n",
            yaml_str(&format!("127.0.0.1:{am_port}"))
        ));
    }
    let mut jobs = Vec::new();
    if opts.node_exporter {
        jobs.push(("node", vec![format!("127.0.0.1:{node_port}")]));
    }
    if !opts.extra_targets.is_empty() {
        jobs.push(("extra", opts.extra_targets.clone()));
    }
    if jobs.is_empty() {
        cfg.push_str("scrape_configs: []\n");
    } else {
        cfg.push_str("scrape_configs:\n");
        for (job, targets) in jobs {
            let targets: Vec<String> = targets.iter().map(|t| yaml_str(t)).collect();
            cfg.push_str(&format!(
                "  - job_name: {}\n    static_configs:\n      - targets: [{}]\n",
                yaml_str(job),
                targets.join(", ")
            ));
        }
    }
    cfg
}

/// A YAML double-quoted scalar (JSON strings are valid YAML).
fn yaml_str(s: &str) -> String {
    serde_json::to_string(s).expect("serialize a string")
}

fn write_file(path: &Path, contents: &str) {
    fs::write(path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

fn tail(path: &Path, lines: usize) -> String {
    match fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("(cannot read log: {e})"),
    }
}

/// Distinct free loopback ports: bound to port 0, read, then released for the child processes.
fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("local address of a listener").port())
        .collect()
}

fn answers_200(url: &str) -> bool {
    matches!(http_request("GET", url, None), Ok((200, _)))
}

/// True when `url` answers 200 with JSON whose `data.<field>` is a non-empty array.
fn nonempty_data_array(url: &str, field: &str) -> bool {
    match http_request("GET", url, None) {
        Ok((200, body)) => serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v["data"][field].as_array().map(|a| !a.is_empty()))
            .unwrap_or(false),
        _ => false,
    }
}

/// Blocking HTTP GET of an `http://host:port/path` URL (5 s timeout), returns (status, body); panics on I/O errors.
pub fn http_get(url: &str) -> (u16, String) {
    http_request("GET", url, None).unwrap_or_else(|e| panic!("GET {url} failed: {e}"))
}

/// Blocking HTTP POST of a JSON body (5 s timeout), returns (status, body); panics on I/O errors.
pub fn http_post_json(url: &str, body: &str) -> (u16, String) {
    http_request("POST", url, Some(("application/json", body)))
        .unwrap_or_else(|e| panic!("POST {url} failed: {e}"))
}

fn http_request(method: &str, url: &str, body: Option<(&str, &str)>) -> io::Result<(u16, String)> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| invalid_input(format!("only http:// URLs are supported: {url}")))?;
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr = host
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| invalid_input(format!("cannot resolve {host}")))?;
    let mut stream = TcpStream::connect_timeout(&addr, HTTP_TIMEOUT)?;
    stream.set_read_timeout(Some(HTTP_TIMEOUT))?;
    stream.set_write_timeout(Some(HTTP_TIMEOUT))?;

    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nAccept: */*\r\nConnection: close\r\n");
    match body {
        Some((content_type, body)) => {
            request.push_str(&format!(
                "Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ));
        }
        None => request.push_str("\r\n"),
    }
    stream.write_all(request.as_bytes())?;
    stream.flush()?;

    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> io::Result<(u16, String)> {
    let bad = |what: &str| {
        let start = String::from_utf8_lossy(&raw[..raw.len().min(200)]).into_owned();
        invalid_data(format!("{what} in HTTP response starting {start:?}"))
    };
    let head_end = find(raw, b"\r\n\r\n").ok_or_else(|| bad("no end of headers"))?;
    let head = std::str::from_utf8(&raw[..head_end]).map_err(|_| bad("non-UTF-8 headers"))?;
    let rest = &raw[head_end + 4..];

    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| bad("bad status line"))?;
    let mut chunked = false;
    let mut content_length = None;
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            let (name, value) = (name.trim(), value.trim());
            if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.to_ascii_lowercase().contains("chunked");
            } else if name.eq_ignore_ascii_case("content-length") {
                content_length = value.parse::<usize>().ok();
            }
        }
    }

    let body = if chunked {
        decode_chunked(rest)?
    } else if let Some(len) = content_length {
        rest.get(..len)
            .ok_or_else(|| bad("body shorter than Content-Length"))?
            .to_vec()
    } else {
        rest.to_vec()
    };
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// Decodes a `Transfer-Encoding: chunked` body; trailers after the last chunk are ignored.
fn decode_chunked(mut data: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = find(data, b"\r\n")
            .ok_or_else(|| invalid_data("unterminated chunk size line".to_string()))?;
        let line = std::str::from_utf8(&data[..line_end])
            .map_err(|_| invalid_data("non-UTF-8 chunk size line".to_string()))?;
        let size_hex = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| invalid_data(format!("bad chunk size {size_hex:?}")))?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if data.len() < size + 2 {
            return Err(invalid_data(format!(
                "truncated chunk: want {size} bytes + CRLF, have {}",
                data.len()
            )));
        }
        out.extend_from_slice(&data[..size]);
        if !data[size..].starts_with(b"\r\n") {
            return Err(invalid_data("chunk not followed by CRLF".to_string()));
        }
        data = &data[size + 2..];
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn invalid_data(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

fn invalid_input(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}
