//! digits: train and inspect neural networks that read handwritten digits, on Burn.
//!
//! One path from the command line to a run folder: [`config`] → [`data`] → [`model`] →
//! [`train`] (Burn's Learner, stepped by our loop) → [`run`]; [`inspect`] reads a finished run.
//!
//! The layers and the rule their imports follow are mapped once, in `docs/ARCHITECTURE.md`
//! (`tests/layout.rs` checks the rule).

pub mod backend;
pub mod backprop;
pub mod commands;
pub mod config;
pub mod data;
pub mod error;
pub mod inspect;
pub mod interop;
pub mod metrics;
pub mod model;
pub mod remote;
pub mod report;
pub mod run;
pub mod terminal;
pub mod train;

pub use error::{Error, Result};
