//! A whole multilayer perceptron's inference from the stored pixel bytes: each block of
//! images is scaled to 0..1 into a buffer its thread reuses and goes through
//! every layer (product, then bias and activation in one pass) while its values are still in
//! the core's cache; then its logits are written out. Layer by layer through tensors, a batch
//! of 1024 is first converted whole (3 MB of floats written out, read back by the first
//! product), and the threads are woken once a layer and a conversion; here the 0.8 MB of
//! bytes are read once and the threads woken once a batch. The products run on weights packed
//! once, when the network is read ([`super::panel`]), where the CPU has AVX2 and FMA, else
//! through gemm or matrixmultiply. One image of a wide network is shared between the threads
//! instead, half of each layer's panels a thread ([`SHARED_IMAGE_WEIGHTS`]).

use rayon::prelude::*;

use super::norm::ImageNorm;
use super::panel::{self, Panels};
use super::product::{PARALLEL_WORK, product};
use crate::model::fused::{Fused, activate, add_bias_and_activate};
use crate::model::input::scale_pixels;

/// Images a block: their 784 inputs as floats (200 KB) stay in a core's L2 cache (512 KB on
/// the AMD EPYC hosts, more on the Intel Xeon ones). Through panels 64 measured best or alike
/// for the seed network and [512,512] (blocks of 32 to 512 tried) and for [2048,2048] (64,
/// 256, 512); through products, for the seed network (32 to 128 alike, 256 and 512 slower).
const BLOCK: usize = 64;

/// Images a block through products for a network of [`WIDE_WEIGHTS`] weights or more: a
/// [512,512] network ran faster with blocks of 256 and 512 than of 64 and 128 (each block's
/// products pack the weights again).
const WIDE_PRODUCTS_BLOCK: usize = 256;
const WIDE_WEIGHTS: usize = 1 << 18;

/// Weights (1 MB of them and more) from which one image's layers are shared between two
/// threads, each taking half of every layer's panels ([`one_image_shared`]): on one core
/// [512,512]'s 2.7 MB streamed from L3 for every image; halved, each half stays in its core's
/// L2 (2 MB on the Intel Xeon hosts). Batch 1 there: 14.3–14.6k → 36.0–40.1k images a second
/// ([512,512]), 1.24k → 2.07–2.21k ([2048,2048]); ONNX Runtime splits so too.
const SHARED_IMAGE_WEIGHTS: usize = 1 << 18;

/// One dense layer: weights `[inputs, outputs]` (Burn's `Linear` layout), bias `[outputs]`,
/// a normalisation of each image's outputs if it has one, and the activation after them.
#[derive(Debug, Clone)]
pub struct DenseLayer {
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
    pub norm: Option<ImageNorm>,
    pub act: Fused,
}

/// `y` (rows of `bias.len()`) through the bias, the normalisation if any, and the activation.
fn bias_norm_activate(y: &mut [f32], bias: &[f32], norm: Option<&ImageNorm>, act: Fused) {
    match norm {
        None => add_bias_and_activate(y, bias, act),
        Some(norm) => {
            add_bias_and_activate(y, bias, Fused::Identity);
            norm.apply(y, bias.len());
            activate(y, act);
        }
    }
}

impl DenseLayer {
    pub fn outputs(&self) -> usize {
        self.bias.len()
    }

    pub fn inputs(&self) -> usize {
        self.weight.len() / self.outputs().max(1)
    }
}

/// A network's dense layers ready for inference, through panels where the CPU runs them.
#[derive(Debug)]
pub struct Mlp {
    inputs: usize,
    classes: usize,
    weights: usize,
    way: Way,
}

/// How a block goes through the layers.
#[derive(Debug)]
enum Way {
    /// Each layer's weights packed once ([`super::panel`]).
    Panels(Vec<PackedLayer>),
    /// Each layer's product by gemm or matrixmultiply (which pack the weights every call).
    Products(Vec<DenseLayer>),
}

