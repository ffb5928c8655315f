//! The drawing pad's screen, drawn from its state with ratatui: the canvas, what the network
//! sees, its answer, and the inside of the network (a CNN's feature maps, each hidden
//! neuron's output as a shade).

use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout as Split, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use crate::data::idx::{CLASSES, PIXELS, SIDE};
use crate::inspect::classify::FeatureMaps;
use crate::inspect::draw::pad::Pad;

/// The smallest terminal the pad fits in (a 28×28 canvas in half-height cells).
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;
/// Above this size the canvas gets two columns and a full row per pixel.
const DOUBLE_WIDTH: u16 = 108;
const DOUBLE_HEIGHT: u16 = 38;

/// Light to dark ink, five levels (plain text, so any terminal and any copy shows it).
const SHADES: [char; 5] = [' ', '░', '▒', '▓', '█'];
/// A neuron's output, off to full: every neuron stays visible, even when silent.
const NEURON_SHADES: [char; 5] = ['·', '░', '▒', '▓', '█'];

/// The keys, as the help and the status bar give them.
pub const KEYS: [(&str, &str); 9] = [
    ("mouse", "left button draws, right button erases"),
    ("arrows", "move the cursor"),
    ("space", "draw at the cursor"),
    ("x", "erase at the cursor"),
    ("c", "clear"),
    ("t", "a random test image, to edit"),
    (
        "s",
        "save the drawing as a PNG (digits predict reads it the same way)",
    ),
    ("?", "this help"),
    ("q, Esc", "quit"),
];

/// Where the parts of the screen go, for a terminal of a given size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// The canvas's pixels (inside its border).
    canvas: Rect,
    /// Terminal cells per pixel: (2, 1) on big terminals, else (1, ½): two pixels a cell.
    double: bool,
    sees: Rect,
    answer: Rect,
    inside: Rect,
    status: Rect,
}

impl Layout {
    /// The layout for `area`, or None when the terminal is too small.
    pub fn of(area: Rect) -> Option<Layout> {
        if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
            return None;
        }
        let double = area.width >= DOUBLE_WIDTH && area.height >= DOUBLE_HEIGHT;
        let (canvas_width, canvas_height) = match double {
            true => (2 * SIDE as u16, SIDE as u16),
            false => (SIDE as u16, SIDE as u16 / 2),
        };
        let [top, inside, status] = Split::default()
            .direction(Direction::Vertical)
            .constraints([
                Constraint::Length(canvas_height + 2),
                Constraint::Min(3),
                Constraint::Length(1),
            ])
            .areas(area);
        let [canvas, sees, answer] = Split::default()
            .direction(Direction::Horizontal)
            .constraints([
                Constraint::Length(canvas_width + 2),
                Constraint::Length(SIDE as u16 + 2),
                Constraint::Min(20),
            ])
            .areas(top);
        Some(Layout {
            canvas: Block::bordered().inner(canvas),
            double,
            sees,
            answer,
            inside,
            status,
        })
    }

    /// The canvas pixels under terminal cell (column, row): one, or (in half-height cells) the
    /// two a cell holds. None outside the canvas.
    pub fn pixels_at(&self, column: u16, row: u16) -> Option<Vec<(usize, usize)>> {
        let c = self.canvas;
        if column < c.x || row < c.y || column >= c.x + c.width || row >= c.y + c.height {
            return None;
        }
        let (dx, dy) = ((column - c.x) as usize, (row - c.y) as usize);
        Some(match self.double {
            true => vec![(dx / 2, dy)],
            false => vec![(dx, 2 * dy), (dx, 2 * dy + 1)],
        })
    }
}

