//! A run of values' sum of squares as the gradient norms add it up ([`super::sum::
//! squared_sum`], and plain SGD's measured step in its own pass, [`super::update`]): 32
//! interleaved partial sums in f64, lane `l` taking the squares of the values at `l`, `l + 32`,
//! `l + 64`, … of the run; at the end the lanes added in order, then the squares of the values
//! after the last whole group. Each square of an f32 is exact in f64, so a fused multiply-add
//! gives the same bits as a product then a sum, and every path here (AVX-512, AVX2, portable)
//! the same result. With 8 lanes (two chains of AVX2 additions, each waiting 4 cycles for the
//! one before) the additions bound the pass: plain SGD measuring its gradients took 1.8–2.0 ms
//! of a [2048,2048] step against 1.2–1.3 ms without; with 32, 1.4–1.6 ms.

/// The lanes of one run's sum, as the groups are added.
pub(super) struct Squares([f64; LANES]);

/// Values a group: each lane takes one of them.
pub(super) const LANES: usize = 32;

/// A run's values in whole groups.
pub(super) type Group = [f32; LANES];

impl Squares {
    pub(super) fn new() -> Squares {
        Squares([0.0; LANES])
    }

    /// The squares of `groups` added to the lanes.
    pub(super) fn add(&mut self, groups: &[Group]) {
        // SAFETY: read only (no step), inside `groups`.
        unsafe { self.add_stepping(groups.as_ptr().cast_mut(), None, groups.len()) }
    }

    /// The squares of `grads` added to the lanes, each group read before it is overwritten
    /// by plain SGD's step `param − lr · grad` (the product rounded to f32, then the
    /// difference: Burn's `Sgd`'s rounding).
    pub(super) fn add_and_step(&mut self, grads: &mut [Group], params: &[Group], lr: f32) {
        assert_eq!(grads.len(), params.len(), "a parameter for every gradient");
        let step = Some((params.as_ptr(), lr));
        // SAFETY: `grads` is writable and `params` readable for `grads.len()` groups.
        unsafe { self.add_stepping(grads.as_mut_ptr(), step, grads.len()) }
    }

    /// The run's sum: the lanes in order, then the squares of `rest` (its values after the
    /// last whole group).
    pub(super) fn total(&self, rest: &[f32]) -> f64 {
        let squares = rest.iter().map(|&v| f64::from(v) * f64::from(v));
        self.0.iter().sum::<f64>() + squares.sum::<f64>()
    }

    /// # Safety
    /// `groups` groups at `grads` readable, and writable where `step` is given, whose
    /// parameters are then readable for as many groups.
    unsafe fn add_stepping(
        &mut self,
        grads: *mut Group,
        step: Option<(*const Group, f32)>,
        groups: usize,
    ) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: this CPU has AVX-512F; the caller's promises.
                return unsafe { x86::avx512(&mut self.0, grads, step, groups) };
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                // SAFETY: this CPU has AVX2 and FMA; the caller's promises.
                return unsafe { x86::avx2(&mut self.0, grads, step, groups) };
            }
        }
        // SAFETY: the caller's promises.
        unsafe { portable(&mut self.0, grads, step, groups) }
    }
}

