//! The command line: one file per command, each holding its clap arguments and its `run`,
//! thin over the layers below (`train`, `inspect`, `run`, ...). `main.rs` only parses and
//! dispatches through [`Command`].

use std::process::ExitCode;

use clap::Subcommand;

use crate::error::Result;

pub mod args;
pub mod bench;
pub mod collect;
pub mod compare;
pub mod draw;
pub mod eval;
pub mod explain;
pub mod export;
pub mod gradcheck;
pub mod import;
pub mod lr_find;
pub mod plot;
pub mod predict;
pub mod serve_device;
pub mod summary;
pub mod sweep;
pub mod train;
pub mod web;

#[derive(Subcommand)]
pub enum Command {
    /// Train the network a config describes; outputs go to a new run folder.
    Train(train::TrainArgs),
    /// Show the network a config describes: layers, weights, biases, parameter totals.
    Summary(summary::SummaryArgs),
    /// Evaluate a trained run on the test split: accuracy, per-digit report, confusion matrix.
    Eval(eval::EvalArgs),
    /// Classify pictures of digits (PNG/JPEG, any size) or a test image with a trained run.
    Predict(predict::PredictArgs),
    /// Train several configs on the same data and seed; compare results and gradient
    /// profiles in compare.md and compare.png.
    Compare(compare::CompareArgs),
    /// Train one config under every combination of the varied keys; compare them.
    Sweep(sweep::SweepArgs),
    /// Tabulate the runs of a series that have finished (after `sweep --plan`, or a stop).
    Collect(collect::CollectArgs),
    /// Check one batch's gradients: autodiff, the written-out backpropagation and finite
    /// differences, layer by layer (exit 4 when they disagree).
    Gradcheck(gradcheck::GradcheckArgs),
    /// The learning-rate range test: train while the rate grows exponentially, plot the
    /// loss against it, suggest a rate.
    LrFind(lr_find::LrFindArgs),
    /// What a trained network has learned: the input each digit wants, its answers to noise,
    /// the test images it gets wrong (pictures and explain.json in the run folder).
    Explain(explain::ExplainArgs),
    /// Write a trained run's network for other tools: safetensors (PyTorch's layout) or ONNX.
    Export(export::ExportArgs),
    /// Make a run folder from PyTorch weights (.pt or safetensors) and a config.
    Import(import::ImportArgs),
    /// Measure training and inference throughput: bare step loop, the real training path,
    /// inference; one row per batch size.
    Bench(bench::BenchArgs),
    /// Redraw a run's weights.png and curves.png.
    Plot(plot::PlotArgs),
    /// Draw a digit in the terminal and watch the trained network read it, layer by layer.
    Draw(draw::DrawArgs),
    /// The run as a web page: draw a digit and watch the network read it, in the browser
    /// (digits' network compiled to WebAssembly); --serve serves it on 127.0.0.1.
    Web(web::WebArgs),
    /// Serve this machine's device to `digits train --remote` on other machines (cargo
    /// feature `remote`).
    ServeDevice(serve_device::ServeDeviceArgs),
}

impl Command {
    /// Whether the command serves until stopped (`serve-device`, `web --serve`): its work is
    /// its clients', so a reader of its output that goes away must not stop it (Burn's remote
    /// server also logs to stdout, from its own threads).
    pub fn serves(&self) -> bool {
        match self {
            Command::ServeDevice(_) => true,
            Command::Web(args) => args.serves(),
            _ => false,
        }
    }

    /// Runs the command; its exit code when it finishes, or the error that stopped it.
    pub fn run(self) -> Result<ExitCode> {
        match self {
            Command::Train(args) => train::run(args),
            Command::Summary(args) => summary::run(args),
            Command::Eval(args) => eval::run(args),
            Command::Predict(args) => predict::run(args),
            Command::Compare(args) => compare::run(args),
            Command::Sweep(args) => sweep::run(args),
            Command::Collect(args) => collect::run(args),
            Command::LrFind(args) => lr_find::run(args),
            Command::Explain(args) => explain::run(args),
            Command::Export(args) => export::run(args),
            Command::Gradcheck(args) => gradcheck::run(args),
            Command::Import(args) => import::run(args),
            Command::Bench(args) => bench::run(args),
            Command::Plot(args) => plot::run(args),
            Command::Draw(args) => draw::run(args),
            Command::ServeDevice(args) => serve_device::run(args),
            Command::Web(args) => web::run(args),
        }
    }
}
