//! The optimizer a config names and the steps of an epoch: what `digits train`'s Learner and
//! the training page's own loop both build from a config.

use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, SgdConfig};

use crate::config::{Optimizer, TrainingConfig};

/// Training steps in an epoch of `images` images (the last batch may be smaller).
pub fn steps_per_epoch(images: usize, batch_size: usize) -> usize {
    images.div_ceil(batch_size)
}

/// What to say when a batch holds more images than the training split: the run still
/// trains (full-batch gradient descent is a legitimate choice), but with one step an epoch,
/// which a user who meant "as big as fits" rarely expects.
pub fn batch_note(images: usize, batch_size: usize) -> Option<String> {
    (batch_size > images).then(|| {
        format!(
            "note: training.batch_size = {batch_size} is larger than the {images} training \
             images, so each batch holds all of them and an epoch is a single step (full-batch \
             gradient descent). Set training.batch_size = {images} to say so, or a smaller \
             batch (32 to 256) to take many steps an epoch"
        )
    })
}

/// Whether the config's optimizer is [`PlainSgd`] without clipping, which measures the
/// gradients it reads where the training loop asks (`kernels::measuring_updates`): their
/// norms before any clipping are the ones training reports.
pub fn measures_gradients(t: &TrainingConfig) -> bool {
    cfg!(not(target_arch = "wasm32")) && plain_sgd(t) && t.clipping().is_none()
}

/// SGD without momentum or weight decay.
fn plain_sgd(t: &TrainingConfig) -> bool {
    t.optimizer == Optimizer::Sgd && t.weight_decay <= 0.0
}

/// The optimizer the config names. Momentum uses no dampening, as in PyTorch's SGD.
pub fn optimizer(t: &TrainingConfig) -> burn::optim::ModuleOptimizer {
    let weight_decay =
        (t.weight_decay > 0.0).then(|| WeightDecayConfig::new(t.weight_decay as f32));
    let clipping = t.clipping();
    let momentum = (t.optimizer == Optimizer::Momentum).then(|| {
        MomentumConfig::new()
            .with_momentum(t.momentum)
            .with_dampening(0.0)
    });
    match t.optimizer {
        #[cfg(not(target_arch = "wasm32"))]
        Optimizer::Sgd if plain_sgd(t) => clipped(PlainSgd.into(), clipping),
        Optimizer::Sgd | Optimizer::Momentum => SgdConfig::new()
            .with_weight_decay(weight_decay)
            .with_momentum(momentum)
            .with_gradient_clipping(clipping)
            .init(),
        #[cfg(not(target_arch = "wasm32"))]
        Optimizer::Adam if weight_decay.is_none() => {
            clipped(OnePassAdam::default().into(), clipping)
        }
        Optimizer::Adam => AdamConfig::new()
            .with_weight_decay(weight_decay)
            .with_grad_clipping(clipping)
            .init(),
    }
}

/// `optimizer` with the config's gradient clipping, if any.
#[cfg(not(target_arch = "wasm32"))]
fn clipped(
    optimizer: burn::optim::ModuleOptimizer,
    clipping: Option<burn::grad_clipping::GradientClippingConfig>,
) -> burn::optim::ModuleOptimizer {
    match clipping {
        Some(clipping) => optimizer.with_grad_clipping(clipping.init()),
        None => optimizer,
    }
}

/// SGD without momentum or weight decay: Burn's `Sgd`'s step, `W ← W − η∇`, in one pass on
/// every thread where the device has our kernels ([`crate::model::kernels::sgd_step`]). The
/// same values bit for bit, and the same (empty) state record, so checkpoints load either way.
#[cfg(not(target_arch = "wasm32"))]
#[derive(Clone)]
struct PlainSgd;

#[cfg(not(target_arch = "wasm32"))]
impl burn::optim::Optimizer for PlainSgd {
    type State<const D: usize> = burn::optim::SgdState<D>;

