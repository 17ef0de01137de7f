//! The app: State, events, actions, the synchronous `update`, and the commands it returns.

pub mod action;
pub mod backlog;
pub mod builds;
pub mod deploys;
pub mod dispatch;
pub mod feed;
pub mod health;
pub mod input;
pub mod keymap;
mod mouse;
pub mod overlay;
pub mod palette;
pub mod picker;
pub mod update;

pub use action::{ACTIONS, Action, Context};
pub use update::update;

use crossterm::event::KeyEvent;

use crate::domain::{Comment, PaneId, Run, Timestamp, WorkItem};
use crate::engine::gate::GateError;
use crate::engine::pipeline::logfile::{Anchor, Window};
use crate::providers::{BacklogMutation, ProviderError, ProviderInfo};
use backlog::BacklogPane;
use keymap::Keymap;
use overlay::Overlay;

/// A log search's match: its byte offset, and for a text search which of how many it is.
pub type LogMatch = (u64, Option<(usize, usize)>);

/// Everything that reaches the app loop, on one channel.
#[derive(Clone, Debug)]
pub enum Event {
    /// A key press.
    Key(KeyEvent),
    /// Text pasted into the terminal (never triggers an action).
    Paste(String),
    /// The terminal changed size.
    Resize(u16, u16),
    /// A mouse click or wheel turn (only with `[ui] mouse = true`).
    Mouse(crossterm::event::MouseEvent),
    /// The one-second timer.
    Tick,
    /// The backlog provider answered a list.
    BacklogListed {
        /// Request id.
        request: u64,
        /// Items, or `None` when unchanged.
        result: Result<Option<Vec<WorkItem>>, ProviderError>,
    },
    /// Comments of an item arrived.
    CommentsLoaded {
        /// Request id.
        request: u64,
        /// The comments.
        result: Result<Vec<Comment>, ProviderError>,
    },
    /// The build provider answered a list of runs.
    RunsListed {
        /// Request id.
        request: u64,
        /// Runs, or `None` when unchanged.
        result: Result<Option<Vec<Run>>, ProviderError>,
    },
    /// A window of a run's log arrived.
    LogLoaded {
        /// Request id.
        request: u64,
        /// The lines.
        result: Result<Window, ProviderError>,
    },
    /// A log search (or the first-error jump) finished.
    LogFound {
        /// Request id.
        request: u64,
        /// What was looked for.
        what: String,
        /// Offset of the match, and which of how many matches it is (for a text search).
        result: Result<Option<LogMatch>, ProviderError>,
    },
    /// A pipeline run started from this cockpit ended (or was refused).
    PipelineDone {
        /// Request id.
        request: u64,
        /// The finished run.
        result: Result<Box<Run>, GateError>,
    },
    /// Watched branches were looked at; these pipelines have a new commit to build.
    TriggersChecked {
        /// Pipelines to run.
        due: Vec<String>,
    },
    /// A cancel request went through the gate.
    CancelDone {
        /// Request id.
        request: u64,
        /// Whether the run was still running.
        result: Result<bool, GateError>,
    },
    /// A mutation went through the gate.
    Mutated {
        /// Request id.
        request: u64,
        /// The touched item's id, or why it failed.
        result: Result<String, GateError>,
    },
    /// The deploy targets were read from the store.
    DeploysListed {
        /// Request id.
        request: u64,
        /// Every target.
        result: Result<Option<Vec<crate::engine::deploy::view::TargetSnapshot>>, ProviderError>,
    },
    /// A deploy, rollback, abort or resume went through the gate.
    DeployActed {
        /// Request id.
        request: u64,
        /// What was asked, for the message.
        what: String,
        /// What happened.
        result: Result<String, GateError>,
    },
    /// A silence went through the gate (or was refused).
    HealthActed {
        /// What was asked, for the message.
        what: String,
        /// What happened.
        result: Result<String, GateError>,
    },
    /// The monitor judged the checks again.
    HealthChecked {
        /// Every check's verdict.
        checks: Vec<crate::domain::Check>,
        /// Why the incident loop could not deliver, if it could not.
        outbox_error: Option<String>,
    },
    /// A signal asked the process to stop.
    Terminate(&'static str),
    /// The local store was written (by this process or another): its feeds refresh now.
    StoreChanged,
    /// A remote run was rerun or cancelled (or the gate refused).
    RunActed {
        /// What was asked.
        what: String,
        /// The provider's answer.
        result: Result<String, crate::engine::gate::GateError>,
    },
    /// A web page to show (no browser here), so it can be copied.
    ShowUrl {
        /// The URL.
        url: String,
    },
    /// A message for the status bar.
    Notice {
        /// The text.
        text: String,
        /// Whether it reports a failure.
        error: bool,
    },
    /// The workflows that can be dispatched.
    WorkflowsListed {
        /// Request id.
        request: u64,
        /// The workflows.
        result: Result<Vec<crate::domain::Workflow>, ProviderError>,
    },
    /// A dispatch was sent (or refused): a message and, once known, its run.
    Dispatched {
        /// The answer.
        result: Result<(String, Option<String>), crate::engine::gate::GateError>,
    },
    /// A remote run's logs were downloaded.
    LogFetched {
        /// Request id.
        request: u64,
        /// Run id.
        run: String,
        /// The log file.
        result: Result<String, ProviderError>,
    },
    /// The API budget of each GitHub provider after a call.
    Budgets(Vec<(String, crate::providers::github::Budget)>),
    /// The terminal went away (EOF or EIO on input).
    InputClosed,
}

/// Side effects `update` asks for; the scheduler runs them as tasks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// List the backlog.
    ListBacklog {
        /// Request id.
        request: u64,
        /// Ask for the full list even if nothing changed (after an error, or `r`).
        force: bool,
    },
    /// Load an item's comments.
    LoadComments {
        /// Request id.
        request: u64,
        /// Item id.
        item: String,
    },
    /// List pipeline runs.
    ListRuns {
        /// Request id.
        request: u64,
        /// Ask for the full list even if nothing changed.
        force: bool,
    },
    /// Read a window of a run's log.
    LoadLog {
        /// Request id.
        request: u64,
        /// The log file.
        path: String,
        /// Where.
        anchor: Anchor,
        /// How many lines.
        rows: usize,
    },
    /// Search a run's log; an empty query looks for the first error.
    SearchLog {
        /// Request id.
        request: u64,
        /// The log file.
        path: String,
        /// What to find.
        query: String,
        /// Where to start.
        from: u64,
        /// Search towards the start.
        backwards: bool,
    },
    /// Run a pipeline through the mutation gate.
    RunPipeline {
        /// Request id.
        request: u64,
        /// Pipeline name.
        pipeline: String,
        /// `manual` or `rerun`.
        trigger: &'static str,
    },
    /// Look at the watched branches of the pipelines that have one.
    CheckTriggers,
    /// Rerun or cancel a run of a remote CI, through the mutation gate.
    ActOnRun {
        /// Run id.
        run: String,
        /// What to do.
        action: crate::providers::RunAction,
    },
    /// Open an item's or a run's web page (or show its URL).
    OpenWeb {
        /// Which pane it is in.
        pane: PaneId,
        /// Its id.
        id: String,
    },
    /// Read the workflows that can be dispatched.
    ListWorkflows {
        /// Request id.
        request: u64,
    },
    /// Dispatch a workflow, through the mutation gate.
    Dispatch {
        /// The workflow.
        workflow: crate::domain::Workflow,
        /// Branch or tag.
        git_ref: String,
        /// Checked inputs.
        values: std::collections::BTreeMap<String, String>,
    },
    /// Download a remote run's logs to a file.
    FetchLog {
        /// Request id.
        request: u64,
        /// Run id.
        run: String,
    },
    /// Ask a running run to cancel, through the mutation gate.
    CancelRun {
        /// Request id.
        request: u64,
        /// Run id.
        run: String,
    },
    /// Run a check's remediation through the gate.
    Remediate {
        /// The check as last judged.
        check: crate::engine::health::remedy::Target,
    },
    /// Silence an Alertmanager alert group.
    Silence {
        /// The alertmanager provider's id.
        provider: String,
        /// `name=value` matchers.
        matchers: Vec<String>,
        /// Hours.
        hours: u64,
    },
    /// Read every deploy target from the store.
    ListDeploys {
        /// Request id.
        request: u64,
    },
    /// Start a deploy or rollback through the mutation gate.
    StartDeploy {
        /// Request id.
        request: u64,
        /// Target name.
        target: String,
        /// Deploy or rollback.
        kind: crate::engine::deploy::DeployKind,
        /// The version to install.
        version: String,
        /// What each node ran when the plan was confirmed; the deploy is refused if the
        /// nodes changed since.
        expected: std::collections::BTreeMap<String, Option<String>>,
    },
    /// Abort a running deploy (it rolls back) or resume an interrupted one, through the gate.
    SteerDeploy {
        /// Request id.
        request: u64,
        /// Target name.
        target: String,
        /// The deploy.
        deploy: i64,
        /// Abort (else resume).
        abort: bool,
    },
    /// Change the backlog through the mutation gate.
    MutateBacklog {
        /// Request id.
        request: u64,
        /// The change.
        change: BacklogMutation,
    },
}

