//! The commands besides `train` (which is `pipeline::train`), one file each.

pub mod bench;
pub mod compare;
pub mod eval;
pub mod plot;
pub mod predict;
pub mod summary;
