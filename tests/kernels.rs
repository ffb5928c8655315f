//! digits' own CPU kernels (`model::kernels`) against Burn's operations they replace: the same
//! values and the same gradients, on every CPU backend the build has (CI runs this module in
//! the default build, ndarray, and in the feature build, ndarray and flex).

use crate::common::cpu_backends;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2dConfig;
use burn::nn::pool::MaxPool2dConfig;
use burn::prelude::*;
use burn::tensor::{Distribution, Tolerance};
use digits::model::kernels::{has_kernels, max_pool_square, unfold};
use digits::model::{unfold_by_slices, unfolded_conv};

fn cpu_devices() -> Vec<Device> {
    let devices: Vec<Device> = cpu_backends()
        .into_iter()
        .map(|b| b.device().unwrap().autodiff())
        .collect();
    assert!(!devices.is_empty(), "no CPU backend in this build");
    devices
}

/// Even and odd sides (a last row and column outside every window), k = 2 and 3: values equal,
/// and the input's gradient under a loss that weights each output differently (a gradient
/// handed to the wrong pixel shows).
#[test]
fn max_pooling_is_burns_with_the_same_gradients() {
    for device in cpu_devices() {
        assert!(has_kernels(&device));
        for (k, side) in [(2, 8), (2, 7), (3, 9), (3, 10)] {
            let x = Tensor::<4>::random(
                [3, 2, side, side + 1],
                Distribution::Normal(0.0, 1.0),
                &device,
            )
            .require_grad();
            let burns = MaxPool2dConfig::new([k, k]).init().forward(x.clone());
            let ours = max_pool_square(x.clone(), k);
            assert_eq!(ours.dims(), burns.dims(), "k = {k}, side {side}");
            ours.clone()
                .into_data()
                .assert_eq(&burns.clone().into_data(), true);
            let weights =
                Tensor::<4>::random(ours.dims(), Distribution::Uniform(0.5, 2.0), &device);
            let a = (ours * weights.clone()).sum().backward();
            let b = (burns * weights).sum().backward();
            x.grad(&a)
                .unwrap()
                .into_data()
                .assert_eq(&x.grad(&b).unwrap().into_data(), true);
        }
    }
}

/// The convolution through our unfolding against Burn's `conv2d`: padding 0 to beyond the
/// kernel's reach, kernels 1 to 5, non-square images; values and the gradients of input,
/// weights and bias.
#[test]
fn unfolded_convolution_is_burns_with_the_same_gradients() {
    for device in cpu_devices() {
        for (padding, kernel) in [(1, 3), (0, 5), (2, 5), (0, 1), (3, 3)] {
            let conv = Conv2dConfig::new([3, 4], [kernel, kernel])
                .with_padding(PaddingConfig2d::Explicit(
                    padding, padding, padding, padding,
                ))
                .init(&device);
            let x = Tensor::<4>::random([2, 3, 9, 7], Distribution::Uniform(-1.0, 1.0), &device)
                .require_grad();
            let (ours, burns) = (unfolded_conv(&conv, x.clone()), conv.forward(x.clone()));
            assert_eq!(ours.dims(), burns.dims());
            let tolerance = Tolerance::absolute(1e-5);
            ours.clone()
                .into_data()
                .assert_approx_eq::<f32>(&burns.clone().into_data(), tolerance);
            let weights =
                Tensor::<4>::random(ours.dims(), Distribution::Uniform(0.5, 2.0), &device);
            let a = (ours * weights.clone()).sum().backward();
            let b = (burns * weights).sum().backward();
            let bias = conv.bias.as_ref().unwrap().val();
            for (ga, gb) in [
                (x.grad(&a).unwrap(), x.grad(&b).unwrap()),
                (
                    conv.weight.val().grad(&a).unwrap(),
                    conv.weight.val().grad(&b).unwrap(),
                ),
            ] {
                ga.into_data()
                    .assert_approx_eq::<f32>(&gb.into_data(), Tolerance::rel_abs(1e-5, 1e-4));
            }
            bias.grad(&a).unwrap().into_data().assert_approx_eq::<f32>(
                &bias.grad(&b).unwrap().into_data(),
                Tolerance::rel_abs(1e-5, 1e-4),
            );
        }
    }
}

/// Our unfolding against the one from Burn's slices that the web page runs: the same patches,
/// and the same input gradient under a loss that weights each patch value differently.
#[test]
fn unfolding_is_the_slices_unfolding_with_the_same_gradient() {
    for device in cpu_devices() {
        for (padding, kernel) in [(1, 3), (0, 5), (2, 5), (0, 1), (3, 3)] {
            let x = Tensor::<4>::random([2, 3, 9, 7], Distribution::Uniform(-1.0, 1.0), &device)
                .require_grad();
            let ours = unfold(x.clone(), kernel, padding);
            let slices = unfold_by_slices(x.clone(), kernel, padding);
            assert_eq!(ours.dims(), slices.dims());
            ours.clone()
                .into_data()
                .assert_eq(&slices.clone().into_data(), true);
            let weights =
                Tensor::<3>::random(ours.dims(), Distribution::Uniform(0.5, 2.0), &device);
            let a = (ours * weights.clone()).sum().backward();
            let b = (slices * weights).sum().backward();
            x.grad(&a).unwrap().into_data().assert_approx_eq::<f32>(
                &x.grad(&b).unwrap().into_data(),
                Tolerance::rel_abs(1e-5, 1e-5),
            );
        }
    }
}
