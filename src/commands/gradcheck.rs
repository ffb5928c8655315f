//! `digits gradcheck CONFIG|RUN_DIR`: one batch's gradients by autodiff, by the written-out
//! backpropagation and by finite differences, compared layer by layer. Exits 4 when a pair
//! disagrees beyond the tolerance, so it can gate a change.

use std::path::PathBuf;
use std::process::ExitCode;

use burn::data::dataloader::DataLoader;
use clap::Args;

use crate::commands::args::{BackendArg, load_config};
use crate::config::Norm;
use crate::data::{self, EpochLoader};
use crate::error::{Error, Result, exit};
use crate::inspect::gradcheck::{CheckPlan, GradCheck, gradcheck};
use crate::inspect::trained_run::load_trainable;
use crate::model::Network;

#[derive(Args)]
pub struct GradcheckArgs {
    /// A config (its network freshly initialised from training.seed) or a run folder (its
    /// trained network).
    target: PathBuf,
    /// Override any config key (repeatable; a config only).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Images in the batch (the first of the training split).
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Parameters per tensor checked by finite differences, evenly spread; 0 = all.
    #[arg(long, default_value_t = 32)]
    samples: usize,
    /// Finite-difference step (central differences in f64): small enough for ReLU's kink
    /// rarely to fall inside it, large enough that f64 rounding stays below 1e-3 of the
    /// vanishing first-layer gradients of deep-sigmoid. Default 1e-4; 1e-6 for a CNN, whose
    /// every feature-map pixel is a ReLU kink a bias nudge can cross (1e-4 and 1e-5 crossed
    /// some in config/cnn.toml's first batch).
    #[arg(long)]
    step: Option<f64>,
    /// Largest error allowed, relative to the layer's largest gradient.
    #[arg(long, default_value_t = 1e-3)]
    tolerance: f64,
    /// The report as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    backend: BackendArg,
}

pub fn run(args: GradcheckArgs) -> Result<ExitCode> {
    let positive = |v: f64| v.is_finite() && v > 0.0;
    if args.batch == 0 || !args.step.is_none_or(positive) || !positive(args.tolerance) {
        return Err(Error::Usage(
            "--batch, --step and --tolerance must be numbers above 0".into(),
        ));
    }
    let device = args.backend.select()?.device()?.autodiff();
    if args.target.is_dir() && !args.set.is_empty() {
        return Err(Error::Usage(format!(
            "--set changes a config; {} is a run folder, checked as it was trained",
            args.target.display()
        )));
    }
    let (config, model) = if args.target.is_dir() {
        let loaded = load_trainable(&args.target, &device)?;
        (loaded.config, loaded.model)
    } else {
        let config = load_config(&args.target, &args.set, None, None)?;
        device.seed(config.training.seed);
        let model = Network::new(&config.model, config.training.loss, &device);
        (config, model)
    };
    if !model.conv.is_empty() && config.model.norm != Norm::None {
        let norm = format!("{:?}", config.model.norm).to_lowercase();
        return Err(Error::Usage(format!(
            "{} is a CNN with normalisation (model.norm = \"{norm}\"): gradcheck's f64 \
             forward pass covers a CNN's convolutions, activations and pooling, not yet \
             normalisation over channels. Check it with model.norm = \"none\", or a dense \
             network with this normalisation",
            args.target.display(),
        )));
    }
    let splits = data::load(&config.data, config.training.seed)?;
    let loader = EpochLoader::new(splits.train, args.batch, None, false, 1, device);
    let batch = loader
        .iter()
        .next()
        .ok_or_else(|| Error::Usage("the training split is empty".into()))?
        .map_err(|e| Error::Internal(format!("reading the batch: {e}")))?;
    let plan = CheckPlan {
        samples: args.samples,
        step: args.step.unwrap_or(match model.conv.is_empty() {
            true => 1e-4,
            false => 1e-6,
        }),
        tolerance: args.tolerance,
    };
    let check = gradcheck(&model, &config, batch, plan);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&check).expect("plain data")
        );
    } else {
        print!("{}", render(&check, &args.target.display().to_string()));
    }
    Ok(match check.passed() {
        true => ExitCode::SUCCESS,
        false => ExitCode::from(exit::GRADCHECK_FAILED),
    })
}

/// The report as printed: a row per parameter tensor.
pub fn render(check: &GradCheck, target: &str) -> String {
    let error = |e: Option<f64>| e.map_or("-".to_string(), |e| format!("{e:.1e}"));
    let mut out = format!(
        "{target}: {} images, loss {:.4}; errors are the largest difference relative to the \
         tensor's largest gradient\n\n{:<16} {:>10} {:>8} {:>10}  {:>14} {:>14} {:>14}\n",
        check.images,
        check.loss,
        "tensor",
        "params",
        "checked",
        "|grad|",
        "autodiff/ours",
        "autodiff/diff",
        "ours/diff"
    );
    for t in &check.tensors {
        out.push_str(&format!(
            "{:<16} {:>10} {:>8} {:>10.3e}  {:>14} {:>14} {:>14}\n",
            t.name,
            t.parameters,
            t.sampled,
            t.norm,
            error(t.autodiff_vs_backprop),
            error(Some(t.autodiff_vs_differences)),
            error(t.backprop_vs_differences)
        ));
    }
    if check.dropout_off {
        out.push_str("\n(dropout is off for the check: its masks are random)\n");
    }
    if let Some(why) = &check.backprop_skipped {
        out.push_str(&format!(
            "\n(no written-out backpropagation for this network: {why}; autodiff against \
             finite differences only)\n"
        ));
    }
    let worst = check.tensors.iter().map(|t| t.worst()).fold(0.0, f64::max);
    out.push_str(&match check.passed() {
        true => format!(
            "\npassed: every error ≤ {:.0e} (worst {worst:.1e})\n",
            check.tolerance
        ),
        false => format!(
            "\nFAILED: an error above {:.0e} (worst {worst:.1e}); exit code {}\n",
            check.tolerance,
            exit::GRADCHECK_FAILED
        ),
    });
    out
}
