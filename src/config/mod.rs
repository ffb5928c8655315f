//! The run configuration: a TOML file, then `--set key=value` overrides, then validation.
//!
//! Every key has a default (the seed's 784-16-16-10 sigmoid network), so a config file only
//! needs what it changes; unknown keys are rejected so a typo never passes silently.

use std::path::{Path, PathBuf};

use burn::grad_clipping::GradientClippingConfig;
use serde::{Deserialize, Serialize};

use crate::error::{Error, QUOTE_CHARS, Result, shorten};

pub mod augment;
pub mod conv;
pub mod early_stopping;
mod explain;
mod validate;
pub use augment::Augment;
pub use conv::ConvBlock;
pub use early_stopping::{EarlyStopping, StopMetric};
use explain::explain;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub model: ModelConfig,
    #[serde(default)]
    pub training: TrainingConfig,
    #[serde(default)]
    pub data: DataConfig,
    #[serde(default)]
    pub output: OutputConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// A multilayer perceptron (the seed's) or a convolutional network.
    #[serde(skip_serializing_if = "ModelKind::is_mlp")]
    pub kind: ModelKind,
    /// A CNN's convolution blocks, input side first (empty for an MLP).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conv: Vec<ConvBlock>,
    /// Neurons in each hidden (dense) layer, input side first.
    pub hidden: Vec<usize>,
    pub activation: Activation,
    pub norm: Norm,
    /// Groups for `norm = "group"`; must divide every hidden size.
    pub norm_groups: usize,
    /// Dropout probability after each hidden activation (0 = off).
    pub dropout: f64,
    /// How every Linear layer's weights start (biases always start as Burn's default).
    pub init: Init,
    /// Standard deviation for `init = "normal"`.
    pub init_std: f64,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            kind: ModelKind::Mlp,
            conv: Vec::new(),
            hidden: vec![16, 16],
            activation: Activation::Sigmoid,
            norm: Norm::None,
            norm_groups: 2,
            dropout: 0.0,
            init: Init::Default,
            init_std: 0.01,
        }
    }
}

/// `model.kind`: which network the `[model]` section describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// Dense layers only: 784 inputs → `hidden` → 10.
    #[default]
    Mlp,
    /// Convolution blocks (`conv`) on the 28×28 image, then `hidden` → 10.
    Cnn,
}

impl ModelKind {
    pub fn is_mlp(&self) -> bool {
        *self == ModelKind::Mlp
    }
}

impl ModelConfig {
    /// The convolution blocks this config builds: `conv` for a CNN, none for an MLP.
    pub fn conv_blocks(&self) -> &[ConvBlock] {
        match self.kind {
            ModelKind::Mlp => &[],
            ModelKind::Cnn => &self.conv,
        }
    }

