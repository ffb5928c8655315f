//! Per-layer gradient norms: the measurement behind "vanishing" and "exploding" gradients.
//!
//! A metric only sees the step's output item, so the step carries the L2 norm of each weighted
//! layer's weight gradient (on the device, before any clipping) in the item as one small
//! tensor; these metrics read it back and average it over the epoch. `TrainStep::step`
//! measures them, or, with plain SGD on one device, SGD's own step as it reads each gradient
//! (`model::GradientNorms::InUpdate`: the same values without a read of their own).

use burn::prelude::*;
use burn::tensor::TensorReadError;
use burn::train::metric::state::{FormatOptions, NumericMetricState};
use burn::train::metric::{
    Metric, MetricAttributes, MetricMetadata, MetricName, Numeric, NumericAttributes, NumericEntry,
    SerializedEntry,
};
use std::sync::{Arc, OnceLock};

/// The weight-gradient L2 norm of each Linear layer, input side first, as computed on the
/// device in the training step: `[steps, layers]`, one row per step (the training loop sends
/// steps to the metrics in groups). Every metric reads the same values, so the first read is
/// kept: one device read per group however many layers are shown.
#[derive(Clone)]
pub struct GradNorms {
    norms: Tensor<2>,
    read: Arc<OnceLock<StepNorms>>,
}

/// Gradient norms read back: per layer, the sum over the steps.
#[derive(Debug, Clone, PartialEq)]
pub struct StepNorms {
    pub steps: usize,
    pub sums: Vec<f64>,
}

impl GradNorms {
    /// One step's norms, `[layers]`.
    pub fn new(norms: Tensor<1>) -> Self {
        Self::from_rows(norms.unsqueeze())
    }

    fn from_rows(norms: Tensor<2>) -> Self {
        Self {
            norms,
            read: Arc::new(OnceLock::new()),
        }
    }

    /// Several steps' norms, in step order.
    pub fn merge(parts: Vec<GradNorms>) -> Self {
        Self::from_rows(Tensor::cat(parts.into_iter().map(|p| p.norms).collect(), 0))
    }

    /// The same norms off the autodiff graph (for the metric thread).
    pub fn without_autodiff(self) -> Self {
        Self {
            norms: self.norms.without_autodiff(),
            read: self.read,
        }
    }

    pub fn values(&self) -> Result<&StepNorms, TensorReadError> {
        if let Some(values) = self.read.get() {
            return Ok(values);
        }
        let [steps, layers] = self.norms.dims();
        let rows = self
            .norms
            .clone()
            .try_into_data_as::<f64>()?
            .try_into_vec::<f64>()?;
        let mut sums = vec![0.0; layers];
        for row in rows.chunks_exact(layers) {
            sums.iter_mut()
                .zip(row)
                .for_each(|(sum, norm)| *sum += norm);
        }
        Ok(self.read.get_or_init(|| StepNorms { steps, sums }))
    }
}

/// What the gradient metrics read: the step's [`GradNorms`].
pub type GradNormInput = GradNorms;

/// Name of the metric for layer `layer` (1-based, 1 = nearest the input), with what the
/// layer is where that says more than its number (a CNN's `conv 2`, `dense 1`).
pub fn layer_metric_name(layer: usize, what: Option<&str>) -> String {
    match what {
        Some(what) => format!("Grad Norm {layer} {what}"),
        None => format!("Grad Norm {layer}"),
    }
}

pub const RATIO_METRIC_NAME: &str = "Grad Ratio";

/// Epoch-average weight-gradient norm of one layer.
#[derive(Clone)]
pub struct GradNormMetric {
    name: MetricName,
    /// 0-based index into [`GradNormInput::norms`].
    index: usize,
    state: NumericMetricState,
}

impl GradNormMetric {
    /// The metric for layer `layer`, 1-based; `what` names the layer on the dashboard.
    pub fn layer(layer: usize, what: Option<&str>) -> Self {
        Self {
            name: Arc::new(layer_metric_name(layer, what)),
            index: layer - 1,
            state: NumericMetricState::new(),
        }
    }
}

