//! `digits gradcheck`: one batch's gradients three ways — Burn's autodiff (what training
//! uses), the written-out backpropagation of [`crate::backprop`] (for the networks it covers),
//! and central finite differences in f64 on a sample of each layer's parameters — and the
//! largest disagreement between each pair, per layer.

use burn::module::{Module, ModuleMapper, Param};
use burn::prelude::*;
use burn::tensor::FloatDType;

use crate::backprop::{self, LayerGradients};
use burn::nn::norm::{LayerNormConfig, Normalization};

use crate::config::{Activation, Config, IMAGE_SIDE, Loss};
use crate::data::DigitBatch;
use crate::data::idx::CLASSES;
use crate::model::{self, Network};
use crate::report;

/// How much of each layer to check, and how strictly.
#[derive(Debug, Clone, Copy)]
pub struct CheckPlan {
    /// Parameters per tensor checked by finite differences (evenly spread); 0 = all.
    pub samples: usize,
    /// The finite-difference step, in parameter units (central differences in f64).
    pub step: f64,
    /// The largest error allowed, relative to the layer's largest gradient.
    pub tolerance: f64,
}

/// One parameter tensor's check: its gradient norm and the pairs' errors (each the largest
/// absolute difference relative to the largest absolute gradient of the tensor).
#[derive(Debug, Clone, serde::Serialize)]
pub struct TensorCheck {
    /// `hidden 1 weights`, `output biases`, ...
    pub name: String,
    pub parameters: usize,
    /// Parameters checked by finite differences.
    pub sampled: usize,
    /// L2 norm of autodiff's gradient.
    pub norm: f64,
    pub autodiff_vs_backprop: Option<f64>,
    pub autodiff_vs_differences: f64,
    pub backprop_vs_differences: Option<f64>,
}

impl TensorCheck {
    /// The largest of its errors.
    pub fn worst(&self) -> f64 {
        [
            self.autodiff_vs_backprop,
            Some(self.autodiff_vs_differences),
            self.backprop_vs_differences,
        ]
        .into_iter()
        .flatten()
        .fold(0.0, f64::max)
    }
}

/// The whole check.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GradCheck {
    pub loss: f64,
    pub images: usize,
    /// Why the written-out backpropagation was not run, when it was not.
    pub backprop_skipped: Option<String>,
    /// The network has dropout, turned off for the check.
    pub dropout_off: bool,
    pub tensors: Vec<TensorCheck>,
    pub tolerance: f64,
}

impl GradCheck {
    pub fn passed(&self) -> bool {
        self.tensors.iter().all(|t| t.worst() <= self.tolerance)
    }
}

