//! The `local-fleet` engine: each node is a local process on a loopback port. A deploy starts
//! the new version beside the old one (make-before-break), checks it, then stops the old one.

use std::collections::HashMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use super::{DeployPlan, Engine};
use crate::store::Store;

/// One running instance of a node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    /// Its pid (also its process group).
    pub pid: u32,
    /// Its loopback port.
    pub port: u16,
    /// The version it runs.
    pub version: String,
}

impl Instance {
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// What the store keeps for a local-fleet node.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeData {
    /// The instance in service.
    pub current: Option<Instance>,
    /// The instance being deployed, not yet in service.
    pub next: Option<Instance>,
}

/// The engine.
pub struct LocalFleet {
    target: String,
    store: Mutex<Store>,
    argv: Vec<String>,
    env: Vec<(String, String)>,
    log_dir: PathBuf,
    children: Mutex<HashMap<u32, Child>>,
}

/// Whether a process is alive (and not a zombie).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| !rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

impl LocalFleet {
    /// The engine for `plan`'s target, keeping node state in the store at `store_path`.
    pub fn new(plan: &DeployPlan, store_path: &Path, log_dir: PathBuf) -> Result<Self, String> {
        let argv =
            plan.target.run.clone().unwrap_or_else(|| {
                vec![plan.program.display().to_string(), "demo-api".to_string()]
            });
        let env = plan
            .target
            .env
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        crate::paths::private_dir(&log_dir).map_err(|e| e.to_string())?;
        Ok(LocalFleet {
            target: plan.target.name.clone(),
            store: Mutex::new(Store::open(store_path).map_err(|e| e.to_string())?),
            argv,
            env,
            log_dir,
            children: Mutex::new(HashMap::new()),
        })
    }

    fn load(&self, node: &str) -> NodeData {
        let store = self.store.lock().unwrap_or_else(|p| p.into_inner());
        store
            .nodes(&self.target)
            .ok()
            .and_then(|ns| ns.into_iter().find(|n| n.node == node))
            .and_then(|n| serde_json::from_str(&n.data).ok())
            .unwrap_or_default()
    }

    fn save(&self, node: &str, d: &NodeData) -> Result<(), String> {
        let store = self.store.lock().unwrap_or_else(|p| p.into_inner());
        let json = serde_json::to_string(d).map_err(|e| e.to_string())?;
        store
            .set_node_data(&self.target, node, &json, crate::domain::now())
            .map_err(|e| e.to_string())
    }

    fn spawn(&self, node: &str, version: &str) -> Result<Instance, String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free loopback port: {e}"))?
            .port();
        let log = crate::paths::append_private(&self.log_dir.join(format!("{node}.log")))
            .map_err(|e| e.to_string())?;
        let (program, args) = self
            .argv
            .split_first()
            .ok_or_else(|| "empty `run` command".to_string())?;
        let child = Command::new(program)
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("FLIGHTDECK_TARGET", &self.target)
            .env("FLIGHTDECK_NODE", node)
            .env("FLIGHTDECK_VERSION", version)
            .env("FLIGHTDECK_PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            // Its own group: stopping it reaches everything it started, and no terminal's
            // signals reach it.
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start {program}: {e}"))?;
        let pid = child.id();
        self.children
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(pid, child);
        Ok(Instance {
            pid,
            port,
            version: version.to_string(),
        })
    }

    /// Stops an instance's process group: SIGTERM, then SIGKILL after 5 s.
    fn stop(&self, inst: &Instance) {
        stop_pid(inst.pid);
        if let Some(mut c) = self
            .children
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&inst.pid)
        {
            let _ = c.wait();
        }
    }

    async fn post(inst: &Instance, path: &str) -> Result<(), String> {
        let r = crate::http::Client::plain()
            .request(
                reqwest::Method::POST,
                &format!("{}{path}", inst.url()),
                None,
                Duration::from_secs(5),
            )
            .await?;
        if r.status / 100 == 2 {
            Ok(())
        } else {
            Err(format!("POST {path} answered {}", r.status))
        }
    }
}

/// Stops the process group `pid` leads and waits (up to 5 s) for it to go.
pub fn stop_pid(pid: u32) {
    let group = Pid::from_raw(pid as i32);
    let _ = killpg(group, Signal::SIGTERM);
    let until = Instant::now() + Duration::from_secs(5);
    while alive(pid) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = killpg(group, Signal::SIGKILL);
    let _ = kill(group, Signal::SIGKILL);
}

