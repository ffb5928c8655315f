//! What a trained network makes of images: of 28×28 inputs, of pictures of digits (prepared
//! the way MNIST was), of test images.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::tensor::activation::{sigmoid, softmax};

use crate::backend::Backend;
use crate::config::Loss;
use crate::data::idx::{CLASSES, PIXELS};
use crate::data::source as data;
use crate::error::{Error, Result};
use crate::inspect::preprocess;
use crate::inspect::trained_run::load_run;
use crate::model::Mlp;

/// What the network makes of one image.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    pub digit: usize,
    /// Softmax of the logits for cross-entropy networks; for the quadratic loss, each output
    /// neuron's sigmoid (they need not sum to 1).
    pub scores: [f32; CLASSES],
}

/// Classifies 28×28 images (0 = background), one prediction each.
pub fn classify(model: &Mlp, images: &[[u8; PIXELS]], device: &Device) -> Vec<Prediction> {
    let pixels: Vec<f32> = images
        .iter()
        .flatten()
        .map(|&p| f32::from(p) / 255.0)
        .collect();
    let input = Tensor::<2>::from_data(TensorData::new(pixels, [images.len(), PIXELS]), device);
    let logits = model.valid().forward(input);
    let scores = match model.loss {
        Loss::CrossEntropy => softmax(logits, 1),
        Loss::Quadratic => sigmoid(logits),
    };
    let values: Vec<f32> = scores
        .into_data()
        .try_into_vec_as::<f32>()
        .expect("float scores convert to f32");
    values
        .chunks(CLASSES)
        .map(|row| {
            let scores: [f32; CLASSES] = row.try_into().expect("rows are CLASSES long");
            let digit = (0..CLASSES)
                .max_by(|&a, &b| scores[a].total_cmp(&scores[b]))
                .expect("CLASSES > 0");
            Prediction { digit, scores }
        })
        .collect()
}

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
    let loaded = load_run(run_dir, &device)?;
    let named: Vec<(String, Option<u8>, [u8; PIXELS])> = match inputs {
        Inputs::Images(paths) => paths
            .iter()
            .map(|path| Ok((path.display().to_string(), None, read_image(path)?)))
            .collect::<Result<_>>()?,
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
            vec![(format!("test image {index}"), Some(item.label), item.pixels)]
        }
    };
    let pixels: Vec<[u8; PIXELS]> = named.iter().map(|(_, _, p)| *p).collect();
    let predictions = classify(&loaded.model, &pixels, &device);
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
