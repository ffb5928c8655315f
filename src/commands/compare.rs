//! `digits compare CONFIG...`: several configs trained on the same data and seed, their
//! results and gradient profiles side by side.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use burn::train::Interrupter;
use clap::Args;

use crate::backend::Backend;
use crate::commands::args::{BackendArg, load_config};
use crate::config::Config;
use crate::data::source as data;
use crate::error::{Error, Result, digits_command, exit};
use crate::run::folder::{RunFolder, write_atomic};
use crate::train::compare::{self, Candidate, RunEnd};
use crate::train::interrupt;
use crate::train::series_plan::{self, Series};

#[derive(Args)]
pub struct CompareArgs {
    /// The configs, e.g. config/deep-sigmoid.toml config/deep-sigmoid-batchnorm.toml.
    #[arg(required = true)]
    configs: Vec<PathBuf>,
    #[command(flatten)]
    series: SeriesArgs,
}

/// Options shared by `compare` and `sweep`.
#[derive(Args)]
pub struct SeriesArgs {
    /// Train each network for N epochs (= --set training.epochs=N).
    #[arg(long, value_name = "N")]
    pub epochs: Option<usize>,
    /// Override any config key in every run (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Read the four MNIST-format IDX files from this folder (= data.dir).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Output folder; default artifacts/compare/run-N or artifacts/sweep-<config>/run-N.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Write into --out even if it already holds files.
    #[arg(long)]
    pub force: bool,
    /// Train nothing: write one self-contained `digits train` line per run to FILE (for GNU
    /// parallel, a Slurm job array, ...) and create the series folder; `digits collect` then
    /// tabulates the runs that have finished.
    #[arg(long, value_name = "FILE", conflicts_with = "jobs")]
    pub plan: Option<PathBuf>,
    /// Runs trained at once, each in its own process (its output then goes to
    /// <out>/<run>.log); results are the same as one at a time.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub jobs: usize,
    #[command(flatten)]
    pub backend: BackendArg,
}

impl SeriesArgs {
    /// `path`'s config with this series' `--set`, `--epochs` and `--data-dir`, then `extra`
    /// assignments; and the `train` arguments that make the same config from the file.
    pub fn load(&self, path: &Path, extra: &[String]) -> Result<(Config, Vec<String>)> {
        let mut overrides = self.set.clone();
        overrides.extend(self.epochs.map(|n| format!("training.epochs={n}")));
        overrides.extend_from_slice(extra);
        let config = load_config(path, &overrides, self.data_dir.clone(), None)?;
        let mut args: Vec<String> = overrides
            .into_iter()
            .flat_map(|o| ["--set".to_string(), o])
            .collect();
        if let (Some(_), Some(dir)) = (&self.data_dir, &config.data.dir) {
            // Made absolute by load_config, so it reads the same from any folder.
            args.extend(["--data-dir".to_string(), dir.display().to_string()]);
        }
        Ok((config, args))
    }
}

pub fn run(args: CompareArgs) -> Result<ExitCode> {
    let (configs, series) = (&args.configs, &args.series);
    let mut candidates: Vec<Candidate> = Vec::new();
    for path in configs {
        // Named by the file; the same name twice (the same config, or two folders' files of
        // one name) gets -2, -3, ..., never a name another run has.
        let stem = RunFolder::name_of(path);
        let taken = |name: &str| candidates.iter().any(|c| c.name == name);
        let name = std::iter::once(stem.clone())
            .chain((2..).map(|n| format!("{stem}-{n}")))
            .find(|name| !taken(name))
            .expect("unbounded numbers");
        let (config, args) = series.load(path, &[])?;
        let label = match name == stem {
            true => path.display().to_string(),
            false => format!("{} ({name})", path.display()),
        };
        candidates.push(Candidate {
            label,
            name,
            config,
            config_path: path.clone(),
            args,
        });
    }
    run_series(candidates, "compare", series)
}

