//! `flightdeck deploy`, `rollback` and `unlock`: plan, confirm, start the detached runner
//! through the mutation gate, then follow its journal until the deploy ends.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

use color_eyre::eyre::Result;

use crate::config::TargetConfig;
use crate::engine::deploy::launch::{self, runner_alive, unfinished};
use crate::engine::deploy::{DeployKind, DeployPlan, runner};
use crate::store::{DeployRecord, Store};
use crate::workspace::{Refused, UsageError, Workspace};

/// What `flightdeck deploy` was asked.
#[derive(Clone, Debug, Default)]
pub struct DeployArgs {
    /// Target name.
    pub target: String,
    /// Version to deploy (absent with `--resume` / `--abort`).
    pub version: Option<String>,
    /// Skip the typed confirmation of a protected target.
    pub yes: bool,
    /// Print the plan, change nothing.
    pub dry_run: bool,
    /// Carry on an interrupted deploy (or follow a running one).
    pub resume: bool,
    /// Stop the running deploy and roll back what it changed.
    pub abort: bool,
    /// Start and return without following the journal.
    pub detach: bool,
    /// Deploy a version the target does not know.
    pub allow_unknown_version: bool,
}

fn target<'a>(ws: &'a Workspace, name: &str) -> Result<&'a TargetConfig> {
    ws.target(name).ok_or_else(|| {
        let known: Vec<&str> = ws.targets.iter().map(|t| t.name.as_str()).collect();
        UsageError(format!(
            "no target {name:?}; this workspace has: {}",
            if known.is_empty() {
                "none ([[targets]] in the config)".into()
            } else {
                known.join(", ")
            }
        ))
        .into()
    })
}

/// A version must be one printable line; it reaches engines only as data, never as code.
fn check_version(v: &str) -> Result<()> {
    if v.trim().is_empty() || v.len() > 200 || v.chars().any(char::is_control) {
        return Err(UsageError(format!(
            "version {v:?} is not usable: one line of at most 200 printable characters"
        ))
        .into());
    }
    Ok(())
}

/// Asks for the target's name on a protected target; `--yes` skips it.
fn confirm(t: &TargetConfig, yes: bool) -> Result<()> {
    if !t.is_protected() || yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(UsageError(format!(
            "{} is protected ({}): pass --yes to deploy without a terminal",
            t.name, t.environment
        ))
        .into());
    }
    eprint!(
        "{} is protected ({}). Type its name to go on: ",
        t.name, t.environment
    );
    let _ = std::io::stderr().flush();
    let mut typed = String::new();
    std::io::stdin().lock().read_line(&mut typed)?;
    if typed.trim() != t.name {
        return Err(UsageError("not confirmed: nothing changed".into()).into());
    }
    Ok(())
}

