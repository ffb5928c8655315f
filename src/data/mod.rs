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

off_the_web! {
    pub mod download;
    pub mod loader;
    pub mod sample;
    pub mod source;
    pub use loader::EpochLoader;
    pub use source::{DigitSplits, IdxFiles, load, load_test, locate};
}
