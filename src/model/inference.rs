//! A trained network classifying stored images (`eval`, `predict`, `explain`, `bench`'s
//! inference figure): from the images' bytes to logits. Where the device runs our kernels and
//! the network is an MLP (any normalisation; ReLU, the sigmoid, tanh or exact GELU), the
//! whole network runs per block of images
//! ([`kernels::mlp`]), its weights read out once when the classifier is made; anywhere else,
//! Burn's tensors layer by layer.

use burn::prelude::*;

use super::Network;
use super::input::scaled;
#[cfg(not(target_arch = "wasm32"))]
use super::kernels::{
    self,
    mlp::{DenseLayer, Mlp},
    norm::{BatchNormValues, ImageNorm},
};
#[cfg(not(target_arch = "wasm32"))]
use burn::nn::norm::{BatchNorm, GroupNorm, LayerNorm, LayerNormConfig, Normalization};

/// A network in inference mode, ready to classify images.
pub struct Classifier {
    network: Network,
    device: Device,
    /// The dense layers' weights for the per-block kernel, where it applies.
    #[cfg(not(target_arch = "wasm32"))]
    layers: Option<Mlp>,
}

impl Classifier {
    /// `network` in inference mode on `device`.
    pub fn new(network: &Network, device: &Device) -> Classifier {
        let network = network.valid();
        Classifier {
            #[cfg(not(target_arch = "wasm32"))]
            layers: dense_layers(&network, device),
            network,
            device: device.clone(),
        }
    }

    /// The network, in inference mode.
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// The device it classifies on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Whether it runs the network per block of images with our kernels (else layer by layer
    /// through Burn's tensors).
    pub fn runs_per_block(&self) -> bool {
        #[cfg(not(target_arch = "wasm32"))]
        return self.layers.is_some();
        #[cfg(target_arch = "wasm32")]
        false
    }

    /// The logits `[images, 10]` of `images`, each 784 stored bytes (0..255).
    pub fn logits(&self, images: &[&[u8]]) -> Tensor<2> {
        let rows = images.len();
        #[cfg(not(target_arch = "wasm32"))]
        if let Some(layers) = &self.layers {
            let logits = layers.logits(images);
            let classes = layers.classes();
            return Tensor::from_data(TensorData::new(logits, [rows, classes]), &self.device);
        }
        let inputs = images.first().map_or(0, |image| image.len());
        let x = Tensor::from_data(
            TensorData::new(scaled(images), [rows, inputs]),
            &self.device,
        );
        self.network.forward(x)
    }
}

/// Each dense layer's weights and activation, if the per-block kernel runs this network on
/// `device`: an MLP whose hidden activations are ReLU, the sigmoid, tanh or GELU, without
/// normalisation, with batch normalisation (folded into the weights: in inference it is a
/// fixed scale and shift of each output) or with layer or group normalisation (each image's
/// outputs normalised in the block's pass).
#[cfg(not(target_arch = "wasm32"))]
fn dense_layers(network: &Network, device: &Device) -> Option<Mlp> {
    if !kernels::has_kernels(device) || !network.conv.is_empty() {
        return None;
    }
    let layer = |linear: &burn::nn::Linear, act| {
        Some(DenseLayer {
            weight: values(linear.weight.val())?,
            bias: values(linear.bias.as_ref()?.val())?,
            norm: None,
            act,
        })
    };
    let mut layers = Vec::with_capacity(network.hidden.len() + 1);
    for block in &network.hidden {
        let mut dense = layer(&block.linear, block.kernel_activation()?)?;
        match &block.norm {
            Normalization::Identity(_) => {}
            Normalization::Batch(norm) => {
                batch_norm(norm)?.fold(&mut dense.weight, &mut dense.bias)
            }
            Normalization::Layer(norm) => dense.norm = Some(layer_norm(norm)?),
            Normalization::Group(norm) => dense.norm = Some(group_norm(norm)?),
            _ => return None,
        }
        layers.push(dense);
    }
    layers.push(layer(&network.output, super::Fused::Identity)?);
    Some(Mlp::new(layers))
}

/// A batch normalisation's values in inference (its running statistics).
#[cfg(not(target_arch = "wasm32"))]
fn batch_norm(norm: &BatchNorm) -> Option<BatchNormValues> {
    Some(BatchNormValues {
        gamma: values(norm.gamma.val())?,
        beta: values(norm.beta.val())?,
        mean: values(norm.running_mean.value())?,
        variance: values(norm.running_var.value())?,
        epsilon: norm.epsilon,
    })
}

/// A layer normalisation as one group of each image's outputs.
#[cfg(not(target_arch = "wasm32"))]
fn layer_norm(norm: &LayerNorm) -> Option<ImageNorm> {
    let gamma = values(norm.gamma.val())?;
    let beta = match &norm.beta {
        Some(beta) => values(beta.val())?,
        None => vec![0.0; gamma.len()],
    };
    // Burn 0.22.1 keeps a LayerNorm's ε private; digits builds every one with
    // `LayerNormConfig`'s default (`model::norm_config`).
    let epsilon = LayerNormConfig::new(gamma.len()).epsilon;
    Some(ImageNorm {
        groups: 1,
        gamma,
        beta,
        epsilon,
    })
}

/// A group normalisation of each image's outputs (γ 1 and β 0 where it is not affine).
#[cfg(not(target_arch = "wasm32"))]
fn group_norm(norm: &GroupNorm) -> Option<ImageNorm> {
    let (channels, groups, epsilon) = (norm.num_channels, norm.num_groups, norm.epsilon);
    if groups == 0 || channels % groups != 0 {
        return None;
    }
    let (gamma, beta) = match (&norm.gamma, &norm.beta, norm.affine) {
        (Some(gamma), Some(beta), true) => (values(gamma.val())?, values(beta.val())?),
        _ => (vec![1.0; channels], vec![0.0; channels]),
    };
    Some(ImageNorm {
        groups,
        gamma,
        beta,
        epsilon,
    })
}

#[cfg(not(target_arch = "wasm32"))]
fn values<const D: usize>(tensor: Tensor<D>) -> Option<Vec<f32>> {
    tensor.into_data().try_into_vec_as::<f32>().ok()
}
