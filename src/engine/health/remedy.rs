//! Remediation: a check's action (a script or an Ansible playbook) that adds capacity, within
//! `min`/`max` and a cool-down. `propose` shows it and one confirmed key runs it; `auto` runs
//! it when the check goes bad (never in read-only mode). Every run goes through the gate.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::config::check::{RemediationConfig, RemediationMode};
use crate::domain::{Check, Timestamp};
use crate::engine::pipeline::step::{self, StepPlan, Tail};
use crate::store::Store;

/// Seconds a remediation may run.
pub const TIMEOUT: Duration = Duration::from_secs(300);

/// What a remediation helps: the check's name and its value now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The check's name.
    pub check: String,
    /// Its value, as text (`""` when it has none).
    pub value: String,
}

impl From<&Check> for Target {
    fn from(c: &Check) -> Target {
        Target {
            check: c.check.clone(),
            value: c.value.map(|v| v.to_string()).unwrap_or_default(),
        }
    }
}

/// A run that may go ahead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The check it helps.
    pub check: String,
    /// The action's name.
    pub name: String,
    /// Capacity before and after.
    pub from: u32,
    /// Capacity it asks for.
    pub to: u32,
    /// What runs (no shell).
    pub argv: Vec<String>,
    /// Its environment.
    pub env: Vec<(String, String)>,
}

/// Whether the action may run now: the plan, or why not.
pub fn plan(
    r: &RemediationConfig,
    store: &Store,
    c: &Target,
    now: Timestamp,
) -> Result<Plan, String> {
    let min = r.min.unwrap_or(1);
    let max = r.max.unwrap_or(min).max(min);
    let st = store.remedy(&c.check).map_err(|e| e.to_string())?;
    let from = st
        .capacity
        .unwrap_or(r.capacity.unwrap_or(min))
        .clamp(min, max);
    if from >= max {
        return Err(format!("{}: at its maximum capacity ({max})", r.name));
    }
    let cooldown = r.cooldown_secs.unwrap_or(600) as i64;
    if let Some(last) = st.last_run
        && now - last < cooldown
    {
        return Err(format!(
            "{}: cooling down for {} more s",
            r.name,
            cooldown - (now - last)
        ));
    }
    let to = from + 1;
    let argv = match (&r.run, &r.playbook) {
        (Some(argv), _) => argv.clone(),
        (None, Some(pb)) => vec![
            "ansible-playbook".into(),
            pb.clone(),
            "-e".into(),
            format!("capacity={to}"),
        ],
        (None, None) => return Err(format!("{}: nothing to run", r.name)),
    };
    let env = vec![
        ("FLIGHTDECK_CHECK".to_string(), c.check.clone()),
        ("FLIGHTDECK_VALUE".to_string(), c.value.clone()),
        ("FLIGHTDECK_CAPACITY".to_string(), to.to_string()),
        ("FLIGHTDECK_CAPACITY_FROM".to_string(), from.to_string()),
    ];
    Ok(Plan {
        check: c.check.clone(),
        name: r.name.clone(),
        from,
        to,
        argv,
        env,
    })
}

/// One line for the pane: what the action would do, or why it cannot.
pub fn describe(r: &RemediationConfig, store: &Store, c: &Target, now: Timestamp) -> String {
    let how = match r.mode {
        RemediationMode::Propose => "proposed",
        RemediationMode::Auto => "auto",
    };
    match plan(r, store, c, now) {
        Ok(p) => format!("{how}: {} (capacity {} → {})", p.name, p.from, p.to),
        Err(why) => why,
    }
}

