//! Several networks trained on the same data and seed (`digits compare`, `digits sweep`), their
//! results and gradient profiles side by side in `compare.md` and `compare.png`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::data::Split;
use crate::error::{Error, Result};
use crate::inspect::comparison_plot::{ComparedRun, comparison_png};
use crate::report;
use crate::run::folder::{self as run, RunFolder};
use crate::run::history::{GRAD_NORM_PREFIX, GRAD_RATIO, SplitRecord};
use crate::run::metrics_csv::read_metrics_csv;
use crate::run::summary::Summary;

pub const TABLE_FILE: &str = "compare.md";
pub const PLOT_FILE: &str = "compare.png";

/// One network to train: a name (its sub-folder), a label (for people: tables and legends),
/// its config, the file it came from, and the `train` arguments that make that config from
/// the file (`--set ...`, `--data-dir`), so it can be trained in a process of its own.
pub struct Candidate {
    pub name: String,
    pub label: String,
    pub config: Config,
    pub config_path: PathBuf,
    pub args: Vec<String>,
}

/// How the training of one candidate ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    Finished,
    /// The loss became NaN or infinite: a result to tabulate, not a reason to stop.
    Diverged,
    /// The user stopped it: the series stops too.
    Interrupted,
}

/// How one candidate did, read back from its run folder.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub name: String,
    pub label: String,
    /// How it was trained: `CONFIG --set ...`.
    pub command: String,
    pub summary: Summary,
    /// Every epoch's records (its `metrics.csv`).
    pub records: Vec<SplitRecord>,
    /// The last training epoch's gradient norm per layer, input side first.
    pub grad_norms: Vec<f64>,
    pub grad_ratio: Option<f64>,
    /// Wall time of the whole run, process start to exit.
    pub seconds: f64,
}

/// The candidates trained, and whether the user stopped the series before the last.
pub struct Comparison {
    pub outcomes: Vec<Outcome>,
    pub interrupted: bool,
}

/// Trains every candidate into `out/<name>/` with `train_one`, `jobs` at a time, then writes
/// the table and the plot of those that ended, in the candidates' order. The CLI trains each
/// in a process of its own, so its summary's peak memory is its own. With one job each run's
/// output goes to the terminal; with more, `train_one` gets `out/<name>.log` for it. After a
/// run the user stopped (or one that failed) no new run starts; those under way finish.
pub fn compare(
    candidates: Vec<Candidate>,
    out: &RunFolder,
    jobs: usize,
    train_one: impl Fn(&Candidate, &Path, Option<&Path>) -> Result<RunEnd> + Sync,
) -> Result<Comparison> {
    let ends = train_all(&candidates, out, jobs.max(1), &train_one);
    let mut outcomes = Vec::with_capacity(candidates.len());
    let mut interrupted = false;
    for (candidate, end) in candidates.into_iter().zip(ends) {
        let Some((end, seconds)) = end else {
            continue; // never started: the series was stopped first
        };
        if end? == RunEnd::Interrupted {
            interrupted = true;
            continue;
        }
        outcomes.push(read_outcome(&candidate.planned(), out, seconds)?);
    }
    write_comparison(&outcomes, out)?;
    Ok(Comparison {
        outcomes,
        interrupted,
    })
}

/// A run of a series as `series.json` keeps it: enough to train it (`--plan`) and to
/// tabulate it (`collect`) without the configs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedRun {
    pub name: String,
    pub label: String,
    pub config_path: PathBuf,
    pub args: Vec<String>,
}

impl Candidate {
    pub fn planned(&self) -> PlannedRun {
        PlannedRun {
            name: self.name.clone(),
            label: self.label.clone(),
            config_path: self.config_path.clone(),
            args: self.args.clone(),
        }
    }
}

/// How a run that ended did, read back from its folder `out/<name>/`.
pub fn read_outcome(planned: &PlannedRun, out: &RunFolder, seconds: f64) -> Result<Outcome> {
    let summary = Summary::read(&out.dir.join(&planned.name).join(run::SUMMARY_FILE))?;
    outcome_of(planned, out, summary, seconds)
}

