//! Training: Burn's `SupervisedTraining` and `Learner` wired to our loaders, metrics and
//! checkpointers; our epoch loop; what the user sees meanwhile (dashboard or plain lines);
//! Ctrl-C; resuming a run from its last checkpoint.

pub mod checkpoint;
pub mod interrupt;
pub mod pipeline;
pub mod renderer;
pub mod resume;
pub mod training_loop;

pub use pipeline::{TrainOptions, TrainReport, train};
pub use renderer::Dashboard;
