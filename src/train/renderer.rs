//! What the user sees while training, and the per-epoch records it keeps.
//!
//! [`RunRenderer`] wraps Burn's TUI dashboard (the CLI asks for it when stdout is a terminal:
//! once a renderer is given Burn no longer checks itself); otherwise it prints one
//! line per split per epoch (Burn's CLI renderer prints a Debug dump per batch). Either way it
//! records each split's epoch-level metric values and timing into an [`EpochHistory`], which the
//! run folder's `metrics.csv` and `summary.json` are written from.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use burn::train::logger::{EvaluationProgressLogger, TrainingProgressLogger};
use burn::train::metric::{MetricDefinition, MetricId, NumericEntry};
use burn::train::renderer::{
    EvaluationName, MetricState, MetricsRenderer, MetricsRendererEvaluation,
    MetricsRendererTraining, tui::TuiMetricsRendererWrapper,
};
use burn::train::{Interrupter, LearnerSummary};

use crate::data::Split;
use crate::report;
use crate::run::history::{EpochHistory, GRAD_NORM_PREFIX, GRAD_RATIO, SplitRecord};
use crate::run::summary::Scores;
use crate::train::interrupt;

/// How training is shown in a terminal (`train --dashboard`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dashboard {
    /// Burn's dashboard while training, then a screen of the run's results and curves that
    /// stays until the user closes it (`q`).
    Keep,
    /// Burn's dashboard while training, nothing after.
    Close,
    /// No dashboard: one plain line per split per epoch (always so off a terminal).
    Off,
}

impl Dashboard {
    /// `asked` when stdout is a terminal (a dashboard needs one), else `Off`. Unasked: `Keep`
    /// when the user can also type into the terminal, `Close` when not.
    pub fn choose(asked: Option<Dashboard>) -> Dashboard {
        use std::io::IsTerminal;
        if !std::io::stdout().is_terminal() {
            return Dashboard::Off;
        }
        asked.unwrap_or(if std::io::stdin().is_terminal() {
            Dashboard::Keep
        } else {
            Dashboard::Close
        })
    }
}

/// A split in progress.
struct OpenSplit {
    split: Split,
    started: Instant,
    items: usize,
    /// The items the whole split has.
    total: usize,
    metrics: BTreeMap<String, f64>,
}

/// Called with every record so far each time a split ends (to keep `metrics.csv` current).
pub type RecordSink = Box<dyn Fn(&[SplitRecord]) + Send + Sync>;

/// Burn's dashboard on a terminal, one line per split per epoch elsewhere; records both ways.
pub struct RunRenderer {
    tui: Option<Box<dyn MetricsRenderer>>,
    /// Whether Ctrl-C sends a signal again under the dashboard's raw mode.
    ctrl_c_is_a_signal: bool,
    interrupter: Interrupter,
    on_record: Option<RecordSink>,
    /// Print nothing off-terminal (benchmarks); still records.
    quiet: bool,
    history: EpochHistory,
    metric_names: HashMap<MetricId, String>,
    total_epochs: usize,
    epoch: usize,
    open: Option<OpenSplit>,
}

impl RunRenderer {
    /// Burn's TUI unless `dashboard` is `Off`, plain lines then.
    pub fn new(interrupter: Interrupter, history: EpochHistory, dashboard: Dashboard) -> Self {
        // Never Burn's persistent mode: its "Training is done" popup hides the whole dashboard
        // and its controls still offer to stop the training; `Keep`'s screen comes after.
        let tui = (dashboard != Dashboard::Off).then(|| {
            interrupt::dashboard_on_screen(true);
            Box::new(TuiMetricsRendererWrapper::new(interrupter.clone(), None))
                as Box<dyn MetricsRenderer>
        });
        RunRenderer {
            tui,
            ctrl_c_is_a_signal: false,
            interrupter,
            on_record: None,
            quiet: false,
            history,
            metric_names: HashMap::new(),
            total_epochs: 0,
            epoch: 1,
            open: None,
        }
    }

    /// Where this renderer keeps its records (shared).
    pub fn history(&self) -> EpochHistory {
        self.history.clone()
    }

    /// Prints no epoch lines (the records are still kept).
    pub fn quiet(mut self) -> Self {
        self.quiet = true;
        self
    }

    /// Calls `sink` with all records each time a split ends.
    pub fn with_record_sink(mut self, sink: RecordSink) -> Self {
        self.on_record = Some(sink);
        self
    }

    /// Under the dashboard, until it has worked: Ctrl-C a signal again (see `interrupt`).
    fn keep_ctrl_c(&mut self) {
        if self.tui.is_some() && !self.ctrl_c_is_a_signal {
            self.ctrl_c_is_a_signal = interrupt::ctrl_c_as_signal();
        }
    }

    fn record(&mut self, state: &MetricState) {
        if let (MetricState::Numeric(entry, Some(NumericEntry::Final(value))), Some(open)) =
            (state, self.open.as_mut())
            && let Some(name) = self.metric_names.get(&entry.metric_id)
        {
            let value = if name == "accuracy" {
                value / 100.0
            } else {
                *value
            };
            open.metrics.insert(name.clone(), value);
        }
    }
}

