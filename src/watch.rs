//! The health loop of a workspace: the monitor, the deploy and pipeline events, and the
//! outbox deliverer, stepped together. `flightdeck watch` runs it headless; the cockpit runs
//! it as a task and shows what it finds.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use color_eyre::eyre::Result;

use tokio::sync::mpsc::UnboundedSender;

use crate::app::Event;
use crate::domain::Check;
use crate::engine::health::remedy::{self, Place};
use crate::engine::health::{Monitor, spec};
use crate::engine::incident::{self, Deliverer};
use crate::store::Store;
use crate::ui::text::clean;
use crate::workspace::Workspace;

/// How often events and the outbox are looked at when no check is due sooner.
const LOOP_EVERY: Duration = Duration::from_secs(2);
/// The same in the cockpit, whose loop wakes this one as soon as the store changes: only
/// outbox retries wait for it.
const COCKPIT_LOOP_EVERY: Duration = Duration::from_secs(30);

/// Where a workspace's remediations run: its store, its config's directory, a log in the
/// state directory.
pub fn place(ws: &Workspace) -> Place {
    Place {
        store: ws.registry.store_path.clone(),
        dir: ws.base_dir.clone(),
        log: ws.state_dir.join("remediations.log"),
    }
}

/// One workspace's health loop.
pub struct HealthLoop {
    gate: crate::engine::gate::Gate,
    place: Place,
    monitor: Monitor,
    deliverer: Option<Deliverer>,
    events: Store,
    close: bool,
    file: bool,
    /// The last delivery error, shown in the pane and the status bar.
    pub outbox_error: Option<String>,
    /// Checks whose automatic remediation is running.
    remedying: Arc<Mutex<std::collections::BTreeSet<String>>>,
}

/// What a step found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StepReport {
    /// Some verdict changed.
    pub changed: bool,
    /// Backlog changes delivered (incidents filed, commented, resolved).
    pub delivered: usize,
    /// Deploy and pipeline events taken.
    pub events: usize,
}

impl HealthLoop {
    /// Builds the loop of `ws`; the incident loop files only when `[incidents] enabled`.
    pub fn new(ws: &Workspace) -> Result<HealthLoop> {
        let cfg = &ws.loaded.config;
        let specs = spec::build(&ws.checks, &cfg.http, &cfg.providers, &ws.targets);
        let file = cfg.incidents.enabled;
        let close = cfg.incidents.close_on_recovery;
        let path = &ws.registry.store_path;
        let monitor = Monitor::new(specs, path, file, close)?;
        let deliverer = match (&ws.registry.backlog, file) {
            (Some((backlog, timeout)), true) => Some(Deliverer {
                store: Arc::new(Mutex::new(Store::open(path)?)),
                backlog: Arc::clone(backlog),
                gate: ws.gate.clone(),
                timeout: *timeout,
                owner: format!("{}:{}", ws.actor, std::process::id()),
            }),
            _ => None,
        };
        Ok(HealthLoop {
            gate: ws.gate.clone(),
            place: place(ws),
            monitor,
            deliverer,
            events: Store::open(path)?,
            close,
            file,
            outbox_error: None,
            remedying: Arc::default(),
        })
    }

    /// Whether there is nothing to watch.
    pub fn is_empty(&self) -> bool {
        self.monitor.is_empty()
    }

    /// The latest verdicts.
    pub fn checks(&self) -> Vec<Check> {
        self.monitor.checks()
    }

    /// When the next step is worth taking, with events and the outbox looked at `every`.
    pub fn next_wake(&self, every: Duration) -> Instant {
        self.monitor.next_due().min(Instant::now() + every)
    }

    /// Runs due checks, takes new events, delivers the outbox.
    pub async fn step(&mut self) -> StepReport {
        let mut r = StepReport::default();
        match self.monitor.round().await {
            Ok(c) => r.changed = c,
            Err(e) => tracing::warn!(error = %e, "health round not saved"),
        }
        let now = crate::domain::now();
        if self.file {
            match incident::take_events(&mut self.events, self.close, now) {
                Ok(n) => r.events = n,
                Err(e) => tracing::warn!(error = %e, "events not taken"),
            }
        }
        self.auto_remediate();
        if let Some(d) = &self.deliverer {
            let (n, err) = d.deliver(now).await;
            r.delivered = n;
            if err != self.outbox_error {
                r.changed = true;
            }
            self.outbox_error = err;
        }
        r
    }
}