/// [`Squares::add_stepping`] one value at a time (the compiler vectorises what it can).
///
/// # Safety
/// The promises of `add_stepping`.
unsafe fn portable(
    lanes: &mut [f64; LANES],
    grads: *mut Group,
    step: Option<(*const Group, f32)>,
    groups: usize,
) {
    for g in 0..groups {
        // SAFETY: group `g` is inside the groups (the caller's promise).
        let grad = unsafe { &mut *grads.add(g) };
        for (lane, &v) in lanes.iter_mut().zip(grad.iter()) {
            *lane += f64::from(v) * f64::from(v);
        }
        if let Some((params, lr)) = step {
            // SAFETY: as above, for the parameters.
            let param = unsafe { &*params.add(g) };
            for (v, p) in grad.iter_mut().zip(param) {
                *v = p - *v * lr;
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{Group, LANES};

    /// [`super::Squares::add_stepping`] in four chains of 8 lanes.
    ///
    /// # Safety
    /// AVX-512F, and the promises of `add_stepping`.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn avx512(
        lanes: &mut [f64; LANES],
        grads: *mut Group,
        step: Option<(*const Group, f32)>,
        groups: usize,
    ) {
        // SAFETY (every load and store): inside `lanes`, or inside group `g` of the
        // gradients and parameters (the caller's promise).
        unsafe {
            let mut sums: [__m512d; 4] =
                std::array::from_fn(|q| _mm512_loadu_pd(lanes.as_ptr().add(8 * q)));
            let lr = _mm512_set1_ps(step.map_or(0.0, |(_, lr)| lr));
            for g in 0..groups {
                let at = grads.add(g).cast::<f32>();
                let values: [__m512; 2] = std::array::from_fn(|h| _mm512_loadu_ps(at.add(16 * h)));
                for (h, &v) in values.iter().enumerate() {
                    let low = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
                    let high = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(v)));
                    let high = _mm512_cvtps_pd(high);
                    sums[2 * h] = _mm512_fmadd_pd(low, low, sums[2 * h]);
                    sums[2 * h + 1] = _mm512_fmadd_pd(high, high, sums[2 * h + 1]);
                }
                if let Some((params, _)) = step {
                    let param = params.add(g).cast::<f32>();
                    for (h, &v) in values.iter().enumerate() {
                        let p = _mm512_loadu_ps(param.add(16 * h));
                        _mm512_storeu_ps(at.add(16 * h), _mm512_sub_ps(p, _mm512_mul_ps(v, lr)));
                    }
                }
            }
            for (q, sum) in sums.iter().enumerate() {
                _mm512_storeu_pd(lanes.as_mut_ptr().add(8 * q), *sum);
            }
        }
    }

    /// [`super::Squares::add_stepping`] in eight chains of 4 lanes.
    ///
    /// # Safety
    /// AVX2 and FMA, and the promises of `add_stepping`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn avx2(
        lanes: &mut [f64; LANES],
        grads: *mut Group,
        step: Option<(*const Group, f32)>,
        groups: usize,
    ) {
        // SAFETY (every load and store): as in `avx512`.
        unsafe {
            let mut sums: [__m256d; 8] =
                std::array::from_fn(|q| _mm256_loadu_pd(lanes.as_ptr().add(4 * q)));
            let lr = _mm256_set1_ps(step.map_or(0.0, |(_, lr)| lr));
            for g in 0..groups {
                let at = grads.add(g).cast::<f32>();
                let values: [__m256; 4] = std::array::from_fn(|q| _mm256_loadu_ps(at.add(8 * q)));
                for (q, &v) in values.iter().enumerate() {
                    let low = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
                    let high = _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(v));
                    sums[2 * q] = _mm256_fmadd_pd(low, low, sums[2 * q]);
                    sums[2 * q + 1] = _mm256_fmadd_pd(high, high, sums[2 * q + 1]);
                }
                if let Some((params, _)) = step {
                    let param = params.add(g).cast::<f32>();
                    for (q, &v) in values.iter().enumerate() {
                        let p = _mm256_loadu_ps(param.add(8 * q));
                        _mm256_storeu_ps(at.add(8 * q), _mm256_sub_ps(p, _mm256_mul_ps(v, lr)));
                    }
                }
            }
            for (q, sum) in sums.iter().enumerate() {
                _mm256_storeu_pd(lanes.as_mut_ptr().add(4 * q), *sum);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every path this CPU runs gives the portable path's lanes and stepped values, bit for
    /// bit, and the lanes are the squares' sums (exact here: small multiples of 1/8).
    #[test]
    fn every_path_gives_the_same_bits() {
        let groups = 37;
        let value = |i: usize| ((i * 7919) % 97) as f32 / 8.0 - 6.0;
        let grads: Vec<Group> = (0..groups)
            .map(|g| std::array::from_fn(|l| value(g * LANES + l)))
            .collect();
        let params: Vec<Group> = (0..groups)
            .map(|g| std::array::from_fn(|l| value(g * LANES + l + 5) * 0.3))
            .collect();
        type Path = unsafe fn(&mut [f64; LANES], *mut Group, Option<(*const Group, f32)>, usize);
        let mut paths: Vec<(&str, Path)> = vec![("portable", portable)];
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                paths.push(("avx512", x86::avx512));
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                paths.push(("avx2", x86::avx2));
            }
        }
        let run = |path: Path, stepping: bool| {
            let (mut lanes, mut grads) = ([0.5f64; LANES], grads.clone());
            let step = stepping.then_some((params.as_ptr(), 0.1f32));
            // SAFETY: the paths this CPU runs; `groups` groups in both vectors.
            unsafe { path(&mut lanes, grads.as_mut_ptr(), step, groups) };
            (lanes.map(f64::to_bits), grads)
        };
        for stepping in [false, true] {
            let (lanes, stepped) = run(portable, stepping);
            for (l, &bits) in lanes.iter().enumerate() {
                let sum: f64 = (0..groups).map(|g| f64::from(grads[g][l]).powi(2)).sum();
                assert_eq!(f64::from_bits(bits), 0.5 + sum, "lane {l}");
            }
            for (g, group) in stepped.iter().enumerate() {
                for l in 0..LANES {
                    let expected = match stepping {
                        true => params[g][l] - grads[g][l] * 0.1,
                        false => grads[g][l],
                    };
                    assert_eq!(group[l].to_bits(), expected.to_bits(), "{g}, {l}");
                }
            }
            for &(name, path) in &paths {
                assert_eq!(run(path, stepping), (lanes, stepped.clone()), "{name}");
            }
        }
    }
}
