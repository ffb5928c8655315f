//! Backpropagation written out: the gradient of the loss with respect to every weight and bias
//! of the seed's family of networks (dense layers, sigmoid, tanh or ReLU, cross-entropy or the
//! quadratic loss on one-hot targets; no normalisation, no dropout), computed layer by layer
//! from the output back to the input with the chain rule, in Burn tensor operations on any
//! backend. Code to read first: each step names the formula it computes. Training uses Burn's
//! autodiff, or this with `training.backprop = "written_out"` (`train::written_out`);
//! `digits gradcheck` checks the two against each other and against finite differences.
//!
//! Notation (Nielsen's, row-vector form for a batch of N images): layer l has weights Wˡ
//! `[inputs, outputs]` (Burn's layout) and biases bˡ; its weighted input is zˡ = aˡ⁻¹ Wˡ + bˡ
//! and its activation aˡ = σ(zˡ), with a⁰ the images. The last layer L has no σ: zᴸ are the
//! logits. C is the loss averaged over the batch.

use burn::prelude::*;
use burn::tensor::activation::{sigmoid, softmax};

use crate::config::{Activation, Loss, ModelConfig};
use crate::data::idx::CLASSES;
use crate::model::Network;

/// ∂C/∂Wˡ and ∂C/∂bˡ for every layer, input side first (the output layer last), shaped as
/// the parameters.
pub struct LayerGradients {
    pub weights: Vec<Tensor<2>>,
    pub biases: Vec<Tensor<1>>,
}

/// Why a network is outside the family written out here, if it is.
pub fn not_covered(model: &ModelConfig) -> Option<String> {
    model.outside_written_out()
}

/// The loss of the batch and every layer's gradients, by backpropagation.
pub fn backprop(
    model: &Network,
    activation: Activation,
    loss: Loss,
    images: Tensor<2>,
    targets: Tensor<1, Int>,
) -> (Tensor<1>, LayerGradients) {
    let pass = forward_backward(model, activation, loss, images, targets);
    (pass.loss, pass.gradients)
}

/// What one forward and backward pass gives: the loss, the logits (for the metrics) and
/// every layer's gradients.
pub struct Pass {
    pub loss: Tensor<1>,
    pub logits: Tensor<2>,
    pub gradients: LayerGradients,
}

/// [`backprop`], keeping the logits too (training with `training.backprop = "written_out"`).
pub fn forward_backward(
    model: &Network,
    activation: Activation,
    loss: Loss,
    images: Tensor<2>,
    targets: Tensor<1, Int>,
) -> Pass {
    // Forward pass, keeping each layer's weighted input zˡ and activation aˡ.
    let mut activations = vec![images]; // a⁰ … aᴸ⁻¹
    let mut weighted_inputs = Vec::new(); // z¹ … zᴸ⁻¹
    for block in &model.hidden {
        let a = activations.last().expect("a⁰").clone();
        let z = weighted_input(&block.linear, a); // zˡ = aˡ⁻¹ Wˡ + bˡ
        activations.push(sigma(activation, z.clone())); // aˡ = σ(zˡ)
        weighted_inputs.push(z);
    }
    let logits = weighted_input(&model.output, activations.last().expect("aᴸ⁻¹").clone());

    // The output error δᴸ = ∂C/∂zᴸ, and the loss itself.
    let (cost, mut delta) = output_error(loss, logits.clone(), targets);

    // Backward pass: for l = L … 1,
    //   ∂C/∂Wˡ = aˡ⁻¹ᵀ δˡ            (each weight: its input's activation × its neuron's error)
    //   ∂C/∂bˡ = Σₙ δˡ               (summed over the batch; δ already carries the 1/N)
    //   δˡ⁻¹ = (δˡ Wˡᵀ) ⊙ σ′(zˡ⁻¹)    (the error sent back through the weights, then σ)
    let linears: Vec<&burn::nn::Linear> = model.linears().collect();
    let layers = linears.len();
    let mut weights = Vec::with_capacity(layers);
    let mut biases = Vec::with_capacity(layers);
    for l in (0..layers).rev() {
        weights.push(activations[l].clone().transpose().matmul(delta.clone()));
        biases.push(delta.clone().sum_dim(0).squeeze_dim(0));
        if l > 0 {
            let back = delta.matmul(linears[l].weight.val().transpose());
            delta = back * sigma_prime(activation, weighted_inputs[l - 1].clone());
        }
    }
    weights.reverse();
    biases.reverse();
    Pass {
        loss: cost,
        logits,
        gradients: LayerGradients { weights, biases },
    }
}

