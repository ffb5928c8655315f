//! `digits eval RUN_DIR`: the trained network against the test split, in a fresh process.

use std::path::Path;

use serde::Serialize;

use crate::backend::Backend;
use crate::data;
use crate::error::Result;
use crate::inspect::inference;
use crate::inspect::plots;
use crate::metrics::confusion::ClassReport;
use crate::run;

pub const EVAL_FILE: &str = "eval.json";
pub const CONFUSION_FILE: &str = "confusion.png";

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
}

/// Evaluates the run's model on its test split (or the one in `data_dir`), writes
/// `eval.json` and `confusion.png` into the run folder, and returns the report.
pub fn eval(run_dir: &Path, data_dir: Option<&Path>, backend: Backend) -> Result<EvalReport> {
    let device = backend.device()?;
    let loaded = inference::load_run(run_dir, &device)?;
    let mut data_config = loaded.config.data.clone();
    if let Some(dir) = data_dir {
        data_config.dir = Some(dir.to_path_buf());
        data_config.source = crate::config::DataSource::Auto;
    }
    let (test, origin) = data::load_test(&data_config)?;
    let evaluation = inference::evaluate(&loaded.model, &test, &device)?;
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
    };
    let folder = run::RunFolder {
        dir: run_dir.to_path_buf(),
    };
    folder.write_json(EVAL_FILE, &report)?;
    plots::confusion_png(&evaluation.confusion, &folder.path(CONFUSION_FILE))?;
    Ok(report)
}

/// The report as printed.
pub fn render(report: &EvalReport) -> String {
    let pct = |v: f64| format!("{:5.1} %", v * 100.0);
    let mut out = format!(
        "{} on {}: {} test images from {}\n\
         accuracy {:.2} %   loss {:.4}   macro precision {:.2} %   macro recall {:.2} %\n\n",
        report.run,
        report.backend,
        report.images,
        report.data,
        report.accuracy * 100.0,
        report.loss,
        report.macro_precision * 100.0,
        report.macro_recall * 100.0
    );
    out.push_str("digit  precision   recall       f1  support\n");
    for class in &report.per_class {
        out.push_str(&format!(
            "{:>5}  {:>9}  {:>7}  {:>7}  {:>7}\n",
            class.digit,
            pct(class.precision),
            pct(class.recall),
            pct(class.f1),
            class.support
        ));
    }
    out.push_str("\nconfusion matrix (rows: true digit, columns: predicted)\n      ");
    for digit in 0..report.confusion.len() {
        out.push_str(&format!("{digit:>5}"));
    }
    out.push('\n');
    for (truth, row) in report.confusion.iter().enumerate() {
        out.push_str(&format!("{truth:>5} "));
        for count in row {
            out.push_str(&format!("{count:>5}"));
        }
        out.push('\n');
    }
    out
}
