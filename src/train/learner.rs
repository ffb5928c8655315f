//! Burn's `SupervisedTraining` and `Learner` as digits wires them: the network, the
//! optimizer, our loaders, the metrics, atomic checkpointers and our training loop. `train`
//! and `bench` share this, so the benchmark measures the real path.

use std::sync::Arc;

use burn::prelude::*;
use burn::train::metric::{AccuracyMetric, LearningRateMetric, LossMetric};
use burn::train::{Interrupter, SupervisedTraining, TrainingStrategy};

use crate::config::{Backprop, Config};
use crate::data::digit_set::DigitSet;
use crate::data::loader::EpochLoader;
use crate::metrics::epoch_logger::EpochMetricLogger;
use crate::metrics::grad_norm::{GradNormMetric, GradRatioMetric};
use crate::model::Network;
use crate::run::folder::{CHECKPOINT_FOLDER, RunFolder};
use crate::train::checkpoint::{AtomicFileCheckpointer, KeepEveryEpoch};
pub use crate::train::optimizer::{batch_note, optimizer, steps_per_epoch};
use crate::train::renderer::RunRenderer;
use crate::train::training_loop::GroupedMetricsLoop;

/// A fresh network for `config` on the autodiff version of `device`.
pub fn new_model(config: &Config, device: &Device) -> Network {
    let t = &config.training;
    let network = Network::new(&config.model, t.loss, &device.clone().autodiff())
        .with_gradient_norms(t.gradient_norms);
    match crate::train::optimizer::measures_gradients(t) {
        true => network.with_norms_in_update(),
        false => network,
    }
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
