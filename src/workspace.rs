//! Opening a workspace: config, state dir, store, providers, gate, keymap and themes.

use std::path::{Path, PathBuf};

use color_eyre::eyre::{Result, WrapErr};

use crate::app::keymap::Keymap;
use crate::config::{self, ConfigSource, Loaded};
use crate::demo;
use crate::engine::gate::{self, Gate};
use crate::engine::pipeline::Plan;
use crate::paths;
use crate::providers::Registry;
use crate::theme::ThemeSet;

/// A mistake in how flightdeck was asked to run: shown as one plain line, no report.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// An action refused as things stand: locked, busy, read-only, a conflict, an unknown
/// version. Exit code 3.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// Whether an error is the user's to fix (config, theme, usage) rather than a bug.
pub fn is_user_error(e: &color_eyre::Report) -> bool {
    e.downcast_ref::<UsageError>().is_some()
        || e.downcast_ref::<crate::config::ConfigError>().is_some()
        || e.downcast_ref::<crate::theme::ThemeError>().is_some()
}

/// An error and its causes as one line, each cause once (many errors repeat their source).
pub fn one_line(e: &color_eyre::Report) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line.replace('\n', " ")
}

/// The exit code of a command that ended in `e`: 2 usage or config, 3 refused, 1 the
/// operation ran and failed.
pub fn exit_code(e: &color_eyre::Report) -> i32 {
    use crate::engine::gate::GateError;
    use crate::providers::ProviderError;
    let refused = e.downcast_ref::<Refused>().is_some()
        || matches!(
            e.downcast_ref::<GateError>(),
            Some(GateError::ReadOnly(_) | GateError::Provider(ProviderError::Conflict(_)))
        );
    if refused {
        3
    } else if is_user_error(e) {
        2
    } else {
        1
    }
}

/// Colour output choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour unless `NO_COLOR` is set.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// What the command line says about opening a workspace.
#[derive(Clone, Debug)]
pub struct Options {
    /// `--config`.
    pub config: Option<PathBuf>,
    /// `--read-only`.
    pub read_only: bool,
    /// `--theme`.
    pub theme: Option<String>,
    /// `--color`.
    pub color: ColorChoice,
    /// Force the demo workspace (`flightdeck demo`).
    pub demo: bool,
    /// Opening for the cockpit: a broken user theme is then an error, not a warning.
    pub cockpit: bool,
}

/// An opened workspace.
pub struct Workspace {
    /// The config and where it came from.
    pub loaded: Loaded,
    /// The state directory.
    pub state_dir: PathBuf,
    /// Provider clients.
    pub registry: Registry,
    /// The mutation gate.
    pub gate: Gate,
    /// Key bindings.
    pub keymap: Keymap,
    /// Every theme.
    pub themes: ThemeSet,
    /// The starting theme.
    pub theme_index: usize,
    /// Draw without colour.
    pub monochrome: bool,
    /// Who acts (`user@host`).
    pub actor: String,
    /// Local pipelines, resolved against the config file's directory.
    pub pipelines: Vec<Plan>,
    /// Deploy targets (the config's, or the demo fleet).
    pub targets: Vec<crate::config::TargetConfig>,
    /// Health checks (the config's, or the demo's).
    pub checks: Vec<crate::config::CheckConfig>,
    /// Relative paths in the config are from here.
    pub base_dir: PathBuf,
}

impl Workspace {
    /// The target with this name.
    pub fn target(&self, name: &str) -> Option<&crate::config::TargetConfig> {
        self.targets.iter().find(|t| t.name == name)
    }

    /// What starting a deploy runner needs, for this workspace.
    pub fn launcher(&self) -> Result<crate::engine::deploy::launch::Launcher> {
        Ok(crate::engine::deploy::launch::Launcher {
            store_path: self.registry.store_path.clone(),
            state_dir: self.state_dir.clone(),
            base_dir: self.base_dir.clone(),
            actor: self.actor.clone(),
            program: std::env::current_exe().wrap_err("cannot find the flightdeck binary")?,
            providers: self.loaded.config.providers.clone(),
            http: self.loaded.config.http.clone(),
        })
    }

    /// The pipeline with this name.
    pub fn pipeline(&self, name: &str) -> Option<&Plan> {
        self.pipelines.iter().find(|p| p.name == name)
    }
}