/// Trains the candidates, each in a process of its own (so each run's peak memory is its
/// own), into a new folder `folder_name`; prints and writes the comparison.
pub fn run_series(
    mut candidates: Vec<Candidate>,
    folder_name: &str,
    series: &SeriesArgs,
) -> Result<ExitCode> {
    if series.jobs == 0 {
        return Err(Error::Usage(
            "--jobs must be at least 1 (the number of runs trained at once)".into(),
        ));
    }
    let backend = series.backend.select()?;
    // Every run reads the digits found here, once (a fallback to the sample is said once).
    for candidate in &mut candidates {
        if candidate.config.data.dir.is_none() {
            let origin = data::locate(&candidate.config.data)?;
            let source = format!("data.source={}", origin.config_source().name());
            if !candidate.args.contains(&source) {
                candidate.args.extend(["--set".into(), source]);
            }
        }
    }
    let plan = match &series.plan {
        Some(file) => Some(series_plan::plan_file(file, series.force)?),
        None => None,
    };
    let out = RunFolder::create(folder_name, series.out.as_deref(), series.force)?;
    let record = Series {
        backend: backend.name().to_string(),
        runs: candidates.iter().map(Candidate::planned).collect(),
    };
    record.write(&out)?;
    if let Some(file) = plan {
        return write_plan(&record, &out, &file);
    }
    // Ctrl-C reaches the run in progress too, which stops cleanly; the series stops after it.
    let interrupter = Interrupter::new();
    let comparison = {
        let _ctrl_c = interrupt::watch_quietly(&interrupter);
        let run = RunSettings {
            backend,
            force: series.force,
            threads: threads_per_run(series.jobs),
        };
        compare::compare(candidates, &out, series.jobs, |candidate, dir, log| {
            train_in_own_process(candidate, dir, log, &run, &interrupter)
        })?
    };
    println!("\n{}", compare::table(&comparison.outcomes));
    println!(
        "wrote {} and {}",
        out.path(compare::TABLE_FILE).display(),
        out.path(compare::PLOT_FILE).display()
    );
    if comparison.interrupted {
        eprintln!(
            "stopped by the user after {} run(s); the table holds those that ended",
            comparison.outcomes.len()
        );
        return Ok(ExitCode::from(exit::INTERRUPTED));
    }
    Ok(ExitCode::SUCCESS)
}

/// `--plan FILE`: the series' lines, and what to do with them.
fn write_plan(series: &Series, out: &RunFolder, file: &Path) -> Result<ExitCode> {
    let program = std::env::current_exe()
        .map_err(|e| Error::Environment(format!("cannot find the digits program itself: {e}")))?;
    let lines = series.plan_lines(&program, out)?;
    write_atomic(file, format!("{}\n", lines.join("\n")).as_bytes())?;
    println!(
        "wrote {} commands to {} (one run each; rerun a line to resume its run) and the \
         series folder {}\nrun them, e.g. `parallel < {}`, then tabulate what has finished \
         with:\n  {} collect {}",
        lines.len(),
        file.display(),
        out.dir.display(),
        file.display(),
        digits_command(),
        out.dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// How each run of a series is started.
struct RunSettings {
    backend: Backend,
    force: bool,
    /// Threads each run's thread pool (rayon: flex, training.devices) may use when several
    /// runs share the machine; None leaves the default (one per core).
    threads: Option<usize>,
}

/// With several runs at once, the machine's cores shared between them (unless the user set
/// RAYON_NUM_THREADS): N runs of N threads each on fewer cores only take turns.
fn threads_per_run(jobs: usize) -> Option<usize> {
    if jobs <= 1 || std::env::var_os("RAYON_NUM_THREADS").is_some() {
        return None;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Some((cores / jobs).max(1))
}

/// `digits train CONFIG ARGS --out DIR`, with this very binary, in a process of its own; its
/// output to the terminal, or into `log`.
fn train_in_own_process(
    candidate: &Candidate,
    dir: &Path,
    log: Option<&Path>,
    run: &RunSettings,
    interrupter: &Interrupter,
) -> Result<RunEnd> {
    if interrupter.should_stop() {
        return Ok(RunEnd::Interrupted);
    }
    let program = std::env::current_exe()
        .map_err(|e| Error::Environment(format!("cannot find the digits program itself: {e}")))?;
    let mut command = Command::new(&program);
    command
        .arg("train")
        .arg(&candidate.config_path)
        .args(&candidate.args)
        .arg("--out")
        .arg(dir)
        .args(["--backend", run.backend.name(), "--dashboard", "off"])
        // With --force the series writes over an earlier one, run folders included.
        .args(run.force.then_some("--force"));
    if let Some(threads) = run.threads {
        command.env("RAYON_NUM_THREADS", threads.to_string());
    }
    if let Some(log) = log {
        let file = std::fs::File::create(log).map_err(|e| Error::io("cannot create", log, e))?;
        let copy = file
            .try_clone()
            .map_err(|e| Error::io("cannot write", log, e))?;
        command.stdout(file).stderr(copy);
    }
    let status = command
        .status()
        .map_err(|e| Error::io("cannot start", &program, e))?;
    let message_at = match log {
        Some(log) => format!("its message is in {}", log.display()),
        None => "its message is above".to_string(),
    };
    match status.code() {
        Some(0) => Ok(RunEnd::Finished),
        Some(code) if code == i32::from(exit::DIVERGED) => Ok(RunEnd::Diverged),
        // Interrupted, or killed by a signal.
        Some(code) if code == i32::from(exit::INTERRUPTED) => Ok(RunEnd::Interrupted),
        None => Ok(RunEnd::Interrupted),
        Some(code) => {
            let message = format!(
                "run `{}` stopped with exit code {code} ({message_at}); the series stops \
                 with it",
                candidate.name
            );
            Err(match code {
                2 => Error::Usage(message),
                _ => Error::Internal(message),
            })
        }
    }
}