/// A layer's weights in panels, its bias padded to them (zeros), its normalisation and
/// activation.
#[derive(Debug)]
struct PackedLayer {
    panels: Panels,
    bias: Vec<f32>,
    norm: Option<ImageNorm>,
    act: Fused,
}

impl Mlp {
    /// `layers`, each reading what the one before gives (asserted): through panels where this
    /// CPU runs them, else through products.
    pub fn new(layers: Vec<DenseLayer>) -> Mlp {
        Mlp::through(layers, panel::available())
    }

    fn through(layers: Vec<DenseLayer>, panels: bool) -> Mlp {
        for pair in layers.windows(2) {
            assert_eq!(
                pair[1].inputs(),
                pair[0].outputs(),
                "each layer reads the one before"
            );
        }
        let inputs = layers.first().map_or(0, DenseLayer::inputs);
        let classes = layers.last().map_or(0, DenseLayer::outputs);
        let weights = layers.iter().map(|layer| layer.weight.len()).sum();
        let way = match panels {
            true => Way::Panels(pack(&layers)),
            false => Way::Products(layers),
        };
        Mlp {
            inputs,
            classes,
            weights,
            way,
        }
    }

    /// The last layer's outputs.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// The logits `[images, classes]`, row after row, of `images` (each the first layer's
    /// inputs long). The blocks are shared between the threads; their size depends on the
    /// batch and the network, and on the thread count only where that is above a block's
    /// share of the batch.
    pub fn logits(&self, images: &[&[u8]]) -> Vec<f32> {
        let classes = self.classes;
        let mut out = vec![0.0f32; images.len() * classes];
        if classes == 0 {
            return out;
        }
        let buffers = || (Vec::new(), Vec::new());
        if let ([image], Way::Panels(packed)) = (images, &self.way)
            && self.weights >= SHARED_IMAGE_WEIGHTS
            && rayon::current_num_threads() >= 2
        {
            let (mut x, mut y) = buffers();
            // Inside the pool, so that each layer's hand-over is a worker's steal, not a wake.
            let inputs = self.inputs;
            rayon::scope(|_| one_image_shared(image, inputs, packed, &mut x, &mut y, &mut out));
            super::linger();
            return out;
        }
        let rows = self.block_images(images.len());
        if rows >= images.len() {
            let (mut x, mut y) = buffers();
            self.block(images, &mut x, &mut y, &mut out);
            return out;
        }
        let blocks = images
            .par_chunks(rows)
            .zip(out.par_chunks_mut(rows * classes));
        blocks.for_each_init(buffers, |(x, y), (images, out)| {
            self.block(images, x, y, out)
        });
        super::linger();
        out
    }

    /// How many of `images` images go in a block: all of them where the work is too little
    /// to wake another thread for ([`PARALLEL_WORK`] multiply-adds), else as the way and the
    /// network's size say, with at least one block a thread.
    fn block_images(&self, images: usize) -> usize {
        if images * self.weights < PARALLEL_WORK {
            return images;
        }
        let preferred = match self.way {
            Way::Products(_) if self.weights >= WIDE_WEIGHTS => WIDE_PRODUCTS_BLOCK,
            _ => BLOCK,
        };
        preferred
            .min(images.div_ceil(rayon::current_num_threads()))
            .max(1)
    }

    /// One block of images through every layer into `out`; `x` and `y` are reused buffers.
    fn block(&self, images: &[&[u8]], x: &mut Vec<f32>, y: &mut Vec<f32>, out: &mut [f32]) {
        scale_block(images, self.inputs, x);
        match &self.way {
            Way::Panels(packed) => through_panels(images.len(), packed, x, y, out),
            Way::Products(layers) => through_products(images.len(), layers, x, y, out),
        }
    }
}

/// Each layer's weights in panels for the padded outputs of the layer before it.
fn pack(layers: &[DenseLayer]) -> Vec<PackedLayer> {
    let mut rows = layers.first().map_or(0, DenseLayer::inputs);
    let mut packed = Vec::with_capacity(layers.len());
    for layer in layers {
        let (inputs, outputs) = (layer.inputs(), layer.outputs());
        let mut bias = layer.bias.clone();
        bias.resize(panel::padded(outputs), 0.0);
        let panels = Panels::pack(&layer.weight, inputs, outputs, rows);
        let (norm, act) = (layer.norm.clone(), layer.act);
        packed.push(PackedLayer {
            panels,
            bias,
            norm,
            act,
        });
        rows = panel::padded(outputs);
    }
    packed
}

