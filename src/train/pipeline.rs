//! Training: config → data → model → Burn's `SupervisedTraining` + `Learner` → test
//! evaluation → run folder.

use std::path::Path;
use std::time::Instant;

use burn::module::Module;
use burn::tensor::Device;
use burn::train::{Interrupter, Learner, TrainingError};

use crate::backend::Backend;
use crate::config::{Config, TrainingConfig};
use crate::data::Split;
use crate::data::source::{self as data, DigitSplits};
use crate::error::{Error, Result, digits_command};
use crate::inspect::evaluation::evaluate;
use crate::inspect::plots;
use crate::model::Network;
use crate::remote::{self, RemoteTarget};
use crate::report;
use crate::run::folder::{self as run, RunFolder};
use crate::run::history::{Divergence, EpochHistory, SplitRecord};
use crate::run::metrics_csv::metrics_csv;
use crate::run::summary::{
    BURN_VERSION, DatasetSummary, DivergedAt, Scores, Summary, last_scores, peak_rss_mb,
    train_speed,
};
use crate::run::tensorboard;
use crate::train::checkpoint;
use crate::train::early_stopping::{best_model, describe, with_early_stopping};
use crate::train::interrupt;
use crate::train::learner::{
    batch_note, new_model, optimizer, steps_per_epoch, supervised_training,
};
use crate::train::renderer::{Dashboard, RecordSink, RunRenderer, format_line, format_test_line};
use crate::train::resume::ResumePoint;
use crate::train::schedule::lr_scheduler;
use burn::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;

/// How to run a training, beyond its config.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub backend: Backend,
    /// Train on a `serve-device` server's device instead of `backend`'s.
    pub remote: Option<RemoteTarget>,
    /// Write into an explicit output folder even if it holds files.
    pub force: bool,
    /// Burn's terminal dashboard (the CLI shows it when stdout is a terminal), or plain
    /// per-epoch lines.
    pub dashboard: Dashboard,
    /// Continue a run from its last complete checkpoint instead of starting one.
    pub resume: Option<ResumePoint>,
}

/// What a finished (or cleanly stopped) `train` returns.
pub struct TrainReport {
    pub run: RunFolder,
    pub summary: Summary,
    /// Every epoch's records, earlier runs' (resumed from) included.
    pub records: Vec<SplitRecord>,
}

/// Trains the configured network and writes the run folder: prepare (everything that can
/// fail on the user's input or machine, then the run folder), launch (Burn's learner), finish
/// (records, model, test, pictures, summary).
pub fn train(config: &Config, config_path: &Path, options: &TrainOptions) -> Result<TrainReport> {
    let started = Instant::now();
    let setup = prepare(config, config_path, options)?;
    let trained = launch(config, config_path, options, &setup)?;
    finish(config, config_path, setup, trained, started)
}

/// What a training runs on and writes to, found and checked before it starts.
struct Setup {
    devices: Vec<Device>,
    /// The backend's name and its device's, for the header and `summary.json`.
    backend_name: String,
    device_name: String,
    splits: DigitSplits,
    scheduler: ModuleLrScheduler,
    run: RunFolder,
    first_epoch: usize,
    /// The records of the epochs done before a resume.
    prior: Vec<SplitRecord>,
    /// When the run began, in Unix seconds (a resumed run: now less its epochs' time), for
    /// the TensorBoard events' wall times.
    started_unix: f64,
    /// Whether the dashboard was shown (its numbers then left the screen with it).
    dashboard: bool,
}

