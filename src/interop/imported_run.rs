//! `digits import`'s path: another tool's weights → checked against the config's network →
//! tested → a run folder that every command reads as if digits had trained it. Nothing is
//! written until the weights have loaded and been tested.

use std::path::Path;
use std::time::Instant;

use burn::module::Module;

use crate::backend::Backend;
use crate::config::Config;
use crate::data;
use crate::error::Result;
use crate::inspect::evaluation::evaluate;
use crate::inspect::plots;
use crate::interop::import::{WeightsFormat, import_weights};
use crate::run::folder::{self as run, RunFolder};
use crate::run::summary::{BURN_VERSION, DatasetSummary, ImportedFrom, Scores, Summary};

/// What `import` made.
pub struct ImportedRun {
    pub run: RunFolder,
    pub format: WeightsFormat,
    pub summary: Summary,
}

/// Reads `file` into the network of `config` and writes a run folder for it: `config.toml`,
/// `model.bpk`, `summary.json` (with `imported_from` and the test scores), `weights.png`.
pub fn import_run(
    file: &Path,
    key: Option<&str>,
    config: &Config,
    config_path: &Path,
    backend: Backend,
) -> Result<ImportedRun> {
    let started = Instant::now();
    let device = backend.device()?;
    let (model, format) = import_weights(file, key, config, &device)?;
    let (test, origin) = data::load_test(&config.data)?;
    let evaluation = evaluate(&model, &test, &device)?;

    let name = format!("{}-imported", RunFolder::name_of(config_path));
    let run = RunFolder::create(&name, config.output.dir.as_deref(), false)?;
    let mut resolved = config.clone();
    resolved.output.dir = Some(run.dir.clone());
    if resolved.data.dir.is_none() {
        resolved.data.source = origin.config_source();
    }
    run.write(run::CONFIG_FILE, resolved.to_toml()?.as_bytes())?;
    let bytes = model.record_bytes()?;
    run.write(run::MODEL_FILE, &bytes)?;
    plots::weights_png(&model, &run.path(run::WEIGHTS_FILE))?;
    let summary = Summary {
        digits_version: env!("CARGO_PKG_VERSION").into(),
        burn_version: BURN_VERSION.into(),
        backend: backend.name().to_string(),
        device: backend.describe(&device),
        devices: 1,
        config: config_path.display().to_string(),
        parameters: model.num_params(),
        epochs: 0,
        epochs_completed: 0,
        interrupted: false,
        diverged: false,
        diverged_at: None,
        dataset: DatasetSummary {
            origin,
            train: 0,
            valid: 0,
            test: test.len(),
        },
        train: None,
        valid: None,
        test: Some(Scores {
            loss: evaluation.loss,
            accuracy: evaluation.accuracy,
        }),
        train_samples_per_second: 0.0,
        peak_rss_mb: None,
        wall_seconds: started.elapsed().as_secs_f64(),
        early_stopping: None,
        imported_from: Some(ImportedFrom {
            file: std::path::absolute(file)
                .unwrap_or_else(|_| file.to_path_buf())
                .display()
                .to_string(),
            format: format.to_string(),
            key: key.map(str::to_string),
        }),
    };
    run.write_json(run::SUMMARY_FILE, &summary)?;
    Ok(ImportedRun {
        run,
        format,
        summary,
    })
}