/// How loud a flash message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Confirmation.
    Info,
    /// Something was refused or failed.
    Error,
}

/// A short message in the status bar that goes away by itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flash {
    /// The text.
    pub text: String,
    /// Info or error.
    pub level: Level,
    /// When it disappears.
    pub until: Timestamp,
}

/// A mutation awaiting its answer, and what to do with the answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    /// Request id.
    pub request: u64,
    /// The draft this save makes obsolete once it succeeds.
    pub draft: Option<overlay::DraftKey>,
    /// What the user sees on success.
    pub success: String,
}

/// Settings fixed at start.
#[derive(Clone, Debug)]
pub struct Init {
    /// Workspace name.
    pub workspace: String,
    /// Where the config came from, for the status bar.
    pub config_source: String,
    /// `--read-only`.
    pub read_only: bool,
    /// Key bindings.
    pub keymap: Keymap,
    /// Providers for the status bar.
    pub providers: Vec<ProviderInfo>,
    /// Backlog provider id and refresh interval, or why there is none.
    pub backlog: Result<(String, i64), String>,
    /// The backlog provider's sections (saved GitHub searches).
    pub backlog_sections: Vec<String>,
    /// Build provider id and the pipelines a person may start, when there are pipelines.
    pub builds: Option<(String, Vec<String>)>,
    /// Seconds between refreshes of the builds pane.
    pub builds_interval: i64,
    /// Whether runs come from a remote CI (GitHub Actions) rather than local pipelines.
    pub builds_remote: bool,
    /// Whether any pipeline watches a branch.
    pub watches: bool,
    /// Deploy targets (empty: the deploys pane says it is not configured).
    pub targets: Vec<crate::config::TargetConfig>,
    /// Whether the workspace has health checks.
    pub health: bool,
    /// Hours a dismissal mutes an incident's key by default.
    pub mute_hours: u64,
    /// Theme names in cycling order, and the index of the current one.
    pub themes: (Vec<String>, usize),
    /// Terminal size.
    pub size: (u16, u16),
    /// Tells this process's forms apart from other cockpits' (time and pid at start).
    pub session: String,
}

