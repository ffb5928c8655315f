//! Burn's checkpoints, written atomically and marked with their run, and found again for
//! `--resume`.
//!
//! Like Burn's `FileCheckpointer`, this one has burn-pack's writer stream each record into a
//! file under a temporary name, synced, then renamed: a checkpoint file either is complete or
//! does not exist. Beside each file it also writes a mark (`model-E.run`): the run's id and the
//! file's CRC-32, so `--resume` refuses any part of a checkpoint that this run did not write
//! (another run's optimizer state copied in, say).

use std::io::Read;
use std::path::{Path, PathBuf};

use burn::lr_scheduler::LrSchedulerRecord;
use burn::module::Module;
use burn::optim::OptimizerRecord;
use burn::store::ModuleRecord;
use burn::tensor::Bytes;
use burn::train::checkpoint::{
    Checkpoint, Checkpointer, CheckpointerError, CheckpointingAction, CheckpointingStrategy,
};
use burn::train::metric::store::EventStoreClient;

use crate::model::Network;
use crate::run::{scratch_path, write_atomic};

/// `training.keep_all_checkpoints`: every epoch's checkpoint saved, none deleted (Burn's
/// default keeps the last two and the best).
pub struct KeepEveryEpoch;

impl CheckpointingStrategy for KeepEveryEpoch {
    fn checkpointing(&mut self, _epoch: usize, _: &EventStoreClient) -> Vec<CheckpointingAction> {
        vec![CheckpointingAction::Save]
    }
}

/// In the checkpoint folder: the id of the run its checkpoints belong to.
pub const RUN_ID_FILE: &str = "run-id";

/// A fresh run id: the time and the process, in hex (unique enough to tell two runs of one
/// folder apart).
pub fn new_run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{nanos:x}-{:x}", std::process::id())
}

/// Marks the checkpoint folder `dir` as `run_id`'s.
pub fn write_run_id(dir: &Path, run_id: &str) -> crate::error::Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| crate::error::Error::io("cannot create", dir, e))?;
    write_atomic(&dir.join(RUN_ID_FILE), run_id.as_bytes())
}

/// The run the checkpoints in `dir` belong to, if marked.
pub fn read_run_id(dir: &Path) -> Option<String> {
    std::fs::read_to_string(dir.join(RUN_ID_FILE))
        .ok()
        .map(|id| id.trim().to_string())
}

/// The three records of one epoch's checkpoint, by file-name prefix.
pub const PARTS: [&str; 3] = ["model", "optim", "scheduler"];

/// Saves records as `<dir>/<name>-<epoch>.bpk`, atomically.
pub struct AtomicFileCheckpointer {
    dir: PathBuf,
    name: &'static str,
}

impl AtomicFileCheckpointer {
    pub fn new(dir: &Path, name: &'static str) -> Self {
        Self {
            dir: dir.to_path_buf(),
            name,
        }
    }
}

pub fn path(dir: &Path, name: &str, epoch: usize) -> PathBuf {
    dir.join(format!("{name}-{epoch}.bpk"))
}

/// The mark of a checkpoint file: which run wrote it, and its CRC-32.
fn mark_path(dir: &Path, name: &str, epoch: usize) -> PathBuf {
    dir.join(format!("{name}-{epoch}.run"))
}

fn mark(run_id: &str, crc: u32) -> String {
    format!("{run_id} {crc:08x}\n")
}

/// The CRC-32 of `file`'s bytes, read a megabyte at a time.
fn file_crc(file: &Path) -> std::io::Result<u32> {
    let mut reader = std::fs::File::open(file)?;
    let mut hasher = crc32fast::Hasher::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        match reader.read(&mut buffer)? {
            0 => return Ok(hasher.finalize()),
            read => hasher.update(&buffer[..read]),
        }
    }
}

