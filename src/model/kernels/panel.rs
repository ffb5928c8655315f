//! A dense layer's product for inference on weights packed once: the weights are laid out in
//! panels of [`PANEL`] outputs (each input's 16 weights side by side, one panel after
//! another, zeros past the last output and past the inputs), and each tile of up to
//! [`TILE_ROWS`] images × 16 outputs is summed in twelve AVX2 registers, FMA by FMA, reading
//! the panel straight through. A general product (gemm's) packs the weights again for every
//! call — for a classifier, every block of images — and has no way to take them packed; this
//! is the classic 6×16 register tile of BLIS' Haswell kernel, with the packing moved to when
//! the classifier is made.
//!
//! Where the CPU has AVX-512 the same panels go through a wider tile ([`avx512`]): its 32
//! registers hold the sums of 12 images × 2 panels, so each input's broadcast value serves 32
//! outputs instead of 16 and each panel row loaded 12 images instead of 6.
//!
//! Both skip the inputs that are zero for all of a tile's images, when an eighth or more are
//! ([`Nonzero`]; smaller tiles then, 8 images on AVX-512 and 4 on AVX2): about half of a
//! digit's pixels are background in all of eight images, and a zero input adds nothing to a
//! sum (a finite weight times zero is ±0, and a sum that starts at +0 never becomes −0, so
//! each sum is bit for bit the one over every input). A layer with a weight that is not
//! finite reads every input (0 × ∞ is NaN, as in Burn's forward).
//!
//! Only where the CPU has AVX2 and FMA ([`available`]); elsewhere the classifier multiplies
//! with [`super::product`] as before.

use std::cell::RefCell;
use std::ops::Range;

/// Outputs a panel: two AVX2 registers.
pub const PANEL: usize = 16;

/// Images a tile: 6 × 2 accumulators, 2 weight registers and a broadcast input fit the 16
/// AVX2 registers.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const TILE_ROWS: usize = 6;

/// Whether this CPU runs the panels (AVX2 and FMA).
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("fma");
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// The instructions a product runs on: AVX-512 where the CPU has it, else AVX2 and FMA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
enum Isa {
    Avx2,
    Avx512,
}

impl Isa {
    /// The widest this CPU runs (asked only where [`available`]).
    fn widest() -> Isa {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f") {
            return Isa::Avx512;
        }
        Isa::Avx2
    }

    /// Whether this CPU runs it.
    #[cfg(test)]
    fn runs_here(self) -> bool {
        available() && (self == Isa::Avx2 || Isa::widest() == Isa::Avx512)
    }
}

thread_local! {
    /// Each thread's lists of the inputs its tiles read, kept between calls.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    static NONZERO: RefCell<Nonzero> = const {
        RefCell::new(Nonzero { inputs: Vec::new(), counts: Vec::new() })
    };
}

/// For each tile of images, the inputs some image of it has other than zero, in order (`k`
/// places a tile, the first `counts[tile]` of them used): the inputs a tile that skips zeros
/// reads.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[derive(Default)]
struct Nonzero {
    inputs: Vec<u32>,
    counts: Vec<usize>,
}

/// A tile's scan for [`Nonzero`]: its images' rows (`k` values each), `k`, room for `k`
/// inputs; how many it listed.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
type Scan = unsafe fn(&[f32], usize, &mut [u32]) -> usize;

#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
impl Nonzero {
    /// Each tile's (of `tile_rows` images) inputs that some of its images has other than zero
    /// (NaN included); whether skipping the others pays: an eighth of them or more zero, in
    /// the first tile (else the others are not looked at) and in all.
    ///
    /// # Safety
    /// The CPU runs `scan` (which lists one tile's inputs into `out` and counts them).
    unsafe fn find(&mut self, x: &[f32], [images, k, tile_rows]: [usize; 3], scan: Scan) -> bool {
        let tiles = images.div_ceil(tile_rows);
        if self.inputs.len() < tiles * k {
            self.inputs.resize(tiles * k, 0);
        }
        self.counts.clear();
        for (tile, first) in (0..images).step_by(tile_rows).enumerate() {
            let rows = &x[first * k..images.min(first + tile_rows) * k];
            let out = &mut self.inputs[tile * k..][..k];
            // SAFETY: the caller's promise.
            let found = unsafe { scan(rows, k, out) };
            self.counts.push(found);
            if tile == 0 && found * 8 > k * 7 {
                // Dense (a hidden layer's activations, mostly): the rest not looked at.
                return false;
            }
        }
        let nonzero: usize = self.counts.iter().sum();
        nonzero * 8 <= tiles * k * 7
    }
}