/// Checks `model` (on an autodiff device) on `batch`. Dropout is turned off for the check:
/// its masks are random, and a finite difference compares two forward passes.
pub fn gradcheck(
    model: &Network,
    config: &Config,
    batch: DigitBatch,
    plan: CheckPlan,
) -> GradCheck {
    let dropout_off = config.model.dropout > 0.0;
    let mut config = config.clone();
    config.model.dropout = 0.0;
    let mut model = model.clone();
    for block in &mut model.hidden {
        block.dropout = None;
    }
    for layer in &mut model.conv {
        layer.dropout = None;
    }
    let (config, model) = (&config, &model);
    let seed = config.training.seed;
    let device = batch.images.device();
    // Autodiff: the training step's own loss and backward pass.
    device.seed(seed);
    let step = model.forward_step(batch.clone());
    let loss: f64 = step.loss.clone().into_scalar();
    let grads = step.loss.backward();
    let autodiff = autodiff_gradients(model, &grads);

    let backprop_skipped = backprop::not_covered(&config.model);
    let written_out = backprop_skipped.is_none().then(|| {
        let plain = model.clone().valid();
        let images = batch.images.clone().inner();
        let targets = batch.targets.clone().inner();
        let (_, gradients) = backprop::backprop(
            &plain,
            config.model.activation,
            config.training.loss,
            images,
            targets,
        );
        written_out_values(gradients)
    });

    // The finite differences run off the autodiff device: each forward pass there would
    // keep its graph (never walked back) alive, and memory would grow with every sample.
    let wide = model.clone().valid().map(&mut ToF64);
    let images = batch.images.clone().inner().cast(FloatDType::F64);
    let targets = batch.targets.clone().inner();
    let inner_device = images.device();
    let loss_at = |candidate: &Network| -> f64 {
        inner_device.seed(seed);
        let logits = forward_f64(candidate, config.model.activation, images.clone());
        loss_f64(config.training.loss, logits, targets.clone()).into_scalar()
    };
    // Two forward passes a sampled parameter: minutes for a CNN, so its progress is shown.
    let total = autodiff
        .iter()
        .map(|(_, g)| sample(g.len(), plan.samples).len());
    let progress = report::progress("finite differences", total.sum::<usize>() as u64);
    let tensors = autodiff
        .iter()
        .enumerate()
        .map(|(index, (name, grad))| {
            let picked = sample(grad.len(), plan.samples);
            let differences: Vec<f64> = picked
                .iter()
                .map(|&i| {
                    let plus = loss_at(&nudged(&wide, index, i, plan.step));
                    let minus = loss_at(&nudged(&wide, index, i, -plan.step));
                    progress.add(1, Some(name));
                    (plus - minus) / (2.0 * plan.step)
                })
                .collect();
            let at = |values: &[f32]| picked.iter().map(|&i| values[i] as f64).collect::<Vec<_>>();
            let ours = written_out.as_ref().map(|w| &w[index]);
            TensorCheck {
                name: name.clone(),
                parameters: grad.len(),
                sampled: picked.len(),
                norm: grad.iter().map(|&g| (g as f64).powi(2)).sum::<f64>().sqrt(),
                autodiff_vs_backprop: ours.map(|o| relative_error(grad_f64(grad), grad_f64(o))),
                autodiff_vs_differences: relative_error(at(grad), differences.clone()),
                backprop_vs_differences: ours.map(|o| relative_error(at(o), differences.clone())),
            }
        })
        .collect();
    GradCheck {
        loss,
        images: batch.targets.dims()[0],
        backprop_skipped,
        dropout_off,
        tensors,
        tolerance: plan.tolerance,
    }
}

/// Autodiff's gradient of every weighted layer's weights and biases (a CNN's convolutions
/// first, then the Linear layers), input side first, with their names.
fn autodiff_gradients(model: &Network, grads: &burn::tensor::Gradients) -> Vec<(String, Vec<f32>)> {
    let layers = model.hidden.len();
    let missing = "every parameter takes part in the loss";
    let flat = |t: Tensor<4>| {
        let n = t.dims().iter().product();
        values(t.reshape([1, n]))
    };
    let conv = model.conv.iter().enumerate().flat_map(|(l, layer)| {
        let bias = layer
            .conv
            .bias
            .as_ref()
            .expect("digits' layers have biases");
        let weight_grad = layer.conv.weight.val().grad(grads).expect(missing);
        let bias_grad = bias.val().grad(grads).expect(missing);
        [
            (format!("conv {} weights", l + 1), flat(weight_grad)),
            (
                format!("conv {} biases", l + 1),
                values(bias_grad.unsqueeze::<2>()),
            ),
        ]
    });
    let dense = model.linears().enumerate().flat_map(|(l, linear)| {
        let layer = match l == layers {
            true => "output".to_string(),
            false => format!("hidden {}", l + 1),
        };
        let bias = linear.bias.as_ref().expect("digits' layers have biases");
        let weight_grad = linear.weight.val().grad(grads).expect(missing);
        let bias_grad = bias.val().grad(grads).expect(missing);
        [
            (format!("{layer} weights"), values(weight_grad)),
            (
                format!("{layer} biases"),
                values(bias_grad.unsqueeze::<2>()),
            ),
        ]
    });
    conv.chain(dense).collect()
}

/// The written-out gradients in [`autodiff_gradients`]' order.
fn written_out_values(gradients: LayerGradients) -> Vec<Vec<f32>> {
    gradients
        .weights
        .into_iter()
        .zip(gradients.biases)
        .flat_map(|(w, b)| [values(w), values(b.unsqueeze::<2>())])
        .collect()
}

fn values(tensor: Tensor<2>) -> Vec<f32> {
    tensor
        .cast(FloatDType::F32)
        .into_data()
        .try_into_vec::<f32>()
        .expect("f32 data")
}

fn grad_f64(values: &[f32]) -> Vec<f64> {
    values.iter().map(|&v| v as f64).collect()
}

