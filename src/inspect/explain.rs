//! What a trained network has learned, the way 3Blue1Brown's videos show it: the input each
//! digit's output wants most, what it makes of noise, and the test images it gets wrong.

use burn::module::Module;
use burn::prelude::*;
use burn::tensor::activation::{log_sigmoid, log_softmax};
use serde::Serialize;

use crate::config::Loss;
use crate::data::digit_set::{DigitImage, DigitSet};
use crate::data::idx::{CLASSES, PIXELS};
use crate::inspect::classify::{Prediction, classify};
use crate::inspect::reading::classify_with;
use crate::model::Network;
use crate::model::inference::Classifier;

/// Gradient ascent on the input: `steps` steps of `rate`, an L2 `penalty` on the pixels.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Ascent {
    pub steps: usize,
    pub rate: f64,
    pub penalty: f64,
}

/// The input that most excites one output.
#[derive(Debug, Clone, Serialize)]
pub struct Wanted {
    pub digit: usize,
    /// The network's probability for `digit` on the found image, and on the grey one it
    /// started from.
    pub probability: f32,
    pub grey_probability: f32,
    #[serde(skip)]
    pub pixels: Vec<f32>,
}

/// For each digit, the image in 0..1 that maximises its output's score less `penalty` ×
/// Σ pixel², found by gradient ascent from a grey image (every pixel 0.5), each step clamped to
/// 0..1. The score is the log of the network's probability for the digit (log-softmax for
/// cross-entropy networks, the output's log-sigmoid for the quadratic loss): raising a logit
/// alone can raise the others more. Burn's autodiff differentiates the score with respect to
/// the image; the network is frozen (inference-mode normalisation, no dropout, no weight
/// gradients).
pub fn wanted_inputs(model: &Network, device: &Device, ascent: Ascent) -> Vec<Wanted> {
    let autodiff = device.clone().autodiff();
    let frozen = model.clone().fork(&autodiff).freeze();
    let grey = Tensor::<2>::full([CLASSES, PIXELS], 0.5, &autodiff);
    // Row d of the batch is digit d's image; its score is logit d.
    let mask = Tensor::<2>::eye(CLASSES, &autodiff);
    let mut images = grey.clone();
    for _ in 0..ascent.steps {
        let x = images.detach().require_grad();
        let scores = (log_scores(model.loss, frozen.forward(x.clone())) * mask.clone()).sum_dim(1);
        let penalty = x
            .clone()
            .powi_scalar(2)
            .sum_dim(1)
            .mul_scalar(ascent.penalty);
        let grads = (scores - penalty).sum().backward();
        let slope = x.grad(&grads).expect("the images take part in the score");
        let stepped = x.inner() + slope.mul_scalar(ascent.rate);
        images = Tensor::from_inner(stepped.clamp(0.0, 1.0));
    }
    let probability = |x: Tensor<2>| -> Vec<f32> {
        let p = log_scores(model.loss, model.valid().forward(x.inner())).exp();
        (p * mask.clone().inner())
            .sum_dim(1)
            .into_data()
            .try_into_vec_as::<f32>()
            .expect("f32")
    };
    let (found, start) = (probability(images.clone()), probability(grey));
    let pixels = images
        .inner()
        .into_data()
        .try_into_vec_as::<f32>()
        .expect("f32");
    (0..CLASSES)
        .map(|digit| Wanted {
            digit,
            probability: found[digit],
            grey_probability: start[digit],
            pixels: pixels[digit * PIXELS..(digit + 1) * PIXELS].to_vec(),
        })
        .collect()
}

/// The log of the network's score for each digit: its probability (cross-entropy) or its
/// output's sigmoid (quadratic loss), as `classify` reports them.
fn log_scores(loss: Loss, logits: Tensor<2>) -> Tensor<2> {
    match loss {
        Loss::CrossEntropy => log_softmax(logits, 1),
        Loss::Quadratic => log_sigmoid(logits),
    }
}

/// What the network names random images (each pixel uniform in 0..1, seeded).
#[derive(Debug, Clone, Serialize)]
pub struct NoiseAnswers {
    pub images: usize,
    /// How many images were named each digit.
    pub named: [usize; CLASSES],
    /// The mean probability of the named digit, and the largest.
    pub mean_confidence: f32,
    pub max_confidence: f32,
}

pub fn noise_answers(model: &Network, device: &Device, images: usize, seed: u64) -> NoiseAnswers {
    device.seed(seed);
    let noise = Tensor::<2>::random(
        [images, PIXELS],
        burn::tensor::Distribution::Uniform(0.0, 1.0),
        device,
    );
    let pixels: Vec<[u8; PIXELS]> = noise
        .into_data()
        .try_into_vec_as::<f32>()
        .expect("f32")
        .chunks(PIXELS)
        .map(|row| std::array::from_fn(|i| (row[i] * 255.0).round() as u8))
        .collect();
    let predictions = classify(model, &pixels, device);
    let mut named = [0; CLASSES];
    let confidences: Vec<f32> = predictions
        .iter()
        .map(|p| {
            named[p.digit] += 1;
            p.scores[p.digit]
        })
        .collect();
    NoiseAnswers {
        images,
        named,
        mean_confidence: confidences.iter().sum::<f32>() / images.max(1) as f32,
        max_confidence: confidences.iter().fold(0.0, |m, &c| m.max(c)),
    }
}

/// One test image and what the network answered.
#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    /// Its index in the test set.
    pub index: usize,
    pub truth: usize,
    pub predicted: usize,
    /// The three most likely digits with their probabilities.
    pub top3: [(usize, f32); 3],
}

/// The test images the network gets wrong, most confident first; and the closest calls it got
/// right (the smallest lead of the right digit over the next), closest first.
pub fn wrong_answers(
    model: &Network,
    test: &DigitSet,
    device: &Device,
) -> (Vec<Answer>, Vec<Answer>) {
    let images: Vec<DigitImage> = (0..test.len())
        .map(|i| test.image(i).expect("i < len"))
        .collect();
    let mut answers: Vec<(f32, Answer)> = Vec::with_capacity(images.len());
    let classifier = Classifier::new(model, device);
    for (start, chunk) in images.chunks(1024).enumerate() {
        let pixels: Vec<[u8; PIXELS]> = chunk.iter().map(|image| image.pixels).collect();
        let predictions = classify_with(&classifier, model.loss, &pixels);
        for (offset, (prediction, image)) in predictions.iter().zip(chunk).enumerate() {
            let answer = answer(start * 1024 + offset, image.label as usize, prediction);
            let lead = answer.top3[0].1 - answer.top3[1].1;
            answers.push((lead, answer));
        }
    }
    let (mut wrong, mut right): (Vec<_>, Vec<_>) = answers
        .into_iter()
        .partition(|(_, a)| a.predicted != a.truth);
    wrong.sort_by(|a, b| b.1.top3[0].1.total_cmp(&a.1.top3[0].1));
    right.sort_by(|a, b| a.0.total_cmp(&b.0));
    let strip = |v: Vec<(f32, Answer)>| v.into_iter().map(|(_, a)| a).collect();
    (strip(wrong), strip(right))
}

fn answer(index: usize, truth: usize, prediction: &Prediction) -> Answer {
    let mut ranked: Vec<(usize, f32)> = prediction.scores.iter().copied().enumerate().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    Answer {
        index,
        truth,
        predicted: prediction.digit,
        top3: [ranked[0], ranked[1], ranked[2]],
    }
}