/// `n` rounded up to whole panels.
pub fn padded(n: usize) -> usize {
    n.div_ceil(PANEL) * PANEL
}

/// A layer's weights `[inputs, outputs]` in panels, for `rows` inputs (`inputs` or more: the
/// previous layer's padded outputs, whose extra inputs get zero weights).
#[derive(Debug)]
// Elsewhere nothing packs panels (`available()` is false) nor reads them.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub struct Panels {
    values: Vec<f32>,
    /// Where the first panel starts in `values`: a 64-byte boundary, so no load of a
    /// panel's row straddles two cache lines.
    start: usize,
    rows: usize,
    panels: usize,
    /// Whether every weight is finite: then a zero input's products are all zero, and the
    /// tiles may skip them.
    finite: bool,
}

impl Panels {
    /// `weight` (`[inputs, outputs]`, row-major, Burn's `Linear` layout) packed for `rows`
    /// inputs (at least `inputs`).
    pub fn pack(weight: &[f32], inputs: usize, outputs: usize, rows: usize) -> Panels {
        assert_eq!(
            weight.len(),
            inputs * outputs,
            "weights of [inputs, outputs]"
        );
        assert!(rows >= inputs, "packed for at least the layer's inputs");
        let panels = outputs.div_ceil(PANEL);
        let align = 64 / size_of::<f32>();
        let mut values = vec![0.0f32; panels * rows * PANEL + align];
        let start = values.as_ptr().align_offset(64).min(align);
        for input in 0..inputs {
            let row = &weight[input * outputs..][..outputs];
            for (panel, chunk) in row.chunks(PANEL).enumerate() {
                let at = start + (panel * rows + input) * PANEL;
                values[at..at + chunk.len()].copy_from_slice(chunk);
            }
        }
        Panels {
            values,
            start,
            rows,
            panels,
            finite: weight.iter().all(|w| w.is_finite()),
        }
    }

    /// `y [images, padded outputs] = x [images, rows] · weights`, `x` and `y` row-major.
    pub fn multiply(&self, x: &[f32], images: usize, y: &mut [f32]) {
        self.multiply_with(Isa::widest(), x, images, 0..self.panels, y)
    }

    /// How many panels there are.
    pub fn count(&self) -> usize {
        self.panels
    }

    /// One image's outputs of the panels `from..to` into `y` (16 values a panel), summed as
    /// [`Panels::multiply`] sums them: two threads can each take a part of a layer.
    pub fn multiply_panels(&self, x: &[f32], from: usize, to: usize, y: &mut [f32]) {
        self.multiply_with(Isa::widest(), x, 1, from..to, y)
    }

