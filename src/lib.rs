//! digits: train and inspect neural networks that read handwritten digits, on Burn.
//!
//! One path from the command line to a run folder: [`config`] → [`data`] ([`digit_set`]) →
//! [`model`] → [`training`] (Burn's Learner, stepped by [`training_loop`], rendered by
//! [`renderer`]) → [`run`].

pub mod backend;
pub mod checkpoint;
pub mod commands;
pub mod config;
pub mod data;
pub mod digit_set;
pub mod download;
pub mod error;
pub mod idx;
pub mod inference;
pub mod interrupt;
pub mod loader;
pub mod metrics;
pub mod model;
pub mod plots;
pub mod preprocess;
pub mod renderer;
pub mod resume;
pub mod run;
pub mod sample;
pub mod training;
pub mod training_loop;

pub use error::{Error, Result};
