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

/// The version a run's release is named after: the exact tag, else the short commit, else
/// `rN` (the store makes it unique per pipeline).
fn base_version(plan: &Plan, run_id: i64, commit: Option<&str>) -> String {
    let tag = capture(
        &["git", "describe", "--tags", "--exact-match"],
        &plan.dir,
        Duration::from_secs(5),
    );
    tag.or_else(|| commit.map(|c| c.chars().take(7).collect()))
        .unwrap_or_else(|| format!("r{run_id}"))
}

/// Copies `src` to `dest` whole or not at all: a private temp file beside it, synced, then
/// renamed over it.
fn copy_atomic(src: &Path, dest: &Path) -> std::io::Result<()> {
    let tmp = dest.with_file_name(format!(
        ".{}.tmp-{}",
        dest.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut from = std::fs::File::open(src)?;
        let mut to = paths::create_private(&tmp)?;
        std::io::copy(&mut from, &mut to)?;
        to.sync_all()?;
        std::fs::rename(&tmp, dest)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
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
    let base = base_version(plan, run_id, commit);
    let version = store
        .reserve_release(&plan.name, &base, run_id, now)
        .map_err(|e| e.to_string())?;
    let keep = || -> Result<Release, String> {
        let dir = store
            .runs_dir()
            .with_file_name("releases")
            .join(paths::name_for(&plan.name))
            .join(paths::name_for(&version));
        paths::private_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let dest = dir.join(src.file_name().unwrap_or_default());
        copy_atomic(&src, &dest).map_err(|e| format!("copying {}: {e}", src.display()))?;
        let release = Release {
            pipeline: plan.name.clone(),
            version: version.clone(),
            artifact: dest.display().to_string(),
            sha256: sha256_file(&dest).map_err(|e| format!("{}: {e}", dest.display()))?,
            run_id,
            created: now,
        };
        store
            .complete_release(&release)
            .map_err(|e| e.to_string())?;
        Ok(release)
    };
    keep().inspect_err(|_| {
        let _ = store.drop_release(&plan.name, &version);
    })
}
