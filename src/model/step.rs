//! What a step of the network produces and how Burn's Learner calls it: the step output
//! the metrics read, and the training and inference steps (the losses are in `loss`).

use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::train::metric::{AccuracyInput, Adaptor, ItemLazy, LossInput};
use burn::train::{InferenceStep, TrainOutput, TrainStep};

use super::kernels::MeasuredUpdate;
use super::loss::{loss, squared_sum};
use super::{GradientNorms, Network};
use crate::data::digit_set::DigitBatch;
use crate::metrics::grad_norm::{GradNormInput, GradNorms};

/// The network's training side: its loss, its steps, its weight-gradient norms.
impl Network {
    /// The same norms from gradients already gathered per parameter (several devices' sum).
    pub fn weight_grad_norms_of(&self, grads: &GradientsParams) -> Tensor<1> {
        let conv = self.conv.iter().map(|layer| {
            squared_sum(
                grads.get::<4>(layer.conv.weight.id),
                &layer.conv.weight.device().inner(),
            )
        });
        let dense = self.linears().map(|linear| {
            squared_sum(
                grads.get::<2>(linear.weight.id),
                &linear.weight.device().inner(),
            )
        });
        Tensor::cat(conv.chain(dense).collect(), 0).sqrt()
    }

    /// A training step on a part of a batch that holds `share` of its images: the gradient is
    /// of `share` × this part's mean loss, so the parts' gradients add up to the whole batch's
    /// (several devices). The output keeps the part's own mean loss; no gradient norms (they
    /// are measured on the sum).
    pub fn partial_step(&self, part: DigitBatch, share: f32) -> TrainOutput<StepOutput> {
        let item = self.forward_step(part);
        let grads = item.loss.clone().mul_scalar(share).backward();
        TrainOutput::new(self, grads, item)
    }

    /// Forward pass plus the configured loss.
    pub fn forward_step(&self, batch: DigitBatch) -> StepOutput {
        let logits = self.forward(batch.images);
        let loss = loss(self.loss, logits.clone(), batch.targets.clone());
        StepOutput {
            loss,
            logits,
            targets: batch.targets,
            grad_norms: None,
        }
    }
}

/// The per-layer norms from plain SGD's measurements ([`super::kernels::measuring_updates`]) for a
/// network whose weights have `weight_dims` ([`Network::weight_dims`]): the measurements are
/// of its parameters of rank 2 and more, the weights (biases and the normalisations' scales
/// and shifts are vectors), in the order Burn's optimizer steps the parameters, the module's —
/// the convolutions, then the Linears, as in `weight_dims`. The same values, bit for bit, as
/// [`Network::weight_grad_norms`] gives; `None` where the measurements are not those weights.
pub fn weight_grad_norms_measured(
    weight_dims: &[Vec<usize>],
    updates: Vec<MeasuredUpdate>,
) -> Option<Tensor<1>> {
    let dims = updates.iter().map(|update| &update.dims);
    if !dims.eq(weight_dims) {
        return None;
    }
    let squares = updates
        .into_iter()
        .map(|update| update.squared_sum)
        .collect();
    Some(Tensor::cat(squares, 0).sqrt())
}

/// What steps hand to the metrics: the classification (loss, logits, targets) and, for
/// training steps, the per-layer gradient norms. One step's output, or several merged (the
/// training loop sends steps to the metrics in groups).
pub struct StepOutput {
    /// Mean loss of each step's batch, `[steps]`.
    pub loss: Tensor<1>,
    /// `[images, 10]`.
    pub logits: Tensor<2>,
    /// `[images]`.
    pub targets: Tensor<1, Int>,
    pub grad_norms: Option<GradNorms>,
}

impl StepOutput {
    /// The same output off the autodiff graph.
    pub fn detached(self) -> StepOutput {
        StepOutput {
            loss: self.loss.without_autodiff(),
            logits: self.logits.without_autodiff(),
            targets: self.targets.without_autodiff(),
            grad_norms: self.grad_norms.map(GradNorms::without_autodiff),
        }
    }

    /// Several steps' outputs as one: images, losses and gradient norms in step order.
    pub fn merge(outputs: Vec<StepOutput>) -> StepOutput {
        if outputs.len() == 1 {
            return outputs.into_iter().next().expect("one output");
        }
        let mut losses = Vec::with_capacity(outputs.len());
        let mut logits = Vec::with_capacity(outputs.len());
        let mut targets = Vec::with_capacity(outputs.len());
        let mut norms = Vec::with_capacity(outputs.len());
        for output in outputs {
            losses.push(output.loss);
            logits.push(output.logits);
            targets.push(output.targets);
            norms.extend(output.grad_norms);
        }
        let steps = losses.len();
        StepOutput {
            loss: Tensor::cat(losses, 0),
            logits: Tensor::cat(logits, 0),
            targets: Tensor::cat(targets, 0),
            grad_norms: (norms.len() == steps).then(|| GradNorms::merge(norms)),
        }
    }
}

impl ItemLazy for StepOutput {
    fn sync(self) -> Result<Self, burn::tensor::ExecutionError> {
        // As Burn's ClassificationOutput: dispatch pending work, leave the autodiff graph;
        // the metric thread reads back what it needs.
        self.loss.device().flush()?;
        Ok(self.detached())
    }
}

impl Adaptor<AccuracyInput> for StepOutput {
    fn adapt(&self) -> AccuracyInput {
        AccuracyInput::new(self.logits.clone(), self.targets.clone())
    }
}

impl Adaptor<LossInput> for StepOutput {
    fn adapt(&self) -> LossInput {
        LossInput::new(self.loss.clone())
    }
}

impl Adaptor<GradNormInput> for StepOutput {
    fn adapt(&self) -> GradNormInput {
        self.grad_norms
            .clone()
            .expect("gradient metrics are registered for training steps only")
    }
}

impl TrainStep for Network {
    type Input = DigitBatch;
    type Output = StepOutput;

    fn step(&self, batch: DigitBatch) -> TrainOutput<StepOutput> {
        let mut item = self.forward_step(batch);
        let grads = item.loss.backward();
        // Measured here, before the optimizer clips anything (or by plain SGD's step, which
        // clips nothing: `GradientNorms::InUpdate`).
        if self.gradient_norms == GradientNorms::InStep {
            item.grad_norms = Some(GradNorms::new(self.weight_grad_norms(&grads)));
        }
        TrainOutput::new(self, grads, item)
    }
}

impl InferenceStep for Network {
    type Input = DigitBatch;
    type Output = StepOutput;

    fn step(&self, batch: DigitBatch) -> StepOutput {
        self.forward_step(batch)
    }
}
