//! `digits import`'s path: another tool's weights → checked against the config's network →
//! tested → a run folder that every command reads as if digits had trained it. Nothing is
//! written until the weights have loaded and been tested. A file `digits export` wrote
//! carries its own config, which then needs no `--config` and refuses one that describes
//! another network.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;

use crate::backend::Backend;
use crate::config::Config;
use crate::data;
use crate::error::{Error, Result};
use crate::inspect::evaluation::evaluate;
use crate::inspect::plots;
use crate::interop::import::{Reading, WeightsFormat, import_weights};
use crate::run::folder::{self as run, RunFolder};
use crate::run::summary::{BURN_VERSION, DatasetSummary, ImportedFrom, Scores, Summary};

/// What `import` made.
pub struct ImportedRun {
    pub run: RunFolder,
    pub format: WeightsFormat,
    pub summary: Summary,
}

/// Where the config of an import came from.
#[derive(Debug, Clone)]
pub enum ConfigSource {
    /// `--config PATH`.
    Given(PathBuf),
    /// The file's own `digits_config`, from a run of this name.
    Embedded { run_name: String },
}

/// What to import: the weights file, how to read it, and the network it holds.
pub struct ImportRequest<'a> {
    pub file: &'a Path,
    pub reading: Reading<'a>,
    pub config: &'a Config,
    pub source: ConfigSource,
}

/// The config a file's `digits_config` holds, ready to import with: `sets` applied, its
/// run folder and id left behind (the import makes a folder of its own), and a data folder
/// this machine does not have forgotten (the data source it resolved to is kept).
pub fn file_config(file: &Path, text: &str, sets: &[String]) -> Result<(Config, ConfigSource)> {
    let mut config = Config::parse(file, text, sets)?;
    let run_name = config
        .output
        .dir
        .as_deref()
        .and_then(Path::parent)
        .and_then(Path::file_name)
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| RunFolder::name_of(file));
    config.output = Default::default();
    if config.data.dir.as_deref().is_some_and(|dir| !dir.is_dir()) {
        config.data.dir = None;
    }
    Ok((config, ConfigSource::Embedded { run_name }))
}

/// Refuses `given` when the network it describes is not the one the file's own config
/// (`embedded`) does: the weights would load, and answer wrongly (a sigmoid network's
/// weights through ReLU).
pub fn check_same_network(
    file: &Path,
    embedded: &Config,
    given: &Config,
    given_path: &Path,
) -> Result<()> {
    let (theirs, ours) = (network_keys(embedded), network_keys(given));
    let differences: Vec<String> = theirs
        .iter()
        .filter(|(key, value)| ours.get(*key) != Some(*value))
        .map(|(key, value)| {
            let ours = ours.get(key).map_or("nothing".into(), ToString::to_string);
            format!("{key} = {value} (the config says {ours})")
        })
        .collect();
    if differences.is_empty() {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "{} was exported by digits from a network with {}, which is not the network {} \
         describes: the weights would load into it and answer wrongly. Leave out --config to \
         import with the file's own config, or give the config it was trained with",
        file.display(),
        differences.join(", "),
        given_path.display()
    )))
}

/// The keys that decide what a network computes from its weights (not how it was
/// initialised or regularised), with their values.
fn network_keys(config: &Config) -> toml::Table {
    let mut keys = toml::Table::new();
    if let Ok(toml::Value::Table(model)) = toml::Value::try_from(&config.model) {
        for (key, value) in model {
            if !matches!(key.as_str(), "init" | "init_std" | "dropout") {
                keys.insert(format!("model.{key}"), value);
            }
        }
    }
    if let Ok(loss) = toml::Value::try_from(config.training.loss) {
        keys.insert("training.loss".into(), loss);
    }
    keys
}

/// Reads the file into the network of its config and writes a run folder for it:
/// `config.toml`, `model.bpk`, `summary.json` (with `imported_from` and the test scores),
/// `weights.png`.
pub fn import_run(request: &ImportRequest, backend: Backend) -> Result<ImportedRun> {
    let ImportRequest {
        file,
        reading,
        config,
        source,
    } = request;
    let started = Instant::now();
    let device = backend.device()?;
    let (model, format) = import_weights(file, reading, config, &device)?;
    let (test, origin) = data::load_test(&config.data)?;
    let evaluation = evaluate(&model, &test, &device)?;

    let (name, config_label) = match source {
        ConfigSource::Given(path) => (RunFolder::name_of(path), path.display().to_string()),
        ConfigSource::Embedded { run_name } => (
            run_name.clone(),
            format!("{} (its digits_config)", file.display()),
        ),
    };
    let name = format!("{name}-imported");
    let run = RunFolder::create(&name, config.output.dir.as_deref(), false)?;
    let mut resolved = Config::clone(config);
    resolved.output.dir = Some(run.dir.clone());
    if resolved.data.dir.is_none() {
        resolved.data.source = origin.config_source();
    }
    run.write(run::CONFIG_FILE, resolved.to_toml()?.as_bytes())?;
    let bytes = model.record_bytes()?;
    run.write(run::MODEL_FILE, &bytes)?;
    plots::weights_png(&model, &run.path(run::WEIGHTS_FILE))?;
    let summary = Summary {
        digits_version: crate::run::summary::DIGITS_VERSION.into(),
        burn_version: BURN_VERSION.into(),
        backend: backend.name().to_string(),
        device: backend.describe(&device),
        devices: 1,
        config: config_label,
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
            key: reading.key.map(str::to_string),
            renames: reading.renames.iter().map(ToString::to_string).collect(),
        }),
    };
    run.write_json(run::SUMMARY_FILE, &summary)?;
    Ok(ImportedRun {
        run,
        format,
        summary,
    })
}
