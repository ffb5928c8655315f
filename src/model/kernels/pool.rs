//! k×k max pooling with stride k on contiguous `[B, C, H, W]` f32 values, one plane per rayon
//! task (the windows do not overlap, so planes and windows never share an output).

use std::mem::MaybeUninit;

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
fn backward_plane_2(out: &mut [MaybeUninit<f32>], plane: &[f32], grad: &[f32], width: usize) {
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
            out_top[2 * i].write(pick(at == 0, g));
            out_top[2 * i + 1].write(pick(at == 1, g));
            out_bottom[2 * i].write(pick(at == 2, g));
            out_bottom[2 * i + 1].write(pick(at == 3, g));
        }
        if width % 2 == 1 {
            out[width - 1].write(0.0);
            out[2 * width - 1].write(0.0);
        }
    }
    for value in out_rows.into_remainder() {
        value.write(0.0);
    }
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
/// elsewhere (also in the rows and columns no window covers). 2×2 windows write every value
/// of each plane, so their output is not zero-filled first (12.8 MB for `cnn.toml`'s first
/// block at batch 128).
pub fn backward(x: &[f32], grad: &[f32], [b, c, h, w]: [usize; 4], k: usize) -> Vec<f32> {
    let (oh, ow) = (h / k, w / k);
    if oh * ow == 0 || k != 2 {
        return scattered(x, grad, [b, c, h, w], k);
    }
    let len = b * c * h * w;
    let mut out = Vec::with_capacity(len);
    out.spare_capacity_mut()[..len]
        .par_chunks_mut(h * w)
        .zip(x.par_chunks(h * w).zip(grad.par_chunks(oh * ow)))
        .for_each(|(out, (plane, grad))| {
            vectorised(
                #[inline(always)]
                || backward_plane_2(out, plane, grad, w),
            )
        });
    // SAFETY: `backward_plane_2` wrote every value of each of the `b·c` planes.
    unsafe { out.set_len(len) };
    out
}

/// [`backward`] for any window: zeros, then each window's gradient at its maximum.
fn scattered(x: &[f32], grad: &[f32], [b, c, h, w]: [usize; 4], k: usize) -> Vec<f32> {
    let (oh, ow) = (h / k, w / k);
    let mut out = vec![0.0f32; b * c * h * w];
    if oh * ow == 0 {
        return out;
    }
    out.par_chunks_mut(h * w)
        .zip(x.par_chunks(h * w).zip(grad.par_chunks(oh * ow)))
        .for_each(|(out, (plane, grad))| {
            for oy in 0..oh {
                for ox in 0..ow {
                    out[window_max(plane, w, k, oy, ox).1] = grad[oy * ow + ox];
                }
            }
        });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Into a plane of NaN (what fresh memory may hold), the 2×2 backward writes every value,
    /// the same as the general scatter into zeros: even and odd sides.
    #[test]
    fn the_2x2_backward_writes_every_value() {
        for (h, w) in [(4, 4), (5, 4), (4, 5), (5, 7), (2, 3), (3, 2)] {
            let plane: Vec<f32> = (0..h * w).map(|i| ((i * 7919) % 31) as f32).collect();
            let grad: Vec<f32> = (0..(h / 2) * (w / 2)).map(|i| i as f32 + 1.0).collect();
            let mut out = vec![MaybeUninit::new(f32::NAN); h * w];
            backward_plane_2(&mut out, &plane, &grad, w);
            // SAFETY: MaybeUninit<f32> has f32's layout; each value was initialised (NaN or written).
            let got: Vec<f32> = out.iter().map(|v| unsafe { v.assume_init() }).collect();
            let expected = scattered(&plane, &grad, [1, 1, h, w], 2);
            assert_eq!(got, expected, "{h}×{w}");
        }
    }
}
