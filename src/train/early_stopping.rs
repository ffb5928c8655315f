//! `training.early_stopping` in Burn's loop: an `EarlyStoppingStrategy` and a
//! `CheckpointingStrategy` of our own, both judging from the run's own records (the epochs
//! before a `--resume` included), so a resumed run stops, and keeps, what the uninterrupted
//! one would have. Burn's `MetricEarlyStoppingStrategy` has no minimum change and reads only
//! the epochs of the current process from its event store; its metric checkpointing likewise.

use std::path::Path;

use burn::train::checkpoint::{CheckpointingAction, CheckpointingStrategy};
use burn::train::metric::store::EventStoreClient;
use burn::train::{EarlyStoppingStrategy, SupervisedTraining};

use crate::config::early_stopping::{EarlyStopping, Verdict};
use crate::data::Split;
use crate::error::{Error, Result};
use crate::model::Network;
use crate::run::history::{EpochHistory, SplitRecord};
use crate::run::summary::EarlyStopSummary;
use crate::train::checkpoint;

/// The `(epoch, value)` series of the rule's validation metric in `records`.
pub fn series(rule: &EarlyStopping, records: &[SplitRecord]) -> Vec<(usize, f64)> {
    records
        .iter()
        .filter(|r| r.split == Split::Valid)
        .filter_map(|r| Some((r.epoch, *r.metrics.get(rule.metric.column())?)))
        .collect()
}

/// The rule's verdict on a run: the records of earlier processes (`prior`) and this one's.
#[derive(Clone)]
struct Judge {
    rule: EarlyStopping,
    prior: Vec<SplitRecord>,
    history: EpochHistory,
}

impl Judge {
    fn verdict(&self) -> Option<Verdict> {
        let mut records = self.prior.clone();
        records.extend(self.history.records());
        self.rule.judge(&series(&self.rule, &records))
    }
}

#[derive(Clone)]
struct StopWhenStale(Judge);

impl EarlyStoppingStrategy for StopWhenStale {
    fn should_stop(&mut self, _epoch: usize, _store: &EventStoreClient) -> bool {
        match self.0.verdict() {
            Some(verdict) if verdict.stop => {
                self.0.history.record_early_stop(verdict);
                true
            }
            _ => false,
        }
    }
}

/// Keeps the last two epochs' checkpoints (for `--resume`, as Burn's default does) and the
/// best epoch's (the model the run ends with).
struct KeepLastAndBest {
    judge: Judge,
    /// The best epoch when the last checkpoint was saved.
    best: Option<usize>,
}

impl CheckpointingStrategy for KeepLastAndBest {
    fn checkpointing(
        &mut self,
        epoch: usize,
        _store: &EventStoreClient,
    ) -> Vec<CheckpointingAction> {
        let best = self.judge.verdict().map(|v| v.best_epoch);
        let mut actions = vec![CheckpointingAction::Save];
        let kept = |e: usize| Some(e) == best || e + 1 >= epoch;
        let previous_best = std::mem::replace(&mut self.best, best);
        let mut stale: Vec<usize> = [epoch.checked_sub(2), previous_best]
            .into_iter()
            .flatten()
            .filter(|&e| e > 0 && !kept(e))
            .collect();
        stale.dedup();
        actions.extend(stale.into_iter().map(CheckpointingAction::Delete));
        actions
    }
}

/// `training` with the rule's early stopping and checkpoints (the last two and the best; all
/// of them kept if `keep_all`); `prior`: the records of the epochs before a `--resume`.
pub fn with_early_stopping(
    training: SupervisedTraining<Network>,
    rule: EarlyStopping,
    keep_all: bool,
    prior: &[SplitRecord],
    history: EpochHistory,
) -> SupervisedTraining<Network> {
    let judge = Judge {
        rule,
        prior: prior.to_vec(),
        history,
    };
    let best = judge.verdict().map(|v| v.best_epoch);
    let training = match keep_all {
        true => training,
        false => training.with_checkpointing_strategy(KeepLastAndBest {
            judge: judge.clone(),
            best,
        }),
    };
    training.early_stopping(StopWhenStale(judge))
}

/// The network a run with early stopping ends with: the best epoch's, from its checkpoint
/// (`model` is the last epoch's), and what happened, for `summary.json` and the user.
pub fn best_model(
    rule: EarlyStopping,
    records: &[SplitRecord],
    stopped: bool,
    checkpoints: &Path,
    model: Network,
) -> Result<(Network, EarlyStopSummary)> {
    let verdict = rule.judge(&series(&rule, records));
    let last_epoch = records.iter().map(|r| r.epoch).max().unwrap_or(0);
    let (best_epoch, best_value) =
        verdict.map_or((last_epoch, f64::NAN), |v| (v.best_epoch, v.best_value));
    let model = match best_epoch == last_epoch {
        true => model,
        false => checkpoint::model_at(checkpoints, best_epoch, model).map_err(|why| {
            Error::Internal(format!(
                "early stopping kept epoch {best_epoch}'s checkpoint as the best, but it \
                 cannot be read back: {why}"
            ))
        })?,
    };
    let summary = EarlyStopSummary {
        metric: rule.metric.name().into(),
        patience: rule.patience,
        min_delta: rule.min_delta,
        best_epoch,
        best_value,
        stopped,
        last_epoch,
        model_epoch: best_epoch,
    };
    Ok((model, summary))
}

/// One line for the user: where the best epoch was and which network was kept.
pub fn describe(s: &EarlyStopSummary, epochs: usize) -> String {
    let best = format!(
        "the best {} was {:.4} at epoch {}",
        s.metric, s.best_value, s.best_epoch
    );
    match s.stopped {
        true => format!(
            "early stopping: no improvement for {} epochs, stopped after epoch {} of {epochs}; \
             {best}, and model.bpk is that epoch's network",
            s.patience, s.last_epoch
        ),
        false => format!("early stopping: {best}; model.bpk is that epoch's network"),
    }
}
