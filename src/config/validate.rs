//! Range checks serde cannot express: each section checks its own keys; the whole config then
//! checks what spans sections (the memory a network needs, paths it must record). Every
//! message names the key.

use super::{
    Backprop, Config, DataConfig, MAX_DEVICES, MAX_HIDDEN_LAYERS, ModelConfig, ModelKind, Norm,
    TrainingConfig, conv,
};

impl Config {
    /// Checks every section, then what spans them.
    pub fn validate(&self) -> Result<(), String> {
        self.model.validate()?;
        self.training.validate()?;
        self.data.validate()?;
        if self.training.backprop == Backprop::WrittenOut
            && let Some(why) = self.model.outside_written_out()
        {
            return Err(format!(
                "key `training.backprop` = \"written_out\" covers dense networks without \
                 normalisation or dropout (sigmoid, tanh or ReLU), and {why}: use backprop = \
                 \"autodiff\" for this network"
            ));
        }
        let needed = self.estimated_memory_mb();
        if needed > self.training.max_memory_mb {
            return Err(format!(
                "keys `{}` and `training.batch_size`: this network needs an estimated \
                 {needed:.0} MB to train ({:.0} parameters with their gradients and optimizer \
                 state, and the activations of a batch of {}), over the limit of {} MB \
                 (`training.max_memory_mb`). Use smaller layers or batches, or raise \
                 training.max_memory_mb if you mean it",
                match self.model.kind {
                    ModelKind::Mlp => "model.hidden",
                    ModelKind::Cnn => "model.conv`, `model.hidden",
                },
                self.parameter_count(),
                self.training.batch_size.max(1024),
                self.training.max_memory_mb
            ));
        }
        for (key, dir) in [
            ("data.dir", &self.data.dir),
            ("output.dir", &self.output.dir),
        ] {
            if let Some(dir) = dir
                && dir.to_str().is_none()
            {
                return Err(format!(
                    "key `{key}` (or its flag) = {}: the path is not valid UTF-8, so the run's \
                     config.toml could not record it; choose a folder whose name is UTF-8",
                    dir.display()
                ));
            }
        }
        Ok(())
    }
}

impl ModelConfig {
    fn validate(&self) -> Result<(), String> {
        let m = self;
        // A CNN may go straight from its feature maps to the 10 outputs.
        if m.hidden.is_empty() && m.kind == ModelKind::Mlp {
            return Err(
                "key `model.hidden` is empty: give at least one hidden layer size, \
                        e.g. hidden = [16, 16]"
                    .into(),
            );
        }
        if m.hidden.len() > MAX_HIDDEN_LAYERS {
            return Err(format!(
                "key `model.hidden` lists {} layers; digits builds at most {MAX_HIDDEN_LAYERS} \
                 hidden layers",
                m.hidden.len()
            ));
        }
        if let Some(i) = m.hidden.iter().position(|&h| h == 0) {
            return Err(format!(
                "key `model.hidden`: layer {} has 0 neurons; every size must be at least 1",
                i + 1
            ));
        }
        m.validate_conv()?;
        if m.norm == Norm::Group {
            if m.norm_groups == 0 {
                return Err("key `model.norm_groups` must be at least 1".into());
            }
            if let Some(h) = m.hidden.iter().find(|&&h| h % m.norm_groups != 0) {
                return Err(format!(
                    "key `model.norm_groups` = {} does not divide hidden size {h}: group \
                     normalisation splits each layer's neurons into equal groups, so pick a \
                     divisor of every size in `model.hidden`",
                    m.norm_groups
                ));
            }
            if let Some(b) = m
                .conv_blocks()
                .iter()
                .find(|b| b.channels % m.norm_groups != 0)
            {
                return Err(format!(
                    "key `model.norm_groups` = {} does not divide {} channels of `model.conv`: \
                     group normalisation splits each block's channels into equal groups, so \
                     pick a divisor of every block's channels",
                    m.norm_groups, b.channels
                ));
            }
        }
        if !(0.0..1.0).contains(&m.dropout) {
            return Err(format!(
                "key `model.dropout` = {} must be in [0, 1): it is the probability of zeroing \
                 a neuron",
                m.dropout
            ));
        }
        if !(m.init_std.is_finite() && m.init_std > 0.0) {
            return Err(format!(
                "key `model.init_std` = {} must be a finite number above 0",
                m.init_std
            ));
        }
        Ok(())
    }
}

impl ModelConfig {
    /// `kind` and `conv` agree, and every block fits the 28×28 image.
    fn validate_conv(&self) -> Result<(), String> {
        match (self.kind, self.conv.is_empty()) {
            (ModelKind::Mlp, false) => Err(
                "key `model.conv` is set but `model.kind` is \"mlp\": convolution blocks are \
                 for kind = \"cnn\" (set it), or remove model.conv"
                    .into(),
            ),
            (ModelKind::Cnn, true) => Err(
                "key `model.conv` is empty: a CNN (model.kind = \"cnn\") needs at least one \
                 convolution block, e.g. conv = [32, 64]"
                    .into(),
            ),
            _ => conv::validate(&self.conv),
        }
    }
}

