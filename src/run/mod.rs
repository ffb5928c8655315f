//! The run folder: where one training run's files live and how they are written (atomically),
//! its history (a record per epoch and split, and where it diverged), `metrics.csv` and
//! `summary.json`. Read by training, `--resume`, inspection and `compare`;
//! the training page writes its history, `metrics.csv` and `summary.json` with the same code.

pub mod history;
pub mod metrics_csv;
pub mod summary;
pub use history::{Divergence, EpochHistory, SplitRecord};
pub use metrics_csv::{metrics_csv, read_metrics_csv};
pub use summary::{Scores, Summary};

#[cfg(not(target_arch = "wasm32"))]
pub mod folder;
#[cfg(not(target_arch = "wasm32"))]
pub mod tensorboard;
#[cfg(not(target_arch = "wasm32"))]
pub use folder::{
    CHECKPOINT_FOLDER, CONFIG_FILE, METRICS_FILE, MODEL_FILE, RunFolder, SUMMARY_FILE, lock,
    scratch_path, write_atomic,
};