/// `count` indices spread evenly over `0..len` (all of them for 0 or `count ≥ len`).
fn sample(len: usize, count: usize) -> Vec<usize> {
    if count == 0 || count >= len {
        return (0..len).collect();
    }
    (0..count)
        .map(|j| j * len / count + len / (2 * count))
        .collect()
}

/// The largest |a − b| relative to the largest |b| (the reference), 0 when both are 0.
pub fn relative_error(a: Vec<f64>, b: Vec<f64>) -> f64 {
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let worst = a
        .iter()
        .zip(&b)
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
    match scale > 0.0 {
        true => worst / scale,
        false => worst,
    }
}

/// `model` with parameter `index` (in [`autodiff_gradients`]' order) moved by `step` at `element`.
fn nudged(model: &Network, index: usize, element: usize, step: f64) -> Network {
    let mut model = model.clone();
    let bump = |tensor: Tensor<2>| {
        let [rows, cols] = tensor.dims();
        let mut delta = vec![0.0f64; rows * cols];
        delta[element] = step;
        let delta = Tensor::<1>::from_data(TensorData::new(delta, [rows * cols]), &tensor.device())
            .cast(FloatDType::F64)
            .reshape([rows, cols]);
        tensor + delta
    };
    let bump_bias = |bias: Param<Tensor<1>>| bias.map(|b| bump(b.unsqueeze::<2>()).squeeze_dim(0));
    let convs = 2 * model.conv.len();
    if index < convs {
        let conv = &mut model.conv[index / 2].conv;
        if index.is_multiple_of(2) {
            conv.weight = conv.weight.clone().map(|w| {
                let dims = w.dims();
                bump(w.reshape([1, dims.iter().product()])).reshape(dims)
            });
        } else {
            conv.bias = conv.bias.take().map(bump_bias);
        }
        return model;
    }
    let index = index - convs;
    let layers = model.hidden.len();
    let linear = match index / 2 {
        l if l == layers => &mut model.output,
        l => &mut model.hidden[l].linear,
    };
    if index.is_multiple_of(2) {
        linear.weight = linear.weight.clone().map(bump);
    } else {
        linear.bias = linear.bias.take().map(bump_bias);
    }
    model
}

/// The training-mode forward pass in f64 throughout. Burn's own sigmoid computes in f32
/// whatever its input (burn-backend 0.22's default `sigmoid`), which would drown a
/// finite difference's 1e-5 step: sigmoid and the normalisations are written here in f64.
fn forward_f64(model: &Network, activation: Activation, images: Tensor<2>) -> Tensor<2> {
    let features = match model.conv.is_empty() {
        true => images,
        false => {
            // A CNN's blocks (without normalisation: gradcheck refuses a CNN with one).
            let [batch, _] = images.dims();
            let image = images.reshape([batch, 1, IMAGE_SIDE, IMAGE_SIDE]);
            let maps = model.conv.iter().fold(image, |x, layer| {
                let z = layer.conv.forward(x);
                let a = match activation {
                    Activation::Sigmoid => z.neg().exp().add_scalar(1.0).recip(),
                    _ => layer.activation.forward(z),
                };
                match &layer.pool {
                    Some(pool) => pool.forward(a),
                    None => a,
                }
            });
            maps.flatten(1, 3)
        }
    };
    let hidden = model.hidden.iter().fold(features, |x, block| {
        let z = norm_f64(&block.norm, block.linear.forward(x));
        let a = match activation {
            Activation::Sigmoid => sigmoid_f64(z),
            _ => block.activation.forward(z),
        };
        match &block.dropout {
            Some(dropout) => dropout.forward(a),
            None => a,
        }
    });
    model.output.forward(hidden)
}

/// 1 / (1 + e⁻ᶻ), in the input's precision.
fn sigmoid_f64(z: Tensor<2>) -> Tensor<2> {
    z.neg().exp().add_scalar(1.0).recip()
}

