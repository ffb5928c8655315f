//! The run folder: where one training run's outputs live.
//!
//! `config.toml` (resolved) · `model.bpk` · `summary.json` · `metrics.csv`, next to Burn's own
//! `checkpoint/`, `train/`, `valid/` and `experiment.log`. Every file of ours is written to a
//! temporary name and renamed, so a crash never leaves a half-written file under the real name.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::error::{Error, Result};

pub const CONFIG_FILE: &str = crate::config::RUN_CONFIG_FILE;
pub const MODEL_FILE: &str = "model.bpk";
/// The network as training began (its random initialisation), for `digits explain`.
pub const INITIAL_FILE: &str = "initial.bpk";
pub const SUMMARY_FILE: &str = "summary.json";
pub const METRICS_FILE: &str = "metrics.csv";
/// The pictures `train` draws at the end of a run (`digits plot` redraws them).
pub const WEIGHTS_FILE: &str = "weights.png";
pub const CURVES_FILE: &str = "curves.png";
/// Written by `digits plot --augmented`.
pub const AUGMENTED_FILE: &str = "augmented.png";
/// Written by `digits eval`.
pub const EVAL_FILE: &str = "eval.json";
pub const CONFUSION_FILE: &str = "confusion.png";
/// Burn's log of the run.
pub const LOG_FILE: &str = "experiment.log";
/// Burn's learner keeps its checkpoints here; they belong to this run only.
pub const CHECKPOINT_FOLDER: &str = "checkpoint";
/// TensorBoard's event files, a folder per split (`run::tensorboard` writes them).
pub const TENSORBOARD_FOLDER: &str = "tensorboard";

/// Every file a run writes: what `--force` clears from a folder before a new run goes in, so
/// two runs never mix (other files in the folder are left alone).
const RUN_FILES: [&str; 10] = [
    CONFIG_FILE,
    MODEL_FILE,
    INITIAL_FILE,
    SUMMARY_FILE,
    METRICS_FILE,
    WEIGHTS_FILE,
    CURVES_FILE,
    EVAL_FILE,
    CONFUSION_FILE,
    LOG_FILE,
];

/// The lock file of a run folder that a digits process is writing.
pub const LOCK_FILE: &str = ".lock";

/// Locks `dir` while the returned guard lives (an advisory lock on `dir/.lock`, which the
/// system also releases however the process ends), so a second digits told to write there —
/// two `train --out X --force` at once, a `--resume` of a run still training — is refused
/// instead of the two removing and overwriting each other's files. A file system without
/// locks is written unlocked, as before.
pub fn lock(dir: &Path) -> Result<Option<Arc<std::fs::File>>> {
    let path = dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io("cannot create the lock file", &path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(Arc::new(file))),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Usage(format!(
            "{}: another digits is writing in this folder (a training or import still \
             running); nothing was changed. Wait for it to end, or choose another --out",
            dir.display()
        ))),
        Err(std::fs::TryLockError::Error(_)) => Ok(None),
    }
}

/// The folder of one run.
#[derive(Debug, Clone)]
pub struct RunFolder {
    pub dir: PathBuf,
    /// Held while this run writes here ([`lock`]); none for a folder only read.
    pub lock: Option<Arc<std::fs::File>>,
}

impl RunFolder {
    /// Creates the run folder: `explicit` if given (refused when it exists and is not empty,
    /// unless `force`), else `artifacts/<name>/run-N` with the next free N.
    pub fn create(name: &str, explicit: Option<&Path>, force: bool) -> Result<RunFolder> {
        match explicit {
            Some(dir) => {
                let occupied = std::fs::read_dir(dir)
                    .map(|entries| entries.flatten().any(|e| e.file_name() != LOCK_FILE))
                    .unwrap_or(false);
                if occupied && !force {
                    return Err(Error::Usage(format!(
                        "output folder {} already exists and is not empty; nothing was \
                         written. Choose another --out (or output.dir), or pass --force to \
                         write into it anyway",
                        dir.display()
                    )));
                }
                std::fs::create_dir_all(dir)
                    .map_err(|e| Error::io("cannot create output folder", dir, e))?;
                // Before anything in it is cleared: another digits may be writing there.
                let lock = lock(dir)?;
                let folder = RunFolder {
                    dir: dir.to_path_buf(),
                    lock,
                };
                if occupied {
                    folder.clear_run()?;
                }
                Ok(folder)
            }
            None => RunFolder::next_free(&Path::new("artifacts").join(name)),
        }
    }

