//! `digits train --resume RUN_DIR`: where to pick a run up again, checked before Burn loads
//! anything (its checkpoint loading panics on a missing or corrupt file).

use std::path::Path;

use crate::config::{Config, LrSchedule};
use crate::error::{Error, Result};
use crate::report;
use crate::run::history::SplitRecord;
use crate::run::{self, RunFolder};
use crate::train::{checkpoint, early_stopping};

/// A run folder and the last epoch it can continue from.
#[derive(Debug, Clone)]
pub struct ResumePoint {
    pub run: RunFolder,
    /// The last complete epoch with a readable checkpoint; training continues at epoch + 1.
    pub epoch: usize,
    /// The run's per-epoch records up to `epoch`, continued by the resumed training.
    pub records: Vec<SplitRecord>,
}

/// Reads the run's resolved config (with `overrides` on top, and `data_dir` where the run's
/// data folder has moved), refuses changes that would make the resume meaningless, and finds
/// the newest readable checkpoint.
pub fn prepare(
    run_dir: &Path,
    overrides: &[String],
    data_dir: Option<&Path>,
) -> Result<(Config, ResumePoint)> {
    run::RunFolder::existing(run_dir, "--resume")?;
    let (saved, config) = configs(run_dir, overrides, data_dir)?;
    refuse_changes(&saved, &config, run_dir)?;
    let epoch = newest_usable_checkpoint(run_dir, &saved)?;
    refuse_finished(run_dir, &config, epoch)?;
    let metrics = run_dir.join(run::METRICS_FILE);
    let records = if metrics.is_file() {
        run::read_metrics_csv(&metrics)?
            .into_iter()
            .filter(|r| r.epoch <= epoch)
            .collect()
    } else {
        Vec::new()
    };
    refuse_stopped(run_dir, &config, &records)?;
    // Held from here: a second --resume (or a training still running there) is refused.
    let run = RunFolder {
        dir: run_dir.to_path_buf(),
        lock: run::lock(run_dir)?,
    };
    Ok((
        config,
        ResumePoint {
            run,
            epoch,
            records,
        },
    ))
}

/// The run's config as saved, and with `overrides` (and a moved data folder) on top.
fn configs(
    run_dir: &Path,
    overrides: &[String],
    data_dir: Option<&Path>,
) -> Result<(Config, Config)> {
    let config_path = run_dir.join(run::CONFIG_FILE);
    let mut saved = Config::load(&config_path, &[])?;
    saved.data = saved.data.pinned();
    let mut config = Config::load(&config_path, overrides)?;
    config.data = config.data.pinned();
    if let Some(dir) = data_dir {
        if saved.data.dir.is_none() {
            return Err(Error::Usage(format!(
                "--resume {} --data-dir {}: this run was not trained on a folder but on {} \
                 (data.source = \"{}\" in its config.toml), and a resumed run continues on the \
                 digits it started with. Resume without --data-dir, or train a new run on the \
                 folder (`digits train CONFIG --data-dir DIR`)",
                run_dir.display(),
                dir.display(),
                match saved.data.source {
                    crate::config::DataSource::Sample => crate::data::sample::DESCRIPTION,
                    _ => "full MNIST from Burn's cache",
                },
                saved.data.source.name()
            )));
        }
        config.data.dir = Some(dir.to_path_buf());
        config
            .validate()
            .map_err(|m| Error::config(&config_path, m))?;
    }
    Ok((saved, config))
}

/// The newest checkpoint whose every part is this run's and loads; those that are not are
/// reported and passed over.
fn newest_usable_checkpoint(run_dir: &Path, saved: &Config) -> Result<usize> {
    let dir = run_dir.join(run::CHECKPOINT_FOLDER);
    let complete = checkpoint::complete_epochs(&dir);
    if complete.is_empty() {
        return Err(Error::Usage(format!(
            "--resume {}: there is no complete checkpoint in {} yet: the run stopped before \
             its first epoch ended, so there is nothing to resume. Start it again with \
             `digits train`",
            run_dir.display(),
            dir.display()
        )));
    }
    // The checkpoints must be this run's (written with its id), not another's left behind.
    if let Some(id) = &saved.output.run_id {
        let found = checkpoint::read_run_id(&dir);
        if found.as_ref() != Some(id) {
            return Err(Error::Usage(format!(
                "--resume {}: the checkpoints in {} are not this run's ({}; this run is {id}), \
                 so it cannot be continued exactly. Was the folder's content replaced or \
                 copied in? Train a new run instead (`digits train CONFIG`)",
                run_dir.display(),
                dir.display(),
                found.map_or("no run id with them".to_string(), |f| format!(
                    "they say run {f}"
                ))
            )));
        }
    }
    let mut epoch = None;
    // Each part must be the file this run wrote (its mark: run id and CRC-32), and load.
    let marked = checkpoint::marked(&dir);
    let usable = |epoch: usize| -> Result<(), String> {
        if let (Some(id), true) = (&saved.output.run_id, marked) {
            checkpoint::belongs(&dir, epoch, id)?;
        }
        checkpoint::readable(&dir, epoch)
    };
    for &candidate in &complete {
        match usable(candidate) {
            Ok(()) => {
                epoch = Some(candidate);
                break;
            }
            Err(why) => report::note(&format!(
                "the checkpoint of epoch {candidate} cannot be used ({why}); trying the one \
                 before it"
            )),
        }
    }
    epoch.ok_or_else(|| {
        Error::Usage(format!(
            "--resume {}: none of the {} complete checkpoints in {} can be used (see above), \
             so there is nothing to resume from. Start the run again with `digits train`",
            run_dir.display(),
            complete.len(),
            dir.display()
        ))
    })
}