/// Devices, the checkpoint to resume (does it fit?), data and schedule, then the run folder
/// and its resolved config.
fn prepare(config: &Config, config_path: &Path, options: &TrainOptions) -> Result<Setup> {
    let backend = options.backend;
    let devices = match &options.remote {
        Some(target) => target.devices(config.training.devices)?,
        None => backend.devices(config.training.devices)?,
    };
    let (backend_name, device_name) = match &options.remote {
        Some(target) => ("remote".to_string(), format!("remote ({})", target.url)),
        None => (backend.name().to_string(), backend.describe(&devices[0])),
    };
    if let Some(point) = &options.resume {
        let checkpoints = point.run.path(run::CHECKPOINT_FOLDER);
        checkpoint::fits(&checkpoints, point.epoch, new_model(config, &devices[0])).map_err(
            |why| {
                Error::Usage(format!(
                    "--resume {}: the checkpoint of epoch {} does not fit the network its \
                     config.toml describes ({why}), so it cannot be continued. Train a new \
                     run instead (`{} train CONFIG`)",
                    point.run.dir.display(),
                    point.epoch,
                    digits_command()
                ))
            },
        )?;
    }
    let splits = data::load(&config.data, config.training.seed)?;
    if let Some(note) = batch_note(splits.train.len(), config.training.batch_size) {
        report::note(&note);
    }
    let scheduler = lr_scheduler(
        &config.training,
        steps_per_epoch(splits.train.len(), config.training.batch_size),
    )?;
    let (run, first_epoch, prior) = match &options.resume {
        Some(point) => (point.run.clone(), point.epoch + 1, point.records.clone()),
        None => {
            let name = RunFolder::name_of(config_path);
            let run = RunFolder::create(&name, config.output.dir.as_deref(), options.force)?;
            (run, 1, Vec::new())
        }
    };
    write_resolved_config(config, options.resume.is_none(), &run, &splits)?;
    let started_unix = unix_seconds() - prior.iter().map(|r| r.seconds).sum::<f64>();
    if let Some(target) = &options.remote {
        remote::training_on(&target.url, &run.dir);
    }
    Ok(Setup {
        devices,
        backend_name,
        device_name,
        splits,
        scheduler,
        run,
        first_epoch,
        prior,
        started_unix,
        dashboard: options.dashboard != Dashboard::Off,
    })
}

/// The run's `config.toml`: the config as resolved. It names its own folder, so `--resume`,
/// `eval` and `plot` find it all, and the digits actually read, so they are the ones resumed
/// and evaluated on. A new run also gets its id, which marks its checkpoints.
fn write_resolved_config(
    config: &Config,
    new_run: bool,
    run: &RunFolder,
    splits: &DigitSplits,
) -> Result<()> {
    let mut resolved = config.clone();
    resolved.output.dir = Some(run.dir.clone());
    if resolved.data.dir.is_none() {
        resolved.data.source = splits.origin.config_source();
    }
    if new_run {
        let id = checkpoint::new_run_id();
        checkpoint::write_run_id(&run.path(run::CHECKPOINT_FOLDER), &id)?;
        resolved.output.run_id = Some(id);
    }
    run.write(run::CONFIG_FILE, resolved.to_toml()?.as_bytes())
}

/// A training that ran (to its end, or stopped cleanly, or diverged).
struct Trained {
    model: Network,
    parameters: usize,
    history: EpochHistory,
    /// Stopped by the user (Ctrl-C, the dashboard's stop).
    interrupted: bool,
}

/// Builds the network, says what is about to happen, and runs Burn's learner on it.
fn launch(
    config: &Config,
    config_path: &Path,
    options: &TrainOptions,
    setup: &Setup,
) -> Result<Trained> {
    let (devices, splits, run) = (&setup.devices, &setup.splits, &setup.run);
    devices[0].seed(config.training.seed);
    let model = new_model(config, &devices[0]);
    let parameters = model.num_params();
    if setup.first_epoch == 1 {
        // The starting point, for `digits explain`'s loss landscape (a resumed run that had
        // not finished epoch 1 writes the same network again: the seed is the same).
        run.write(run::INITIAL_FILE, &model.record_bytes()?)?;
    }
    // Ctrl-C stops cleanly from the moment the header says training has begun.
    let interrupter = Interrupter::new();
    let ctrl_c = interrupt::watch(&interrupter);
    report::line(&header(config_path, options, setup, parameters));
    let history = EpochHistory::default();
    let renderer = RunRenderer::new(interrupter.clone(), history.clone(), options.dashboard)
        .with_record_sink(metrics_writer(run, setup.prior.clone(), setup.started_unix));
    let mut training = supervised_training(
        config,
        run,
        (&splits.train, &splits.valid),
        setup.first_epoch,
        devices,
        renderer,
        &interrupter,
    );
    if let Some(point) = &options.resume {
        training = training.checkpoint(point.epoch);
    }
    if let Some(rule) = config.training.early_stopping {
        let keep_all = config.training.keep_all_checkpoints;
        training = with_early_stopping(training, rule, keep_all, &setup.prior, history.clone());
    }
    let learner = Learner::new(model, optimizer(&config.training), setup.scheduler.clone());
    let result = training.launch(learner);
    drop(ctrl_c);
    // Dropping the renderer closes the dashboard, giving the terminal back before we print.
    drop(result.renderer);
    if let Some(error) = result.error {
        return Err(match &options.remote {
            // Burn's metrics report the reads that failed when the server went away.
            Some(target) if !matches!(*error, TrainingError::Checkpoint(_)) => {
                Error::Environment(remote::server_gone(&target.url, &run.dir))
            }
            _ => training_error(&error, run),
        });
    }
    Ok(Trained {
        model: result.model,
        parameters,
        interrupted: result.interrupted.is_some() || history.stopped_early(),
        history,
    })
}

