//! Proxies through a real one (Debian's tinyproxy, on loopback): `HTTPS_PROXY` tunnels an https
//! check with CONNECT, `HTTP_PROXY` carries a plain one, `NO_PROXY` goes direct, this machine
//! (`localhost`, 127.0.0.0/8, ::1) is always reached directly, and `[http] proxy` in the config
//! does what the variables do.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Sandbox;
use common::fleet::write_config;
use common::tls::{Pki, serve};

/// tinyproxy in the foreground, logging every request; killed on drop.
struct Tinyproxy {
    port: u16,
    log: std::path::PathBuf,
    child: Child,
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Tinyproxy {
    fn start(dir: &Path) -> Tinyproxy {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = dir.join("tinyproxy.log");
        let conf = dir.join("tinyproxy.conf");
        std::fs::write(
            &conf,
            format!(
                "Port {port}\nListen 127.0.0.1\nTimeout 10\nLogFile \"{}\"\nLogLevel Connect\nMaxClients 20\nAllow 127.0.0.1\n",
                log.display()
            ),
        )
        .unwrap();
        let child = Command::new("tinyproxy")
            .args(["-d", "-c"])
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tinyproxy (apt-get install tinyproxy; .ci/run installs it)");
        let until = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < until, "tinyproxy did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Tinyproxy { port, log, child }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The requests it has carried so far.
    fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("Request ("))
            .map(|l| l.split("): ").nth(1).unwrap_or_default().to_string())
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_go_through_the_proxy_unless_no_proxy_says_otherwise() {
    // This machine's name resolves to loopback (as /etc/hosts has it), yet it is a name, not
    // `localhost`: the proxy carries requests to it, while loopback URLs always go direct.
    let host = common::tls::hostname();
    let resolved: Vec<std::net::SocketAddr> =
        std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), 1))
            .map(Iterator::collect)
            .unwrap_or_default();
    assert!(
        resolved.iter().any(|a| a.ip().is_loopback()),
        "this test needs the host name {host:?} to resolve to a loopback address (/etc/hosts): {resolved:?}"
    );
    let pki = Pki::new();
    let tls_port = serve(&pki.server, None).await;
    let plain = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let plain_port = plain.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for s in plain.incoming() {
            let Ok(mut s) = s else { return };
            // The whole head: a proxy may send it in several writes.
            let (mut b, mut head) = ([0u8; 4096], Vec::new());
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut b) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&b[..n]),
                }
            }
            let _ = s.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nplain",
            );
        }
    });
    let proxy = Tinyproxy::start(pki.dir.path());
    let sb = Sandbox::new();
    let checks = format!(
        "[[checks]]\nname = \"secure\"\nkind = \"http\"\nurl = \"https://{host}:{tls_port}/healthz\"\ntls = {{ ca_file = \"{}\" }}\n\
         [[checks]]\nname = \"plain\"\nkind = \"http\"\nurl = \"http://{host}:{plain_port}/healthz\"\n\
         [[checks]]\nname = \"local\"\nkind = \"http\"\nurl = \"http://127.0.0.1:{plain_port}/local\"\n",
        pki.ca.display()
    );
    write_config(&sb, &checks);
    let check = |env: &[(&str, &str)]| {
        let (code, out, err) = sb.run_env(&["check"], env);
        assert_eq!(code, 0, "{out}{err}");
        for name in ["secure", "plain", "local"] {
            assert!(
                out.contains(&format!("check \"{name}\": ok (HTTP 200")),
                "{out}"
            );
        }
    };
    let url = proxy.url();
    check(&[("HTTPS_PROXY", &url), ("HTTP_PROXY", &url)]);
    let seen = proxy.requests();
    assert!(
        seen.iter()
            .any(|r| r.starts_with(&format!("CONNECT {host}:{tls_port} "))),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .any(|r| r.starts_with(&format!("GET http://{host}:{plain_port}/healthz "))),
        "{seen:?}"
    );
    assert_eq!(seen.len(), 2, "loopback went direct: {seen:?}");
    // NO_PROXY: straight to the server, the proxy sees nothing more.
    check(&[
        ("https_proxy", &url),
        ("http_proxy", &url),
        ("NO_PROXY", &host),
    ]);
    assert_eq!(proxy.requests().len(), 2, "{:?}", proxy.requests());
    // The config's own proxy, with no variable set.
    write_config(&sb, &format!("[http]\nproxy = \"{url}\"\n{checks}"));
    check(&[]);
    assert_eq!(proxy.requests().len(), 4, "{:?}", proxy.requests());
}