/// `Learning Rate` → `learning_rate`: names usable as CSV columns and JSON keys. A layer's
/// gradient norm is `grad_norm_N` whatever the dashboard calls its layer (`Grad Norm 1 conv`).
fn column_name(metric_name: &str) -> String {
    let column = metric_name.trim().to_lowercase().replace([' ', '-'], "_");
    match column.strip_prefix(GRAD_NORM_PREFIX) {
        Some(rest) => {
            let layer: String = rest.chars().take_while(char::is_ascii_digit).collect();
            format!("{GRAD_NORM_PREFIX}{layer}")
        }
        None => column,
    }
}

/// The off-terminal line for a finished split of `split_items` items (fewer in the record: it
/// was stopped partway, and the line says so).
pub fn format_line(record: &SplitRecord, total_epochs: usize, split_items: usize) -> String {
    let mut line = format!(
        "epoch {:>width$}/{total_epochs}  {:<5}",
        record.epoch,
        record.split,
        width = total_epochs.to_string().len()
    );
    let mut grad_norms: Vec<(usize, f64)> = Vec::new();
    for (name, value) in &record.metrics {
        if let Some(layer) = name.strip_prefix(GRAD_NORM_PREFIX) {
            grad_norms.push((layer.parse().unwrap_or(0), *value));
            continue;
        }
        match name.as_str() {
            "accuracy" => line.push_str(&format!("  accuracy {:6.2} %", value * 100.0)),
            "learning_rate" => line.push_str(&format!("  lr {value:.3e}")),
            GRAD_RATIO => {}
            _ => line.push_str(&format!("  {name} {value:.4}")),
        }
    }
    if !grad_norms.is_empty() {
        grad_norms.sort_by_key(|(layer, _)| *layer);
        line.push_str("  |grad| by layer");
        for (_, value) in &grad_norms {
            line.push_str(&format!(" {value:.1e}"));
        }
    }
    if let Some(ratio) = record.metrics.get(GRAD_RATIO) {
        line.push_str(&format!("  first/last {ratio:.1e}"));
    }
    line.push_str(&format!(
        "  | {} images in {:.2} s, {:.0} images/s",
        record.items,
        record.seconds,
        record.samples_per_second()
    ));
    if record.items < split_items {
        line.push_str(&format!(
            "  (stopped partway: {} of {split_items} images)",
            record.items
        ));
    }
    line
}

/// The test result, aligned with the epoch lines above it.
pub fn format_test_line(test: &Scores, images: usize, total_epochs: usize) -> String {
    let prefix_width = format!("epoch {total_epochs}/{total_epochs}  train").len();
    format!(
        "{:<prefix_width$}  accuracy {:6.2} %  loss {:.4}  | {images} images",
        "test",
        test.accuracy * 100.0,
        test.loss
    )
}

impl MetricsRendererTraining for RunRenderer {
    fn update_train(&mut self, state: MetricState) {
        self.record(&state);
        if let Some(tui) = &mut self.tui {
            tui.update_train(state);
        }
    }

    fn update_valid(&mut self, state: MetricState) {
        self.record(&state);
        if let Some(tui) = &mut self.tui {
            tui.update_valid(state);
        }
    }

    fn on_train_end(
        &mut self,
        summary: Option<LearnerSummary>,
    ) -> Result<(), Box<dyn core::error::Error>> {
        if self.interrupter.interruption().is_some() {
            self.history.mark_stopped_early();
        }
        match &mut self.tui {
            Some(tui) => tui.on_train_end(summary),
            None => Ok(()),
        }
    }
}

impl TrainingProgressLogger for RunRenderer {
    fn start(
        &mut self,
        total_epochs: usize,
        starting_epoch: usize,
        total_items: Option<usize>,
        label: Option<&str>,
    ) {
        self.total_epochs = total_epochs;
        self.epoch = starting_epoch;
        if let Some(tui) = &mut self.tui {
            tui.start(total_epochs, starting_epoch, total_items, label);
        }
    }

    fn update_epoch(&mut self, epoch: usize) {
        self.epoch = epoch + 1;
        if let Some(tui) = &mut self.tui {
            tui.update_epoch(epoch);
        }
    }

    fn start_split(&mut self, split: &str, total_items: usize) {
        self.keep_ctrl_c();
        self.open = Some(OpenSplit {
            // Burn names only "train" and "valid" (its own dashboard reads any other as valid).
            split: match split {
                "train" => Split::Train,
                _ => Split::Valid,
            },
            started: Instant::now(),
            items: 0,
            total: total_items,
            metrics: BTreeMap::new(),
        });
        if let Some(tui) = &mut self.tui {
            tui.start_split(split, total_items);
        }
    }

    fn update_split(&mut self, items_processed: usize) {
        self.keep_ctrl_c();
        if let Some(open) = &mut self.open {
            open.items = items_processed;
        }
        if let Some(tui) = &mut self.tui {
            tui.update_split(items_processed);
        }
    }

