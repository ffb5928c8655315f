//! `digits export RUN_DIR --format safetensors|onnx`: the trained network for other tools.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use crate::commands::args::{BackendArg, note_unfinished};
use crate::error::{Error, Result};
use crate::inspect::trained_run::load_run;
use crate::interop::{onnx, pytorch};
use crate::run::folder::{self as run};

#[derive(Args)]
pub struct ExportArgs {
    /// A run folder written by `digits train` or `digits import`.
    run_dir: PathBuf,
    /// safetensors: PyTorch's state_dict layout (interop/torch_model.py loads it);
    /// onnx: the forward pass as an ONNX graph (opset 18), logits and probabilities out.
    #[arg(long, value_enum)]
    format: ExportFormat,
    /// Where to write; default: model.safetensors or model.onnx in the run folder.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Replace FILE if it exists.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    backend: BackendArg,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ExportFormat {
    Safetensors,
    Onnx,
}

pub fn run(args: ExportArgs) -> Result<ExitCode> {
    note_unfinished(&args.run_dir);
    let device = args.backend.select()?.device()?;
    let loaded = load_run(&args.run_dir, &device)?;
    let out = args.out.clone().unwrap_or_else(|| {
        args.run_dir.join(match args.format {
            ExportFormat::Safetensors => "model.safetensors",
            ExportFormat::Onnx => "model.onnx",
        })
    });
    refuse_to_overwrite(&out, args.force)?;
    let model = &loaded.model;
    let config = std::fs::read_to_string(args.run_dir.join(run::CONFIG_FILE))
        .map_err(|e| Error::io("cannot read", &args.run_dir.join(run::CONFIG_FILE), e))?;
    let (bytes, what) = match args.format {
        ExportFormat::Safetensors => {
            let metadata = [
                ("digits_version", env!("CARGO_PKG_VERSION").to_string()),
                ("digits_config", config),
            ];
            let keys = pytorch::state_keys(model).len();
            (
                pytorch::safetensors_bytes(model, &metadata)?,
                format!("{keys} tensors in PyTorch's layout"),
            )
        }
        ExportFormat::Onnx => (
            onnx::onnx_bytes(model, &config)?,
            format!(
                "ONNX opset {}: images [batch, 784] in, logits and probabilities [batch, 10] out",
                onnx::OPSET
            ),
        ),
    };
    run::write_atomic(&out, &bytes)?;
    println!("wrote {} ({what}, {} bytes)", out.display(), bytes.len());
    Ok(ExitCode::SUCCESS)
}

/// An export never replaces a file silently.
fn refuse_to_overwrite(out: &Path, force: bool) -> Result<()> {
    if out.exists() && !force {
        return Err(Error::Usage(format!(
            "{} already exists; nothing was written. Choose another --out, or add --force to \
             replace it",
            out.display()
        )));
    }
    Ok(())
}