    /// `y` (`[images, 16 × panels.len()]`) = `x` times the weights of `panels`, on `isa`'s
    /// kernel: `widest`, or one a test found this CPU runs.
    fn multiply_with(
        &self,
        isa: Isa,
        x: &[f32],
        images: usize,
        panels: Range<usize>,
        y: &mut [f32],
    ) {
        assert!(
            panels.start <= panels.end && panels.end <= self.panels,
            "panels of the layer"
        );
        let (k, width) = (self.rows, panels.len() * PANEL);
        assert!(x.len() >= images * k, "every image's inputs");
        assert!(y.len() >= images * width, "room for every output");
        if k == 0 {
            y[..images * width].fill(0.0);
            return;
        }
        #[cfg(target_arch = "x86_64")]
        if available() {
            let weights = &self.values[self.start + panels.start * k * PANEL..][..width * k];
            // SAFETY: this CPU has AVX2 and FMA (checked just above), and AVX-512 where `isa`
            // says so; the sizes were asserted: every tile reads inside `x` and `weights` and
            // writes inside `y`.
            unsafe {
                match isa {
                    Isa::Avx512 => avx512::multiply(x, images, k, weights, y, width, self.finite),
                    Isa::Avx2 => avx2::multiply(x, images, k, weights, y, width, self.finite),
                }
            }
            return;
        }
        unreachable!("panels are packed only where `available()`");
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{NONZERO, PANEL, TILE_ROWS};

    /// Images a tile that skips inputs: 8 sums, 2 panel halves and 4 broadcasts fit the 16
    /// registers however LLVM orders the loads (with 6 images they might not).
    const SKIPPING_ROWS: usize = 4;

    /// Every panel, then every tile of images down it (so the panel, `k` × 64 bytes, stays in
    /// the core's cache while the block's images stream past it); inputs zero for a whole
    /// tile skipped as in [`super::avx512`], in tiles of [`SKIPPING_ROWS`].
    ///
    /// # Safety
    /// AVX2 and FMA; `x` is `images` rows of `k`, `panels` `y_width / 16` panels of `k` rows,
    /// `y` at least `images` rows of `y_width`.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn multiply(
        x: &[f32],
        images: usize,
        k: usize,
        panels: &[f32],
        y: &mut [f32],
        y_width: usize,
        skip_zeros: bool,
    ) {
        NONZERO.with_borrow_mut(|nonzero| {
            // A single panel does not pay for the lists: the seed network's first layer ran
            // 20 % slower skipping (its digits, one panel of 16 outputs, tiles of 4).
            let worth_listing = panels.len() >= 2 * k * PANEL;
            // SAFETY: AVX2 (the caller's promise).
            let skipping = skip_zeros
                && worth_listing
                && unsafe { nonzero.find(x, [images, k, SKIPPING_ROWS], nonzero_inputs) };
            let tile_rows = if skipping { SKIPPING_ROWS } else { TILE_ROWS };
            for (panel, weights) in panels.chunks_exact(k * PANEL).enumerate() {
                for (at, first) in (0..images).step_by(tile_rows).enumerate() {
                    let rows = tile_rows.min(images - first);
                    let x = x[first * k..].as_ptr();
                    let y = y[first * y_width + panel * PANEL..].as_mut_ptr();
                    let w = weights.as_ptr();
                    // SAFETY: `rows` rows of `x` from `first` and of `y` (16 values each, from
                    // this panel's column) lie inside them; the panel is `k` rows of 16; every
                    // listed input is below `k`.
                    unsafe {
                        if skipping {
                            let inputs = &nonzero.inputs[at * k..][..nonzero.counts[at]];
                            match rows {
                                4 => tile_listed::<4>(x, k, w, inputs, y, y_width),
                                3 => tile_listed::<3>(x, k, w, inputs, y, y_width),
                                2 => tile_listed::<2>(x, k, w, inputs, y, y_width),
                                _ => tile_listed::<1>(x, k, w, inputs, y, y_width),
                            }
                            continue;
                        }
                        match rows {
                            6 => tile::<6>(x, k, w, y, y_width),
                            5 => tile::<5>(x, k, w, y, y_width),
                            4 => tile::<4>(x, k, w, y, y_width),
                            3 => tile::<3>(x, k, w, y, y_width),
                            2 => tile::<2>(x, k, w, y, y_width),
                            _ => tile::<1>(x, k, w, y, y_width),
                        }
                    }
                }
            }
        })
    }

