//! The learning-rate range test (Smith, 2015, "Cyclical Learning Rates for Training Neural
//! Networks"; PyTorch Lightning's and fastai's `lr_find`): train a fresh network on the
//! config's training split while the rate grows exponentially from very small to very large,
//! one step per batch, and record the loss. The loss falls once the rate is large enough to
//! learn, then rises and explodes; a good rate lies on the steep part of the fall.
//!
//! The rate comes from [`GrowingLr`], a scheduler of our own through Burn's public
//! `LrScheduler` trait: Burn 0.22.1's exponential scheduler refuses growth factors above 1.

use burn::data::dataloader::DataLoader;
use burn::lr_scheduler::{LrScheduler, LrSchedulerRecord};
use burn::prelude::*;
use burn::train::TrainStep;
use serde::Serialize;

use crate::config::Config;
use crate::data::digit_set::DigitSet;
use crate::data::loader::EpochLoader;
use crate::error::{Error, Result};
use crate::train::learner;

/// The range and the number of steps to cover it in.
#[derive(Debug, Clone, Copy)]
pub struct RangeTest {
    pub start: f64,
    pub end: f64,
    /// Training steps (batches) from `start` to `end`.
    pub steps: usize,
    /// The loss is smoothed by an exponential moving average with this weight on the past
    /// (fastai's 0.98), corrected for its start at zero.
    pub smoothing: f64,
    /// The test stops once the smoothed loss exceeds this many times its lowest so far.
    pub explode_factor: f64,
}

/// The rate `start · (end/start)^(i/(steps−1))` at step i: exponential growth, so each
/// decade of rates gets the same number of steps.
#[derive(Debug, Clone)]
pub struct GrowingLr {
    start: f64,
    factor: f64,
    step: u64,
}

impl GrowingLr {
    pub fn new(test: &RangeTest) -> GrowingLr {
        let intervals = test.steps.saturating_sub(1).max(1) as f64;
        GrowingLr {
            start: test.start,
            factor: (test.end / test.start).powf(1.0 / intervals),
            step: 0,
        }
    }
}

impl LrScheduler for GrowingLr {
    fn step(&mut self) -> f64 {
        let rate = self.start * self.factor.powf(self.step as f64);
        self.step += 1;
        rate
    }

    fn to_record(&self) -> LrSchedulerRecord {
        LrSchedulerRecord::new().with_scalar("step", self.step)
    }

    fn load_record(&mut self, record: LrSchedulerRecord) {
        if let Some(step) = record.scalar::<u64>("step") {
            self.step = step;
        }
    }
}

/// One training step of the test.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RangePoint {
    pub step: usize,
    pub learning_rate: f64,
    /// The batch's loss, before the step's update.
    pub loss: f64,
    pub smoothed_loss: f64,
}

/// Why the test ended.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum RangeEnd {
    /// It reached the end of the range.
    Finished,
    /// The smoothed loss exceeded `explode_factor` × its lowest.
    Exploded { step: usize, learning_rate: f64 },
    /// The loss was not a number (the divergence guard's rule).
    Diverged { step: usize, learning_rate: f64 },
}

/// The suggested rates, read from the smoothed curve without its first tenth (the average
/// is still settling, and a fresh network's loss is noise) and its last 5 points (the
/// explosion).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Suggestion {
    /// Where the smoothed loss falls fastest against log(rate), before its lowest point; the
    /// slope is taken across a twentieth of the curve, so one wiggle does not win.
    pub steepest: f64,
    /// Where the smoothed loss is lowest.
    pub minimum: f64,
    /// A tenth of that (fastai's rule of thumb).
    pub minimum_tenth: f64,
    /// The smaller of `steepest` and `minimum_tenth`: in a test of a few hundred steps the
    /// network is still far from trained when the rate passes the good values, so the
    /// steepest fall often comes late; the smaller rate is the safer start.
    pub suggested: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RangeResult {
    pub start: f64,
    pub end: f64,
    pub batch_size: usize,
    pub ended: RangeEnd,
    /// None when too few points remained to read a slope from.
    pub suggestion: Option<Suggestion>,
    pub points: Vec<RangePoint>,
}

