//! k×k max pooling with stride k on contiguous `[B, C, H, W]` f32 values, one plane per rayon
//! task (the windows do not overlap, so planes and windows never share an output).

use rayon::prelude::*;

use crate::model::simd::vectorised;

/// Each window's largest value and where it is in the plane (the first, on ties): one rule
/// for both passes, so the backward hands the gradient to the value the forward kept.
fn window_max(plane: &[f32], width: usize, k: usize, oy: usize, ox: usize) -> (f32, usize) {
    let start = oy * k * width + ox * k;
    let mut best = (plane[start], start);
    for dy in 0..k {
        let row = start + dy * width;
        for (dx, &v) in plane[row..row + k].iter().enumerate() {
            if v > best.0 {
                best = (v, row + dx);
            }
        }
    }
    best
}

/// Which of a 2×2 window's values `a b / c d` is its largest by [`window_max`]'s rule (the
/// first in row order on ties), as 0–3, and that value; by selects, without branches, so whole
/// rows of windows go through vector instructions.
#[inline(always)]
fn max_of_4(a: f32, b: f32, c: f32, d: f32) -> (u32, f32) {
    let (mut at, mut m) = (0, a);
    for (i, v) in [(1, b), (2, c), (3, d)] {
        let wins = v > m;
        at = if wins { i } else { at };
        m = if wins { v } else { m };
    }
    (at, m)
}

/// The 2×2 forward of one plane (`width` wide) into `out` (its `[H / 2, W / 2]` maxima). Index
/// loops over slices cut to length: the compiler vectorises them (stride-2 loads), which it
/// did not do for the same loop over `chunks_exact(2)`.
#[inline(always)]
fn forward_plane_2(out: &mut [f32], plane: &[f32], width: usize) {
    let ow = width / 2;
    let rows = plane.chunks_exact(2 * width);
    for (out, rows) in out.chunks_exact_mut(ow.max(1)).zip(rows) {
        let (top, bottom) = (&rows[..2 * ow], &rows[width..width + 2 * ow]);
        let out = &mut out[..ow];
        for i in 0..ow {
            let (a, b) = (top[2 * i], top[2 * i + 1]);
            let (c, d) = (bottom[2 * i], bottom[2 * i + 1]);
            out[i] = max_of_4(a, b, c, d).1;
        }
    }
}

/// The 2×2 backward of one plane (`width` wide): every value of `out` written, each window's
/// gradient at its maximum ([`max_of_4`]) and zero elsewhere, also in a last row or column no
/// window covers.
#[inline(always)]
fn backward_plane_2(out: &mut [f32], plane: &[f32], grad: &[f32], width: usize) {
    let ow = width / 2;
    let pick = |on: bool, g: f32| if on { g } else { 0.0 };
    let rows = plane
        .chunks_exact(2 * width)
        .zip(grad.chunks_exact(ow.max(1)));
    let mut out_rows = out.chunks_exact_mut(2 * width);
    for ((x, grad), out) in rows.zip(&mut out_rows) {
        let (top, bottom) = (&x[..2 * ow], &x[width..width + 2 * ow]);
        let (out_top, out_bottom) = out.split_at_mut(width);
        let (out_top, out_bottom) = (&mut out_top[..2 * ow], &mut out_bottom[..2 * ow]);
        let grad = &grad[..ow];
        for i in 0..ow {
            let (a, b) = (top[2 * i], top[2 * i + 1]);
            let (c, d) = (bottom[2 * i], bottom[2 * i + 1]);
            let (at, _) = max_of_4(a, b, c, d);
            let g = grad[i];
            out_top[2 * i] = pick(at == 0, g);
            out_top[2 * i + 1] = pick(at == 1, g);
            out_bottom[2 * i] = pick(at == 2, g);
            out_bottom[2 * i + 1] = pick(at == 3, g);
        }
        if width % 2 == 1 {
            out[width - 1] = 0.0;
            out[2 * width - 1] = 0.0;
        }
    }
    out_rows.into_remainder().fill(0.0);
}

/// `[B, C, H / k, W / k]`: each window's largest value.
pub fn forward(x: &[f32], [b, c, h, w]: [usize; 4], k: usize) -> Vec<f32> {
    let (oh, ow) = (h / k, w / k);
    let mut out = vec![0.0f32; b * c * oh * ow];
    if out.is_empty() {
        return out;
    }
    out.par_chunks_mut(oh * ow)
        .zip(x.par_chunks(h * w))
        .for_each(|(out, plane)| {
            if k == 2 {
                vectorised(
                    #[inline(always)]
                    || forward_plane_2(out, plane, w),
                );
            } else {
                for oy in 0..oh {
                    for ox in 0..ow {
                        out[oy * ow + ox] = window_max(plane, w, k, oy, ox).0;
                    }
                }
            }
        });
    out
}

/// `[B, C, H, W]`: `grad` (`[B, C, H / k, W / k]`) placed where `x`'s window maxima are, zero
/// elsewhere (also in the rows and columns no window covers).
pub fn backward(x: &[f32], grad: &[f32], [b, c, h, w]: [usize; 4], k: usize) -> Vec<f32> {
    let (oh, ow) = (h / k, w / k);
    let mut out = vec![0.0f32; b * c * h * w];
    if oh * ow == 0 {
        return out;
    }
    out.par_chunks_mut(h * w)
        .zip(x.par_chunks(h * w).zip(grad.par_chunks(oh * ow)))
        .for_each(|(out, (plane, grad))| {
            if k == 2 {
                return vectorised(
                    #[inline(always)]
                    || backward_plane_2(out, plane, grad, w),
                );
            }
            for oy in 0..oh {
                for ox in 0..ow {
                    out[window_max(plane, w, k, oy, ox).1] = grad[oy * ow + ox];
                }
            }
        });
    out
}
