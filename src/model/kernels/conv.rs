//! A k×k convolution with stride 1 and `p` pixels of zero padding on every side, on contiguous
//! f32 values: one image per rayon task, its patches unfolded into a buffer the task keeps
//! (L2-sized, reused from image to image: no batch-sized patch matrix, no fresh pages) and
//! multiplied by the weights in one single-threaded matrix product ([`product`]).
//!
//! With `K = C·k²` rows of patches and `N = H'·W'` output pixels, per image:
//! forward `out (O×N) = W (O×K) · cols (K×N) + bias`; weights' gradient `Σ grad (O×N) · colsᵀ`;
//! input's gradient `fold(Wᵀ · grad)`.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::Wanted;
use super::product::product;
use super::sum::lane_sum;
use super::unfold::{fold_plane, unfold_plane, unfolded_side};

/// The sizes of one convolution: input `[batch, channels, height, width]`, `outputs` filters
/// of `kernel`×`kernel`, `padding` on every side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvDims {
    pub batch: usize,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub outputs: usize,
    pub kernel: usize,
    pub padding: usize,
}

impl ConvDims {
    /// The output's `[height, width]`.
    pub fn out_side(&self) -> [usize; 2] {
        let (k, p) = (self.kernel, self.padding);
        [
            unfolded_side(self.height, k, p),
            unfolded_side(self.width, k, p),
        ]
    }

    /// N: output pixels per map.
    fn pixels(&self) -> usize {
        let [oh, ow] = self.out_side();
        oh * ow
    }

    /// K: rows of patches (weights per filter).
    fn rows(&self) -> usize {
        self.channels * self.kernel * self.kernel
    }

    fn image_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// One image's patches, `[K, N]`, into `cols` (resized; every value written).
    fn unfold_image(&self, image: &[f32], cols: &mut Vec<f32>) {
        let (hw, kk_n) = (
            self.height * self.width,
            self.kernel * self.kernel * self.pixels(),
        );
        cols.resize(self.rows() * self.pixels(), 0.0);
        for (plane, rows) in image.chunks(hw).zip(cols.chunks_mut(kk_n)) {
            unfold_plane(
                plane,
                rows,
                [self.height, self.width],
                self.kernel,
                self.padding,
            );
        }
    }

    /// Whether any work is left: an empty batch, image or output has none, and chunking by a
    /// size of zero would panic.
    fn is_empty(&self) -> bool {
        self.batch == 0 || self.image_len() == 0 || self.outputs == 0 || self.pixels() == 0
    }
}

/// `[B, O, H', W']`: each filter's weighted sum over its patch, plus its bias.
pub fn forward(x: &[f32], weight: &[f32], bias: &[f32], d: ConvDims) -> Vec<f32> {
    let (n, rows, o) = (d.pixels(), d.rows(), d.outputs);
    if d.is_empty() {
        // No patches to sum (an image of no pixels still gets its bias).
        let mut out = vec![0.0f32; d.batch * o * n];
        for (map, &b) in out.chunks_mut(n.max(1)).zip(bias.iter().cycle()) {
            map.fill(b);
        }
        return out;
    }
    // Not zero-filled first (a 12.8 MB memset for `cnn.toml`'s first block at batch 128):
    // each image's maps start as its biases, which the product then adds to.
    assert_eq!(bias.len(), o, "one bias a filter");
    let len = d.batch * o * n;
    let mut out = Vec::with_capacity(len);
    out.spare_capacity_mut()[..len]
        .par_chunks_mut(o * n)
        .zip(x.par_chunks(d.image_len()))
        .for_each_init(Vec::new, |cols, (out, image)| {
            for (map, &b) in out.chunks_mut(n).zip(bias) {
                map.iter_mut().for_each(|v| {
                    v.write(b);
                });
            }
            // SAFETY: each of the o maps of n values was written just above.
            let out = unsafe { &mut *(out as *mut [MaybeUninit<f32>] as *mut [f32]) };
            d.unfold_image(image, cols);
            product([o, rows, n], (weight, rows, 1), (cols, n, 1), 1.0, out);
        });
    // SAFETY: the chunks cover the `len` values (one per image, `o·n` each), all written.
    unsafe { out.set_len(len) };
    out
}