impl HealthLoop {
    /// Runs the `auto` remediations of checks that went bad, within their bounds and
    /// cool-down; never in read-only mode.
    fn auto_remediate(&mut self) {
        if self.gate.read_only() {
            return;
        }
        for c in self.monitor.checks() {
            // Fired (past its `for`), or forecast to breach: never on a blip.
            let bad = (c.firing && c.status == crate::domain::CheckStatus::Crit)
                || (c.status == crate::domain::CheckStatus::Warn && c.forecast.is_some());
            let Some(r) = self.monitor.remediation(&c.check) else {
                continue;
            };
            if !bad || r.mode != crate::config::check::RemediationMode::Auto {
                continue;
            }
            // Out of bounds or cooling down: the plan refuses before the gate, unaudited.
            if !c.remedy.as_deref().is_some_and(|d| d.starts_with("auto: ")) {
                continue;
            }
            // Runs beside the loop (up to 5 min): checks and incidents carry on meanwhile.
            let mut running = self.remedying.lock().unwrap_or_else(|p| p.into_inner());
            if !running.insert(c.check.clone()) {
                continue;
            }
            drop(running);
            let (gate, place, r) = (self.gate.clone(), self.place.clone(), r.clone());
            let busy = std::sync::Arc::clone(&self.remedying);
            tokio::spawn(async move {
                match remedy::remediate(&gate, &place, &r, &(&c).into()).await {
                    Ok(msg) => tracing::info!(check = %c.check, %msg, "auto remediation"),
                    Err(e) => {
                        tracing::warn!(check = %c.check, error = %e, "auto remediation failed")
                    }
                }
                busy.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&c.check);
            });
        }
    }
}

/// Runs the loop for the cockpit, sending each change as [`Event::HealthChecked`]; a
/// read-only cockpit judges and records but never delivers to the backlog. Notifying the
/// returned handle (the store changed) makes it look at events and the outbox at once.
pub fn spawn(ws: &Workspace, tx: UnboundedSender<Event>) -> Result<Arc<tokio::sync::Notify>> {
    let poke = Arc::new(tokio::sync::Notify::new());
    let poked = Arc::clone(&poke);
    let mut hl = HealthLoop::new(ws)?;
    if ws.gate.read_only() {
        hl.deliverer = None;
    }
    // Its own thread and runtime: the monitor's store writes may wait on another process's
    // lock, and must never stall the cockpit's input or frames.
    let run = async move {
        // Values change with every probe; a frame a second is plenty unless a status moved.
        let mut sent: Option<(Instant, Vec<(crate::domain::CheckStatus, bool)>)> = None;
        let mut pending = false;
        loop {
            pending |= hl.step().await.changed;
            let summary = hl.monitor.status_summary();
            let due = match &sent {
                None => true,
                Some((at, s)) => {
                    *s != summary || (pending && at.elapsed() >= Duration::from_secs(1))
                }
            };
            if due {
                pending = false;
                sent = Some((Instant::now(), summary));
                let ev = Event::HealthChecked {
                    checks: hl.checks(),
                    outbox_error: hl.outbox_error.clone(),
                };
                if tx.send(ev).is_err() {
                    return;
                }
            }
            let wake = tokio::time::Instant::from_std(hl.next_wake(COCKPIT_LOOP_EVERY));
            tokio::select! {
                _ = tokio::time::sleep_until(wake) => {}
                _ = poked.notified() => {}
            }
        }
    };
    std::thread::Builder::new()
        .name("health".into())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(run),
                Err(e) => tracing::error!(error = %e, "health loop not started"),
            }
        })?;
    Ok(poke)
}

/// `flightdeck watch`: runs the loop until SIGTERM or SIGINT, printing each change.
pub async fn run(ws: &Workspace, once: bool) -> Result<i32> {
    let mut hl = HealthLoop::new(ws)?;
    if hl.is_empty() {
        eprintln!("watch: no [[checks]] configured; watching deploy and pipeline events only");
    }
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let mut shown: std::collections::BTreeMap<String, String> = Default::default();
    if once {
        hl.monitor.all_due();
    }
    loop {
        let r = hl.step().await;
        for c in hl.checks() {
            // One line per change of status (values move with every probe).
            let line = format!("{} {}", c.status.as_str(), c.firing);
            if shown.get(&c.check) != Some(&line) {
                println!(
                    "{} {:<7} {:<40} {}",
                    crate::engine::incident::evidence::time(c.updated),
                    c.status.as_str(),
                    clean(&c.check),
                    clean(&c.shown_detail())
                );
                shown.insert(c.check.clone(), line);
            }
        }
        if r.delivered > 0 {
            println!("incident loop: {} backlog changes delivered", r.delivered);
        }
        if r.changed
            && let Some(e) = &hl.outbox_error
        {
            eprintln!("incident loop: delivery waiting: {}", clean(e));
        }
        if once {
            return Ok(0);
        }
        let wake = tokio::time::Instant::from_std(hl.next_wake(LOOP_EVERY));
        tokio::select! {
            _ = tokio::time::sleep_until(wake) => {}
            _ = term.recv() => return Ok(0),
            _ = int.recv() => return Ok(0),
        }
    }
}
