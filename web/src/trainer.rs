//! The training page's learner: digits' own network, loss, optimizer and schedule, built from a
//! config as `digits train` builds them, trained a few steps at a time by the page's Web
//! Worker (Burn's `examples/custom-training-loop` pattern: autodiff over ndarray, no Learner).
//! The same seeds, validation split, batch order and augmentation as `digits train`, so a run
//! starts from the same weights and learns as the command line's does.

use std::collections::BTreeMap;
use std::path::Path;

use burn::optim::GradientsParams;
use burn::optim::ModuleOptimizer;
use burn::optim::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;
use burn::prelude::*;
use digits::config::{Backprop, Config, DataSource};
use digits::data::augment::Move;
use digits::data::seed::{epoch_order, epoch_seed};
use digits::data::{DataOrigin, DigitSet, SourceKind, Split};
use digits::model::{Network, loss};
use digits::run::summary::DivergedAt;
use digits::run::{Scores, SplitRecord};
use digits::train::optimizer::{batch_note, optimizer, steps_per_epoch};
use digits::train::schedule::lr_scheduler;
use wasm_bindgen::prelude::*;

use crate::progress::{EpochScores, Progress, StepNumbers, Sums};
use crate::run_folder;
use crate::sample::SampleFiles;
use crate::scoring::{Scoring, correct};

#[wasm_bindgen]
extern "C" {
    /// The browser's clock, in milliseconds (std's clock panics in wasm32-unknown-unknown).
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    pub fn now_ms() -> f64;
}

/// A run in progress in the page.
#[wasm_bindgen]
pub struct Trainer {
    config: Config,
    /// The config file's name, as the page's menu gave it (summary.json's `config`).
    config_name: String,
    /// The backend's device; the network lives on its autodiff version.
    device: Device,
    /// Taken for each step and put back (Burn's optimizer consumes the network).
    model: Option<Network>,
    /// The network as the last finished epoch left it (the run folder's weights: as on the
    /// command line, mid-epoch weights are neither tested nor saved).
    epoch_model: Network,
    optimizer: ModuleOptimizer,
    scheduler: ModuleLrScheduler,
    train: DigitSet,
    valid: DigitSet,
    test: DigitSet,
    /// The epoch in progress (1-based); `epochs + 1` once training is over.
    epoch: usize,
    /// This epoch's batch order, and where the next batch starts in it.
    order: Vec<usize>,
    next: usize,
    epoch_sums: Sums,
    /// One per finished split, as `metrics.csv` holds them.
    records: Vec<SplitRecord>,
    /// The test split's scores after the last finished epoch.
    test_scores: Option<Scores>,
    started_ms: f64,
    /// Set when a training loss was not a finite number: training stops there.
    diverged: Option<(usize, usize, f64)>,
    /// Set between an epoch's last step and its scores.
    scoring: Option<Scoring>,
}

#[wasm_bindgen]
impl Trainer {
    /// A fresh run of the config `text` (named `name`), with `overrides` (`key=value` lines,
    /// as `--set` takes them), on the sample's four IDX files (gzipped or raw). Refused, with
    /// the command line's message, when the config is not one `digits train` would run.
    #[wasm_bindgen(constructor)]
    pub fn new(
        name: &str,
        text: &str,
        overrides: &str,
        files: SampleFiles,
    ) -> Result<Trainer, JsError> {
        let overrides: Vec<String> = overrides
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect();
        let mut config = Config::parse(Path::new(name), text, &overrides).map_err(error)?;
        refuse_what_the_page_lacks(&config)?;
        config.data.source = DataSource::Sample;
        let t = &config.training;
        let (train, test) = files.read(config.data.train_limit, config.data.test_limit)?;
        let (train, valid) = train
            .split_off_validation(config.data.validation_fraction, t.seed)
            .map_err(|why| JsError::new(&format!("data: {why}")))?;
        #[allow(deprecated)] // ndarray: deprecated upstream for flex, which needs threads here
        let device = Device::ndarray();
        // As `digits train`: the device seeded, then the network drawn on its autodiff side.
        device.seed(t.seed);
        let model = Network::new(&config.model, t.loss, &device.clone().autodiff())
            .with_gradient_norms(t.gradient_norms);
        let scheduler =
            lr_scheduler(t, steps_per_epoch(train.len(), t.batch_size)).map_err(error)?;
        let mut trainer = Trainer {
            epoch_model: model.valid(),
            optimizer: optimizer(t),
            scheduler,
            config_name: name.to_string(),
            device,
            model: Some(model),
            train,
            valid,
            test,
            epoch: 0,
            order: Vec::new(),
            next: 0,
            epoch_sums: Sums::default(),
            records: Vec::new(),
            test_scores: None,
            started_ms: now_ms(),
            diverged: None,
            scoring: None,
            config,
        };
        trainer.start_epoch(1);
        Ok(trainer)
    }

