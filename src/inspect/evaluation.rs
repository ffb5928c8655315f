//! How a trained network does on a data set: loss, burn-train's accuracy, precision and
//! recall, the confusion matrix; and `digits eval`'s report of it, `eval.json`.

use std::path::Path;

use burn::data::dataloader::Progress;
use burn::prelude::*;
use burn::train::metric::{
    AccuracyInput, AccuracyMetric, ClassReduction, ConfusionStatsInput, Metric, MetricMetadata,
    Numeric, PrecisionMetric, RecallMetric,
};
use serde::Serialize;

use crate::backend::Backend;
use crate::data::digit_set::DigitSet;
use crate::data::idx::CLASSES;
use crate::data::source as data;
use crate::error::{Error, Result};
use crate::inspect::plots;
use crate::inspect::robustness::{MovedAccuracy, moved_accuracies};
use crate::inspect::trained_run::load_run;
use crate::metrics::ConfusionMatrix;
use crate::metrics::confusion::ClassReport;
use crate::model::inference::Classifier;
use crate::model::{self, Network};
use crate::run::folder::{CONFUSION_FILE, EVAL_FILE, RunFolder};

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
pub fn evaluate(model: &Network, dataset: &DigitSet, device: &Device) -> Result<Evaluation> {
    // The batch size does not change the result (inference-mode normalisation is per image),
    // only the speed.
    let classifier = Classifier::new(model, device);
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

    let every: Vec<usize> = (0..dataset.len()).collect();
    for ids in every.chunks(EVAL_BATCH) {
        let n = ids.len();
        let targets = dataset.targets(ids, device);
        let logits = classifier.logits(&dataset.images_bytes(ids));
        let loss = model::loss(model.loss, logits.clone(), targets.clone());
        loss_sum += f64::from(loss.into_scalar::<f32>()) * n as f64;

        let one_hot = targets.clone().one_hot(CLASSES).bool();
        let stats = ConfusionStatsInput::new(logits.clone(), one_hot);
        accuracy
            .update(
                &AccuracyInput::new(logits.clone(), targets.clone()),
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
        let truth = as_labels(targets)?;
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

/// `eval.json`.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub run: String,
    pub backend: &'static str,
    pub data: String,
    pub images: usize,
    pub accuracy: f64,
    pub loss: f64,
    pub macro_precision: f64,
    pub macro_recall: f64,
    pub per_class: Vec<ClassReport>,
    /// `confusion[true][predicted]`.
    pub confusion: Vec<Vec<u64>>,
    /// With `--moved`: the accuracy on the test images shifted and turned.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub moved: Vec<MovedAccuracy>,
}

/// Evaluates the run's model on its test split (or the one in `data_dir`), writes
/// `eval.json` and `confusion.png` into the run folder, and returns the report.
pub fn eval(
    run_dir: &Path,
    data_dir: Option<&Path>,
    backend: Backend,
    moved: bool,
) -> Result<EvalReport> {
    let device = backend.device()?;
    let loaded = load_run(run_dir, &device)?;
    let data_config = match data_dir {
        Some(dir) => loaded.config.data.clone().reading(dir),
        None => loaded.config.data.clone(),
    };
    let (test, origin) = data::load_test(&data_config)?;
    let evaluation = evaluate(&loaded.model, &test, &device)?;
    let report = EvalReport {
        run: run_dir.display().to_string(),
        backend: backend.name(),
        data: origin.describe(),
        images: evaluation.images,
        accuracy: evaluation.accuracy,
        loss: evaluation.loss,
        macro_precision: evaluation.macro_precision,
        macro_recall: evaluation.macro_recall,
        per_class: evaluation.confusion.report(),
        confusion: evaluation.confusion.rows(),
        moved: match moved {
            true => moved_accuracies(&loaded.model, &test, EVAL_BATCH, &device),
            false => Vec::new(),
        },
    };
    let folder = RunFolder {
        dir: run_dir.to_path_buf(),
        lock: None,
    };
    folder.write_json(EVAL_FILE, &report)?;
    plots::confusion_png(&evaluation.confusion, &folder.path(CONFUSION_FILE))?;
    Ok(report)
}

/// Images per inference batch in `eval`: a CNN's feature maps for 1,024 images took 900 MB
/// and ran no faster (page faults on fresh buffers); 256 take a quarter, at the same speed.
pub const EVAL_BATCH: usize = 256;
