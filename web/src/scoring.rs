//! A finished epoch's scores on the validation and test splits, computed a part at a time so
//! that the page's worker answers a drawing, Pause or Step meanwhile.

use burn::prelude::*;
use digits::data::{DigitBatch, DigitSet};
use digits::model::{Network, loss};
use digits::run::Scores;

use crate::trainer::{floats, now_ms};

/// Images per part when the network is scored on a split: a few milliseconds of work, so the
/// worker answers a drawing or Pause meanwhile. (The loss is a mean per part, weighted by its
/// images: the same score as one pass, up to float rounding.)
const SCORE_BATCH: usize = 250;

/// A finished epoch's network being scored, a part of a split at a time: the validation split,
/// then the test split.
pub struct Scoring {
    /// The network scored: the epoch's, in inference mode.
    pub model: Network,
    /// 0: validation, 1: test; then done.
    split: usize,
    next: usize,
    loss_sum: f64,
    correct: usize,
    /// Validation, then test.
    pub scores: [Scores; 2],
    /// The time the validation split took (`metrics.csv`'s valid row).
    pub valid_ms: f64,
}

impl Scoring {
    pub fn new(model: Network) -> Scoring {
        let none = Scores {
            loss: f64::NAN,
            accuracy: f64::NAN,
        };
        Scoring {
            model,
            split: 0,
            next: 0,
            loss_sum: 0.0,
            correct: 0,
            scores: [none; 2],
            valid_ms: 0.0,
        }
    }

    /// Scores the next part; true once both splits are scored.
    pub fn advance(&mut self, valid: &DigitSet, test: &DigitSet, device: &Device) -> bool {
        let t0 = now_ms();
        let set = [valid, test][self.split];
        let end = (self.next + SCORE_BATCH).min(set.len());
        let indices: Vec<usize> = (self.next..end).collect();
        if !indices.is_empty() {
            let DigitBatch { images, targets } = set.batch(&indices, device);
            let logits = self.model.forward(images);
            self.correct += correct(logits.clone(), targets.clone());
            let mean = f64::from(loss(self.model.loss, logits, targets).into_scalar::<f32>());
            self.loss_sum += mean * indices.len() as f64;
        }
        self.next = end;
        if self.split == 0 {
            self.valid_ms += now_ms() - t0;
        }
        if self.next < set.len() {
            return false;
        }
        let images = set.len().max(1) as f64;
        self.scores[self.split] = Scores {
            loss: self.loss_sum / images,
            accuracy: self.correct as f64 / images,
        };
        (self.split, self.next, self.loss_sum, self.correct) = (self.split + 1, 0, 0.0, 0);
        self.split == 2
    }
}

/// Images of `logits` `[B, 10]` whose largest output is the target's.
pub fn correct(logits: Tensor<2>, targets: Tensor<1, Int>) -> usize {
    // Read back and compared here: two small copies instead of four more tensor operations a
    // step (each a dispatch and an allocation, which a step of the seed network is made of).
    let [_, classes] = logits.dims();
    let logits = floats(logits.into_data());
    let targets = targets.into_data().convert::<i64>();
    let targets = targets.as_slice::<i64>().unwrap_or(&[]);
    logits
        .chunks(classes.max(1))
        .zip(targets)
        .filter(|&(row, &target)| {
            // The first of the largest, as Burn's `argmax`.
            let best = row
                .iter()
                .enumerate()
                .fold(0, |best, (i, &v)| if v > row[best] { i } else { best });
            best as i64 == target
        })
        .count()
}