/// Runs the range test for `config` (its network, optimizer, loss, batch size, seed and
/// augmentation) on `train`.
pub fn range_test(
    config: &Config,
    device: &Device,
    train: &DigitSet,
    test: &RangeTest,
) -> Result<RangeResult> {
    let t = &config.training;
    device.seed(t.seed);
    let mut model = Some(learner::new_model(config, device).with_gradient_norms(false));
    let mut optimizer = learner::optimizer(t);
    let mut rates = GrowingLr::new(test);
    let loader = EpochLoader::new(
        train.clone(),
        t.batch_size,
        Some(t.seed),
        false,
        1,
        device.clone().autodiff(),
    )
    .with_augment(config.data.augment);
    let mut points: Vec<RangePoint> = Vec::with_capacity(test.steps);
    let (mut average, mut lowest) = (0.0, f64::INFINITY);
    let mut ended = RangeEnd::Finished;
    'epochs: loop {
        for batch in loader.iter() {
            let batch = batch.map_err(|e| Error::Internal(format!("lr-find batch: {e}")))?;
            let step = points.len();
            let rate = rates.step();
            let current = model.take().expect("the model is put back every step");
            let output = TrainStep::step(&current, batch);
            let loss = output.item.loss.clone().into_scalar::<f32>() as f64;
            if !loss.is_finite() {
                ended = RangeEnd::Diverged {
                    step,
                    learning_rate: rate,
                };
                break 'epochs;
            }
            average = test.smoothing * average + (1.0 - test.smoothing) * loss;
            let smoothed = average / (1.0 - test.smoothing.powi(step as i32 + 1));
            points.push(RangePoint {
                step,
                learning_rate: rate,
                loss,
                smoothed_loss: smoothed,
            });
            lowest = lowest.min(smoothed);
            if step > 0 && smoothed > test.explode_factor * lowest {
                ended = RangeEnd::Exploded {
                    step,
                    learning_rate: rate,
                };
                break 'epochs;
            }
            if points.len() == test.steps {
                break 'epochs;
            }
            model = Some(TrainStep::optimize(
                current,
                &mut optimizer,
                rate.into(),
                output.grads,
            ));
        }
    }
    Ok(RangeResult {
        start: test.start,
        end: test.end,
        batch_size: t.batch_size,
        ended,
        suggestion: suggest(&points),
        points,
    })
}

/// The steepest fall and the minimum of the smoothed curve, leaving out its noisy start and
/// exploding end.
pub fn suggest(points: &[RangePoint]) -> Option<Suggestion> {
    let kept = points.get(points.len() / 10..points.len().checked_sub(5)?)?;
    if kept.len() < 3 {
        return None;
    }
    let x: Vec<f64> = kept.iter().map(|p| p.learning_rate.ln()).collect();
    let y: Vec<f64> = kept.iter().map(|p| p.smoothed_loss).collect();
    let lowest = (0..kept.len()).min_by(|&a, &b| y[a].total_cmp(&y[b]))?;
    let half_window = (points.len() / 40).max(1);
    // The slope across [i − w, i + w], cut at the curve's ends.
    let slope = |i: usize| {
        let (a, b) = (
            i.saturating_sub(half_window),
            (i + half_window).min(kept.len() - 1),
        );
        (y[b] - y[a]) / (x[b] - x[a])
    };
    let steepest = (0..=lowest).min_by(|&a, &b| slope(a).total_cmp(&slope(b)))?;
    let (steepest, minimum) = (kept[steepest].learning_rate, kept[lowest].learning_rate);
    Some(Suggestion {
        steepest,
        minimum,
        minimum_tenth: minimum / 10.0,
        suggested: steepest.min(minimum / 10.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_grows_from_start_to_end_in_the_given_steps() {
        let test = RangeTest {
            start: 1e-5,
            end: 10.0,
            steps: 7,
            smoothing: 0.98,
            explode_factor: 4.0,
        };
        let mut rates = GrowingLr::new(&test);
        let seen: Vec<f64> = (0..7).map(|_| rates.step()).collect();
        assert!((seen[0] - 1e-5).abs() < 1e-15);
        assert!((seen[6] - 10.0).abs() < 1e-9, "{seen:?}");
        assert!(
            (seen[3] - 1e-5 * 1e3).abs() < 1e-9,
            "geometric middle: {seen:?}"
        );
        // Resumable, as Burn's schedulers are.
        let mut again = GrowingLr::new(&test);
        again.load_record(rates.to_record());
        assert!(
            (again.step() - 100.0).abs() < 1e-6,
            "continues where it was"
        );
    }

    #[test]
    fn the_suggestion_is_the_steepest_fall_and_the_minimum_of_the_curve() {
        // A loss that falls fastest at rate 1e-2 (a logistic in log-rate), lowest at 1e-1,
        // then explodes.
        let points: Vec<RangePoint> = (0..101)
            .map(|i| {
                let log_rate = -5.0 + 5.0 * i as f64 / 100.0;
                let fall = 2.0 / (1.0 + (4.0 * (log_rate + 2.0)).exp());
                let rise = (log_rate + 1.0).max(0.0) * 8.0;
                RangePoint {
                    step: i,
                    learning_rate: 10f64.powf(log_rate),
                    loss: 0.3 + fall + rise,
                    smoothed_loss: 0.3 + fall + rise,
                }
            })
            .collect();
        let s = suggest(&points).unwrap();
        assert!((s.steepest.log10() + 2.0).abs() < 0.06, "{s:?}");
        assert!((s.minimum.log10() + 1.0).abs() < 0.06, "{s:?}");
        assert!((s.minimum_tenth / s.minimum - 0.1).abs() < 1e-12);
        assert_eq!(s.suggested, s.steepest.min(s.minimum_tenth));
        assert_eq!(suggest(&points[..7]), None, "too few points");
    }
}
