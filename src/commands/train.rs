//! `digits train CONFIG` / `digits train --resume RUN_DIR`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::commands::args::{BackendArg, absolute, load_config};
use crate::error::{Error, Result, digits_command, exit};
use crate::remote::{self, RemoteTarget};
use crate::run::folder as run;
use crate::run::summary::Summary;
use crate::train::renderer::Dashboard;
use crate::train::results_screen::{self, Results};
use crate::train::{checkpoint, interrupt, pipeline, resume};

#[derive(Args)]
pub struct TrainArgs {
    /// The TOML config, e.g. config/mlp.toml (not with --resume RUN_DIR).
    #[arg(required_unless_present = "resume")]
    config: Option<PathBuf>,
    /// Continue a run from its last complete epoch, with the run's own config (--set may
    /// change e.g. training.epochs, not the network or the data). Without RUN_DIR, after
    /// CONFIG ... --out DIR: continue DIR if it has a complete epoch, else start it (a
    /// scheduler's line, rerun after an interruption).
    #[arg(long, value_name = "RUN_DIR", num_args = 0..=1)]
    resume: Option<Option<PathBuf>>,
    /// Override any config key, e.g. --set training.epochs=2 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Train for N epochs (= --set training.epochs=N); with --resume, the new total.
    #[arg(long, value_name = "N")]
    epochs: Option<usize>,
    /// Read the four MNIST-format IDX files (.gz or raw) from this folder (= data.dir).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Run folder (= output.dir); default artifacts/<config name>/run-N.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Write into --out even if it already holds files.
    #[arg(long)]
    force: bool,
    /// In a terminal: Burn's dashboard while training, then a screen of the results and
    /// curves until you press q (keep; the default when you can type into the terminal),
    /// nothing after it (close), or plain lines instead (off). Off a terminal the lines are
    /// always plain.
    #[arg(long, value_enum, value_name = "WHEN")]
    dashboard: Option<DashboardArg>,
    /// Train on the device a `digits serve-device` serves at ws://HOST:PORT (cargo feature
    /// `remote`) instead of this machine's.
    #[arg(long, value_name = "URL", conflicts_with = "backend")]
    remote: Option<String>,
    /// With --remote: a file whose first line is the server's token (default:
    /// $DIGITS_DEVICE_TOKEN).
    #[arg(long, value_name = "FILE", requires = "remote")]
    token_file: Option<PathBuf>,
    #[command(flatten)]
    backend: BackendArg,
}

/// `--dashboard`'s values (the command line's names for [`Dashboard`]).
#[derive(Clone, Copy, clap::ValueEnum)]
enum DashboardArg {
    Keep,
    Close,
    Off,
}

impl From<DashboardArg> for Dashboard {
    fn from(arg: DashboardArg) -> Dashboard {
        match arg {
            DashboardArg::Keep => Dashboard::Keep,
            DashboardArg::Close => Dashboard::Close,
            DashboardArg::Off => Dashboard::Off,
        }
    }
}

pub fn run(mut args: TrainArgs) -> Result<ExitCode> {
    args.set
        .extend(args.epochs.map(|n| format!("training.epochs={n}")));
    let backend = args.backend.select()?;
    let remote = match &args.remote {
        Some(url) => {
            let token = remote::read_token(args.token_file.as_deref())?;
            Some(RemoteTarget::new(url, token)?)
        }
        None => None,
    };
    if let Some(code) = already_ended(&args) {
        return Ok(code);
    }
    let resume_dir = resume_dir(&mut args)?;
    let (config, config_path, resume) = match (&resume_dir, &args.config) {
        (Some(run_dir), _) => {
            let data_dir = args.data_dir.as_deref().map(absolute).transpose()?;
            let (config, point) = resume::prepare(run_dir, &args.set, data_dir.as_deref())?;
            (config, run_dir.join(run::CONFIG_FILE), Some(point))
        }
        (None, Some(path)) => {
            let config = load_config(path, &args.set, args.data_dir.clone(), args.out.clone())?;
            (config, path.clone(), None)
        }
        (None, None) => unreachable!("clap requires a config or --resume"),
    };
    let options = pipeline::TrainOptions {
        backend,
        remote,
        force: args.force,
        dashboard: Dashboard::choose(args.dashboard.map(DashboardArg::into)),
        resume,
    };
    let report = pipeline::train(&config, &config_path, &options)?;
    // The results stay up for the user to look at, unless they stopped with Ctrl-C.
    if options.dashboard == Dashboard::Keep && !interrupt::stopped_by_signal() {
        results_screen::show(&Results {
            summary: &report.summary,
            records: &report.records,
            run_dir: report.run.dir.display().to_string(),
        })?;
    }
    println!("run folder: {}", report.run.dir.display());
    if report.summary.interrupted {
        match report.summary.epochs_completed {
            0 => eprintln!(
                "training was stopped during its first epoch, before any checkpoint: there is \
                 nothing to resume. Run the same `digits train` command again to start over"
            ),
            done => eprintln!(
                "training was stopped after {done} of {} epochs. Resume it from its last \
                 complete epoch with:\n  {} train --resume {}{}",
                report.summary.epochs,
                digits_command(),
                report.run.dir.display(),
                args.remote
                    .as_ref()
                    .map_or(String::new(), |url| format!(" --remote {url}"))
            ),
        }
        return Ok(ExitCode::from(exit::INTERRUPTED));
    }
    Ok(ExitCode::SUCCESS)
}

/// The run folder `--resume` continues: its RUN_DIR; or, for `CONFIG ... --out DIR --resume`,
/// DIR when it holds a complete epoch (else None: the line starts DIR afresh, clearing what
/// an interruption before its first checkpoint left).
fn resume_dir(args: &mut TrainArgs) -> Result<Option<PathBuf>> {
    match (&args.resume, &args.config, &args.out) {
        (None, _, _) => Ok(None),
        (Some(Some(run_dir)), None, None) => Ok(Some(run_dir.clone())),
        (Some(Some(_)), _, _) => Err(Error::Usage(
            "--resume RUN_DIR continues a run with its own config and folder: give neither a \
             CONFIG nor --out with it (or write CONFIG ... --out DIR --resume, without RUN_DIR)"
                .into(),
        )),
        (Some(None), Some(_), Some(out)) => {
            let started =
                !checkpoint::complete_epochs(&out.join(run::CHECKPOINT_FOLDER)).is_empty();
            if !started {
                args.force = true;
            }
            Ok(started.then(|| out.clone()))
        }
        (Some(None), _, _) => Err(Error::Usage(
            "--resume without a RUN_DIR belongs at the end of a CONFIG ... --out DIR line \
             (it continues DIR, or starts it): give --out, or write --resume RUN_DIR"
                .into(),
        )),
    }
}

/// For `CONFIG ... --out DIR --resume` (a scheduler's line run again): when DIR's run has
/// already ended, say so and end with its exit code (0, or 3 for a diverged run) instead of
/// training or refusing.
fn already_ended(args: &TrainArgs) -> Option<ExitCode> {
    let (Some(None), Some(_), Some(out)) = (&args.resume, &args.config, &args.out) else {
        return None;
    };
    let summary = Summary::read(&out.join(run::SUMMARY_FILE)).ok()?;
    if summary.interrupted {
        return None;
    }
    let (how, code) = match summary.diverged {
        true => ("diverged", exit::DIVERGED),
        false => ("finished", 0),
    };
    println!(
        "{}: this run has already {how} ({} of {} epochs); nothing to resume",
        out.display(),
        summary.epochs_completed,
        summary.epochs
    );
    Some(ExitCode::from(code))
}
