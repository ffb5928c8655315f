//! Packing for [`super::multiply`]: the blocks of `a` and `b` copied into the order the tile
//! reads them, vectorised for each layout the dense layers and convolutions pass.

use std::arch::x86_64::*;
use std::cell::RefCell;

use super::{MR, NR, Strided, mask};

/// Each thread's packing buffers, kept between products (no allocation, no page faults).
pub(super) struct Packed {
    a: Vec<f32>,
    b: Vec<f32>,
}

thread_local! {
    pub(super) static PACKED: RefCell<Packed> = const { RefCell::new(Packed { a: Vec::new(), b: Vec::new() }) };
}

/// `values` floats of `buffer` from a 64-byte boundary (so no row of a panel straddles two
/// cache lines), grown when short.
fn aligned(buffer: &mut Vec<f32>, values: usize) -> &mut [f32] {
    let slack = 64 / size_of::<f32>();
    if buffer.len() < values + slack {
        *buffer = vec![0.0; values + slack];
    }
    let start = buffer.as_ptr().align_offset(64).min(slack);
    &mut buffer[start..start + values]
}

impl Packed {
    /// Rows `first_row..+rows` × terms `first_term..+terms` of `a` in tiles of [`MR`] rows,
    /// each tile term by term, each term's 12 values side by side (zeros past `rows`).
    ///
    /// # Safety
    /// That part of `a` is inside its values.
    pub(super) unsafe fn a(
        &mut self,
        a: Strided,
        first_row: usize,
        rows: usize,
        first_term: usize,
        terms: usize,
    ) -> *const f32 {
        let block = aligned(&mut self.a, rows.div_ceil(MR) * terms * MR);
        if a.row == 1 {
            // Term by term across the block: each column of `a` read in order.
            // SAFETY: inside `a` (the caller's promise).
            unsafe { pack_columns(a, first_row, rows, first_term, block) };
            return block.as_ptr();
        }
        for (t, packed) in block.chunks_exact_mut(terms * MR).enumerate() {
            let first_row = first_row + t * MR;
            let rows = MR.min(rows - t * MR);
            // SAFETY: the tile's rows and terms are inside `a` (the caller's promise).
            unsafe {
                if a.col == 1 {
                    transpose_rows(a, first_row, rows, first_term, packed);
                } else {
                    for (term, packed) in packed.chunks_exact_mut(MR).enumerate() {
                        for (r, value) in packed.iter_mut().enumerate() {
                            *value = match r < rows {
                                true => a.get(first_row + r, first_term + term),
                                false => 0.0,
                            };
                        }
                    }
                }
            }
        }
        block.as_ptr()
    }

    /// Terms `first_term..+terms` × columns `first_col..+cols` of `b` in panels of [`NR`]
    /// columns, each panel term by term (zeros past `cols`).
    ///
    /// # Safety
    /// That part of `b` is inside its values.
    pub(super) unsafe fn b(
        &mut self,
        b: Strided,
        first_term: usize,
        terms: usize,
        first_col: usize,
        cols: usize,
    ) -> *const f32 {
        let panels = cols.div_ceil(NR);
        let block = aligned(&mut self.b, panels * terms * NR);
        if b.col == 1 {
            // Row by row across the block: each row's values are read in order (a row per
            // panel would jump a whole row of `b` each time, which the prefetchers do not
            // follow from one page to the next).
            // SAFETY: inside `b` (the caller's promise).
            unsafe { pack_rows(b, first_term, first_col, cols, block) };
            return block.as_ptr();
        }
        for (panel, packed) in block.chunks_exact_mut(terms * NR).enumerate() {
            let col = first_col + panel * NR;
            let width = NR.min(cols - panel * NR);
            // SAFETY: inside `b` (the caller's promise).
            unsafe {
                if b.row == 1 && width == NR {
                    transpose_columns(b, first_term, col, packed);
                } else {
                    for (term, row) in packed.chunks_exact_mut(NR).enumerate() {
                        for (j, value) in row.iter_mut().enumerate() {
                            *value = match j < width {
                                true => b.get(first_term + term, col + j),
                                false => 0.0,
                            };
                        }
                    }
                }
            }
        }
        block.as_ptr()
    }
}

/// A block of `a` whose columns are contiguous (`a.row` is 1) into its tiles, term by
/// term (zeros past `rows`).
///
/// # Safety
/// AVX-512F; the block is inside `a`.
#[target_feature(enable = "avx512f")]
unsafe fn pack_columns(
    a: Strided,
    first_row: usize,
    rows: usize,
    first_term: usize,
    block: &mut [f32],
) {
    let tiles = rows.div_ceil(MR);
    let terms = block.len() / (tiles * MR);
    for term in 0..terms {
        // SAFETY: the term's `rows` values from `first_row` are inside `a`.
        let column = unsafe { a.at.add((first_term + term) * a.col + first_row) };
        for tile in 0..tiles {
            let load = mask(MR.min(rows - tile * MR));
            // SAFETY: `a`'s values under the mask; 12 values of the tile's term.
            unsafe {
                let values = _mm512_maskz_loadu_ps(load, column.add(tile * MR));
                let to = block.as_mut_ptr().add((tile * terms + term) * MR);
                _mm512_mask_storeu_ps(to, mask(MR), values);
            }
        }
    }
}

