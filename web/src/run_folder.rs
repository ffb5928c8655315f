//! The page's run as a run folder, in one tar file: the files `digits train` writes that the
//! other commands read (`config.toml`, `model.bpk`, `metrics.csv`, `summary.json`), written
//! with the command line's own code.

use burn::module::Module;
use digits::config::Config;
use digits::data::{DataOrigin, Split};
use digits::model::Network;
use digits::run::summary::{BURN_VERSION, DIGITS_VERSION, DatasetSummary, DivergedAt, last_scores};
use digits::run::{Scores, SplitRecord, Summary, metrics_csv};

/// What the run folder is made of.
pub struct RunFiles<'a> {
    pub config: &'a Config,
    pub config_name: &'a str,
    pub model: &'a Network,
    pub records: &'a [SplitRecord],
    /// After the last finished epoch.
    pub test: Option<Scores>,
    pub epochs_completed: usize,
    /// Where the loss stopped being finite, if it did.
    pub diverged_at: Option<DivergedAt>,
    /// Images in the train, valid and test splits.
    pub dataset: [usize; 3],
    pub origin: DataOrigin,
    pub wall_seconds: f64,
}

impl RunFiles<'_> {
    /// The tar file, each entry dated `now_unix`.
    pub fn tar(&self, now_unix: f64) -> Result<Vec<u8>, String> {
        let files = [
            (
                "config.toml",
                self.config
                    .to_toml()
                    .map_err(|e| e.to_string())?
                    .into_bytes(),
            ),
            (
                "model.bpk",
                self.model
                    .record_bytes()
                    .map_err(|e| e.to_string())?
                    .to_vec(),
            ),
            ("metrics.csv", metrics_csv(self.records).into_bytes()),
            ("summary.json", self.summary()?.into_bytes()),
        ];
        let mut tar = tar::Builder::new(Vec::new());
        for (name, bytes) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_mtime(now_unix.max(0.0) as u64);
            tar.append_data(&mut header, format!("run/{name}"), bytes.as_slice())
                .map_err(|e| format!("{name}: {e}"))?;
        }
        tar.into_inner().map_err(|e| e.to_string())
    }

    fn summary(&self) -> Result<String, String> {
        let t = &self.config.training;
        let (train_seconds, train_images) = self
            .records
            .iter()
            .filter(|r| r.split == Split::Train)
            .fold((0.0, 0), |(s, n), r| (s + r.seconds, n + r.items));
        let summary = Summary {
            digits_version: DIGITS_VERSION.into(),
            burn_version: BURN_VERSION.into(),
            backend: "ndarray".into(),
            device: "ndarray (WebAssembly, the training page)".into(),
            devices: 1,
            config: self.config_name.into(),
            parameters: self.model.num_params(),
            epochs: t.epochs,
            epochs_completed: self.epochs_completed,
            interrupted: self.epochs_completed < t.epochs && self.diverged_at.is_none(),
            diverged: self.diverged_at.is_some(),
            diverged_at: self.diverged_at,
            dataset: DatasetSummary {
                origin: self.origin.clone(),
                train: self.dataset[0],
                valid: self.dataset[1],
                test: self.dataset[2],
            },
            train: last_scores(self.records, Split::Train),
            valid: last_scores(self.records, Split::Valid),
            test: self.test.filter(|_| self.diverged_at.is_none()),
            train_samples_per_second: train_images as f64 / train_seconds.max(1e-9),
            peak_rss_mb: None,
            wall_seconds: self.wall_seconds,
            early_stopping: None,
            imported_from: None,
        };
        serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())
    }
}
