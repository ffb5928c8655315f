//! im2col and its adjoint on contiguous f32 values: `[B, C, H, W]` ↔ `[B, C·k², H'·W']` for
//! a k×k kernel, stride 1, `p` pixels of zero padding on every side. One input plane (its k²
//! rows of patches) per rayon task.

use rayon::prelude::*;

/// The side of the unfolded image: `side + 2·p − k + 1` output pixels (0 when the kernel is
/// larger than the padded image).
pub fn unfolded_side(side: usize, k: usize, p: usize) -> usize {
    (side + 2 * p + 1).saturating_sub(k)
}

/// Where patch row `r` (its kernel offset dy = r / k, dx = r % k) reads from an input plane:
/// for each output row `oy` whose input row is inside the image, the columns `columns` of that
/// output row and the index in the plane of the first one's pixel. Output pixels not listed
/// read padding (zero). Both passes walk these, so they agree by construction.
fn segments(
    r: usize,
    [h, w]: [usize; 2],
    [oh, ow]: [usize; 2],
    k: usize,
    p: usize,
) -> impl Iterator<Item = (std::ops::Range<usize>, usize)> {
    let (dy, dx) = (r / k, r % k);
    // Output columns whose input column ox + dx − p lies in 0..w.
    let first = p.saturating_sub(dx).min(ow);
    let end = (w + p).saturating_sub(dx).min(ow).max(first);
    (0..oh).filter_map(move |oy| {
        let iy = (oy + dy).checked_sub(p).filter(|&iy| iy < h && first < end)?;
        Some((oy * ow + first..oy * ow + end, iy * w + first + dx - p))
    })
}

/// `[B, C·k², H'·W']`: row (c, dy, dx) holds, for each output pixel (oy, ox), the input pixel
/// (oy + dy − p, ox + dx − p), or 0 outside the image.
pub fn forward(x: &[f32], [b, c, h, w]: [usize; 4], k: usize, p: usize) -> Vec<f32> {
    let (oh, ow) = (unfolded_side(h, k, p), unfolded_side(w, k, p));
    let mut out = vec![0.0f32; b * c * k * k * oh * ow];
    if out.is_empty() || h * w == 0 {
        return out;
    }
    out.par_chunks_mut(k * k * oh * ow)
        .zip(x.par_chunks(h * w))
        .for_each(|(rows, plane)| {
            for (r, row) in rows.chunks_mut(oh * ow).enumerate() {
                for (columns, from) in segments(r, [h, w], [oh, ow], k, p) {
                    let len = columns.len();
                    row[columns].copy_from_slice(&plane[from..from + len]);
                }
            }
        });
    out
}

/// `[B, C, H, W]`: the adjoint of [`forward`], each patch value's gradient added to the pixel
/// it was read from (padding's dropped).
pub fn backward(grad: &[f32], [b, c, h, w]: [usize; 4], k: usize, p: usize) -> Vec<f32> {
    let (oh, ow) = (unfolded_side(h, k, p), unfolded_side(w, k, p));
    let mut out = vec![0.0f32; b * c * h * w];
    if out.is_empty() || oh * ow == 0 {
        return out;
    }
    out.par_chunks_mut(h * w)
        .zip(grad.par_chunks(k * k * oh * ow))
        .for_each(|(plane, rows)| {
            for (r, row) in rows.chunks(oh * ow).enumerate() {
                for (columns, to) in segments(r, [h, w], [oh, ow], k, p) {
                    let len = columns.len();
                    for (pixel, g) in plane[to..to + len].iter_mut().zip(&row[columns]) {
                        *pixel += g;
                    }
                }
            }
        });
    out
}
