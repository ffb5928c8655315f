//! The digits: the IDX file format, where a run's digits come from (a folder, full MNIST in
//! Burn's cache or downloaded into it, the bundled sample), the shared pixel store its splits
//! are cut from (`Split`: train, valid, test), and the epoch loader that makes `[B, 784]`
//! batches of it. Only the IDX format's sizes are built for the web page.

pub mod augment;
pub mod digit_set;
pub mod idx;
pub mod origin;
pub mod seed;
pub mod split;
pub use digit_set::{DigitBatch, DigitImage, DigitSet};
pub use origin::{DataOrigin, SourceKind};
pub use split::Split;

#[cfg(not(target_arch = "wasm32"))]
pub mod download;
#[cfg(not(target_arch = "wasm32"))]
pub mod loader;
#[cfg(not(target_arch = "wasm32"))]
pub mod sample;
#[cfg(not(target_arch = "wasm32"))]
pub mod source;
#[cfg(not(target_arch = "wasm32"))]
pub use loader::EpochLoader;
#[cfg(not(target_arch = "wasm32"))]
pub use source::{DigitSplits, IdxFiles, load, load_test, locate};
