//! The drawing pad: scripted actions on its state, its screen on ratatui's test backend, and
//! the real binary once in a pseudo-terminal.

use crate::common;

use std::io::Write;
use std::time::{Duration, Instant};

use digits::backend::Backend;
use digits::config::Config;
use digits::data::idx::SIDE;
use digits::inspect::classify::{self, Inputs};
use digits::inspect::draw::pad::{Action, Pad};
use digits::inspect::draw::screen::{self, Layout};
use digits::model::Network;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;

/// A pad over a fresh network described by `overrides` (untrained: the pad does not care).
fn pad(overrides: &[&str]) -> Pad {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    let config = Config::parse(std::path::Path::new("t.toml"), "", &overrides).unwrap();
    let device = Backend::select(None).unwrap().device().unwrap();
    let model = Network::new(&config.model, config.training.loss, &device);
    Pad::new(model, device)
}

/// The screen the pad draws on a `width`×`height` terminal, as text rows.
fn screen_of(pad: &Pad, width: u16, height: u16) -> Vec<String> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| screen::draw(frame, pad)).unwrap();
    let buffer = terminal.backend().buffer().clone();
    (0..height)
        .map(|y| (0..width).map(|x| buffer[(x, y)].symbol()).collect())
        .collect()
}

fn ink(pad: &Pad, x: usize, y: usize) -> u8 {
    pad.canvas[y * SIDE + x]
}

/// A vertical stroke down the middle, as a mouse drag sends it (with jumps between events).
fn stroke(pad: &mut Pad) {
    for y in [6, 9, 14, 21] {
        pad.apply(Action::StrokeTo {
            x: 14,
            y,
            erase: false,
        });
    }
    pad.apply(Action::StrokeEnd);
}

#[test]
fn a_stroke_paints_its_whole_path_with_a_soft_pen_and_the_screen_shows_it() {
    let mut pad = pad(&[]);
    stroke(&mut pad);
    // Every pixel between the mouse events, not only the events' own.
    assert!((6..=21).all(|y| ink(&pad, 14, y) == 255));
    assert!(
        ink(&pad, 13, 12) >= 128 && ink(&pad, 13, 12) < 255,
        "soft beside"
    );
    assert_eq!((ink(&pad, 14, 4), ink(&pad, 11, 12)), (0, 0));
    let view = pad.view.as_ref().expect("a drawing is read");
    assert_eq!(
        view.layers.hidden.iter().map(Vec::len).collect::<Vec<_>>(),
        [16, 16]
    );

    // On an 80×24 terminal each canvas cell holds two pixels: the stroke's column is ink.
    let rows = screen_of(&pad, 80, 24);
    let column: String = rows[4..12]
        .iter()
        .map(|r| r.chars().nth(15).unwrap())
        .collect();
    assert_eq!(column, "████████", "{}", rows.join("\n"));
    assert!(
        rows.iter().any(|r| r.contains("layer 2 · 16")),
        "{}",
        rows.join("\n")
    );
}

#[test]
fn keys_draw_at_the_cursor_erase_and_clear() {
    let mut pad = pad(&[]);
    assert_eq!(pad.cursor, (14, 14));
    pad.apply(Action::MoveCursor { dx: -20, dy: 1 });
    assert_eq!(pad.cursor, (0, 15), "held inside the canvas");
    pad.apply(Action::AtCursor { erase: false });
    assert_eq!(
        (ink(&pad, 0, 15), ink(&pad, 1, 15), ink(&pad, 1, 16)),
        (255, 128, 64)
    );
    pad.apply(Action::AtCursor { erase: true });
    assert!(pad.canvas.iter().all(|&p| p == 0));
    stroke(&mut pad);
    pad.apply(Action::Clear);
    assert!(pad.canvas.iter().all(|&p| p == 0) && pad.view.is_none());
    let rows = screen_of(&pad, 80, 24);
    assert!(rows.iter().any(|r| r.contains("draw a digit")));
    pad.apply(Action::ToggleHelp);
    let rows = screen_of(&pad, 80, 24);
    assert!(rows.iter().any(|r| r.contains("left button draws")));
}

#[test]
fn the_answer_shown_is_the_networks_on_the_preprocessed_drawing() {
    let mut pad = pad(&["model.activation=relu"]);
    stroke(&mut pad);
    let view = pad.view.clone().unwrap();
    let device = Backend::select(None).unwrap().device().unwrap();
    // `predict`'s classification of the image the pad shows as the network's input.
    let again = classify::classify(pad.model(), &[view.input], &device);
    assert_eq!(again[0], view.prediction);
    let rows = screen_of(&pad, 80, 24);
    let winner = format!(" {} ", view.prediction.digit);
    let line = rows
        .iter()
        .find(|r| r.contains(&format!("│{winner}")) && r.contains('%'))
        .expect("the answer lists the digit");
    let percent = (view.prediction.scores[view.prediction.digit] * 100.0).round();
    assert!(line.contains(&format!("{percent:.0}%")), "{line}");
}

