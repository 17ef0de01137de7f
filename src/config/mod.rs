//! Configuration: TOML, resolved from the flag, the environment, the repo or the user's config dir.

pub mod check;
mod entries;
mod error;
pub mod http;
pub mod pipeline;
pub mod target;
mod trust;
mod validate;

pub use check::{CheckConfig, CheckKind};
pub use error::ConfigError;
pub use pipeline::{PipelineConfig, StepConfig};
pub use target::{EngineKind, TargetConfig};

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The environment variable naming a config file.
pub const CONFIG_ENV: &str = "FLIGHTDECK_CONFIG";
/// The repo-local config file name.
pub const REPO_FILE: &str = "flightdeck.toml";
/// Provider call timeout when a provider does not set one.
pub const DEFAULT_TIMEOUT_SECS: u64 = 10;

/// The whole config file.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Shown in the status bar; also names the store file.
    #[serde(default = "default_workspace")]
    pub workspace: String,
    /// Look and feel.
    #[serde(default)]
    pub ui: UiConfig,
    /// Key bindings by action name; each replaces that action's default keys.
    #[serde(default)]
    pub keys: BTreeMap<String, KeyList>,
    /// Which provider feeds the backlog pane, and how often it refreshes.
    #[serde(default)]
    pub backlog: PaneConfig,
    /// Which provider feeds the builds pane (default: local pipelines).
    #[serde(default)]
    pub builds: PaneConfig,
    /// Provider clients.
    #[serde(default)]
    pub providers: Vec<ProviderConfig>,
    /// Local pipelines.
    #[serde(default)]
    pub pipelines: Vec<PipelineConfig>,
    /// Deploy targets.
    #[serde(default)]
    pub targets: Vec<TargetConfig>,
    /// Health checks.
    #[serde(default)]
    pub checks: Vec<CheckConfig>,
    /// The incident loop.
    #[serde(default)]
    pub incidents: IncidentsConfig,
    /// Defaults for every HTTP client but GitHub's.
    #[serde(default)]
    pub http: http::HttpDefaults,
}

/// `[incidents]`: where the incident loop files and how it resolves.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IncidentsConfig {
    /// File incidents at all (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Close an incident when its check recovers (default true; false only comments).
    #[serde(default = "yes")]
    pub close_on_recovery: bool,
    /// Hours a dismissal mutes its key (default 24).
    pub mute_hours: Option<u64>,
}

fn yes() -> bool {
    true
}

impl Default for IncidentsConfig {
    fn default() -> Self {
        IncidentsConfig {
            enabled: true,
            close_on_recovery: true,
            mute_hours: None,
        }
    }
}

fn default_workspace() -> String {
    "default".into()
}

impl Default for Config {
    fn default() -> Self {
        Config {
            workspace: default_workspace(),
            ui: UiConfig::default(),
            keys: BTreeMap::new(),
            backlog: PaneConfig::default(),
            builds: PaneConfig::default(),
            providers: Vec::new(),
            pipelines: Vec::new(),
            targets: Vec::new(),
            checks: Vec::new(),
            incidents: IncidentsConfig::default(),
            http: http::HttpDefaults::default(),
        }
    }
}

/// `[ui]`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct UiConfig {
    /// Theme name (bundled or from the config dir's `themes/`).
    pub theme: Option<String>,
    /// Mouse support; off by default so the terminal's own selection keeps working.
    #[serde(default)]
    pub mouse: bool,
}

/// `[backlog]` and, later, the other panes.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PaneConfig {
    /// Provider id; default: the built-in local store.
    pub provider: Option<String>,
    /// Seconds between refreshes.
    pub refresh_secs: Option<u64>,
}

/// One key or several.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum KeyList {
    /// `quit = "q"`.
    One(String),
    /// `quit = ["q", "ctrl-c"]`.
    Many(Vec<String>),
}

impl KeyList {
    /// The keys as a slice-like list.
    pub fn keys(&self) -> Vec<&str> {
        match self {
            KeyList::One(k) => vec![k.as_str()],
            KeyList::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

/// Provider kinds the config may name.
#[derive(Clone, Copy, Debug, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// The embedded SQLite store.
    Local,
    /// GitHub or GitHub Enterprise.
    Github,
    /// A Prometheus server.
    Prometheus,
    /// An Alertmanager.
    Alertmanager,
}

impl ProviderKind {
    /// The config name.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Local => "local",
            ProviderKind::Github => "github",
            ProviderKind::Prometheus => "prometheus",
            ProviderKind::Alertmanager => "alertmanager",
        }
    }
}

