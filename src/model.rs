//! The network: hidden blocks of Linear → normalisation → activation (→ dropout), then an
//! output Linear to 10 logits; its losses; and the steps Burn's Learner calls.

use burn::nn::activation::{Activation as ActivationLayer, ActivationConfig};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::norm::{
    BatchNormConfig, GroupNormConfig, LayerNormConfig, Normalization, NormalizationConfig,
};
use burn::nn::{Dropout, DropoutConfig, Initializer, Linear, LinearConfig};
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::Gradients;
use burn::tensor::activation::sigmoid;
use burn::train::metric::{AccuracyInput, Adaptor, ItemLazy, LossInput};
use burn::train::{InferenceStep, TrainOutput, TrainStep};

use crate::config::{Activation, Init, Loss, ModelConfig, Norm};
use crate::data::digit_set::DigitBatch;
use crate::data::idx::{CLASSES, PIXELS};
use crate::metrics::grad_norm::{GradNormInput, GradNorms};

/// One hidden layer: `size` neurons, each a weighted sum plus bias, normalised, activated.
#[derive(Module, Debug)]
pub struct HiddenBlock {
    pub linear: Linear,
    pub norm: Normalization,
    pub activation: ActivationLayer,
    pub dropout: Option<Dropout>,
}

impl HiddenBlock {
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let x = self.linear.forward(x);
        let x = self.norm.forward(x);
        let x = self.activation.forward(x);
        match &self.dropout {
            Some(dropout) => dropout.forward(x),
            None => x,
        }
    }
}

/// The multilayer perceptron of the seed: 784 inputs → hidden blocks → 10 outputs.
#[derive(Module, Debug)]
pub struct Mlp {
    pub hidden: Vec<HiddenBlock>,
    pub output: Linear,
    #[module(skip)]
    pub loss: Loss,
    /// Whether training steps measure per-layer gradient norms (`training.gradient_norms`).
    #[module(skip)]
    pub gradient_norms: bool,
}

impl Mlp {
    /// A freshly (randomly) initialised network on `device`.
    pub fn new(config: &ModelConfig, loss: Loss, device: &Device) -> Mlp {
        let mut inputs = PIXELS;
        let hidden = config
            .hidden
            .iter()
            .map(|&size| {
                let block = HiddenBlock {
                    linear: linear(inputs, size, config, device),
                    norm: norm_config(config, size).init(device),
                    activation: activation_config(config.activation).init(device),
                    dropout: (config.dropout > 0.0)
                        .then(|| DropoutConfig::new(config.dropout).init()),
                };
                inputs = size;
                block
            })
            .collect();
        Mlp {
            hidden,
            output: linear(inputs, CLASSES, config, device),
            loss,
            gradient_norms: true,
        }
    }

    /// The network as Burn's burnpack bytes (a run's `model.bpk`).
    pub fn record_bytes(&self) -> crate::error::Result<burn::tensor::Bytes> {
        self.clone()
            .into_record()
            .into_bytes()
            .map_err(|e| crate::error::Error::Internal(format!("cannot serialise the model: {e}")))
    }

    /// Turns the per-step gradient-norm measurement on or off.
    pub fn with_gradient_norms(mut self, on: bool) -> Mlp {
        self.gradient_norms = on;
        self
    }

    /// Whether training steps measure the per-layer gradient norms.
    pub fn measures_gradient_norms(&self) -> bool {
        self.gradient_norms
    }

    /// Every Linear layer, input side first.
    pub fn linears(&self) -> impl Iterator<Item = &Linear> {
        self.hidden
            .iter()
            .map(|block| &block.linear)
            .chain(std::iter::once(&self.output))
    }

    /// L2 norm of each Linear layer's weight gradient, input side first, computed on the
    /// device (no read back here).
    pub fn weight_grad_norms(&self, grads: &Gradients) -> Tensor<1> {
        self.layer_norms(|linear| linear.weight.val().grad(grads))
    }

    /// The same norms from gradients already gathered per parameter (several devices' sum).
    pub fn weight_grad_norms_of(&self, grads: &GradientsParams) -> Tensor<1> {
        self.layer_norms(|linear| grads.get::<2>(linear.weight.id))
    }

