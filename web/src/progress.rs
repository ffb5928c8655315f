//! What the trainer measures and reports: running sums over steps, and the JSON the page's
//! worker reads after each call.

use digits::run::Scores;
use serde::Serialize;

/// Running sums over steps: an epoch's, or one call's.
#[derive(Default, Clone)]
pub struct Sums {
    pub steps: usize,
    pub images: usize,
    pub correct: usize,
    pub loss: f64,
    pub learning_rate: f64,
    /// Each weighted layer's gradient norm, summed over the steps.
    pub grad_norms: Vec<f64>,
    pub milliseconds: f64,
}

impl Sums {
    pub fn add(&mut self, step: &StepNumbers) {
        self.steps += 1;
        self.images += step.images;
        self.correct += step.correct;
        self.loss += step.loss;
        self.learning_rate += step.learning_rate;
        if self.grad_norms.len() < step.grad_norms.len() {
            self.grad_norms.resize(step.grad_norms.len(), 0.0);
        }
        for (sum, norm) in self.grad_norms.iter_mut().zip(&step.grad_norms) {
            *sum += norm;
        }
    }

    pub fn mean_norms(&self) -> Vec<f64> {
        let steps = self.steps.max(1) as f64;
        self.grad_norms.iter().map(|n| n / steps).collect()
    }
}

/// What one training step measured.
pub struct StepNumbers {
    pub images: usize,
    pub correct: usize,
    pub loss: f64,
    pub learning_rate: f64,
    pub grad_norms: Vec<f64>,
}

/// What `train` reports to the page after each call.
#[derive(Serialize)]
pub struct Progress {
    pub epoch: usize,
    pub epochs: usize,
    /// Steps done in this epoch, of `steps`.
    pub step: usize,
    pub steps: usize,
    /// These steps' images, mean loss, accuracy (0..1), mean learning rate, and each weighted
    /// layer's mean gradient norm (input side first).
    pub images: usize,
    pub loss: f64,
    pub accuracy: f64,
    pub learning_rate: f64,
    pub grad_norms: Vec<f64>,
    /// The time these steps took (scoring excluded).
    pub milliseconds: f64,
    /// The epochs this call finished (scored), in order; usually none.
    pub finished_epochs: Vec<EpochScores>,
    /// Training is over (every epoch done, or diverged).
    pub done: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diverged: Option<String>,
}

#[derive(Serialize)]
pub struct EpochScores {
    pub epoch: usize,
    pub train: Scores,
    pub valid: Scores,
    pub test: Scores,
    /// Training images per second over the epoch's train split.
    pub images_per_second: f64,
}
