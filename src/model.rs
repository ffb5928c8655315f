//! The network: hidden blocks of Linear → normalisation → activation (→ dropout), then an
//! output Linear to 10 logits; its losses; and the steps Burn's Learner calls.

use burn::nn::activation::{Activation as ActivationLayer, ActivationConfig};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::norm::{
    BatchNormConfig, GroupNormConfig, LayerNormConfig, Normalization, NormalizationConfig,
};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::sigmoid;
use burn::train::{ClassificationOutput, InferenceStep, TrainOutput, TrainStep};

use crate::config::{Activation, Loss, ModelConfig, Norm};
use crate::data::DigitBatch;
use crate::idx::{CLASSES, PIXELS};

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
                    linear: LinearConfig::new(inputs, size).init(device),
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
            output: LinearConfig::new(inputs, CLASSES).init(device),
            loss,
        }
    }

    /// Logits `[B, 10]` for images `[B, 784]` in 0..1.
    pub fn forward(&self, images: Tensor<2>) -> Tensor<2> {
        let x = self.hidden.iter().fold(images, |x, block| block.forward(x));
        self.output.forward(x)
    }

    /// Forward pass plus the configured loss, as Burn's classification metrics want it.
    pub fn forward_classification(&self, batch: DigitBatch) -> ClassificationOutput {
        let logits = self.forward(batch.images);
        let loss = loss(self.loss, logits.clone(), batch.targets.clone());
        ClassificationOutput::new(loss, logits, batch.targets)
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
    type Output = ClassificationOutput;

    fn step(&self, batch: DigitBatch) -> TrainOutput<ClassificationOutput> {
        let item = self.forward_classification(batch);
        TrainOutput::new(self, item.loss.backward(), item)
    }
}

impl InferenceStep for Mlp {
    type Input = DigitBatch;
    type Output = ClassificationOutput;

    fn step(&self, batch: DigitBatch) -> ClassificationOutput {
        self.forward_classification(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quadratic_loss_is_half_the_summed_squared_error_averaged_over_the_batch() {
        let device = crate::backend::Backend::select(None).unwrap().device();
        // Logit 0 → sigmoid 0.5 everywhere: per image ½·(9·0.25 + 0.25) = 1.25.
        let logits = Tensor::<2>::zeros([2, CLASSES], &device);
        let targets = Tensor::<1, Int>::from_data([3, 7], &device);
        let value: f32 = loss(Loss::Quadratic, logits, targets).into_scalar();
        assert!((value - 1.25).abs() < 1e-6, "{value}");
    }

    #[test]
    fn cross_entropy_of_uniform_logits_is_ln_10() {
        let device = crate::backend::Backend::select(None).unwrap().device();
        let logits = Tensor::<2>::zeros([4, CLASSES], &device);
        let targets = Tensor::<1, Int>::from_data([0, 1, 2, 3], &device);
        let value: f32 = loss(Loss::CrossEntropy, logits, targets).into_scalar();
        assert!((value - 10f32.ln()).abs() < 1e-5, "{value}");
    }
}