/// Whether every part of `epoch`'s checkpoint was written by run `run_id`, unchanged since.
pub fn belongs(dir: &Path, epoch: usize, run_id: &str) -> Result<(), String> {
    for part in PARTS {
        let file = path(dir, part, epoch);
        let crc = file_crc(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let found = std::fs::read_to_string(mark_path(dir, part, epoch)).unwrap_or_default();
        if found != mark(run_id, crc) {
            let why = match found.split_whitespace().next() {
                None => "it has no mark of the run that wrote it".to_string(),
                Some(id) if id != run_id => format!("run {id} wrote it, not this run"),
                Some(_) => "its content changed after this run wrote it".to_string(),
            };
            return Err(format!("{}: {why}", file.display()));
        }
    }
    Ok(())
}

/// Whether the checkpoints in `dir` carry marks (runs trained before marks existed have none).
pub fn marked(dir: &Path) -> bool {
    std::fs::read_dir(dir).into_iter().flatten().any(|entry| {
        entry
            .ok()
            .is_some_and(|e| e.file_name().to_string_lossy().ends_with(".run"))
    })
}

impl<R: Checkpoint> Checkpointer<R> for AtomicFileCheckpointer {
    fn save(&self, epoch: usize, record: R) -> Result<(), CheckpointerError> {
        std::fs::create_dir_all(&self.dir).map_err(CheckpointerError::IOError)?;
        // Streamed from the record into a scratch file by Burn's writer (synced before it
        // returns), rather than gathered in memory first: a model's bytes in one fresh buffer
        // (23 MB for [2048,2048]) made this thread fault in and zero that many pages each
        // epoch, on a core the training shares. The mark is taken from the file as written.
        let file = path(&self.dir, self.name, epoch);
        let scratch = scratch_path(&file);
        let written = record.save(scratch.clone()).and_then(|()| {
            // The mark first: a checkpoint file that exists always has its mark (a crash
            // between the two leaves a mark without a file: an incomplete epoch, as before).
            // The folder's run id was written before training started.
            let run_id = read_run_id(&self.dir).unwrap_or_default();
            let crc = file_crc(&scratch).map_err(CheckpointerError::IOError)?;
            write_atomic(
                &mark_path(&self.dir, self.name, epoch),
                mark(&run_id, crc).as_bytes(),
            )
            .map_err(|e| CheckpointerError::Unknown(e.to_string()))?;
            std::fs::rename(&scratch, &file).map_err(CheckpointerError::IOError)
        });
        if written.is_err() {
            let _ = std::fs::remove_file(&scratch);
        }
        written
    }

    fn delete(&self, epoch: usize) -> Result<(), CheckpointerError> {
        for file in [
            path(&self.dir, self.name, epoch),
            mark_path(&self.dir, self.name, epoch),
        ] {
            match std::fs::remove_file(file) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(CheckpointerError::IOError(e));
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn restore(&self, epoch: usize) -> Result<R, CheckpointerError> {
        let bytes =
            std::fs::read(path(&self.dir, self.name, epoch)).map_err(CheckpointerError::IOError)?;
        R::checkpoint_from_bytes(Bytes::from_bytes_vec(bytes)).map_err(CheckpointerError::Record)
    }
}

/// Epochs that have all three checkpoint files (and their marks, where the folder has marks),
/// newest first.
pub fn complete_epochs(dir: &Path) -> Vec<usize> {
    let marked = marked(dir);
    let mut epochs: Vec<usize> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            name.strip_prefix("model-")?
                .strip_suffix(".bpk")?
                .parse()
                .ok()
        })
        .filter(|&epoch| {
            PARTS.iter().all(|part| {
                path(dir, part, epoch).is_file()
                    && (!marked || mark_path(dir, part, epoch).is_file())
            })
        })
        .collect();
    epochs.sort_unstable_by(|a, b| b.cmp(a));
    epochs
}

/// The newest complete checkpoint from before `epoch`, and its model file.
pub fn last_complete_before(dir: &Path, epoch: usize) -> Option<(usize, PathBuf)> {
    complete_epochs(dir)
        .into_iter()
        .find(|&e| e < epoch)
        .map(|e| (e, path(dir, "model", e)))
}

/// Whether the network of `epoch`'s checkpoint has the shapes of `model` (the network the
/// run's config describes). Burn's own loading panics on a mismatch; this says which file and
/// why, before anything is loaded.
pub fn fits(dir: &Path, epoch: usize, model: Network) -> Result<(), String> {
    model_at(dir, epoch, model).map(drop)
}

/// `model` with the weights of `epoch`'s checkpoint; an error names the file and why.
pub fn model_at(dir: &Path, epoch: usize, model: Network) -> Result<Network, String> {
    let file = path(dir, "model", epoch);
    let record =
        ModuleRecord::load(file.clone()).map_err(|e| format!("{}: {e}", file.display()))?;
    model
        .try_load_record(record)
        .map_err(|e| format!("{}: {e}", file.display()))
}

/// Whether all three records of `epoch` read back (Burn's loading panics on a bad one).
pub fn readable(dir: &Path, epoch: usize) -> Result<(), String> {
    fn check<R: Checkpoint>(dir: &Path, name: &str, epoch: usize) -> Result<(), String> {
        let file = path(dir, name, epoch);
        R::load(file.clone())
            .map(drop)
            .map_err(|e| format!("{}: {e}", file.display()))
    }
    check::<ModuleRecord>(dir, "model", epoch)?;
    check::<OptimizerRecord>(dir, "optim", epoch)?;
    check::<LrSchedulerRecord>(dir, "scheduler", epoch)
}