#[test]
fn a_saved_drawing_is_classified_by_predict_as_the_pad_shows() {
    let (work, report) = common::train_config(
        "mlp.toml",
        &[
            "training.epochs=1",
            "data.train_limit=1000",
            "data.test_limit=100",
        ],
    );
    let backend = Backend::select(None).unwrap();
    let device = backend.device().unwrap();
    let loaded = digits::inspect::load_run(&report.run.dir, &device).unwrap();
    let mut pad = Pad::new(loaded.model, device);
    stroke(&mut pad);
    pad.apply(Action::StrokeTo {
        x: 10,
        y: 8,
        erase: false,
    });
    let png = work.path().join("digit-1.png");
    std::fs::write(&png, pad.png()).unwrap();
    let read = classify::predict(
        &report.run.dir,
        &Inputs::Images(vec![png]),
        backend,
        40_000_000,
    )
    .unwrap();
    let read = read.into_iter().collect::<Result<Vec<_>, _>>().unwrap();
    let view = pad.view.unwrap();
    assert_eq!(read[0].pixels, view.input);
    assert_eq!(read[0].prediction, view.prediction);
}

#[test]
fn wide_layers_are_shown_compactly() {
    let mut pad = pad(&["model.hidden=[1000]", "model.activation=relu"]);
    stroke(&mut pad);
    let rows = screen_of(&pad, 80, 24);
    let layer: Vec<&String> = rows
        .iter()
        .filter(|r| r.contains('·') || r.contains('█'))
        .collect();
    let label = rows
        .iter()
        .find(|r| r.contains("layer 1 · 1000/"))
        .expect("grouped");
    assert!(label.chars().count() <= 80, "{label}");
    assert!(!layer.is_empty());
}

#[test]
fn a_cnn_shows_its_feature_maps_as_pictures_or_one_line_each() {
    let mut pad = pad(&[
        "model.kind=\"cnn\"",
        "model.conv=[12, 4]",
        "model.hidden=[8]",
        "model.activation=\"relu\"",
    ]);
    assert_eq!(pad.map_shapes(), [[12, 14, 14], [4, 7, 7]]);
    stroke(&mut pad);
    let layers = &pad.view.as_ref().unwrap().layers;
    let shapes: Vec<[usize; 3]> = (layers.maps.iter())
        .map(|m| [m.channels, m.height, m.width])
        .collect();
    assert_eq!(shapes, pad.map_shapes());
    assert_eq!(layers.maps[0].values.len(), 12 * 14 * 14);

    // A tall terminal: each layer's first maps as 7×4-cell pictures (14×14 pooled by 2).
    let rows = screen_of(&pad, 100, 48);
    let text = rows.join("\n");
    let first = rows
        .iter()
        .position(|r| r.contains("conv 1 · 12×14×14"))
        .expect(&text);
    assert!(rows[first + 1].contains("first 9 maps"), "{text}");
    let second = rows
        .iter()
        .position(|r| r.contains("conv 2 · 4×7×7"))
        .expect(&text);
    assert_eq!(second, first + 4, "{text}");
    assert!(
        text.contains("layer 1 · 8") && text.contains("output · 10"),
        "{text}"
    );
    // The smallest terminal: one line per convolution layer, a cell per channel.
    let rows = screen_of(&pad, 80, 24);
    let text = rows.join("\n");
    for label in ["conv 1 · 12×14×14", "conv 2 · 4×7×7", "layer 1 · 8"] {
        assert_eq!(
            rows.iter().filter(|r| r.contains(label)).count(),
            1,
            "{text}"
        );
    }
    assert!(!text.contains("first"), "{text}");
}

#[test]
fn a_terminal_too_small_says_so_instead_of_drawing() {
    let pad = pad(&[]);
    let rows = screen_of(&pad, 40, 10);
    let text: Vec<&str> = rows.iter().map(|r| r.trim()).collect();
    let text = text.join(" ");
    assert!(
        text.contains("40×10") && text.contains("at least 80×24"),
        "{text}"
    );
}