/// A tile of a row-major `a` (`a.col` is 1): 16 terms of its rows (zeros past `rows`) at a
/// time transposed in registers.
///
/// # Safety
/// AVX-512F; the tile is inside `a`.
#[target_feature(enable = "avx512f")]
unsafe fn transpose_rows(
    a: Strided,
    first_row: usize,
    rows: usize,
    first_term: usize,
    packed: &mut [f32],
) {
    let terms = packed.len() / MR;
    let whole = terms / 16 * 16;
    for term in (0..whole).step_by(16) {
        // SAFETY: 16 terms of `rows` rows inside `a`; 16 terms of the tile inside it.
        unsafe {
            let block: [__m512; 16] = std::array::from_fn(|r| match r < rows {
                true => _mm512_loadu_ps(a.at.add((first_row + r) * a.row + first_term + term)),
                false => _mm512_setzero_ps(),
            });
            for (t, column) in transpose16(block).iter().enumerate() {
                _mm512_mask_storeu_ps(packed.as_mut_ptr().add((term + t) * MR), mask(MR), *column);
            }
        }
    }
    for term in whole..terms {
        for r in 0..MR {
            packed[term * MR + r] = match r < rows {
                // SAFETY: inside `a`.
                true => unsafe { a.get(first_row + r, first_term + term) },
                false => 0.0,
            };
        }
    }
}

/// A block of `b` whose rows are contiguous (`b.col` is 1) into its panels, row by row.
///
/// # Safety
/// AVX-512F; the block is inside `b`.
#[target_feature(enable = "avx512f")]
unsafe fn pack_rows(
    b: Strided,
    first_term: usize,
    first_col: usize,
    cols: usize,
    block: &mut [f32],
) {
    let panels = cols.div_ceil(NR);
    let terms = block.len() / (panels * NR);
    for term in 0..terms {
        // SAFETY: the row's `cols` values from `first_col` are inside `b`.
        let row = unsafe { b.at.add((first_term + term) * b.row + first_col) };
        for panel in 0..panels {
            let width = NR.min(cols - panel * NR);
            let masks = [mask(width), mask(width.saturating_sub(16))];
            for (half, mask) in masks.into_iter().enumerate() {
                let at = panel * NR + half * 16;
                // SAFETY: `b`'s values under the mask; 16 of the panel's row, inside the
                // block (aligned: panels and rows are multiples of 16 values).
                unsafe {
                    let values = _mm512_maskz_loadu_ps(mask, row.add(at));
                    let to = block
                        .as_mut_ptr()
                        .add((panel * terms + term) * NR + half * 16);
                    _mm512_store_ps(to, values);
                }
            }
        }
    }
}

/// A whole panel of a transposed `b` (columns contiguous: `b.row` is 1): 16 × 16 blocks read
/// a column at a time and transposed in registers.
///
/// # Safety
/// AVX-512F; the panel's 32 columns are inside `b`.
#[target_feature(enable = "avx512f")]
unsafe fn transpose_columns(b: Strided, first_term: usize, col: usize, packed: &mut [f32]) {
    let terms = packed.len() / NR;
    let whole = terms / 16 * 16;
    for half in 0..2 {
        let col = col + half * 16;
        for term in (0..whole).step_by(16) {
            // SAFETY: 16 columns of 16 terms inside `b`; 16 rows of the panel inside it.
            unsafe {
                let column = |j: usize| b.at.add((col + j) * b.col + first_term + term);
                let block: [__m512; 16] = std::array::from_fn(|j| _mm512_loadu_ps(column(j)));
                let rows = transpose16(block);
                for (t, row) in rows.iter().enumerate() {
                    _mm512_storeu_ps(packed.as_mut_ptr().add((term + t) * NR + half * 16), *row);
                }
            }
        }
        for term in whole..terms {
            for j in 0..16 {
                // SAFETY: inside `b` and the panel.
                packed[term * NR + half * 16 + j] = unsafe { b.get(first_term + term, col + j) };
            }
        }
    }
}

/// 16 registers of 16 values transposed: lane `i` of register `j` becomes lane `j` of
/// register `i`.
#[target_feature(enable = "avx512f")]
#[inline]
pub(super) fn transpose16(r: [__m512; 16]) -> [__m512; 16] {
    // Pairs of rows interleaved (2 × 2 blocks), then pairs of pairs (4 × 4), then the
    // 128-bit lanes (8 × 8, then 16 × 16).
    let t: [__m512; 16] = std::array::from_fn(|i| {
        let (x, y) = (r[i & !1], r[i | 1]);
        match i % 2 {
            0 => _mm512_unpacklo_ps(x, y),
            _ => _mm512_unpackhi_ps(x, y),
        }
    });
    let u: [__m512; 16] = std::array::from_fn(|i| {
        let base = i & !3;
        let (x, y) = (t[base + (i & 2) / 2], t[base + 2 + (i & 2) / 2]);
        match i % 2 {
            0 => _mm512_shuffle_ps::<0x44>(x, y),
            _ => _mm512_shuffle_ps::<0xEE>(x, y),
        }
    });
    let v: [__m512; 16] = std::array::from_fn(|i| {
        let base = i & !7;
        let (x, y) = (u[base + (i & 3)], u[base + 4 + (i & 3)]);
        match i & 4 {
            0 => _mm512_shuffle_f32x4::<0x88>(x, y),
            _ => _mm512_shuffle_f32x4::<0xDD>(x, y),
        }
    });
    std::array::from_fn(|i| {
        let (x, y) = (v[i & 7], v[8 + (i & 7)]);
        match i & 8 {
            0 => _mm512_shuffle_f32x4::<0x88>(x, y),
            _ => _mm512_shuffle_f32x4::<0xDD>(x, y),
        }
    })
}