    /// Layers with weights: convolutions, hidden Linears and the output Linear.
    pub fn weighted_layers(&self) -> usize {
        self.conv_blocks().len() + self.hidden.len() + 1
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    Sigmoid,
    Tanh,
    Relu,
    Gelu,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Init {
    /// Burn's default: Kaiming uniform with gain 1/√3, as PyTorch's `nn.Linear`.
    Default,
    /// Glorot: normal with std √(2 / (fan_in + fan_out)).
    XavierNormal,
    /// Kaiming/He: normal with std √(2 / fan_in), made for ReLU.
    HeNormal,
    /// Normal with mean 0 and std `init_std`.
    Normal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Norm {
    None,
    Batch,
    Layer,
    Group,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainingConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    /// How the rate changes over training; the other `lr_*` keys and `warmup_epochs` shape it.
    pub lr_schedule: LrSchedule,
    /// Where `cosine` and `linear` end, at the last step (an absolute rate, ≤ learning_rate).
    pub lr_min: f64,
    /// The factor `step` multiplies the rate by every `lr_step_epochs` epochs, and
    /// `exponential` every epoch (spread evenly over its steps).
    pub lr_gamma: f64,
    /// Epochs between two multiplications by `lr_gamma` (`step`).
    pub lr_step_epochs: usize,
    /// Epochs over which the rate first rises linearly to `learning_rate`, before the schedule.
    pub warmup_epochs: usize,
    pub optimizer: Optimizer,
    /// Momentum factor for `optimizer = "momentum"`.
    pub momentum: f64,
    /// L2 penalty added to every gradient (0 = off).
    pub weight_decay: f64,
    pub loss: Loss,
    /// Seeds weight initialisation, the train/valid split and the batch shuffle.
    pub seed: u64,
    /// Threads that build batches; 0 builds them on the training thread, which keeps batch
    /// order deterministic.
    pub num_workers: usize,
    /// Devices each batch is split across (data parallel). On a CPU backend these are
    /// workers on the one CPU; on a GPU backend, GPUs 0..devices. Each device computes the
    /// gradient of its share of the batch, and the optimizer steps once on their weighted sum,
    /// which is the whole batch's gradient: the config means the same on 1 and N devices.
    pub devices: usize,
    /// Measure each layer's weight-gradient norm every step (shown live, in metrics.csv).
    pub gradient_norms: bool,
    /// Clip each parameter's gradient to this L2 norm before the optimizer step (unset or 0 =
    /// off).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grad_clip_norm: Option<f64>,
    /// Clip each gradient element into ±this before the optimizer step (unset or 0 = off; not
    /// with `grad_clip_norm`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grad_clip_value: Option<f64>,
    /// How the gradient is computed in training: Burn's autodiff, or the chain rule written
    /// out in `src/backprop.rs` (dense networks without normalisation or dropout).
    #[serde(skip_serializing_if = "Backprop::is_autodiff")]
    pub backprop: Backprop,
    /// Stop once the validation metric stops improving, keeping the best epoch's network
    /// (unset = train every epoch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub early_stopping: Option<EarlyStopping>,
    /// Keep every epoch's checkpoint instead of the last two (and the best): the training
    /// path `digits explain` draws over the loss landscape.
    #[serde(skip_serializing_if = "is_false")]
    pub keep_all_checkpoints: bool,
    /// Refuse a network whose estimated training memory (weights, gradients, optimizer state,
    /// a batch's activations) is above this many MB; raise it for a bigger network on purpose.
    pub max_memory_mb: f64,
}

impl Default for TrainingConfig {
    fn default() -> Self {
        Self {
            epochs: 20,
            batch_size: 32,
            learning_rate: 0.2,
            lr_schedule: LrSchedule::Constant,
            lr_min: 0.0,
            lr_gamma: 0.5,
            lr_step_epochs: 5,
            warmup_epochs: 0,
            optimizer: Optimizer::Sgd,
            momentum: 0.9,
            weight_decay: 0.0,
            loss: Loss::CrossEntropy,
            seed: 42,
            num_workers: 0,
            devices: 1,
            gradient_norms: true,
            grad_clip_norm: None,
            grad_clip_value: None,
            backprop: Backprop::Autodiff,
            early_stopping: None,
            keep_all_checkpoints: false,
            max_memory_mb: 2048.0,
        }
    }
}

fn is_false(value: &bool) -> bool {
    !value
}

/// `training.backprop`: how training computes the gradient.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backprop {
    /// Burn's autodiff: records every operation, then walks the graph backwards.
    #[default]
    Autodiff,
    /// `src/backprop.rs`: the chain rule layer by layer, no graph.
    WrittenOut,
}

impl Backprop {
    fn is_autodiff(&self) -> bool {
        *self == Backprop::Autodiff
    }
}

/// `training.lr_schedule`: the learning rate over training, as a factor of `learning_rate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LrSchedule {
    /// The same rate at every step.
    Constant,
    /// Multiplied by `lr_gamma` every `lr_step_epochs` epochs.
    Step,
    /// Multiplied by `lr_gamma` every epoch, a little at every step.
    Exponential,
    /// Half a cosine from `learning_rate` down to `lr_min` at the last step.
    Cosine,
    /// A straight line from `learning_rate` down to `lr_min` at the last step.
    Linear,
}

impl LrSchedule {
    pub fn name(self) -> &'static str {
        match self {
            LrSchedule::Constant => "constant",
            LrSchedule::Step => "step",
            LrSchedule::Exponential => "exponential",
            LrSchedule::Cosine => "cosine",
            LrSchedule::Linear => "linear",
        }
    }