    fn layer_norms(&self, grad_of: impl Fn(&Linear) -> Option<Tensor<2>>) -> Tensor<1> {
        let squared_sums: Vec<Tensor<1>> = self
            .linears()
            .map(|linear| match grad_of(linear) {
                Some(grad) => (grad.clone() * grad).sum(),
                None => Tensor::zeros([1], &linear.weight.device().inner()),
            })
            .collect();
        // One square root for all layers: each op is a dispatch, and this runs every step.
        Tensor::cat(squared_sums, 0).sqrt()
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

    /// Logits `[B, 10]` for images `[B, 784]` in 0..1.
    pub fn forward(&self, images: Tensor<2>) -> Tensor<2> {
        let x = self.hidden.iter().fold(images, |x, block| block.forward(x));
        self.output.forward(x)
    }

    /// Each hidden layer's output (after normalisation and activation, and dropout in
    /// training) and the logits: what the drawing pad shows of the network thinking. The
    /// logits are exactly [`Mlp::forward`]'s.
    pub fn forward_with_hidden(&self, images: Tensor<2>) -> (Vec<Tensor<2>>, Tensor<2>) {
        let mut hidden = Vec::with_capacity(self.hidden.len());
        let mut x = images;
        for block in &self.hidden {
            x = block.forward(x);
            hidden.push(x.clone());
        }
        (hidden, self.output.forward(x))
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

/// A Linear layer whose weights start as `config.init` says; biases keep Burn's default.
fn linear(inputs: usize, outputs: usize, config: &ModelConfig, device: &Device) -> Linear {
    let mut linear = LinearConfig::new(inputs, outputs).init(device);
    let initializer = match config.init {
        Init::Default => return linear,
        Init::XavierNormal => Initializer::XavierNormal { gain: 1.0 },
        Init::HeNormal => Initializer::KaimingNormal {
            gain: std::f64::consts::SQRT_2,
            fan_out_only: false,
        },
        Init::Normal => Initializer::Normal {
            mean: 0.0,
            std: config.init_std,
        },
    };
    linear.weight = initializer.init_with([inputs, outputs], Some(inputs), Some(outputs), device);
    linear
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

/// The loss of a batch, averaged over its images.
pub fn loss(kind: Loss, logits: Tensor<2>, targets: Tensor<1, Int>) -> Tensor<1> {
    match kind {
        Loss::CrossEntropy => CrossEntropyLossConfig::new()
            .init(&logits.device())
            .forward(logits, targets),
        Loss::Quadratic => {
            // The seed's ½·Σ(ŷ−y)²: each output neuron a sigmoid in 0..1, y one-hot.
            let predicted = sigmoid(logits);
            let expected = targets.one_hot(CLASSES).float();
            (predicted - expected)
                .powi_scalar(2)
                .sum_dim(1)
                .mul_scalar(0.5)
                .mean()
        }
    }
}

fn norm_config(config: &ModelConfig, size: usize) -> NormalizationConfig {
    match config.norm {
        Norm::None => NormalizationConfig::Identity,
        Norm::Batch => BatchNormConfig::new(size).into(),
        Norm::Layer => LayerNormConfig::new(size).into(),
        Norm::Group => GroupNormConfig::new(config.norm_groups, size).into(),
    }
}

fn activation_config(activation: Activation) -> ActivationConfig {
    match activation {
        Activation::Sigmoid => ActivationConfig::Sigmoid,
        Activation::Tanh => ActivationConfig::Tanh,
        Activation::Relu => ActivationConfig::Relu,
        Activation::Gelu => ActivationConfig::Gelu,
    }
}

impl TrainStep for Mlp {
    type Input = DigitBatch;
    type Output = StepOutput;

    fn step(&self, batch: DigitBatch) -> TrainOutput<StepOutput> {
        let mut item = self.forward_step(batch);
        let grads = item.loss.backward();
        // Measured here, before the optimizer clips anything.
        if self.gradient_norms {
            item.grad_norms = Some(GradNorms::new(self.weight_grad_norms(&grads)));
        }
        TrainOutput::new(self, grads, item)
    }
}

impl InferenceStep for Mlp {
    type Input = DigitBatch;
    type Output = StepOutput;

    fn step(&self, batch: DigitBatch) -> StepOutput {
        self.forward_step(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quadratic_loss_is_half_the_summed_squared_error_averaged_over_the_batch() {
        let device = crate::backend::Backend::select(None)
            .unwrap()
            .device()
            .unwrap();
        // Logit 0 → sigmoid 0.5 everywhere: per image ½·(9·0.25 + 0.25) = 1.25.
        let logits = Tensor::<2>::zeros([2, CLASSES], &device);
        let targets = Tensor::<1, Int>::from_data([3, 7], &device);
        let value: f32 = loss(Loss::Quadratic, logits, targets).into_scalar();
        assert!((value - 1.25).abs() < 1e-6, "{value}");
    }

    #[test]
    fn the_hidden_outputs_lead_to_exactly_forwards_logits() {
        let device = crate::backend::Backend::select(None)
            .unwrap()
            .device()
            .unwrap();
        for norm in ["none", "batch", "layer"] {
            let config = crate::config::Config::parse(
                std::path::Path::new("t.toml"),
                "",
                &[format!("model.norm={norm}"), "model.hidden=[16, 8]".into()],
            )
            .unwrap();
            device.seed(7);
            let model = Mlp::new(&config.model, config.training.loss, &device).valid();
            let images = Tensor::<2>::random(
                [3, PIXELS],
                burn::tensor::Distribution::Uniform(0.0, 1.0),
                &device,
            );
            let (hidden, logits) = model.forward_with_hidden(images.clone());
            let dims: Vec<[usize; 2]> = hidden.iter().map(|h| h.dims()).collect();
            assert_eq!(dims, [[3, 16], [3, 8]]);
            let expected = model.forward(images).into_data();
            assert_eq!(logits.into_data(), expected, "{norm}");
        }
    }

    #[test]
    fn cross_entropy_of_uniform_logits_is_ln_10() {
        let device = crate::backend::Backend::select(None)
            .unwrap()
            .device()
            .unwrap();
        let logits = Tensor::<2>::zeros([4, CLASSES], &device);
        let targets = Tensor::<1, Int>::from_data([0, 1, 2, 3], &device);
        let value: f32 = loss(Loss::CrossEntropy, logits, targets).into_scalar();
        assert!((value - 10f32.ln()).abs() < 1e-5, "{value}");
    }
}