/// `images` scaled to 0..1 into `x`, `width` values each.
fn scale_block(images: &[&[u8]], width: usize, x: &mut Vec<f32>) {
    x.clear();
    x.reserve(images.len() * width);
    for (image, to) in images
        .iter()
        .zip(x.spare_capacity_mut().chunks_mut(width.max(1)))
    {
        assert_eq!(image.len(), width, "an image of the first layer's inputs");
        scale_pixels(image, to);
    }
    // SAFETY: every image's `width` values were written just above.
    unsafe { x.set_len(images.len() * width) };
}

/// The first `len` values of a block's buffer, grown if it is shorter but never shrunk: it is
/// zero-filled only where it grows (once a thread, not once a block and layer), and every value
/// a layer reads was written by the layer before it.
fn first(buffer: &mut Vec<f32>, len: usize) -> &mut [f32] {
    if buffer.len() < len {
        buffer.resize(len, 0.0);
    }
    &mut buffer[..len]
}

/// `rows` inputs in `x` through every layer's panels into `out`: each layer's outputs padded
/// to whole panels (the padding's activations meet the next layer's zero weights), the last
/// layer's real ones copied out.
fn through_panels(
    rows: usize,
    packed: &[PackedLayer],
    x: &mut Vec<f32>,
    y: &mut Vec<f32>,
    out: &mut [f32],
) {
    for layer in packed {
        let width = layer.bias.len();
        let y_values = first(y, rows * width);
        layer.panels.multiply(x, rows, y_values);
        bias_norm_activate(y_values, &layer.bias, layer.norm.as_ref(), layer.act);
        std::mem::swap(x, y);
    }
    let (classes, width) = (
        out.len() / rows.max(1),
        packed.last().map_or(0, |p| p.bias.len()),
    );
    for (row, to) in x.chunks(width.max(1)).zip(out.chunks_mut(classes.max(1))) {
        to.copy_from_slice(&row[..classes]);
    }
}

/// One image through every layer's panels into `out`, each layer's panels cut in two halves
/// computed side by side ([`rayon::join`]): the same sums as [`through_panels`], bit for bit
/// (each output is one panel's sum over the inputs, in order, whoever computes it).
fn one_image_shared(
    image: &[u8],
    inputs: usize,
    packed: &[PackedLayer],
    x: &mut Vec<f32>,
    y: &mut Vec<f32>,
    out: &mut [f32],
) {
    scale_block(&[image], inputs, x);
    for layer in packed {
        let (count, y_values) = (layer.panels.count(), first(y, layer.bias.len()));
        let half = count / 2;
        let (left, right) = y_values.split_at_mut(half * panel::PANEL);
        // Where nothing needs the whole row, each half takes its bias and activation too.
        let each = |y: &mut [f32], from: usize, to: usize| {
            layer.panels.multiply_panels(x, from, to, y);
            if layer.norm.is_none() {
                let bias = &layer.bias[from * panel::PANEL..to * panel::PANEL];
                add_bias_and_activate(y, bias, layer.act);
            }
        };
        rayon::join(|| each(left, 0, half), || each(right, half, count));
        if let Some(norm) = &layer.norm {
            bias_norm_activate(y_values, &layer.bias, Some(norm), layer.act);
        }
        std::mem::swap(x, y);
    }
    out.copy_from_slice(&x[..out.len()]);
}

