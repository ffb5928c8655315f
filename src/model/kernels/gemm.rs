//! The matrix product on AVX-512 CPUs, our own: the blocked GEMM of BLIS (Goto's
//! algorithm). `b` is packed a block of [`KC`] × [`NC`] at a time into panels of [`NR`]
//! columns (each row's 32 values side by side, zeros past the last column), `a` a block of
//! [`MC`] × [`KC`] at a time into tiles of [`MR`] rows (each column's 12 values side by side),
//! and each 12 × 32 tile of `c` is summed in 24 of the 32 registers, FMA by FMA. Each panel of
//! `b` (32 KB) stays in L1 while the block of `a` (192 KB, in L2) streams past it.
//!
//! Used for a dense layer's input gradient `g·Wᵀ` ([`super::product`] says where): gemm's
//! AVX-512 kernels ran that product at 0.72× MKL's on an Intel Xeon (batch 128 × 2048 × 2048),
//! this one at 0.91×; elsewhere it was level with gemm's or slower (docs/EXPERIMENTS.md).
//! The transposed matrix is packed by transposes of 16 × 16 blocks in registers.
//!
//! Each value of `c` is the sum over `k` in order within blocks of [`KC`], the blocks added
//! in order: the same however `c` is cut between threads (training stays reproducible).

mod pack;

use std::arch::x86_64::*;

use pack::PACKED;

/// Rows of `c` a tile: 24 accumulators, 2 rows of `b` and a broadcast value in 32 registers.
const MR: usize = 12;
/// Columns of `c` a tile: two AVX-512 registers.
const NR: usize = 32;
/// Terms summed a block: a panel of `b` is `KC × NR` values (32 KB, in L1).
const KC: usize = 256;
/// Columns of `b` packed a block: `KC × NC` values (512 KB, in L2).
const NC: usize = 512;
/// Rows of `a` packed a block: `MC × KC` values (192 KB, in L2).
const MC: usize = 192;

/// Whether this CPU runs the product (AVX-512F).
pub fn available() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
}

/// A matrix by raw parts: its first value, its row stride, its column stride (in values).
#[derive(Clone, Copy)]
pub struct Strided {
    pub at: *const f32,
    pub row: usize,
    pub col: usize,
}

impl Strided {
    /// The value at `(r, c)`.
    ///
    /// # Safety
    /// `(r, c)` is inside the matrix.
    #[inline(always)]
    unsafe fn get(self, r: usize, c: usize) -> f32 {
        unsafe { *self.at.add(r * self.row + c * self.col) }
    }
}

/// `c (m×n, rows `ldc` apart) = a (m×k) · b (k×n) + beta·c`, on this thread; `c` is not read
/// where `beta` is 0.
///
/// # Safety
/// AVX-512F ([`available`]); every `(r, c)` of `a` and `b` inside their values, every one of
/// `c`'s `m` rows of `n` writable and aliasing neither, and no other thread writing them.
pub unsafe fn multiply(
    [m, k, n]: [usize; 3],
    a: Strided,
    b: Strided,
    beta: f32,
    c: *mut f32,
    ldc: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        for (r, j) in (0..m).flat_map(|r| (0..n).map(move |j| (r, j))) {
            // SAFETY: inside `c` (the caller's promise), read only where `beta` is not 0.
            unsafe {
                let v = c.add(r * ldc + j);
                *v = if beta == 0.0 { 0.0 } else { beta * *v };
            }
        }
        return;
    }
    PACKED.with_borrow_mut(|packed| {
        for first_col in (0..n).step_by(NC) {
            let cols = NC.min(n - first_col);
            for first_term in (0..k).step_by(KC) {
                let terms = KC.min(k - first_term);
                // SAFETY: the block is inside `b` (the caller's promise).
                let b_block = unsafe { packed.b(b, first_term, terms, first_col, cols) };
                // The first block of terms scales what `c` held; the others add to it.
                let beta = if first_term == 0 { beta } else { 1.0 };
                for first_row in (0..m).step_by(MC) {
                    let rows = MC.min(m - first_row);
                    // SAFETY: these rows and terms are inside `a`; the tiles of `c` written
                    // below are inside its `m × n` (the caller's promise).
                    unsafe {
                        let a_block = packed.a(a, first_row, rows, first_term, terms);
                        let c = c.add(first_row * ldc + first_col);
                        sweep(rows, terms, a_block, b_block, cols, beta, c, ldc);
                    }
                }
            }
        }
    })
}

