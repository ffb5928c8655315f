//! A series of runs (`compare`, `sweep`) on any scheduler. The series folder's `series.json`
//! lists its runs; `--plan FILE` writes one self-contained `digits train` line per run, for
//! GNU parallel, a Slurm job array or anything that runs lines of shell; `collect` builds the
//! table and the picture from whichever runs have finished.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::run::folder::{self as run, RunFolder};
use crate::run::summary::Summary;
use crate::train::compare::{Outcome, PlannedRun, outcome_of};

pub const SERIES_FILE: &str = "series.json";

/// `series.json`: the runs of a series, in order, and the backend they train on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Series {
    pub backend: String,
    pub runs: Vec<PlannedRun>,
}

impl Series {
    pub fn write(&self, out: &RunFolder) -> Result<()> {
        out.write_json(SERIES_FILE, self)
    }

    /// The series of the folder `dir`; anything else is a message saying what was expected.
    pub fn read(dir: &Path) -> Result<Series> {
        let file = dir.join(SERIES_FILE);
        let text = std::fs::read_to_string(&file).map_err(|e| {
            Error::Usage(format!(
                "{} is not the folder of a series: it has no readable {SERIES_FILE} ({e}). \
                 `digits collect` reads a folder that `digits compare`, `digits sweep` or \
                 `sweep --plan` made",
                dir.display()
            ))
        })?;
        serde_json::from_str(&text).map_err(|e| {
            Error::Usage(format!(
                "{}: not a series file digits wrote ({e}); rerun the sweep with --plan to \
                 write it again",
                file.display()
            ))
        })
    }

    /// One `digits train` line per run, runnable from any folder: this program, the config
    /// and every folder as absolute paths; each run into its folder of `out`. A line rerun
    /// after an interruption continues its run: it ends with `--resume`.
    pub fn plan_lines(&self, program: &Path, out: &RunFolder) -> Result<Vec<String>> {
        let out_dir =
            std::path::absolute(&out.dir).map_err(|e| Error::io("cannot resolve", &out.dir, e))?;
        self.runs
            .iter()
            .map(|planned| {
                let config = std::path::absolute(&planned.config_path)
                    .map_err(|e| Error::io("cannot resolve", &planned.config_path, e))?;
                let mut words: Vec<String> = vec![path_word(program), "train".into()];
                words.push(path_word(&config));
                words.extend(planned.args.iter().cloned());
                words.extend(["--out".into(), path_word(&out_dir.join(&planned.name))]);
                words.extend(["--backend".into(), self.backend.clone()]);
                words.extend(["--dashboard".into(), "off".into(), "--resume".into()]);
                Ok(words
                    .iter()
                    .map(|w| shell_quoted(w))
                    .collect::<Vec<_>>()
                    .join(" "))
            })
            .collect()
    }

    /// The runs that have ended (finished or diverged), as outcomes, in order; and the names
    /// of those that have not (not started, under way, or stopped).
    pub fn collect(&self, out: &RunFolder) -> Result<(Vec<Outcome>, Vec<String>)> {
        let (mut ended, mut open) = (Vec::new(), Vec::new());
        for planned in &self.runs {
            let file = out.dir.join(&planned.name).join(run::SUMMARY_FILE);
            match file.is_file() {
                true => {
                    let summary = Summary::read(&file)?;
                    match summary.interrupted {
                        true => open.push(planned.label.clone()),
                        false => {
                            let seconds = summary.wall_seconds;
                            ended.push(outcome_of(planned, out, summary, seconds)?);
                        }
                    }
                }
                false => open.push(planned.label.clone()),
            }
        }
        Ok((ended, open))
    }
}

fn path_word(path: &Path) -> String {
    path.display().to_string()
}

/// `word` as one shell word: as it is when it holds only characters no shell treats
/// specially, else in single quotes (a quote inside written '\'').
pub fn shell_quoted(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        return word.to_string();
    }
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// The plan file's path, refused when it exists (unless `force`): a plan is not overwritten
/// by accident.
pub fn plan_file(file: &Path, force: bool) -> Result<PathBuf> {
    if file.exists() && !force {
        return Err(Error::Usage(format!(
            "{} already exists; nothing was written. Choose another --plan file, or pass \
             --force to replace it",
            file.display()
        )));
    }
    Ok(file.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_only_when_a_shell_would_read_them_otherwise() {
        assert_eq!(
            shell_quoted("training.learning_rate=0.1"),
            "training.learning_rate=0.1"
        );
        assert_eq!(
            shell_quoted("model.hidden=[32, 32]"),
            "'model.hidden=[32, 32]'"
        );
        assert_eq!(
            shell_quoted("model.activation=\"relu\""),
            "'model.activation=\"relu\"'"
        );
        assert_eq!(shell_quoted("it's"), r"'it'\''s'");
        assert_eq!(shell_quoted(""), "''");
    }
}
