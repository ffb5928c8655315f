//! What a network reads in 28×28 images: its prediction, and every layer's outputs. No files
//! and no command line: the web page's WebAssembly module is built from this too.

use burn::prelude::*;
use burn::tensor::activation::{sigmoid, softmax};

use crate::config::Loss;
use crate::data::idx::{CLASSES, PIXELS};
use crate::model::Network;
use crate::model::inference::Classifier;
use crate::model::input::scaled;

/// What the network makes of one image.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    pub digit: usize,
    /// Softmax of the logits for cross-entropy networks; for the quadratic loss, each output
    /// neuron's sigmoid (they need not sum to 1).
    pub scores: [f32; CLASSES],
}

/// Classifies 28×28 images (0 = background), one prediction each.
pub fn classify(model: &Network, images: &[[u8; PIXELS]], device: &Device) -> Vec<Prediction> {
    classify_with(&Classifier::new(model, device), model.loss, images)
}

/// As [`classify`], with a classifier made once for many calls (it reads the weights out and
/// packs them when it is made), for a network trained with `loss`.
pub fn classify_with(
    classifier: &Classifier,
    loss: Loss,
    images: &[[u8; PIXELS]],
) -> Vec<Prediction> {
    let images: Vec<&[u8]> = images.iter().map(|image| &image[..]).collect();
    predictions(loss, classifier.logits(&images))
}

/// One convolution layer's feature maps for one image: `channels` maps of `height`×`width`
/// outputs, channel after channel, row by row.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FeatureMaps {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub values: Vec<f32>,
}

impl FeatureMaps {
    /// Channel `c`'s map, row by row.
    pub fn map(&self, c: usize) -> &[f32] {
        let size = self.height * self.width;
        &self.values[c * size..(c + 1) * size]
    }
}

/// Every layer's outputs for one image, input side first (as the web page reads them).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Layers {
    /// Each convolution layer's feature maps (a CNN's; none for an MLP).
    pub maps: Vec<FeatureMaps>,
    /// Each hidden layer's outputs.
    pub hidden: Vec<Vec<f32>>,
}

/// What `classifier`'s network makes of one 28×28 image, layer by layer: every layer's outputs
/// and the prediction — the classifier's, so exactly [`classify`]'s (`predict`'s), not the
/// layer-by-layer pass's, whose sums may end in another last bit.
pub fn look(classifier: &Classifier, image: &[u8; PIXELS]) -> (Layers, Prediction) {
    let model = classifier.network();
    let inside = model.forward_inside(input_tensor(image, classifier.device()));
    let maps = inside
        .maps
        .into_iter()
        .map(|map| {
            let [_, channels, height, width] = map.dims();
            FeatureMaps {
                channels,
                height,
                width,
                values: values(map.reshape([1, channels * height * width])),
            }
        })
        .collect();
    let hidden = inside.hidden.into_iter().map(values).collect();
    // Where the classifier runs Burn's layers its logits are this pass's: no second pass.
    let mut prediction = match classifier.runs_per_block() {
        true => classify_with(classifier, model.loss, std::slice::from_ref(image)),
        false => predictions(model.loss, inside.logits),
    };
    let prediction = prediction.pop().expect("one image, one prediction");
    (Layers { maps, hidden }, prediction)
}

/// An image as the network's `[1, 784]` input in 0..1.
fn input_tensor(image: &[u8; PIXELS], device: &Device) -> Tensor<2> {
    Tensor::<2>::from_data(TensorData::new(scaled(&[image]), [1, PIXELS]), device)
}

fn values(tensor: Tensor<2>) -> Vec<f32> {
    tensor
        .into_data()
        .try_into_vec_as::<f32>()
        .expect("float outputs convert to f32")
}

/// The scores of each row of logits: softmax for cross-entropy networks, each output's
/// sigmoid for the quadratic loss.
fn predictions(loss: Loss, logits: Tensor<2>) -> Vec<Prediction> {
    let scores = match loss {
        Loss::CrossEntropy => softmax(logits, 1),
        Loss::Quadratic => sigmoid(logits),
    };
    values(scores)
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