/// The first line of a run: what trains on what, with which data, into which folder.
fn header(config_path: &Path, options: &TrainOptions, setup: &Setup, parameters: usize) -> String {
    let (splits, name) = (&setup.splits, &setup.device_name);
    let on = match setup.devices.len() {
        1 => name.clone(),
        n if options.remote.is_some() || options.backend.is_gpu() => {
            format!("{n} devices: {name}, ...")
        }
        n => format!("{name} split {n} ways"),
    };
    let starting = match setup.first_epoch {
        1 => String::new(),
        e => format!(", resuming at epoch {e}"),
    };
    format!(
        "digits: training {} on {on} ({parameters} parameters; {} train, {} valid, {} test \
         images from {}); run folder {}{starting}",
        config_path.display(),
        splits.train.len(),
        splits.valid.len(),
        splits.test.len(),
        splits.origin.describe(),
        setup.run.dir.display()
    )
}

/// Records and summary; then, unless training diverged or was stopped, the model, its test
/// and its pictures.
fn finish(
    config: &Config,
    config_path: &Path,
    setup: Setup,
    trained: Trained,
    started: Instant,
) -> Result<TrainReport> {
    let (t, run, splits) = (&config.training, &setup.run, &setup.splits);
    let mut records = setup.prior.clone();
    records.extend(trained.history.records());
    if setup.dashboard {
        // The dashboard's numbers left the screen with it: keep the last epoch's lines there.
        for record in last_epoch(&records) {
            let size = match record.split {
                Split::Train => splits.train.len(),
                Split::Valid => splits.valid.len(),
                Split::Test => splits.test.len(),
            };
            report::line(&format_line(record, t.epochs, size));
        }
    }
    run.write(run::METRICS_FILE, metrics_csv(&records).as_bytes())?;
    let divergence = trained.history.divergence();
    let mut summary = summary_of(config, config_path, &setup, &trained, &records, started);
    if let Some(divergence) = divergence {
        // The weights are NaN now: keep the checkpoints, write no model.bpk.
        run.write_json(run::SUMMARY_FILE, &summary)?;
        return Err(Error::Diverged(divergence_message(&divergence, t, run)));
    }
    if !summary.interrupted {
        // (Mid-epoch weights are neither tested nor saved: the last checkpoint is the state
        // to resume from.)
        let mut model = trained.model;
        if let Some(rule) = t.early_stopping {
            let stopped = trained.history.early_stop().is_some();
            let checkpoints = run.path(run::CHECKPOINT_FOLDER);
            let (best, what) = best_model(rule, &records, stopped, &checkpoints, model)?;
            report::line(&describe(&what, t.epochs));
            (model, summary.early_stopping) = (best, Some(what));
        }
        let record_bytes = model.record_bytes()?;
        run.write(run::MODEL_FILE, &record_bytes)?;
        // Burn's evaluator renders metrics but does not return their values: evaluate here.
        let evaluation = evaluate(&model, &splits.test, &setup.devices[0])?;
        let test = Scores {
            loss: evaluation.loss,
            accuracy: evaluation.accuracy,
        };
        report::line(&format_test_line(&test, splits.test.len(), t.epochs));
        plots::draw(run, &model, &records)?;
        summary.test = Some(test);
        summary.wall_seconds = started.elapsed().as_secs_f64();
    }
    // Testing and drawing can take more memory than training did (a test batch's feature
    // maps): the peak is the whole run's.
    summary.peak_rss_mb = peak_rss_mb();
    tensorboard::write_events(&run.dir, &records, summary.test, setup.started_unix)?;
    run.write_json(run::SUMMARY_FILE, &summary)?;
    Ok(TrainReport {
        run: setup.run,
        summary,
        records,
    })
}

