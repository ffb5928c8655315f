//! The `digits` command line: parse arguments, run one command, map errors to exit codes.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use digits::backend::Backend;
use digits::config::Config;
use digits::{Error, Result, training};

#[derive(Parser)]
#[command(
    name = "digits",
    version,
    about = "Train and inspect neural networks that read handwritten digits"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train the network a config describes; outputs go to a new run folder.
    Train(TrainArgs),
}

#[derive(Args)]
struct TrainArgs {
    /// The TOML config, e.g. config/mlp.toml.
    config: PathBuf,
    /// Override any config key, e.g. --set training.epochs=2 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Read the four MNIST-format IDX files (.gz or raw) from this folder (= data.dir).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Run folder (= output.dir); default artifacts/<config name>/run-N.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Write into --out even if it already holds files.
    #[arg(long)]
    force: bool,
    /// ndarray, flex or wgpu; default: the first of wgpu, flex, ndarray this binary has.
    #[arg(long, value_name = "NAME")]
    backend: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Train(args) => train(args),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}

fn train(args: TrainArgs) -> Result<ExitCode> {
    let backend = Backend::select(args.backend.as_deref())?;
    let config = load_config(&args.config, &args.set, args.data_dir, args.out)?;
    let options = training::TrainOptions {
        backend,
        force: args.force,
        dashboard: std::io::stdout().is_terminal(),
    };
    let report = training::train(&config, &args.config, &options)?;
    println!("run folder: {}", report.run.dir.display());
    if report.summary.interrupted {
        eprintln!(
            "training was stopped after {} of {} epochs; the model and summary above are \
             from that point",
            report.summary.epochs_completed, report.summary.epochs
        );
        return Ok(ExitCode::from(130));
    }
    Ok(ExitCode::SUCCESS)
}

/// The config file with `--set` overrides, then the dedicated flags on top.
fn load_config(
    path: &Path,
    overrides: &[String],
    data_dir: Option<PathBuf>,
    out: Option<PathBuf>,
) -> Result<Config> {
    let mut config = Config::load(path, overrides)?;
    if let Some(dir) = data_dir {
        config.data.dir = Some(dir);
    }
    if let Some(dir) = out {
        config.output.dir = Some(dir);
    }
    // An absolute data folder keeps the resolved config usable from any working directory.
    if let Some(dir) = &config.data.dir {
        let absolute = std::fs::canonicalize(dir)
            .or_else(|_| std::path::absolute(dir))
            .map_err(|e| Error::io("cannot resolve", dir, e))?;
        config.data.dir = Some(absolute);
    }
    Ok(config)
}
