//! A training step with the chain rule written out (`training.backprop = "written_out"`):
//! `src/backprop.rs` computes every layer's gradient on the network's weights without an
//! autodiff graph; the gradients go to Burn's optimizer like autodiff's, so the optimizer,
//! schedule, clipping, checkpoints and `--resume` are the same.

use burn::optim::GradientsParams;
use burn::prelude::*;

use crate::backprop::forward_backward;
use crate::config::Activation;
use crate::data::digit_set::DigitBatch;
use crate::metrics::grad_norm::GradNorms;
use crate::model::{Network, StepOutput};

/// One step's output for the metrics and the gradients for the optimizer, from `model` (the
/// learner's, on the autodiff device: only its weights are read).
pub fn step(
    model: &Network,
    activation: Activation,
    batch: DigitBatch,
) -> (StepOutput, GradientsParams) {
    let plain = model.valid();
    let images = batch.images.without_autodiff();
    let targets = batch.targets.without_autodiff();
    let pass = forward_backward(&plain, activation, model.loss, images, targets.clone());
    let grad_norms = model.measures_gradient_norms().then(|| {
        // Each layer's weight-gradient norm, as autodiff's steps measure them.
        let squares = pass
            .gradients
            .weights
            .iter()
            .map(|g| (g.clone() * g.clone()).sum())
            .collect();
        GradNorms::new(Tensor::cat(squares, 0).sqrt())
    });
    let mut grads = GradientsParams::new();
    let layers = pass.gradients.weights.iter().zip(&pass.gradients.biases);
    for (linear, (weight, bias)) in model.linears().zip(layers) {
        grads.register(linear.weight.id, weight.clone());
        if let Some(b) = &linear.bias {
            grads.register(b.id, bias.clone());
        }
    }
    let output = StepOutput {
        loss: pass.loss,
        logits: pass.logits,
        targets,
        grad_norms,
    };
    (output, grads)
}
