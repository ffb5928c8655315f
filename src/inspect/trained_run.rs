//! A finished run folder read back: its resolved config and its trained network.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::store::ModuleRecord;

use crate::config::Config;
use crate::error::{Error, Result, digits_command};
use crate::model::Network;
use crate::run::folder as run;
use crate::train::checkpoint;

/// A finished run, read back: its resolved config and its trained network (inference mode).
pub struct LoadedRun {
    pub dir: PathBuf,
    pub config: Config,
    pub model: Network,
}

/// Reads `dir/config.toml` and `dir/model.bpk`. Every failure is a message naming the file:
/// Burn's plain loaders panic on a missing, corrupt or mismatched file, so the fallible
/// variants are used.
pub fn load_run(dir: &Path, device: &Device) -> Result<LoadedRun> {
    let mut loaded = load_trainable(dir, device)?;
    loaded.model = loaded.model.valid();
    Ok(loaded)
}

/// As [`load_run`], the network left on `device` as it is (an autodiff device keeps it
/// trainable, for `gradcheck`).
pub fn load_trainable(dir: &Path, device: &Device) -> Result<LoadedRun> {
    run::RunFolder::existing(dir, "this command")?;
    let mut config = Config::load(&dir.join(run::CONFIG_FILE), &[])?;
    config.data = config.data.pinned();
    let path = Weights::of(dir)?.path().to_path_buf();
    let fresh = Network::new(&config.model, config.training.loss, device);
    let described = dir.join(run::CONFIG_FILE);
    let model = with_weights(fresh.clone(), &path, |burns| {
        match how_it_differs(&path, &fresh, &config) {
            Some(why) => format!(
                "does not fit the network {} describes: {why}. Was it trained with another \
                 config? Give that config's run its own folder, or train this one again",
                described.display()
            ),
            None => format!(
                "does not fit the network described by {} (was it trained with another \
                 config?): {burns}",
                described.display()
            ),
        }
    })?;
    Ok(LoadedRun {
        dir: dir.to_path_buf(),
        config,
        model,
    })
}

/// How the weights in the Burn model file `path` differ from `model`'s: the first tensor
/// whose shape differs or that one side lacks, and the hidden layers the file holds when
/// they are not the config's. `None` when the file cannot be read (that is said on loading).
fn how_it_differs(path: &Path, model: &Network, config: &Config) -> Option<String> {
    use burn_store::{BurnpackStore, ModuleSnapshot, ModuleStore};
    let mut store = BurnpackStore::from_file(path);
    let file: BTreeMap<String, Vec<usize>> = store
        .get_all_tensors()
        .ok()?
        .iter()
        .map(|(name, tensor)| (name.clone(), tensor.shape.to_vec()))
        .collect();
    let ours: Vec<(String, Vec<usize>)> = model
        .collect(None, None, true)
        .into_iter()
        .map(|tensor| (tensor.name, tensor.shape.to_vec()))
        .collect();
    let first = ours
        .iter()
        .find_map(|(name, shape)| match file.get(name) {
            None => Some(format!("the file has no tensor {name}")),
            Some(theirs) if theirs != shape => Some(format!(
                "its {name} is {theirs:?}, the network's is {shape:?}"
            )),
            Some(_) => None,
        })
        .or_else(|| {
            file.keys()
                .find(|name| !ours.iter().any(|(ours, _)| ours == *name))
                .map(|name| format!("the file has tensor {name}, which the network has not"))
        })?;
    // Burn's Linear weight is [inputs, outputs]: each hidden layer's width is its second.
    let hidden: Vec<usize> = (0..)
        .map_while(|i| file.get(&format!("hidden.{i}.linear.weight")))
        .filter_map(|shape| shape.get(1).copied())
        .collect();
    Some(match hidden != config.model.hidden {
        true => format!(
            "{first}; the file holds hidden layers {hidden:?}, the config model.hidden = {:?}",
            config.model.hidden
        ),
        false => first,
    })
}

/// `model` with the weights of the Burn model file `path`; `mismatch` says, from Burn's own
/// words, what it means that they do not fit. Burn's plain loaders panic on a missing, corrupt
/// or mismatched file.
fn with_weights(
    model: Network,
    path: &Path,
    mismatch: impl FnOnce(String) -> String,
) -> Result<Network> {
    let record = ModuleRecord::load(path).map_err(|e| Error::Model {
        path: path.to_path_buf(),
        message: format!("is not a readable Burn model file (truncated or corrupt?): {e}"),
    })?;
    model.try_load_record(record).map_err(|e| Error::Model {
        path: path.to_path_buf(),
        message: mismatch(e.to_string()),
    })
}

/// Where a run's weights are read from: its trained model, or — for a run stopped before the
/// end — the last complete epoch's checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub enum Weights {
    Trained(PathBuf),
    Checkpoint { epoch: usize, path: PathBuf },
}