    /// Whether the curve's length is the run's epoch count (so the count cannot change on
    /// `--resume` without changing the curve already followed).
    pub fn ends_with_training(self) -> bool {
        matches!(self, LrSchedule::Cosine | LrSchedule::Linear)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Optimizer {
    Sgd,
    Momentum,
    Adam,
}

impl ModelConfig {
    /// Why this network is outside the family `src/backprop.rs` writes out (dense layers;
    /// sigmoid, tanh or ReLU; no normalisation, no dropout), if it is.
    pub fn outside_written_out(&self) -> Option<String> {
        if !self.conv_blocks().is_empty() {
            return Some("model.kind is \"cnn\" (convolutions are not written out)".into());
        }
        if self.norm != Norm::None {
            return Some("model.norm is not \"none\"".into());
        }
        if self.dropout > 0.0 {
            return Some("model.dropout is above 0".into());
        }
        if self.activation == Activation::Gelu {
            return Some("model.activation is \"gelu\"".into());
        }
        None
    }
}

impl TrainingConfig {
    /// The gradient clipping the config asks for (Burn's), if any.
    pub fn clipping(&self) -> Option<GradientClippingConfig> {
        let on = |v: &f64| *v > 0.0;
        match (
            self.grad_clip_norm.filter(on),
            self.grad_clip_value.filter(on),
        ) {
            (Some(norm), _) => Some(GradientClippingConfig::Norm(norm as f32)),
            (None, Some(value)) => Some(GradientClippingConfig::Value(value as f32)),
            (None, None) => None,
        }
    }
}

impl Optimizer {
    /// The name a config gives it.
    pub fn name(self) -> &'static str {
        match self {
            Optimizer::Sgd => "sgd",
            Optimizer::Momentum => "momentum",
            Optimizer::Adam => "adam",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Loss {
    /// Softmax cross-entropy on the logits.
    CrossEntropy,
    /// The seed's ½·Σ(ŷ−y)² with ŷ = sigmoid(logits) and y one-hot.
    Quadratic,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// Folder holding the four MNIST-format IDX files (`.gz` or raw); unset = `source`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    /// Where the digits come from when `dir` is unset. A run folder's resolved config always
    /// names the one actually used (`mnist` or `sample`), so a run is resumed and evaluated on
    /// the data it was trained on.
    #[serde(skip_serializing_if = "DataSource::is_auto")]
    pub source: DataSource,
    /// Share of the training file held out for validation.
    pub validation_fraction: f64,
    /// Use only the first N training images (before the validation split); unset = all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub train_limit: Option<usize>,
    /// Use only the first N test images; unset = all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_limit: Option<usize>,
    /// Random shifts, rotations and scalings of the training images (off by default).
    #[serde(skip_serializing_if = "Augment::is_off")]
    pub augment: Augment,
}

impl DataConfig {
    /// This data config reading the folder `dir` instead of its own source (`--data-dir` of
    /// `eval` and `predict`).
    pub fn reading(mut self, dir: &Path) -> DataConfig {
        self.dir = Some(dir.to_path_buf());
        self.source = DataSource::Auto;
        self
    }

    /// The data of a run folder's resolved config, pinned: runs written before `data.source`
    /// existed name no source, and when they name no folder either they read full MNIST
    /// (there was no sample to fall back to then).
    pub fn pinned(mut self) -> DataConfig {
        if self.dir.is_none() && self.source.is_auto() {
            self.source = DataSource::Mnist;
        }
        self
    }
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            dir: None,
            source: DataSource::Auto,
            validation_fraction: 0.1,
            train_limit: None,
            test_limit: None,
            augment: Augment::default(),
        }
    }
}

/// `data.source`: which digits to read when no folder is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataSource {
    /// Full MNIST from Burn's cache, downloaded on first use; the bundled sample when that is
    /// impossible (no network), with a note saying so.
    Auto,
    /// Full MNIST (Burn's cache, downloaded on first use), never the sample.
    Mnist,
    /// The sample of real MNIST this project carries: 10,000 training and the 10,000 test
    /// images (`data/mnist-sample`, embedded in the binary).
    Sample,
}

impl DataSource {
    pub fn is_auto(&self) -> bool {
        *self == DataSource::Auto
    }

