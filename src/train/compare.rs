//! Several networks trained on the same data and seed (`digits compare`, `digits sweep`), their
//! results and gradient profiles side by side in `compare.md` and `compare.png`.

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::inspect::plots;
use crate::run::history::{GRAD_NORM_PREFIX, GRAD_RATIO, SplitRecord};
use crate::run::summary::Summary;
use crate::run::{self, RunFolder};
use crate::train::pipeline::{self, TrainOptions};

pub const TABLE_FILE: &str = "compare.md";
pub const PLOT_FILE: &str = "compare.png";

/// One network to train: a name (its sub-folder), its config, and the file it came from.
pub struct Candidate {
    pub name: String,
    pub config: Config,
    pub config_path: PathBuf,
}

/// How one candidate did.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub name: String,
    /// None when training diverged.
    pub summary: Option<Summary>,
    /// Set when the loss became NaN/∞: where.
    pub diverged: Option<String>,
    /// The last training epoch's gradient norm per layer, input side first.
    pub grad_norms: Vec<f64>,
    pub grad_ratio: Option<f64>,
    pub seconds: f64,
}

/// Trains every candidate into `out/<name>/`, in order, then writes the table and the plot.
pub fn compare(
    candidates: Vec<Candidate>,
    out: &RunFolder,
    backend: crate::backend::Backend,
) -> Result<Vec<Outcome>> {
    let mut outcomes = Vec::with_capacity(candidates.len());
    for candidate in candidates {
        let dir = out.dir.join(&candidate.name);
        let mut config = candidate.config;
        config.output.dir = Some(dir.clone());
        let options = TrainOptions {
            backend,
            force: false,
            dashboard: crate::train::renderer::Dashboard::Off,
            resume: None,
        };
        println!("\n== {} ==", candidate.name);
        let started = std::time::Instant::now();
        let (summary, diverged) = match pipeline::train(&config, &candidate.config_path, &options) {
            Ok(report) => (Some(report.summary), None),
            // A diverging network is a result worth tabulating, not a reason to stop.
            Err(Error::Diverged(message)) => {
                eprintln!("{message}");
                (None, Some(diverged_where(&dir.join(run::SUMMARY_FILE))))
            }
            Err(other) => return Err(other),
        };
        let records = run::read_metrics_csv(&dir.join(run::METRICS_FILE))?;
        let (grad_norms, grad_ratio) = last_gradient_profile(&records);
        outcomes.push(Outcome {
            name: candidate.name,
            summary,
            diverged,
            grad_norms,
            grad_ratio,
            seconds: started.elapsed().as_secs_f64(),
        });
    }
    out.write(TABLE_FILE, table(&outcomes).as_bytes())?;
    let lines: Vec<(String, Vec<f64>)> = outcomes
        .iter()
        .map(|o| (o.name.clone(), o.grad_norms.clone()))
        .collect();
    plots::gradient_profile_png(&lines, &out.path(PLOT_FILE))?;
    Ok(outcomes)
}

/// The candidates of a sweep: the base config under every combination of the varied values
/// (the product of the `--vary` lists), each named by its assignments.
pub fn sweep_candidates(
    base: &Path,
    varied: &[(String, Vec<String>)],
    load: impl Fn(&[String]) -> Result<Config>,
) -> Result<Vec<Candidate>> {
    let mut combinations: Vec<Vec<String>> = vec![Vec::new()];
    for (key, values) in varied {
        combinations = combinations
            .into_iter()
            .flat_map(|prefix| {
                values.iter().map(move |value| {
                    let mut next = prefix.clone();
                    next.push(format!("{key}={value}"));
                    next
                })
            })
            .collect();
    }
    combinations
        .into_iter()
        .map(|assignments| {
            // Named by the last part of each key: `learning_rate=0.1,loss=quadratic`.
            let short: Vec<String> = assignments
                .iter()
                .map(|a| {
                    let (key, value) = a.split_once('=').expect("built as key=value above");
                    let tail = key.rsplit_once('.').map_or(key, |(_, tail)| tail);
                    format!("{tail}={value}")
                })
                .collect();
            Ok(Candidate {
                name: folder_name(&short.join(",")),
                config: load(&assignments)?,
                config_path: base.to_path_buf(),
            })
        })
        .collect()
}

