//! Health: sources (HTTP probes, host metrics, `/metrics` scrapes, Prometheus, Alertmanager),
//! rules (thresholds, `for`, flap damping), forecasts, and the monitor that runs them on their
//! intervals and drives the incident loop.

pub mod forecast;
pub mod host;
pub mod monitor;
pub mod promtext;
pub mod remedy;
pub mod rules;
pub mod silence;
pub mod sources;
pub mod spec;

pub use monitor::Monitor;
pub use spec::Spec;
