//! digits: train and inspect neural networks that read handwritten digits, on Burn.
//!
//! One path from the command line to a run folder: [`config`] → [`data`] → [`model`] →
//! [`train`] (Burn's Learner, stepped by our loop) → [`run`]; [`inspect`] reads a finished run.
//!
//! The layers and the rule their imports follow are mapped once, in `docs/ARCHITECTURE.md`
//! (`tests/layout.rs` checks the rule).

pub mod config;
pub mod data;
pub mod error;
pub mod inspect;
pub mod model;
pub mod run;
pub mod train;

// What the web page's WebAssembly build (`web/`) leaves out, here and in the modules: the
// command line, training and everything that touches files, terminals or threads (the network,
// its config and how a picture becomes its input build everywhere). One `cfg` an item, not a
// macro around them: rustfmt does not format the modules a macro call declares.
#[cfg(not(target_arch = "wasm32"))]
pub mod backend;
#[cfg(not(target_arch = "wasm32"))]
pub mod backprop;
#[cfg(not(target_arch = "wasm32"))]
pub mod commands;
#[cfg(not(target_arch = "wasm32"))]
pub mod interop;
#[cfg(not(target_arch = "wasm32"))]
pub mod metrics;
#[cfg(not(target_arch = "wasm32"))]
pub mod remote;
#[cfg(not(target_arch = "wasm32"))]
pub mod report;
#[cfg(not(target_arch = "wasm32"))]
pub mod terminal;

pub use error::{Error, Result};