/// `summary.json` as training left it (no test yet).
fn summary_of(
    config: &Config,
    config_path: &Path,
    setup: &Setup,
    trained: &Trained,
    records: &[SplitRecord],
    started: Instant,
) -> Summary {
    let divergence = trained.history.divergence();
    let splits = &setup.splits;
    Summary {
        digits_version: crate::run::summary::DIGITS_VERSION.into(),
        burn_version: BURN_VERSION.into(),
        backend: setup.backend_name.clone(),
        device: setup.device_name.clone(),
        devices: setup.devices.len(),
        config: config_path.display().to_string(),
        parameters: trained.parameters,
        epochs: config.training.epochs,
        epochs_completed: records.iter().filter(|r| r.split == Split::Valid).count(),
        interrupted: divergence.is_none() && trained.interrupted,
        diverged: divergence.is_some(),
        diverged_at: divergence.map(|d| DivergedAt {
            epoch: d.epoch,
            step: d.step,
        }),
        dataset: DatasetSummary {
            origin: splits.origin.clone(),
            train: splits.train.len(),
            valid: splits.valid.len(),
            test: splits.test.len(),
        },
        train: last_scores(records, Split::Train),
        valid: last_scores(records, Split::Valid),
        test: None,
        train_samples_per_second: train_speed(records),
        peak_rss_mb: peak_rss_mb(),
        wall_seconds: started.elapsed().as_secs_f64(),
        early_stopping: None,
        imported_from: None,
    }
}

/// Keeps `metrics.csv` and the TensorBoard events current after every split, so a run killed
/// at any moment still has its history up to then (`--resume` continues it), and TensorBoard
/// follows the run live.
fn metrics_writer(run: &RunFolder, prior: Vec<SplitRecord>, started_unix: f64) -> RecordSink {
    let dir = run.dir.clone();
    let path = run.path(run::METRICS_FILE);
    Box::new(move |records| {
        let mut all = prior.clone();
        all.extend_from_slice(records);
        // Best effort mid-run: the final write after training reports any error.
        let _ = run::write_atomic(&path, metrics_csv(&all).as_bytes());
        let _ = tensorboard::write_events(&dir, &all, None, started_unix);
    })
}

fn unix_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Burn stops training on a failed checkpoint write (full disk, read-only folder) or data
/// read: the user's environment, not a bug.
fn training_error(error: &TrainingError, run: &RunFolder) -> Error {
    match error {
        TrainingError::Checkpoint(e) => Error::Environment(format!(
            "training stopped: a checkpoint could not be written in {} ({e}). Is the disk full \
             or the folder read-only? Checkpoints written before are intact; free space and \
             resume with `{} train --resume {}`",
            run.dir.join(run::CHECKPOINT_FOLDER).display(),
            digits_command(),
            run.dir.display()
        )),
        other => Error::Internal(format!("training failed: {other}")),
    }
}

/// What to tell the user when the loss blew up: where, the likely cause, the fixes, and what
/// is left on disk.
fn divergence_message(divergence: &Divergence, t: &TrainingConfig, run: &RunFolder) -> String {
    let folder = run.dir.join(run::CHECKPOINT_FOLDER);
    let kept = match checkpoint::last_complete_before(&folder, divergence.epoch) {
        Some((epoch, path)) => format!(
            "The last good checkpoint, from epoch {epoch}, is kept: {}.",
            path.display()
        ),
        None => "There is no checkpoint yet: it diverged during the first epoch.".into(),
    };
    format!(
        "training diverged at epoch {}, step {}: the training loss became {}. The likely \
         cause is a learning rate too large for this network (training.learning_rate = {}). \
         Fixes: lower training.learning_rate (try {}), cap each step with \
         training.grad_clip_norm (e.g. 1.0), or normalise the hidden layers (model.norm = \
         \"batch\" or \"layer\"). {kept} summary.json records \"diverged\": true.",
        divergence.epoch,
        divergence.step,
        divergence.loss,
        t.learning_rate,
        t.learning_rate / 10.0,
    )
}

/// The records of the last epoch that has any.
fn last_epoch(records: &[SplitRecord]) -> &[SplitRecord] {
    let Some(last) = records.last() else {
        return &[];
    };
    let first = records
        .iter()
        .rposition(|r| r.epoch != last.epoch)
        .map_or(0, |i| i + 1);
    &records[first..]
}