impl Weights {
    /// `dir/model.bpk`, else the newest complete checkpoint, else an error saying why there
    /// are no weights yet.
    pub fn of(dir: &Path) -> Result<Weights> {
        let trained = dir.join(run::MODEL_FILE);
        if trained.is_file() {
            return Ok(Weights::Trained(trained));
        }
        let checkpoints = dir.join(run::CHECKPOINT_FOLDER);
        match checkpoint::complete_epochs(&checkpoints).first() {
            Some(&epoch) => Ok(Weights::Checkpoint {
                epoch,
                path: checkpoint::path(&checkpoints, "model", epoch),
            }),
            None => Err(Error::Model {
                path: trained,
                message: format!(
                    "is missing, and so is any checkpoint: the run was stopped before its \
                     first epoch ended. Train it again (`{} train CONFIG`)",
                    digits_command()
                ),
            }),
        }
    }

    pub fn path(&self) -> &Path {
        match self {
            Weights::Trained(path) | Weights::Checkpoint { path, .. } => path,
        }
    }

    /// What to tell the user when these are not the trained weights.
    pub fn note(&self, dir: &Path) -> Option<String> {
        match self {
            Weights::Trained(_) => None,
            Weights::Checkpoint { epoch, .. } => Some(format!(
                "note: {} did not finish training (no {}): using the checkpoint of epoch \
                 {epoch}, its last complete one. To finish it: {} train --resume {}",
                dir.display(),
                run::MODEL_FILE,
                digits_command(),
                dir.display()
            )),
        }
    }
}

/// Where a run's initial network came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InitialSource {
    /// The run's `initial.bpk`.
    Kept,
    /// Made again from `training.seed` (runs from before `initial.bpk`): the same network when
    /// this backend draws the same random numbers as the one it trained on.
    Recreated,
    /// An imported run never started here: a random network of `training.seed` stands in.
    Imported,
}

/// Whether `dir` holds weights `digits import` brought in (no initial network, no epochs).
pub fn is_imported(dir: &Path) -> bool {
    crate::run::summary::Summary::read(&dir.join(run::SUMMARY_FILE))
        .is_ok_and(|summary| summary.imported_from.is_some())
}

/// The network `loaded` started training from (inference mode).
pub fn initial_network(loaded: &LoadedRun, device: &Device) -> Result<(Network, InitialSource)> {
    let config = &loaded.config;
    let path = loaded.dir.join(run::INITIAL_FILE);
    if !path.is_file() {
        // As `train` makes it: the seed, then the network on the autodiff device.
        device.seed(config.training.seed);
        let model = Network::new(
            &config.model,
            config.training.loss,
            &device.clone().autodiff(),
        );
        let source = match is_imported(&loaded.dir) {
            true => InitialSource::Imported,
            false => InitialSource::Recreated,
        };
        return Ok((model.valid(), source));
    }
    let mismatch =
        |burns| format!("does not fit the run's network (copied from another run?): {burns}");
    let model = with_weights(loaded.model.clone(), &path, mismatch)?;
    Ok((model, InitialSource::Kept))
}

/// The most epochs a training path is drawn through (evenly spaced, the last always in).
const PATH_EPOCHS: usize = 100;

/// The network after each epoch, from the run's checkpoints (`training.keep_all_checkpoints`),
/// as `(epoch, network)`, first epoch first; or why the run cannot give them.
pub fn epoch_networks(
    loaded: &LoadedRun,
) -> Result<std::result::Result<Vec<(usize, Network)>, String>> {
    if is_imported(&loaded.dir) {
        return Ok(Err(
            "the network was imported, so this run has no training epochs to draw".into(),
        ));
    }
    let dir = loaded.dir.join(run::CHECKPOINT_FOLDER);
    let mut epochs = checkpoint::complete_epochs(&dir);
    epochs.reverse();
    let last = epochs.last().copied().unwrap_or(0);
    if last == 0 || epochs.len() != last {
        let kept: Vec<String> = epochs.iter().map(usize::to_string).collect();
        return Ok(Err(format!(
            "the run kept the checkpoints of epochs [{}] only, not every epoch's; train with \
             `training.keep_all_checkpoints = true` to draw its path",
            kept.join(", ")
        )));
    }
    let step = last.div_ceil(PATH_EPOCHS).max(1);
    let chosen = (1..=last).rev().step_by(step).collect::<Vec<_>>();
    chosen
        .into_iter()
        .rev()
        .map(|epoch| {
            checkpoint::model_at(&dir, epoch, loaded.model.clone())
                .map(|model| (epoch, model))
                .map_err(|why| Error::Model {
                    path: checkpoint::path(&dir, "model", epoch),
                    message: format!("cannot be read back ({why}); the path needs every epoch"),
                })
        })
        .collect::<Result<Vec<_>>>()
        .map(Ok)
}
