//! The network: for a CNN, convolution blocks on the 28×28 image (`conv`); then hidden blocks
//! of Linear → normalisation → activation (→ dropout) and an output Linear to 10 logits. Its
//! losses are in `loss`, its step outputs and the steps Burn's Learner calls in `step`.

mod conv;
pub mod fused;
pub mod inference;
pub mod input;
pub mod simd;
pub use fused::Fused;
#[cfg(not(target_arch = "wasm32"))]
pub mod kernels;
pub use conv::{ConvLayer, unfolded_conv};

mod loss;
pub use loss::loss;
// Burn's Learner's steps and their metrics.
#[cfg(not(target_arch = "wasm32"))]
mod step;
#[cfg(not(target_arch = "wasm32"))]
pub use step::{StepOutput, weight_grad_norms_measured};

use burn::nn::activation::{Activation as ActivationLayer, ActivationConfig};
use burn::nn::norm::{
    BatchNormConfig, GroupNormConfig, LayerNormConfig, Normalization, NormalizationConfig,
};
use burn::nn::{Dropout, DropoutConfig, Initializer, Linear, LinearConfig};
use burn::prelude::*;

use crate::config::{Activation, IMAGE_SIDE, Init, Loss, ModelConfig, Norm};
use crate::data::idx::{CLASSES, PIXELS};

/// One hidden layer: `size` neurons, each a weighted sum plus bias, normalised, activated.
#[derive(Module, Debug)]
pub struct HiddenBlock {
    pub linear: Linear,
    pub norm: Normalization,
    pub activation: ActivationLayer,
    pub dropout: Option<Dropout>,
}

impl HiddenBlock {
    /// The activation a dense kernel applies in its pass over the product, where nothing comes
    /// between the two (no normalisation) and the kernels have it ([`Self::kernel_activation`]).
    /// GELU only in inference: its gradient needs the input, which the kernel does not keep.
    pub fn fused_activation(&self) -> Option<Fused> {
        match &self.norm {
            Normalization::Identity(_) => {
                self.kernel_activation().filter(|&act| act != Fused::Gelu)
            }
            _ => None,
        }
    }

    /// This block's activation, if the dense kernels have it (ReLU, the sigmoid, tanh; exact
    /// GELU, for inference).
    pub fn kernel_activation(&self) -> Option<Fused> {
        match &self.activation {
            ActivationLayer::Relu(_) => Some(Fused::Relu),
            ActivationLayer::Sigmoid(_) => Some(Fused::Sigmoid),
            ActivationLayer::Tanh(_) => Some(Fused::Tanh),
            ActivationLayer::Gelu(gelu) if !gelu.approximate => Some(Fused::Gelu),
            _ => None,
        }
    }

    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let x = match self.fused_activation() {
            // Both in one pass where the kernels run.
            Some(act) => dense(&self.linear, x, act),
            None => {
                self.activation
                    .forward(self.norm.forward(dense(&self.linear, x, Fused::Identity)))
            }
        };
        match &self.dropout {
            Some(dropout) => dropout.forward(x),
            None => x,
        }
    }
}

/// Each layer's outputs for a batch of images, input side first.
pub struct Inside {
    /// Each convolution layer's feature maps `[B, channels, height, width]` (a CNN's).
    pub maps: Vec<Tensor<4>>,
    /// Each hidden layer's outputs `[B, size]`.
    pub hidden: Vec<Tensor<2>>,
    pub logits: Tensor<2>,
}

/// What builds a network: its config and loss (`network.json` of the site `digits web` makes,
/// read by the page's WebAssembly module).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Architecture {
    pub model: ModelConfig,
    pub loss: Loss,
}

/// The network of a config: the seed's multilayer perceptron (784 inputs → hidden blocks → 10
/// outputs), or a CNN (convolution layers → hidden blocks → 10 outputs).
#[derive(Module, Debug)]
pub struct Network {
    /// A CNN's convolution layers, input side first; none for an MLP.
    pub conv: Vec<ConvLayer>,
    pub hidden: Vec<HiddenBlock>,
    pub output: Linear,
    #[module(skip)]
    pub loss: Loss,
    /// Where training steps' per-layer gradient norms are measured (`training.gradient_norms`).
    #[module(skip)]
    pub gradient_norms: GradientNorms,
}

