//! The cockpit's event loop: terminal, input, timers and signals feeding `update`, and drawing.

use std::io::Write;
use std::time::Duration;

use color_eyre::eyre::Result;
use crossterm::event::{Event as TermEvent, EventStream};
use futures::StreamExt;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};

use crate::app::{self, Event, Init, State};
use crate::domain;
use crate::scheduler::Scheduler;
use crate::terminal;
use crate::theme::Theme;
use crate::workspace::Workspace;

/// Seconds between backlog refreshes from the local store.
const LOCAL_REFRESH_SECS: i64 = crate::app::update::builds::LOCAL_IDLE_SECS;
/// Seconds between backlog refreshes from GitHub (each an ETag-conditional request).
const GITHUB_BACKLOG_SECS: i64 = 15;
/// Seconds between refreshes of GitHub Actions runs.
const GITHUB_RUNS_SECS: i64 = 10;

/// The first state of a workspace at a terminal size.
pub fn initial_state(ws: &Workspace, size: (u16, u16)) -> State {
    let remote = |id: &str| ws.registry.github.iter().any(|g| g.0 == id);
    let backlog = match (&ws.registry.backlog, &ws.registry.backlog_missing) {
        (Some((src, _)), _) => Ok((
            src.id().to_string(),
            ws.loaded.config.backlog.refresh_secs.map_or(
                if remote(src.id()) {
                    GITHUB_BACKLOG_SECS
                } else {
                    LOCAL_REFRESH_SECS
                },
                |s| s.max(1) as i64,
            ),
        )),
        (None, Some(why)) => Err(why.clone()),
        (None, None) => Err("configure [backlog] provider".into()),
    };
    State::new(Init {
        workspace: ws.loaded.config.workspace.clone(),
        config_source: ws.loaded.source.to_string(),
        read_only: ws.gate.read_only(),
        keymap: ws.keymap.clone(),
        providers: ws.registry.infos.clone(),
        backlog,
        watches: ws.pipelines.iter().any(|p| p.branch.is_some()),
        targets: ws.targets.clone(),
        health: !ws.checks.is_empty(),
        mute_hours: ws
            .loaded
            .config
            .incidents
            .mute_hours
            .unwrap_or(24)
            .clamp(1, 720),
        backlog_sections: ws
            .registry
            .backlog
            .as_ref()
            .and_then(|(src, _)| ws.loaded.config.providers.iter().find(|p| p.id == src.id()))
            .map(|p| p.sections.iter().map(|s| s.name.clone()).collect())
            .unwrap_or_default(),
        builds_remote: ws
            .registry
            .builds
            .as_ref()
            .is_some_and(|(src, _)| remote(src.id())),
        builds_interval: match &ws.registry.builds {
            Some((src, _)) if remote(src.id()) => ws
                .loaded
                .config
                .builds
                .refresh_secs
                .map_or(GITHUB_RUNS_SECS, |s| s.max(1) as i64),
            _ => 2,
        },
        builds: ws.registry.builds.as_ref().map(|(src, _)| {
            (
                src.id().to_string(),
                ws.pipelines
                    .iter()
                    .filter(|p| p.manual)
                    .map(|p| p.name.clone())
                    .collect(),
            )
        }),
        themes: (
            ws.themes.names().iter().map(|s| s.to_string()).collect(),
            ws.theme_index,
        ),
        size,
        session: format!(
            "{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ),
    })
}

fn forward_input(tx: UnboundedSender<Event>) {
    tokio::spawn(async move {
        let mut events = EventStream::new();
        loop {
            let ev = match events.next().await {
                Some(Ok(TermEvent::Key(k))) => Event::Key(k),
                Some(Ok(TermEvent::Paste(p))) => Event::Paste(p),
                Some(Ok(TermEvent::Resize(w, h))) => Event::Resize(w, h),
                Some(Ok(TermEvent::Mouse(m))) => Event::Mouse(m),
                Some(Ok(_)) => continue,
                // EOF or EIO: the terminal is gone; end instead of spinning.
                Some(Err(_)) | None => {
                    let _ = tx.send(Event::InputClosed);
                    return;
                }
            };
            if tx.send(ev).is_err() {
                return;
            }
        }
    });
}

fn forward_signals(tx: UnboundedSender<Event>) -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    for (kind, name) in [
        (SignalKind::terminate(), "SIGTERM"),
        (SignalKind::hangup(), "SIGHUP"),
        (SignalKind::interrupt(), "SIGINT"),
        (SignalKind::quit(), "SIGQUIT"),
    ] {
        let mut sig = signal(kind)?;
        let tx = tx.clone();
        tokio::spawn(async move {
            if sig.recv().await.is_some() {
                let _ = tx.send(Event::Terminate(name));
            }
        });
    }
    Ok(())
}