/// Draws the pad on `frame`.
pub fn draw(frame: &mut Frame, pad: &Pad) {
    let area = frame.area();
    let Some(layout) = Layout::of(area) else {
        let message = format!(
            "The window is {}×{}; digits draw needs at least {MIN_WIDTH}×{MIN_HEIGHT}.\n\
             Enlarge it, or press q to quit.",
            area.width, area.height
        );
        frame.render_widget(Paragraph::new(message).wrap(Wrap { trim: true }), area);
        return;
    };
    draw_canvas(frame, pad, &layout);
    let sees = match &pad.view {
        Some(view) => picture(&view.input, None),
        None => vec![Line::from(" (nothing drawn)")],
    };
    frame.render_widget(
        Paragraph::new(sees).block(Block::bordered().title(" what the network sees ")),
        layout.sees,
    );
    frame.render_widget(
        Paragraph::new(answer_lines(pad)).block(Block::bordered().title(" answer ")),
        layout.answer,
    );
    let width = layout.inside.width.saturating_sub(2) as usize;
    let height = layout.inside.height.saturating_sub(2) as usize;
    frame.render_widget(
        Paragraph::new(inside_lines(pad, width, height))
            .block(Block::bordered().title(" inside the network ")),
        layout.inside,
    );
    let status = match pad.status.is_empty() {
        true => " draw with the mouse, or arrows + space · ? all keys · q quit".to_string(),
        false => format!(" {}", pad.status),
    };
    // Drawing → preprocessing → network → the answer: how long the last one took.
    let timing = match pad.update_ms {
        ms if ms < 1.0 => format!("update {:.0} µs ", ms * 1000.0),
        ms => format!("update {ms:.1} ms "),
    };
    let width = layout.status.width as usize;
    let room = width.saturating_sub(timing.chars().count() + 1);
    let status: String = status.chars().take(room).collect();
    let gap = width.saturating_sub(status.chars().count() + timing.chars().count());
    frame.render_widget(
        Paragraph::new(format!("{status}{}{timing}", " ".repeat(gap)))
            .style(Style::default().add_modifier(Modifier::REVERSED)),
        layout.status,
    );
    if pad.help {
        draw_help(frame, area);
    }
}

fn draw_canvas(frame: &mut Frame, pad: &Pad, layout: &Layout) {
    let border = Rect {
        x: layout.canvas.x - 1,
        y: layout.canvas.y - 1,
        width: layout.canvas.width + 2,
        height: layout.canvas.height + 2,
    };
    let lines = match layout.double {
        true => double_lines(&pad.canvas, pad.cursor),
        false => picture(&pad.canvas, Some(pad.cursor)),
    };
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" draw ")),
        border,
    );
}

fn shade(value: u8) -> char {
    SHADES[value as usize * SHADES.len() / 256]
}

/// A neuron's output in 0..1 as a shade (`·` when silent).
fn neuron_shade(output: f32) -> char {
    let level = (output.clamp(0.0, 1.0) * (NEURON_SHADES.len() - 1) as f32).round() as usize;
    NEURON_SHADES[level]
}

fn cursor_style(on: bool) -> Style {
    match on {
        true => Style::default().add_modifier(Modifier::REVERSED),
        false => Style::default(),
    }
}

/// A 28×28 image in 14 rows of 28 cells, each the darker of its two pixels; the cell holding
/// `cursor` highlighted.
fn picture(pixels: &[u8; PIXELS], cursor: Option<(usize, usize)>) -> Vec<Line<'static>> {
    (0..SIDE / 2)
        .map(|row| {
            let spans: Vec<Span> = (0..SIDE)
                .map(|x| {
                    let value = pixels[2 * row * SIDE + x].max(pixels[(2 * row + 1) * SIDE + x]);
                    let on = cursor.is_some_and(|(cx, cy)| cx == x && cy / 2 == row);
                    Span::styled(shade(value).to_string(), cursor_style(on))
                })
                .collect();
            Line::from(spans)
        })
        .collect()
}

/// The canvas with two cells a pixel: exact, on big terminals.
fn double_lines(pixels: &[u8; PIXELS], cursor: (usize, usize)) -> Vec<Line<'static>> {
    (0..SIDE)
        .map(|y| {
            let spans: Vec<Span> = (0..SIDE)
                .map(|x| {
                    let c = shade(pixels[y * SIDE + x]);
                    Span::styled(format!("{c}{c}"), cursor_style(cursor == (x, y)))
                })
                .collect();
            Line::from(spans)
        })
        .collect()
}

