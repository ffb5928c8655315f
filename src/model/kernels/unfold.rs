//! im2col and its adjoint on contiguous f32 values: `[B, C, H, W]` ↔ `[B, C·k², H'·W']` for
//! a k×k kernel, stride 1, `p` pixels of zero padding on every side. One input plane (its k²
//! rows of patches) per rayon task.

use rayon::prelude::*;

/// For a kernel offset `d` (0..k), the output columns whose input column `o + d − p` is inside
/// `0..w`: `(first, end)` output columns, `end - first` may be 0.
fn inside(d: usize, p: usize, w: usize, ow: usize) -> (usize, usize) {
    let first = p.saturating_sub(d).min(ow);
    let end = (w + p).saturating_sub(d).min(ow).max(first);
    (first, end)
}

/// `[B, C·k², H'·W']`: row (c, dy, dx) holds, for each output pixel (oy, ox), the input pixel
/// (oy + dy − p, ox + dx − p), or 0 outside the image.
pub fn forward(x: &[f32], [b, c, h, w]: [usize; 4], k: usize, p: usize) -> Vec<f32> {
    let (oh, ow) = ((h + 2 * p + 1).saturating_sub(k), (w + 2 * p + 1).saturating_sub(k));
    let mut out = vec![0.0f32; b * c * k * k * oh * ow];
    if out.is_empty() || h * w == 0 {
        return out;
    }
    out.par_chunks_mut(k * k * oh * ow)
        .zip(x.par_chunks(h * w))
        .for_each(|(rows, plane)| {
            for (r, row) in rows.chunks_mut(oh * ow).enumerate() {
                let (dy, dx) = (r / k, r % k);
                let (first, end) = inside(dx, p, w, ow);
                for oy in 0..oh {
                    let iy = oy + dy;
                    if iy < p || iy - p >= h || first == end {
                        continue; // a row of padding: left at zero
                    }
                    let src = (iy - p) * w + first + dx - p;
                    row[oy * ow + first..oy * ow + end]
                        .copy_from_slice(&plane[src..src + end - first]);
                }
            }
        });
    out
}

/// `[B, C, H, W]`: the adjoint of [`forward`], each patch value's gradient added to the pixel
/// it was read from (padding's dropped).
pub fn backward(grad: &[f32], [b, c, h, w]: [usize; 4], k: usize, p: usize) -> Vec<f32> {
    let (oh, ow) = ((h + 2 * p + 1).saturating_sub(k), (w + 2 * p + 1).saturating_sub(k));
    let mut out = vec![0.0f32; b * c * h * w];
    if out.is_empty() || oh * ow == 0 {
        return out;
    }
    out.par_chunks_mut(h * w)
        .zip(grad.par_chunks(k * k * oh * ow))
        .for_each(|(plane, rows)| {
            for (r, row) in rows.chunks(oh * ow).enumerate() {
                let (dy, dx) = (r / k, r % k);
                let (first, end) = inside(dx, p, w, ow);
                for oy in 0..oh {
                    let iy = oy + dy;
                    if iy < p || iy - p >= h || first == end {
                        continue;
                    }
                    let dst = (iy - p) * w + first + dx - p;
                    for (to, from) in plane[dst..dst + end - first]
                        .iter_mut()
                        .zip(&row[oy * ow + first..oy * ow + end])
                    {
                        *to += from;
                    }
                }
            }
        });
    out
}
