//! The sum of a tensor's squares: the per-layer gradient norms training measures every step;
//! and a plain sum that vectorises.

use rayon::prelude::*;

/// The sum of `values`' squares in f64 (a norm over millions of weights loses no digits):
/// fixed runs of values, each summed by one task, added in order, so the result does not
/// depend on the thread count; on the calling thread when there is only one run.
pub fn squared_sum(values: &[f32]) -> f32 {
    const RUN: usize = 1 << 16;
    let run_sum = |run: &[f32]| run.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>();
    let total: f64 = match values.len() <= RUN {
        true => run_sum(values),
        false => values
            .par_chunks(RUN)
            .map(run_sum)
            .collect::<Vec<f64>>()
            .into_iter()
            .sum(),
    };
    total as f32
}

/// The sum of `values` as 8 interleaved partial sums, added in a fixed order at the end: the
/// compiler vectorises it, where `iter().sum()` adds one value at a time, each addition
/// waiting for the last (a convolution's bias gradient: `perf` showed that chain among a CNN
/// step's hottest loops). The order depends on the length alone, so results stay
/// reproducible.
pub fn lane_sum(values: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let chunks = values.chunks_exact(8);
    let rest = chunks.remainder();
    for chunk in chunks {
        lanes.iter_mut().zip(chunk).for_each(|(lane, v)| *lane += v);
    }
    lanes.iter().sum::<f32>() + rest.iter().sum::<f32>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lane_sum_is_the_sum() {
        for n in [0, 1, 7, 8, 9, 100, 1001] {
            let values: Vec<f32> = (0..n).map(|i| (i % 17) as f32 * 0.25 - 2.0).collect();
            let exact: f64 = values.iter().map(|&v| f64::from(v)).sum();
            assert!(
                (f64::from(lane_sum(&values)) - exact).abs() < 1e-3,
                "{n} values"
            );
        }
    }
}