/// [`read_outcome`] with the run's summary already read.
pub fn outcome_of(
    planned: &PlannedRun,
    out: &RunFolder,
    summary: Summary,
    seconds: f64,
) -> Result<Outcome> {
    let records = read_metrics_csv(&out.dir.join(&planned.name).join(run::METRICS_FILE))?;
    let (grad_norms, grad_ratio) = last_gradient_profile(&records);
    let command = std::iter::once(planned.config_path.display().to_string())
        .chain(planned.args.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");
    Ok(Outcome {
        name: planned.name.clone(),
        label: planned.label.clone(),
        command,
        summary,
        records,
        grad_norms,
        grad_ratio,
        seconds,
    })
}

/// `compare.md` and `compare.png` of the outcomes, into the series folder.
pub fn write_comparison(outcomes: &[Outcome], out: &RunFolder) -> Result<()> {
    out.write(TABLE_FILE, report(outcomes).as_bytes())?;
    let runs: Vec<ComparedRun> = outcomes
        .iter()
        .map(|o| ComparedRun {
            label: &o.label,
            records: &o.records,
            grad_norms: &o.grad_norms,
        })
        .collect();
    comparison_png(&runs, &out.path(PLOT_FILE))
}

/// How each candidate's training ended and its wall time (None: never started).
type Ends = Vec<Option<(Result<RunEnd>, f64)>>;

/// Runs `train_one` on every candidate, `jobs` at a time, each worker taking the next
/// candidate in order.
fn train_all(
    candidates: &[Candidate],
    out: &RunFolder,
    jobs: usize,
    train_one: &(impl Fn(&Candidate, &Path, Option<&Path>) -> Result<RunEnd> + Sync),
) -> Ends {
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let ends: Mutex<Ends> = Mutex::new(candidates.iter().map(|_| None).collect());
    let clock = Mutex::new(SeriesClock::new(candidates.len(), jobs));
    let left = || clock.lock().map(|c| c.left()).unwrap_or_default();
    let worker = || {
        while !stop.load(Ordering::SeqCst) {
            let i = next.fetch_add(1, Ordering::SeqCst);
            let Some(candidate) = candidates.get(i) else {
                break;
            };
            let dir = out.dir.join(&candidate.name);
            let log = (jobs > 1).then(|| out.dir.join(format!("{}.log", candidate.name)));
            // Each run's own progress is its dashboard (or its log); the series' is here.
            let place = format!("{} of {}{}", i + 1, candidates.len(), left());
            match &log {
                None => report::line(&format!("\n== {} ({place}) ==", candidate.label)),
                Some(log) => report::line(&format!(
                    "== {} ({place}): started (its output: {})",
                    candidate.label,
                    log.display()
                )),
            }
            let started = Instant::now();
            let end = train_one(candidate, &dir, log.as_deref());
            let seconds = started.elapsed().as_secs_f64();
            if let Ok(mut clock) = clock.lock() {
                clock.ended(seconds);
            }
            if !matches!(end, Ok(RunEnd::Finished | RunEnd::Diverged)) {
                stop.store(true, Ordering::SeqCst);
            }
            if jobs > 1 {
                let how = match &end {
                    Ok(RunEnd::Finished) => "finished",
                    Ok(RunEnd::Diverged) => "diverged",
                    Ok(RunEnd::Interrupted) => "stopped",
                    Err(_) => "failed",
                };
                let label = &candidate.label;
                report::line(&format!("== {label}: {how} in {seconds:.1} s{}", left()));
            }
            ends.lock().expect("no worker panics")[i] = Some((end, seconds));
        }
    };
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(candidates.len()) {
            scope.spawn(worker);
        }
    });
    ends.into_inner().expect("no worker panics")
}

/// How far a series is, for its runs' headers: runs ended and the seconds they took.
struct SeriesClock {
    runs: usize,
    jobs: usize,
    ended: usize,
    seconds: f64,
}

