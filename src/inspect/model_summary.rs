//! A network's layers and parameter counts, torchinfo-style (`digits summary`), read from its
//! tensors.

use burn::module::Module;
use burn::nn::norm::Normalization;

use crate::config::{Activation, Config, Norm};
use crate::data::idx::{CLASSES, PIXELS};
use crate::model::Mlp;

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerRow {
    pub name: String,
    pub inputs: usize,
    pub outputs: usize,
    pub activation: &'static str,
    pub weights: usize,
    pub biases: usize,
    /// Learned normalisation scale and shift (γ, β).
    pub norm_params: usize,
    /// Running statistics (BatchNorm's mean and variance): stored, not trained.
    pub buffers: usize,
}

/// The counted layers of a model, read from its tensors (not from a formula).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSummary {
    pub rows: Vec<LayerRow>,
    pub norm: Norm,
    /// Burn's `num_params`, which counts buffers too.
    pub burn_num_params: usize,
}

impl ModelSummary {
    pub fn of(model: &Mlp, config: &Config) -> ModelSummary {
        let mut rows: Vec<LayerRow> = model
            .hidden
            .iter()
            .enumerate()
            .map(|(i, block)| {
                let [inputs, outputs] = block.linear.weight.shape().dims();
                let (norm_params, buffers) = norm_counts(&block.norm);
                LayerRow {
                    name: format!("hidden {}", i + 1),
                    inputs,
                    outputs,
                    activation: activation_name(config.model.activation),
                    weights: inputs * outputs,
                    biases: bias_count(&block.linear),
                    norm_params,
                    buffers,
                }
            })
            .collect();
        let [inputs, outputs] = model.output.weight.shape().dims();
        rows.push(LayerRow {
            name: "output".into(),
            inputs,
            outputs,
            activation: "logits",
            weights: inputs * outputs,
            biases: bias_count(&model.output),
            norm_params: 0,
            buffers: 0,
        });
        ModelSummary {
            rows,
            norm: config.model.norm,
            burn_num_params: model.num_params(),
        }
    }

    fn total(&self, field: fn(&LayerRow) -> usize) -> usize {
        self.rows.iter().map(field).sum()
    }

    pub fn weights(&self) -> usize {
        self.total(|r| r.weights)
    }

    pub fn biases(&self) -> usize {
        self.total(|r| r.biases)
    }

    pub fn norm_params(&self) -> usize {
        self.total(|r| r.norm_params)
    }

    pub fn buffers(&self) -> usize {
        self.total(|r| r.buffers)
    }

    /// Everything gradient descent changes.
    pub fn trainable(&self) -> usize {
        self.weights() + self.biases() + self.norm_params()
    }

    pub fn render(&self) -> String {
        let mut out = format!(
            "{:<10} {:>12}  {:<10} {:>9} {:>7} {:>9} {:>8}\n",
            "layer", "in → out", "activation", "weights", "biases", "norm γ/β", "buffers"
        );
        let dash = |n: usize| {
            if n == 0 {
                "-".to_string()
            } else {
                thousands(n)
            }
        };
        for r in &self.rows {
            out.push_str(&format!(
                "{:<10} {:>12}  {:<10} {:>9} {:>7} {:>9} {:>8}\n",
                r.name,
                format!("{} → {}", r.inputs, r.outputs),
                r.activation,
                thousands(r.weights),
                thousands(r.biases),
                dash(r.norm_params),
                dash(r.buffers)
            ));
        }
        out.push_str(&format!(
            "{:<10} {:>12}  {:<10} {:>9} {:>7} {:>9} {:>8}\n\n",
            "total",
            format!("{PIXELS} → {CLASSES}"),
            "",
            thousands(self.weights()),
            thousands(self.biases()),
            dash(self.norm_params()),
            dash(self.buffers())
        ));
        out.push_str(&format!(
            "trainable parameters: {} = {} weights + {} biases",
            thousands(self.trainable()),
            thousands(self.weights()),
            thousands(self.biases())
        ));
        if self.norm_params() > 0 {
            out.push_str(&format!(
                " + {} normalisation γ/β",
                thousands(self.norm_params())
            ));
        }
        out.push('\n');
        if self.buffers() > 0 {
            out.push_str(&format!(
                "buffers (not trained): {} BatchNorm running means and variances\n\
                 Burn's num_params (trainable + buffers): {}\n",
                thousands(self.buffers()),
                thousands(self.burn_num_params)
            ));
        }
        out
    }
}

fn bias_count(linear: &burn::nn::Linear) -> usize {
    linear.bias.as_ref().map_or(0, |b| b.shape().num_elements())
}

/// (learned γ/β, running-statistics buffers) of a normalisation layer.
fn norm_counts(norm: &Normalization) -> (usize, usize) {
    let n = |shape: burn::tensor::Shape| shape.num_elements();
    match norm {
        Normalization::Batch(bn) => (
            n(bn.gamma.shape()) + n(bn.beta.shape()),
            n(bn.running_mean.value().shape()) + n(bn.running_var.value().shape()),
        ),
        Normalization::Layer(ln) => (
            n(ln.gamma.shape()) + ln.beta.as_ref().map_or(0, |b| n(b.shape())),
            0,
        ),
        Normalization::Group(gn) => (
            gn.gamma.as_ref().map_or(0, |g| n(g.shape()))
                + gn.beta.as_ref().map_or(0, |b| n(b.shape())),
            0,
        ),
        // Identity (and Burn's other variants, which no config builds) hold nothing we count;
        // ModelSummary's test checks the totals against Burn's own count.
        _ => (0, 0),
    }
}

fn activation_name(activation: Activation) -> &'static str {
    match activation {
        Activation::Sigmoid => "sigmoid",
        Activation::Tanh => "tanh",
        Activation::Relu => "relu",
        Activation::Gelu => "gelu",
    }
}

/// 13002 → "13,002".
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(13_002), "13,002");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