    /// The inputs (of `k`) that some row of `rows` has other than zero (NaN included), into
    /// `out` in order; how many. Eight at a time: a compare a row, then the mask's bits.
    ///
    /// # Safety
    /// AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn nonzero_inputs(rows: &[f32], k: usize, out: &mut [u32]) -> usize {
        let mut found = 0;
        let mut push = |from: usize, mut some: u32| {
            while some != 0 {
                out[found] = (from + some.trailing_zeros() as usize) as u32;
                found += 1;
                some &= some - 1;
            }
        };
        let whole = k / 8 * 8;
        for from in (0..whole).step_by(8) {
            let mut some = 0;
            for row in rows.chunks_exact(k) {
                // SAFETY: 8 values of the row from `from`, inside it.
                let values = unsafe { _mm256_loadu_ps(row.as_ptr().add(from)) };
                let other = _mm256_cmp_ps::<_CMP_NEQ_UQ>(values, _mm256_setzero_ps());
                some |= _mm256_movemask_ps(other) as u32;
            }
            push(from, some);
        }
        let mut some = 0;
        for row in rows.chunks_exact(k) {
            for (j, value) in row[whole..].iter().enumerate() {
                some |= u32::from(*value != 0.0) << j;
            }
        }
        push(whole, some);
        found
    }

    /// `R` rows of `x` (`k` apart) times one panel into 16 values of `R` rows of `y`
    /// (`y_width` apart), summed in order of the inputs.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn tile<const R: usize>(
        x: *const f32,
        k: usize,
        panel: *const f32,
        y: *mut f32,
        y_width: usize,
    ) {
        let mut sums = [[_mm256_setzero_ps(); 2]; R];
        for input in 0..k {
            // SAFETY (the loads and stores): inside the tile, as the caller promised.
            let (low, high) = unsafe {
                let row = panel.add(input * PANEL);
                (_mm256_loadu_ps(row), _mm256_loadu_ps(row.add(8)))
            };
            for (r, sum) in sums.iter_mut().enumerate() {
                let value = unsafe { _mm256_broadcast_ss(&*x.add(r * k + input)) };
                sum[0] = _mm256_fmadd_ps(value, low, sum[0]);
                sum[1] = _mm256_fmadd_ps(value, high, sum[1]);
            }
        }
        // SAFETY: inside the tile's rows of `y`, as the caller promised.
        unsafe { store(&sums, y, y_width) }
    }

    /// [`tile`] over `inputs` only, in order (a loop of its own, as [`super::avx512`]'s).
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn tile_listed<const R: usize>(
        x: *const f32,
        k: usize,
        panel: *const f32,
        inputs: &[u32],
        y: *mut f32,
        y_width: usize,
    ) {
        let mut sums = [[_mm256_setzero_ps(); 2]; R];
        for &input in inputs {
            let input = input as usize;
            // SAFETY (the loads): inside the tile, as the caller promised.
            let (low, high) = unsafe {
                let row = panel.add(input * PANEL);
                (_mm256_loadu_ps(row), _mm256_loadu_ps(row.add(8)))
            };
            for (r, sum) in sums.iter_mut().enumerate() {
                let value = unsafe { _mm256_broadcast_ss(&*x.add(r * k + input)) };
                sum[0] = _mm256_fmadd_ps(value, low, sum[0]);
                sum[1] = _mm256_fmadd_ps(value, high, sum[1]);
            }
        }
        // SAFETY: inside the tile's rows of `y`, as the caller promised.
        unsafe { store(&sums, y, y_width) }
    }

    /// A tile's sums into its `R` rows of `y` (`y_width` apart).
    ///
    /// # Safety
    /// AVX; 16 values of each row inside `y`.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn store<const R: usize>(sums: &[[__m256; 2]; R], y: *mut f32, y_width: usize) {
        for (r, sum) in sums.iter().enumerate() {
            unsafe {
                let row = y.add(r * y_width);
                _mm256_storeu_ps(row, sum[0]);
                _mm256_storeu_ps(row.add(8), sum[1]);
            }
        }
    }
}