    /// Claims `parent/run-N` for the lowest N above every existing one. `create_dir` fails if
    /// the folder exists, so two runs started together never share a folder.
    fn next_free(parent: &Path) -> Result<RunFolder> {
        std::fs::create_dir_all(parent)
            .map_err(|e| Error::io("cannot create output folder", parent, e))?;
        let highest = std::fs::read_dir(parent)
            .map_err(|e| Error::io("cannot list output folder", parent, e))?
            .filter_map(|entry| entry.ok())
            .filter_map(|entry| {
                entry
                    .file_name()
                    .to_str()
                    .and_then(|name| name.strip_prefix("run-"))
                    .and_then(|n| n.parse::<u64>().ok())
            })
            .max()
            .unwrap_or(0);
        for n in highest + 1.. {
            let dir = parent.join(format!("run-{n}"));
            match std::fs::create_dir(&dir) {
                Ok(()) => {
                    let lock = lock(&dir)?;
                    return Ok(RunFolder { dir, lock });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(Error::io("cannot create run folder", &dir, e)),
            }
        }
        unreachable!("run numbers are unbounded")
    }

    /// Removes an earlier run's files and checkpoints from this folder (`--force`).
    fn clear_run(&self) -> Result<()> {
        for name in RUN_FILES {
            let path = self.path(name);
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Error::io("cannot remove the earlier run's", &path, e));
                }
                _ => {}
            }
        }
        // The TensorBoard folder is wholly the run's.
        let events = self.path(TENSORBOARD_FOLDER);
        match std::fs::remove_dir_all(&events) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(Error::io("cannot remove the earlier run's", &events, e));
            }
            _ => {}
        }
        // The checkpoint folder belongs to the run: its files go (not folders: none are ours).
        let checkpoints = self.path(CHECKPOINT_FOLDER);
        for entry in std::fs::read_dir(&checkpoints)
            .into_iter()
            .flatten()
            .flatten()
        {
            if entry.file_type().is_ok_and(|t| t.is_file()) {
                std::fs::remove_file(entry.path())
                    .map_err(|e| Error::io("cannot remove the earlier run's", &entry.path(), e))?;
            }
        }
        Ok(())
    }

    /// A run folder that `digits train` wrote (it holds `config.toml`), for a command that
    /// reads one (`usage`: how that command names it, e.g. "eval RUN_DIR"). Anything else —
    /// missing, a file, a folder of runs — is a message saying what was expected and which
    /// run folders it holds, if any.
    pub fn existing(dir: &Path, usage: &str) -> Result<RunFolder> {
        let expected = "a run folder written by `digits train` (one that holds config.toml, \
                        e.g. artifacts/mlp/run-1)";
        let problem = if dir.is_file() {
            format!("is a file, not a folder: {usage} takes {expected}")
        } else if !dir.is_dir() {
            format!("does not exist: {usage} takes {expected}")
        } else if !dir.join(CONFIG_FILE).is_file() {
            let inside = runs_inside(dir);
            match inside.len() {
                0 => format!(
                    "is not a run folder (it has no {CONFIG_FILE}): {usage} takes {expected}"
                ),
                _ => format!(
                    "is not a run folder but holds {}: give one of them, e.g. {}",
                    plural(inside.len(), "run"),
                    inside
                        .iter()
                        .take(5)
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }
        } else {
            return Ok(RunFolder {
                dir: dir.to_path_buf(),
                lock: None,
            });
        };
        Err(Error::Usage(format!("{}: {problem}", dir.display())))
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// Writes `file` in the run folder atomically.
    pub fn write(&self, file: &str, bytes: &[u8]) -> Result<()> {
        write_atomic(&self.path(file), bytes)
    }

    /// The file stem of a config, which names its default run folder (`config/mlp.toml` →
    /// `mlp`).
    pub fn name_of(config_path: &Path) -> String {
        config_path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "run".into())
    }

    /// Writes a value as pretty JSON.
    pub fn write_json(&self, file: &str, value: &impl Serialize) -> Result<()> {
        let mut text = serde_json::to_string_pretty(value)
            .map_err(|e| Error::Internal(format!("cannot serialise {file}: {e}")))?;
        text.push('\n');
        self.write(file, text.as_bytes())
    }
}

