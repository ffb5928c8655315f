//! digits: train and inspect neural networks that read handwritten digits, on Burn.
//!
//! One path from the command line to a run folder: [`config`] → [`data`] → [`model`] →
//! [`train`] (Burn's Learner, stepped by our loop) → [`run`]; [`inspect`] reads a finished run.
//!
//! The layers and the rule their imports follow are mapped once, in `docs/ARCHITECTURE.md`
//! (`tests/layout.rs` checks the rule).

/// Items the web page's WebAssembly build (`web/`) leaves out: the command line, training and
/// everything that touches files, terminals or threads. The network, its config and how a
/// picture becomes its input build everywhere.
macro_rules! off_the_web {
    ($($item:item)*) => { $( #[cfg(not(target_arch = "wasm32"))] $item )* };
}

pub mod config;
pub mod data;
pub mod error;
pub mod inspect;
pub mod model;
pub mod run;
pub mod train;

off_the_web! {
    pub mod backend;
    pub mod backprop;
    pub mod commands;
    pub mod interop;
    pub mod metrics;
    pub mod remote;
    pub mod report;
    pub mod terminal;
}

pub use error::{Error, Result};
