//! Training: Burn's `SupervisedTraining` and `Learner` wired to our loaders, metrics and
//! checkpointers (`learner`), our epoch loop (`training_loop`) and its split of each batch
//! across several devices (`data_parallel`), what the user sees meanwhile
//! (`renderer`, and `results_screen` after it), Ctrl-C (`interrupt`), checkpoints and `--resume`; the whole run from config
//! to run folder (`pipeline`); and the studies built on it: `bench`, `compare` / sweep. The
//! optimizer and the schedule a config names (`optimizer`, `schedule`) build for the training
//! page too.

pub mod optimizer;
pub mod schedule;

#[cfg(not(target_arch = "wasm32"))]
pub mod bench;
#[cfg(not(target_arch = "wasm32"))]
pub mod checkpoint;
#[cfg(not(target_arch = "wasm32"))]
pub mod compare;
#[cfg(not(target_arch = "wasm32"))]
pub mod data_parallel;
#[cfg(not(target_arch = "wasm32"))]
pub mod early_stopping;
#[cfg(not(target_arch = "wasm32"))]
pub mod interrupt;
#[cfg(not(target_arch = "wasm32"))]
pub mod learner;
#[cfg(not(target_arch = "wasm32"))]
pub mod lr_find;
#[cfg(not(target_arch = "wasm32"))]
pub mod pipeline;
#[cfg(not(target_arch = "wasm32"))]
pub mod renderer;
#[cfg(not(target_arch = "wasm32"))]
pub mod results_screen;
#[cfg(not(target_arch = "wasm32"))]
pub mod resume;
#[cfg(not(target_arch = "wasm32"))]
pub mod series_plan;
#[cfg(not(target_arch = "wasm32"))]
pub mod training_loop;
#[cfg(not(target_arch = "wasm32"))]
pub mod written_out;

#[cfg(not(target_arch = "wasm32"))]
pub use pipeline::{TrainOptions, TrainReport, train};
#[cfg(not(target_arch = "wasm32"))]
pub use renderer::Dashboard;