fn answer_lines(pad: &Pad) -> Vec<Line<'static>> {
    let Some(view) = &pad.view else {
        return vec![Line::from(" draw a digit")];
    };
    (0..CLASSES)
        .map(|digit| {
            let score = view.prediction.scores[digit].clamp(0.0, 1.0);
            let filled = (score * 10.0).round() as usize;
            let text = format!(
                " {digit} {}{}{:>4.0}%",
                "█".repeat(filled),
                " ".repeat(10 - filled),
                score * 100.0
            );
            let style = match digit == view.prediction.digit {
                true => Style::default()
                    .fg(Color::Green)
                    .add_modifier(Modifier::BOLD),
                false => Style::default(),
            };
            Line::styled(text, style)
        })
        .collect()
}

/// The label column's width in the inside panel.
const LABEL: usize = 19;
/// A feature map's picture is at most this many cells wide (maps are max-pooled to fit).
const MAP_CELLS: usize = 7;

/// A CNN's convolution layers, then one line per hidden layer (more for wide ones, up to 3;
/// wider still, each cell the strongest of a group of neurons), then the outputs. A
/// convolution layer shows its first feature maps as small pictures when the panel has the
/// rows for them, else one line: each cell a channel's strongest output.
fn inside_lines(pad: &Pad, width: usize, height: usize) -> Vec<Line<'static>> {
    let room = width.saturating_sub(LABEL + 1).max(1);
    let layers = pad.view.as_ref().map(|view| &view.layers);
    let maps = |layer: usize| layers.map(|l| &l.maps[layer]);
    let dense = dense_lines(pad, room);
    let shapes = pad.map_shapes().iter().copied().enumerate();
    // The pictures' rows are known from the shapes: only the form that is shown is built.
    let picture_rows: usize = pad.map_shapes().iter().map(|&s| MapGrid::of(s).rows).sum();
    let mut lines: Vec<Line> = match picture_rows + dense.len() <= height {
        true => shapes
            .flat_map(|(layer, shape)| map_pictures(maps(layer), layer, shape, room))
            .collect(),
        false => shapes
            .flat_map(|(layer, shape)| map_line(maps(layer), layer, shape, room))
            .collect(),
    };
    lines.extend(dense);
    lines
}

fn map_label(layer: usize, [channels, height, width]: [usize; 3]) -> String {
    format!(" conv {} · {channels}×{height}×{width}", layer + 1)
}

/// How a feature map of `[channels, height, width]` is drawn: outputs max-pooled by `pool` to
/// at most [`MAP_CELLS`] cells wide, each cell one column and two rows of them (a terminal
/// cell is twice as tall as wide, so a map keeps its shape).
#[derive(Debug, Clone, Copy)]
struct MapGrid {
    height: usize,
    width: usize,
    pool: usize,
    columns: usize,
    rows: usize,
}

impl MapGrid {
    fn of([_, height, width]: [usize; 3]) -> MapGrid {
        let pool = width.max(height).div_ceil(MAP_CELLS);
        MapGrid {
            height,
            width,
            pool,
            columns: width.div_ceil(pool),
            rows: height.div_ceil(2 * pool),
        }
    }

    /// The strongest output of `map` under cell (`row`, `column`).
    fn strongest(&self, map: &[f32], row: usize, column: usize) -> f32 {
        let ys = row * 2 * self.pool..((row + 1) * 2 * self.pool).min(self.height);
        let xs = column * self.pool..((column + 1) * self.pool).min(self.width);
        ys.flat_map(|y| xs.clone().map(move |x| map[y * self.width + x]))
            .fold(0.0f32, f32::max)
    }
}

/// A convolution layer's first maps as pictures side by side ([`MapGrid`]), as many as fit
/// `room`. Shades are scaled by the layer's largest output.
fn map_pictures(
    maps: Option<&FeatureMaps>,
    layer: usize,
    shape: [usize; 3],
    room: usize,
) -> Vec<Line<'static>> {
    let grid = MapGrid::of(shape);
    let channels = shape[0];
    let shown = channels.min((room + 1) / (grid.columns + 1)).max(1);
    let top = maps.map_or(1.0, |m| m.values.iter().fold(1.0f32, |t, &v| t.max(v)));
    let picture_row = |channel: usize, row: usize| -> String {
        (0..grid.columns)
            .map(|column| match maps {
                Some(maps) => neuron_shade(grid.strongest(maps.map(channel), row, column) / top),
                None => '·',
            })
            .collect()
    };
    (0..grid.rows)
        .map(|row| {
            let head = match row {
                0 => map_label(layer, shape),
                1 if shown < channels => format!("   first {shown} maps"),
                _ => String::new(),
            };
            let cells: Vec<String> = (0..shown).map(|c| picture_row(c, row)).collect();
            Line::from(format!("{head:<LABEL$} {}", cells.join(" ")))
        })
        .collect()
}

