//! Engines that own the hard logic, free of any UI: the mutation gate (and later deploys,
//! pipelines, incidents and forecasts).

pub mod deploy;
pub mod gate;
pub mod health;
pub mod incident;
pub mod pipeline;