/// Whether colour is off: `--color never`, or `auto` with `NO_COLOR` set and non-empty.
pub fn monochrome(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => false,
        ColorChoice::Never => true,
        ColorChoice::Auto => std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
    }
}

/// Resolves the config and opens everything a command needs.
pub fn open(opts: &Options, state_dir: &Path) -> Result<Workspace> {
    let loaded = if opts.demo {
        Loaded::demo()
    } else {
        config::resolve(opts.config.as_deref())?
    };
    paths::private_dir(state_dir)
        .wrap_err_with(|| format!("cannot create state dir {}", state_dir.display()))?;
    let actor = gate::actor();
    let base = loaded
        .source
        .path()
        .and_then(Path::parent)
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| std::env::current_dir().unwrap_or_default());
    let mut pipelines: Vec<Plan> = loaded
        .config
        .pipelines
        .iter()
        .map(|p| Plan::new(p, &base))
        .collect();
    let demo_ws = loaded.source == ConfigSource::Demo;
    let mut targets = loaded.config.targets.clone();
    // A metrics gate names a prometheus provider; the detached runner gets its URL and its
    // HTTP keys.
    for g in targets.iter_mut().flat_map(|t| t.smoke.iter_mut()) {
        if let Some(p) = loaded.config.providers.iter().find(|p| {
            g.prometheus.as_deref() == Some(p.id.as_str())
                && p.kind == config::ProviderKind::Prometheus
        }) {
            g.prometheus = p.url.clone();
            g.inherit(p.http());
        }
    }
    let mut checks = loaded.config.checks.clone();
    if demo_ws {
        targets.push(demo::target());
        checks.extend(demo::checks());
        let dir = demo::workspace_dir(state_dir);
        paths::private_dir(&dir).wrap_err_with(|| format!("cannot create {}", dir.display()))?;
        let bin = std::env::current_exe().wrap_err("cannot find the flightdeck binary")?;
        pipelines.push(Plan::new(&demo::pipeline(&bin), &dir));
    }
    let registry = Registry::build(&loaded, state_dir, &actor, !pipelines.is_empty())?;
    // `--read-only` changes nothing, not even on the way in: no seeding, no clean-up.
    let writable =
        !opts.read_only && !crate::store::Store::open(&registry.store_path)?.is_read_only();
    if demo_ws && writable {
        demo::seed(&registry.store_path)?;
    }
    if registry.builds.is_some() && writable {
        // Runs whose runner died (a cockpit killed with SIGKILL, a crash) end as cancelled,
        // and what their steps left running goes with them.
        let alive = |pid: u32| Path::new(&format!("/proc/{pid}")).exists();
        let groups = crate::store::Store::open(&registry.store_path)?
            .abandon_dead_runs(alive, crate::domain::now())?;
        for (pgid, start) in groups {
            if crate::engine::pipeline::step::kill_orphaned_group(pgid, start) {
                tracing::warn!(pgid, "killed what a dead runner's step left running");
            }
        }
    }
    let gate = Gate::open(&registry.store_path, &actor, opts.read_only)?;
    let keymap = Keymap::new(&loaded.config.keys)
        .map_err(|e| loaded.error_at("keys", &e.action, e.message))?;
    let user_themes = paths::config_dir().map(|d| d.join("themes"));
    let themes = match ThemeSet::load(user_themes.as_deref()) {
        Ok(t) => t,
        // Headless commands draw nothing: a broken user theme must not stop them.
        Err(e) if !opts.cockpit => {
            tracing::warn!(error = %e, "user themes ignored");
            ThemeSet::load(None)?
        }
        Err(e) => return Err(e.into()),
    };
    let wanted = opts
        .theme
        .clone()
        .or_else(|| loaded.config.ui.theme.clone())
        .unwrap_or_else(|| {
            let var = |k| std::env::var(k).ok();
            crate::theme::default_for_term(var("TERM").as_deref(), var("COLORTERM").as_deref())
                .into()
        });
    let theme_index = themes.index_of(&wanted).ok_or_else(|| {
        UsageError(format!(
            "unknown theme {wanted:?}; available: {}",
            themes.names().join(", ")
        ))
    })?;
    Ok(Workspace {
        loaded,
        state_dir: state_dir.to_path_buf(),
        registry,
        gate,
        keymap,
        themes,
        theme_index,
        monochrome: monochrome(opts.color),
        actor,
        pipelines,
        targets,
        checks,
        base_dir: base,
    })
}