/// The panels through AVX-512: tiles of 12 images × 2 panels (24 accumulators of the 32
/// registers, 2 for the panels' rows, 1 for the broadcast input); a last odd panel goes alone.
/// Each output summed in the same order as [`avx2`]'s, one FMA an input; where inputs are
/// skipped, tiles of 8 images over the others, in the same order.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::{NONZERO, PANEL};

    /// Images a tile.
    const ROWS: usize = 12;

    /// Images a tile that skips inputs: 16 sums, 8 broadcasts and 2 panel rows fit the 32
    /// registers even where LLVM loads every broadcast ahead of the FMAs (with 12 images it
    /// did, and spilled the sums to the stack on every input).
    const SKIPPING_ROWS: usize = 8;

    /// Every pair of panels, then every tile of images down it. Where `skip_zeros` (the
    /// weights are finite: each product by a zero input is zero) and a good share of the
    /// inputs are zero for all of a tile's images (a digit's blank border and background: half
    /// the pixels of 8 digits), the tiles sum over the others only, in the same order.
    ///
    /// # Safety
    /// AVX-512F; `x` is `images` rows of `k`, `panels` `y_width / 16` panels of `k` rows,
    /// `y` at least `images` rows of `y_width`.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn multiply(
        x: &[f32],
        images: usize,
        k: usize,
        panels: &[f32],
        y: &mut [f32],
        y_width: usize,
        skip_zeros: bool,
    ) {
        NONZERO.with_borrow_mut(|nonzero| {
            // SAFETY: AVX-512F (the caller's promise).
            let skipping = skip_zeros
                && unsafe { nonzero.find(x, [images, k, SKIPPING_ROWS], nonzero_inputs) };
            let tile_rows = if skipping { SKIPPING_ROWS } else { ROWS };
            let count = panels.len() / (k * PANEL);
            let mut panel = 0;
            while panel < count {
                let pair = count - panel >= 2;
                let w = panels[panel * k * PANEL..].as_ptr();
                for (tile, first) in (0..images).step_by(tile_rows).enumerate() {
                    let rows = tile_rows.min(images - first);
                    let inputs = match skipping {
                        true => Some(&nonzero.inputs[tile * k..][..nonzero.counts[tile]]),
                        false => None,
                    };
                    let x = x[first * k..].as_ptr();
                    let y = y[first * y_width + panel * PANEL..].as_mut_ptr();
                    // SAFETY: `rows` rows of `x` from `first` and of `y` (16 values a panel,
                    // from this panel's column) lie inside them; each panel is `k` rows of
                    // 16; every listed input is below `k`.
                    unsafe {
                        match pair {
                            true => rows_of::<2>(rows, x, k, w, inputs, y, y_width),
                            false => rows_of::<1>(rows, x, k, w, inputs, y, y_width),
                        }
                    }
                }
                panel += if pair { 2 } else { 1 };
            }
        })
    }

    /// The inputs (of `k`) that some row of `rows` has other than zero (NaN included), into
    /// `out` in order; how many. Sixteen at a time: a compare a row, the indices under the
    /// mask stored side by side.
    ///
    /// # Safety
    /// AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn nonzero_inputs(rows: &[f32], k: usize, out: &mut [u32]) -> usize {
        let offsets = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        let mut found = 0;
        for from in (0..k).step_by(16) {
            let lanes: __mmask16 = ((1u32 << 16.min(k - from)) - 1) as __mmask16;
            let mut some: __mmask16 = 0;
            for row in rows.chunks_exact(k) {
                // SAFETY: the lanes under the mask are inside the row.
                let values = unsafe { _mm512_maskz_loadu_ps(lanes, row.as_ptr().add(from)) };
                let zero = _mm512_setzero_ps();
                some |= _mm512_mask_cmp_ps_mask::<_CMP_NEQ_UQ>(lanes, values, zero);
            }
            let inputs = _mm512_add_epi32(_mm512_set1_epi32(from as i32), offsets);
            // SAFETY: as many values as `some` has bits, at most the inputs from `from` on:
            // inside `out`.
            unsafe {
                _mm512_mask_compressstoreu_epi32(out.as_mut_ptr().add(found).cast(), some, inputs)
            };
            found += some.count_ones() as usize;
        }
        found
    }

    /// The tile for `rows` images: over every input (1 to [`ROWS`] rows), or over `inputs`
    /// (1 to [`SKIPPING_ROWS`]).
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn rows_of<const P: usize>(
        rows: usize,
        x: *const f32,
        k: usize,
        w: *const f32,
        inputs: Option<&[u32]>,
        y: *mut f32,
        y_width: usize,
    ) {
        // SAFETY: as the caller promised, for these rows.
        unsafe {
            let Some(inputs) = inputs else {
                return match rows {
                    12 => tile::<12, P>(x, k, w, y, y_width),
                    11 => tile::<11, P>(x, k, w, y, y_width),
                    10 => tile::<10, P>(x, k, w, y, y_width),
                    9 => tile::<9, P>(x, k, w, y, y_width),
                    8 => tile::<8, P>(x, k, w, y, y_width),
                    7 => tile::<7, P>(x, k, w, y, y_width),
                    6 => tile::<6, P>(x, k, w, y, y_width),
                    5 => tile::<5, P>(x, k, w, y, y_width),
                    4 => tile::<4, P>(x, k, w, y, y_width),
                    3 => tile::<3, P>(x, k, w, y, y_width),
                    2 => tile::<2, P>(x, k, w, y, y_width),
                    _ => tile::<1, P>(x, k, w, y, y_width),
                };
            };
            match rows {
                8 => tile_listed::<8, P>(x, k, w, inputs, y, y_width),
                7 => tile_listed::<7, P>(x, k, w, inputs, y, y_width),
                6 => tile_listed::<6, P>(x, k, w, inputs, y, y_width),
                5 => tile_listed::<5, P>(x, k, w, inputs, y, y_width),
                4 => tile_listed::<4, P>(x, k, w, inputs, y, y_width),
                3 => tile_listed::<3, P>(x, k, w, inputs, y, y_width),
                2 => tile_listed::<2, P>(x, k, w, inputs, y, y_width),
                _ => tile_listed::<1, P>(x, k, w, inputs, y, y_width),
            }
        }
    }

    /// `R` rows of `x` (`k` apart) times `P` panels (`k` × 16 apart) into 16 values a panel of
    /// `R` rows of `y` (`y_width` apart), summed in order of the inputs.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn tile<const R: usize, const P: usize>(
        x: *const f32,
        k: usize,
        w: *const f32,
        y: *mut f32,
        y_width: usize,
    ) {
        let mut sums = [[_mm512_setzero_ps(); P]; R];
        for input in 0..k {
            // SAFETY (the loads and stores): inside the tile, as the caller promised.
            let rows: [__m512; P] =
                std::array::from_fn(|p| unsafe { _mm512_loadu_ps(w.add((p * k + input) * PANEL)) });
            for (r, sum) in sums.iter_mut().enumerate() {
                let value = _mm512_set1_ps(unsafe { *x.add(r * k + input) });
                for (sum, row) in sum.iter_mut().zip(&rows) {
                    *sum = _mm512_fmadd_ps(value, *row, *sum);
                }
            }
        }
        for (r, sum) in sums.iter().enumerate() {
            for (p, sum) in sum.iter().enumerate() {
                unsafe { _mm512_storeu_ps(y.add(r * y_width + p * PANEL), *sum) };
            }
        }
    }

    /// [`tile`] over `inputs` only, in order. A loop of its own: one tile generic over the
    /// inputs (`0..k` or the list) had LLVM unroll the loop over every input by four and spill
    /// its sums (4.9 against 4.4 ms for [512,512] at batch 1024).
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn tile_listed<const R: usize, const P: usize>(
        x: *const f32,
        k: usize,
        w: *const f32,
        inputs: &[u32],
        y: *mut f32,
        y_width: usize,
    ) {
        let mut sums = [[_mm512_setzero_ps(); P]; R];
        for &input in inputs {
            let input = input as usize;
            // SAFETY (the loads and stores): inside the tile, as the caller promised.
            let rows: [__m512; P] =
                std::array::from_fn(|p| unsafe { _mm512_loadu_ps(w.add((p * k + input) * PANEL)) });
            for (r, sum) in sums.iter_mut().enumerate() {
                let value = _mm512_set1_ps(unsafe { *x.add(r * k + input) });
                for (sum, row) in sum.iter_mut().zip(&rows) {
                    *sum = _mm512_fmadd_ps(value, *row, *sum);
                }
            }
        }
        for (r, sum) in sums.iter().enumerate() {
            for (p, sum) in sum.iter().enumerate() {
                unsafe { _mm512_storeu_ps(y.add(r * y_width + p * PANEL), *sum) };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The panels' product against the definition, for sizes around the panel's and the
    /// tile's edges, with inputs packed wider than the layer's.
    #[test]
    fn panels_multiply_as_the_definition() {
        let isas = [Isa::Avx2, Isa::Avx512]
            .into_iter()
            .filter(|isa| isa.runs_here());
        for isa in isas {
            for sizes in [
                (1, 1, 1, 1),
                (7, 3, 17, 16),
                (13, 784, 16, 784),
                (6, 20, 33, 32),
                (5, 16, 10, 16),
                (25, 9, 40, 9),
                (12, 5, 64, 16),
            ] {
                check(isa, sizes);
            }
        }
    }

    fn check(isa: Isa, (images, inputs, outputs, rows): (usize, usize, usize, usize)) {
        let weight: Vec<f32> = (0..inputs * outputs)
            .map(|i| (i % 7) as f32 - 3.0)
            .collect();
        let x: Vec<f32> = (0..images * rows)
            .map(|i| {
                if i % rows < inputs {
                    (i % 5) as f32 * 0.5
                } else {
                    9.0
                }
            })
            .collect();
        let panels = Panels::pack(&weight, inputs, outputs, rows);
        let width = padded(outputs);
        let mut y = vec![f32::NAN; images * width];
        panels.multiply_with(isa, &x, images, 0..panels.count(), &mut y);
        for image in 0..images {
            for output in 0..width {
                let expected: f32 = match output < outputs {
                    true => (0..inputs)
                        .map(|i| x[image * rows + i] * weight[i * outputs + output])
                        .sum(),
                    false => 0.0,
                };
                let at = (image, output);
                assert_eq!(y[image * width + output], expected, "{isa:?} {at:?}");
            }
        }
    }

    /// Each tile's list is its images' inputs other than zero (NaN kept, −0 skipped), in
    /// order; skipping is chosen from an eighth of zeros, and not where the first tile is
    /// dense.
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn the_lists_are_the_inputs_other_than_zero() {
        let scans: [(Isa, Scan); 2] = [
            (Isa::Avx2, avx2::nonzero_inputs),
            (Isa::Avx512, avx512::nonzero_inputs),
        ];
        let scans = scans.into_iter().filter(|(isa, _)| isa.runs_here());
        for ((_, scan), tile_rows) in scans.flat_map(|scan| [(scan, 4), (scan, 8)]) {
            // SAFETY: this CPU runs the scan (filtered above).
            let find =
                |nonzero: &mut Nonzero, x: &[f32], dims| unsafe { nonzero.find(x, dims, scan) };
            for (images, k) in [(1, 5), (8, 16), (9, 37), (20, 100)] {
                let x: Vec<f32> = (0..images * k)
                    .map(|i| match (i % k) % 3 {
                        0 => 0.0,
                        1 if i % 7 == 0 => -0.0,
                        1 if i % 11 == 0 => f32::NAN,
                        _ => (i % 5) as f32 - 2.0,
                    })
                    .collect();
                let mut nonzero = Nonzero::default();
                let skipping = find(&mut nonzero, &x, [images, k, tile_rows]);
                let mut all = 0;
                for (tile, first) in (0..images).step_by(tile_rows).enumerate() {
                    let rows = first..images.min(first + tile_rows);
                    let expected: Vec<u32> = (0..k as u32)
                        // NaN != 0 holds; −0 != 0 does not.
                        .filter(|&i| rows.clone().any(|r| x[r * k + i as usize] != 0.0))
                        .collect();
                    let got = &nonzero.inputs[tile * k..][..nonzero.counts[tile]];
                    assert_eq!(got, expected, "{images} × {k}, tile {tile}");
                    all += expected.len();
                }
                let tiles = images.div_ceil(tile_rows);
                assert_eq!(skipping, all * 8 <= tiles * k * 7, "{images} × {k}");
            }
            // Dense in the first tile (one zero in 16), half zeros after it: not skipped.
            let (images, k) = (24, 64);
            let x: Vec<f32> = (0..images * k)
                .map(|i| match (i / k < tile_rows, i % 16, (i % k) % 2) {
                    (true, 0, _) | (false, _, 0) => 0.0,
                    _ => 1.0,
                })
                .collect();
            let mut nonzero = Nonzero::default();
            assert!(!find(&mut nonzero, &x, [images, k, tile_rows]));
        }
    }

    /// Inputs that are zero for whole tiles of images (a digit's background), skipped on
    /// each ISA this CPU runs: the same sums bit for bit as the tiles that read every input, a
    /// NaN input still read; with a weight that is not finite nothing is skipped (0 × ∞ is
    /// NaN, as in Burn's forward).
    #[test]
    fn skipping_zero_inputs_keeps_every_sum() {
        if !available() {
            return;
        }
        let value = |i: usize| ((i * 7919) % 201) as f32 / 100.0 - 1.0;
        for (images, inputs, outputs) in [
            (1, 100, 40),
            (8, 100, 33),
            (9, 37, 16),
            (17, 784, 48),
            (64, 300, 10),
            (3, 16, 64),
        ] {
            // Every third input and the first ten are zero for every image; others now and
            // then; the last image has a NaN where the others have zeros.
            let x: Vec<f32> = (0..images * inputs)
                .map(|i| match (i % inputs, i / inputs) {
                    (12, r) if r + 1 == images => f32::NAN,
                    (c, _) if c % 3 == 0 || c < 10 => 0.0,
                    (c, r) if (c + r) % 4 == 0 => 0.0,
                    _ => value(i),
                })
                .collect();
            let weight: Vec<f32> = (0..inputs * outputs).map(value).collect();
            let skipping = Panels::pack(&weight, inputs, outputs, inputs);
            assert!(skipping.finite);
            let reading_all = Panels {
                finite: false,
                ..Panels::pack(&weight, inputs, outputs, inputs)
            };
            for isa in [Isa::Avx2, Isa::Avx512] {
                if !isa.runs_here() {
                    continue;
                }
                let product = |panels: &Panels| {
                    let mut y = vec![0.5f32; images * padded(outputs)];
                    panels.multiply_with(isa, &x, images, 0..panels.count(), &mut y);
                    y
                };
                let (skipped, read) = (product(&skipping), product(&reading_all));
                for (at, (s, r)) in skipped.iter().zip(&read).enumerate() {
                    let same = s.to_bits() == r.to_bits() || (s.is_nan() && r.is_nan());
                    assert!(
                        same,
                        "{isa:?} {images} × {inputs} → {outputs}, at {at}: {s} against {r}"
                    );
                    // The NaN times every weight of its row, the padding's zeros too.
                    let nan_row = at / padded(outputs) + 1 == images;
                    assert_eq!(s.is_nan(), nan_row, "at {at}: NaN only from the NaN input");
                }
                let mut infinite = weight.clone();
                infinite[outputs] = f32::INFINITY; // input 1 (zero for every image), output 0
                let panels = Panels::pack(&infinite, inputs, outputs, inputs);
                assert!(!panels.finite);
                let y = product(&panels);
                assert!(y[0].is_nan(), "{isa:?}: 0 × ∞ read, not skipped");
            }
        }
    }
}
