//! Using a trained network: load a run folder, evaluate a data set, classify images.

use std::path::{Path, PathBuf};

use burn::data::dataloader::{DataLoader, Progress};
use burn::prelude::*;
use burn::store::ModuleRecord;
use burn::tensor::activation::{sigmoid, softmax};
use burn::train::metric::{
    AccuracyInput, AccuracyMetric, ClassReduction, ConfusionStatsInput, Metric, MetricMetadata,
    Numeric, PrecisionMetric, RecallMetric,
};

use crate::config::{Config, Loss};
use crate::data::digit_set::DigitSet;
use crate::data::idx::{CLASSES, PIXELS};
use crate::data::loader::EpochLoader;
use crate::error::{Error, Result};
use crate::metrics::ConfusionMatrix;
use crate::model::{self, Mlp};
use crate::run;

/// A finished run, read back: its resolved config and its trained network (inference mode).
pub struct LoadedRun {
    pub dir: PathBuf,
    pub config: Config,
    pub model: Mlp,
}

/// Reads `dir/config.toml` and `dir/model.bpk`. Every failure is a message naming the file:
/// Burn's plain loaders panic on a missing, corrupt or mismatched file, so the fallible
/// variants are used.
pub fn load_run(dir: &Path, device: &Device) -> Result<LoadedRun> {
    if !dir.is_dir() {
        return Err(Error::Usage(format!(
            "run folder {} does not exist: give a folder written by `digits train`, e.g. \
             artifacts/mlp/run-1",
            dir.display()
        )));
    }
    let mut config = Config::load(&dir.join(run::CONFIG_FILE), &[])?;
    config.data = config.data.pinned();
    let path = dir.join(run::MODEL_FILE);
    if !path.is_file() {
        return Err(Error::Model {
            path,
            message: "is missing: the run did not finish training (train it again)".into(),
        });
    }
    let record = ModuleRecord::load(&path).map_err(|e| Error::Model {
        path: path.clone(),
        message: format!("is not a readable Burn model file (truncated or corrupt?): {e}"),
    })?;
    let model = Mlp::new(&config.model, config.training.loss, device)
        .try_load_record(record)
        .map_err(|e| Error::Model {
            path: path.clone(),
            message: format!(
                "does not fit the network described by {} (was it trained with another \
                 config?): {e}",
                dir.join(run::CONFIG_FILE).display()
            ),
        })?;
    Ok(LoadedRun {
        dir: dir.to_path_buf(),
        config,
        model: model.valid(),
    })
}

/// How a network does on a data set.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub images: usize,
    /// Mean loss per image.
    pub loss: f64,
    /// burn-train's accuracy, macro precision and macro recall, as fractions.
    pub accuracy: f64,
    pub macro_precision: f64,
    pub macro_recall: f64,
    pub confusion: ConfusionMatrix,
}

/// Evaluates `model` (put in inference mode) on every image of `dataset`.
pub fn evaluate(model: &Mlp, dataset: &DigitSet, device: &Device) -> Result<Evaluation> {
    // The batch size does not change the result (inference-mode normalisation is per image),
    // only the speed.
    let loader = EpochLoader::new(dataset.clone(), 1024, None, false, 1, device.clone());
    let model = model.valid();
    let metadata = MetricMetadata {
        progress: Progress::new(0, dataset.len(), None),
        iteration: None,
        lr: None,
    };
    let mut accuracy = AccuracyMetric::new();
    let mut precision = PrecisionMetric::multiclass(1, ClassReduction::Macro);
    let mut recall = RecallMetric::multiclass(1, ClassReduction::Macro);
    let mut confusion = ConfusionMatrix::default();
    let mut loss_sum = 0.0;
    let read_error = |e: &dyn std::fmt::Display| Error::Internal(format!("evaluation: {e}"));

    for batch in loader.iter() {
        let batch = batch.map_err(|e| read_error(&e))?;
        let n = batch.targets.dims()[0];
        let logits = model.forward(batch.images);
        let loss = model::loss(model.loss, logits.clone(), batch.targets.clone());
        loss_sum += f64::from(loss.into_scalar::<f32>()) * n as f64;

        let one_hot = batch.targets.clone().one_hot(CLASSES).bool();
        let stats = ConfusionStatsInput::new(logits.clone(), one_hot);
        accuracy
            .update(
                &AccuracyInput::new(logits.clone(), batch.targets.clone()),
                &metadata,
            )
            .map_err(|e| read_error(&e))?;
        precision
            .update(&stats, &metadata)
            .map_err(|e| read_error(&e))?;
        recall
            .update(&stats, &metadata)
            .map_err(|e| read_error(&e))?;

        let as_labels = |t: Tensor<1, Int>| {
            t.into_data()
                .try_into_vec_as::<i64>()
                .map_err(|e| read_error(&format!("{e:?}")))
        };
        let predicted = as_labels(logits.argmax(1).reshape([n]))?;
        let truth = as_labels(batch.targets)?;
        for (t, p) in truth.into_iter().zip(predicted) {
            confusion.add(t as usize, p as usize);
        }
    }
    let images = confusion.total() as usize;
    let percent = |value: Option<burn::train::metric::NumericEntry>| {
        value.map_or(0.0, |v| v.current() / 100.0)
    };
    Ok(Evaluation {
        images,
        loss: loss_sum / images.max(1) as f64,
        accuracy: percent(accuracy.running_value()),
        macro_precision: percent(precision.running_value()),
        macro_recall: percent(recall.running_value()),
        confusion,
    })
}

/// What the network makes of one image.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    pub digit: usize,
    /// Softmax of the logits for cross-entropy networks; for the quadratic loss, each output
    /// neuron's sigmoid (they need not sum to 1).
    pub scores: [f32; CLASSES],
}

/// Classifies 28×28 images (0 = background), one prediction each.
pub fn classify(model: &Mlp, images: &[[u8; PIXELS]], device: &Device) -> Vec<Prediction> {
    let pixels: Vec<f32> = images
        .iter()
        .flatten()
        .map(|&p| f32::from(p) / 255.0)
        .collect();
    let input = Tensor::<2>::from_data(TensorData::new(pixels, [images.len(), PIXELS]), device);
    let logits = model.valid().forward(input);
    let scores = match model.loss {
        Loss::CrossEntropy => softmax(logits, 1),
        Loss::Quadratic => sigmoid(logits),
    };
    let values: Vec<f32> = scores
        .into_data()
        .try_into_vec_as::<f32>()
        .expect("float scores convert to f32");
    values
        .chunks(CLASSES)
        .map(|row| {
            let scores: [f32; CLASSES] = row.try_into().expect("rows are CLASSES long");
            let digit = (0..CLASSES)
                .max_by(|&a, &b| scores[a].total_cmp(&scores[b]))
                .expect("CLASSES > 0");
            Prediction { digit, scores }
        })
        .collect()
}