impl TrainingConfig {
    fn validate(&self) -> Result<(), String> {
        let t = self;
        for (key, clip) in [
            ("grad_clip_norm", t.grad_clip_norm),
            ("grad_clip_value", t.grad_clip_value),
        ] {
            if let Some(clip) = clip
                && !(clip.is_finite() && clip >= 0.0)
            {
                return Err(format!(
                    "key `training.{key}` = {clip} must be 0 (off) or above"
                ));
            }
        }
        if t.grad_clip_norm.is_some_and(|v| v > 0.0) && t.grad_clip_value.is_some_and(|v| v > 0.0) {
            return Err(
                "keys `training.grad_clip_norm` and `training.grad_clip_value` are both \
                        set: clip by norm or by value, not both (set the other to 0)"
                    .into(),
            );
        }
        if t.backprop == Backprop::WrittenOut && t.devices > 1 {
            return Err(format!(
                "key `training.backprop` = \"written_out\" trains on one device; \
                 training.devices is {} (set it to 1, or use backprop = \"autodiff\")",
                t.devices
            ));
        }
        if let Some(rule) = &t.early_stopping {
            rule.validate()?;
        }
        if !(t.max_memory_mb.is_finite() && t.max_memory_mb > 0.0) {
            return Err(format!(
                "key `training.max_memory_mb` = {} must be a number of MB above 0",
                t.max_memory_mb
            ));
        }
        if t.epochs == 0 {
            return Err("key `training.epochs` must be at least 1".into());
        }
        if t.batch_size == 0 {
            return Err("key `training.batch_size` must be at least 1".into());
        }
        if !(1..=MAX_DEVICES).contains(&t.devices) {
            return Err(format!(
                "key `training.devices` = {} must be between 1 and {MAX_DEVICES}",
                t.devices
            ));
        }
        if t.devices > t.batch_size {
            return Err(format!(
                "keys `training.devices` = {} and `training.batch_size` = {}: each batch is \
                 split across the devices, so a batch needs at least one image per device; \
                 use fewer devices or bigger batches",
                t.devices, t.batch_size
            ));
        }
        if !(t.learning_rate.is_finite() && t.learning_rate > 0.0) {
            return Err(format!(
                "key `training.learning_rate` = {} must be a finite number above 0",
                t.learning_rate
            ));
        }
        if !(0.0..1.0).contains(&t.momentum) {
            return Err(format!(
                "key `training.momentum` = {} must be in [0, 1)",
                t.momentum
            ));
        }
        if !(t.weight_decay.is_finite() && t.weight_decay >= 0.0) {
            return Err(format!(
                "key `training.weight_decay` = {} must be 0 or more",
                t.weight_decay
            ));
        }
        self.validate_schedule()
    }

    /// The learning-rate schedule's keys.
    fn validate_schedule(&self) -> Result<(), String> {
        let t = self;
        if t.lr_schedule.ends_with_training()
            && !(t.lr_min.is_finite() && t.lr_min >= 0.0 && t.lr_min <= t.learning_rate)
        {
            return Err(format!(
                "key `training.lr_min` = {} must be between 0 and training.learning_rate ({}): \
                 it is the rate the `{}` schedule ends at",
                t.lr_min,
                t.learning_rate,
                t.lr_schedule.name()
            ));
        }
        if !(t.lr_gamma.is_finite() && t.lr_gamma > 0.0 && t.lr_gamma <= 1.0) {
            return Err(format!(
                "key `training.lr_gamma` = {} must be above 0 and at most 1: it is the factor \
                 the `step` and `exponential` schedules multiply the rate by",
                t.lr_gamma
            ));
        }
        if t.lr_step_epochs == 0 {
            return Err("key `training.lr_step_epochs` must be at least 1".into());
        }
        if t.warmup_epochs >= t.epochs {
            return Err(format!(
                "key `training.warmup_epochs` = {} must be below training.epochs ({}): the \
                 warm-up comes before the schedule, within the run",
                t.warmup_epochs, t.epochs
            ));
        }
        Ok(())
    }
}

impl DataConfig {
    fn validate(&self) -> Result<(), String> {
        let d = self;
        d.augment.validate()?;
        if !(d.validation_fraction > 0.0 && d.validation_fraction < 1.0) {
            return Err(format!(
                "key `data.validation_fraction` = {} must be between 0 and 1 (exclusive), \
                 e.g. 0.1 holds out 10 % of the training images",
                d.validation_fraction
            ));
        }
        if let Some(dir) = &d.dir
            && !d.source.is_auto()
        {
            return Err(format!(
                "keys `data.dir` = \"{}\" and `data.source` = \"{}\" name two different \
                 sources of digits: keep one (remove `data.source` to read the folder, or \
                 `data.dir` / --data-dir to read {})",
                dir.display(),
                d.source.name(),
                d.source.name()
            ));
        }
        if d.train_limit == Some(0) || d.test_limit == Some(0) {
            return Err(
                "keys `data.train_limit` / `data.test_limit` must be at least 1 \
                        (remove them to use every image)"
                    .into(),
            );
        }
        Ok(())
    }
}