    fn end_split(&mut self) {
        if let Some(open) = self.open.take() {
            let total = open.total;
            let record = SplitRecord {
                epoch: self.epoch,
                split: open.split,
                metrics: open.metrics,
                items: open.items,
                seconds: open.started.elapsed().as_secs_f64(),
            };
            if self.tui.is_none() && !self.quiet {
                report::line(&format_line(&record, self.total_epochs, total));
            }
            self.history.push(record);
            if let Some(sink) = &self.on_record {
                sink(&self.history.records());
            }
        }
        if let Some(tui) = &mut self.tui {
            tui.end_split();
        }
    }

    fn end(&mut self) {
        if let Some(tui) = &mut self.tui {
            tui.end();
        }
    }

    fn log_event_training(&mut self, event: String) {
        // Burn counts an "Iteration" per metrics update, which our loop sends per group of
        // steps: beside the item count it reads as a wrong step count.
        if event == "Iteration" {
            return;
        }
        if let Some(tui) = &mut self.tui {
            tui.log_event_training(event);
        }
    }
}

// Burn's evaluator is not used (the test split is evaluated by `inspect::evaluation::evaluate`), but a
// renderer must accept its events; they go to the dashboard when there is one.
impl EvaluationProgressLogger for RunRenderer {
    fn start_global_progress(&mut self, total_tests: usize) {
        if let Some(tui) = &mut self.tui {
            tui.start_global_progress(total_tests);
        }
    }

    fn start_test(&mut self, name: &str, total_items: usize) {
        if let Some(tui) = &mut self.tui {
            tui.start_test(name, total_items);
        }
    }

    fn update_test_progress(&mut self, items_processed: usize) {
        if let Some(tui) = &mut self.tui {
            tui.update_test_progress(items_processed);
        }
    }

    fn end_test(&mut self) {
        if let Some(tui) = &mut self.tui {
            tui.end_test();
        }
    }

    fn end_global_progress(&mut self) {
        if let Some(tui) = &mut self.tui {
            tui.end_global_progress();
        }
    }

    fn log_event_evaluation(&mut self, event: String) {
        if let Some(tui) = &mut self.tui {
            tui.log_event_evaluation(event);
        }
    }
}

impl MetricsRendererEvaluation for RunRenderer {
    fn update_test(&mut self, name: EvaluationName, state: MetricState) {
        if let Some(tui) = &mut self.tui {
            tui.update_test(name, state);
        }
    }
}

impl Drop for RunRenderer {
    fn drop(&mut self) {
        if self.tui.take().is_some() {
            // Burn's dashboard has given the terminal back by now.
            interrupt::dashboard_on_screen(false);
        }
    }
}

impl MetricsRenderer for RunRenderer {
    fn manual_close(&mut self) {
        if let Some(tui) = &mut self.tui {
            tui.manual_close();
        }
    }

    fn register_metric(&mut self, definition: MetricDefinition) {
        self.metric_names
            .insert(definition.metric_id.clone(), column_name(&definition.name));
        if let Some(tui) = &mut self.tui {
            tui.register_metric(definition);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_show_epoch_split_metrics_and_speed() {
        let record = SplitRecord {
            epoch: 3,
            split: Split::Train,
            metrics: BTreeMap::from([("loss".into(), 0.31234), ("accuracy".into(), 0.91)]),
            items: 9000,
            seconds: 0.5,
        };
        let line = format_line(&record, 10, 9000);
        assert_eq!(
            line,
            "epoch  3/10  train  accuracy  91.00 %  loss 0.3123  | 9000 images in 0.50 s, \
             18000 images/s"
        );
    }

    #[test]
    fn a_split_stopped_partway_says_so() {
        let record = SplitRecord {
            epoch: 5,
            split: Split::Train,
            metrics: BTreeMap::new(),
            items: 2496,
            seconds: 0.5,
        };
        let line = format_line(&record, 20, 9000);
        assert!(
            line.ends_with("(stopped partway: 2496 of 9000 images)"),
            "{line}"
        );
        assert!(!format_line(&record, 20, 2496).contains("stopped"));
    }

    #[test]
    fn the_test_line_lines_up_with_the_epoch_lines() {
        let test = Scores {
            loss: 0.3,
            accuracy: 0.9159,
        };
        let line = format_test_line(&test, 10_000, 20);
        assert_eq!(
            line,
            "test                accuracy  91.59 %  loss 0.3000  | 10000 images"
        );
        let epoch = "epoch 20/20  train  accuracy  97.48 %";
        assert_eq!(line.find("accuracy"), epoch.find("accuracy"));
    }

    #[test]
    fn metric_names_become_columns() {
        assert_eq!(column_name("Learning Rate"), "learning_rate");
        assert_eq!(column_name("Accuracy"), "accuracy");
        assert_eq!(column_name("Grad Norm 12"), "grad_norm_12");
        assert_eq!(column_name("Grad Norm 3 dense 1"), "grad_norm_3");
        assert_eq!(column_name("Grad Ratio"), "grad_ratio");
    }
}
