//! `digits bench CONFIG`: training and inference throughput, one row per batch size.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::commands::args::{BackendArg, load_config};
use crate::error::Result;
use crate::train::bench::{self, BenchPlan, BenchRow};

#[derive(Args)]
pub struct BenchArgs {
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
}

pub fn run(args: BenchArgs) -> Result<ExitCode> {
    let plan = BenchPlan {
        batch_sizes: args.batch_sizes,
        seconds: args.seconds,
        rounds: args.rounds,
    };
    plan.check()?;
    let config = load_config(&args.config, &args.set, args.data_dir, None)?;
    let backend = args.backend.select()?;
    if !args.json {
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        let devices = match config.training.devices {
            1 => String::new(),
            n => format!(" (learner: each batch split across {n} devices)"),
        };
        println!(
            "digits bench: {} on {backend}{devices}, {cores} CPU threads, {} s per figure, \
             best of {} rounds\n{TABLE_HEADER}",
            args.config.display(),
            plan.seconds,
            plan.rounds,
        );
    }
    bench::bench(&config, backend, &plan, |row| {
        if args.json {
            println!("{}", serde_json::to_string(row).expect("rows serialise"));
        } else {
            println!("{}", render_row(row));
        }
    })?;
    if !args.json {
        println!("{TABLE_FOOTER}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The table `bench` prints.
pub fn render_row(row: &BenchRow) -> String {
    format!(
        "{:<8} {:>6} {:>14.0} {:>16.0} {:>8.0} % {:>13.0} {:>21} {:>9}",
        row.backend,
        row.batch_size,
        row.raw_train_sps,
        row.learner_train_sps,
        100.0 * row.learner_train_sps / row.raw_train_sps,
        row.infer_sps,
        row.backprop_train_sps.map_or("-".into(), |sps| format!(
            "{sps:.0} ({:.2}×)",
            sps / row.raw_train_sps
        )),
        row.peak_rss_mb.map_or("-".into(), |m| format!("{m:.0} MB"))
    )
}

/// What the ratio column means, under the table.
const TABLE_FOOTER: &str = "learner/raw: the full training path's speed as a share of the bare \
loop's; the two run the same steps, so what differs is the Learner's own cost, and a figure \
over 100 % means that cost is below the machine's drift between rounds (±15 %; more --rounds \
and --seconds narrow it).";

pub const TABLE_HEADER: &str = "backend   batch  raw train im/s  learner train im/s  learner/raw  inference im/s  written-out backprop  peak RSS";
