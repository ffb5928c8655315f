//! A metric logger that keeps only each epoch's final values, in memory.
//!
//! Burn's default `FileMetricLogger` writes every metric of every batch to its own file
//! (`train/epoch-N/Loss.log`, ...): on this small network that cost 13 % of training speed
//! (measured with `digits bench`), for per-batch logs nobody reads — our `metrics.csv` has the
//! epoch values. Burn's event store still needs a logger to answer "which epoch had the best
//! validation loss" for its checkpointing; this one answers from the epoch values.

use std::collections::HashMap;

use burn::train::logger::MetricLogger;
use burn::train::metric::store::{EpochSummary, MetricsUpdate, Split};
use burn::train::metric::{MetricDefinition, MetricId, NumericEntry};

#[derive(Default)]
pub struct EpochMetricLogger {
    names: HashMap<MetricId, String>,
    /// (metric name, split, epoch) → the epoch's final value.
    finals: HashMap<(String, &'static str, usize), f64>,
}

impl EpochMetricLogger {
    pub fn new() -> Self {
        Self::default()
    }
}

impl MetricLogger for EpochMetricLogger {
    fn log(&mut self, update: MetricsUpdate, epoch: usize, split: &Split) {
        let split: &'static str = split.clone().into();
        for numeric in update.entries_numeric {
            if let (Some(NumericEntry::Final(value)), Some(name)) = (
                numeric.numeric_entry,
                self.names.get(&numeric.entry.metric_id),
            ) {
                self.finals.insert((name.clone(), split, epoch), value);
            }
        }
    }

    fn read_numeric(
        &mut self,
        name: &str,
        epoch: usize,
        split: &Split,
    ) -> Result<Vec<NumericEntry>, String> {
        let split: &'static str = split.clone().into();
        Ok(self
            .finals
            .get(&(name.to_string(), split, epoch))
            .map(|value| vec![NumericEntry::Final(*value)])
            .unwrap_or_default())
    }

    fn log_metric_definition(&mut self, definition: MetricDefinition) {
        self.names
            .insert(definition.metric_id, definition.name.to_string());
    }

    fn log_epoch_summary(&mut self, _summary: EpochSummary) {}
}
