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
//! Only where the CPU has AVX2 and FMA ([`available`]); elsewhere the classifier multiplies
//! with [`super::product`] as before.

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
                    Isa::Avx512 => avx512::multiply(x, images, k, weights, y, width),
                    Isa::Avx2 => avx2::multiply(x, images, k, weights, y, width),
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

    use super::{PANEL, TILE_ROWS};

    /// Every panel, then every tile of images down it (so the panel, `k` × 64 bytes, stays in
    /// the core's cache while the block's images stream past it).
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
    ) {
        for (panel, weights) in panels.chunks_exact(k * PANEL).enumerate() {
            let mut first = 0;
            while first < images {
                let rows = TILE_ROWS.min(images - first);
                let x = x[first * k..].as_ptr();
                let y = y[first * y_width + panel * PANEL..].as_mut_ptr();
                let w = weights.as_ptr();
                // SAFETY: `rows` rows of `x` from `first` and of `y` (16 values each, from
                // this panel's column) lie inside them; the panel is `k` rows of 16.
                unsafe {
                    match rows {
                        6 => tile::<6>(x, k, w, y, y_width),
                        5 => tile::<5>(x, k, w, y, y_width),
                        4 => tile::<4>(x, k, w, y, y_width),
                        3 => tile::<3>(x, k, w, y, y_width),
                        2 => tile::<2>(x, k, w, y, y_width),
                        _ => tile::<1>(x, k, w, y, y_width),
                    }
                }
                first += rows;
            }
        }
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
/// Each output summed in the same order as [`avx2`]'s, one FMA an input.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::PANEL;

    /// Images a tile.
    const ROWS: usize = 12;

    /// Every pair of panels, then every tile of images down it.
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
    ) {
        let count = panels.len() / (k * PANEL);
        let mut panel = 0;
        while panel < count {
            let pair = count - panel >= 2;
            let w = panels[panel * k * PANEL..].as_ptr();
            let mut first = 0;
            while first < images {
                let rows = ROWS.min(images - first);
                let x = x[first * k..].as_ptr();
                let y = y[first * y_width + panel * PANEL..].as_mut_ptr();
                // SAFETY: `rows` rows of `x` from `first` and of `y` (16 values a panel, from
                // this panel's column) lie inside them; each panel is `k` rows of 16.
                unsafe {
                    match pair {
                        true => rows_of::<2>(rows, x, k, w, y, y_width),
                        false => rows_of::<1>(rows, x, k, w, y, y_width),
                    }
                }
                first += rows;
            }
            panel += if pair { 2 } else { 1 };
        }
    }

    /// The tile for `rows` (1 to [`ROWS`]) images.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn rows_of<const P: usize>(
        rows: usize,
        x: *const f32,
        k: usize,
        w: *const f32,
        y: *mut f32,
        y_width: usize,
    ) {
        // SAFETY: as the caller promised, for these rows.
        unsafe {
            match rows {
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
}
