//! The loss landscape (Li et al., 2018, "Visualizing the Loss Landscape of Neural Nets"): the
//! loss along the line from the initial parameters to the trained ones, on a plane of two
//! filter-normalised random directions around the trained ones, and on the plane of the
//! training path's two main directions, with the path drawn in it. Every loss is the
//! inference-mode network's mean loss on a fixed subset of training images, evaluated in
//! batches.

use std::time::Instant;

use burn::prelude::*;
use burn::train::Interrupter;
use serde::Serialize;

use crate::data::digit_set::DigitSet;
use crate::error::Result;
use crate::inspect::parameter_space::{Point, filter_normalised_direction, path_plane};
use crate::inspect::trained_run::{InitialSource, LoadedRun, epoch_networks, initial_network};
use crate::model::{self, Network};
use crate::report::{self, Progress};

/// Images per evaluation batch: memory stays bounded whatever the subset.
const BATCH: usize = 500;
/// The line runs from a quarter before the initial point to a quarter past the trained one,
/// in steps of a twentieth.
const LINE_STEPS: (i32, i32) = (-5, 25);
const LINE_STEP: f64 = 1.0 / 20.0;
/// Room around the training path on its plane, as a share of the path's extent.
const PATH_MARGIN: f64 = 0.25;

/// What the landscape is computed on and how finely.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct LandscapeOptions {
    /// Points per side of each plane (odd: the centre is one of them).
    pub grid: usize,
    /// Training images the loss is measured on.
    pub subset: usize,
    /// The random plane spans −span..span along each direction.
    pub span: f64,
    /// Seeds the random directions.
    pub seed: u64,
}

/// The landscape of a run, as `explain.json` keeps it.
#[derive(Debug, Clone, Serialize)]
pub struct Landscape {
    pub options: LandscapeOptions,
    /// Training images the losses are the mean over (the subset, or the whole split if smaller).
    pub images: usize,
    pub initial: InitialSource,
    pub line: LineProfile,
    pub random: Surface,
    pub path: Option<TrainingPath>,
    /// Why there is no path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_path: Option<String>,
    /// Networks evaluated, and the time it all took.
    pub evaluations: usize,
    pub seconds: f64,
}

impl Landscape {
    /// The loss at the random plane's centre: the trained network's.
    pub fn centre_loss(&self) -> f64 {
        let middle = self.random.xs.len() / 2;
        self.random.losses[middle][middle]
    }
}

