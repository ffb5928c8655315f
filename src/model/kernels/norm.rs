//! The normalisations of a dense layer's outputs as a classifier applies them (no autodiff, no
//! batch statistics): batch normalisation folded into the layer's weights and bias, layer and
//! group normalisation computed on each image's outputs.

/// A batch normalisation's values in inference, one a feature: its scale (γ) and shift (β),
/// and the running mean and variance it normalises with.
#[derive(Debug, Clone)]
pub struct BatchNormValues {
    pub gamma: Vec<f32>,
    pub beta: Vec<f32>,
    pub mean: Vec<f32>,
    pub variance: Vec<f32>,
    pub epsilon: f64,
}

impl BatchNormValues {
    /// This normalisation of a dense layer's outputs (before its activation) folded into its
    /// weights (`[inputs, outputs]`) and bias: in inference `(y − mean) / √(variance + ε) · γ
    /// + β` is `y · s + t` for each output, with `s = γ / √(variance + ε)` and
    /// `t = β − mean · s`, so each output's weights are scaled by `s` and its bias becomes
    /// `bias · s + t` (in f64, then rounded).
    pub fn fold(&self, weight: &mut [f32], bias: &mut [f32]) {
        let outputs = bias.len();
        for values in [&self.gamma, &self.beta, &self.mean, &self.variance] {
            assert_eq!(values.len(), outputs, "one value an output");
        }
        let scale: Vec<f64> = (0..outputs)
            .map(|j| f64::from(self.gamma[j]) / (f64::from(self.variance[j]) + self.epsilon).sqrt())
            .collect();
        for row in weight.chunks_mut(outputs.max(1)) {
            for (w, s) in row.iter_mut().zip(&scale) {
                *w = (f64::from(*w) * s) as f32;
            }
        }
        for (j, b) in bias.iter_mut().enumerate() {
            let shift = f64::from(self.beta[j]) - f64::from(self.mean[j]) * scale[j];
            *b = (f64::from(*b) * scale[j] + shift) as f32;
        }
    }
}

/// Layer or group normalisation of one image's outputs, between the bias and the activation:
/// each of `groups` runs of consecutive outputs (one for layer normalisation) becomes
/// `(y − mean) / √(variance + ε) · γ + β` with that run's mean and (biased) variance, as
/// Burn's `LayerNorm` and `GroupNorm` compute them.
#[derive(Debug, Clone)]
pub struct ImageNorm {
    pub groups: usize,
    pub gamma: Vec<f32>,
    pub beta: Vec<f32>,
    pub epsilon: f64,
}

impl ImageNorm {
    /// Each row of `y` (`width` values, the layer's outputs first) normalised.
    pub fn apply(&self, y: &mut [f32], width: usize) {
        let outputs = self.gamma.len();
        let run = outputs / self.groups.max(1);
        if run == 0 {
            return;
        }
        for row in y.chunks_mut(width) {
            let runs = row[..outputs].chunks_mut(run);
            let affine = self.gamma.chunks(run).zip(self.beta.chunks(run));
            for (values, (gamma, beta)) in runs.zip(affine) {
                let n = values.len() as f32;
                let mean = values.iter().sum::<f32>() / n;
                let variance = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
                let std = (variance + self.epsilon as f32).sqrt();
                for ((v, g), b) in values.iter_mut().zip(gamma).zip(beta) {
                    *v = (*v - mean) / std * g + b;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A layer with batch normalisation folded in gives what the layer then the normalisation
    /// (Burn's formula, in f64) give.
    #[test]
    fn folded_batch_norm_is_the_layer_then_the_normalisation() {
        let (inputs, outputs) = (3, 4);
        let weight: Vec<f32> = (0..inputs * outputs)
            .map(|i| i as f32 * 0.25 - 1.5)
            .collect();
        let bias = vec![0.5, -1.0, 2.0, 0.0];
        let norm = BatchNormValues {
            gamma: vec![1.5, -0.5, 2.0, 0.25],
            beta: vec![0.1, 0.2, -0.3, 4.0],
            mean: vec![-1.0, 3.0, 0.5, 10.0],
            variance: vec![4.0, 0.25, 1.0, 9.0],
            epsilon: 1e-5,
        };
        let x = [0.3f64, -2.0, 1.25];
        let (mut folded_weight, mut folded_bias) = (weight.clone(), bias.clone());
        norm.fold(&mut folded_weight, &mut folded_bias);
        let product = |weight: &[f32], j: usize| -> f64 {
            (0..inputs)
                .map(|i| x[i] * f64::from(weight[i * outputs + j]))
                .sum()
        };
        for (j, &b) in bias.iter().enumerate() {
            let y = product(&weight, j) + f64::from(b);
            let std = (f64::from(norm.variance[j]) + norm.epsilon).sqrt();
            let expected = (y - f64::from(norm.mean[j])) / std * f64::from(norm.gamma[j])
                + f64::from(norm.beta[j]);
            let got = product(&folded_weight, j) + f64::from(folded_bias[j]);
            assert!(
                (got - expected).abs() < 1e-5,
                "output {j}: {got} against {expected}"
            );
        }
    }

    /// Group normalisation of each row's outputs against its definition (Burn's formula, in
    /// f64): 2 groups of 3, γ and β not 1 and 0, a padded column left alone.
    #[test]
    fn image_norm_normalises_each_group_of_each_row() {
        let norm = ImageNorm {
            groups: 2,
            gamma: vec![1.5, -0.5, 2.0, 0.25, 1.0, 3.0],
            beta: vec![0.1, 0.2, -0.3, 4.0, 0.0, -1.0],
            epsilon: 1e-5,
        };
        let rows = [
            [0.5f32, -1.0, 2.0, 7.0, 7.5, 9.0, 0.0],
            [3.0, 3.0, 3.0, -2.0, 0.0, 2.0, 0.0],
        ];
        let mut y: Vec<f32> = rows.concat();
        norm.apply(&mut y, 7);
        for (r, row) in rows.iter().enumerate() {
            for group in 0..2 {
                let values: Vec<f64> = row[group * 3..][..3]
                    .iter()
                    .map(|&v| f64::from(v))
                    .collect();
                let mean = values.iter().sum::<f64>() / 3.0;
                let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 3.0;
                for (i, v) in values.iter().enumerate() {
                    let j = group * 3 + i;
                    let expected = (v - mean) / (variance + norm.epsilon).sqrt()
                        * f64::from(norm.gamma[j])
                        + f64::from(norm.beta[j]);
                    let got = f64::from(y[r * 7 + j]);
                    assert!(
                        (got - expected).abs() < 1e-5,
                        "row {r}, {j}: {got} against {expected}"
                    );
                }
            }
            assert_eq!(y[r * 7 + 6], 0.0, "the padding");
        }
    }
}
