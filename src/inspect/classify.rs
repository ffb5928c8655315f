//! What a trained network makes of images: of 28×28 inputs, of pictures of digits (prepared
//! the way MNIST was), of test images.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use image::{ImageFormat, ImageReader, Limits};

use crate::backend::Backend;
use crate::data::idx::{PIXELS, SIDE};
use crate::data::source as data;
use crate::error::{Error, Result};
use crate::inspect::preprocess;
use crate::inspect::trained_run::load_run;

pub use crate::inspect::reading::{FeatureMaps, Layers, Prediction, classify, look};

/// What to classify.
pub enum Inputs {
    Images(Vec<PathBuf>),
    /// 28×28 pictures already prepared, light ink on black (what the network sees; the page
    /// of `digits web` shows its input so): read as they are.
    Prepared(Vec<PathBuf>),
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
    /// Why the picture does not look like a handwritten digit, when it does not.
    pub doubt: Option<String>,
}

/// An input read: its name, its label if known, its pixels as the network gets them, and
/// any doubt that it is a digit.
type Named = (String, Option<u8>, [u8; PIXELS], Option<String>);

/// Classifies the pictures or test image `inputs` names with the network of `run_dir`;
/// pictures above `max_pixels` are refused before they are decoded. One result per input, in
/// order: a picture that cannot be read fails alone. The run and the test data must load.
pub fn predict(
    run_dir: &Path,
    inputs: &Inputs,
    backend: Backend,
    max_pixels: u64,
) -> Result<Vec<Result<Classified>>> {
    let device = backend.device()?;
    let loaded = load_run(run_dir, &device)?;
    let named: Vec<Result<Named>> = match inputs {
        Inputs::Images(paths) | Inputs::Prepared(paths) => paths
            .iter()
            .map(|path| {
                let prepared = matches!(inputs, Inputs::Prepared(_));
                let (pixels, doubt) = read_image(path, max_pixels, prepared)?;
                Ok((path.display().to_string(), None, pixels, doubt))
            })
            .collect(),
        Inputs::TestIndex { index, data_dir } => {
            let data_config = match data_dir {
                Some(dir) => loaded.config.data.clone().reading(dir),
                None => loaded.config.data.clone(),
            };
            let (test, _) = data::load_test(&data_config)?;
            let item = test.image(*index).ok_or_else(|| {
                Error::Usage(format!(
                    "--test-index {index} is out of range: the test split has {} images \
                         (0 to {})",
                    test.len(),
                    test.len().saturating_sub(1)
                ))
            })?;
            vec![Ok((
                format!("test image {index}"),
                Some(item.label),
                item.pixels,
                None,
            ))]
        }
    };
    let pixels: Vec<[u8; PIXELS]> = named.iter().flatten().map(|(_, _, p, _)| *p).collect();
    // No batch at all when every picture failed (a backend may not take an empty one).
    let predictions = match pixels.is_empty() {
        true => Vec::new(),
        false => classify(&loaded.model, &pixels, &device),
    };
    let mut predictions = predictions.into_iter();
    Ok(named
        .into_iter()
        .map(|item| {
            let (name, label, pixels, doubt) = item?;
            let prediction = predictions
                .next()
                .ok_or_else(|| Error::Internal("a prediction is missing".into()))?;
            Ok(Classified {
                name,
                label,
                pixels,
                prediction,
                doubt,
            })
        })
        .collect())
}

/// The largest picture `predict` reads unless told otherwise, in megapixels: a 12-megapixel
/// phone photo fits; a header claiming 20000×20000 does not get decoded.
pub const DEFAULT_MAX_MEGAPIXELS: f64 = 40.0;

/// Reads a PNG or JPEG (detected from its content, any size up to `max_pixels`, colour or
/// grey) and prepares it like MNIST (unless it is `prepared`: then it must be 28×28, and its
/// grey levels are the input). Its size is read from its header before anything is decoded.
/// With the pixels, why it may not be a digit at all.
fn read_image(
    path: &Path,
    max_pixels: u64,
    prepared: bool,
) -> Result<([u8; PIXELS], Option<String>)> {
    // The format from the content's first bytes, not from the name.
    let mut start = Vec::with_capacity(64);
    File::open(path)
        .and_then(|file| file.take(64).read_to_end(&mut start))
        .map_err(|e| Error::io("cannot read", path, e))?;
    let format = match image::guess_format(&start) {
        Ok(format @ (ImageFormat::Png | ImageFormat::Jpeg)) => format,
        Ok(other) => {
            return Err(Error::data(
                path,
                format!(
                    "cannot be read as an image here: its content is {} (whatever its name), \
                     and digits reads PNG and JPEG; convert it first",
                    other
                        .extensions_str()
                        .first()
                        .unwrap_or(&"another format")
                        .to_uppercase()
                ),
            ));
        }
        Err(_) => {
            return Err(Error::data(
                path,
                "cannot be read as an image: its content is neither PNG nor JPEG, whatever \
                 its name (digits reads PNG and JPEG)",
            ));
        }
    };
    let open = || -> Result<ImageReader<BufReader<File>>> {
        let mut reader = ImageReader::open(path).map_err(|e| Error::io("cannot read", path, e))?;
        reader.set_format(format);
        Ok(reader)
    };
    let reader = open()?;
    let unreadable = |e: image::ImageError| {
        Error::data(
            path,
            format!("cannot be read as an image (a damaged file?): {e}"),
        )
    };
    let (width, height) = reader.into_dimensions().map_err(unreadable)?;
    let pixels = u64::from(width) * u64::from(height);
    if pixels > max_pixels {
        return Err(Error::data(
            path,
            format!(
                "is {width}×{height} pixels ({:.1} megapixels), over the limit of {:.1} \
                 (predict --max-megapixels): shrink the picture, or raise the limit if you \
                 mean it",
                pixels as f64 / 1e6,
                max_pixels as f64 / 1e6
            ),
        ));
    }
    let mut reader = open()?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(width);
    limits.max_image_height = Some(height);
    // The decoded picture at most 8 bytes a pixel (16-bit RGBA), whatever the header said.
    limits.max_alloc = Some(pixels.saturating_mul(8).max(1 << 20));
    reader.limits(limits);
    let image = reader.decode().map_err(unreadable)?;
    if prepared {
        if (width, height) != (SIDE as u32, SIDE as u32) {
            return Err(Error::data(
                path,
                format!(
                    "is {width}×{height} pixels: --prepared takes 28×28 pictures, as the \
                     network sees them (leave --prepared out to prepare any picture)"
                ),
            ));
        }
        let mut pixels = [0u8; PIXELS];
        pixels.copy_from_slice(image.to_luma8().as_raw());
        return Ok((pixels, None));
    }
    let pixels = preprocess::mnist_like(&image).map_err(|e| Error::Data {
        path: path.to_path_buf(),
        message: format!("{e}: give a picture of one digit"),
    })?;
    Ok((pixels, preprocess::doubt(&image)))
}
