//! k×k max pooling with stride k on contiguous `[B, C, H, W]` f32 values, one plane per rayon
//! task (the windows do not overlap, so planes and windows never share an output).

use rayon::prelude::*;

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

/// [`window_max`]'s place for a 2×2 window, unrolled (the CNNs' case): the same rule, the
/// first of equal values in row order.
fn window_max_2(plane: &[f32], width: usize, oy: usize, ox: usize) -> usize {
    let start = 2 * oy * width + 2 * ox;
    let mut best = start;
    for at in [start + 1, start + width, start + width + 1] {
        if plane[at] > plane[best] {
            best = at;
        }
    }
    best
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
                // The CNNs' case without the general loop's bookkeeping (the same rule).
                for oy in 0..oh {
                    let (r0, r1) = (&plane[2 * oy * w..], &plane[(2 * oy + 1) * w..]);
                    for (ox, o) in out[oy * ow..(oy + 1) * ow].iter_mut().enumerate() {
                        let mut m = r0[2 * ox];
                        for v in [r0[2 * ox + 1], r1[2 * ox], r1[2 * ox + 1]] {
                            if v > m {
                                m = v;
                            }
                        }
                        *o = m;
                    }
                }
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
            for oy in 0..oh {
                for ox in 0..ow {
                    let at = match k {
                        2 => window_max_2(plane, w, oy, ox),
                        _ => window_max(plane, w, k, oy, ox).1,
                    };
                    out[at] = grad[oy * ow + ox];
                }
            }
        });
    out
}
