//! The screen `train --dashboard keep` leaves up when training ends, in place of Burn's
//! dashboard (whose own end-of-training popup hides everything and whose controls still offer
//! to stop the training): how the run ended, and its loss and accuracy per epoch, train and
//! valid in the dashboard's colours, until the user closes it.

use std::time::Duration;

use crossterm::event::{Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType, Paragraph};

use crate::data::Split;
use crate::error::Result;
use crate::inspect::plots::epoch_series;
use crate::run::history::SplitRecord;
use crate::run::summary::Summary;
use crate::terminal::{self, FullScreen};

/// The colour of each split: those of Burn's dashboard (and of `curves.png`).
pub const TRAIN_COLOR: Color = Color::LightRed;
pub const VALID_COLOR: Color = Color::LightBlue;

/// What the screen shows.
pub struct Results<'a> {
    pub summary: &'a Summary,
    pub records: &'a [SplitRecord],
    pub run_dir: String,
}

/// Shows `results` until the user closes the screen (q, Esc, Enter or Ctrl-C; SIGTERM or a
/// closed terminal too).
pub fn show(results: &Results) -> Result<()> {
    let mut screen = FullScreen::enter()?;
    let events = terminal::events();
    loop {
        screen.draw(|frame| draw(frame, results))?;
        match events.recv_timeout(Duration::from_millis(500)) {
            Ok(Event::Key(key)) if key.kind == KeyEventKind::Press => {
                let ctrl_c =
                    key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
                if ctrl_c || matches!(key.code, KeyCode::Char('q') | KeyCode::Esc | KeyCode::Enter)
                {
                    return Ok(());
                }
            }
            Ok(_) | Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
        }
    }
}

/// The whole screen: a headline, the two charts, the controls.
pub fn draw(frame: &mut Frame, results: &Results) {
    let rows = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Length(6),
            Constraint::Min(6),
            Constraint::Length(1),
        ])
        .split(frame.area());
    frame.render_widget(headline(results), rows[0]);
    let charts = Layout::default()
        .direction(Direction::Horizontal)
        .constraints([Constraint::Percentage(50), Constraint::Percentage(50)])
        .split(rows[1]);
    draw_chart(frame, charts[0], results.records, "loss");
    draw_chart(frame, charts[1], results.records, "accuracy");
    let controls = Line::from(vec![
        Span::styled(" q", Style::default().add_modifier(Modifier::BOLD)),
        Span::raw(", Esc or Enter: close this screen · "),
        Span::styled("train", Style::default().fg(TRAIN_COLOR)),
        Span::raw(" · "),
        Span::styled("valid", Style::default().fg(VALID_COLOR)),
    ]);
    frame.render_widget(Paragraph::new(controls), rows[2]);
}

fn headline<'a>(results: &'a Results) -> Paragraph<'a> {
    let s = results.summary;
    let how = if s.interrupted {
        format!(
            "stopped after {} of {} epochs",
            s.epochs_completed, s.epochs
        )
    } else {
        format!(
            "finished: {} epochs in {:.1} s",
            s.epochs_completed, s.wall_seconds
        )
    };
    // One column per split that has scores: test (none for a stopped run), valid, train.
    let splits = [("test", s.test), ("valid", s.valid), ("train", s.train)];
    let row = |what: &str, value: &dyn Fn(crate::run::summary::Scores) -> String| {
        let cells: Vec<String> = splits
            .iter()
            .filter_map(|(name, scores)| scores.map(|v| format!("{name} {:>8}", value(v))))
            .collect();
        Line::from(format!("{what:<9} {}", cells.join("   ")))
    };
    let lines = vec![
        Line::from(Span::styled(
            format!("training {how}"),
            Style::default().add_modifier(Modifier::BOLD),
        )),
        row("accuracy", &|v| format!("{:.2} %", v.accuracy * 100.0)),
        row("loss", &|v| format!("{:.4}", v.loss)),
        Line::from(format!("run folder {}", results.run_dir)),
    ];
    Paragraph::new(lines).block(Block::bordered().title(format!(" digits · {} ", s.config)))
}

