//! How long a convolution layer's forward and backward pass take, Burn's `conv2d` against
//! digits' unfolded one (`model::unfolded_conv`), for the reference CNN's two blocks at batch
//! 64 (docs/EXPERIMENTS.md, "Convolutional networks"). The best of 5 rounds each:
//!
//!     cargo run --release --example conv_speed                  # ndarray
//!     cargo run --release --features flex --example conv_speed -- flex

use std::time::Instant;

use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::prelude::*;
use burn::tensor::Distribution;
use digits::model::unfolded_conv;

fn main() {
    let backend = std::env::args().nth(1);
    let device = digits::backend::Backend::select(backend.as_deref())
        .and_then(|b| b.device())
        .expect("a backend this build has")
        .autodiff();
    for (inputs, outputs, side) in [(1, 32, 28), (32, 64, 14)] {
        let conv = Conv2dConfig::new([inputs, outputs], [3, 3])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .init(&device);
        let x = Tensor::<4>::random(
            [64, inputs, side, side],
            Distribution::Uniform(0.0, 1.0),
            &device,
        )
        .require_grad();
        for (name, unfolded) in [("Burn's conv2d", false), ("unfolded", true)] {
            let (forward, backward) = best_of(5, &conv, &x, unfolded);
            println!(
                "{inputs:>2} → {outputs} channels, {side}×{side}, batch 64, {name:<13}: forward {:6.1} ms, backward {:7.1} ms",
                forward * 1e3,
                backward * 1e3
            );
        }
    }
}

/// The fastest forward and backward pass (seconds) over `rounds` rounds.
fn best_of(rounds: usize, conv: &Conv2d, x: &Tensor<4>, unfolded: bool) -> (f64, f64) {
    let (mut forward, mut backward) = (f64::MAX, f64::MAX);
    for _ in 0..rounds {
        let started = Instant::now();
        let y = match unfolded {
            true => unfolded_conv(conv, x.clone()),
            false => conv.forward(x.clone()),
        };
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
