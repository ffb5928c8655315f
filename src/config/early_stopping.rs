//! `training.early_stopping`: stop training once the validation metric has stopped improving,
//! and keep the best epoch's network.

use serde::{Deserialize, Serialize};

/// Stop when `metric` has not improved by more than `min_delta` for `patience` epochs. The
/// run's `model.bpk` is then the best epoch's network, not the last one.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EarlyStopping {
    pub metric: StopMetric,
    /// Epochs without improvement after which training stops.
    pub patience: usize,
    /// The least change that counts as an improvement, in the metric's unit as metrics.csv
    /// writes it (a loss; an accuracy as a fraction: 0.001 is 0.1 percentage point).
    pub min_delta: f64,
}

impl Default for EarlyStopping {
    fn default() -> Self {
        EarlyStopping {
            metric: StopMetric::ValidLoss,
            patience: 3,
            min_delta: 0.0,
        }
    }
}

/// The validation metric early stopping watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopMetric {
    ValidLoss,
    ValidAccuracy,
}

impl StopMetric {
    /// The name a config gives it.
    pub fn name(self) -> &'static str {
        match self {
            StopMetric::ValidLoss => "valid_loss",
            StopMetric::ValidAccuracy => "valid_accuracy",
        }
    }

    /// Its column among a validation record's metrics.
    pub fn column(self) -> &'static str {
        match self {
            StopMetric::ValidLoss => "loss",
            StopMetric::ValidAccuracy => "accuracy",
        }
    }

    fn lower_is_better(self) -> bool {
        self == StopMetric::ValidLoss
    }
}

/// Where a run stands, by its rule: its best epoch so far and whether to stop now.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub best_epoch: usize,
    pub best_value: f64,
    /// The last epoch judged.
    pub epoch: usize,
    pub stop: bool,
}

impl EarlyStopping {
    /// The verdict on a run's `(epoch, value)` series of the metric, oldest first (None while
    /// it is empty or holds no number). A function of the series alone, so a resumed run
    /// decides as the uninterrupted one would have.
    pub fn judge(&self, series: &[(usize, f64)]) -> Option<Verdict> {
        let mut best: Option<(usize, f64)> = None;
        for &(epoch, value) in series {
            let better = match best {
                None => value.is_finite(),
                Some((_, b)) if self.metric.lower_is_better() => value < b - self.min_delta,
                Some((_, b)) => value > b + self.min_delta,
            };
            if better {
                best = Some((epoch, value));
            }
        }
        let (best_epoch, best_value) = best?;
        let epoch = series.last()?.0;
        Some(Verdict {
            best_epoch,
            best_value,
            epoch,
            stop: epoch - best_epoch >= self.patience,
        })
    }

    pub(super) fn validate(&self) -> Result<(), String> {
        if self.patience == 0 {
            return Err(
                "key `training.early_stopping.patience` must be at least 1 epoch \
                        without improvement"
                    .into(),
            );
        }
        if !(self.min_delta.is_finite() && self.min_delta >= 0.0) {
            return Err(format!(
                "key `training.early_stopping.min_delta` = {} must be 0 or more (the least \
                 change that counts as an improvement)",
                self.min_delta
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(values: &[f64]) -> Vec<(usize, f64)> {
        values
            .iter()
            .enumerate()
            .map(|(i, &v)| (i + 1, v))
            .collect()
    }

    #[test]
    fn it_stops_after_patience_epochs_without_improvement() {
        let rule = EarlyStopping {
            patience: 2,
            ..EarlyStopping::default()
        };
        let losses = [0.9, 0.5, 0.4, 0.45, 0.41, 0.6];
        let verdicts: Vec<bool> = (1..=losses.len())
            .map(|n| rule.judge(&series(&losses[..n])).unwrap().stop)
            .collect();
        assert_eq!(verdicts, [false, false, false, false, true, true]);
        let last = rule.judge(&series(&losses)).unwrap();
        assert_eq!((last.best_epoch, last.best_value, last.epoch), (3, 0.4, 6));
        assert_eq!(rule.judge(&[]), None);
    }

    #[test]
    fn small_changes_and_the_direction_follow_the_metric() {
        let rule = EarlyStopping {
            metric: StopMetric::ValidAccuracy,
            patience: 1,
            min_delta: 0.01,
        };
        // 0.905 is not 0.01 above 0.9: no improvement; 0.95 is.
        let v = rule.judge(&series(&[0.9, 0.905])).unwrap();
        assert_eq!((v.best_epoch, v.stop), (1, true));
        let v = rule.judge(&series(&[0.9, 0.95])).unwrap();
        assert_eq!((v.best_epoch, v.stop), (2, false));
        // A loss of NaN never improves.
        let loss = EarlyStopping::default();
        assert_eq!(loss.judge(&series(&[f64::NAN])), None);
        assert_eq!(loss.judge(&series(&[0.5, f64::NAN])).unwrap().best_epoch, 1);
    }
}