/// The themes as drawn: monochrome copies when colour is off.
fn display_themes(ws: &Workspace) -> Vec<Theme> {
    (0..ws.themes.len())
        .map(|i| {
            let t = ws.themes.by_index(i);
            if ws.monochrome {
                t.monochrome()
            } else {
                t.clone()
            }
        })
        .collect()
}

fn draw(term: &mut terminal::Tui, state: &State, themes: &[Theme]) -> Result<()> {
    use crossterm::terminal::{BeginSynchronizedUpdate, EndSynchronizedUpdate};
    let theme = &themes[state.themes.1 % themes.len()];
    let now = domain::now();
    crossterm::queue!(term.backend_mut(), BeginSynchronizedUpdate)?;
    term.draw(|f| crate::ui::render(f, state, theme, now))?;
    crossterm::queue!(term.backend_mut(), EndSynchronizedUpdate)?;
    term.backend_mut().flush()?;
    Ok(())
}

/// Runs the cockpit until the user quits, a signal arrives or the terminal goes away.
pub async fn run(ws: Workspace) -> Result<()> {
    let mouse = ws.loaded.config.ui.mouse;
    let themes = display_themes(&ws);
    let (tx, mut rx) = unbounded_channel();
    forward_signals(tx.clone())?;
    let mut term = terminal::init(mouse)?;
    let size = term.size()?;
    let mut state = initial_state(&ws, (size.width, size.height));
    let scheduler = Scheduler::new(tx.clone(), &ws);
    forward_input(tx.clone());
    let health = crate::watch::spawn(&ws, tx.clone())?;
    let store = crate::store::Store::open(&ws.registry.store_path).ok();
    let result = event_loop(
        &mut term, &mut state, &mut rx, &scheduler, &themes, mouse, store, &health,
    )
    .await;
    terminal::release(term);
    // Runs started here end with the cockpit: cancelled, their process groups killed.
    scheduler.cancel_all(Duration::from_secs(5)).await;
    result
}

/// The loop: events as they come, and a tick only as often as the screen needs one
/// (`app::update::tick_secs`), so an idle cockpit sleeps. At each tick one cheap read of the
/// store's `data_version` says whether anyone wrote it; only then do local feeds refresh.
#[allow(clippy::too_many_arguments)]
async fn event_loop(
    term: &mut terminal::Tui,
    state: &mut State,
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<Event>,
    scheduler: &Scheduler,
    themes: &[Theme],
    mouse: bool,
    store: Option<crate::store::Store>,
    health: &tokio::sync::Notify,
) -> Result<()> {
    draw(term, state, themes)?;
    state.dirty = false;
    // Owned, and never borrowed across an await: the loop runs as a task that may move.
    let version = |s: &Option<crate::store::Store>| s.as_ref().and_then(|s| s.data_version().ok());
    let mut seen = version(&store);
    let mut next_tick = tokio::time::Instant::now();
    loop {
        let first = tokio::select! {
            ev = rx.recv() => match ev {
                Some(ev) => ev,
                None => break,
            },
            _ = tokio::time::sleep_until(next_tick) => {
                let secs = app::update::tick_secs(state, domain::now());
                next_tick = tokio::time::Instant::now() + Duration::from_secs(secs);
                let now_version = version(&store);
                if now_version != seen {
                    seen = now_version;
                    // New events or outbox rows: the incident loop looks now.
                    health.notify_one();
                    Event::StoreChanged
                } else {
                    Event::Tick
                }
            }
        };
        let now = domain::now();
        let mut cmds = app::update(state, first, now);
        // Coalesce a burst (a paste, a resize storm, many results) into one frame.
        while !state.quit {
            match rx.try_recv() {
                Ok(ev) => cmds.extend(app::update(state, ev, now)),
                Err(_) => break,
            }
        }
        for cmd in cmds {
            scheduler.run(cmd);
        }
        if state.quit {
            break;
        }
        if state.suspend {
            state.suspend = false;
            terminal::suspend(term, mouse)?;
            tracing::info!("resumed after suspend");
            state.dirty = true;
        }
        if state.dirty {
            if draw(term, state, themes).is_err() {
                // The terminal is gone (EIO): stop rather than spin.
                break;
            }
            state.dirty = false;
        }
    }
    Ok(())
}
