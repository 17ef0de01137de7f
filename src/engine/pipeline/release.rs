//! Releases: a successful run's artifact, copied into the state dir with its checksum.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::{Plan, capture};
use crate::domain::Timestamp;
use crate::paths;
use crate::store::{Release, Store};

/// SHA-256 of a file, hex, read in chunks.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Version for a run: the exact tag, else the short commit, else `rN`; made unique per pipeline.
fn version(
    store: &Store,
    plan: &Plan,
    run_id: i64,
    commit: Option<&str>,
) -> Result<String, String> {
    let tag = capture(
        &["git", "describe", "--tags", "--exact-match"],
        &plan.dir,
        Duration::from_secs(5),
    );
    let base = tag
        .or_else(|| commit.map(|c| c.chars().take(7).collect()))
        .unwrap_or_else(|| format!("r{run_id}"));
    let mut v = base.clone();
    let mut n = 2;
    while store
        .has_release(&plan.name, &v)
        .map_err(|e| e.to_string())?
    {
        v = format!("{base}-{n}");
        n += 1;
    }
    Ok(v)
}

/// Copies the artifact to `<store dir>/releases/<pipeline>/<version>/` and records it.
pub fn record(
    store: &Store,
    plan: &Plan,
    run_id: i64,
    artifact: &Path,
    commit: Option<&str>,
    now: Timestamp,
) -> Result<Release, String> {
    let src = plan.dir.join(artifact);
    if !src.is_file() {
        return Err(format!("artifact {} was not produced", src.display()));
    }
    let version = version(store, plan, run_id, commit)?;
    let dir = store
        .runs_dir()
        .with_file_name("releases")
        .join(&plan.name)
        .join(&version);
    paths::private_dir(&dir).map_err(|e| e.to_string())?;
    let dest = dir.join(src.file_name().unwrap_or_default());
    std::fs::copy(&src, &dest).map_err(|e| format!("copying {}: {e}", src.display()))?;
    let release = Release {
        pipeline: plan.name.clone(),
        version,
        artifact: dest.display().to_string(),
        sha256: sha256_file(&dest).map_err(|e| e.to_string())?,
        run_id,
        created: now,
    };
    store.add_release(&release).map_err(|e| e.to_string())?;
    Ok(release)
}