/// One metric per epoch (accuracy in percent), a line per split.
fn draw_chart(frame: &mut Frame, area: Rect, records: &[SplitRecord], metric: &str) {
    let percent = metric == "accuracy";
    let train = epoch_series(records, Split::Train, metric);
    let valid = epoch_series(records, Split::Valid, metric);
    let values = train.iter().chain(&valid);
    let (low, high) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (_, v)| {
        (lo.min(*v), hi.max(*v))
    });
    let (low, high) = match (low.is_finite(), high > low) {
        (false, _) => (0.0, 1.0),
        (true, true) => (low, high),
        (true, false) => (low - 0.5, high + 0.5),
    };
    let last_epoch = train
        .iter()
        .chain(&valid)
        .map(|(e, _)| *e)
        .fold(1.0, f64::max);
    // Short enough for half of an 80-column terminal.
    let decimals = if percent { 1 } else { 4 };
    let last = |points: &[(f64, f64)]| {
        points
            .last()
            .map_or("-".into(), |(_, v)| format!("{v:.decimals$}"))
    };
    let title = format!(
        " {metric}{} · train {} · valid {} ",
        if percent { " %" } else { "" },
        last(&train),
        last(&valid)
    );
    let line = |split: Split, colour: Color, points| {
        Dataset::default()
            .name(split.name())
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::default().fg(colour))
            .data(points)
    };
    let datasets = vec![
        line(Split::Train, TRAIN_COLOR, &train),
        line(Split::Valid, VALID_COLOR, &valid),
    ];
    let label = |v: f64| Span::raw(format!("{v:.prec$}", prec = if percent { 1 } else { 3 }));
    let chart = Chart::new(datasets)
        .block(Block::bordered().title(title))
        .x_axis(
            Axis::default()
                .title("epoch")
                .bounds([1.0, last_epoch.max(2.0)])
                .labels(["1".to_string(), format!("{}", last_epoch as usize)]),
        )
        .y_axis(
            Axis::default()
                .bounds([low, high])
                .labels([label(low), label(high)]),
        );
    frame.render_widget(chart, area);
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use super::*;
    use crate::data::source::{DataOrigin, SourceKind};
    use crate::run::summary::{DatasetSummary, Scores};

    fn record(epoch: usize, split: Split, loss: f64, accuracy: f64) -> SplitRecord {
        SplitRecord {
            epoch,
            split,
            metrics: BTreeMap::from([("loss".into(), loss), ("accuracy".into(), accuracy)]),
            items: 100,
            seconds: 0.1,
        }
    }

    fn summary(interrupted: bool) -> Summary {
        let scores = Some(Scores {
            loss: 0.3078,
            accuracy: 0.9129,
        });
        Summary {
            digits_version: "0".into(),
            burn_version: "0".into(),
            backend: "ndarray".into(),
            device: "cpu".into(),
            devices: 1,
            config: "config/mlp.toml".into(),
            parameters: 13002,
            epochs: 20,
            epochs_completed: if interrupted { 2 } else { 20 },
            interrupted,
            diverged: false,
            diverged_at: None,
            dataset: DatasetSummary {
                origin: DataOrigin {
                    source: SourceKind::Sample,
                    path: None,
                    fallback: None,
                },
                train: 9000,
                valid: 1000,
                test: 10000,
            },
            train: scores,
            valid: scores,
            test: (!interrupted).then_some(scores).flatten(),
            train_samples_per_second: 1.0,
            peak_rss_mb: None,
            wall_seconds: 4.12,
            early_stopping: None,
            imported_from: None,
        }
    }

    fn screen(summary: &Summary, records: &[SplitRecord]) -> String {
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
        let results = Results {
            summary,
            records,
            run_dir: "artifacts/mlp/run-1".into(),
        };
        terminal.draw(|frame| draw(frame, &results)).unwrap();
        let buffer = terminal.backend().buffer();
        (0..buffer.area.height)
            .map(|y| {
                (0..buffer.area.width)
                    .map(|x| buffer[(x, y)].symbol())
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn a_finished_run_shows_its_scores_curves_and_how_to_close() {
        let records = [
            record(1, Split::Train, 2.0, 0.2),
            record(1, Split::Valid, 1.5, 0.3),
            record(2, Split::Train, 0.5, 0.8),
            record(2, Split::Valid, 0.6, 0.75),
        ];
        let text = screen(&summary(false), &records);
        for needle in [
            "training finished: 20 epochs in 4.1 s",
            "accuracy  test  91.29 %   valid  91.29 %",
            "loss      test   0.3078",
            "run folder artifacts/mlp/run-1",
            "loss · train 0.5000 · valid 0.6000",
            "accuracy % · train 80.0 · valid 75.0",
            "q, Esc or Enter: close",
        ] {
            assert!(text.contains(needle), "`{needle}` missing:\n{text}");
        }
        assert!(!text.contains("Stop the training"), "{text}");
    }

    #[test]
    fn a_stopped_run_says_so() {
        let text = screen(&summary(true), &[record(1, Split::Train, 2.0, 0.2)]);
        assert!(
            text.contains("training stopped after 2 of 20 epochs"),
            "{text}"
        );
        assert!(!text.contains("test "), "{text}");
        assert!(text.contains("accuracy  valid  91.29 %"), "{text}");
    }
}
