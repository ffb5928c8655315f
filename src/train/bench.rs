//! Training and inference throughput (`digits bench`), measured three ways per batch size, so
//! the cost of everything around the bare step is visible.
//!
//! (a) a bare step loop: batch → forward → loss → backward → optimizer step;
//! (b) the real training path: Burn's Learner with our loader, metrics, renderer and
//!     checkpointers (`learner::supervised_training`), timing the train split only;
//! (c) inference as `eval` and `predict` classify: the test images' bytes → logits (a
//!     `Classifier`) → argmax;
//! (d) for the networks `backprop` covers, trained with plain SGD: the bare step loop with the
//!     written-out backpropagation and W ← W − η∇ instead of autodiff and Burn's optimizer,
//!     taking turns with (a) so the two are paired.

use std::path::Path;
use std::time::{Duration, Instant};

use burn::data::dataloader::DataLoader;
use burn::prelude::*;
use burn::train::{Interrupter, Learner, TrainStep};
use serde::Serialize;

use crate::backend::Backend;
use crate::backprop;
use crate::config::{Config, Optimizer};
use crate::data;
use crate::data::digit_set::DigitSet;
use crate::data::loader::EpochLoader;
use crate::error::{Error, Result};
use crate::model::inference::Classifier;
use crate::model::{Network, kernels};
use crate::run::RunFolder;
use crate::run::history::EpochHistory;
use crate::run::summary::peak_rss_mb;
use crate::train::learner;
use crate::train::renderer::{Dashboard, RunRenderer};
use crate::train::schedule::lr_scheduler;

/// One line of the benchmark (`--json` prints these as JSON objects).
#[derive(Debug, Clone, Serialize)]
pub struct BenchRow {
    pub backend: &'static str,
    /// `training.devices`: the learner figure splits each batch across this many.
    pub devices: usize,
    pub batch_size: usize,
    /// Training images per second, bare step loop.
    pub raw_train_sps: f64,
    /// Training images per second through the Learner (validation excluded).
    pub learner_train_sps: f64,
    /// Images per second classified.
    pub infer_sps: f64,
    /// Training images per second, bare step loop with the written-out backpropagation (null
    /// where it does not cover the network or the optimizer is not plain SGD).
    pub backprop_train_sps: Option<f64>,
    /// The process's peak resident memory so far, in MB (Linux; null elsewhere).
    pub peak_rss_mb: Option<f64>,
}

/// What to measure: each batch size, each figure for `seconds` after a warm-up, `rounds`
/// times.
#[derive(Debug, Clone)]
pub struct BenchPlan {
    pub batch_sizes: Vec<usize>,
    pub seconds: f64,
    /// Each figure is the best of this many rounds, the three measurements taking turns:
    /// a shared machine's speed drifts by ±15 % from second to second, and the best round is
    /// the one least disturbed.
    pub rounds: usize,
}

impl BenchPlan {
    /// Rejects a plan that measures nothing.
    pub fn check(&self) -> Result<()> {
        if self.batch_sizes.is_empty() || self.batch_sizes.contains(&0) {
            return Err(Error::Usage(
                "--batch-sizes: give sizes of at least 1, e.g. 32,64,128".into(),
            ));
        }
        if !(self.seconds.is_finite() && self.seconds > 0.0) {
            return Err(Error::Usage(format!(
                "--seconds {}: give a duration above 0",
                self.seconds
            )));
        }
        if self.rounds == 0 {
            return Err(Error::Usage("--rounds 0: give at least 1 round".into()));
        }
        Ok(())
    }
}