#[test]
fn mouse_cells_map_to_canvas_pixels() {
    // 80×24: a cell holds a column of two pixels.
    let small = Layout::of(Rect::new(0, 0, 80, 24)).unwrap();
    assert_eq!(small.pixels_at(1, 1), Some(vec![(0, 0), (0, 1)]));
    assert_eq!(small.pixels_at(28, 14), Some(vec![(27, 26), (27, 27)]));
    assert_eq!(small.pixels_at(0, 0), None, "the border");
    // A big terminal: two cells a pixel, one row a pixel.
    let big = Layout::of(Rect::new(0, 0, 120, 40)).unwrap();
    assert_eq!(big.pixels_at(2, 1), Some(vec![(0, 0)]));
    assert_eq!(big.pixels_at(56, 28), Some(vec![(27, 27)]));
    assert!(Layout::of(Rect::new(0, 0, 79, 24)).is_none());
}

#[test]
fn draw_needs_a_terminal() {
    let (_work, report) = common::train_config(
        "mlp.toml",
        &[
            "training.epochs=1",
            "data.train_limit=500",
            "data.test_limit=100",
        ],
    );
    let output = common::digits(
        std::path::Path::new("."),
        &["draw", report.run.dir.to_str().unwrap()],
    );
    common::assert_user_error(&output, &["terminal"]);
    let output = common::digits(std::path::Path::new("."), &["draw", "no/such/run"]);
    common::assert_user_error(&output, &["no/such/run"]);
}

/// The real binary in a pseudo-terminal (util-linux `script`): draw by keys, quit.
#[cfg(target_os = "linux")]
#[test]
fn the_pad_runs_in_a_terminal_draws_by_keys_and_restores_it() {
    let (_work, report) = common::train_config(
        "mlp.toml",
        &[
            "training.epochs=1",
            "data.train_limit=500",
            "data.test_limit=100",
        ],
    );
    let mut terminal = common::PseudoTerminal::start(&format!(
        "stty cols 80 rows 24; exec '{}' draw '{}'",
        env!("CARGO_BIN_EXE_digits"),
        report.run.dir.display()
    ));
    terminal.wait_for("answer");
    let mut keys = terminal.child.stdin.take().unwrap();
    // Up, space (draw), down, space, down, space: a short stroke; the answer appears.
    keys.write_all(b"\x1b[A \x1b[B \x1b[B ").unwrap();
    keys.flush().unwrap();
    terminal.wait_for("%");
    // `s` saves the drawing into the run folder.
    keys.write_all(b"s").unwrap();
    keys.flush().unwrap();
    terminal.wait_for("saved");
    let saved = report.run.dir.join("drawings/digit-1.png");
    assert_eq!(
        image::open(&saved).unwrap().to_luma8().dimensions(),
        (28, 28)
    );
    // `t` loads a test image and says its true digit.
    keys.write_all(b"t").unwrap();
    keys.flush().unwrap();
    terminal.wait_for("true");
    keys.write_all(b"q").unwrap();
    keys.flush().unwrap();
    let code = terminal.exit_code();
    assert_eq!(code, Some(0), "{}", terminal.text());
    let screen = terminal.text();
    let left = screen
        .rfind("\x1b[?1049l")
        .expect("left the alternate screen");
    assert!(left > screen.rfind("answer").unwrap());
    assert!(screen[left..].contains("\x1b[?25h"), "cursor shown again");
}

/// A terminal that goes away (its window closed: a hang-up) ends the pad instead of leaving
/// it spinning on an endless end-of-file.
#[cfg(target_os = "linux")]
#[test]
fn the_pad_ends_when_its_terminal_hangs_up() {
    let (_work, report) = common::train_config(
        "mlp.toml",
        &[
            "training.epochs=1",
            "data.train_limit=500",
            "data.test_limit=100",
        ],
    );
    let run = report.run.dir.display().to_string();
    let mut terminal = common::PseudoTerminal::start(&format!(
        "stty cols 80 rows 24; exec '{}' draw '{run}'",
        env!("CARGO_BIN_EXE_digits")
    ));
    // The pad's process, found in /proc by its run folder (unique to this test).
    let pad = || -> Vec<String> {
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|entry| std::fs::read(entry.ok()?.path().join("cmdline")).ok())
            .map(|cmdline| String::from_utf8_lossy(&cmdline).replace('\0', " "))
            .filter(|cmdline| cmdline.contains(&format!("draw {run}")) && !cmdline.contains("stty"))
            .collect()
    };
    let started = Instant::now();
    while pad().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the pad never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    terminal.child.kill().unwrap(); // the pseudo-terminal closes: the pad gets SIGHUP
    terminal.child.wait().unwrap();
    let hung_up = Instant::now();
    while !pad().is_empty() {
        assert!(
            hung_up.elapsed() < Duration::from_secs(10),
            "the pad kept running after its terminal went away"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