/// A run whose epochs are all done has nothing to resume: say how to train longer, if it can.
fn refuse_finished(run_dir: &Path, config: &Config, epoch: usize) -> Result<()> {
    if epoch >= config.training.epochs {
        let how = if config.training.lr_schedule.ends_with_training() {
            format!(
                "its \"{}\" learning-rate schedule ended with it, so it cannot be extended: \
                 train a new run with more epochs",
                config.training.lr_schedule.name()
            )
        } else {
            format!(
                "to train longer, raise the count: --resume {} --set training.epochs={}",
                run_dir.display(),
                config.training.epochs * 2
            )
        };
        return Err(Error::Usage(format!(
            "--resume {}: all {} epochs are done; {how}",
            run_dir.display(),
            config.training.epochs,
        )));
    }
    Ok(())
}

/// A run that early stopping stopped has nothing to resume, by its rule: say so, and how to
/// continue anyway (a larger patience, judged on the same records, lets it go on).
fn refuse_stopped(run_dir: &Path, config: &Config, records: &[SplitRecord]) -> Result<()> {
    let Some(rule) = config.training.early_stopping else {
        return Ok(());
    };
    let Some(verdict) = rule.judge(&early_stopping::series(&rule, records)) else {
        return Ok(());
    };
    if !verdict.stop {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "--resume {}: early stopping already stopped this run after epoch {}: {} has not \
         improved since epoch {} ({:.4}), and its model.bpk is that epoch's network. To train \
         on anyway, give it more patience: --resume {} --set \
         training.early_stopping.patience={}",
        run_dir.display(),
        verdict.epoch,
        rule.metric.name(),
        verdict.best_epoch,
        verdict.best_value,
        run_dir.display(),
        verdict.epoch - verdict.best_epoch + rule.patience,
    )))
}

/// The network, the data and the loss make the checkpoint what it is: changing them would
/// start a different experiment from weights made for another. Epochs, learning rate and
/// the like may change.
fn refuse_changes(saved: &Config, wanted: &Config, run_dir: &Path) -> Result<()> {
    // The data folder may move (another machine); what is read from it may not.
    let without_dir = |c: &Config| crate::config::DataConfig {
        dir: None,
        ..c.data.clone()
    };
    let (s, w) = (&saved.training, &wanted.training);
    let scheduled = s.lr_schedule != LrSchedule::Constant || s.warmup_epochs > 0;
    let changed = if saved.model != wanted.model {
        Some("[model]")
    } else if saved.output != wanted.output {
        Some("[output]")
    } else if without_dir(saved) != without_dir(wanted) {
        Some("[data]")
    } else if s.loss != w.loss {
        Some("training.loss")
    } else if s.lr_schedule != w.lr_schedule {
        Some("training.lr_schedule")
    } else if (s.lr_min, s.lr_gamma) != (w.lr_min, w.lr_gamma) {
        Some("training.lr_min / lr_gamma")
    } else if (s.lr_step_epochs, s.warmup_epochs) != (w.lr_step_epochs, w.warmup_epochs) {
        Some("training.lr_step_epochs / warmup_epochs")
    } else if scheduled && s.learning_rate != w.learning_rate {
        // Burn keeps the schedule's position, not its shape: a new rate would be a new curve.
        Some("training.learning_rate (with a learning-rate schedule)")
    } else if scheduled && s.batch_size != w.batch_size {
        // The schedule is laid out in steps, and the batch size sets the steps per epoch.
        Some("training.batch_size (with a learning-rate schedule)")
    } else {
        None
    };
    if let Some(what) = changed {
        return Err(Error::Usage(format!(
            "--resume {}: {what} cannot change when resuming: the checkpoints were trained \
             with the run's own {what}. Train a new run instead (`digits train CONFIG`)",
            run_dir.display()
        )));
    }
    if s.lr_schedule.ends_with_training() && s.epochs != w.epochs {
        return Err(Error::Usage(format!(
            "--resume {}: training.epochs cannot change from {} to {} with \
             training.lr_schedule = \"{}\": that schedule's curve spans the run's epochs, so \
             the rates already used would belong to another curve. Resume without changing \
             training.epochs, or train a new run with the longer count",
            run_dir.display(),
            s.epochs,
            w.epochs,
            s.lr_schedule.name()
        )));
    }
    Ok(())
}
