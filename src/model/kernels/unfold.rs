//! im2col and its adjoint for one input plane on contiguous f32 values: `[H, W]` ↔
//! `[k², H'·W']` for a k×k kernel, stride 1, `p` pixels of zero padding on every side (the
//! convolution kernel's patches, [`super::conv`]).

use crate::model::simd::vectorised;

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
        let iy = (oy + dy)
            .checked_sub(p)
            .filter(|&iy| iy < h && first < end)?;
        Some((oy * ow + first..oy * ow + end, iy * w + first + dx - p))
    })
}

/// One input plane's k² rows of patches into `rows` (`[k², H'·W']`), every value written:
/// the plane's pixels, and zeros where padding is read (no zero-filled buffer first: that
/// memset was 6 % of a `cnn.toml` training step by `perf`).
pub fn unfold_plane(plane: &[f32], rows: &mut [f32], [h, w]: [usize; 2], k: usize, p: usize) {
    let (oh, ow) = (unfolded_side(h, k, p), unfolded_side(w, k, p));
    if oh * ow == 0 {
        return;
    }
    for (r, row) in rows.chunks_mut(oh * ow).enumerate() {
        // The segments come in order, row after row: zeros in each gap before one, and after
        // the last.
        let mut written = 0;
        for (columns, from) in segments(r, [h, w], [oh, ow], k, p) {
            row[written..columns.start].fill(0.0);
            written = columns.end;
            let len = columns.len();
            row[columns].copy_from_slice(&plane[from..from + len]);
        }
        row[written..].fill(0.0);
    }
}

/// [`unfold_plane`]'s adjoint: `rows`' gradients added into `plane`. Compiled for AVX2 or
/// AVX-512 ([`vectorised`]): at the baseline the additions ran one value an instruction (4 % of
/// a `cnn.toml` step by `perf`).
pub fn fold_plane(rows: &[f32], plane: &mut [f32], [h, w]: [usize; 2], k: usize, p: usize) {
    let (oh, ow) = (unfolded_side(h, k, p), unfolded_side(w, k, p));
    if oh * ow == 0 {
        return;
    }
    vectorised(
        #[inline(always)]
        || {
            for (r, row) in rows.chunks(oh * ow).enumerate() {
                for (columns, to) in segments(r, [h, w], [oh, ow], k, p) {
                    let len = columns.len();
                    for (pixel, g) in plane[to..to + len].iter_mut().zip(&row[columns]) {
                        *pixel += g;
                    }
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Into a buffer of NaN (what a reused buffer may hold), every value is the patch's pixel
    /// or a padding zero, as a direct reading of the definition gives.
    #[test]
    fn unfolding_writes_every_value() {
        for (h, w, k, p) in [
            (5, 4, 3, 1),
            (3, 3, 3, 0),
            (4, 6, 2, 3),
            (2, 2, 5, 2),
            (1, 7, 1, 0),
        ] {
            let plane: Vec<f32> = (0..h * w).map(|v| v as f32 + 1.0).collect();
            let (oh, ow) = (unfolded_side(h, k, p), unfolded_side(w, k, p));
            let mut rows = vec![f32::NAN; k * k * oh * ow];
            unfold_plane(&plane, &mut rows, [h, w], k, p);
            for (r, row) in rows.chunks(oh * ow).enumerate() {
                for (at, &value) in row.iter().enumerate() {
                    let (iy, ix) = (
                        (at / ow + r / k) as isize - p as isize,
                        (at % ow + r % k) as isize - p as isize,
                    );
                    let inside = (0..h as isize).contains(&iy) && (0..w as isize).contains(&ix);
                    let expected = if inside {
                        plane[iy as usize * w + ix as usize]
                    } else {
                        0.0
                    };
                    assert_eq!(
                        value, expected,
                        "{h}×{w}, k {k}, p {p}: row {r}, pixel {at}"
                    );
                }
            }
        }
    }
}