/// Runs the three measurements for each batch size as `plan` says.
pub fn bench(
    config: &Config,
    backend: Backend,
    plan: &BenchPlan,
    mut on_row: impl FnMut(&BenchRow),
) -> Result<Vec<BenchRow>> {
    let devices = backend.devices(config.training.devices)?;
    let device = &devices[0];
    let splits = data::load(&config.data, config.training.seed)?;
    let budget = Duration::from_secs_f64(plan.seconds);
    let mut rows = Vec::new();
    for &batch_size in &plan.batch_sizes {
        let mut config = config.clone();
        config.training.batch_size = batch_size;
        let (mut raw, mut learner, mut infer) = (0.0f64, 0.0f64, 0.0f64);
        let mut written_out: Option<f64> = None;
        for _ in 0..plan.rounds {
            let round_raw = raw_train_sps(&config, device, &splits.train, budget)?;
            if let Some(sps) = backprop_train_sps(&config, device, &splits.train, budget)? {
                written_out = Some(written_out.unwrap_or(0.0).max(sps));
            }
            let round_learner =
                learner_train_sps(&config, &devices, &splits.train, round_raw, plan.seconds)?;
            raw = raw.max(round_raw);
            learner = learner.max(round_learner);
            infer = infer.max(infer_sps(&config, device, &splits.test, budget)?);
        }
        let row = BenchRow {
            backend: backend.name(),
            devices: devices.len(),
            batch_size,
            raw_train_sps: raw,
            learner_train_sps: learner,
            infer_sps: infer,
            backprop_train_sps: written_out,
            peak_rss_mb: peak_rss_mb(),
        };
        on_row(&row);
        rows.push(row);
    }
    Ok(rows)
}

/// Steps over and over through the epochs of `loader` for `budget` after a warm-up of a
/// quarter of it; returns images per second. `step` returns the images it processed.
fn throughput(
    loader: &EpochLoader,
    device: &Device,
    budget: Duration,
    mut step: impl FnMut(crate::data::digit_set::DigitBatch) -> usize,
) -> Result<f64> {
    let mut batches = loader.iter();
    timed_steps(device, budget, || {
        let batch = match batches.next() {
            Some(batch) => batch,
            None => {
                batches = loader.iter();
                batches.next().expect("an epoch has a batch")
            }
        };
        let batch = batch.map_err(|e| Error::Internal(format!("bench batch: {e}")))?;
        Ok(step(batch))
    })
}

/// Calls `step` over and over for `budget` after a warm-up of a quarter of it; returns images
/// per second. `step` returns the images it processed.
fn timed_steps(
    device: &Device,
    budget: Duration,
    mut step: impl FnMut() -> Result<usize>,
) -> Result<f64> {
    let mut timed = |budget: Duration| -> Result<f64> {
        let started = Instant::now();
        let mut images = 0;
        loop {
            images += step()?;
            if started.elapsed() >= budget {
                // Asynchronous backends (wgpu) count only finished work.
                device
                    .sync()
                    .map_err(|e| Error::Internal(format!("bench sync: {e:?}")))?;
                return Ok(images as f64 / started.elapsed().as_secs_f64());
            }
        }
    };
    timed(budget / 4)?;
    timed(budget)
}

/// (a) The bare step loop, on the same model and data, without metrics or gradient norms.
fn raw_train_sps(
    config: &Config,
    device: &Device,
    train: &DigitSet,
    budget: Duration,
) -> Result<f64> {
    let t = &config.training;
    let autodiff = device.clone().autodiff();
    let mut model = Some(learner::new_model(config, device).with_gradient_norms(false));
    let mut optimizer = learner::optimizer(t);
    let loader = EpochLoader::new(
        train.clone(),
        t.batch_size,
        Some(t.seed),
        false,
        1,
        autodiff,
    );
    let weights = model.as_ref().map_or(0, |m| m.num_params());
    throughput(&loader, device, budget, |batch| {
        let images = batch.targets.dims()[0];
        // Where the learner runs its steps ([`kernels::step_in_pool`]), so the two compare.
        kernels::step_in_pool(device, images * weights, || {
            let current = model.take().expect("the model is put back every step");
            let output = TrainStep::step(&current, batch);
            let lr = t.learning_rate.into();
            model = Some(TrainStep::optimize(
                current,
                &mut optimizer,
                lr,
                output.grads,
            ));
        });
        images
    })
}