    pub fn name(self) -> &'static str {
        match self {
            DataSource::Auto => "auto",
            DataSource::Mnist => "mnist",
            DataSource::Sample => "sample",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputConfig {
    /// Run folder; unset = `artifacts/<config file stem>/run-N` with the next free N.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    /// Written by digits into a run's resolved config, and with its checkpoints: a resume
    /// checks that the checkpoints are this run's. A new run always gets a new one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
}

/// The network's inputs (28×28 pixels) and outputs (10 digits), as `data::idx` defines them.
/// A digit is a 28×28 grey image, one input per pixel; one output per digit. Named once here
/// (`data::idx` reads files of this shape under its own names for them).
pub const IMAGE_SIDE: usize = 28;
pub const NETWORK_INPUTS: usize = IMAGE_SIDE * IMAGE_SIDE;
pub const NETWORK_OUTPUTS: usize = 10;

/// What a run folder calls its resolved config (the run folder itself is a layer up, in
/// `run::folder`, which names it from this).
pub const RUN_CONFIG_FILE: &str = "config.toml";

/// The most bytes a config file may hold (a config is a few hundred bytes).
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;
/// The most hidden layers a network may have (each Burn module costs memory of its own).
pub const MAX_HIDDEN_LAYERS: usize = 1000;
/// At most this many devices (`training.devices`): more than any machine digits targets.
pub const MAX_DEVICES: usize = 64;

impl Config {
    /// Reads `path`, applies each `key=value` override in order, and validates the result.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Config> {
        use std::io::Read;
        if path.is_dir() {
            let run_config = path.join(crate::config::RUN_CONFIG_FILE);
            let hint = match run_config.is_file() {
                true => format!(
                    " (this is a run folder: its config is {})",
                    run_config.display()
                ),
                false => String::new(),
            };
            return Err(Error::config(
                path,
                format!(
                    "is a folder, not a config file: give a TOML file such as config/mlp.toml{hint}"
                ),
            ));
        }
        let file =
            std::fs::File::open(path).map_err(|e| Error::io("cannot read config", path, e))?;
        // Read through a limit: a huge file or a device (/dev/zero) costs no memory.
        let mut bytes = Vec::new();
        file.take(MAX_CONFIG_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io("cannot read config", path, e))?;
        if bytes.len() as u64 > MAX_CONFIG_BYTES {
            return Err(Error::config(
                path,
                format!(
                    "is over {} MiB; a config is a few hundred bytes of TOML (is this the \
                     right file?)",
                    MAX_CONFIG_BYTES >> 20
                ),
            ));
        }
        let text = String::from_utf8(bytes)
            .map_err(|_| Error::config(path, "is not text (UTF-8): a config is a TOML file"))?;
        Config::parse(path, &text, overrides)
    }

    /// Like [`Config::load`] on text already read; `path` only names the source in errors.
    pub fn parse(path: &Path, text: &str, overrides: &[String]) -> Result<Config> {
        let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            Error::config(
                path,
                format!("not valid TOML: {}", shorten(&e.to_string(), QUOTE_CHARS)),
            )
        })?;
        for assignment in overrides {
            apply_override(&mut table, assignment).map_err(Error::Usage)?;
        }
        let config: Config =
            serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
                let key = e.path().to_string();
                let why = explain(&key, &e.inner().to_string());
                at_fault(path, overrides, &key, format!("key `{key}`: {why}"))
            })?;
        config.validate().map_err(|message| {
            let key = message
                .split('`')
                .nth(1)
                .filter(|_| message.starts_with("key `"))
                .unwrap_or_default()
                .to_string();
            at_fault(path, overrides, &key, message)
        })?;
        Ok(config)
    }

    /// The config as TOML, as written to a run folder. (Paths are checked to be UTF-8 by
    /// [`Config::validate`], so this fails only on a bug.)
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string(self)
            .map_err(|e| Error::Internal(format!("the config cannot be written as TOML: {e}")))
    }

    /// The estimated memory training needs, in MB: weights, their gradients and the
    /// optimizer's state, plus a batch's activations (forward values, pre-activations and their
    /// gradients, in f32; for a CNN also each convolution's unfolded input) at the larger of
    /// the batch size and the test pass's 1024.
    pub fn estimated_memory_mb(&self) -> f64 {
        let optimizer_copies = match self.training.optimizer {
            Optimizer::Sgd => 0.0,
            Optimizer::Momentum => 1.0,
            Optimizer::Adam => 2.0,
        };
        let hidden: f64 = self.model.hidden.iter().map(|&h| h as f64).sum();
        let mut widths = (NETWORK_INPUTS + NETWORK_OUTPUTS) as f64 + hidden;
        let mut unfolded = 0.0;
        let (mut channels, mut side) = (1.0, IMAGE_SIDE);
        for block in self.model.conv_blocks() {
            let (Some(conv_side), Some(out_side)) =
                (block.conv_side(side), block.output_side(side))
            else {
                break;
            };
            let maps = block.channels as f64;
            let (conv_pixels, out_pixels) =
                ((conv_side * conv_side) as f64, (out_side * out_side) as f64);
            widths += maps * (conv_pixels + out_pixels);
            unfolded += channels * (block.kernel * block.kernel) as f64 * conv_pixels;
            (channels, side) = (maps, out_side);
        }
        let batch = self.training.batch_size.max(1024) as f64;
        let bytes = 4.0
            * (self.parameter_count() * (2.0 + optimizer_copies)
                + batch * (4.0 * widths + unfolded));
        bytes / (1024.0 * 1024.0)
    }

    /// The parameters of the config's network (normalisation's γ, β and running statistics
    /// included), counted without building it; in f64, as a hostile config may ask for more
    /// than a usize holds.
    fn parameter_count(&self) -> f64 {
        let norm = |size: f64| match self.model.norm {
            Norm::None => 0.0,
            _ => 4.0 * size,
        };
        let mut parameters = 0.0;
        let (mut channels, mut side) = (1, IMAGE_SIDE);
        for block in self.model.conv_blocks() {
            let maps = block.channels as f64;
            parameters += block.weights(channels) + maps + norm(maps);
            channels = block.channels;
            side = block.output_side(side).unwrap_or(0);
        }
        let mut inputs = channels as f64 * (side * side) as f64;
        for &size in &self.model.hidden {
            let size = size as f64;
            parameters += inputs * size + size + norm(size);
            inputs = size;
        }
        parameters + inputs * NETWORK_OUTPUTS as f64 + NETWORK_OUTPUTS as f64
    }
}