/// A packed block of `a` times a packed block of `b`, panel by panel (each panel of `b` in L1
/// while the tiles of `a` pass it), into `c`'s `rows` rows of `cols` columns.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f")]
unsafe fn sweep(
    rows: usize,
    terms: usize,
    a: *const f32,
    b: *const f32,
    cols: usize,
    beta: f32,
    c: *mut f32,
    ldc: usize,
) {
    for panel in 0..cols.div_ceil(NR) {
        let width = NR.min(cols - panel * NR);
        for tile_at in (0..rows).step_by(MR) {
            let tile_rows = MR.min(rows - tile_at);
            // SAFETY: the panel is `terms` rows of 32 inside the packed block of `b`, the
            // tile `terms` rows of 12 inside that of `a`; its part of `c` is inside the
            // caller's.
            unsafe {
                let b = b.add(panel * terms * NR);
                let a = a.add(tile_at * terms);
                let c = c.add(tile_at * ldc + panel * NR);
                match tile_rows {
                    12 => tile::<12>(terms, a, b, width, beta, c, ldc),
                    11 => tile::<11>(terms, a, b, width, beta, c, ldc),
                    10 => tile::<10>(terms, a, b, width, beta, c, ldc),
                    9 => tile::<9>(terms, a, b, width, beta, c, ldc),
                    8 => tile::<8>(terms, a, b, width, beta, c, ldc),
                    7 => tile::<7>(terms, a, b, width, beta, c, ldc),
                    6 => tile::<6>(terms, a, b, width, beta, c, ldc),
                    5 => tile::<5>(terms, a, b, width, beta, c, ldc),
                    4 => tile::<4>(terms, a, b, width, beta, c, ldc),
                    3 => tile::<3>(terms, a, b, width, beta, c, ldc),
                    2 => tile::<2>(terms, a, b, width, beta, c, ldc),
                    _ => tile::<1>(terms, a, b, width, beta, c, ldc),
                }
            }
        }
    }
}

/// `R` rows × `width` (≤ 32) columns of `c` = the packed tile of `a` (`terms` × 12) times one
/// packed panel of `b` (`terms` × 32) + `beta`·`c`.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn tile<const R: usize>(
    terms: usize,
    a: *const f32,
    b: *const f32,
    width: usize,
    beta: f32,
    c: *mut f32,
    ldc: usize,
) {
    let mut sums = [[_mm512_setzero_ps(); 2]; R];
    for term in 0..terms {
        // SAFETY (every load and store): inside the packed tile and panel, and inside `c`'s
        // rows under the masks, as the caller promised.
        let (low, high) = unsafe {
            let row = b.add(term * NR);
            (_mm512_load_ps(row), _mm512_load_ps(row.add(16)))
        };
        for (r, sum) in sums.iter_mut().enumerate() {
            let value = _mm512_set1_ps(unsafe { *a.add(term * MR + r) });
            sum[0] = _mm512_fmadd_ps(value, low, sum[0]);
            sum[1] = _mm512_fmadd_ps(value, high, sum[1]);
        }
    }
    let masks = [mask(width), mask(width.saturating_sub(16))];
    let beta_ = _mm512_set1_ps(beta);
    for (r, sum) in sums.iter().enumerate() {
        for (half, (sum, mask)) in sum.iter().zip(masks).enumerate() {
            unsafe {
                let at = c.add(r * ldc + half * 16);
                let value = match beta == 0.0 {
                    true => *sum,
                    false => _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, at), beta_, *sum),
                };
                _mm512_mask_storeu_ps(at, mask, value);
            }
        }
    }
}

/// The first `count` (at most 16) lanes.
#[inline(always)]
fn mask(count: usize) -> __mmask16 {
    ((1u32 << count.min(16)) - 1) as __mmask16
}

#[cfg(test)]
mod tests {
    use super::pack::transpose16;
    use super::*;

