//! `digits predict RUN_DIR IMAGE...` / `--test-index N`: what the network reads, and what it
//! was shown.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::commands::args::{BackendArg, note_unfinished};
use crate::data::idx::{CLASSES, PIXELS, SIDE};
use crate::error::{Error, Result, exit};
use crate::inspect::classify::{self, Classified, Inputs};

#[derive(Args)]
#[command(
    group(clap::ArgGroup::new("input").required(true).args(["images", "test_index"])),
    override_usage = "digits predict [OPTIONS] <RUN_DIR> <IMAGE>...\n       \
                      digits predict [OPTIONS] <RUN_DIR> --test-index <N>"
)]
pub struct PredictArgs {
    /// A run folder written by `digits train`, e.g. artifacts/mlp/run-1 (first).
    run_dir: PathBuf,
    /// Pictures of single digits (PNG or JPEG), after the run folder.
    #[arg(value_name = "IMAGE")]
    images: Vec<PathBuf>,
    /// Print only the answers, without the 28×28 picture of what the network saw.
    #[arg(long)]
    no_picture: bool,
    /// Classify image N of the run's test split instead.
    #[arg(long, value_name = "N", conflicts_with = "images")]
    test_index: Option<usize>,
    /// With --test-index: read the test IDX files from this folder.
    #[arg(long, value_name = "DIR", requires = "test_index")]
    data_dir: Option<PathBuf>,
    /// The pictures are 28×28 and already prepared (light ink on black, as the network sees
    /// them, e.g. the input `digits web`'s page shows): read as they are.
    #[arg(long, conflicts_with = "test_index")]
    prepared: bool,
    /// One JSON object per input (name, digit, label, every probability unrounded) instead
    /// of the bars.
    #[arg(long)]
    json: bool,
    /// Refuse pictures larger than this, before decoding them.
    #[arg(long, value_name = "MP", default_value_t = classify::DEFAULT_MAX_MEGAPIXELS)]
    max_megapixels: f64,
    #[command(flatten)]
    backend: BackendArg,
}

pub fn run(args: PredictArgs) -> Result<ExitCode> {
    let inputs = match args.test_index {
        Some(index) => Inputs::TestIndex {
            index,
            data_dir: args.data_dir,
        },
        None if args.prepared => Inputs::Prepared(args.images.clone()),
        None => Inputs::Images(args.images.clone()),
    };
    if !(args.max_megapixels.is_finite() && args.max_megapixels > 0.0) {
        return Err(Error::Usage(format!(
            "--max-megapixels {}: give a size above 0",
            args.max_megapixels
        )));
    }
    let max_pixels = (args.max_megapixels * 1e6) as u64;
    if args.run_dir.is_file()
        && let Some(run) = args.images.iter().find(|p| p.is_dir())
    {
        return Err(Error::Usage(format!(
            "{} is a file, and the run folder comes first: write `digits predict {} {}`",
            args.run_dir.display(),
            run.display(),
            args.run_dir.display()
        )));
    }
    let backend = args.backend.select()?;
    note_unfinished(&args.run_dir);
    let mut failed = 0;
    for item in classify::predict(&args.run_dir, &inputs, backend, max_pixels)? {
        match item {
            Ok(item) if args.json => println!("{}", json_line(&item)),
            Ok(item) => println!("{}", render(&item, !args.no_picture)),
            Err(error) => {
                failed += 1;
                eprintln!("error: {error}\n");
            }
        }
    }
    if failed > 0 {
        eprintln!(
            "{failed} of {} pictures could not be read (see above)",
            args.images.len()
        );
        return Ok(ExitCode::from(exit::USER));
    }
    Ok(ExitCode::SUCCESS)
}

/// `--json`'s line for one input.
fn json_line(item: &Classified) -> String {
    serde_json::json!({
        "name": item.name,
        "digit": item.prediction.digit,
        "label": item.label,
        "probabilities": item.prediction.scores,
        "doubt": item.doubt,
    })
    .to_string()
}

/// The printed result: the digit, a bar per class, and the input as terminal art.
pub fn render(item: &Classified, picture: bool) -> String {
    let p = &item.prediction;
    let mut out = format!("{} → {}", item.name, p.digit);
    match item.label {
        Some(label) if label as usize == p.digit => {
            out.push_str(&format!(" (label {label}: right)"))
        }
        Some(label) => out.push_str(&format!(" (label {label}: wrong)")),
        None => {}
    }
    out.push('\n');
    if let Some(doubt) = &item.doubt {
        out.push_str(&format!(
            "note: this picture {doubt} The network names a digit for any picture, so \
             this answer means little.\n"
        ));
    }
    for digit in 0..CLASSES {
        let score = p.scores[digit].clamp(0.0, 1.0);
        let bar = "█".repeat((score * 40.0).round() as usize);
        let marker = if digit == p.digit { "◀" } else { "" };
        let line = format!("  {digit} {:>6.2} % {bar}{marker}", score * 100.0);
        out.push_str(line.trim_end());
        out.push('\n');
    }
    if picture {
        out.push_str("what the network saw (28×28, after preprocessing):\n");
        out.push_str(&ascii_art(&item.pixels));
    }
    out
}

/// Two characters per pixel so the digit keeps its shape in a terminal.
pub fn ascii_art(pixels: &[u8; PIXELS]) -> String {
    const RAMP: &[u8] = b" .:-=+*#%@";
    let mut out = String::with_capacity(PIXELS * 2 + SIDE * 3);
    for row in pixels.chunks(SIDE) {
        out.push_str("  ");
        for &p in row {
            let c = RAMP[p as usize * (RAMP.len() - 1) / 255] as char;
            out.push(c);
            out.push(c);
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn art_maps_black_to_space_and_white_to_at() {
        let mut pixels = [0u8; PIXELS];
        pixels[1] = 255;
        let art = ascii_art(&pixels);
        let first = art.lines().next().unwrap();
        assert_eq!(&first[..6], "    @@");
        assert_eq!(art.lines().count(), SIDE);
    }
}