/// `rows` inputs in `x` through every layer's product (gemm's or matrixmultiply's) into
/// `out`.
fn through_products(
    rows: usize,
    layers: &[DenseLayer],
    x: &mut Vec<f32>,
    y: &mut Vec<f32>,
    out: &mut [f32],
) {
    let mut width = layers.first().map_or(0, DenseLayer::inputs);
    for (at, layer) in layers.iter().enumerate() {
        let outputs = layer.outputs();
        let last = at + 1 == layers.len();
        let target: &mut [f32] = if last { out } else { first(y, rows * outputs) };
        if width == 0 {
            target.fill(0.0);
        } else {
            let a = (&x[..], width, 1);
            product(
                [rows, width, outputs],
                a,
                (&layer.weight, outputs, 1),
                0.0,
                target,
            );
        }
        bias_norm_activate(target, &layer.bias, layer.norm.as_ref(), layer.act);
        if !last {
            std::mem::swap(x, y);
        }
        width = outputs;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Layers of `sizes` with fixed weights (scaled by `scale`): the first with `first`, the
    /// second with tanh after a normalisation in `groups`, the last without an activation.
    fn three_layers(sizes: [usize; 4], first: Fused, groups: usize, scale: f32) -> Vec<DenseLayer> {
        let value = |i: usize| ((i * 7919) % 201) as f32 / 100.0 - 1.0;
        let layer = |inputs: usize, outputs: usize, act| DenseLayer {
            weight: (0..inputs * outputs).map(|i| value(i) * scale).collect(),
            bias: (0..outputs).map(value).collect(),
            norm: None,
            act,
        };
        let mut normalised = layer(sizes[1], sizes[2], Fused::Tanh);
        normalised.norm = Some(ImageNorm {
            groups,
            gamma: (0..sizes[2]).map(|j| value(j + 3)).collect(),
            beta: (0..sizes[2]).map(|j| value(j + 7)).collect(),
            epsilon: 1e-5,
        });
        vec![
            layer(sizes[0], sizes[1], first),
            normalised,
            layer(sizes[2], sizes[3], Fused::Identity),
        ]
    }

    /// Through panels (where this CPU runs them) and through products, the same logits: the
    /// classifier's test (`tests/kernels.rs`) checks the panels against the network's own
    /// forward, this one the products a CPU without AVX2 takes.
    #[test]
    fn panels_and_products_give_the_same_logits() {
        if !panel::available() {
            return;
        }
        let layers = three_layers([784, 37, 20, 10], Fused::Relu, 4, 0.1);
        let panels = Mlp::through(layers.clone(), true);
        let products = Mlp::through(layers, false);
        let bytes: Vec<u8> = (0..150 * 784).map(|i| (i * 31 % 256) as u8).collect();
        let images: Vec<&[u8]> = bytes.chunks(784).collect();
        let (expected, got) = (products.logits(&images), panels.logits(&images));
        assert_eq!(expected.len(), 150 * 10);
        for (e, g) in expected.iter().zip(&got) {
            assert!((e - g).abs() <= 1e-5 * e.abs().max(1.0), "{e} against {g}");
        }
    }

    /// One image of a network of 1 MB of weights, its layers shared between two threads:
    /// bit for bit the logits of the same image alone in a block, with and without a
    /// normalisation between the halves' product and the activation, and an odd panel count.
    #[test]
    fn one_image_shared_between_threads_is_its_block() {
        if !panel::available() {
            return;
        }
        let layers = three_layers([784, 400, 300, 10], Fused::Sigmoid, 1, 0.05);
        let mlp = Mlp::through(layers, true);
        assert!(mlp.weights >= SHARED_IMAGE_WEIGHTS);
        let Way::Panels(packed) = &mlp.way else {
            unreachable!("packed just above")
        };
        for seed in 0..3 {
            let image: Vec<u8> = (0..784)
                .map(|i| ((i * 31 + seed * 17) % 256) as u8)
                .collect();
            let (mut x, mut y) = (Vec::new(), Vec::new());
            let mut alone = vec![0.0f32; 10];
            mlp.block(&[&image], &mut x, &mut y, &mut alone);
            let mut shared = vec![0.0f32; 10];
            one_image_shared(&image, 784, packed, &mut x, &mut y, &mut shared);
            assert_eq!(shared, alone);
            assert_eq!(mlp.logits(&[&image]), alone);
        }
    }
}
