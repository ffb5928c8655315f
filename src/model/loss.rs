//! The losses a step minimises, and the per-layer weight-gradient norms it reports: what every
//! training step computes, in Burn's Learner (`step`) and in the training page's own loop.

use burn::nn::loss::CrossEntropyLossConfig;
use burn::prelude::*;
use burn::tensor::Gradients;
use burn::tensor::activation::sigmoid;

use super::Network;
use crate::config::Loss;
use crate::data::idx::CLASSES;

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

impl Network {
    /// L2 norm of each weighted layer's weight gradient (convolutions first, then the
    /// Linears), input side first, computed on the device (no read back here).
    pub fn weight_grad_norms(&self, grads: &Gradients) -> Tensor<1> {
        let conv = self.conv.iter().map(|layer| {
            squared_sum(
                layer.conv.weight.val().grad(grads),
                &layer.conv.weight.device().inner(),
            )
        });
        let dense = self.linears().map(|linear| {
            squared_sum(
                linear.weight.val().grad(grads),
                &linear.weight.device().inner(),
            )
        });
        // One square root for all layers: each op is a dispatch, and this runs every step.
        Tensor::cat(conv.chain(dense).collect(), 0).sqrt()
    }
}

/// The sum of a gradient's squares, `[1]` (zero for a parameter without a gradient).
pub(super) fn squared_sum<const D: usize>(
    grad: Option<Tensor<D>>,
    device: &burn::tensor::Device,
) -> Tensor<1> {
    match grad {
        // One read, no squared copy: millions of values for a wide network, every step.
        #[cfg(not(target_arch = "wasm32"))]
        Some(grad) if super::kernels::has_kernels(device) => super::kernels::squared_sum(grad),
        Some(grad) => (grad.clone() * grad).sum(),
        None => Tensor::zeros([1], device),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quadratic_loss_is_half_the_summed_squared_error_averaged_over_the_batch() {
        let device = crate::backend::Backend::select(None)
            .unwrap()
            .device()
            .unwrap();
        // Logit 0 → sigmoid 0.5 everywhere: per image ½·(9·0.25 + 0.25) = 1.25.
        let logits = Tensor::<2>::zeros([2, CLASSES], &device);
        let targets = Tensor::<1, Int>::from_data([3, 7], &device);
        let value: f32 = loss(Loss::Quadratic, logits, targets).into_scalar();
        assert!((value - 1.25).abs() < 1e-6, "{value}");
    }

    #[test]
    fn cross_entropy_of_uniform_logits_is_ln_10() {
        let device = crate::backend::Backend::select(None)
            .unwrap()
            .device()
            .unwrap();
        let logits = Tensor::<2>::zeros([4, CLASSES], &device);
        let targets = Tensor::<1, Int>::from_data([0, 1, 2, 3], &device);
        let value: f32 = loss(Loss::CrossEntropy, logits, targets).into_scalar();
        assert!((value - 10f32.ln()).abs() < 1e-5, "{value}");
    }
}