impl SeriesClock {
    fn new(runs: usize, jobs: usize) -> SeriesClock {
        SeriesClock {
            runs,
            jobs: jobs.clamp(1, runs.max(1)),
            ended: 0,
            seconds: 0.0,
        }
    }

    fn ended(&mut self, seconds: f64) {
        self.ended += 1;
        self.seconds += seconds;
    }

    /// "; about 3 min left": the runs not ended at the mean time of those that have, `jobs` at
    /// a time (nothing before the first has ended, or after the last).
    fn left(&self) -> String {
        let remaining = self.runs.saturating_sub(self.ended);
        if self.ended == 0 || remaining == 0 {
            return String::new();
        }
        let rounds = remaining.div_ceil(self.jobs) as f64;
        let seconds = (self.seconds / self.ended as f64 * rounds).max(1.0);
        match seconds < 90.0 {
            true => format!("; about {seconds:.0} s left"),
            false => format!("; about {:.0} min left", seconds / 60.0),
        }
    }
}

/// The candidates of a sweep: the base config under every combination of the varied values
/// (the product of the `--vary` lists), or with `zip` the i-th value of every list together;
/// each named by its assignments. `load` makes the config from the assignments, `args` the
/// `train` arguments that do the same.
pub fn sweep_candidates(
    base: &Path,
    varied: &[(String, Vec<String>)],
    zip: bool,
    load: impl Fn(&[String]) -> Result<(Config, Vec<String>)>,
) -> Result<Vec<Candidate>> {
    let combinations: Vec<Vec<String>> = if zip {
        let lengths: Vec<usize> = varied.iter().map(|(_, values)| values.len()).collect();
        if lengths.windows(2).any(|w| w[0] != w[1]) {
            let counts: Vec<String> = varied
                .iter()
                .map(|(key, values)| format!("{key} has {}", values.len()))
                .collect();
            return Err(Error::Usage(format!(
                "--zip pairs the i-th values of every --vary, so each needs as many values \
                 ({})",
                counts.join(", ")
            )));
        }
        (0..lengths.first().copied().unwrap_or(0))
            .map(|i| {
                varied
                    .iter()
                    .map(|(key, values)| format!("{key}={}", values[i]))
                    .collect()
            })
            .collect()
    } else {
        let mut product: Vec<Vec<String>> = vec![Vec::new()];
        for (key, values) in varied {
            product = product
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
        product
    };
    combinations
        .into_iter()
        .map(|assignments| {
            // Named by the last part of each key: `learning_rate=0.1,loss=quadratic`; its
            // folder by a file-system-safe form of that.
            let short: Vec<String> = assignments
                .iter()
                .map(|a| {
                    let (key, value) = a.split_once('=').expect("built as key=value above");
                    let tail = key.rsplit_once('.').map_or(key, |(_, tail)| tail);
                    format!("{tail}={value}")
                })
                .collect();
            let (config, args) = load(&assignments)?;
            Ok(Candidate {
                name: folder_name(&short.join(",")),
                label: short.join(", "),
                config,
                config_path: base.to_path_buf(),
                args,
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

/// `compare.md`: the table, then how each run was trained.
pub fn report(outcomes: &[Outcome]) -> String {
    let mut md = table(outcomes);
    md.push_str(
        "\nHow each run was trained (`digits train` arguments; its folder in parentheses):\n\n",
    );
    for o in outcomes {
        md.push_str(&format!(
            "- {}: `{}`, {} epochs ({}/)\n",
            o.label, o.command, o.summary.epochs, o.name
        ));
    }
    md
}

/// The table of results, one row per run.
pub fn table(outcomes: &[Outcome]) -> String {
    let mut md = String::from(
        "| run | train loss | valid accuracy | test accuracy | first/last gradient | \
         train images/s | peak RSS | time |\n|---|---|---|---|---|---|---|---|\n",
    );
    for o in outcomes {
        let s = &o.summary;
        let pct = |v: f64| format!("{:.2} %", v * 100.0);
        let (train_loss, valid, test) = match s.diverged_at {
            Some(at) => (
                format!("diverged (epoch {}, step {})", at.epoch, at.step),
                "-".into(),
                "-".into(),
            ),
            None => (
                s.train.map_or("-".into(), |t| format!("{:.4}", t.loss)),
                s.valid.map_or("-".into(), |v| pct(v.accuracy)),
                s.test.map_or("-".into(), |t| pct(t.accuracy)),
            ),
        };
        let ratio = o.grad_ratio.map_or("-".into(), |r| format!("{r:.2e}"));
        let memory = s.peak_rss_mb.map_or("-".into(), |m| format!("{m:.0} MB"));
        md.push_str(&format!(
            "| {} | {train_loss} | {valid} | {test} | {ratio} | {:.0} | {memory} | {:.1} s |\n",
            o.label, s.train_samples_per_second, o.seconds
        ));
    }
    md
}

/// The gradient norms per layer and the first/last ratio of the last training epoch.
fn last_gradient_profile(records: &[SplitRecord]) -> (Vec<f64>, Option<f64>) {
    let Some(last) = records.iter().rev().find(|r| r.split == Split::Train) else {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_series_says_its_time_left_from_the_runs_that_ended() {
        let mut clock = SeriesClock::new(5, 2);
        assert_eq!(clock.left(), "", "no estimate before a run has ended");
        clock.ended(40.0);
        // Four runs left, two at a time, 40 s each.
        assert_eq!(clock.left(), "; about 80 s left");
        clock.ended(80.0);
        assert_eq!(clock.left(), "; about 2 min left");
        for _ in 0..3 {
            clock.ended(60.0);
        }
        assert_eq!(clock.left(), "");
    }

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
        let load = |set: &[String]| {
            let config = Config::parse(Path::new("config/mlp.toml"), "", set)?;
            Ok((config, set.to_vec()))
        };
        let candidates =
            sweep_candidates(Path::new("config/mlp.toml"), &varied, false, load).unwrap();
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
        assert_eq!(candidates[2].label, "learning_rate=1, loss=quadratic");
    }

    #[test]
    fn sweep_runs_are_labelled_as_written_and_filed_under_safe_names() {
        let varied = vec![(
            "model.hidden".to_string(),
            vec!["[32,32]".into(), "[64]".into()],
        )];
        let load = |set: &[String]| {
            let config = Config::parse(Path::new("mlp.toml"), "", set)?;
            Ok((config, set.to_vec()))
        };
        let candidates = sweep_candidates(Path::new("mlp.toml"), &varied, false, load).unwrap();
        assert_eq!(candidates[0].label, "hidden=[32,32]");
        assert_eq!(candidates[0].name, "hidden=_32,32_");
    }

    #[test]
    fn a_zipped_sweep_pairs_the_ith_values_and_wants_equal_lists() {
        let batch = (
            "training.batch_size".to_string(),
            vec!["8".into(), "64".into()],
        );
        let rate = (
            "training.learning_rate".to_string(),
            vec!["0.05".into(), "0.4".into()],
        );
        let load = |set: &[String]| {
            let config = Config::parse(Path::new("mlp.toml"), "", set)?;
            Ok((config, set.to_vec()))
        };
        let base = Path::new("mlp.toml");
        let candidates =
            sweep_candidates(base, &[batch.clone(), rate.clone()], true, load).unwrap();
        let names: Vec<&str> = candidates.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "batch_size=8,learning_rate=0.05",
                "batch_size=64,learning_rate=0.4"
            ]
        );
        assert_eq!(candidates[1].config.training.batch_size, 64);
        assert_eq!(
            candidates[1].args,
            ["training.batch_size=64", "training.learning_rate=0.4"]
        );
        let short = ("training.seed".to_string(), vec!["1".into()]);
        let error = sweep_candidates(base, &[batch, short], true, load)
            .err()
            .unwrap();
        assert!(error.to_string().contains("training.seed has 1"), "{error}");
    }
}
