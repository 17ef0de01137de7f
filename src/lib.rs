//! flightdeck: a terminal cockpit for the whole DevOps loop.
#![forbid(unsafe_code)]

pub mod app;
pub mod browser;
pub mod cli;
pub mod config;
pub mod demo;
pub mod domain;
pub mod engine;
pub mod headless;
pub mod http;
pub mod logging;
pub mod paths;
pub mod providers;
pub mod runtime;
pub mod scheduler;
pub mod secret;
pub mod store;
pub mod terminal;
pub mod theme;
pub mod ui;
pub mod watch;
pub mod workspace;
