//! The sum of a tensor's squares: the per-layer gradient norms training measures every step.

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
