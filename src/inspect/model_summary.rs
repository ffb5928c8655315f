//! A network's layers and parameter counts, torchinfo-style (`digits summary`), read from its
//! tensors.

use burn::module::Module;
use burn::nn::norm::Normalization;

use crate::config::{Activation, Config, Norm, conv};
use crate::data::idx::{CLASSES, PIXELS};
use crate::model::Network;

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerRow {
    pub name: String,
    /// What the layer reads and makes: `784 → 16`, or for a convolution
    /// `1×28×28 → 32×14×14` (channels × height × width, after pooling).
    pub shape: String,
    pub activation: &'static str,
    pub weights: usize,
    pub biases: usize,
    /// Learned normalisation scale and shift (γ, β).
    pub norm_params: usize,
    /// Running statistics (BatchNorm's mean and variance): stored, not trained.
    pub buffers: usize,
    /// A convolution's kernel, padding and pooling.
    pub detail: Option<String>,
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
    pub fn of(model: &Network, config: &Config) -> ModelSummary {
        let activation = activation_name(config.model.activation);
        let maps = |(channels, side): (usize, usize)| format!("{channels}×{side}×{side}");
        // The shapes come from the config; the counts below from the tensors.
        let shapes = conv::shapes(config.model.conv_blocks()).unwrap_or_default();
        let mut rows: Vec<LayerRow> = model
            .conv
            .iter()
            .zip(config.model.conv_blocks())
            .enumerate()
            .map(|(i, (layer, block))| {
                let (norm_params, buffers) = norm_counts(&layer.norm);
                let pool = match block.pool {
                    1 => String::new(),
                    p => format!(", max pool {p}×{p}"),
                };
                LayerRow {
                    name: format!("conv {}", i + 1),
                    shape: format!("{} → {}", maps(shapes[i]), maps(shapes[i + 1])),
                    activation,
                    weights: layer.conv.weight.shape().num_elements(),
                    biases: layer
                        .conv
                        .bias
                        .as_ref()
                        .map_or(0, |b| b.shape().num_elements()),
                    norm_params,
                    buffers,
                    detail: Some(format!(
                        "{k}×{k} kernel, padding {}{pool}",
                        block.padding,
                        k = block.kernel
                    )),
                }
            })
            .collect();
        let hidden = model.hidden.iter().enumerate().map(|(i, block)| {
            let [inputs, outputs] = block.linear.weight.shape().dims();
            let (norm_params, buffers) = norm_counts(&block.norm);
            LayerRow {
                name: format!("hidden {}", i + 1),
                shape: format!("{inputs} → {outputs}"),
                activation,
                weights: inputs * outputs,
                biases: bias_count(&block.linear),
                norm_params,
                buffers,
                detail: None,
            }
        });
        rows.extend(hidden);
        let [inputs, outputs] = model.output.weight.shape().dims();
        rows.push(LayerRow {
            name: "output".into(),
            shape: format!("{inputs} → {outputs}"),
            activation: "logits",
            weights: inputs * outputs,
            biases: bias_count(&model.output),
            norm_params: 0,
            buffers: 0,
            detail: None,
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
        let width = self
            .rows
            .iter()
            .map(|r| r.shape.chars().count())
            .max()
            .unwrap_or(0)
            .max(12);
        let line = |cells: [&str; 7]| {
            format!(
                "{:<10} {:>width$}  {:<10} {:>9} {:>7} {:>9} {:>8}\n",
                cells[0], cells[1], cells[2], cells[3], cells[4], cells[5], cells[6]
            )
        };
        let dash = |n: usize| match n {
            0 => "-".to_string(),
            n => thousands(n),
        };
        let mut out = line([
            "layer",
            "in → out",
            "activation",
            "weights",
            "biases",
            "norm γ/β",
            "buffers",
        ]);
        for r in &self.rows {
            out.push_str(&line([
                &r.name,
                &r.shape,
                r.activation,
                &thousands(r.weights),
                &thousands(r.biases),
                &dash(r.norm_params),
                &dash(r.buffers),
            ]));
        }
        out.push_str(&line([
            "total",
            &format!("{PIXELS} → {CLASSES}"),
            "",
            &thousands(self.weights()),
            &thousands(self.biases()),
            &dash(self.norm_params()),
            &dash(self.buffers()),
        ]));
        out.push('\n');
        for r in &self.rows {
            if let Some(detail) = &r.detail {
                out.push_str(&format!("{}: {detail}\n", r.name));
            }
        }
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
