//! The hosts of an Ansible inventory, from `ansible-inventory --list` (bounded in time).

use std::collections::BTreeSet;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// How long `ansible-inventory` may take.
const INVENTORY_TIMEOUT: Duration = Duration::from_secs(60);

/// The hosts of an inventory, sorted (`ansible-inventory --list`).
pub fn hosts(inventory: &Path, base: &Path) -> Result<Vec<String>, String> {
    let mut child = Command::new("ansible-inventory")
        .arg("-i")
        .arg(base.join(inventory))
        .arg("--list")
        .env("ANSIBLE_NOCOLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot run ansible-inventory (is ansible-core installed?): {e}"))?;
    let read = |p: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = p {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = read(child.stdout.take().map(|p| Box::new(p) as _));
    let err = read(child.stderr.take().map(|p| Box::new(p) as _));
    let until = Instant::now() + INVENTORY_TIMEOUT;
    let status = loop {
        if let Some(s) = child.try_wait().map_err(|e| e.to_string())? {
            break s;
        }
        if Instant::now() >= until {
            let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
            let _ = child.wait();
            return Err(format!(
                "ansible-inventory took longer than {}s",
                INVENTORY_TIMEOUT.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (out, err) = (
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
    );
    if !status.success() {
        return Err(format!(
            "ansible-inventory failed: {}",
            String::from_utf8_lossy(&err).lines().last().unwrap_or("")
        ));
    }
    let v: serde_json::Value = serde_json::from_slice(&out)
        .map_err(|e| format!("ansible-inventory printed no JSON: {e}"))?;
    let mut hosts: BTreeSet<String> = v["_meta"]["hostvars"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    // Hosts without variables appear only in their groups.
    if let Some(groups) = v.as_object() {
        for (_, g) in groups {
            for h in g["hosts"].as_array().into_iter().flatten() {
                if let Some(h) = h.as_str() {
                    hosts.insert(h.to_string());
                }
            }
        }
    }
    if hosts.is_empty() {
        return Err(format!("inventory {} has no hosts", inventory.display()));
    }
    Ok(hosts.into_iter().collect())
}
