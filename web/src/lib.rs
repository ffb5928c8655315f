//! digits' network in a web page: the WebAssembly module the page `digits web` writes loads.
//! It is the crate's own code — `model::Network`, `inspect::preprocess` (the picture made
//! MNIST-like, as `predict` and `draw` do) and `inspect::reading` — on Burn's ndarray backend;
//! the page only draws. The training page's [`Trainer`] trains that network in a Web Worker.

use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device};
use digits::data::idx::PIXELS;
use digits::inspect::preprocess::mnist_like;
use digits::inspect::reading::{Layers, look};
use digits::model::inference::Classifier;
use digits::model::{Architecture, Network};
use serde::Serialize;
use wasm_bindgen::prelude::*;

mod progress;
mod run_folder;
mod sample;
mod scoring;
mod trainer;
pub use sample::SampleFiles;
pub use trainer::{Trainer, resolved_config};

/// A trained network, ready to read drawings.
#[wasm_bindgen]
pub struct Reader {
    model: Network,
    device: Device,
}

/// What the network makes of one 28×28 input, for the page.
#[derive(Serialize)]
struct Reading {
    digit: usize,
    /// Softmax of the logits (cross-entropy), or each output's sigmoid (quadratic loss).
    probabilities: Vec<f32>,
    /// Each convolution layer's feature maps (a CNN's) and each hidden layer's outputs.
    #[serde(flatten)]
    layers: Layers,
}

/// The first layer's weights as pictures: `count` tiles of `side`×`side`.
#[derive(Serialize)]
struct FirstLayer {
    kind: &'static str,
    count: usize,
    side: usize,
    values: Vec<f32>,
}

#[wasm_bindgen]
impl Reader {
    /// `architecture`: the site's `network.json`; `weights`: its `model.bpk` (Burn's
    /// burnpack record of the run).
    #[wasm_bindgen(constructor)]
    pub fn new(architecture: &str, weights: &[u8]) -> Result<Reader, JsError> {
        let architecture: Architecture = serde_json::from_str(architecture)
            .map_err(|e| JsError::new(&format!("network.json: {e}")))?;
        #[allow(deprecated)] // ndarray: deprecated upstream for flex, which needs threads here
        let device = Device::ndarray();
        let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(weights.to_vec()))
            .map_err(|e| JsError::new(&format!("model.bpk is not a Burn model file: {e}")))?;
        let model = Network::new(&architecture.model, architecture.loss, &device)
            .try_load_record(record)
            .map_err(|e| JsError::new(&format!("model.bpk does not fit network.json: {e}")))?;
        Ok(Reader { model, device })
    }

    /// The 28×28 input (0..255, row by row) for an RGBA picture of `width`×`height`, made
    /// MNIST-like as `digits predict` makes a picture; empty when it has no ink.
    pub fn prepare(&self, rgba: &[u8], width: u32, height: u32) -> Vec<u8> {
        prepare(rgba, width, height)
    }

    /// What the network makes of a 28×28 input (as `prepare` returns it), as JSON.
    pub fn read(&self, input: &[u8]) -> Result<String, JsError> {
        read(&self.model, input, &self.device)
    }

    /// The first layer's weights as JSON: each first hidden neuron's 784 weights (a dense
    /// network), or each first convolution filter (a CNN).
    pub fn first_layer(&self) -> String {
        first_layer(&self.model)
    }
}

/// [`Reader::prepare`], for the training page's worker (it has no reader).
#[wasm_bindgen]
pub fn prepare(rgba: &[u8], width: u32, height: u32) -> Vec<u8> {
    let Some(picture) = image::RgbaImage::from_raw(width, height, rgba.to_vec()) else {
        return Vec::new();
    };
    mnist_like(&image::DynamicImage::ImageRgba8(picture)).map_or(Vec::new(), |p| p.to_vec())
}

/// [`Reader::read`] of `model`.
fn read(model: &Network, input: &[u8], device: &Device) -> Result<String, JsError> {
    let image: [u8; PIXELS] = input.try_into().map_err(|_| {
        JsError::new(&format!(
            "an input has {PIXELS} pixels, not {}",
            input.len()
        ))
    })?;
    let (layers, prediction) = look(&Classifier::new(model, device), &image);
    let reading = Reading {
        digit: prediction.digit,
        probabilities: prediction.scores.to_vec(),
        layers,
    };
    serde_json::to_string(&reading).map_err(|e| JsError::new(&e.to_string()))
}

/// [`Reader::first_layer`] of `model`.
fn first_layer(model: &Network) -> String {
    let layer = match model.conv.first() {
        Some(conv) => {
            let [count, _, side, _] = conv.conv.weight.dims();
            FirstLayer {
                kind: "conv",
                count,
                side,
                values: floats(conv.conv.weight.val().into_data()),
            }
        }
        None => {
            let linear = model.linears().next().expect("a network has a Linear");
            let [_, count] = linear.weight.dims();
            // [784, neurons] row-major: neuron j's weights are column j.
            let weights = floats(linear.weight.val().into_data());
            let values = (0..count)
                .flat_map(|j| (0..PIXELS).map(move |i| (i, j)))
                .map(|(i, j)| weights[i * count + j])
                .collect();
            FirstLayer {
                kind: "dense",
                count,
                side: 28,
                values,
            }
        }
    };
    serde_json::to_string(&layer).unwrap_or_default()
}

fn floats(data: burn::tensor::TensorData) -> Vec<f32> {
    data.try_into_vec_as::<f32>().unwrap_or_default()
}