/// Stops every instance of every node of `target` (`flightdeck demo --stop`, tests).
pub fn stop_all(store_path: &Path, target: &str) -> Result<usize, String> {
    let store = Store::open(store_path).map_err(|e| e.to_string())?;
    let mut stopped = 0;
    for n in store.nodes(target).map_err(|e| e.to_string())? {
        let d: NodeData = serde_json::from_str(&n.data).unwrap_or_default();
        for inst in d.current.iter().chain(d.next.iter()) {
            if alive(inst.pid) {
                stop_pid(inst.pid);
                stopped += 1;
            }
        }
        store
            .set_node_data(target, &n.node, "{}", crate::domain::now())
            .map_err(|e| e.to_string())?;
        store
            .set_node(target, &n.node, None, "stopped", crate::domain::now())
            .map_err(|e| e.to_string())?;
    }
    Ok(stopped)
}

fn blocking<'a, T: Send + 'a>(
    f: impl FnOnce() -> Result<T, String> + Send + 'a,
) -> BoxFuture<'a, Result<T, String>> {
    // The engine's calls are short (a local HTTP request, a spawn, a kill); running them on
    // the runner's blocking-friendly executor keeps the trait simple.
    Box::pin(async move { tokio::task::block_in_place(f) })
}

impl Engine for LocalFleet {
    fn drain<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            match self.load(node).current {
                Some(c) if alive(c.pid) => Self::post(&c, "/drain").await,
                // Nothing serving: nothing to take out of rotation.
                _ => Ok(()),
            }
        })
    }

    fn deploy<'a>(&'a self, node: &'a str, version: &'a str) -> BoxFuture<'a, Result<(), String>> {
        blocking(move || {
            let mut d = self.load(node);
            if let Some(old) = d.next.take() {
                self.stop(&old);
            }
            d.next = Some(self.spawn(node, version)?);
            self.save(node, &d)
        })
    }

    fn healthy<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<bool, String>> {
        Box::pin(async move {
            let d = self.load(node);
            let Some(inst) = d.next.or(d.current) else {
                return Err("not running".into());
            };
            if !alive(inst.pid) {
                return Err(format!("process {} exited", inst.pid));
            }
            let r = crate::http::Client::plain()
                .get(&format!("{}/healthz", inst.url()), Duration::from_secs(2))
                .await?;
            Ok(r.status == 200)
        })
    }

    fn smoke<'a>(&'a self, _node: &'a str, _version: &'a str) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }

    fn undrain<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let mut d = self.load(node);
            if let Some(next) = d.next.take() {
                // The new instance serves; only now does the old one stop.
                let old = d.current.replace(next);
                self.save(node, &d)?;
                if let Some(old) = old {
                    tokio::task::block_in_place(|| self.stop(&old));
                }
                return Ok(());
            }
            match d.current {
                Some(c) if alive(c.pid) => Self::post(&c, "/undrain").await,
                Some(c) => Err(format!("process {} exited", c.pid)),
                None => Err("not running".into()),
            }
        })
    }

    fn rollback<'a>(
        &'a self,
        node: &'a str,
        version: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), String>> {
        blocking(move || {
            let mut d = self.load(node);
            let current_ok = d
                .current
                .as_ref()
                .is_some_and(|c| Some(c.version.as_str()) == version && alive(c.pid));
            match version {
                None => {
                    for inst in d.next.take().into_iter().chain(d.current.take()) {
                        self.stop(&inst);
                    }
                    self.save(node, &d)
                }
                // The previous version never stopped: drop the new one, keep the old.
                Some(_) if current_ok => {
                    if let Some(next) = d.next.take() {
                        self.save(node, &d)?;
                        self.stop(&next);
                    }
                    Ok(())
                }
                // Start the previous version beside the failed one; undrain switches over.
                Some(v) => {
                    if let Some(old) = d.next.take() {
                        self.stop(&old);
                    }
                    d.next = Some(self.spawn(node, v)?);
                    self.save(node, &d)
                }
            }
        })
    }

    fn node_url(&self, node: &str) -> Option<String> {
        let d = self.load(node);
        d.next.or(d.current).map(|i| i.url())
    }
}

impl Drop for LocalFleet {
    fn drop(&mut self) {
        // Instances stay up (they are the fleet); only their zombie entries are ours to clear,
        // and init reaps them once this process exits.
        self.children
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}
