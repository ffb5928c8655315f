//! `digits lr-find CONFIG`: the learning-rate range test (`train::lr_find`), its curve as a
//! picture and JSON in an output folder, the suggested rates printed.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;

use crate::commands::args::{BackendArg, load_config};
use crate::config::Optimizer;
use crate::data;
use crate::error::{Error, Result};
use crate::inspect::lr_find_plot::{LR_FIND_FILE, lr_find_png};
use crate::run::folder::{CONFIG_FILE, RunFolder};
use crate::train::learner::steps_per_epoch;
use crate::train::lr_find::{RangeEnd, RangeResult, RangeTest, range_test};

pub const LR_FIND_JSON: &str = "lr-find.json";
/// The fewest steps the test takes, whatever one pass holds: the seed network (sigmoid, SGD)
/// sits on a plateau for its first few hundred steps, and in one pass of the bundled sample
/// (282 steps) its loss had not yet moved for some seeds.
const MIN_STEPS: usize = 1000;

#[derive(Args)]
pub struct LrFindArgs {
    /// The config: its network, optimizer, loss, batch size, seed and augmentation are used;
    /// its learning rate and schedule are not.
    config: PathBuf,
    /// Override any config key (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Read the four MNIST-format IDX files from this folder (= data.dir).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// The first rate tried.
    #[arg(long, default_value_t = 1e-6)]
    start: f64,
    /// The last rate tried (the test stops earlier when the loss explodes).
    #[arg(long, default_value_t = 10.0)]
    end: f64,
    /// Training steps from --start to --end; default one pass over the training split, at
    /// least 1000.
    #[arg(long, value_name = "N")]
    steps: Option<usize>,
    /// Output folder; default artifacts/lr-find-<config>/run-N.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Write into --out even if it already holds files.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    backend: BackendArg,
}

/// `lr-find.json`: the config's name and the test.
#[derive(Serialize)]
struct Report<'a> {
    config: String,
    optimizer: Optimizer,
    #[serde(flatten)]
    result: &'a RangeResult,
}

pub fn run(args: LrFindArgs) -> Result<ExitCode> {
    let (start, end) = (args.start, args.end);
    if !(start.is_finite() && end.is_finite() && start > 0.0 && end > start) {
        return Err(Error::Usage(format!(
            "--start {start} and --end {end}: both must be numbers above 0, --end above \
             --start (e.g. --start 1e-6 --end 10)"
        )));
    }
    if args.steps.is_some_and(|n| n < 2) {
        return Err(Error::Usage(
            "--steps must be at least 2 (100 or more give a readable curve)".into(),
        ));
    }
    let config = load_config(&args.config, &args.set, args.data_dir.clone(), None)?;
    let device = args.backend.select()?.device()?;
    let splits = data::load(&config.data, config.training.seed)?;
    let one_pass = steps_per_epoch(splits.train.len(), config.training.batch_size);
    let test = RangeTest {
        start,
        end,
        steps: args.steps.unwrap_or(one_pass.max(MIN_STEPS)),
        smoothing: 0.98,
        explode_factor: 4.0,
    };
    let name = format!("lr-find-{}", RunFolder::name_of(&args.config));
    let folder = RunFolder::create(&name, args.out.as_deref(), args.force)?;
    println!(
        "lr-find {}: {} steps from {start:e} to {end:e} (batch {}, {})",
        args.config.display(),
        test.steps,
        config.training.batch_size,
        config.training.optimizer.name(),
    );
    let result = range_test(&config, &device, &splits.train, &test)?;
    folder.write(CONFIG_FILE, config.to_toml()?.as_bytes())?;
    folder.write_json(
        LR_FIND_JSON,
        &Report {
            config: args.config.display().to_string(),
            optimizer: config.training.optimizer,
            result: &result,
        },
    )?;
    let title = format!("learning-rate range test: {}", args.config.display());
    lr_find_png(&result, &title, &folder.path(LR_FIND_FILE))?;
    print!("{}", account(&result));
    println!(
        "wrote {} and {}",
        folder.path(LR_FIND_FILE).display(),
        folder.path(LR_FIND_JSON).display()
    );
    Ok(ExitCode::SUCCESS)
}

/// What the test found, in a few lines.
fn account(result: &RangeResult) -> String {
    let mut text = match result.ended {
        RangeEnd::Finished => "the loss did not explode within the range\n".to_string(),
        RangeEnd::Exploded {
            step,
            learning_rate,
        } => {
            format!("the loss exploded at step {step}, rate {learning_rate:.3e} (4× its lowest)\n")
        }
        RangeEnd::Diverged {
            step,
            learning_rate,
        } => format!("the loss became NaN or infinite at step {step}, rate {learning_rate:.3e}\n"),
    };
    match result.suggestion {
        Some(s) => text.push_str(&format!(
            "  steepest fall    {:.3e}\n  lowest loss at   {:.3e} (a tenth of it: {:.3e})\n\
             suggested learning rate: {:.3e} (the smaller of the two); try it with --set \
             training.learning_rate={:.3e}\n",
            s.steepest, s.minimum, s.minimum_tenth, s.suggested, s.suggested
        )),
        None => text.push_str(
            "no suggestion: too few steps before the end to read a slope from. Start lower \
             (--start) or take more steps (--steps)\n",
        ),
    }
    text
}
