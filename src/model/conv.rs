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
        let x = convolution(&self.conv, x);
        let x = match &self.norm {
            // Burn's LayerNorm normalises the last axis: put the channels there and back, so
            // each pixel's channels are normalised (as BatchNorm and GroupNorm use axis 1).
            Normalization::Layer(norm) => {
                norm.forward(x.permute([0, 2, 3, 1])).permute([0, 3, 1, 2])
            }
            norm => norm.forward(x),
        };
        let x = match (&self.pool, &self.activation) {
            // ReLU after the pooling: relu(max(window)) = max(relu(window)) exactly, values
            // and gradients (both pass the gradient to the window's largest value, if it is
            // above zero), on a quarter of the values for 2×2 windows.
            (Some(pool), ActivationLayer::Relu(relu)) => relu.forward(max_pool(pool, x)),
            (Some(pool), activation) => max_pool(pool, activation.forward(x)),
            (None, activation) => activation.forward(x),
        };
        match &self.dropout {
            Some(dropout) => dropout.forward(x),
            None => x,
        }
    }
}

/// `conv`'s convolution with our own kernel where the device has it ([`super::kernels`]: the
/// CPU backends, natively), else as [`unfolded_conv`] on ndarray (the web page's WebAssembly
/// build, which has no kernels) or with Burn's `conv2d` (GPUs, a remote device).
fn convolution(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    #[cfg(not(target_arch = "wasm32"))]
    if super::kernels::has_kernels(&x.device())
        && let (Some(bias), PaddingConfig2d::Explicit(padding, ..)) = (&conv.bias, &conv.padding)
    {
        return super::kernels::convolve(x, conv.weight.val(), bias.val(), *padding);
    }
    match unfolds_convolutions(&x.device()) {
        true => unfolded_conv(conv, x),
        false => conv.forward(x),
    }
}

/// `pool` (k×k, stride k: how `ConvLayer::new` builds it) with our own kernels where the
/// device has them ([`super::kernels`]), else Burn's.
fn max_pool(pool: &MaxPool2d, x: Tensor<4>) -> Tensor<4> {
    #[cfg(not(target_arch = "wasm32"))]
    if super::kernels::has_kernels(&x.device()) {
        return super::kernels::max_pool_square(x, pool.kernel_size[0]);
    }
    pool.forward(x)
}

/// Whether convolutions on `device` run as [`unfolded_conv`] rather than Burn's `conv2d`.
/// ndarray's own convolution computes its gradient with direct loops: 2.3–2.6 s for a batch of
/// 64 through a 32 → 64 channel 3×3 layer, against 0.06 s as one matrix product
/// (`examples/kernel_speed.rs`, "convolution, unfolded"). Other backends run Burn's.
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

/// `[B, C, H, W]` → `[B, C·k², H'·W']`: each output pixel's k×k patch of every input channel
/// (zero padding around), rows in the weights' (channel, dy, dx) order, from Burn's operations
/// (k² shifted slices of the padded input, concatenated), which autodiff derives.
fn unfold_by_slices(x: Tensor<4>, k: usize, padding: usize) -> Tensor<3> {
    let [batch, channels, height, width] = x.dims();
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
    // [B, C, k², H'W'] → [B, C·k², H'W'].
    Tensor::cat(patches, 2).reshape([batch, channels * k * k, out_h * out_w])
}

/// `conv`'s convolution (stride 1, symmetric padding, as `model.conv` builds them) as one
/// matrix product: the input's patches ([`unfold_by_slices`], `[B, C·k², H'·W']`) multiplied
/// by the weights seen as `[out, C·k²]`. The same values as Burn's `conv2d`. ndarray runs it
/// where our kernels do not (the web page's WebAssembly build, `DIGITS_KERNELS=burn`).
pub fn unfolded_conv(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let [batch, channels, height, width] = x.dims();
    let [outputs, _, k, _] = conv.weight.dims();
    let padding = match conv.padding {
        PaddingConfig2d::Explicit(top, ..) => top,
        _ => 0,
    };
    let (out_h, out_w) = (height + 2 * padding + 1 - k, width + 2 * padding + 1 - k);
    let patches = unfold_by_slices(x, k, padding);
    let weights = conv.weight.val().reshape([1, outputs, channels * k * k]);
    let mut out = weights.matmul(patches);
    if let Some(bias) = &conv.bias {
        out = out + bias.val().reshape([1, outputs, 1]);
    }
    out.reshape([batch, outputs, out_h, out_w])
}