/// Applies one `a.b.c=value` assignment. The value is read as a TOML value (`3`, `1e-3`,
/// `[64, 64]`, `"text"`); anything that is not valid TOML is taken as a plain string, so
/// `--set model.activation=relu` needs no quotes.
fn apply_override(table: &mut toml::Table, assignment: &str) -> Result<(), String> {
    // Quoted in messages by its start only.
    let quoted = shorten(assignment, QUOTE_CHARS);
    let (key, raw) = assignment.split_once('=').ok_or_else(|| {
        format!("--set `{quoted}` is not of the form key=value (e.g. training.epochs=2)")
    })?;
    let key = key.trim();
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(format!(
            "--set `{quoted}`: `{}` is not a key (use section.key, e.g. training.epochs)",
            shorten(key, QUOTE_CHARS)
        ));
    }
    let value = parse_value(raw.trim());
    let (last, sections) = parts.split_last().expect("split yields at least one part");
    let mut current = table;
    for section in sections {
        let entry = current
            .entry(section.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = entry.as_table_mut().ok_or_else(|| {
            format!(
                "--set `{quoted}`: `{}` is a value, not a section",
                shorten(section, QUOTE_CHARS)
            )
        })?;
    }
    current.insert(last.to_string(), value);
    Ok(())
}

