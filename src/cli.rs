//! The command line: global flags, subcommands, and dispatch to the cockpit or headless commands.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use color_eyre::eyre::{Result, WrapErr};

use crate::workspace::{self, ColorChoice, Options, UsageError};
use crate::{demo, headless, logging, paths, runtime, store, terminal};

/// flightdeck: backlog, builds, deploys and health of the whole DevOps loop on one screen.
#[derive(Debug, Parser)]
#[command(name = "flightdeck", version, about)]
pub struct Cli {
    /// Config file (default: $FLIGHTDECK_CONFIG, ./flightdeck.toml, ~/.config/flightdeck/config.toml, else the demo).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Refuse every mutating action (for on-call triage).
    #[arg(long, global = true)]
    pub read_only: bool,
    /// Colour theme (default, light, high-contrast, ansi16, or one of yours).
    #[arg(long, global = true, value_name = "NAME")]
    pub theme: Option<String>,
    /// Colour output; `auto` honours NO_COLOR.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Log level or filter for the log file in the state dir (error, warn, info, debug, trace).
    #[arg(long, global = true, default_value = "info", value_name = "LEVEL")]
    pub log_level: String,
    /// What to do (default: open the cockpit).
    #[command(subcommand)]
    pub command: Option<Cmd>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Open the cockpit on the demo workspace.
    Demo {
        /// Wipe the demo workspace's state first (stops the demo nodes).
        #[arg(long)]
        reset: bool,
        /// Stop the demo nodes and exit.
        #[arg(long)]
        stop: bool,
        /// Kill one demo node's process, as a crash would, and exit (`demo-api-2`).
        #[arg(long, value_name = "NODE", conflicts_with_all = ["reset", "stop"])]
        kill: Option<String>,
    },
    /// Deploy VERSION to TARGET in batches, following its journal; exits 0 only on success.
    Deploy {
        /// The target (`demo-api` in the demo workspace).
        target: String,
        /// The version to deploy.
        version: Option<String>,
        /// Skip the typed confirmation of a protected target.
        #[arg(long)]
        yes: bool,
        /// Print the plan and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Carry on an interrupted deploy of TARGET (or follow a running one).
        #[arg(long, conflicts_with_all = ["version", "abort"])]
        resume: bool,
        /// Stop TARGET's running deploy and roll back what it changed.
        #[arg(long, conflicts_with = "version")]
        abort: bool,
        /// Start the deploy and return; it carries on in the background.
        #[arg(long)]
        detach: bool,
        /// Deploy VERSION although the target does not know it (not in `versions`, the
        /// releases or the GitHub releases).
        #[arg(long)]
        allow_unknown_version: bool,
    },
    /// Put back the version the last successful deploy replaced (or undo a running deploy).
    Rollback {
        /// The target.
        target: String,
        /// Skip the typed confirmation of a protected target.
        #[arg(long)]
        yes: bool,
        /// Print the plan and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Start the rollback and return.
        #[arg(long)]
        detach: bool,
    },
    /// The workspace's store.
    Store {
        /// What to do.
        #[command(subcommand)]
        action: StoreCmd,
    },
    /// A `local-fleet` target's node processes.
    Fleet {
        /// What to do.
        #[command(subcommand)]
        action: FleetCmd,
    },
    /// Free a deploy lock kept for a human (after a failed rollback); audited.
    Unlock {
        /// The target.
        target: String,
        /// The lock's id, as `status` or the failed deploy printed it.
        lock_id: String,
    },
    /// The detached runner that owns one deploy.
    #[command(hide = true)]
    DeployRunner {
        /// The store holding the deploy.
        #[arg(long)]
        store: PathBuf,
        /// The deploy's id.
        #[arg(long)]
        id: i64,
    },
    /// The demo fleet's service (one node).
    #[command(hide = true)]
    DemoApi,
    /// Refresh every provider once and print the state of all four panes.
    Status {
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Validate the config and reach each provider.
    Check,
    /// Run the health checks and the incident loop headless until stopped (for a server).
    Watch {
        /// Run every check once, deliver what it files, and exit.
        #[arg(long)]
        once: bool,
    },
    /// Run a local pipeline, streaming its log; exits 0 when it succeeded.
    Run {
        /// The pipeline's name (`demo-ci` in the demo workspace).
        pipeline: String,
    },
    /// The demo pipeline's test step: flightdeck's own checks in libtest's format.
    #[command(hide = true)]
    DemoSelftest,
    /// Alertmanager silences: list, add, expire.
    Silence {
        /// What to do.
        #[command(subcommand)]
        action: SilenceCmd,
    },
    /// The audit log of mutating actions.
    Audit {
        /// What to do with it.
        #[command(subcommand)]
        action: AuditCmd,
    },
}

/// `silence` subcommands.
#[derive(Debug, Subcommand)]
pub enum SilenceCmd {
    /// List the silences of the alertmanager provider.
    List {
        /// The provider's id (default: the only alertmanager provider).
        #[arg(long)]
        provider: Option<String>,
    },
    /// Silence the alerts matching every NAME=VALUE (audited; refused in read-only mode).
    Add {
        /// The provider's id (default: the only alertmanager provider).
        #[arg(long)]
        provider: Option<String>,
        /// How long, in hours.
        #[arg(long, default_value_t = 2)]
        hours: u64,
        /// Why (default: who silenced it from flightdeck).
        #[arg(long, default_value = "")]
        comment: String,
        /// `alertname=DiskFull service=api`.
        #[arg(required = true)]
        matchers: Vec<String>,
    },
    /// Expire a silence now (audited; refused in read-only mode).
    Expire {
        /// The provider's id (default: the only alertmanager provider).
        #[arg(long)]
        provider: Option<String>,
        /// The silence's id, as `silence list` prints it.
        id: String,
    },
}

/// `store` subcommands.
#[derive(Debug, Subcommand)]
pub enum StoreCmd {
    /// Check the store's integrity, schema and audit chain (reads only; works on a damaged
    /// store); exits 1 when something is wrong, with how to recover.
    Check,
}

/// `fleet` subcommands.
#[derive(Debug, Subcommand)]
pub enum FleetCmd {
    /// Stop every node process of a `local-fleet` target (audited; refused in read-only mode
    /// and while a deploy of it runs).
    Stop {
        /// The target.
        target: String,
    },
}

/// `audit` subcommands.
#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    /// Verify the hash chain; exits non-zero when a record was edited or deleted.
    Verify,
}

