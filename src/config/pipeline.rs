//! `[[pipelines]]`: local CI whose steps run as real processes.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// Step timeout when a step does not set one (30 minutes).
pub const DEFAULT_STEP_TIMEOUT_SECS: u64 = 1800;

/// One pipeline.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// Unique name (`flightdeck run NAME`).
    pub name: String,
    /// Working directory for every step; relative paths are from the config file's directory.
    pub dir: Option<PathBuf>,
    /// Environment variables for every step.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// The steps, run in order; the first failure stops the run.
    pub steps: Vec<StepConfig>,
    /// A file a step produces; a successful run records it as a release.
    pub artifact: Option<ArtifactConfig>,
    /// What starts the pipeline besides a person.
    #[serde(default)]
    pub on: TriggerConfig,
}

/// One step.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct StepConfig {
    /// Shown in the run detail.
    pub name: String,
    /// The command as an argv array (no shell involved).
    pub run: Option<Vec<String>>,
    /// Or a script for `sh -c`; values reach it as environment variables, never spliced in.
    pub script: Option<String>,
    /// Extra environment for this step.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Working directory for this step, relative to the pipeline's.
    pub dir: Option<PathBuf>,
    /// Seconds before the step's whole process group is killed.
    pub timeout_secs: Option<u64>,
    /// JUnit XML files the step writes, relative to its working directory; globs work
    /// (`target/**/TEST-*.xml`). Files older than the step are ignored.
    #[serde(default)]
    pub junit: Vec<PathBuf>,
}

impl StepConfig {
    /// The argv to execute: `run`, or `sh -c SCRIPT`.
    pub fn argv(&self) -> Vec<String> {
        match (&self.run, &self.script) {
            (Some(argv), _) => argv.clone(),
            (None, Some(script)) => vec!["sh".into(), "-c".into(), script.clone()],
            (None, None) => Vec::new(),
        }
    }

    /// The step timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(
            self.timeout_secs
                .unwrap_or(DEFAULT_STEP_TIMEOUT_SECS)
                .max(1),
        )
    }
}

/// `artifact = { step = "package", path = "dist/app.tar.gz" }`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ArtifactConfig {
    /// The step that produces it (default: the last step).
    pub step: Option<String>,
    /// The file, relative to the pipeline's working directory.
    pub path: PathBuf,
}

/// `on = { manual = true, branch = "main" }`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TriggerConfig {
    /// Whether a person may start it (default true).
    #[serde(default = "yes")]
    pub manual: bool,
    /// Run on each new commit of this branch of the workspace's git repository.
    pub branch: Option<String>,
}

fn yes() -> bool {
    true
}

impl Default for TriggerConfig {
    fn default() -> Self {
        TriggerConfig {
            manual: true,
            branch: None,
        }
    }
}

/// Checks one pipeline; the error names the key at fault and says what is wrong.
pub(super) fn validate(p: &PipelineConfig) -> Result<(), (&'static str, String)> {
    if p.name.trim().is_empty() {
        return Err(("name", "must not be empty".into()));
    }
    if p.steps.is_empty() {
        return Err(("steps", format!("pipeline {:?} has no steps", p.name)));
    }
    for s in &p.steps {
        match (&s.run, &s.script) {
            (Some(_), Some(_)) => {
                return Err((
                    "run",
                    format!("step {:?} has both `run` and `script`; keep one", s.name),
                ));
            }
            (None, None) => {
                return Err(("run", format!("step {:?} needs `run` or `script`", s.name)));
            }
            (Some(argv), None) if argv.is_empty() => {
                return Err(("run", format!("step {:?} has an empty `run`", s.name)));
            }
            _ => {}
        }
    }
    if let Some(a) = &p.artifact
        && let Some(step) = &a.step
        && !p.steps.iter().any(|s| &s.name == step)
    {
        return Err((
            "step",
            format!(
                "artifact names step {step:?}, which pipeline {:?} does not have",
                p.name
            ),
        ));
    }
    Ok(())
}