/// The gradients [`backward`] computed: input `[B, C, H, W]`, weights `[O, C, k, k]`, bias `[O]`.
pub struct ConvGrads {
    pub input: Option<Vec<f32>>,
    pub weight: Option<Vec<f32>>,
    pub bias: Option<Vec<f32>>,
}

/// The gradients of [`forward`]'s input, weights and bias, given its output's `grad`.
pub fn backward(x: &[f32], weight: &[f32], grad: &[f32], d: ConvDims, want: Wanted) -> ConvGrads {
    let input = want.input.then(|| input_grad(weight, grad, d));
    let (weight, bias) = match want.weight || want.bias {
        true => {
            let (w, b) = weight_and_bias_grads(x, grad, d);
            (want.weight.then_some(w), want.bias.then_some(b))
        }
        false => (None, None),
    };
    ConvGrads {
        input,
        weight,
        bias,
    }
}

/// Per image: the patches' gradients `Wᵀ · grad` (`[K, N]`), folded back onto the pixels.
fn input_grad(weight: &[f32], grad: &[f32], d: ConvDims) -> Vec<f32> {
    let (n, rows, o) = (d.pixels(), d.rows(), d.outputs);
    let mut dx = vec![0.0f32; d.batch * d.image_len()];
    if d.is_empty() {
        return dx;
    }
    let (hw, kk_n) = (d.height * d.width, d.kernel * d.kernel * n);
    dx.par_chunks_mut(d.image_len())
        .zip(grad.par_chunks(o * n))
        .for_each_init(Vec::new, |cols: &mut Vec<f32>, (image, grad)| {
            cols.resize(rows * n, 0.0);
            product([rows, o, n], (weight, 1, rows), (grad, n, 1), 0.0, cols);
            for (plane, rows) in image.chunks_mut(hw).zip(cols.chunks(kk_n)) {
                fold_plane(rows, plane, [d.height, d.width], d.kernel, d.padding);
            }
        });
    dx
}

/// `Σ grad · colsᵀ` over the batch (`[O, K]`) and each map's summed gradient (`[O]`). The batch
/// is cut into at most 16 runs of images, fixed by its size alone, each summed by one task and
/// the runs added in order: the same sums whatever the number of threads or who steals what,
/// so training stays reproducible (and `--resume` exact).
fn weight_and_bias_grads(x: &[f32], grad: &[f32], d: ConvDims) -> (Vec<f32>, Vec<f32>) {
    let (n, rows, o) = (d.pixels(), d.rows(), d.outputs);
    let zeros = || (vec![0.0f32; o * rows], vec![0.0f32; o]);
    if d.is_empty() {
        return zeros();
    }
    let run = d.batch.div_ceil(16);
    let partials: Vec<(Vec<f32>, Vec<f32>)> = x
        .par_chunks(run * d.image_len())
        .zip(grad.par_chunks(run * o * n))
        .map(|(images, grads)| {
            let (mut dw, mut db) = zeros();
            let mut cols = Vec::new();
            for (image, grad) in images.chunks(d.image_len()).zip(grads.chunks(o * n)) {
                d.unfold_image(image, &mut cols);
                product([o, n, rows], (grad, n, 1), (&cols, 1, n), 1.0, &mut dw);
                for (sum, map) in db.iter_mut().zip(grad.chunks(n)) {
                    *sum += lane_sum(map);
                }
            }
            (dw, db)
        })
        .collect();
    partials
        .into_iter()
        .reduce(|(mut dw, mut db), (w, b)| {
            dw.iter_mut().zip(&w).for_each(|(s, v)| *s += v);
            db.iter_mut().zip(&b).for_each(|(s, v)| *s += v);
            (dw, db)
        })
        .unwrap_or_else(zeros)
}