    /// The product against the definition (sums in f64) for sizes around the tile's and the
    /// blocks' edges, with every layout of `a` and `b` (row-major, transposed, neither) and
    /// `beta` 0 (`c` not read: it starts as NaN) or not.
    #[test]
    fn the_product_is_the_definition() {
        if !available() {
            return;
        }
        let sizes = [
            [1, 1, 1],
            [12, 16, 32],
            [13, 17, 33],
            [7, 300, 70],
            [128, 513, 100],
            [30, 40, 600],
            [25, 0, 9],
        ];
        for [m, k, n] in sizes {
            for (a_t, b_t, beta) in [
                (false, false, 0.0),
                (true, false, 0.0),
                (false, true, 0.0),
                (true, true, 0.5),
                (false, false, -2.0),
            ] {
                check([m, k, n], a_t, b_t, beta);
            }
        }
    }

    fn check([m, k, n]: [usize; 3], a_t: bool, b_t: bool, beta: f32) {
        let value = |i: usize, seed: usize| ((i * 7 + seed) % 23) as f32 / 8.0 - 1.375;
        let a: Vec<f32> = (0..m * k + 3).map(|i| value(i, 1)).collect();
        let b: Vec<f32> = (0..k * n + 5).map(|i| value(i, 4)).collect();
        // A row-major matrix, or its transpose stored row-major (column stride 1 → row 1).
        let strided = |at: &[f32], rows: usize, cols: usize, t: bool| match t {
            false => Strided {
                at: at.as_ptr(),
                row: cols,
                col: 1,
            },
            true => Strided {
                at: at.as_ptr(),
                row: 1,
                col: rows,
            },
        };
        let (sa, sb) = (strided(&a, m, k, a_t), strided(&b, k, n, b_t));
        let ldc = n + 3;
        let before: Vec<f32> = (0..m * ldc).map(|i| value(i, 9)).collect();
        let mut c = match beta == 0.0 {
            true => vec![f32::NAN; m * ldc],
            false => before.clone(),
        };
        // SAFETY: the test's CPU has AVX-512F; the strides stay inside the vectors.
        unsafe { multiply([m, k, n], sa, sb, beta, c.as_mut_ptr(), ldc) };
        for r in 0..m {
            for j in 0..ldc {
                let got = c[r * ldc + j];
                let at = ([m, k, n], a_t, b_t, beta, r, j);
                if j >= n {
                    // Past the product's columns: untouched.
                    let untouched = if beta == 0.0 {
                        got.is_nan()
                    } else {
                        got == before[r * ldc + j]
                    };
                    assert!(untouched, "{at:?}");
                    continue;
                }
                // SAFETY: inside the matrices.
                let sum: f64 = (0..k)
                    .map(|p| unsafe { f64::from(sa.get(r, p)) * f64::from(sb.get(p, j)) })
                    .sum();
                let expected = sum + f64::from(beta) * f64::from(before[r * ldc + j]);
                let terms: f64 = (0..k)
                    .map(|p| unsafe { f64::from(sa.get(r, p) * sb.get(p, j)).abs() })
                    .sum();
                let bound = 1e-6 * (terms + 1.0);
                assert!(
                    (f64::from(got) - expected).abs() <= bound,
                    "{at:?}: {got} against {expected}"
                );
            }
        }
    }

    /// The transpose in registers against the definition.
    #[test]
    fn sixteen_by_sixteen_transposes() {
        if !available() {
            return;
        }
        let values: Vec<f32> = (0..256).map(|i| i as f32).collect();
        // SAFETY: AVX-512F (checked); 16 loads of 16 inside `values`, stores inside `out`.
        let out = unsafe {
            let rows = std::array::from_fn(|j| _mm512_loadu_ps(values.as_ptr().add(j * 16)));
            let mut out = [0.0f32; 256];
            for (i, row) in transpose16(rows).iter().enumerate() {
                _mm512_storeu_ps(out.as_mut_ptr().add(i * 16), *row);
            }
            out
        };
        for i in 0..16 {
            for j in 0..16 {
                assert_eq!(out[i * 16 + j], values[j * 16 + i], "({i}, {j})");
            }
        }
    }
}
