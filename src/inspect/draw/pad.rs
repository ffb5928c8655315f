//! The drawing pad's state and how it reacts: actions in, state out, no terminal involved
//! (`digits draw` maps the terminal's keys and mouse to [`Action`]s; tests script them).

use burn::prelude::*;
use image::{DynamicImage, GrayImage};

use crate::data::idx::{PIXELS, SIDE};
use crate::inspect::classify::{self, Layers, Prediction};
use crate::inspect::preprocess;
use crate::model::Network;
use crate::model::inference::Classifier;

/// What the user does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// The mouse, button down, at pixel (x, y): paints (or erases) from the stroke's last
    /// point to here, so a fast stroke leaves no gaps.
    StrokeTo {
        x: usize,
        y: usize,
        erase: bool,
    },
    /// The mouse button is up: the next stroke starts afresh.
    StrokeEnd,
    /// Arrow keys.
    MoveCursor {
        dx: isize,
        dy: isize,
    },
    /// Space (`erase: false`) or `x` (`erase: true`) at the cursor.
    AtCursor {
        erase: bool,
    },
    Clear,
    /// Replace the drawing by this image (`t`: a test image).
    Load(Box<[u8; PIXELS]>),
    ToggleHelp,
}

/// What the network makes of the drawing.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    /// The 28×28 image as the network sees it, after the same preprocessing as `predict`.
    pub input: [u8; PIXELS],
    /// Every layer's outputs (a CNN's feature maps, the hidden layers'), input side first.
    pub layers: Layers,
    pub prediction: Prediction,
}

/// The pad: the drawing (light ink on black, as MNIST), the keyboard cursor, and the network's
/// view of the drawing, kept current after every change.
pub struct Pad {
    pub canvas: [u8; PIXELS],
    pub cursor: (usize, usize),
    /// None while nothing is drawn (or the drawing is a flat shade).
    pub view: Option<View>,
    pub help: bool,
    /// A line for the status bar (what was saved, loaded, ...).
    pub status: String,
    /// How long the last change took to reach the view, preprocessing and network included.
    pub update_ms: f64,
    last_point: Option<(usize, usize)>,
    /// A CNN's feature-map shapes `[channels, height, width]`, input side first.
    map_shapes: Vec<[usize; 3]>,
    /// The network in inference mode, on the pad's device.
    classifier: Classifier,
}

impl Pad {
    /// An empty pad for a trained network (in inference mode) on `device`.
    pub fn new(model: Network, device: Device) -> Pad {
        let classifier = Classifier::new(&model, &device);
        // The maps' shapes, for the screen before anything is drawn: one blank image's maps.
        let (blank, _) = classify::look(&classifier, &[0; PIXELS]);
        let map_shapes = blank
            .maps
            .iter()
            .map(|maps| [maps.channels, maps.height, maps.width])
            .collect();
        Pad {
            canvas: [0; PIXELS],
            cursor: (SIDE / 2, SIDE / 2),
            view: None,
            help: false,
            status: String::new(),
            update_ms: 0.0,
            last_point: None,
            map_shapes,
            classifier,
        }
    }

    /// The network the pad reads the drawing with.
    pub fn model(&self) -> &Network {
        self.classifier.network()
    }

    /// A CNN's feature-map shapes `[channels, height, width]`, input side first.
    pub fn map_shapes(&self) -> &[[usize; 3]] {
        &self.map_shapes
    }

    /// The hidden layers' sizes, input side first.
    pub fn layer_sizes(&self) -> Vec<usize> {
        self.model()
            .hidden
            .iter()
            .map(|block| block.linear.weight.dims()[1])
            .collect()
    }

