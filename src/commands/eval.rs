//! `digits eval RUN_DIR`: the trained network against the test split, in a fresh process.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::commands::args::{BackendArg, note_unfinished};
use crate::error::Result;
use crate::inspect::evaluation::{self, EvalReport};
use crate::run::folder::{CONFUSION_FILE, EVAL_FILE};

#[derive(Args)]
pub struct EvalArgs {
    /// A run folder written by `digits train`, e.g. artifacts/mlp/run-1.
    run_dir: PathBuf,
    /// Read the test IDX files from this folder instead of the run's data.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Also measure the accuracy on the test images shifted by 1-4 pixels and turned by ±15°.
    #[arg(long)]
    moved: bool,
    #[command(flatten)]
    backend: BackendArg,
}

pub fn run(args: EvalArgs) -> Result<ExitCode> {
    note_unfinished(&args.run_dir);
    let report = evaluation::eval(
        &args.run_dir,
        args.data_dir.as_deref(),
        args.backend.select()?,
        args.moved,
    )?;
    print!("{}", render(&report));
    println!(
        "\nwrote {} and {}",
        args.run_dir.join(EVAL_FILE).display(),
        args.run_dir.join(CONFUSION_FILE).display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The report as printed.
pub fn render(report: &EvalReport) -> String {
    let pct = |v: f64| format!("{:5.1} %", v * 100.0);
    let mut out = format!(
        "{} on {}: {} test images from {}\n\
         accuracy {:.2} %   loss {:.4}   macro precision {:.2} %   macro recall {:.2} %\n\n",
        report.run,
        report.backend,
        report.images,
        report.data,
        report.accuracy * 100.0,
        report.loss,
        report.macro_precision * 100.0,
        report.macro_recall * 100.0
    );
    out.push_str("digit  precision   recall       f1  support\n");
    for class in &report.per_class {
        out.push_str(&format!(
            "{:>5}  {:>9}  {:>7}  {:>7}  {:>7}\n",
            class.digit,
            pct(class.precision),
            pct(class.recall),
            pct(class.f1),
            class.support
        ));
    }
    out.push_str("\nconfusion matrix (rows: true digit, columns: predicted)\n      ");
    for digit in 0..report.confusion.len() {
        out.push_str(&format!("{digit:>5}"));
    }
    out.push('\n');
    for (truth, row) in report.confusion.iter().enumerate() {
        out.push_str(&format!("{truth:>5} "));
        for count in row {
            out.push_str(&format!("{count:>5}"));
        }
        out.push('\n');
    }
    if !report.moved.is_empty() {
        out.push_str("\nthe test images moved (each shift right, down, left or up in turn)\n");
        out.push_str(&format!(
            "{:<14} {:>8}\n",
            "as they are",
            pct(report.accuracy)
        ));
        for moved in &report.moved {
            out.push_str(&format!("{:<14} {:>8}\n", moved.moved, pct(moved.accuracy)));
        }
    }
    out
}
