//! The run folder: where one training run's files live, how they are written (atomically),
//! and the records they hold.

pub mod folder;

pub use folder::*;