/// Runs a plan (blocking): claims it in the store first (so two processes or two key
/// presses run it once), logs to `log`, and records the outcome.
pub fn run(
    plan: &Plan,
    store_path: &Path,
    dir: &Path,
    log: &Path,
    cooldown: i64,
) -> Result<String, String> {
    let store = Store::open(store_path).map_err(|e| e.to_string())?;
    let now = crate::domain::now();
    if !store
        .claim_remedy(&plan.check, plan.from, now - cooldown, now)
        .map_err(|e| e.to_string())?
    {
        return Err(format!("{}: already ran within its cool-down", plan.name));
    }
    let file = crate::paths::append_private(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let step = StepPlan {
        name: plan.name.clone(),
        argv: plan.argv.clone(),
        env: plan.env.clone(),
        dir: dir.to_path_buf(),
        timeout: TIMEOUT,
        junit: Vec::<PathBuf>::new(),
    };
    let tail = Arc::new(Mutex::new(Tail::default()));
    let (exit, _, _) = step::run(&step, file, &tail, &|| false, &|_| {});
    let last = tail
        .lock()
        .map(|t| t.lines.back().cloned().unwrap_or_default())
        .unwrap_or_default();
    if exit.success() {
        let msg = format!("{}: capacity {} → {}", plan.name, plan.from, plan.to);
        let _ = store.finish_remedy(&plan.check, plan.to, &msg);
        Ok(msg)
    } else {
        let msg = format!("{}: {}; {last}", plan.name, exit.describe(TIMEOUT));
        let _ = store.finish_remedy(&plan.check, plan.from, &msg);
        Err(msg)
    }
}

/// Where remediation runs: the store, the working directory and the log.
#[derive(Clone, Debug)]
pub struct Place {
    /// The store (claims and outcomes).
    pub store: PathBuf,
    /// Relative paths in the action are from here.
    pub dir: PathBuf,
    /// Output of every run.
    pub log: PathBuf,
}

/// Plans and runs a check's action through the gate (audited; refused in read-only mode).
pub async fn remediate(
    gate: &crate::engine::gate::Gate,
    place: &Place,
    r: &RemediationConfig,
    c: &Target,
) -> Result<String, crate::engine::gate::GateError> {
    use crate::providers::ProviderError;
    // Opening the store may wait on another process's lock: off the async workers.
    let (path, r2, c2) = (place.store.clone(), r.clone(), c.clone());
    let p = tokio::task::spawn_blocking(move || {
        let store = Store::open(&path).map_err(|e| ProviderError::Other(e.to_string()))?;
        plan(&r2, &store, &c2, crate::domain::now()).map_err(ProviderError::Invalid)
    })
    .await
    .map_err(|e| ProviderError::Other(e.to_string()))??;
    let detail = format!("{}: capacity {} → {}", p.name, p.from, p.to);
    let cooldown = r.cooldown_secs.unwrap_or(600) as i64;
    let place = place.clone();
    let work = async move {
        tokio::task::spawn_blocking(move || run(&p, &place.store, &place.dir, &place.log, cooldown))
            .await
            .map_err(|e| ProviderError::Other(e.to_string()))?
            .map_err(ProviderError::Other)
    };
    gate.run("remediate", &c.check, &detail, work).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CheckStatus;

    fn check() -> Check {
        Check {
            check: "queue".into(),
            service: "api".into(),
            status: CheckStatus::Crit,
            value: Some(950.0),
            unit: None,
            forecast: None,
            since: None,
            firing: true,
            detail: String::new(),
            warn: None,
            crit: Some(900.0),
            series: Vec::new(),
            updated: 0,
            alert: None,
            remedy: None,
            insecure: false,
        }
    }

    /// Bounds and cool-down: 1 → 2 → 3 and no further; never twice within the cool-down.
    #[test]
    fn runs_within_bounds_and_cooldown() {
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join("s.db");
        let out = tmp.path().join("out");
        let r = RemediationConfig {
            name: "add a worker".into(),
            run: Some(vec![
                "sh".into(),
                "-c".into(),
                format!(
                    "echo \"$FLIGHTDECK_CAPACITY $FLIGHTDECK_CHECK\" >> {}",
                    out.display()
                ),
            ]),
            playbook: None,
            mode: RemediationMode::Auto,
            capacity: None,
            min: Some(1),
            max: Some(3),
            cooldown_secs: Some(100),
        };
        let store = Store::open(&db).unwrap();
        let c = Target::from(&check());
        let log = tmp.path().join("remedy.log");
        let p = plan(&r, &store, &c, 1000).unwrap();
        assert_eq!((p.from, p.to), (1, 2));
        run(&p, &db, tmp.path(), &log, 100).unwrap();
        assert!(run(&p, &db, tmp.path(), &log, 100).is_err(), "claimed once");
        let now = crate::domain::now();
        assert!(
            plan(&r, &store, &c, now + 10)
                .unwrap_err()
                .contains("cooling down")
        );
        let p = plan(&r, &store, &c, now + 200).unwrap();
        assert_eq!((p.from, p.to), (2, 3));
        run(&p, &db, tmp.path(), &log, 0).unwrap();
        assert!(
            plan(&r, &store, &c, now + 400)
                .unwrap_err()
                .contains("maximum")
        );
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "2 queue\n3 queue\n");
        assert!(describe(&r, &store, &c, now + 400).contains("maximum capacity (3)"));
    }
}