impl Init {
    /// A workspace fed by the local store, with the default keys and theme: where tests,
    /// benches and other embedders start.
    pub fn local(workspace: &str, size: (u16, u16)) -> Init {
        Init {
            workspace: workspace.to_string(),
            config_source: "built-in demo (no config)".into(),
            read_only: false,
            keymap: Keymap::default(),
            providers: vec![ProviderInfo {
                id: "local".into(),
                kind: "local".into(),
                unavailable: None,
                feeds: vec!["backlog", "builds"],
            }],
            backlog: Ok(("local".into(), 2)),
            backlog_sections: Vec::new(),
            builds: None,
            builds_interval: 2,
            builds_remote: false,
            watches: false,
            targets: Vec::new(),
            health: false,
            mute_hours: 24,
            themes: (vec!["default".into(), "light".into()], 0),
            size,
            session: "test".into(),
        }
    }
}

/// The whole app state; render reads it, only `update` writes it.
#[derive(Clone, Debug)]
pub struct State {
    /// Workspace name.
    pub workspace: String,
    /// Where the config came from.
    pub config_source: String,
    /// Whether mutations are refused.
    pub read_only: bool,
    /// Key bindings.
    pub keymap: Keymap,
    /// Providers for the status bar.
    pub providers: Vec<ProviderInfo>,
    /// The API budget of each GitHub provider, as last reported.
    pub budgets: Vec<(String, crate::providers::github::Budget)>,
    /// Terminal size (columns, rows).
    pub size: (u16, u16),
    /// The focused pane.
    pub focus: PaneId,
    /// Whether the focused pane fills the screen.
    pub zoom: bool,
    /// The backlog pane.
    pub backlog: BacklogPane,
    /// The builds pane.
    pub builds: builds::BuildsPane,
    /// The deploys pane.
    pub deploys: deploys::DeploysPane,
    /// The health pane.
    pub health: health::HealthPane,
    /// Hours a dismissal mutes by default.
    pub mute_hours: u64,
    /// Whether any pipeline watches a branch (checked every few seconds).
    pub watches: bool,
    /// Tells this process's forms apart from other cockpits'.
    pub session: String,
    /// An open overlay (help, palette, a form).
    pub overlay: Option<Overlay>,
    /// Editors closed with Esc, one per (editor, item), so nothing typed is lost.
    pub drafts: Vec<Overlay>,
    /// The awaited mutation.
    pub pending: Option<Pending>,
    /// Status-bar message.
    pub flash: Option<Flash>,
    /// The last flash's text, for `!` after it has gone.
    pub last_message: Option<String>,
    /// Theme names and the current index.
    pub themes: (Vec<String>, usize),
    /// Set when the app should exit.
    pub quit: bool,
    /// Set when the app should suspend (Ctrl-Z).
    pub suspend: bool,
    /// Set when something visible changed since the last frame.
    pub dirty: bool,
    /// The minute last rendered, so ages refresh once a minute and no more.
    pub minute: Timestamp,
    /// When watched branches are next looked at.
    pub next_trigger_check: Timestamp,
    next_request: u64,
}