    /// Trains for about `budget_ms` milliseconds and at most `max_steps` steps; once an
    /// epoch's batches are done, scores it on the validation and test splits (a part of them
    /// at a time: a call within its budget, so the worker answers messages meanwhile) and moves
    /// on. What these steps measured, and the epochs they finished, as JSON.
    pub fn train(&mut self, max_steps: usize, budget_ms: f64) -> String {
        let epochs = self.config.training.epochs;
        let mut call = Sums::default();
        let mut finished_epochs = Vec::new();
        let started = now_ms();
        while !self.is_done() && call.steps < max_steps && now_ms() - started < budget_ms {
            if let Some(scoring) = &mut self.scoring {
                if scoring.advance(&self.valid, &self.test, &self.device) {
                    // And on to the next epoch's steps: a Step after a Pause at an epoch's
                    // end still takes one.
                    finished_epochs.push(self.finish_epoch());
                }
            } else if self.next < self.order.len() {
                let t0 = now_ms();
                let step = self.step();
                let spent = now_ms() - t0;
                self.epoch_sums.milliseconds += spent;
                call.milliseconds += spent;
                if !step.loss.is_finite() && self.diverged.is_none() {
                    self.diverged = Some((self.epoch, self.epoch_sums.steps + 1, step.loss));
                }
                call.add(&step);
                self.epoch_sums.add(&step);
            } else {
                self.scoring = Some(Scoring::new(self.current()));
            }
        }
        let steps = steps_per_epoch(self.train.len(), self.config.training.batch_size);
        let (epoch, step) = match self.epoch > epochs {
            true => (epochs, steps),
            false => (self.epoch, self.epoch_sums.steps),
        };
        let images = call.images.max(1) as f64;
        let mean = call.steps.max(1) as f64;
        let progress = Progress {
            epoch,
            epochs,
            step,
            steps,
            images: call.images,
            loss: call.loss / mean,
            accuracy: call.correct as f64 / images,
            learning_rate: call.learning_rate / mean,
            grad_norms: call.mean_norms(),
            milliseconds: call.milliseconds,
            finished_epochs,
            done: self.is_done(),
            diverged: self.diverged.map(|(epoch, step, loss)| {
                format!(
                    "training diverged: the loss became {loss} at step {step} of epoch {epoch}. \
                     The usual cause is a learning rate too large for this network \
                     (training.learning_rate = {}): try a tenth of it",
                    self.config.training.learning_rate
                )
            }),
        };
        serde_json::to_string(&progress).unwrap_or_default()
    }

    /// Training is over: every epoch done, or the loss diverged.
    pub fn is_done(&self) -> bool {
        self.epoch > self.config.training.epochs || self.diverged.is_some()
    }

    /// The network as it is now, in inference mode (for reading drawings and the test row).
    fn current(&self) -> Network {
        self.model
            .as_ref()
            .expect("the model is put back every step")
            .valid()
    }

    /// The first layer's weights, as [`crate::Reader::first_layer`] gives them.
    pub fn first_layer(&self) -> String {
        crate::first_layer(&self.current())
    }

    /// What the network makes of a 28×28 input now, as [`crate::Reader::read`] gives it.
    pub fn read(&self, input: &[u8]) -> Result<String, JsError> {
        crate::read(&self.current(), input, &self.device)
    }

    /// The first `count` test images' pixels, `count × 784` bytes (the page draws them once).
    pub fn test_images(&self, count: usize) -> Vec<u8> {
        (0..count.min(self.test.len()))
            .filter_map(|i| self.test.image(i))
            .flat_map(|image| image.pixels)
            .collect()
    }

