//! The history of a run: one record per finished split (train or valid) of each epoch, and
//! where training diverged, if it did. Filled in by the training's renderer and loop, written
//! to `metrics.csv` and `summary.json`, read back by `--resume`, plots and `compare`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::config::early_stopping::Verdict;
use crate::data::Split;

/// One finished split (train or valid) of one epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct SplitRecord {
    pub epoch: usize,
    pub split: Split,
    /// Epoch-level value of each metric, keyed by a column-friendly name (`loss`, `accuracy`,
    /// `learning_rate`). Accuracy is a fraction in 0..1 (Burn reports percent).
    pub metrics: BTreeMap<String, f64>,
    /// Images processed in this split.
    pub items: usize,
    pub seconds: f64,
}

impl SplitRecord {
    pub fn samples_per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.items as f64 / self.seconds
        } else {
            0.0
        }
    }
}

/// Where training blew up: the first training step whose loss was not a finite number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Divergence {
    pub epoch: usize,
    /// Step within the epoch, 1-based.
    pub step: usize,
    pub loss: f64,
}

/// The records of a run so far; cheap to clone, shared with the renderer's thread.
#[derive(Debug, Clone, Default)]
pub struct EpochHistory {
    records: Arc<Mutex<Vec<SplitRecord>>>,
    stopped_early: Arc<AtomicBool>,
    divergence: Arc<Mutex<Option<Divergence>>>,
    early_stop: Arc<Mutex<Option<Verdict>>>,
}

impl EpochHistory {
    pub fn records(&self) -> Vec<SplitRecord> {
        self.records.lock().expect("history lock").clone()
    }

    pub fn push(&self, record: SplitRecord) {
        self.records.lock().expect("history lock").push(record);
    }

    /// Whether training was stopped before its last epoch (dashboard `q`, `s`, or another
    /// interrupter). Recorded here because Burn's dashboard resets the interrupter when
    /// training ends, so `LearningResult::interrupted` comes back empty.
    pub fn stopped_early(&self) -> bool {
        self.stopped_early.load(Ordering::Relaxed)
    }

    /// Records that training was stopped before its last epoch.
    pub fn mark_stopped_early(&self) {
        self.stopped_early.store(true, Ordering::Relaxed);
    }

    /// The divergence that stopped training, if it diverged.
    pub fn divergence(&self) -> Option<Divergence> {
        *self.divergence.lock().expect("history lock")
    }

    /// Where early stopping (`training.early_stopping`) stopped training, if it did.
    pub fn early_stop(&self) -> Option<Verdict> {
        *self.early_stop.lock().expect("history lock")
    }

    /// Records that early stopping stopped training.
    pub fn record_early_stop(&self, verdict: Verdict) {
        *self.early_stop.lock().expect("history lock") = Some(verdict);
    }

    /// Records where training diverged; the first record stands.
    pub fn record_divergence(&self, divergence: Divergence) {
        self.divergence
            .lock()
            .expect("history lock")
            .get_or_insert(divergence);
    }
}

/// Column names of the gradient metrics (see `metrics::grad_norm`).
pub const GRAD_NORM_PREFIX: &str = "grad_norm_";
pub const GRAD_RATIO: &str = "grad_ratio";