/// A convolution layer in one line (or up to 3): each cell a channel's strongest output.
fn map_line(
    maps: Option<&FeatureMaps>,
    layer: usize,
    shape: [usize; 3],
    room: usize,
) -> Vec<Line<'static>> {
    let strongest = maps.map(|maps| {
        (0..maps.channels)
            .map(|c| maps.map(c).iter().fold(0.0f32, |m, &v| m.max(v)))
            .collect::<Vec<f32>>()
    });
    let (cells, per_cell) = cells_of(strongest.as_deref(), shape[0], 3 * room);
    let label = match per_cell {
        1 => map_label(layer, shape),
        n => format!("{}/{n}", map_label(layer, shape)),
    };
    labelled(label, &cells, room)
}

/// The hidden layers' lines, then the outputs'.
fn dense_lines(pad: &Pad, room: usize) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    for (layer, &size) in pad.layer_sizes().iter().enumerate() {
        let outputs = pad.view.as_ref().map(|view| &view.layers.hidden[layer][..]);
        let (cells, per_cell) = cells_of(outputs, size, 3 * room);
        let label = match per_cell {
            1 => format!(" layer {} · {size}", layer + 1),
            n => format!(" layer {} · {size}/{n}", layer + 1),
        };
        lines.extend(labelled(label, &cells, room));
    }
    let outputs: String = match &pad.view {
        Some(view) => {
            let shades: String = (0..CLASSES)
                .map(|d| neuron_shade(view.prediction.scores[d]))
                .collect();
            format!("{shades}  → {}", view.prediction.digit)
        }
        None => " ".repeat(CLASSES),
    };
    lines.push(Line::from(format!("{:<LABEL$} {outputs}", " output · 10")));
    lines.push(Line::from(format!("{:<LABEL$} 0123456789", "")));
    lines
}

/// `cells` in lines of `room`, the label before the first.
fn labelled(label: String, cells: &[char], room: usize) -> Vec<Line<'static>> {
    cells
        .chunks(room)
        .enumerate()
        .map(|(i, chunk)| {
            let head = if i == 0 { label.as_str() } else { "" };
            Line::from(format!(
                "{head:<LABEL$} {}",
                chunk.iter().collect::<String>()
            ))
        })
        .collect()
}

/// A layer's outputs as shades, at most `max_cells` of them: (cells, neurons per cell).
/// Outputs are scaled by the layer's largest (ReLU has no upper bound; a sigmoid's is 1).
fn cells_of(outputs: Option<&[f32]>, size: usize, max_cells: usize) -> (Vec<char>, usize) {
    let per_cell = size.div_ceil(max_cells.max(1));
    let Some(outputs) = outputs else {
        return (vec!['·'; size.div_ceil(per_cell)], per_cell);
    };
    let top = outputs.iter().fold(1.0f32, |m, &v| m.max(v));
    let cells = outputs
        .chunks(per_cell)
        .map(|group| {
            let strongest = group.iter().fold(0.0f32, |m, &v| m.max(v));
            neuron_shade(strongest / top)
        })
        .collect();
    (cells, per_cell)
}

fn draw_help(frame: &mut Frame, area: Rect) {
    let mut lines = vec![
        Line::from(" digits draw: draw a digit, watch the network read it"),
        Line::from(""),
    ];
    for (key, what) in KEYS {
        lines.push(Line::from(format!(" {key:<8} {what}")));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(" ? closes this help"));
    let width = 76.min(area.width);
    let height = (lines.len() as u16 + 2).min(area.height);
    let popup = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" help ")),
        popup,
    );
}
