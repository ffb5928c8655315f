//! The sum of a tensor's squares: the per-layer gradient norms training measures every step;
//! and a plain sum that vectorises.

use rayon::prelude::*;

use super::squares::{LANES, Squares};

/// The sum of `values`' squares in f64 (a norm over millions of weights loses no digits):
/// fixed runs of values, each summed by one task in interleaved partial sums ([`Squares`]), the
/// runs added in order, so the result does not depend on the thread count; on the calling
/// thread when there is only one run. One sum a run waited for each addition (4 cycles a
/// value): 3 ms of every [2048,2048] step, a fifth of `digits bench`'s training figure.
pub fn squared_sum(values: &[f32]) -> f32 {
    let total: f64 = match values.len() <= RUN {
        true => run_squared_sum(values),
        false => values
            .par_chunks(RUN)
            .map(run_squared_sum)
            .collect::<Vec<f64>>()
            .into_iter()
            .sum(),
    };
    total as f32
}

/// Values a run of [`squared_sum`]: plain SGD's measured step cuts gradients the same way.
pub(super) const RUN: usize = 1 << 16;

/// One run's share of [`squared_sum`].
pub(super) fn run_squared_sum(run: &[f32]) -> f64 {
    let mut squares = Squares::new();
    let (groups, rest) = run.as_chunks::<LANES>();
    squares.add(groups);
    squares.total(rest)
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

    /// Against the f64 sum of squares, for lengths around the lanes and the runs; and the
    /// same bits on one thread as on every thread.
    #[test]
    fn the_squared_sum_is_the_sum_of_squares_on_any_thread_count() {
        for n in [
            0,
            1,
            7,
            8,
            9,
            1001,
            1 << 16,
            (1 << 16) + 1,
            3 * (1 << 16) + 13,
        ] {
            let values: Vec<f32> = (0..n).map(|i| ((i % 23) as f32 - 11.0) * 0.37).collect();
            let exact: f64 = values.iter().map(|&v| f64::from(v).powi(2)).sum();
            let ours = squared_sum(&values);
            let error = (f64::from(ours) - exact).abs();
            assert!(
                error <= 1e-6 * exact.max(1.0),
                "{n} values: {ours} against {exact}"
            );
            let one = rayon::ThreadPoolBuilder::new()
                .num_threads(1)
                .build()
                .unwrap();
            assert_eq!(
                one.install(|| squared_sum(&values)).to_bits(),
                ours.to_bits()
            );
        }
    }
}
