//! A whole multilayer perceptron's inference from the stored pixel bytes: each block of
//! images is scaled to 0..1 into a buffer its thread reuses and goes through
//! every layer (product, then bias and activation in one pass) while its values are still in
//! the core's cache; then its logits are written out. Layer by layer through tensors, a batch
//! of 1024 is first converted whole (3 MB of floats written out, read back by the first
//! product), and the threads are woken once a layer and a conversion; here the 0.8 MB of
//! bytes are read once and the threads woken once a batch.

use rayon::prelude::*;

use super::product::{PARALLEL_WORK, product};
use crate::model::fused::{Fused, add_bias_and_activate};
use crate::model::input::scale_pixels;

/// Images a block for a network of few weights (the seed network's 13,002): their 784 inputs
/// as floats (200 KB) stay in a core's L2 cache (512 KB on the AMD EPYC hosts, more on the
/// Intel Xeon ones). 32 to 128 measured alike there; 256 and 512 slower.
const SMALL_NETWORK_BLOCK: usize = 64;

/// Images a block for a network of [`WIDE_WEIGHTS`] weights or more: a [512,512] network ran
/// faster with blocks of 256 and 512 than of 64 and 128 (each block's products stream the
/// weights again).
const WIDE_NETWORK_BLOCK: usize = 256;
const WIDE_WEIGHTS: usize = 1 << 18;

/// One dense layer: weights `[inputs, outputs]` (Burn's `Linear` layout), bias `[outputs]`
/// and the activation after them.
#[derive(Debug, Clone)]
pub struct DenseLayer {
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
    pub act: Fused,
}

impl DenseLayer {
    pub fn outputs(&self) -> usize {
        self.bias.len()
    }

    pub fn inputs(&self) -> usize {
        self.weight.len() / self.outputs().max(1)
    }
}

/// The logits `[images, outputs of the last layer]`, row after row, of `images` (each the
/// first layer's inputs long) through `layers` (each reading what the one before gives).
/// The blocks are shared between the threads; their size depends on the batch and the
/// network, and on the thread count only where that is above a block's share of the batch.
pub fn logits(images: &[&[u8]], layers: &[DenseLayer]) -> Vec<f32> {
    let classes = layers.last().map_or(0, DenseLayer::outputs);
    let mut out = vec![0.0f32; images.len() * classes];
    if classes == 0 {
        return out;
    }
    let buffers = || (Vec::new(), Vec::new());
    let rows = block_images(images.len(), layers);
    if rows >= images.len() {
        let (mut x, mut y) = buffers();
        block(images, layers, &mut x, &mut y, &mut out);
        return out;
    }
    let blocks = images
        .par_chunks(rows)
        .zip(out.par_chunks_mut(rows * classes));
    blocks.for_each_init(buffers, |(x, y), (images, out)| {
        block(images, layers, x, y, out)
    });
    out
}

/// How many of `images` images go in a block: all of them where the work is too little to
/// wake another thread for ([`PARALLEL_WORK`] multiply-adds), else as the network's size
/// says, with at least one block a thread.
fn block_images(images: usize, layers: &[DenseLayer]) -> usize {
    let weights: usize = layers.iter().map(|layer| layer.weight.len()).sum();
    if images * weights < PARALLEL_WORK {
        return images;
    }
    let preferred = match weights < WIDE_WEIGHTS {
        true => SMALL_NETWORK_BLOCK,
        false => WIDE_NETWORK_BLOCK,
    };
    preferred.min(images.div_ceil(rayon::current_num_threads())).max(1)
}

/// One block of images through every layer into `out`; `x` and `y` are reused buffers.
fn block(
    images: &[&[u8]],
    layers: &[DenseLayer],
    x: &mut Vec<f32>,
    y: &mut Vec<f32>,
    out: &mut [f32],
) {
    let rows = images.len();
    let mut width = layers.first().map_or(0, DenseLayer::inputs);
    x.clear();
    x.reserve(rows * width);
    for (image, to) in images.iter().zip(x.spare_capacity_mut().chunks_mut(width.max(1))) {
        assert_eq!(image.len(), width, "an image of the first layer's inputs");
        scale_pixels(image, to);
    }
    // SAFETY: `rows` images of `width` values each were written just above.
    unsafe { x.set_len(rows * width) };
    for (at, layer) in layers.iter().enumerate() {
        assert_eq!(layer.inputs(), width, "each layer reads the one before");
        let outputs = layer.outputs();
        let last = at + 1 == layers.len();
        let target: &mut [f32] = if last {
            out
        } else {
            y.resize(rows * outputs, 0.0);
            y
        };
        if width == 0 {
            target.fill(0.0);
        } else {
            let a = (&x[..], width, 1);
            product([rows, width, outputs], a, (&layer.weight, outputs, 1), 0.0, target);
        }
        add_bias_and_activate(target, &layer.bias, layer.act);
        if !last {
            std::mem::swap(x, y);
        }
        width = outputs;
    }
}
