//! The `digits` command line: parse arguments, run one command, map errors to exit codes.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use digits::backend::Backend;
use digits::commands::{self, compare, predict, summary::ModelSummary};
use digits::config::Config;
use digits::model::Mlp;
use digits::run::{self, RunFolder};
use digits::train::Dashboard;
use digits::train::resume;
use digits::{Error, Result, train as training};

// Every step allocates and frees tensors of ~100 KB; glibc hands such blocks back to the OS and
// faults them in again. mimalloc keeps them: +9 to +25 % training speed (`digits bench`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Show the network a config describes: layers, weights, biases, parameter totals.
    Summary {
        /// The TOML config, e.g. config/mlp.toml.
        config: PathBuf,
        /// Override any config key, e.g. --set model.hidden=[64,64] (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
    },
    /// Evaluate a trained run on the test split: accuracy, per-digit report, confusion matrix.
    Eval {
        /// A run folder written by `digits train`, e.g. artifacts/mlp/run-1.
        run_dir: PathBuf,
        /// Read the test IDX files from this folder instead of the run's data.
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        #[command(flatten)]
        backend: BackendArg,
    },
    /// Classify pictures of digits (PNG/JPEG, any size) or a test image with a trained run.
    #[command(group(clap::ArgGroup::new("input").required(true).args(["images", "test_index"])))]
    Predict {
        /// A run folder written by `digits train`.
        run_dir: PathBuf,
        /// Pictures of single digits.
        images: Vec<PathBuf>,
        /// Classify image N of the run's test split instead.
        #[arg(long, value_name = "N", conflicts_with = "images")]
        test_index: Option<usize>,
        /// With --test-index: read the test IDX files from this folder.
        #[arg(long, value_name = "DIR", requires = "test_index")]
        data_dir: Option<PathBuf>,
        #[command(flatten)]
        backend: BackendArg,
    },
    /// Train several configs on the same data and seed; compare results and gradient
    /// profiles in compare.md and compare.png.
    Compare {
        /// The configs, e.g. config/deep-sigmoid.toml config/deep-sigmoid-batchnorm.toml.
        #[arg(required = true)]
        configs: Vec<PathBuf>,
        #[command(flatten)]
        series: SeriesArgs,
    },
    /// Train one config under every combination of the varied keys; compare them.
    Sweep {
        /// The base config.
        config: PathBuf,
        #[command(flatten)]
        vary: VaryArgs,
        #[command(flatten)]
        series: SeriesArgs,
    },
    /// Measure training and inference throughput: bare step loop, the real training path,
    /// inference; one row per batch size.
    Bench {
        /// The TOML config, e.g. config/mlp.toml.
        config: PathBuf,
        /// Override any config key (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Read the four MNIST-format IDX files from this folder (= data.dir).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// Batch sizes to measure, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "32,64,128")]
        batch_sizes: Vec<usize>,
        /// Seconds each figure is measured for, after a warm-up.
        #[arg(long, default_value_t = 1.0)]
        seconds: f64,
        /// Each figure is the best of this many rounds (the measurements take turns).
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// One JSON object per row instead of the table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        backend: BackendArg,
    },
    /// Redraw a run's weights.png and curves.png.
    Plot {
        /// A run folder written by `digits train`.
        run_dir: PathBuf,
        #[command(flatten)]
        backend: BackendArg,
    },
}

/// `--vary KEY V1 V2 ...`, repeatable. Written by hand because clap's derive cannot keep each
/// occurrence's values apart (`Vec<Vec<String>>` needs an unstable clap feature).
struct VaryArgs {
    /// (key, values) per `--vary`, in order.
    groups: Vec<(String, Vec<String>)>,
}

