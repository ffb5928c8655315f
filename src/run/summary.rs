//! `summary.json`: what a run was (versions, backend, network size, data) and how it ended
//! (epochs done, interrupted or diverged, final scores, speed).

use serde::Serialize;

use crate::data::source::DataOrigin;
use crate::run::history::SplitRecord;

/// The Burn release digits is built and tested against (pinned exactly in Cargo.toml).
pub const BURN_VERSION: &str = "0.22.1";

/// Loss and accuracy (a fraction in 0..1) of one split.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Scores {
    pub loss: f64,
    pub accuracy: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct DatasetSummary {
    /// `source` (`folder`, `mnist`, `sample`), `path`, and `fallback` when the sample stood in
    /// for full MNIST.
    #[serde(flatten)]
    pub origin: DataOrigin,
    pub train: usize,
    pub valid: usize,
    pub test: usize,
}

/// `summary.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub digits_version: &'static str,
    pub burn_version: &'static str,
    pub backend: &'static str,
    /// The backend with its adapter, for GPUs.
    pub device: String,
    pub config: String,
    pub parameters: usize,
    pub epochs: usize,
    pub epochs_completed: usize,
    pub interrupted: bool,
    /// The training loss became NaN or infinite; training stopped there.
    pub diverged: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diverged_at: Option<DivergedAt>,
    pub dataset: DatasetSummary,
    pub train: Option<Scores>,
    pub valid: Option<Scores>,
    /// None when training diverged (the network is not worth testing).
    pub test: Option<Scores>,
    /// Training images per second over the train splits only (validation excluded).
    pub train_samples_per_second: f64,
    pub wall_seconds: f64,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct DivergedAt {
    pub epoch: usize,
    /// Training step within that epoch, 1-based.
    pub step: usize,
}

/// The last epoch's loss and accuracy of `split`.
pub fn last_scores(records: &[SplitRecord], split: &str) -> Option<Scores> {
    let record = records.iter().rev().find(|r| r.split == split)?;
    Some(Scores {
        loss: *record.metrics.get("loss")?,
        accuracy: *record.metrics.get("accuracy")?,
    })
}

/// Training images per second over every epoch's train split.
pub fn train_speed(records: &[SplitRecord]) -> f64 {
    let (items, seconds) = records
        .iter()
        .filter(|r| r.split == "train")
        .fold((0usize, 0.0f64), |(i, s), r| (i + r.items, s + r.seconds));
    if seconds > 0.0 {
        items as f64 / seconds
    } else {
        0.0
    }
}