/// A file-system-friendly version of `text`.
pub fn folder_name(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._=-,".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `compare.md`.
pub fn table(outcomes: &[Outcome]) -> String {
    let mut md = String::from(
        "| run | train loss | valid accuracy | test accuracy | first/last gradient | time |\n\
         |---|---|---|---|---|---|\n",
    );
    for o in outcomes {
        let pct = |v: f64| format!("{:.2} %", v * 100.0);
        let (train_loss, valid, test) = match (&o.summary, &o.diverged) {
            (Some(s), _) => (
                s.train.map_or("-".into(), |t| format!("{:.4}", t.loss)),
                s.valid.map_or("-".into(), |v| pct(v.accuracy)),
                s.test.map_or("-".into(), |t| pct(t.accuracy)),
            ),
            (None, Some(at)) => (format!("diverged ({at})"), "-".into(), "-".into()),
            (None, None) => ("-".into(), "-".into(), "-".into()),
        };
        let ratio = o.grad_ratio.map_or("-".into(), |r| format!("{r:.2e}"));
        md.push_str(&format!(
            "| {} | {train_loss} | {valid} | {test} | {ratio} | {:.1} s |\n",
            o.name, o.seconds
        ));
    }
    md
}

/// The gradient norms per layer and the first/last ratio of the last training epoch.
fn last_gradient_profile(records: &[SplitRecord]) -> (Vec<f64>, Option<f64>) {
    let Some(last) = records.iter().rev().find(|r| r.split == "train") else {
        return (Vec::new(), None);
    };
    let mut norms: Vec<(usize, f64)> = last
        .metrics
        .iter()
        .filter_map(|(name, v)| Some((name.strip_prefix(GRAD_NORM_PREFIX)?.parse().ok()?, *v)))
        .collect();
    norms.sort_by_key(|(layer, _)| *layer);
    (
        norms.into_iter().map(|(_, v)| v).collect(),
        last.metrics.get(GRAD_RATIO).copied(),
    )
}

/// "epoch E, step S", read back from a diverged run's summary.json.
fn diverged_where(summary: &Path) -> String {
    std::fs::read(summary)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .and_then(|json| {
            let at = json.get("diverged_at")?;
            Some(format!(
                "epoch {}, step {}",
                at.get("epoch")?,
                at.get("step")?
            ))
        })
        .unwrap_or_else(|| "see its summary.json".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names_keep_only_safe_characters() {
        assert_eq!(
            folder_name("model.hidden=[16, 16],training.learning_rate=0.1"),
            "model.hidden=_16,_16_,training.learning_rate=0.1"
        );
    }

    #[test]
    fn a_sweep_is_the_product_of_its_varied_values() {
        let varied = vec![
            (
                "training.learning_rate".to_string(),
                vec!["0.1".into(), "1".into()],
            ),
            (
                "training.loss".to_string(),
                vec!["quadratic".into(), "cross_entropy".into()],
            ),
        ];
        let candidates = sweep_candidates(Path::new("config/mlp.toml"), &varied, |set| {
            Config::parse(Path::new("config/mlp.toml"), "", set)
        })
        .unwrap();
        let names: Vec<&str> = candidates.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "learning_rate=0.1,loss=quadratic",
                "learning_rate=0.1,loss=cross_entropy",
                "learning_rate=1,loss=quadratic",
                "learning_rate=1,loss=cross_entropy",
            ]
        );
        assert_eq!(candidates[2].config.training.learning_rate, 1.0);
    }
}