    /// Applies `action`; the view is brought up to date when the drawing changed.
    pub fn apply(&mut self, action: Action) {
        let before = self.canvas;
        match action {
            Action::StrokeTo { x, y, erase } => {
                let (x, y) = (x.min(SIDE - 1), y.min(SIDE - 1));
                let from = self.last_point.unwrap_or((x, y));
                for (px, py) in line(from, (x, y)) {
                    self.brush(px, py, erase);
                }
                self.last_point = Some((x, y));
                self.cursor = (x, y);
            }
            Action::StrokeEnd => self.last_point = None,
            Action::MoveCursor { dx, dy } => {
                let step = |v: usize, d: isize| v.saturating_add_signed(d).min(SIDE - 1);
                self.cursor = (step(self.cursor.0, dx), step(self.cursor.1, dy));
            }
            Action::AtCursor { erase } => self.brush(self.cursor.0, self.cursor.1, erase),
            Action::Clear => self.canvas = [0; PIXELS],
            Action::Load(image) => self.canvas = *image,
            Action::ToggleHelp => self.help = !self.help,
        }
        if self.canvas != before {
            self.refresh();
        }
    }

    /// A soft pen: full ink where it touches, half beside, a quarter on the diagonals (the
    /// darker of what is there and what the pen leaves, so a stroke keeps soft edges).
    /// Erasing clears the same 3×3 spot.
    fn brush(&mut self, x: usize, y: usize, erase: bool) {
        for dy in -1isize..=1 {
            for dx in -1isize..=1 {
                let (Some(px), Some(py)) = (x.checked_add_signed(dx), y.checked_add_signed(dy))
                else {
                    continue;
                };
                if px >= SIDE || py >= SIDE {
                    continue;
                }
                let cell = &mut self.canvas[py * SIDE + px];
                if erase {
                    *cell = 0;
                } else {
                    let ink = match dx.abs() + dy.abs() {
                        0 => 255,
                        1 => 128,
                        _ => 64,
                    };
                    *cell = (*cell).max(ink);
                }
            }
        }
    }

    /// The network's view of the drawing, as `predict` would prepare and classify it.
    pub fn refresh(&mut self) {
        let started = std::time::Instant::now();
        let picture = GrayImage::from_raw(SIDE as u32, SIDE as u32, self.canvas.to_vec())
            .expect("the canvas is 28×28");
        self.view = preprocess::mnist_like(&DynamicImage::ImageLuma8(picture))
            .ok()
            .map(|input| {
                let (layers, prediction) = classify::look(&self.classifier, &input);
                View {
                    input,
                    layers,
                    prediction,
                }
            });
        self.update_ms = started.elapsed().as_secs_f64() * 1000.0;
    }

    /// The drawing as a PNG (light ink on black, 28×28), which `digits predict` reads as
    /// this pad does.
    pub fn png(&self) -> Vec<u8> {
        let mut bytes = std::io::Cursor::new(Vec::new());
        GrayImage::from_raw(SIDE as u32, SIDE as u32, self.canvas.to_vec())
            .expect("the canvas is 28×28")
            .write_to(&mut bytes, image::ImageFormat::Png)
            .expect("a PNG encodes into memory");
        bytes.into_inner()
    }
}

/// The pixels from `a` to `b` inclusive (Bresenham's line).
fn line(a: (usize, usize), b: (usize, usize)) -> Vec<(usize, usize)> {
    let (mut x, mut y) = (a.0 as isize, a.1 as isize);
    let (x1, y1) = (b.0 as isize, b.1 as isize);
    let (dx, dy) = ((x1 - x).abs(), -(y1 - y).abs());
    let (sx, sy) = ((x1 - x).signum(), (y1 - y).signum());
    let mut err = dx + dy;
    let mut points = vec![(x as usize, y as usize)];
    while (x, y) != (x1, y1) {
        let e2 = 2 * err;
        if e2 >= dy {
            err += dy;
            x += sx;
        }
        if e2 <= dx {
            err += dx;
            y += sy;
        }
        points.push((x as usize, y as usize));
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_visits_every_pixel_between_its_ends() {
        assert_eq!(line((0, 0), (3, 0)), [(0, 0), (1, 0), (2, 0), (3, 0)]);
        assert_eq!(line((2, 2), (0, 0)), [(2, 2), (1, 1), (0, 0)]);
        assert_eq!(line((5, 5), (5, 5)), [(5, 5)]);
        let steep = line((0, 0), (1, 4));
        assert_eq!((steep.len(), steep[4]), (5, (1, 4)));
    }
}