/// Where a training step's per-layer weight-gradient norms are measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GradientNorms {
    Off,
    /// By the step, from its gradients.
    InStep,
    /// By plain SGD's step as it reads each gradient (`kernels::measuring_updates`), which the
    /// training loop asks for where one device trains; the step itself measures none. Norms of
    /// the same gradients, bit for bit, without a read of their own.
    InUpdate,
}

impl Network {
    /// A freshly (randomly) initialised network on `device`.
    pub fn new(config: &ModelConfig, loss: Loss, device: &Device) -> Network {
        let mut channels = 1;
        let conv = config
            .conv_blocks()
            .iter()
            .map(|block| {
                let layer = ConvLayer::new(block, channels, config, device);
                channels = block.channels;
                layer
            })
            .collect();
        // The config was validated: its blocks leave pixels.
        let mut inputs = crate::config::conv::flattened(config.conv_blocks()).unwrap_or(PIXELS);
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
        Network {
            conv,
            hidden,
            output: linear(inputs, CLASSES, config, device),
            loss,
            gradient_norms: GradientNorms::InStep,
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
    pub fn with_gradient_norms(mut self, on: bool) -> Network {
        self.gradient_norms = match on {
            true => GradientNorms::InStep,
            false => GradientNorms::Off,
        };
        self
    }

    /// The per-layer gradient norms measured by plain SGD's step instead of the training step
    /// (where they are measured at all).
    pub fn with_norms_in_update(mut self) -> Network {
        if self.gradient_norms == GradientNorms::InStep {
            self.gradient_norms = GradientNorms::InUpdate;
        }
        self
    }

    /// Whether training measures the per-layer gradient norms.
    pub fn measures_gradient_norms(&self) -> bool {
        self.gradient_norms != GradientNorms::Off
    }

    /// The dims of each weighted layer's weights, in the gradient norms' order: the
    /// convolutions, then the Linears, input side first.
    pub fn weight_dims(&self) -> Vec<Vec<usize>> {
        let conv = self
            .conv
            .iter()
            .map(|layer| layer.conv.weight.dims().to_vec());
        let dense = self.linears().map(|linear| linear.weight.dims().to_vec());
        conv.chain(dense).collect()
    }

    /// Every Linear layer, input side first.
    pub fn linears(&self) -> impl Iterator<Item = &Linear> {
        self.hidden
            .iter()
            .map(|block| &block.linear)
            .chain(std::iter::once(&self.output))
    }

    /// Logits `[B, 10]` for images `[B, 784]` in 0..1.
    pub fn forward(&self, images: Tensor<2>) -> Tensor<2> {
        let x = self.features(images);
        let x = self.hidden.iter().fold(x, |x, block| block.forward(x));
        dense(&self.output, x, Fused::Identity)
    }

    /// What the dense layers read: the images themselves (MLP), or the last convolution
    /// layer's feature maps, flattened (CNN).
    pub fn features(&self, images: Tensor<2>) -> Tensor<2> {
        if self.conv.is_empty() {
            return images;
        }
        let [batch, _] = images.dims();
        let image = images.reshape([batch, 1, IMAGE_SIDE, IMAGE_SIDE]);
        let maps = self.conv.iter().fold(image, |x, layer| layer.forward(x));
        maps.flatten(1, 3)
    }

    /// Every layer's output for `images` (after normalisation and activation, and dropout
    /// in training): what the drawing pad shows of the network thinking. The logits are
    /// exactly [`Network::forward`]'s.
    pub fn forward_inside(&self, images: Tensor<2>) -> Inside {
        let mut maps = Vec::with_capacity(self.conv.len());
        let mut x = images;
        if !self.conv.is_empty() {
            let [batch, _] = x.dims();
            let mut map = x.reshape([batch, 1, IMAGE_SIDE, IMAGE_SIDE]);
            for layer in &self.conv {
                map = layer.forward(map);
                maps.push(map.clone());
            }
            x = map.flatten(1, 3);
        }
        let mut hidden = Vec::with_capacity(self.hidden.len());
        for block in &self.hidden {
            x = block.forward(x);
            hidden.push(x.clone());
        }
        Inside {
            maps,
            hidden,
            logits: dense(&self.output, x, Fused::Identity),
        }
    }
}

/// `linear`'s output for `x` `[B, inputs]`, through `act`: our dense kernel where the device
/// has it ([`kernels`]), else Burn's `Linear` (and activation).
fn dense(linear: &Linear, x: Tensor<2>, act: Fused) -> Tensor<2> {
    #[cfg(not(target_arch = "wasm32"))]
    if kernels::has_kernels(&x.device())
        && let Some(bias) = &linear.bias
    {
        return kernels::dense(x, linear.weight.val(), bias.val(), act);
    }
    let y = linear.forward(x);
    match act {
        Fused::Identity => y,
        Fused::Relu => burn::tensor::activation::relu(y),
        Fused::Sigmoid => burn::tensor::activation::sigmoid(y),
        Fused::Tanh => burn::tensor::activation::tanh(y),
        Fused::Gelu => burn::tensor::activation::gelu(y),
    }
}

/// A Linear layer whose weights start as `config.init` says; biases keep Burn's default.
fn linear(inputs: usize, outputs: usize, config: &ModelConfig, device: &Device) -> Linear {
    let mut linear = LinearConfig::new(inputs, outputs).init(device);
    if let Some(initializer) = initializer(config) {
        linear.weight =
            initializer.init_with([inputs, outputs], Some(inputs), Some(outputs), device);
    }
    linear
}

/// How `config.init` starts a layer's weights; `None` for Burn's default.
fn initializer(config: &ModelConfig) -> Option<Initializer> {
    Some(match config.init {
        Init::Default => return None,
        Init::XavierNormal => Initializer::XavierNormal { gain: 1.0 },
        Init::HeNormal => Initializer::KaimingNormal {
            gain: std::f64::consts::SQRT_2,
            fan_out_only: false,
        },
        Init::Normal => Initializer::Normal {
            mean: 0.0,
            std: config.init_std,
        },
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_layers_outputs_lead_to_exactly_forwards_logits() {
        let device = crate::backend::Backend::select(None)
            .unwrap()
            .device()
            .unwrap();
        let mlp = |norm: &str| vec![format!("model.norm={norm}"), "model.hidden=[16, 8]".into()];
        let cnn = vec![
            "model.kind=\"cnn\"".to_string(),
            "model.conv=[4, {channels = 6, pool = 1}]".into(),
            "model.hidden=[8]".into(),
            "model.norm=\"batch\"".into(),
        ];
        let cases = [
            (mlp("none"), vec![], vec![[3, 16], [3, 8]]),
            (mlp("batch"), vec![], vec![[3, 16], [3, 8]]),
            (mlp("layer"), vec![], vec![[3, 16], [3, 8]]),
            (cnn, vec![[3, 4, 14, 14], [3, 6, 14, 14]], vec![[3, 8]]),
        ];
        for (overrides, maps, hidden) in cases {
            let config =
                crate::config::Config::parse(std::path::Path::new("t.toml"), "", &overrides)
                    .unwrap();
            device.seed(7);
            let model = Network::new(&config.model, config.training.loss, &device).valid();
            let images = Tensor::<2>::random(
                [3, PIXELS],
                burn::tensor::Distribution::Uniform(0.0, 1.0),
                &device,
            );
            let inside = model.forward_inside(images.clone());
            let map_dims: Vec<[usize; 4]> = inside.maps.iter().map(|m| m.dims()).collect();
            assert_eq!(map_dims, maps, "{overrides:?}");
            let dims: Vec<[usize; 2]> = inside.hidden.iter().map(|h| h.dims()).collect();
            assert_eq!(dims, hidden, "{overrides:?}");
            let expected = model.forward(images).into_data();
            assert_eq!(inside.logits.into_data(), expected, "{overrides:?}");
        }
    }
}