/// Prints the journal of deploy `id` as it grows until the deploy ends; the exit code.
pub fn follow(store_path: &Path, id: i64) -> Result<i32> {
    let store = Store::open(store_path)?;
    let mut seq = 0;
    let mut stale = 0;
    loop {
        let d = store.deploy(id)?;
        for e in store.journal(id, seq)? {
            seq = e.seq;
            // Steps print as they end; only the wait for health is worth a line of its own.
            if e.status != "start" || e.step == "health" {
                println!("{}", runner::format_entry(&e));
            }
        }
        if d.state != "running" {
            let took = d.finished.unwrap_or(d.started) - d.started;
            println!(
                "{} #{} {} {} → {}: {} in {took}s{}",
                d.kind,
                d.id,
                d.target,
                d.from.as_deref().unwrap_or("nothing"),
                d.to,
                d.state,
                d.reason.map(|r| format!(" — {r}")).unwrap_or_default()
            );
            if d.state == "failed_rollback"
                && let Some(l) = store.lock(&d.target)?
            {
                println!(
                    "the lock stays until a human looks: `flightdeck unlock {} {}`",
                    d.target, l.lock_id
                );
            }
            return Ok(if d.state == "succeeded" { 0 } else { 1 });
        }
        // A runner that died (kill -9, a reboot) leaves the deploy running in the store.
        stale = if runner_alive(&d) { 0 } else { stale + 1 };
        if stale > 10 {
            println!(
                "the runner of deploy #{id} stopped; nothing is lost: `flightdeck deploy {} --resume` carries it on, `flightdeck rollback {}` undoes it",
                d.target, d.target
            );
            return Ok(1);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn started(id: i64, pid: u32, log: &Path, detach: bool) {
    println!(
        "deploy #{id} started (runner pid {pid}, log {}); {}",
        log.display(),
        if detach {
            "it carries on without this terminal"
        } else {
            "Ctrl-C stops following, not the deploy"
        }
    );
}

/// `flightdeck deploy`: the exit code (0 only when the deploy succeeded).
pub fn deploy(ws: &Workspace, args: &DeployArgs, rt: &tokio::runtime::Runtime) -> Result<i32> {
    let t = target(ws, &args.target)?;
    let store = Store::open(&ws.registry.store_path)?;
    if args.resume || args.abort {
        let Some(d) = unfinished(&store, &t.name)? else {
            let last = store.deploys(&t.name, 1)?.into_iter().next();
            return Err(UsageError(match last {
                Some(d) => format!(
                    "nothing to {}: deploy #{} of {} already ended ({})",
                    if args.abort { "abort" } else { "resume" },
                    d.id,
                    t.name,
                    d.state
                ),
                None => format!("nothing to resume: {} has never been deployed", t.name),
            })
            .into());
        };
        return carry_on(ws, &d, args.abort, args.detach, rt);
    }
    if let Some(why) = launch::busy(&store, &t.name)? {
        return Err(Refused(why).into());
    }
    let version = args
        .version
        .as_deref()
        .ok_or_else(|| UsageError("deploy needs a VERSION (or --resume / --abort)".into()))?;
    check_version(version)?;
    if !args.allow_unknown_version {
        let remote = github_releases(ws, t, rt)?;
        launch::check_known(&store, t, version, &remote)?.map_err(Refused)?;
    }
    let plan = ws
        .launcher()?
        .plan(&store, t, DeployKind::Deploy, version)
        .map_err(UsageError)?;
    go(ws, &plan, args, rt)
}

/// The GitHub releases of a `github-actions` target's repo (none for other engines).
fn github_releases(
    ws: &Workspace,
    t: &TargetConfig,
    rt: &tokio::runtime::Runtime,
) -> Result<Vec<String>> {
    let Some(g) = t
        .github
        .as_ref()
        .filter(|_| t.engine == crate::config::EngineKind::GithubActions)
    else {
        return Ok(Vec::new());
    };
    let Some((_, client, _)) = ws
        .registry
        .github
        .iter()
        .find(|(id, _, _)| *id == g.provider)
    else {
        return Ok(Vec::new());
    };
    let read = crate::providers::github::deployments::releases(client, &g.repo, 100);
    match rt.block_on(async { tokio::time::timeout(Duration::from_secs(15), read).await }) {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(e)) => Err(color_eyre::eyre::eyre!(
            "cannot read the releases of {} to check the version ({e}); pass --allow-unknown-version to deploy it unchecked",
            g.repo
        )),
        Err(_) => Err(color_eyre::eyre::eyre!(
            "reading the releases of {} timed out after 15s; pass --allow-unknown-version to deploy it unchecked",
            g.repo
        )),
    }
}

/// Shows the plan, confirms, starts and follows.
fn go(
    ws: &Workspace,
    plan: &DeployPlan,
    args: &DeployArgs,
    rt: &tokio::runtime::Runtime,
) -> Result<i32> {
    for line in plan.describe() {
        println!("{line}");
    }
    if args.dry_run {
        println!("dry run: nothing changed");
        return Ok(0);
    }
    if ws.gate.read_only() {
        return Err(Refused(format!("read-only mode: {} refused", plan.kind.as_str())).into());
    }
    confirm(&plan.target, args.yes)?;
    let (id, pid) = rt.block_on(ws.launcher()?.start(&ws.gate, plan))?;
    started(id, pid, &plan.log_path, args.detach);
    if args.detach {
        return Ok(0);
    }
    follow(&ws.registry.store_path, id)
}

/// `--resume` / `--abort` of an unfinished deploy: asks a live runner to stop, or starts a
/// new runner for a dead one, then follows.
fn carry_on(
    ws: &Workspace,
    d: &DeployRecord,
    abort: bool,
    detach: bool,
    rt: &tokio::runtime::Runtime,
) -> Result<i32> {
    let l = ws.launcher()?;
    let resumed = if abort {
        let pid = rt.block_on(l.abort(&ws.gate, d))?;
        println!(
            "deploy #{}: abort requested; it rolls back what it changed",
            d.id
        );
        pid
    } else if runner_alive(d) {
        None
    } else {
        Some(rt.block_on(l.resume(&ws.gate, d))?)
    };
    match resumed {
        Some(pid) => println!("deploy #{} resumed (runner pid {pid})", d.id),
        None => println!(
            "deploy #{} is running (runner pid {})",
            d.id,
            d.pid.unwrap_or(0)
        ),
    }
    if detach {
        return Ok(0);
    }
    follow(&ws.registry.store_path, d.id)
}

/// `flightdeck rollback TARGET`: stops and undoes a running deploy, or puts back the version
/// the last successful deploy replaced.
pub fn rollback(ws: &Workspace, args: &DeployArgs, rt: &tokio::runtime::Runtime) -> Result<i32> {
    let t = target(ws, &args.target)?;
    let store = Store::open(&ws.registry.store_path)?;
    if let Some(d) = unfinished(&store, &t.name)? {
        if args.dry_run {
            println!(
                "would abort deploy #{} of {} and roll back what it changed",
                d.id, t.name
            );
            return Ok(0);
        }
        confirm(t, args.yes)?;
        return carry_on(ws, &d, true, args.detach, rt);
    }
    let to = launch::rollback_version(&store, &t.name)?.map_err(UsageError)?;
    let plan = ws
        .launcher()?
        .plan(&store, t, DeployKind::Rollback, &to)
        .map_err(UsageError)?;
    if plan
        .previous
        .values()
        .all(|v| v.as_deref() == Some(to.as_str()))
    {
        return Err(UsageError(format!("{} already runs {to} on every node", t.name)).into());
    }
    go(ws, &plan, args, rt)
}

/// `flightdeck fleet stop TARGET`: stops a `local-fleet` target's node processes (audited).
pub fn fleet_stop(ws: &Workspace, target_name: &str, rt: &tokio::runtime::Runtime) -> Result<i32> {
    let t = target(ws, target_name)?;
    if t.engine != crate::config::EngineKind::LocalFleet {
        return Err(UsageError(format!(
            "{} runs on the {} engine: flightdeck starts processes only for local-fleet targets",
            t.name,
            t.engine.as_str()
        ))
        .into());
    }
    let store_path = ws.registry.store_path.clone();
    if let Some(why) = launch::busy(&Store::open(&store_path)?, &t.name)? {
        return Err(Refused(why).into());
    }
    let name = t.name.clone();
    let work = async {
        tokio::task::spawn_blocking(move || {
            crate::engine::deploy::local_fleet::stop_all(&store_path, &name)
        })
        .await
        .map_err(|e| crate::providers::ProviderError::Other(e.to_string()))?
        .map_err(crate::providers::ProviderError::Other)
    };
    let n = rt.block_on(
        ws.gate
            .run("fleet_stop", &format!("target:{}", t.name), "", work),
    )?;
    println!(
        "stopped {n} node process{} of {}",
        if n == 1 { "" } else { "es" },
        t.name
    );
    Ok(0)
}

/// `flightdeck unlock TARGET LOCK_ID`: frees a lock kept for a human (audited).
pub fn unlock(
    ws: &Workspace,
    target_name: &str,
    lock_id: &str,
    rt: &tokio::runtime::Runtime,
) -> Result<i32> {
    let t = target(ws, target_name)?;
    match rt.block_on(ws.launcher()?.unlock(&ws.gate, &t.name, lock_id))? {
        Some(l) => {
            println!(
                "{} unlocked (was held by deploy #{}, {})",
                t.name, l.deploy_id, l.holder
            );
            Ok(0)
        }
        None => {
            println!("{} has no lock {lock_id:?}; nothing changed", t.name);
            Ok(1)
        }
    }
}

/// `flightdeck deploy-runner`: the detached runner's body; the exit code by outcome.
pub fn runner_main(
    store_path: &Path,
    state_dir: &Path,
    id: i64,
    rt: &tokio::runtime::Runtime,
) -> i32 {
    let result = rt.block_on(async {
        // A hang-up must not end a deploy: ignore SIGHUP for as long as the runner runs.
        let _hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup());
        runner::run(store_path, state_dir, id).await
    });
    match result {
        Ok(o) if o.state == crate::domain::DeployState::Succeeded => 0,
        Ok(_) => 1,
        Err(e) => {
            eprintln!("deploy-runner: {e}");
            2
        }
    }
}