    /// The first `count` test images' labels, then the network's guess for each now.
    pub fn test_guesses(&self, count: usize) -> Vec<u8> {
        let count = count.min(self.test.len());
        let indices: Vec<usize> = (0..count).collect();
        let batch = self.test.batch(&indices, &self.device);
        let guesses = self.current().forward(batch.images).argmax(1);
        let labels = (0..count)
            .filter_map(|i| self.test.image(i))
            .map(|i| i.label);
        let guesses = guesses.into_data().convert::<i64>();
        let guesses = guesses
            .as_slice::<i64>()
            .unwrap_or(&[])
            .iter()
            .map(|&g| g as u8);
        labels.chain(guesses).collect()
    }

    /// The run as a run folder in one tar file (`config.toml`, `model.bpk`, `metrics.csv`,
    /// `summary.json`), as `digits train` writes them: `digits eval`, `predict`, `export` and
    /// `web` read it. Its files are dated `now_unix` (seconds).
    pub fn run_folder(&self, now_unix: f64) -> Result<Vec<u8>, JsError> {
        let seconds = (now_ms() - self.started_ms) / 1000.0;
        let run = run_folder::RunFiles {
            config: &self.config,
            config_name: &self.config_name,
            model: &self.epoch_model,
            records: &self.records,
            test: self.test_scores,
            epochs_completed: self
                .records
                .iter()
                .filter(|r| r.split == Split::Valid)
                .count(),
            diverged_at: self
                .diverged
                .map(|(epoch, step, _)| DivergedAt { epoch, step }),
            dataset: [self.train.len(), self.valid.len(), self.test.len()],
            origin: DataOrigin {
                source: SourceKind::Sample,
                path: None,
                fallback: None,
            },
            wall_seconds: seconds,
        };
        run.tar(now_unix).map_err(|e| JsError::new(&e))
    }

    /// Parameters of the network (13,002 for the seed's).
    pub fn parameters(&self) -> usize {
        self.model.as_ref().map_or(0, |m| m.num_params())
    }

    /// What `digits train` says before training this config (a batch larger than the
    /// training split), or nothing.
    pub fn note(&self) -> String {
        batch_note(self.train.len(), self.config.training.batch_size).unwrap_or_default()
    }

    /// Images in the train, valid and test splits.
    pub fn split_sizes(&self) -> Vec<usize> {
        vec![self.train.len(), self.valid.len(), self.test.len()]
    }
}

/// The config `text` (named `name`) with every default filled in, as JSON: the page's fields
/// show its keys. Refused as `digits train` refuses it.
#[wasm_bindgen]
pub fn resolved_config(name: &str, text: &str) -> Result<String, JsError> {
    let config = Config::parse(Path::new(name), text, &[]).map_err(error)?;
    serde_json::to_string(&config).map_err(|e| JsError::new(&e.to_string()))
}

impl Trainer {
    /// Epoch `epoch`'s batch order, and the device's random state (dropout masks) restarted
    /// from (seed, epoch), as `digits train`'s loader does.
    fn start_epoch(&mut self, epoch: usize) {
        let seed = self.config.training.seed;
        self.epoch = epoch;
        self.next = 0;
        self.epoch_sums = Sums::default();
        if epoch <= self.config.training.epochs {
            self.order = epoch_order(self.train.len(), seed, epoch);
            self.device.seed(epoch_seed(seed, epoch).rotate_left(1));
        }
    }