impl clap::FromArgMatches for VaryArgs {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        let groups = matches
            .get_occurrences::<String>("vary")
            .map(|occurrences| {
                occurrences
                    .map(|values| {
                        let values: Vec<String> = values.cloned().collect();
                        (values[0].clone(), values[1..].to_vec())
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(VaryArgs { groups })
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl clap::Args for VaryArgs {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        cmd.arg(
            clap::Arg::new("vary")
                .long("vary")
                .num_args(2..)
                .value_names(["KEY", "VALUE"])
                .action(clap::ArgAction::Append)
                .required(true)
                .help(
                    "A key and the values to try, e.g. --vary training.learning_rate 0.1 1 3 \
                     (repeatable: every combination is trained; values are TOML)",
                ),
        )
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

/// Options shared by `compare` and `sweep`.
#[derive(Args)]
struct SeriesArgs {
    /// Train each network for N epochs (= --set training.epochs=N).
    #[arg(long, value_name = "N")]
    epochs: Option<usize>,
    /// Override any config key in every run (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Read the four MNIST-format IDX files from this folder (= data.dir).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Output folder; default artifacts/compare/run-N or artifacts/sweep-<config>/run-N.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Write into --out even if it already holds files.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    backend: BackendArg,
}

impl SeriesArgs {
    /// `--set` values plus `--epochs`, then `extra`.
    fn overrides(&self, extra: &[String]) -> Vec<String> {
        let mut all = self.set.clone();
        all.extend(self.epochs.map(|n| format!("training.epochs={n}")));
        all.extend_from_slice(extra);
        all
    }
}

#[derive(Args)]
struct BackendArg {
    /// ndarray, flex or wgpu; default: the first of wgpu, flex, ndarray this binary has.
    #[arg(long, value_name = "NAME")]
    backend: Option<String>,
}

impl BackendArg {
    fn select(&self) -> Result<Backend> {
        Backend::select(self.backend.as_deref())
    }
}

#[derive(Args)]
struct TrainArgs {
    /// The TOML config, e.g. config/mlp.toml (not with --resume).
    #[arg(required_unless_present = "resume", conflicts_with = "resume")]
    config: Option<PathBuf>,
    /// Continue a run from its last complete epoch, with the run's own config (--set may
    /// change e.g. training.epochs, not the network or the data).
    #[arg(long, value_name = "RUN_DIR")]
    resume: Option<PathBuf>,
    /// Override any config key, e.g. --set training.epochs=2 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Read the four MNIST-format IDX files (.gz or raw) from this folder (= data.dir).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Run folder (= output.dir); default artifacts/<config name>/run-N.
    #[arg(long, value_name = "DIR", conflicts_with = "resume")]
    out: Option<PathBuf>,
    /// Write into --out even if it already holds files.
    #[arg(long)]
    force: bool,
    /// In a terminal: keep Burn's dashboard open when training ends (until you press x,
    /// then q; the default when you can type into the terminal), close it at once, or show
    /// plain lines instead. Off a terminal the lines are always plain.
    #[arg(long, value_enum, value_name = "WHEN")]
    dashboard: Option<Dashboard>,
    #[command(flatten)]
    backend: BackendArg,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Train(args) => train(args),
        Command::Summary { config, set } => summary(&config, &set),
        Command::Eval {
            run_dir,
            data_dir,
            backend,
        } => eval(&run_dir, data_dir.as_deref(), &backend),
        Command::Predict {
            run_dir,
            images,
            test_index,
            data_dir,
            backend,
        } => {
            let inputs = match test_index {
                Some(index) => predict::Inputs::TestIndex { index, data_dir },
                None => predict::Inputs::Images(images),
            };
            predict(&run_dir, &inputs, &backend)
        }
        Command::Compare { configs, series } => compare(&configs, &series),
        Command::Sweep {
            config,
            vary,
            series,
        } => sweep(&config, &vary.groups, &series),
        Command::Bench {
            config,
            set,
            data_dir,
            batch_sizes,
            seconds,
            rounds,
            json,
            backend,
        } => {
            let plan = commands::bench::BenchPlan {
                batch_sizes,
                seconds,
                rounds,
            };
            bench(&config, &set, data_dir, &plan, json, &backend)
        }
        Command::Plot { run_dir, backend } => plot(&run_dir, &backend),
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
    let backend = args.backend.select()?;
    let (config, config_path, resume) = match (&args.resume, &args.config) {
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
    let options = training::TrainOptions {
        backend,
        force: args.force,
        dashboard: Dashboard::choose(args.dashboard),
        resume,
    };
    let report = training::train(&config, &config_path, &options)?;
    println!("run folder: {}", report.run.dir.display());
    if report.summary.interrupted {
        eprintln!(
            "training was stopped after {} of {} epochs. Resume it from its last complete \
             epoch with:\n  digits train --resume {}",
            report.summary.epochs_completed,
            report.summary.epochs,
            report.run.dir.display()
        );
        return Ok(ExitCode::from(130));
    }
    Ok(ExitCode::SUCCESS)
}

/// An absolute form of `dir`, so a resolved config works from any working directory.
fn absolute(dir: &Path) -> Result<PathBuf> {
    std::fs::canonicalize(dir)
        .or_else(|_| std::path::absolute(dir))
        .map_err(|e| Error::io("cannot resolve", dir, e))
}

fn summary(config_path: &Path, overrides: &[String]) -> Result<ExitCode> {
    let config = Config::load(config_path, overrides)?;
    let device = Backend::select(None)?.device()?;
    let model = Mlp::new(&config.model, config.training.loss, &device);
    println!("{}\n", config_path.display());
    print!("{}", ModelSummary::of(&model, &config).render());
    Ok(ExitCode::SUCCESS)
}

fn eval(run_dir: &Path, data_dir: Option<&Path>, backend: &BackendArg) -> Result<ExitCode> {
    let report = commands::eval::eval(run_dir, data_dir, backend.select()?)?;
    print!("{}", commands::eval::render(&report));
    println!(
        "\nwrote {} and {}",
        run_dir.join(commands::eval::EVAL_FILE).display(),
        run_dir.join(commands::eval::CONFUSION_FILE).display()
    );
    Ok(ExitCode::SUCCESS)
}

fn predict(run_dir: &Path, inputs: &predict::Inputs, backend: &BackendArg) -> Result<ExitCode> {
    for item in predict::predict(run_dir, inputs, backend.select()?)? {
        println!("{}", predict::render(&item));
    }
    Ok(ExitCode::SUCCESS)
}

fn compare(configs: &[PathBuf], series: &SeriesArgs) -> Result<ExitCode> {
    let mut candidates: Vec<compare::Candidate> = Vec::new();
    for path in configs {
        let mut name = RunFolder::name_of(path);
        // The same config twice (e.g. with different --set in a script) gets -2, -3, ...
        let same = candidates
            .iter()
            .filter(|c| c.name.starts_with(&name))
            .count();
        if same > 0 {
            name = format!("{name}-{}", same + 1);
        }
        let config = load_config(path, &series.overrides(&[]), series.data_dir.clone(), None)?;
        candidates.push(compare::Candidate {
            name,
            config,
            config_path: path.clone(),
        });
    }
    run_series(candidates, "compare", series)
}

fn sweep(config: &Path, varied: &[(String, Vec<String>)], series: &SeriesArgs) -> Result<ExitCode> {
    let candidates = compare::sweep_candidates(config, varied, |assignments| {
        load_config(
            config,
            &series.overrides(assignments),
            series.data_dir.clone(),
            None,
        )
    })?;
    run_series(
        candidates,
        &format!("sweep-{}", RunFolder::name_of(config)),
        series,
    )
}

fn run_series(
    candidates: Vec<compare::Candidate>,
    folder_name: &str,
    series: &SeriesArgs,
) -> Result<ExitCode> {
    let backend = series.backend.select()?;
    let out = RunFolder::create(folder_name, series.out.as_deref(), series.force)?;
    let outcomes = compare::compare(candidates, &out, backend)?;
    println!("\n{}", compare::table(&outcomes));
    println!(
        "wrote {} and {}",
        out.path(compare::TABLE_FILE).display(),
        out.path(compare::PLOT_FILE).display()
    );
    Ok(ExitCode::SUCCESS)
}

fn bench(
    config_path: &Path,
    overrides: &[String],
    data_dir: Option<PathBuf>,
    plan: &commands::bench::BenchPlan,
    json: bool,
    backend: &BackendArg,
) -> Result<ExitCode> {
    plan.check()?;
    let seconds = plan.seconds;
    let config = load_config(config_path, overrides, data_dir, None)?;
    let backend = backend.select()?;
    if !json {
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        println!(
            "digits bench: {} on {backend}, {cores} CPU threads, {seconds} s per figure, best of \
             {} rounds\n{}",
            config_path.display(),
            plan.rounds,
            commands::bench::TABLE_HEADER
        );
    }
    commands::bench::bench(&config, backend, plan, |row| {
        if json {
            println!("{}", serde_json::to_string(row).expect("rows serialise"));
        } else {
            println!("{}", commands::bench::render_row(row));
        }
    })?;
    Ok(ExitCode::SUCCESS)
}

fn plot(run_dir: &Path, backend: &BackendArg) -> Result<ExitCode> {
    for path in commands::plot::plot(run_dir, backend.select()?)? {
        println!("wrote {}", path.display());
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
        config.data.dir = Some(absolute(dir)?);
    }
    Ok(config)
}