/// Batch normalisation with the batch's statistics (training mode), layer and group
/// normalisation over each image's features; biased variances, as Burn's.
fn norm_f64(norm: &Normalization, z: Tensor<2>) -> Tensor<2> {
    let standardise = |x: Tensor<3>, dim: usize, epsilon: f64| {
        let centred = x.clone() - x.mean_dim(dim);
        let variance = centred.clone().powi_scalar(2).mean_dim(dim);
        centred / variance.add_scalar(epsilon).sqrt()
    };
    let [n, features] = z.dims();
    let affine = |x: Tensor<2>, gamma: Option<Tensor<1>>, beta: Option<Tensor<1>>| {
        let x = match gamma {
            Some(g) => x * g.unsqueeze::<2>(),
            None => x,
        };
        match beta {
            Some(b) => x + b.unsqueeze::<2>(),
            None => x,
        }
    };
    match norm {
        Normalization::Batch(bn) => {
            let x = standardise(z.reshape([1, n, features]), 1, bn.epsilon).reshape([n, features]);
            affine(x, Some(bn.gamma.val()), Some(bn.beta.val()))
        }
        Normalization::Layer(ln) => {
            let epsilon = LayerNormConfig::new(features).epsilon;
            let x = standardise(z.reshape([n, 1, features]), 2, epsilon).reshape([n, features]);
            affine(x, Some(ln.gamma.val()), ln.beta.as_ref().map(|b| b.val()))
        }
        Normalization::Group(gn) => {
            let groups = gn.num_groups;
            let x = standardise(z.reshape([n, groups, features / groups]), 2, gn.epsilon)
                .reshape([n, features]);
            affine(
                x,
                gn.gamma.as_ref().map(|g| g.val()),
                gn.beta.as_ref().map(|b| b.val()),
            )
        }
        _ => z,
    }
}

/// The configured loss in f64 (the quadratic one through [`sigmoid_f64`]).
fn loss_f64(kind: Loss, logits: Tensor<2>, targets: Tensor<1, Int>) -> Tensor<1> {
    match kind {
        Loss::CrossEntropy => model::loss(kind, logits, targets),
        Loss::Quadratic => {
            let expected = targets.one_hot(CLASSES).float().cast(FloatDType::F64);
            (sigmoid_f64(logits) - expected)
                .powi_scalar(2)
                .sum_dim(1)
                .mul_scalar(0.5)
                .mean()
        }
    }
}

/// Every float parameter and buffer cast to f64.
struct ToF64;

impl ModuleMapper for ToF64 {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        param.map(|tensor| tensor.cast(FloatDType::F64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_spread_over_the_whole_tensor() {
        assert_eq!(sample(10, 0), (0..10).collect::<Vec<_>>());
        assert_eq!(sample(100, 4), [12, 37, 62, 87]);
        assert_eq!(sample(3, 8), [0, 1, 2]);
    }

    /// The check catches a wrong derivative: the written-out pass run with tanh's σ and σ′
    /// on a sigmoid network disagrees with autodiff far beyond the tolerance, the right one
    /// does not.
    #[test]
    fn a_wrong_derivative_is_caught() {
        let device = crate::backend::Backend::select(None)
            .unwrap()
            .device()
            .unwrap()
            .autodiff();
        let config = Config::default();
        device.seed(3);
        let model = Network::new(&config.model, config.training.loss, &device);
        let images = Tensor::<2>::random(
            [8, crate::data::idx::PIXELS],
            burn::tensor::Distribution::Uniform(0.0, 1.0),
            &device,
        );
        let targets = Tensor::<1, Int>::from_data([0, 1, 2, 3, 4, 5, 6, 7], &device);
        let logits = model.forward(images.clone());
        let grads = model::loss(config.training.loss, logits, targets.clone()).backward();
        let autodiff = autodiff_gradients(&model, &grads);
        let written_out = |activation| {
            let (_, gradients) = backprop::backprop(
                &model.clone().valid(),
                activation,
                config.training.loss,
                images.clone().inner(),
                targets.clone().inner(),
            );
            written_out_values(gradients)
        };
        let worst = |ours: Vec<Vec<f32>>| {
            autodiff
                .iter()
                .zip(ours)
                .map(|((_, a), o)| relative_error(grad_f64(a), grad_f64(&o)))
                .fold(0.0, f64::max)
        };
        assert!(worst(written_out(Activation::Sigmoid)) < 1e-5);
        assert!(worst(written_out(Activation::Tanh)) > 1e-1);
    }

    #[test]
    fn the_error_is_relative_to_the_largest_reference_gradient() {
        assert!((relative_error(vec![1.0, 2.5], vec![1.0, 2.0]) - 0.25).abs() < 1e-12);
        assert_eq!(relative_error(vec![0.0], vec![0.0]), 0.0);
    }
}
