//! digits: train and inspect neural networks that read handwritten digits, on Burn.
//!
//! One path from the command line to a run folder: [`config`] → [`data`] → [`model`] →
//! [`train`] (Burn's Learner, stepped by our loop) → [`run`]; [`inspect`] reads a finished run.
//!
//! Layers, each importing only its own and lower ones (`tests/layout.rs` checks it, and that
//! no files import each other around a ring):
//!
//! 1. [`commands`]: one file per command, its arguments and its run (`main.rs` dispatches);
//! 2. [`train`] and [`inspect`]: training a run, and looking into a trained one;
//! 3. [`run`] (the run folder and its records), [`model`], [`metrics`], [`data`];
//! 4. [`config`], [`backend`] and [`remote`] (the only places a device is built), [`error`].

pub mod backend;
pub mod commands;
pub mod config;
pub mod data;
pub mod error;
pub mod inspect;
pub mod metrics;
pub mod model;
pub mod remote;
pub mod run;
pub mod train;

pub use error::{Error, Result};
