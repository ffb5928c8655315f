//! Where a run's digits came from, as `summary.json` records it (the training page writes it
//! too: its digits are the bundled sample).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::DataSource;

/// Which kind of source a run's digits were read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// A folder of IDX files (`data.dir`).
    Folder,
    /// Full MNIST in Burn's dataset cache.
    Mnist,
    /// The sample bundled in the binary.
    Sample,
}

/// Where a run's digits were read from (`summary.json`'s `dataset`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataOrigin {
    pub source: SourceKind,
    /// The folder read; none for the bundled sample.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// Why `data.source = "auto"` used the sample instead of full MNIST.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
}

impl DataOrigin {
    /// The `data.source` to record in a run's resolved config so it is resumed and evaluated
    /// on the same digits (a folder is recorded as `data.dir` instead).
    pub fn config_source(&self) -> DataSource {
        match self.source {
            SourceKind::Sample => DataSource::Sample,
            SourceKind::Mnist => DataSource::Mnist,
            SourceKind::Folder => DataSource::Auto,
        }
    }
}