    /// One training step on the next batch of the epoch's order.
    fn step(&mut self) -> StepNumbers {
        let t = &self.config.training;
        let end = (self.next + t.batch_size).min(self.order.len());
        let indices = &self.order[self.next..end];
        self.next = end;
        let autodiff = self.device.clone().autodiff();
        let batch = match self.config.data.augment.is_off() {
            true => self.train.batch(indices, &autodiff),
            false => {
                let (augment, seed, epoch) = (self.config.data.augment, t.seed, self.epoch);
                self.train.moved_batch(indices, &autodiff, &|row| {
                    Move::drawn(&augment, seed, epoch, row)
                })
            }
        };
        let model = self.model.take().expect("the model is put back every step");
        let images = indices.len();
        let logits = model.forward(batch.images);
        let correct = correct(logits.clone(), batch.targets.clone());
        let loss = loss(model.loss, logits, batch.targets);
        let loss_value = f64::from(loss.clone().into_scalar::<f32>());
        let grads = loss.backward();
        let grad_norms = match model.measures_gradient_norms() {
            true => floats(model.weight_grad_norms(&grads).into_data()),
            false => Vec::new(),
        };
        let grads = GradientsParams::from_grads(grads, &model);
        let lr = self.scheduler.step();
        let learning_rate = lr.base();
        self.model = Some(self.optimizer.step(lr, model, grads));
        StepNumbers {
            images,
            correct,
            loss: loss_value,
            learning_rate,
            grad_norms,
        }
    }

    /// Records the scored epoch's train and valid rows as `digits train` records them, and
    /// starts the next.
    fn finish_epoch(&mut self) -> EpochScores {
        let scoring = self
            .scoring
            .take()
            .expect("an epoch is finished once scored");
        let sums = std::mem::take(&mut self.epoch_sums);
        let epoch = self.epoch;
        let steps = sums.steps.max(1) as f64;
        let train = Scores {
            loss: sums.loss / steps,
            accuracy: sums.correct as f64 / sums.images.max(1) as f64,
        };
        let mut metrics = BTreeMap::from([
            ("accuracy".to_string(), train.accuracy),
            ("loss".to_string(), train.loss),
            ("learning_rate".to_string(), sums.learning_rate / steps),
        ]);
        let norms = sums.mean_norms();
        if let (Some(first), Some(last)) = (sums.grad_norms.first(), sums.grad_norms.last()) {
            for (layer, norm) in norms.iter().enumerate() {
                metrics.insert(format!("grad_norm_{}", layer + 1), *norm);
            }
            metrics.insert("grad_ratio".into(), first / last);
        }
        let seconds = sums.milliseconds / 1000.0;
        self.records.push(SplitRecord {
            epoch,
            split: Split::Train,
            metrics,
            items: sums.images,
            seconds,
        });
        let [valid, test] = scoring.scores;
        self.records.push(SplitRecord {
            epoch,
            split: Split::Valid,
            metrics: BTreeMap::from([
                ("accuracy".to_string(), valid.accuracy),
                ("loss".to_string(), valid.loss),
            ]),
            items: self.valid.len(),
            seconds: scoring.valid_ms / 1000.0,
        });
        self.test_scores = Some(test);
        self.epoch_model = scoring.model;
        self.start_epoch(epoch + 1);
        EpochScores {
            epoch,
            train,
            valid,
            test,
            images_per_second: sums.images as f64 / seconds.max(1e-9),
        }
    }
}

/// What the page cannot do that `digits train` can, refused before anything starts.
fn refuse_what_the_page_lacks(config: &Config) -> Result<(), JsError> {
    let t = &config.training;
    let refusal = if config.data.dir.is_some() {
        Some("data.dir names a folder: the page trains on the bundled sample only (leave it unset)")
    } else if config.data.source == DataSource::Mnist {
        Some(
            "data.source is \"mnist\": the page trains on the bundled sample only (\"sample\" or \"auto\")",
        )
    } else if t.backprop == Backprop::WrittenOut {
        Some(
            "training.backprop is \"written_out\": the page trains with Burn's autodiff (use `digits train` for the written-out backpropagation)",
        )
    } else if t.devices > 1 {
        Some("training.devices is above 1: the page trains on one device (set it to 1)")
    } else if t.early_stopping.is_some() {
        Some(
            "training.early_stopping is set: the page runs every epoch (use `digits train` for early stopping, or remove the key)",
        )
    } else {
        None
    };
    match refusal {
        Some(why) => Err(JsError::new(&format!("config: {why}"))),
        None => Ok(()),
    }
}

pub fn floats(data: TensorData) -> Vec<f64> {
    data.convert::<f64>()
        .try_to_vec::<f64>()
        .unwrap_or_default()
}

fn error(e: digits::Error) -> JsError {
    JsError::new(&e.to_string())
}