    fn step<const D: usize>(
        &self,
        lr: burn::optim::LearningRate,
        tensor: burn::prelude::Tensor<D>,
        grad: burn::prelude::Tensor<D>,
        _state: Option<Self::State<D>>,
    ) -> (burn::prelude::Tensor<D>, Option<Self::State<D>>) {
        let stepped = crate::model::kernels::sgd_step(tensor, grad, lr);
        (stepped, Some(burn::optim::SgdState::new(None)))
    }

    fn to_device<const D: usize>(
        state: Self::State<D>,
        _device: &burn::prelude::Device,
    ) -> Self::State<D> {
        state
    }
}

/// Adam without weight decay: Burn's `Adam` with its defaults, in one pass on every thread
/// where the device has our kernels ([`crate::model::kernels::adam_step`]; Burn's makes
/// thirteen, each a new tensor). The same values bit for bit and Burn's own state record
/// (`AdamState`), so checkpoints load either way; elsewhere (GPUs) Burn's `Adam` itself.
#[cfg(not(target_arch = "wasm32"))]
#[derive(Clone)]
struct OnePassAdam {
    burns: burn::optim::Adam,
}

#[cfg(not(target_arch = "wasm32"))]
impl Default for OnePassAdam {
    fn default() -> OnePassAdam {
        OnePassAdam {
            burns: AdamConfig::new().build(),
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl burn::optim::Optimizer for OnePassAdam {
    type State<const D: usize> = burn::optim::AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: burn::optim::LearningRate,
        tensor: burn::prelude::Tensor<D>,
        grad: burn::prelude::Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (burn::prelude::Tensor<D>, Option<Self::State<D>>) {
        use crate::model::kernels::{self, AdamStep};
        use burn::optim::{AdamState, AdaptiveMomentumState};
        if !kernels::has_kernels(&tensor.device()) {
            return self.burns.step(lr, tensor, grad, state);
        }
        let (time, moments) = match state {
            Some(AdamState { momentum: m }) => (m.time + 1, Some((m.moment_1, m.moment_2))),
            None => (1, None),
        };
        let [stepped, m, v] = kernels::adam_step(tensor, grad, moments, AdamStep::new(time, lr));
        let momentum = AdaptiveMomentumState::new(time, m, v);
        (stepped, Some(AdamState::new(momentum)))
    }

    fn to_device<const D: usize>(
        state: Self::State<D>,
        device: &burn::prelude::Device,
    ) -> Self::State<D> {
        burn::optim::Adam::to_device(state, device)
    }
}

#[cfg(test)]
mod tests {
    use burn::prelude::*;

    use crate::config::Config;

    /// What the optimizer sees of a gradient with the config's clipping.
    fn clipped(sets: &[&str], gradient: &[f32]) -> Vec<f32> {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        let config = Config::parse(std::path::Path::new("t.toml"), "", &sets).unwrap();
        let device = crate::backend::Backend::select(None)
            .unwrap()
            .device()
            .unwrap();
        let grad = Tensor::<1>::from_floats(gradient, &device);
        let clipping = config.training.clipping().map(|c| c.init());
        let grad = match clipping {
            Some(clipping) => clipping.clip_gradient(grad),
            None => grad,
        };
        grad.into_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn the_clipping_keys_bound_the_gradient_the_optimizer_sees() {
        let big = [30.0, -40.0, 0.5];
        // By norm: |g| = 50.0025 → 1, direction kept.
        let by_norm = clipped(&["training.grad_clip_norm=1"], &big);
        let norm = by_norm.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "{by_norm:?}");
        assert!((by_norm[0] / by_norm[1] + 0.75).abs() < 1e-5);
        // By value: each element into ±0.1, small ones untouched.
        let by_value = clipped(&["training.grad_clip_value=0.1"], &[30.0, -40.0, 0.05]);
        assert_eq!(by_value, [0.1, -0.1, 0.05]);
        // Off: unset, or 0.
        assert_eq!(clipped(&[], &big), big);
        assert_eq!(clipped(&["training.grad_clip_norm=0"], &big), big);
    }
}