/// Run folders in `dir` or one level below (`artifacts/` → `artifacts/mlp/run-1`), sorted.
fn runs_inside(dir: &Path) -> Vec<PathBuf> {
    let children = |d: &Path| -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(d) else {
            return Vec::new();
        };
        // A folder of a thousand entries is not searched further than that.
        entries
            .take(1000)
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect()
    };
    let is_run = |p: &PathBuf| p.join(CONFIG_FILE).is_file();
    let mut runs: Vec<PathBuf> = Vec::new();
    for child in children(dir) {
        if is_run(&child) {
            runs.push(child);
        } else {
            runs.extend(children(&child).into_iter().filter(is_run));
        }
    }
    runs.sort();
    runs
}

fn plural(n: usize, what: &str) -> String {
    match n {
        1 => format!("1 {what}"),
        n => format!("{n} {what}s"),
    }
}

/// The temporary name `path` is written under before it is renamed: `.<name>.tmp` beside it.
pub fn scratch_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp"))
}

/// Writes to `path` through a temporary file in the same folder ([`scratch_path`]), synced,
/// then renamed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let temp = scratch_path(path);
    let result = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        Error::io("cannot write", path, e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_folders_are_numbered_and_never_reused() {
        let root = tempfile::tempdir().unwrap();
        let first = RunFolder::next_free(root.path()).unwrap();
        let second = RunFolder::next_free(root.path()).unwrap();
        assert_eq!(first.dir, root.path().join("run-1"));
        assert_eq!(second.dir, root.path().join("run-2"));
        std::fs::remove_dir_all(&first.dir).unwrap();
        assert_eq!(
            RunFolder::next_free(root.path()).unwrap().dir,
            root.path().join("run-3")
        );
    }

    #[test]
    fn an_occupied_explicit_folder_is_refused_without_force() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("keep.txt"), "precious").unwrap();
        let err = RunFolder::create("mlp", Some(root.path()), false).unwrap_err();
        assert!(err.to_string().contains("--force"), "{err}");
        assert!(RunFolder::create("mlp", Some(root.path()), true).is_ok());
        assert!(root.path().join("keep.txt").is_file(), "not a file of ours");
        let empty = root.path().join("fresh");
        assert!(RunFolder::create("mlp", Some(&empty), false).is_ok());
    }

    #[test]
    fn atomic_writes_replace_whole_files_and_leave_no_temporaries() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("summary.json");
        write_atomic(&path, b"first").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(root.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn force_clears_an_earlier_runs_files_and_checkpoints_only() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path();
        for name in [METRICS_FILE, SUMMARY_FILE, EVAL_FILE, "notes.txt"] {
            std::fs::write(dir.join(name), "old").unwrap();
        }
        std::fs::create_dir(dir.join(CHECKPOINT_FOLDER)).unwrap();
        std::fs::write(dir.join(CHECKPOINT_FOLDER).join("model-4.bpk"), "old").unwrap();
        RunFolder::create("mlp", Some(dir), true).unwrap();
        let names = |dir: &Path| -> Vec<String> {
            let mut names: Vec<String> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            names.sort();
            names
        };
        assert_eq!(names(dir), [LOCK_FILE, CHECKPOINT_FOLDER, "notes.txt"]);
        assert!(names(&dir.join(CHECKPOINT_FOLDER)).is_empty());
    }
}