/// Prints to stdout; a closed pipe (`flightdeck status | head`) is not an error.
fn out(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
}

/// Parses the command line and runs it; the process exit code.
pub fn main() -> Result<i32> {
    let cli = Cli::parse();
    match &cli.command {
        Some(Cmd::DemoApi) => return Ok(demo::api::run()),
        // First of all, leave the terminal's session: its hang-up must not reach the deploy.
        Some(Cmd::DeployRunner { .. }) => crate::engine::deploy::runner::detach(),
        _ => {}
    }
    color_eyre::install()?;
    let state_dir = paths::state_dir().wrap_err("cannot find a state directory")?;
    paths::private_dir(&state_dir)
        .wrap_err_with(|| format!("cannot create state dir {}", state_dir.display()))?;
    // Without a log file flightdeck still works (a read-only state dir is for looking).
    if let Err(e) = logging::init(&state_dir, &cli.log_level)
        && !cli.read_only
        && !matches!(cli.command, Some(Cmd::DeployRunner { .. }))
    {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "flightdeck: warning: no log file ({}: {e}); going on without one",
            state_dir.join("logs").display()
        );
    }
    let mut opts = Options {
        config: cli.config.clone(),
        read_only: cli.read_only,
        theme: cli.theme.clone(),
        color: cli.color,
        demo: false,
        cockpit: false,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    match cli.command {
        None => {}
        Some(Cmd::Demo {
            kill: Some(node), ..
        }) => {
            let store = crate::providers::workspace_store(&state_dir, "demo");
            let pid = demo::kill(&store, &node).map_err(UsageError)?;
            eprintln!("killed {node} (pid {pid}); the health pane sees it within seconds");
            return Ok(0);
        }
        Some(Cmd::Demo { reset, stop, .. }) => {
            if reset || stop {
                let store = crate::providers::workspace_store(&state_dir, "demo");
                let n = if store.exists() {
                    demo::stop(&store).map_err(UsageError)?
                } else {
                    0
                };
                out(&format!("stopped {n} demo node processes\n"));
                if let (true, Some(cfg)) = (stop, &cli.config) {
                    eprintln!(
                        "note: demo --stop stops the demo workspace's nodes only; for a target of {} use `flightdeck --config {} fleet stop TARGET`",
                        cfg.display(),
                        cfg.display()
                    );
                }
                if stop {
                    return Ok(0);
                }
            }
            if reset {
                demo::reset(&state_dir).wrap_err("cannot reset the demo workspace")?;
            }
            opts.demo = true;
        }
        Some(Cmd::Status { json }) => {
            let ws = workspace::open(&opts, &state_dir)?;
            let v = rt.block_on(headless::status_json(&ws));
            if json {
                out(&format!("{}\n", serde_json::to_string_pretty(&v)?));
            } else {
                out(&headless::status_text(&v));
            }
            return Ok(0);
        }
        Some(Cmd::Silence { action }) => {
            let ws = workspace::open(&opts, &state_dir)?;
            match action {
                SilenceCmd::List { provider } => {
                    out(&rt.block_on(headless::silence::list(&ws, provider.as_deref()))?);
                }
                SilenceCmd::Add {
                    provider,
                    hours,
                    comment,
                    matchers,
                } => {
                    let id = rt.block_on(headless::silence::add(
                        &ws,
                        provider.as_deref(),
                        &matchers,
                        hours,
                        &comment,
                    ))?;
                    out(&format!("silenced: {id}\n"));
                }
                SilenceCmd::Expire { provider, id } => {
                    rt.block_on(headless::silence::expire(&ws, provider.as_deref(), &id))?;
                    out(&format!("expired {id}\n"));
                }
            }
            return Ok(0);
        }
        Some(Cmd::Watch { once }) => {
            let ws = workspace::open(&opts, &state_dir)?;
            return rt.block_on(crate::watch::run(&ws, once));
        }
        Some(Cmd::Run { pipeline }) => {
            let ws = workspace::open(&opts, &state_dir)?;
            return headless::run::run(&ws, &pipeline, &rt);
        }
        Some(Cmd::Store {
            action: StoreCmd::Check,
        }) => {
            let loaded = crate::config::resolve(opts.config.as_deref())?;
            let path = crate::providers::workspace_store(&state_dir, &loaded.config.workspace);
            let (lines, ok) = crate::store::check(&path);
            out(&format!("store {}\n", path.display()));
            for l in lines {
                out(&format!("{l}\n"));
            }
            return Ok(if ok { 0 } else { 1 });
        }
        Some(Cmd::Fleet {
            action: FleetCmd::Stop { target },
        }) => {
            let ws = workspace::open(&opts, &state_dir)?;
            return headless::deploy::fleet_stop(&ws, &target, &rt);
        }
        Some(Cmd::Deploy {
            target,
            version,
            yes,
            dry_run,
            resume,
            abort,
            detach,
            allow_unknown_version,
        }) => {
            let ws = workspace::open(&opts, &state_dir)?;
            let args = headless::deploy::DeployArgs {
                target,
                version,
                yes,
                dry_run,
                resume,
                abort,
                detach,
                allow_unknown_version,
            };
            return headless::deploy::deploy(&ws, &args, &rt);
        }
        Some(Cmd::Rollback {
            target,
            yes,
            dry_run,
            detach,
        }) => {
            let ws = workspace::open(&opts, &state_dir)?;
            let args = headless::deploy::DeployArgs {
                target,
                yes,
                dry_run,
                detach,
                ..Default::default()
            };
            return headless::deploy::rollback(&ws, &args, &rt);
        }
        Some(Cmd::Unlock { target, lock_id }) => {
            let ws = workspace::open(&opts, &state_dir)?;
            return headless::deploy::unlock(&ws, &target, &lock_id, &rt);
        }
        Some(Cmd::DeployRunner { store, id }) => {
            return Ok(headless::deploy::runner_main(&store, &state_dir, id, &rt));
        }
        Some(Cmd::DemoApi) => return Ok(demo::api::run()),
        Some(Cmd::DemoSelftest) => return Ok(crate::demo::selftest::run()),
        Some(Cmd::Check) => {
            let ws = workspace::open(&opts, &state_dir)?;
            let (report, ok) = rt.block_on(headless::check(&ws));
            out(&report);
            return Ok(if ok { 0 } else { 1 });
        }
        Some(Cmd::Audit {
            action: AuditCmd::Verify,
        }) => {
            let ws = workspace::open(&opts, &state_dir)?;
            let s = store::Store::open(&ws.registry.store_path)?;
            return match s.audit_verify()? {
                Ok(r) => {
                    out(&format!(
                        "audit log ok: {} records, head {}\n",
                        r.records, r.head
                    ));
                    Ok(0)
                }
                Err(e) => {
                    out(&format!("{e}\n"));
                    Ok(1)
                }
            };
        }
    }
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        return Err(UsageError(
            "the cockpit needs a terminal; for scripts use `flightdeck status --json`".into(),
        )
        .into());
    }
    if std::env::var("TERM").is_ok_and(|t| t == "dumb") {
        return Err(UsageError(
            "this terminal (TERM=dumb) cannot draw the cockpit; use `flightdeck status`, or set TERM to your terminal's type".into(),
        )
        .into());
    }
    opts.cockpit = true;
    let ws = workspace::open(&opts, &state_dir)?;
    terminal::install_panic_hook(state_dir.clone());
    tracing::info!(workspace = %ws.loaded.config.workspace, config = %ws.loaded.source, "cockpit start");
    // The loop runs as a task on a worker, the thread that also drives the runtime's timers:
    // an idle tick then wakes one thread, not a worker and then this one.
    rt.block_on(async {
        tokio::spawn(runtime::run(ws))
            .await
            .map_err(|e| color_eyre::eyre::eyre!("the cockpit stopped: {e}"))?
    })?;
    // Tasks blocked on the terminal must not hold the process open.
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    Ok(0)
}
