//! Burn's `SupervisedTraining` and `Learner` as digits wires them: the network, the
//! optimizer, our loaders, the metrics, atomic checkpointers and our training loop. `train`
//! and `bench` share this, so the benchmark measures the real path.

use std::sync::Arc;

use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, SgdConfig};
use burn::prelude::*;
use burn::train::metric::{AccuracyMetric, LearningRateMetric, LossMetric};
use burn::train::{Interrupter, SupervisedTraining, TrainingStrategy};

use crate::config::{Backprop, Config, Optimizer, TrainingConfig};
use crate::data::digit_set::DigitSet;
use crate::data::loader::EpochLoader;
use crate::metrics::epoch_logger::EpochMetricLogger;
use crate::metrics::grad_norm::{GradNormMetric, GradRatioMetric};
use crate::model::Network;
use crate::run::folder::{CHECKPOINT_FOLDER, RunFolder};
use crate::train::checkpoint::{AtomicFileCheckpointer, KeepEveryEpoch};
use crate::train::renderer::RunRenderer;
use crate::train::training_loop::GroupedMetricsLoop;

/// A fresh network for `config` on the autodiff version of `device`.
pub fn new_model(config: &Config, device: &Device) -> Network {
    Network::new(
        &config.model,
        config.training.loss,
        &device.clone().autodiff(),
    )
    .with_gradient_norms(config.training.gradient_norms)
}

/// Burn's training loop as digits runs it: our loaders, the metrics (accuracy, loss,
/// learning rate, gradient norms), atomic checkpointers in the run folder, our renderer.
/// `train` and `bench` share it, so the benchmark measures the real path. `devices`: the
/// `training.devices` devices, the main one (where batches are made) first.
pub fn supervised_training(
    config: &Config,
    run: &RunFolder,
    (train, valid): (&DigitSet, &DigitSet),
    first_epoch: usize,
    devices: &[Device],
    renderer: RunRenderer,
    interrupter: &Interrupter,
) -> SupervisedTraining<Network> {
    let t = &config.training;
    let device = &devices[0];
    let loader = |dataset: &DigitSet, shuffle| {
        Arc::new(
            EpochLoader::new(
                dataset.clone(),
                t.batch_size,
                shuffle,
                t.num_workers > 0,
                first_epoch,
                device.clone(),
            )
            // Moves training images only: the loader without a shuffle seed moves nothing.
            .with_augment(config.data.augment),
        )
    };
    let checkpoints = run.dir.join(CHECKPOINT_FOLDER);
    let training_loop = GroupedMetricsLoop {
        devices: devices.iter().map(|d| d.clone().autodiff()).collect(),
        history: renderer.history(),
        written_out: (t.backprop == Backprop::WrittenOut).then_some(config.model.activation),
    };
    let mut training =
        SupervisedTraining::new(&run.dir, loader(train, Some(t.seed)), loader(valid, None))
            .metrics((AccuracyMetric::new(), LossMetric::new()))
            .metric_train_numeric(LearningRateMetric::new());
    if t.gradient_norms {
        // One series per weighted layer (layer 1 = nearest the input), and first/last. A
        // CNN's are named too: its convolutions come first, then the dense layers.
        let convs = config.model.conv_blocks().len();
        for layer in 1..=config.model.weighted_layers() {
            let what = match layer <= convs {
                true => format!("conv {layer}"),
                false => format!("dense {}", layer - convs),
            };
            let what = (convs > 0).then_some(what.as_str());
            training = training.metric_train_numeric(GradNormMetric::layer(layer, what));
        }
        training = training.metric_train_numeric(GradRatioMetric::new());
    }
    if t.keep_all_checkpoints {
        training = training.with_checkpointing_strategy(KeepEveryEpoch);
    }
    training
        .with_metric_logger(EpochMetricLogger::new())
        .with_custom_checkpointers(
            AtomicFileCheckpointer::new(&checkpoints, "model"),
            AtomicFileCheckpointer::new(&checkpoints, "optim"),
            AtomicFileCheckpointer::new(&checkpoints, "scheduler"),
        )
        .num_epochs(t.epochs)
        .with_interrupter(interrupter.clone())
        .renderer(Box::new(renderer))
        .with_training_strategy(TrainingStrategy::Custom(Arc::new(training_loop)))
}

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
        Optimizer::Sgd | Optimizer::Momentum => SgdConfig::new()
            .with_weight_decay(weight_decay)
            .with_momentum(momentum)
            .with_gradient_clipping(clipping)
            .init(),
        Optimizer::Adam => AdamConfig::new()
            .with_weight_decay(weight_decay)
            .with_grad_clipping(clipping)
            .init(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
