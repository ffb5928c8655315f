//! `summary.json`: what a run was (versions, backend, network size, data) and how it ended
//! (epochs done, interrupted or diverged, final scores, speed).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

use crate::data::Split;
use crate::data::origin::DataOrigin;
use crate::run::history::SplitRecord;

/// The Burn release digits is built and tested against (pinned exactly in Cargo.toml).
pub const BURN_VERSION: &str = "0.22.1";
/// This digits' version (the training page's module is built from the same crate).
pub const DIGITS_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Loss and accuracy (a fraction in 0..1) of one split.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    #[serde(deserialize_with = "number_or_nan")]
    pub loss: f64,
    #[serde(deserialize_with = "number_or_nan")]
    pub accuracy: f64,
}

/// Runs written before `training.devices` existed trained on one.
fn one_device() -> usize {
    1
}

/// JSON has no NaN: serde_json writes a diverged run's NaN loss as `null`; read it back so.
fn number_or_nan<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(deserializer)?.unwrap_or(f64::NAN))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub digits_version: String,
    pub burn_version: String,
    pub backend: String,
    /// The backend with its adapter, for GPUs.
    pub device: String,
    /// How many devices each batch was split across (`training.devices`).
    #[serde(default = "one_device")]
    pub devices: usize,
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
    /// The process's peak resident memory over the whole run (training, the test evaluation,
    /// the pictures), in MB (Linux's VmHWM; null elsewhere). `compare` and `sweep` start a
    /// process per run, so it is this run's own.
    #[serde(default)]
    pub peak_rss_mb: Option<f64>,
    pub wall_seconds: f64,
    /// Set when the config has `training.early_stopping`: where the best epoch was, whether
    /// training stopped early, and which epoch's network `model.bpk` holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub early_stopping: Option<EarlyStopSummary>,
    /// Set for a run made by `digits import` from another tool's weights (no training).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported_from: Option<ImportedFrom>,
}

/// What early stopping did in a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EarlyStopSummary {
    /// `valid_loss` or `valid_accuracy`.
    pub metric: String,
    pub patience: usize,
    pub min_delta: f64,
    /// The epoch with the best value of the metric, and that value.
    pub best_epoch: usize,
    pub best_value: f64,
    /// Whether training stopped before its last epoch; `last_epoch` is where.
    pub stopped: bool,
    pub last_epoch: usize,
    /// The epoch whose network `model.bpk` holds: the best one.
    pub model_epoch: usize,
}

/// Where an imported run's weights came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportedFrom {
    /// The file, as an absolute path.
    pub file: String,
    /// `safetensors` or `pytorch`.
    pub format: String,
    /// The entry of a checkpoint dictionary the weights were read from (`--key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The `--rename` options the file's tensor names were mapped with.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub renames: Vec<String>,
}

impl Summary {
    /// Reads a run's `summary.json` back.
    pub fn read(path: &Path) -> Result<Summary> {
        let bytes = std::fs::read(path).map_err(|e| Error::io("cannot read", path, e))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| Error::data(path, format!("is not a digits summary.json: {e}")))
    }
}

/// This process's peak resident memory so far, in MB: VmHWM from /proc/self/status (Linux).
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct DivergedAt {
    pub epoch: usize,
    /// Training step within that epoch, 1-based.
    pub step: usize,
}

/// The last epoch's loss and accuracy of `split`.
pub fn last_scores(records: &[SplitRecord], split: Split) -> Option<Scores> {
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
        .filter(|r| r.split == Split::Train)
        .fold((0usize, 0.0f64), |(i, s), r| (i + r.items, s + r.seconds));
    if seconds > 0.0 {
        items as f64 / seconds
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nan_score_written_as_null_reads_back_as_nan() {
        let json = serde_json::to_string(&Scores {
            loss: f64::NAN,
            accuracy: 0.1,
        })
        .unwrap();
        assert_eq!(json, r#"{"loss":null,"accuracy":0.1}"#);
        let back: Scores = serde_json::from_str(&json).unwrap();
        assert!(back.loss.is_nan() && back.accuracy == 0.1);
    }
}