impl Metric for GradNormMetric {
    type Input = GradNormInput;

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn description(&self) -> Option<String> {
        Some(format!(
            "L2 norm of layer {}'s weight gradient, averaged over the epoch",
            self.index + 1
        ))
    }

    fn attributes(&self) -> MetricAttributes {
        NumericAttributes {
            unit: None,
            higher_is_better: true,
        }
        .into()
    }

    fn update(
        &mut self,
        input: &GradNormInput,
        _metadata: &MetricMetadata,
    ) -> Result<SerializedEntry, TensorReadError> {
        let norms = input.values()?;
        // The group's mean, weighted by its steps: the epoch value is the mean over steps.
        self.state
            .update(norms.sums[self.index] / norms.steps as f64, norms.steps);
        Ok(self.state.compute_update(format(&self.name)))
    }

    fn compute(&mut self) -> Result<SerializedEntry, TensorReadError> {
        Ok(self.state.compute_final(format(&self.name)))
    }

    fn clear(&mut self) {
        self.state.reset()
    }
}

impl Numeric for GradNormMetric {
    fn value(&self) -> Option<NumericEntry> {
        Some(self.state.current_value())
    }

    fn running_value(&self) -> Option<NumericEntry> {
        Some(self.state.running_value())
    }

    fn final_value(&self) -> NumericEntry {
        self.state.final_value()
    }
}

/// First layer's epoch-average gradient norm over the last layer's: far below 1 when
/// gradients vanish on their way back to the input, far above when they explode.
#[derive(Clone)]
pub struct GradRatioMetric {
    name: MetricName,
    first_sum: f64,
    last_sum: f64,
    current: f64,
}

impl GradRatioMetric {
    pub fn new() -> Self {
        Self {
            name: Arc::new(RATIO_METRIC_NAME.to_string()),
            first_sum: 0.0,
            last_sum: 0.0,
            current: f64::NAN,
        }
    }

    fn running(&self) -> f64 {
        self.first_sum / self.last_sum
    }

    fn entry(&self, value: f64, is_final: bool) -> SerializedEntry {
        let serialized = if is_final {
            NumericEntry::Final(value)
        } else {
            NumericEntry::Value(value)
        };
        SerializedEntry::new(
            format!(
                "epoch {} - batch {}",
                burn::train::metric::format_float(self.running(), 3),
                burn::train::metric::format_float(value, 3)
            ),
            serialized.serialize(),
        )
    }
}

impl Default for GradRatioMetric {
    fn default() -> Self {
        Self::new()
    }
}

impl Metric for GradRatioMetric {
    type Input = GradNormInput;

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn description(&self) -> Option<String> {
        Some("first layer's gradient norm / last layer's, over the epoch".into())
    }

    fn attributes(&self) -> MetricAttributes {
        NumericAttributes::default().into()
    }

    fn update(
        &mut self,
        input: &GradNormInput,
        _metadata: &MetricMetadata,
    ) -> Result<SerializedEntry, TensorReadError> {
        let norms = &input.values()?.sums;
        let (first, last) = (norms[0], norms[norms.len() - 1]);
        self.first_sum += first;
        self.last_sum += last;
        self.current = first / last;
        Ok(self.entry(self.current, false))
    }

    fn compute(&mut self) -> Result<SerializedEntry, TensorReadError> {
        Ok(self.entry(self.running(), true))
    }

    fn clear(&mut self) {
        *self = Self::new();
    }
}

impl Numeric for GradRatioMetric {
    fn value(&self) -> Option<NumericEntry> {
        Some(NumericEntry::Value(self.current))
    }

    fn running_value(&self) -> Option<NumericEntry> {
        Some(NumericEntry::Value(self.running()))
    }

    fn final_value(&self) -> NumericEntry {
        NumericEntry::Final(self.running())
    }
}

fn format(name: &MetricName) -> FormatOptions {
    FormatOptions::new(name.clone()).precision(3)
}
