//! A CNN's convolution layers: convolution → normalisation over channels → activation →
//! max pooling (→ dropout), on `[B, C, H, W]` feature maps.

use burn::nn::activation::Activation as ActivationLayer;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::norm::Normalization;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Dropout, DropoutConfig, PaddingConfig2d};
use burn::prelude::*;

use super::{activation_config, initializer, norm_config};
use crate::config::{ConvBlock, ModelConfig};

/// One convolution block of `model.conv`, as Burn modules.
#[derive(Module, Debug)]
pub struct ConvLayer {
    pub conv: Conv2d,
    pub norm: Normalization,
    pub activation: ActivationLayer,
    pub pool: Option<MaxPool2d>,
    pub dropout: Option<Dropout>,
}

impl ConvLayer {
    /// `block` taking `inputs` channels, its weights started as `config.init` says (biases
    /// keep Burn's default, as for the dense layers).
    pub fn new(block: &ConvBlock, inputs: usize, config: &ModelConfig, device: &Device) -> Self {
        let k = block.kernel;
        let mut conv = Conv2dConfig::new([inputs, block.channels], [k, k])
            .with_padding(PaddingConfig2d::Explicit(
                block.padding,
                block.padding,
                block.padding,
                block.padding,
            ))
            .init(device);
        if let Some(init) = initializer(config) {
            let (fan_in, fan_out) = (inputs * k * k, block.channels * k * k);
            conv.weight = init.init_with(
                [block.channels, inputs, k, k],
                Some(fan_in),
                Some(fan_out),
                device,
            );
        }
        ConvLayer {
            conv,
            norm: norm_config(config, block.channels).init(device),
            activation: activation_config(config.activation).init(device),
            pool: (block.pool > 1).then(|| MaxPool2dConfig::new([block.pool, block.pool]).init()),
            dropout: (config.dropout > 0.0).then(|| DropoutConfig::new(config.dropout).init()),
        }
    }

    /// `[B, inputs, H, W]` → `[B, channels, H', W']`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = match unfolds_convolutions(&x.device()) {
            true => unfolded_conv(&self.conv, x),
            false => self.conv.forward(x),
        };
        let x = match &self.norm {
            // Burn's LayerNorm normalises the last axis: put the channels there and back, so
            // each pixel's channels are normalised (as BatchNorm and GroupNorm use axis 1).
            Normalization::Layer(norm) => {
                norm.forward(x.permute([0, 2, 3, 1])).permute([0, 3, 1, 2])
            }
            norm => norm.forward(x),
        };
        let x = self.activation.forward(x);
        let x = match &self.pool {
            Some(pool) => pool.forward(x),
            None => x,
        };
        match &self.dropout {
            Some(dropout) => dropout.forward(x),
            None => x,
        }
    }
}

/// Whether convolutions on `device` run as [`unfolded_conv`] rather than Burn's `conv2d`.
/// ndarray's own convolution computes its gradient with direct loops: 2.3–2.6 s for a batch of
/// 64 through a 32 → 64 channel 3×3 layer, against 0.06 s as one matrix product
/// (`examples/conv_speed.rs`). Other backends run Burn's (flex's is faster than this one).
fn unfolds_convolutions(device: &Device) -> bool {
    #[cfg(feature = "ndarray")]
    #[allow(deprecated)]
    // ndarray is deprecated upstream in favour of flex; our users asked to keep it.
    if device.clone().inner() == Device::ndarray() {
        return true;
    }
    let _ = device;
    false
}

/// `conv`'s convolution (stride 1, symmetric padding, as `model.conv` builds them) as one
/// matrix product: each output pixel's k×k patch of every input channel is gathered from k²
/// shifted slices of the padded input (`[B, C·k², H'·W']`) and multiplied by the weights
/// seen as `[out, C·k²]`. The same values as Burn's `conv2d`, from operations whose gradients
/// are matrix products and slices too.
pub fn unfolded_conv(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let [batch, channels, height, width] = x.dims();
    let [outputs, _, k, _] = conv.weight.dims();
    let padding = match conv.padding {
        PaddingConfig2d::Explicit(top, ..) => top,
        _ => 0,
    };
    let x = match padding {
        0 => x,
        p => x.pad((p, p, p, p), burn::tensor::ops::PadMode::Constant(0.0)),
    };
    let (out_h, out_w) = (height + 2 * padding + 1 - k, width + 2 * padding + 1 - k);
    let mut patches = Vec::with_capacity(k * k);
    for dy in 0..k {
        for dx in 0..k {
            let shifted = x
                .clone()
                .slice([0..batch, 0..channels, dy..dy + out_h, dx..dx + out_w]);
            patches.push(shifted.reshape([batch, channels, 1, out_h * out_w]));
        }
    }
    // [B, C, k², H'W'] → [B, C·k², H'W']: rows in the weights' (channel, dy, dx) order.
    let patches = Tensor::cat(patches, 2).reshape([batch, channels * k * k, out_h * out_w]);
    let weights = conv.weight.val().reshape([1, outputs, channels * k * k]);
    let mut out = weights.matmul(patches);
    if let Some(bias) = &conv.bias {
        out = out + bias.val().reshape([1, outputs, 1]);
    }
    out.reshape([batch, outputs, out_h, out_w])
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    #[test]
    fn the_unfolded_convolution_is_burns_with_the_same_gradients() {
        let device = crate::backend::Backend::select(None)
            .unwrap()
            .device()
            .unwrap()
            .autodiff();
        for (padding, kernel) in [(1, 3), (0, 5), (2, 5)] {
            let conv = Conv2dConfig::new([3, 4], [kernel, kernel])
                .with_padding(PaddingConfig2d::Explicit(
                    padding, padding, padding, padding,
                ))
                .init(&device);
            let x = Tensor::<4>::random([2, 3, 9, 9], Distribution::Uniform(-1.0, 1.0), &device)
                .require_grad();
            let (ours, burns) = (unfolded_conv(&conv, x.clone()), conv.forward(x.clone()));
            assert_eq!(ours.dims(), burns.dims());
            ours.clone().into_data().assert_approx_eq::<f32>(
                &burns.clone().into_data(),
                burn::tensor::Tolerance::absolute(1e-5),
            );
            // Any loss: the gradients of input and weights agree.
            let loss = |y: Tensor<4>| (y.clone() * y).sum();
            let (a, b) = (loss(ours).backward(), loss(burns).backward());
            for (ga, gb) in [
                (x.grad(&a).unwrap(), x.grad(&b).unwrap()),
                (
                    conv.weight.val().grad(&a).unwrap(),
                    conv.weight.val().grad(&b).unwrap(),
                ),
            ] {
                ga.into_data().assert_approx_eq::<f32>(
                    &gb.into_data(),
                    burn::tensor::Tolerance::absolute(1e-3),
                );
            }
        }
    }
}
