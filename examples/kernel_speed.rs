//! Each of digits' CPU kernels (`model::kernels`) against the Burn operation it replaces, at
//! the shapes the reference CNN (`config/cnn.toml`, batch 64) and the wide MLPs (batch 128)
//! meet: milliseconds for the forward pass and for the backward pass, the best of 5 rounds
//! (docs/EXPERIMENTS.md, "Our own kernels", per operation):
//!
//!     cargo run --release --example kernel_speed                  # ndarray
//!     cargo run --release --features flex --example kernel_speed -- flex

use std::time::Instant;

use burn::nn::conv::Conv2dConfig;
use burn::nn::pool::MaxPool2dConfig;
use burn::nn::{LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::Distribution;
use digits::model::{Fused, kernels, unfolded_conv};

fn main() {
    let backend = std::env::args().nth(1);
    let device = digits::backend::Backend::select(backend.as_deref())
        .and_then(|b| b.device())
        .expect("a backend this build has")
        .autodiff();
    println!(
        "| operation | shape | Burn's: forward, backward (ms) | digits': forward, backward (ms) |"
    );
    println!("|---|---|---|---|");
    for (inputs, outputs, side) in [(1, 32, 28), (32, 64, 14)] {
        let conv = Conv2dConfig::new([inputs, outputs], [3, 3])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .init(&device);
        let x = random([64, inputs, side, side], &device);
        let bias = conv.bias.as_ref().expect("a bias").val();
        let burns = timed(&x, |x| conv.forward(x));
        let ours = timed(&x, |x| {
            kernels::convolve(x, conv.weight.val(), bias.clone(), 1)
        });
        let shape = format!("3×3, {inputs} → {outputs} channels, {side}×{side}, batch 64");
        row("convolution", &shape, burns, ours);
        if backend.as_deref() != Some("flex") {
            // What ndarray ran before the kernel: Burn's product over Burn's unfolding.
            let unfolded = timed(&x, |x| unfolded_conv(&conv, x));
            row("convolution, unfolded", &shape, burns, unfolded);
        }
    }
    for (channels, side) in [(32, 28), (64, 14)] {
        let x = random([64, channels, side, side], &device);
        let pool = MaxPool2dConfig::new([2, 2]).init();
        let burns = timed(&x, |x| pool.forward(x));
        let ours = timed(&x, |x| kernels::max_pool_square(x, 2));
        let shape = format!("2×2, {channels} channels, {side}×{side}, batch 64");
        row("max pooling", &shape, burns, ours);
    }
    let dense_shapes = [
        (64, 3136, 128, Fused::Relu),
        (128, 784, 512, Fused::Relu),
        (128, 784, 512, Fused::Sigmoid),
        (128, 2048, 2048, Fused::Relu),
    ];
    for (batch, inputs, outputs, act) in dense_shapes {
        let linear = LinearConfig::new(inputs, outputs).init(&device);
        let x = random([batch, inputs], &device);
        let bias = linear.bias.as_ref().expect("a bias").val();
        let burns = timed(&x, |x| match act {
            Fused::Identity => linear.forward(x),
            Fused::Relu => burn::tensor::activation::relu(linear.forward(x)),
            Fused::Sigmoid => burn::tensor::activation::sigmoid(linear.forward(x)),
            Fused::Tanh => burn::tensor::activation::tanh(linear.forward(x)),
            Fused::Gelu => burn::tensor::activation::gelu(linear.forward(x)),
        });
        let ours = timed(&x, |x| {
            kernels::dense(x, linear.weight.val(), bias.clone(), act)
        });
        let shape = format!("{inputs} → {outputs}, {act:?}, batch {batch}");
        row("dense", &shape, burns, ours);
    }
}

fn random<const D: usize>(dims: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::random(dims, Distribution::Uniform(-1.0, 1.0), device).require_grad()
}

fn row(operation: &str, shape: &str, (bf, bb): (f64, f64), (of, ob): (f64, f64)) {
    println!(
        "| {operation} | {shape} | {:.2}, {:.2} | {:.2}, {:.2} ({:.1}×, {:.1}×) |",
        bf * 1e3,
        bb * 1e3,
        of * 1e3,
        ob * 1e3,
        bf / of,
        bb / ob
    );
}

/// The fastest forward and backward pass of `op` on `x` (seconds) over 5 rounds.
fn timed<const D: usize, const E: usize>(
    x: &Tensor<D>,
    op: impl Fn(Tensor<D>) -> Tensor<E>,
) -> (f64, f64) {
    let (mut forward, mut backward) = (f64::MAX, f64::MAX);
    for _ in 0..5 {
        let started = Instant::now();
        let y = op(x.clone());
        // Reading a value back waits for the work (GPU backends run asynchronously).
        let _: f32 = y.clone().sum().into_scalar();
        forward = forward.min(started.elapsed().as_secs_f64());
        let started = Instant::now();
        let grads = y.sum().backward();
        let _: f32 = x.grad(&grads).expect("x requires grad").sum().into_scalar();
        backward = backward.min(started.elapsed().as_secs_f64());
    }
    (forward, backward)
}