/// `[[providers]]`.
#[derive(Clone, Debug, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// Unique id, referenced by panes.
    pub id: String,
    /// What it talks to.
    pub kind: ProviderKind,
    /// `local`: the SQLite file; default: the workspace store in the state dir.
    pub path: Option<PathBuf>,
    /// `github`: `owner/name` repositories.
    #[serde(default)]
    pub repos: Vec<String>,
    /// `github`: API base URL.
    pub api_url: Option<String>,
    /// `github`: the environment variable holding the token.
    pub token_env: Option<String>,
    /// `github`: a command (argv, no shell) that prints the token; tried first.
    pub token_cmd: Option<Vec<String>>,
    /// `github`: the label that marks incidents (default `incident`).
    pub incident_label: Option<String>,
    /// `github`: only runs of these branches (default: every branch).
    #[serde(default)]
    pub branches: Vec<String>,
    /// `github`: backlog sections, each a GitHub issue search within the repos.
    #[serde(default)]
    pub sections: Vec<SectionConfig>,
    /// `prometheus`, `alertmanager`: base URL.
    pub url: Option<String>,
    /// Seconds before a call is abandoned.
    pub timeout_secs: Option<u64>,
    /// TLS for `prometheus` and `alertmanager` (`ca_file`, `cert_file`, `key_file`, `server_name`, `insecure_skip_verify`).
    pub tls: Option<http::TlsConfig>,
    /// Credentials (`bearer_env` | `bearer_file` | `bearer_cmd`, or `basic_user` and a password source).
    pub auth: Option<http::AuthConfig>,
    /// Extra request headers; a value may be `{ env = "NAME" }`.
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, http::HeaderValue>,
    /// Reuse connections between requests (default false).
    pub keep_alive: Option<bool>,
}

impl ProviderConfig {
    /// Its HTTP keys.
    pub fn http(&self) -> http::HttpLayer<'_> {
        http::HttpLayer::of(&self.tls, &self.auth, &self.headers, self.keep_alive)
    }

    /// The call timeout.
    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS).max(1))
    }
}

/// `sections = [{ name = "Mine", query = "is:open assignee:@me" }]`.
#[derive(Clone, Debug, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SectionConfig {
    /// Shown as the section's tab.
    pub name: String,
    /// A GitHub issue search (`repo:` qualifiers for the provider's repos are added).
    pub query: String,
}

/// Where the config came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigSource {
    /// `--config FILE`.
    Flag(PathBuf),
    /// `$FLIGHTDECK_CONFIG`.
    Env(PathBuf),
    /// `./flightdeck.toml`.
    Repo(PathBuf),
    /// The user's config dir.
    User(PathBuf),
    /// No config: the built-in demo workspace.
    Demo,
}

impl ConfigSource {
    /// The file, if there is one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            ConfigSource::Flag(p)
            | ConfigSource::Env(p)
            | ConfigSource::Repo(p)
            | ConfigSource::User(p) => Some(p),
            ConfigSource::Demo => None,
        }
    }
}

impl fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigSource::Flag(p) => write!(f, "--config {}", p.display()),
            ConfigSource::Env(p) => write!(f, "${CONFIG_ENV} {}", p.display()),
            ConfigSource::Repo(p) | ConfigSource::User(p) => write!(f, "{}", p.display()),
            ConfigSource::Demo => f.write_str("built-in demo (no config)"),
        }
    }
}

/// A parsed config with where it came from and its text (for error locations).
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The config.
    pub config: Config,
    /// Where it came from.
    pub source: ConfigSource,
    /// The file's text, for locating keys in later errors.
    pub text: String,
}

impl Loaded {
    /// The built-in demo workspace.
    pub fn demo() -> Loaded {
        Loaded {
            config: Config {
                workspace: "demo".into(),
                ..Config::default()
            },
            source: ConfigSource::Demo,
            text: String::new(),
        }
    }

