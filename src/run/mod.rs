//! The run folder: where one training run's files live and how they are written (atomically),
//! its history (a record per epoch and split, and where it diverged), `metrics.csv` and
//! `summary.json`. Read by training, `--resume`, inspection and `compare`.

pub mod folder;
pub mod history;
pub mod metrics_csv;
pub mod summary;
pub mod tensorboard;

pub use folder::{
    lock,
    CHECKPOINT_FOLDER, CONFIG_FILE, METRICS_FILE, MODEL_FILE, RunFolder, SUMMARY_FILE, write_atomic,
};
pub use history::{Divergence, EpochHistory, SplitRecord};
pub use metrics_csv::{metrics_csv, read_metrics_csv};
pub use summary::{Scores, Summary};