/// The landscape of `run` on the first `options.subset` images of `train`, its training split.
/// Once `stop` is set, the networks left are not evaluated (their losses are NaN).
pub fn explore(
    run: &LoadedRun,
    train: &DigitSet,
    device: &Device,
    options: LandscapeOptions,
    stop: &Interrupter,
) -> Result<Landscape> {
    let started = Instant::now();
    let plane = (options.grid * options.grid) as u64;
    let line_points = (LINE_STEPS.1 - LINE_STEPS.0 + 1) as u64;
    let mut probe = LossProbe::new(&run.model, train, options.subset, device);
    probe.progress = report::progress("the loss landscape", line_points + plane);
    probe.stop = Some(stop.clone());
    let trained = Point::of(&run.model);
    let (initial_model, initial) = initial_network(run, device)?;
    let start = Point::of(&initial_model);
    let line = line_profile(&mut probe, &start, &trained);
    let random = random_plane(&mut probe, &trained, options);
    // Read only now: a BatchNorm's running statistics are shared between a network's clones,
    // and the checkpoints loaded into clones set them for the trained network too.
    let networks = epoch_networks(run)?;
    if let Ok(networks) = &networks {
        probe.progress.grow(plane + networks.len() as u64 + 1);
    }
    let (path, no_path) = match networks {
        Ok(networks) => {
            let epochs = std::iter::once(0)
                .chain(networks.iter().map(|n| n.0))
                .collect();
            let points: Vec<Point> = std::iter::once(start)
                .chain(networks.iter().map(|(_, n)| Point::of(n)))
                .collect();
            match training_path(&mut probe, epochs, &points, options.grid) {
                Some(path) => (Some(path), None),
                None => (None, Some("the path does not span a plane".to_string())),
            }
        }
        Err(why) => (None, Some(why)),
    };
    Ok(Landscape {
        options,
        images: probe.images(),
        initial,
        line,
        random,
        path,
        no_path,
        evaluations: probe.evaluations,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The mean loss of a network on a fixed set of images, at any point of its parameter space.
pub struct LossProbe {
    /// The trained network, inference mode; each point is placed into a copy of it.
    template: Network,
    batches: Vec<(Tensor<2>, Tensor<1, Int>)>,
    images: usize,
    /// Points evaluated so far.
    pub evaluations: usize,
    /// Counts the points as they are evaluated.
    progress: Progress,
    /// Once set, points are not evaluated (NaN).
    stop: Option<Interrupter>,
}

impl LossProbe {
    /// The first `subset` images of `images` (the run's training split) on `device`.
    pub fn new(template: &Network, images: &DigitSet, subset: usize, device: &Device) -> Self {
        let images = images.slice(0, subset);
        let batches = (0..images.len())
            .step_by(BATCH)
            .map(|start| {
                let indices: Vec<usize> = (start..(start + BATCH).min(images.len())).collect();
                let batch = images.batch(&indices, device);
                (batch.images, batch.targets)
            })
            .collect();
        LossProbe {
            template: template.valid(),
            batches,
            images: images.len(),
            evaluations: 0,
            progress: Progress::Hidden,
            stop: None,
        }
    }

    pub fn images(&self) -> usize {
        self.images
    }

    /// The mean loss per image at `point`.
    pub fn loss(&mut self, point: &Point) -> f64 {
        if self.stop.as_ref().is_some_and(Interrupter::should_stop) {
            return f64::NAN;
        }
        self.evaluations += 1;
        self.progress.add(1, None);
        let network = point.place(self.template.clone());
        let sum: f64 = self
            .batches
            .iter()
            .map(|(images, targets)| {
                let size = targets.dims()[0] as f64;
                let logits = network.forward(images.clone());
                let mean = model::loss(network.loss, logits, targets.clone());
                f64::from(mean.into_scalar::<f32>()) * size
            })
            .sum();
        sum / self.images.max(1) as f64
    }

    /// The loss over a `grid`² plane through `centre` along `directions`, at coordinates `xs`
    /// × `ys`.
    fn surface(
        &mut self,
        centre: &Point,
        directions: &[Point; 2],
        xs: &[f64],
        ys: &[f64],
    ) -> Surface {
        let losses = ys
            .iter()
            .map(|&y| {
                xs.iter()
                    .map(|&x| {
                        let terms = [(1.0, centre), (x, &directions[0]), (y, &directions[1])];
                        self.loss(&Point::combination(&terms))
                    })
                    .collect()
            })
            .collect();
        Surface {
            xs: xs.to_vec(),
            ys: ys.to_vec(),
            losses,
        }
    }
}

/// The loss on a plane: `losses[j][i]` at coordinates (`xs[i]`, `ys[j]`).
#[derive(Debug, Clone, Serialize)]
pub struct Surface {
    pub xs: Vec<f64>,
    pub ys: Vec<f64>,
    pub losses: Vec<Vec<f64>>,
}

/// The loss along θ(α) = (1 − α)·θ₀ + α·θ₁: α = 0 the initial network, 1 the trained one.
#[derive(Debug, Clone, Serialize)]
pub struct LineProfile {
    pub alphas: Vec<f64>,
    pub losses: Vec<f64>,
}

/// The training path on the plane of its two main directions.
#[derive(Debug, Clone, Serialize)]
pub struct TrainingPath {
    /// The epoch of each point (0: the initial network).
    pub epochs: Vec<usize>,
    /// Each point's coordinates in the plane; the last epoch's is the origin.
    pub coordinates: Vec<(f64, f64)>,
    /// Each point's own loss (off the plane, the path's points are where they are).
    pub losses: Vec<f64>,
    /// The share of the path's movement along each direction.
    pub explained: [f64; 2],
    pub surface: Surface,
}

/// `count` evenly spaced values over `lo..=hi`.
fn spaced(lo: f64, hi: f64, count: usize) -> Vec<f64> {
    let last = (count - 1).max(1) as f64;
    (0..count)
        .map(|i| lo + (hi - lo) * i as f64 / last)
        .collect()
}

/// The line from `initial` to `trained` and a little beyond.
pub fn line_profile(probe: &mut LossProbe, initial: &Point, trained: &Point) -> LineProfile {
    // α in exact twentieths, so 0 and 1 are the two networks themselves.
    let alphas: Vec<f64> = (LINE_STEPS.0..=LINE_STEPS.1)
        .map(|i| f64::from(i) * LINE_STEP)
        .collect();
    let losses = alphas
        .iter()
        .map(|&a| probe.loss(&Point::between(initial, trained, a)))
        .collect();
    LineProfile { alphas, losses }
}

/// The plane of two filter-normalised random directions around `trained`.
pub fn random_plane(probe: &mut LossProbe, trained: &Point, options: LandscapeOptions) -> Surface {
    let directions = [
        filter_normalised_direction(trained, options.seed),
        filter_normalised_direction(trained, options.seed.wrapping_add(1)),
    ];
    // An odd count puts 0 exactly at the middle: the centre is the trained network.
    let axis = spaced(-options.span, options.span, options.grid);
    probe.surface(trained, &directions, &axis, &axis)
}

/// The training path (`points` by `epochs`, the last one the plane's centre) on the plane of
/// its two main directions, over the grid covering it. None if the points do not span a plane.
pub fn training_path(
    probe: &mut LossProbe,
    epochs: Vec<usize>,
    points: &[Point],
    grid: usize,
) -> Option<TrainingPath> {
    let plane = path_plane(points)?;
    let (xs, ys) = square_window(&plane.coordinates, grid);
    let centre = points.last()?;
    let surface = probe.surface(centre, &plane.directions, &xs, &ys);
    let losses = points.iter().map(|p| probe.loss(p)).collect();
    Some(TrainingPath {
        epochs,
        coordinates: plane.coordinates,
        losses,
        explained: plane.explained,
        surface,
    })
}

/// A `grid`² window around `coordinates` (and the origin), as long up as across: on a square
/// panel a unit is as long in both directions, so the path's turns keep their angles (its
/// second direction often moves a tenth as far as its first).
fn square_window(coordinates: &[(f64, f64)], grid: usize) -> (Vec<f64>, Vec<f64>) {
    let extent = |pick: fn(&(f64, f64)) -> f64| {
        let values = coordinates.iter().map(pick);
        values.fold((0.0f64, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)))
    };
    let ((x0, x1), (y0, y1)) = (extent(|c| c.0), extent(|c| c.1));
    let half = (x1 - x0).max(y1 - y0) * (0.5 + PATH_MARGIN);
    let axis = |lo: f64, hi: f64| {
        let middle = (lo + hi) / 2.0;
        spaced(middle - half, middle + half, grid)
    };
    (axis(x0, x1), axis(y0, y1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_paths_window_is_as_long_up_as_across_and_holds_the_path() {
        // A CNN's path once spanned 12 units across and 1.5 up, drawn on a square panel.
        let path = [(-12.0, 0.3), (-6.0, -1.2), (-2.0, 0.2), (0.0, 0.0)];
        let (xs, ys) = square_window(&path, 21);
        let span = |axis: &[f64]| axis[axis.len() - 1] - axis[0];
        assert!(
            (span(&xs) - span(&ys)).abs() < 1e-9,
            "{} {}",
            span(&xs),
            span(&ys)
        );
        for (x, y) in path {
            assert!(xs[0] < x && x < xs[20] && ys[0] < y && y < ys[20]);
        }
    }

    #[test]
    fn grids_and_the_line_hit_their_centres_and_ends_exactly() {
        let axis = spaced(-1.0, 1.0, 21);
        assert_eq!(axis[10], 0.0);
        assert_eq!((axis[0], axis[20]), (-1.0, 1.0));
        let alphas: Vec<f64> = (LINE_STEPS.0..=LINE_STEPS.1)
            .map(|i| f64::from(i) * LINE_STEP)
            .collect();
        assert!(alphas.contains(&0.0) && alphas.contains(&1.0));
        assert_eq!((alphas[0], alphas[alphas.len() - 1]), (-0.25, 1.25));
    }
}