/// (d) The bare step loop with the written-out backpropagation, where it applies: the same
/// network, data and plain SGD as (a), no autodiff graph.
fn backprop_train_sps(
    config: &Config,
    device: &Device,
    train: &DigitSet,
    budget: Duration,
) -> Result<Option<f64>> {
    let t = &config.training;
    let plain_sgd = t.optimizer == Optimizer::Sgd && t.weight_decay == 0.0;
    if backprop::not_covered(&config.model).is_some() || !plain_sgd || t.clipping().is_some() {
        return Ok(None);
    }
    device.seed(t.seed);
    let mut model = Some(Network::new(&config.model, t.loss, device));
    let loader = EpochLoader::new(
        train.clone(),
        t.batch_size,
        Some(t.seed),
        false,
        1,
        device.clone(),
    );
    throughput(&loader, device, budget, |batch| {
        let images = batch.targets.dims()[0];
        let current = model.take().expect("the model is put back every step");
        let (_, gradients) = backprop::backprop(
            &current,
            config.model.activation,
            t.loss,
            batch.images,
            batch.targets,
        );
        model = Some(backprop::descend(current, gradients, t.learning_rate));
        images
    })
    .map(Some)
}

/// (b) The real training path, on all of `devices`; the train split is timed by the
/// renderer's split events.
fn learner_train_sps(
    config: &Config,
    devices: &[Device],
    train: &DigitSet,
    raw_sps: f64,
    seconds: f64,
) -> Result<f64> {
    // About `seconds` of training after a first (warm-up) epoch, whatever the data size.
    let wanted = (raw_sps * seconds).max(config.training.batch_size as f64 * 8.0) as usize;
    let per_epoch = wanted.min(train.len());
    let epochs = 1 + wanted.div_ceil(per_epoch);
    let train_part = train.slice(0, per_epoch);
    // Validation is excluded from the timing; one batch keeps it short.
    let valid_part = train.slice(0, config.training.batch_size);
    let mut config = config.clone();
    config.training.epochs = epochs;
    let folder =
        tempfile::tempdir().map_err(|e| Error::io("cannot create", Path::new("tmp"), e))?;
    let run = RunFolder {
        dir: folder.path().to_path_buf(),
        lock: None,
    };
    let history = EpochHistory::default();
    let interrupter = Interrupter::new();
    let renderer = RunRenderer::new(interrupter.clone(), history.clone(), Dashboard::Off).quiet();
    let training = learner::supervised_training(
        &config,
        &run,
        (&train_part, &valid_part),
        1,
        devices,
        renderer,
        &interrupter,
    )
    .with_application_logger(None);
    let model = learner::new_model(&config, &devices[0]);
    let t = &config.training;
    let scheduler = lr_scheduler(t, learner::steps_per_epoch(per_epoch, t.batch_size))?;
    let result = training.launch(Learner::new(model, learner::optimizer(t), scheduler));
    if let Some(error) = result.error {
        return Err(Error::Internal(format!("bench training failed: {error}")));
    }
    let (items, seconds) = history
        .records()
        .iter()
        .filter(|r| r.split == data::Split::Train && r.epoch > 1)
        .fold((0usize, 0.0f64), |(i, s), r| (i + r.items, s + r.seconds));
    Ok(items as f64 / seconds.max(f64::MIN_POSITIVE))
}

/// (c) Inference on the test split, in batches of the benchmark's size, the way `eval` and
/// `predict` classify: from the stored bytes through a [`Classifier`].
fn infer_sps(config: &Config, device: &Device, test: &DigitSet, budget: Duration) -> Result<f64> {
    let classifier = Classifier::new(&learner::new_model(config, device), device);
    let every: Vec<usize> = (0..test.len()).collect();
    let mut batches = every.chunks(config.training.batch_size).cycle();
    timed_steps(device, budget, || {
        let ids = batches.next().ok_or_else(|| {
            Error::Usage("bench: the test split is empty; give it images (data.test_limit)".into())
        })?;
        // Read the digits back, as `predict` and `eval` do.
        let _digits = classifier
            .logits(&test.images_bytes(ids))
            .argmax(1)
            .into_data();
        Ok(ids.len())
    })
}