/// One step of plain gradient descent with the written-out gradients: W ← W − η ∂C/∂W,
/// b ← b − η ∂C/∂b (what Burn's `Sgd` does without momentum or weight decay).
pub fn descend(mut model: Network, gradients: LayerGradients, rate: f64) -> Network {
    let layers = model.hidden.len();
    let steps = gradients.weights.into_iter().zip(gradients.biases);
    for (l, (weight_grad, bias_grad)) in steps.enumerate() {
        let linear = match l == layers {
            true => &mut model.output,
            false => &mut model.hidden[l].linear,
        };
        linear.weight = linear
            .weight
            .clone()
            .map(|w| w - weight_grad.mul_scalar(rate));
        if let Some(bias) = linear.bias.take() {
            linear.bias = Some(bias.map(|b| b - bias_grad.mul_scalar(rate)));
        }
    }
    model
}

/// zˡ = aˡ⁻¹ Wˡ + bˡ.
fn weighted_input(linear: &burn::nn::Linear, a: Tensor<2>) -> Tensor<2> {
    let z = a.matmul(linear.weight.val());
    match &linear.bias {
        Some(bias) => z + bias.val().unsqueeze::<2>(),
        None => z,
    }
}

/// The loss C averaged over the batch, and δᴸ = ∂C/∂zᴸ (which carries that 1/N).
fn output_error(loss: Loss, logits: Tensor<2>, targets: Tensor<1, Int>) -> (Tensor<1>, Tensor<2>) {
    let [n, _] = logits.dims();
    let y = targets.one_hot(CLASSES).float(); // one-hot targets
    match loss {
        // C = −(1/N) Σₙ log softmax(zᴸ)ᵧ;  δᴸ = (softmax(zᴸ) − y) / N.
        Loss::CrossEntropy => {
            let p = softmax(logits, 1);
            let cost = (p.clone() * y.clone()).sum_dim(1).log().neg().mean();
            (cost, (p - y).div_scalar(n as f64))
        }
        // C = (1/N) Σₙ ½ Σₖ (σ(zᴸ) − y)²;  δᴸ = (σ(zᴸ) − y) ⊙ σ′(zᴸ) / N.
        Loss::Quadratic => {
            let out = sigmoid(logits);
            let error = out.clone() - y;
            let cost = error
                .clone()
                .powi_scalar(2)
                .sum_dim(1)
                .mul_scalar(0.5)
                .mean();
            let slope = out.clone() * out.neg().add_scalar(1.0);
            (cost, (error * slope).div_scalar(n as f64))
        }
    }
}

/// σ(z).
fn sigma(activation: Activation, z: Tensor<2>) -> Tensor<2> {
    match activation {
        Activation::Sigmoid => sigmoid(z),
        Activation::Tanh => z.tanh(),
        Activation::Relu => z.clamp_min(0.0),
        Activation::Gelu => unreachable!("GELU is outside the written-out family"),
    }
}

/// σ′(z): sigmoid s(1 − s), tanh 1 − t², ReLU 1 where z > 0 (0 at 0, as Burn's).
fn sigma_prime(activation: Activation, z: Tensor<2>) -> Tensor<2> {
    match activation {
        Activation::Sigmoid => {
            let s = sigmoid(z);
            s.clone() * s.neg().add_scalar(1.0)
        }
        Activation::Tanh => {
            let t = z.tanh();
            (t.clone() * t).neg().add_scalar(1.0)
        }
        Activation::Relu => z.greater_elem(0.0).float(),
        Activation::Gelu => unreachable!("GELU is outside the written-out family"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::optim::{GradientsParams, SgdConfig};

    /// One written-out step of gradient descent lands where Burn's SGD takes the network
    /// from autodiff's gradients.
    #[test]
    fn a_written_out_step_is_burns_sgd_step() {
        let device = crate::backend::Backend::select(None)
            .unwrap()
            .device()
            .unwrap()
            .autodiff();
        let config = crate::config::Config::default();
        device.seed(11);
        let model = Network::new(&config.model, config.training.loss, &device);
        let images = Tensor::<2>::random(
            [6, crate::data::idx::PIXELS],
            burn::tensor::Distribution::Uniform(0.0, 1.0),
            &device,
        );
        let targets = Tensor::<1, Int>::from_data([9, 8, 7, 6, 5, 4], &device);
        let rate = 0.5;

        let loss = crate::model::loss(
            config.training.loss,
            model.forward(images.clone()),
            targets.clone(),
        );
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let burns = SgdConfig::new()
            .init()
            .step(rate, model.clone(), grads)
            .valid();

        let plain = model.valid();
        let (_, gradients) = backprop(
            &plain,
            config.model.activation,
            config.training.loss,
            images.inner(),
            targets.inner(),
        );
        let ours = descend(plain, gradients, rate);
        for (a, b) in ours.linears().zip(burns.linears()) {
            let difference = (a.weight.val() - b.weight.val())
                .abs()
                .max()
                .into_scalar::<f32>();
            assert!(difference < 1e-6, "{difference}");
        }
    }
}