/// The error for `message` about `key`: the `--set` that gave the key its value if one did
/// (the last such), else the file.
fn at_fault(path: &Path, overrides: &[String], key: &str, message: String) -> Error {
    match overrides
        .iter()
        .rev()
        .find(|a| !key.is_empty() && names(a, key))
    {
        Some(assignment) => Error::Usage(format!(
            "--set {}: {message}. Fix this --set (the config file is {})",
            shorten(assignment, QUOTE_CHARS),
            path.display()
        )),
        None => Error::config(path, message),
    }
}

/// Whether the `key=value` `assignment` sets `key` or a section holding it.
fn names(assignment: &str, key: &str) -> bool {
    let set = assignment
        .split_once('=')
        .map_or(assignment, |(k, _)| k)
        .trim();
    key == set || key.starts_with(&format!("{set}.")) || set.starts_with(&format!("{key}."))
}

fn parse_value(raw: &str) -> toml::Value {
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, overrides: &[&str]) -> Result<Config> {
        let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        Config::parse(Path::new("test.toml"), text, &overrides)
    }

    fn error_of(text: &str, overrides: &[&str]) -> String {
        parse(text, overrides)
            .expect_err("config should be rejected")
            .to_string()
    }

    #[test]
    fn empty_file_is_the_seed_network() {
        let config = parse("", &[]).unwrap();
        assert_eq!(config.model.hidden, vec![16, 16]);
        assert_eq!(config.model.activation, Activation::Sigmoid);
        assert_eq!(config.training.loss, Loss::CrossEntropy);
        // As config/mlp.toml trains it (the README lists these as the defaults), which also
        // keeps every checkpoint for `explain`'s training path.
        let shipped = Config::load(Path::new("config/mlp.toml"), &[]).unwrap();
        assert!(shipped.training.keep_all_checkpoints);
        let shipped_training = TrainingConfig {
            keep_all_checkpoints: false,
            ..shipped.training
        };
        assert_eq!(config.training, shipped_training);
        assert_eq!(config.model, shipped.model);
    }

    #[test]
    fn a_network_too_big_to_train_is_refused_before_it_is_built() {
        let message = error_of("", &["model.hidden=[100000000]"]);
        for needle in ["model.hidden", "MB", "training.max_memory_mb", "2048"] {
            assert!(message.contains(needle), "{needle}: {message}");
        }
        let deep = format!("[model]\nhidden = [{}]\n", vec!["1"; 1001].join(","));
        assert!(error_of(&deep, &[]).contains("at most 1000 hidden layers"));
        // Raised on purpose, it passes; the seed network needs a few MB.
        parse(
            "",
            &["model.hidden=[100000]", "training.max_memory_mb=10000"],
        )
        .unwrap();
        assert!(parse("", &[]).unwrap().estimated_memory_mb() < 20.0);
    }

    #[test]
    fn overrides_set_any_key_with_toml_or_bare_values() {
        let config = parse(
            "[model]\nhidden = [16, 16]\n",
            &[
                "training.epochs=2",
                "model.hidden=[64, 32, 16]",
                "model.activation=relu",
                "training.learning_rate=1e-3",
                "data.dir=\"some/where\"",
            ],
        )
        .unwrap();
        assert_eq!(config.training.epochs, 2);
        assert_eq!(config.model.hidden, vec![64, 32, 16]);
        assert_eq!(config.model.activation, Activation::Relu);
        assert_eq!(config.training.learning_rate, 1e-3);
        assert_eq!(config.data.dir, Some(PathBuf::from("some/where")));
    }

    #[test]
    fn resolved_config_round_trips() {
        let config = parse("", &["model.norm=group", "model.norm_groups=4"]).unwrap();
        let again = parse(&config.to_toml().unwrap(), &[]).unwrap();
        assert_eq!(config, again);
    }

    #[test]
    fn a_cnn_reads_blocks_as_channel_counts_or_tables_and_round_trips() {
        let config = parse(
            "[model]\nkind = \"cnn\"\nconv = [32, {channels = 16, kernel = 5, pool = 1}]\n",
            &["data.augment.rotate=15"],
        )
        .unwrap();
        assert_eq!(config.model.conv[0], ConvBlock::new(32));
        let second = ConvBlock {
            channels: 16,
            kernel: 5,
            padding: 2,
            pool: 1,
        };
        assert_eq!(config.model.conv[1], second);
        assert_eq!(config.data.augment.rotate, 15.0);
        let text = config.to_toml().unwrap();
        assert_eq!(parse(&text, &[]).unwrap(), config, "{text}");
        // An MLP's resolved config names neither (runs written before CNNs read the same).
        let mlp = parse("", &[]).unwrap().to_toml().unwrap();
        for key in ["kind", "conv", "augment"] {
            assert!(!mlp.contains(key), "{mlp}");
        }
        for (overrides, needle) in [
            (&["model.conv=[{channels = 8, kernl = 3}]"][..], "kernl"),
            (&["model.conv=[\"big\"]"][..], "channel count"),
            (&["model.kind=cnn"][..], "model.conv` is empty"),
            (&["data.augment.shift=20"][..], "data.augment.shift"),
            (&["data.augment.rotate=-5"][..], "data.augment.rotate"),
        ] {
            let message = error_of("", overrides);
            assert!(message.contains(needle), "{overrides:?}: {message}");
        }
    }

    #[test]
    fn a_cnns_memory_counts_its_feature_maps() {
        let cnn = |conv: &str| parse("[model]\nkind = \"cnn\"\nhidden = []\n", &[conv]).unwrap();
        let small = cnn("model.conv=[8]").estimated_memory_mb();
        let wide = cnn("model.conv=[64]").estimated_memory_mb();
        assert!(wide > 6.0 * small, "{small} MB vs {wide} MB");
        let message = error_of("[model]\nkind = \"cnn\"\n", &["model.conv=[4096, 4096]"]);
        assert!(
            message.contains("model.conv") && message.contains("max_memory_mb"),
            "{message}"
        );
    }

    #[test]
    fn a_run_config_pins_its_data_source() {
        let sample = parse("[data]\nsource = \"sample\"\n", &[]).unwrap();
        assert_eq!(sample.data.source, DataSource::Sample);
        assert_eq!(parse(&sample.to_toml().unwrap(), &[]).unwrap(), sample);
        assert_eq!(sample.data.clone().pinned(), sample.data);
        // Written before `data.source` existed: no folder meant full MNIST.
        let legacy = parse("", &[]).unwrap().data;
        assert_eq!(legacy.source, DataSource::Auto);
        assert_eq!(legacy.pinned().source, DataSource::Mnist);
        let folder = parse("", &["data.dir=\"x\""]).unwrap().data;
        assert_eq!(folder.clone().pinned(), folder);
    }

    #[test]
    fn unknown_keys_are_rejected_with_their_name() {
        let message = error_of("[model]\nhiden = [16]\n", &[]);
        assert!(message.contains("model.hiden"), "{message}");
        let message = error_of("[trainig]\nepochs = 1\n", &[]);
        assert!(message.contains("trainig"), "{message}");
        let message = error_of("", &["training.epoch=3"]);
        assert!(message.contains("training.epoch"), "{message}");
    }

    #[test]
    fn wrong_types_name_the_key() {
        let message = error_of("[training]\nbatch_size = \"big\"\n", &[]);
        assert!(message.contains("training.batch_size"), "{message}");
        let message = error_of("[training]\nlearning_rate = -\n", &[]);
        assert!(message.contains("not valid TOML"), "{message}");
    }

    #[test]
    fn unknown_choices_are_rejected_with_the_key_named() {
        for (text, key) in [
            ("[model]\nactivation = \"swish\"\n", "model.activation"),
            ("[model]\nnorm = \"instance\"\n", "model.norm"),
            ("[training]\nloss = \"hinge\"\n", "training.loss"),
            ("[training]\noptimizer = \"lbfgs\"\n", "training.optimizer"),
            ("[model]\ninit = \"zeros\"\n", "model.init"),
            (
                "[training]\nlr_schedule = \"onecycle\"\n",
                "training.lr_schedule",
            ),
            ("[data]\nsource = \"imagenet\"\n", "data.source"),
        ] {
            let message = error_of(text, &[]);
            assert!(message.contains(key), "{text}: {message}");
        }
    }

    #[test]
    fn invalid_values_are_rejected_with_the_key_named() {
        for (overrides, key) in [
            (&["training.batch_size=0"][..], "training.batch_size"),
            (&["training.learning_rate=0"][..], "training.learning_rate"),
            (
                &["training.learning_rate=-0.5"][..],
                "training.learning_rate",
            ),
            (&["training.epochs=0"][..], "training.epochs"),
            (&["model.hidden=[]"][..], "model.hidden"),
            (&["model.hidden=[16, 0]"][..], "model.hidden"),
            (
                &["model.norm=group", "model.norm_groups=3"][..],
                "model.norm_groups",
            ),
            (&["model.dropout=1.0"][..], "model.dropout"),
            (&["training.momentum=1.5"][..], "training.momentum"),
            (
                &["data.validation_fraction=0"][..],
                "data.validation_fraction",
            ),
            (&["data.train_limit=0"][..], "data.train_limit"),
            (&["model.init_std=0"][..], "model.init_std"),
            (&["data.source=sample", "data.dir=\"x\""][..], "data.source"),
            (
                &["training.lr_schedule=cosine", "training.lr_min=2"][..],
                "training.lr_min",
            ),
            (&["training.lr_gamma=0"][..], "training.lr_gamma"),
            (&["training.lr_gamma=1.5"][..], "training.lr_gamma"),
            (
                &["training.lr_step_epochs=0"][..],
                "training.lr_step_epochs",
            ),
            (
                &["training.epochs=3", "training.warmup_epochs=3"][..],
                "training.warmup_epochs",
            ),
            (
                &["training.grad_clip_norm=-1"][..],
                "training.grad_clip_norm",
            ),
            (
                &["training.grad_clip_value=-1"][..],
                "training.grad_clip_value",
            ),
        ] {
            let message = error_of("", overrides);
            assert!(message.contains(key), "{overrides:?}: {message}");
            assert!(message.contains("test.toml"), "{message}");
        }
    }

    #[test]
    fn malformed_overrides_are_rejected() {
        assert!(error_of("", &["training.epochs"]).contains("key=value"));
        assert!(error_of("", &["training..epochs=1"]).contains("not a key"));
        assert!(
            error_of("[training]\nepochs = 1\n", &["training.epochs.x=1"])
                .contains("not a section")
        );
    }
}
