//! `digits predict RUN_DIR IMAGE...` / `--test-index N`: what the network reads, and what it
//! was shown.

use std::path::{Path, PathBuf};

use crate::backend::Backend;
use crate::data;
use crate::data::idx::{CLASSES, PIXELS, SIDE};
use crate::error::{Error, Result};
use crate::inspect::inference::{self, Prediction};
use crate::inspect::preprocess;

/// What to classify.
pub enum Inputs {
    Images(Vec<PathBuf>),
    TestIndex {
        index: usize,
        data_dir: Option<PathBuf>,
    },
}

/// One classified input, with the 28×28 pixels the network saw.
pub struct Classified {
    pub name: String,
    /// The true label, for test images.
    pub label: Option<u8>,
    pub pixels: [u8; PIXELS],
    pub prediction: Prediction,
}

pub fn predict(run_dir: &Path, inputs: &Inputs, backend: Backend) -> Result<Vec<Classified>> {
    let device = backend.device()?;
    let loaded = inference::load_run(run_dir, &device)?;
    let named: Vec<(String, Option<u8>, [u8; PIXELS])> = match inputs {
        Inputs::Images(paths) => paths
            .iter()
            .map(|path| Ok((path.display().to_string(), None, read_image(path)?)))
            .collect::<Result<_>>()?,
        Inputs::TestIndex { index, data_dir } => {
            let mut data_config = loaded.config.data.clone();
            if let Some(dir) = data_dir {
                data_config.dir = Some(dir.clone());
                data_config.source = crate::config::DataSource::Auto;
            }
            let (test, _) = data::load_test(&data_config)?;
            let item = test.image(*index).ok_or_else(|| {
                Error::Usage(format!(
                    "--test-index {index} is out of range: the test split has {} images \
                         (0 to {})",
                    test.len(),
                    test.len().saturating_sub(1)
                ))
            })?;
            vec![(format!("test image {index}"), Some(item.label), item.pixels)]
        }
    };
    let pixels: Vec<[u8; PIXELS]> = named.iter().map(|(_, _, p)| *p).collect();
    let predictions = inference::classify(&loaded.model, &pixels, &device);
    Ok(named
        .into_iter()
        .zip(predictions)
        .map(|((name, label, pixels), prediction)| Classified {
            name,
            label,
            pixels,
            prediction,
        })
        .collect())
}

/// Reads a PNG/JPEG (any size, colour or grey) and prepares it like MNIST.
fn read_image(path: &Path) -> Result<[u8; PIXELS]> {
    let image = image::open(path).map_err(|e| Error::Data {
        path: path.to_path_buf(),
        message: format!("cannot be read as an image (PNG or JPEG expected): {e}"),
    })?;
    preprocess::mnist_like(&image).map_err(|e| Error::Data {
        path: path.to_path_buf(),
        message: format!("{e}: give a picture of one digit"),
    })
}

/// The printed result: the digit, a bar per class, and the input as terminal art.
pub fn render(item: &Classified) -> String {
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
    for digit in 0..CLASSES {
        let score = p.scores[digit].clamp(0.0, 1.0);
        let bar = "█".repeat((score * 40.0).round() as usize);
        let marker = if digit == p.digit { "◀" } else { "" };
        let line = format!("  {digit} {:>6.2} % {bar}{marker}", score * 100.0);
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push_str("what the network saw (28×28, after preprocessing):\n");
    out.push_str(&ascii_art(&item.pixels));
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