impl State {
    /// A fresh state.
    pub fn new(init: Init) -> State {
        let mut backlog = BacklogPane::default();
        match init.backlog {
            Ok((provider, interval)) => backlog.feed = Some(feed::Feed::new(&provider, interval)),
            Err(why) => backlog.missing = why,
        }
        backlog.sections = init.backlog_sections;
        let mut builds = builds::BuildsPane::default();
        if let Some((provider, pipelines)) = init.builds {
            builds.feed = Some(feed::Feed::new(&provider, init.builds_interval.max(1)));
            builds.pipelines = pipelines;
            builds.remote = init.builds_remote;
            builds.interval = init.builds_interval.max(1);
        }
        let deploys = deploys::DeploysPane {
            feed: (!init.targets.is_empty()).then(|| feed::Feed::new("local", 2)),
            configs: init.targets,
            ..Default::default()
        };
        State {
            builds,
            deploys,
            health: health::HealthPane {
                enabled: init.health,
                ..Default::default()
            },
            mute_hours: init.mute_hours,
            watches: init.watches,
            session: init.session,
            workspace: init.workspace,
            config_source: init.config_source,
            read_only: init.read_only,
            keymap: init.keymap,
            providers: init.providers,
            budgets: Vec::new(),
            size: init.size,
            focus: PaneId::Backlog,
            zoom: false,
            backlog,
            overlay: None,
            drafts: Vec::new(),
            pending: None,
            flash: None,
            last_message: None,
            themes: init.themes,
            quit: false,
            suspend: false,
            dirty: true,
            minute: 0,
            next_trigger_check: 0,
            next_request: 1,
        }
    }

    /// A new request id.
    pub fn request_id(&mut self) -> u64 {
        let id = self.next_request;
        self.next_request += 1;
        id
    }

    /// The current theme's name.
    pub fn theme_name(&self) -> &str {
        self.themes
            .0
            .get(self.themes.1)
            .map_or("default", String::as_str)
    }
}

/// Why a pane has nothing to show yet, in plain words.
pub fn not_configured(pane: PaneId) -> &'static str {
    match pane {
        PaneId::Backlog => "No backlog provider configured.",
        PaneId::Builds => {
            "Not configured: no pipelines.\n\nAdd [[pipelines]] to the config (see config.example.toml) to run local CI here. Or set [builds] provider to a github provider to see its Actions runs."
        }
        PaneId::Deploys => {
            "Not configured: no deploy target.\n\nAdd [[targets]] to the config (local-fleet, script, ansible or github-actions engine; see config.example.toml) to deploy from here."
        }
        PaneId::Health => {
            "Not configured: no health check.\n\nAdd [[checks]] to the config (HTTP probes, host metrics, /metrics scrapes, Prometheus queries, Alertmanager alerts; see config.example.toml) to watch them here and file incidents when they fail."
        }
    }
}