    /// An error about `key` of the `[[table]]` entry that mentions `near` (its name, or the
    /// value at fault), located on that entry's line when it can be found.
    pub fn error_near(&self, table: &str, key: &str, near: &str, message: String) -> ConfigError {
        let mut e = self.error_at(table, key, message);
        if let (Some(at), ConfigError::Invalid { line, column, .. }) =
            (error::locate_near(&self.text, table, key, near), &mut e)
        {
            (*line, *column) = at;
        }
        e
    }

    /// An error about `key` in entry `index` of `[[table]]`, located by toml's spans; the
    /// key is named by its whole path (`targets.strategy.batch_size`).
    pub fn error_in(&self, table: &str, index: usize, key: &str, message: String) -> ConfigError {
        let mut e = self.error_at(table, key, message);
        if let (
            Some((l, c, path)),
            ConfigError::Invalid {
                line,
                column,
                key: k,
                ..
            },
        ) = (
            error::locate_entry(&self.text, table, Some(index), key),
            &mut e,
        ) {
            (*line, *column) = (l, c);
            if !path.is_empty() {
                *k = format!("{table}.{path}");
            }
        }
        e
    }

    /// An error about `key` inside `[table]`, located in the file when it can be found.
    pub fn error_at(&self, table: &str, key: &str, message: String) -> ConfigError {
        let (line, column) = error::locate(&self.text, table, key)
            .or_else(|| error::locate_entry(&self.text, table, None, key).map(|(l, c, _)| (l, c)))
            .unwrap_or((0, 0));
        ConfigError::Invalid {
            path: self
                .source
                .path()
                .map(Path::to_path_buf)
                .unwrap_or_default(),
            line,
            column,
            key: if table.is_empty() {
                key.to_string()
            } else {
                format!("{table}.{key}")
            },
            message,
        }
    }
}

/// Finds the config: `--config`, `$FLIGHTDECK_CONFIG`, `./flightdeck.toml`, the user's
/// config dir, else the demo workspace.
pub fn resolve(flag: Option<&Path>) -> Result<Loaded, ConfigError> {
    if let Some(p) = flag {
        return load(ConfigSource::Flag(p.to_path_buf()));
    }
    if let Some(p) = std::env::var_os(CONFIG_ENV).filter(|v| !v.is_empty()) {
        return load(ConfigSource::Env(PathBuf::from(p)));
    }
    let repo = PathBuf::from(REPO_FILE);
    if repo.is_file() {
        return load(ConfigSource::Repo(repo));
    }
    if let Some(dir) = crate::paths::config_dir() {
        let user = dir.join("config.toml");
        if user.is_file() {
            return load(ConfigSource::User(user));
        }
    }
    Ok(Loaded::demo())
}

/// Reads and parses the file behind `source`.
pub fn load(source: ConfigSource) -> Result<Loaded, ConfigError> {
    let path = source.path().map(Path::to_path_buf).unwrap_or_default();
    let text = trust::read_trusted(&path)?;
    let config = parse(&path, &text)?;
    Ok(Loaded {
        config,
        source,
        text,
    })
}

/// Parses config text; `path` only labels errors.
pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
    let mut config: Config = toml::from_str(text).map_err(|e| error::from_toml(path, text, &e))?;
    // A github-actions target deploys one environment: it is the target's one node.
    for t in &mut config.targets {
        if t.engine == EngineKind::GithubActions && t.nodes.is_empty() {
            t.nodes = vec![t.environment.clone()];
        }
    }
    // Files named by `tls` and `auth` are relative to the config file.
    let base = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| std::env::current_dir().unwrap_or_default());
    http::absolutize(config.http.tls.as_mut(), config.http.auth.as_mut(), &base);
    for c in &mut config.checks {
        http::absolutize(c.tls.as_mut(), c.auth.as_mut(), &base);
    }
    for p in &mut config.providers {
        http::absolutize(p.tls.as_mut(), p.auth.as_mut(), &base);
    }
    for t in &mut config.targets {
        http::absolutize(t.tls.as_mut(), t.auth.as_mut(), &base);
        for g in &mut t.smoke {
            http::absolutize(g.tls.as_mut(), g.auth.as_mut(), &base);
        }
    }
    let loaded = Loaded {
        config,
        source: ConfigSource::Flag(path.to_path_buf()),
        text: text.to_string(),
    };
    entries::validate(&loaded)?;
    Ok(loaded.config)
}

#[cfg(test)]
mod tests;
