//! A network's parameters as one point of a vector space, for the loss landscape: read out of
//! and written back into Burn's module, combined linearly, filter-normalised random
//! directions, and the two main directions (PCA) of a set of points.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::model::Network;

/// Every float tensor of a network, in Burn's visiting order: the parameters and the
/// normalisation layers' running statistics (so a point fixes the inference-mode network).
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub tensors: Vec<Values>,
}

/// One tensor's shape and values (row-major).
#[derive(Debug, Clone, PartialEq)]
pub struct Values {
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
    /// A normalisation layer's running statistic, not a parameter.
    pub buffer: bool,
}

/// The names Burn's BatchNorm gives its running statistics.
const BUFFERS: [&str; 2] = ["running_mean", "running_var"];

impl Point {
    /// The point `model` sits at.
    pub fn of(model: &Network) -> Point {
        #[derive(Default)]
        struct Reader {
            tensors: Vec<Values>,
            /// The names of the modules (and field) being visited, outermost first.
            path: Vec<String>,
        }
        impl ModuleVisitor for Reader {
            fn enter_module(&mut self, name: &str, _: &str) {
                self.path.push(name.to_string());
            }
            fn exit_module(&mut self, _: &str, _: &str) {
                self.path.pop();
            }
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                let tensor = param.val();
                let name = self.path.last().map_or("", String::as_str);
                self.tensors.push(Values {
                    shape: tensor.dims().to_vec(),
                    values: tensor.into_data().try_into_vec_as::<f32>().expect("f32"),
                    buffer: BUFFERS.contains(&name),
                });
            }
        }
        let mut reader = Reader::default();
        model.visit(&mut reader);
        Point {
            tensors: reader.tensors,
        }
    }

    /// `model` moved to this point (`model` must be the network it was read from, or one of
    /// the same shapes).
    pub fn place(&self, model: Network) -> Network {
        struct Writer<'a>(std::slice::Iter<'a, Values>);
        impl ModuleMapper for Writer<'_> {
            fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
                let values = self.0.next().expect("a point of this network's shape");
                param.map(|tensor| {
                    let data = TensorData::new(values.values.clone(), values.shape.clone());
                    Tensor::from_data(data, &tensor.device())
                })
            }
        }
        model.map(&mut Writer(self.tensors.iter()))
    }

    /// Σ weight × point, over `terms` (all of this point's shapes). Summed in f64, a term at
    /// a time: the landscape calls this for every network it evaluates.
    pub fn combination(terms: &[(f64, &Point)]) -> Point {
        let first = terms.first().expect("at least one term").1;
        let tensors = first
            .tensors
            .iter()
            .enumerate()
            .map(|(t, shape)| {
                let mut sums = vec![0.0f64; shape.values.len()];
                for (weight, point) in terms {
                    for (sum, &v) in sums.iter_mut().zip(&point.tensors[t].values) {
                        *sum += weight * f64::from(v);
                    }
                }
                Values {
                    shape: shape.shape.clone(),
                    values: sums.into_iter().map(|v| v as f32).collect(),
                    buffer: shape.buffer,
                }
            })
            .collect();
        Point { tensors }
    }

    /// The point `alpha` of the way from `start` to `end` (`alpha` outside 0..1: beyond them).
    /// The running statistics go no further than either end: past them a variance can turn
    /// negative.
    pub fn between(start: &Point, end: &Point, alpha: f64) -> Point {
        let mut point = Point::combination(&[(1.0 - alpha, start), (alpha, end)]);
        let held = alpha.clamp(0.0, 1.0);
        for (t, tensor) in point.tensors.iter_mut().enumerate() {
            if !tensor.buffer {
                continue;
            }
            let ends = start.tensors[t].values.iter().zip(&end.tensors[t].values);
            for (v, (&s, &e)) in tensor.values.iter_mut().zip(ends) {
                *v = ((1.0 - held) * f64::from(s) + held * f64::from(e)) as f32;
            }
        }
        point
    }

    /// This point with its running statistics zeroed: a direction that moves parameters only.
    pub fn parameters_only(mut self) -> Point {
        for t in self.tensors.iter_mut().filter(|t| t.buffer) {
            t.values.iter_mut().for_each(|v| *v = 0.0);
        }
        self
    }

    fn flat(&self) -> impl Iterator<Item = f64> + '_ {
        self.tensors
            .iter()
            .flat_map(|t| t.values.iter().map(|&v| f64::from(v)))
    }

    pub fn dot(&self, other: &Point) -> f64 {
        self.flat().zip(other.flat()).map(|(a, b)| a * b).sum()
    }

    /// `self − other`.
    pub fn minus(&self, other: &Point) -> Point {
        Point::combination(&[(1.0, self), (-1.0, other)])
    }
}

/// Which filter (output neuron or channel) element `index` of a weight of `shape` feeds:
/// Burn's Linear weights are `[inputs, outputs]` (a filter is a column), its convolution
/// weights `[out channels, in channels, k, k]` (a filter is a leading slice).
fn filter_of(shape: &[usize], index: usize) -> usize {
    match shape {
        [_, outputs] => index % outputs,
        [filters, ..] => index / (shape.iter().product::<usize>() / filters).max(1),
        [] => 0,
    }
}

/// A random direction from `centre`, filter-normalised (Li et al., 2018): Gaussian values,
/// each filter scaled to the norm of the same filter at `centre`, so a step of 1 changes every
/// neuron by as much as its weights weigh. Biases, normalisation parameters and running
/// statistics (1-D tensors) get no component, as in the paper.
pub fn filter_normalised_direction(centre: &Point, seed: u64) -> Point {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut gaussian = move || {
        // Box–Muller: two uniforms to one standard normal.
        let (u, v): (f64, f64) = (1.0 - rng.random::<f64>(), rng.random::<f64>());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    };
    let tensors = centre
        .tensors
        .iter()
        .map(|t| {
            if t.shape.len() < 2 {
                return Values {
                    shape: t.shape.clone(),
                    values: vec![0.0; t.values.len()],
                    buffer: t.buffer,
                };
            }
            let filters = match t.shape.len() {
                2 => t.shape[1],
                _ => t.shape[0],
            };
            let mut values: Vec<f64> = (0..t.values.len()).map(|_| gaussian()).collect();
            let (mut wanted, mut drawn) = (vec![0.0; filters], vec![0.0; filters]);
            for (i, (&c, &d)) in t.values.iter().zip(&values).enumerate() {
                let f = filter_of(&t.shape, i);
                wanted[f] += f64::from(c) * f64::from(c);
                drawn[f] += d * d;
            }
            for (i, v) in values.iter_mut().enumerate() {
                let f = filter_of(&t.shape, i);
                *v *= (wanted[f] / drawn[f].max(f64::MIN_POSITIVE)).sqrt();
            }
            Values {
                shape: t.shape.clone(),
                values: values.into_iter().map(|v| v as f32).collect(),
                buffer: t.buffer,
            }
        })
        .collect();
    Point { tensors }
}

/// The plane of a path's two main directions, through its last point.
pub struct PathPlane {
    /// Unit directions, the first explaining most of the path's movement.
    pub directions: [Point; 2],
    /// The share of the movement (variance about the last point) each explains.
    pub explained: [f64; 2],
    /// Each point's coordinates in the plane (the last at the origin).
    pub coordinates: Vec<(f64, f64)>,
}

/// PCA of `points` about the last one (Li et al.'s training-path plot): the top two
/// eigenvectors of the small Gram matrix of the points' offsets (parameters only; the running
/// statistics stay the last point's), mapped back to parameter space. None with fewer than
/// three points, or a path that moved along one line only.
///
/// Written out (power iteration with deflation on an epochs × epochs matrix, a few lines)
/// rather than adding a linear-algebra crate for it.
pub fn path_plane(points: &[Point]) -> Option<PathPlane> {
    let (last, rest) = points.split_last()?;
    let offsets: Vec<Point> = rest
        .iter()
        .map(|p| p.minus(last).parameters_only())
        .collect();
    let n = offsets.len();
    let gram: Vec<Vec<f64>> = (0..n)
        .map(|i| (0..n).map(|j| offsets[i].dot(&offsets[j])).collect())
        .collect();
    let total: f64 = (0..n).map(|i| gram[i][i]).sum();
    let first = top_eigenvector(&gram, None)?;
    let second = top_eigenvector(&gram, Some(&first))?;
    let direction = |(value, vector): &(f64, Vec<f64>)| -> Point {
        let scale = 1.0 / value.sqrt();
        let terms: Vec<(f64, &Point)> = vector.iter().map(|&v| v * scale).zip(&offsets).collect();
        Point::combination(&terms)
    };
    let directions = [direction(&first), direction(&second)];
    let coordinates = offsets
        .iter()
        .map(|o| (o.dot(&directions[0]), o.dot(&directions[1])))
        .chain([(0.0, 0.0)])
        .collect();
    Some(PathPlane {
        explained: [first.0 / total, second.0 / total],
        directions,
        coordinates,
    })
}

/// The largest eigenvalue of symmetric `matrix` and its unit eigenvector, by power iteration;
/// with `deflate`, of the matrix less that (value, vector)'s part. None if it is ~0.
fn top_eigenvector(
    matrix: &[Vec<f64>],
    deflate: Option<&(f64, Vec<f64>)>,
) -> Option<(f64, Vec<f64>)> {
    let n = matrix.len();
    let apply = |v: &[f64]| -> Vec<f64> {
        let mut out: Vec<f64> = (0..n)
            .map(|i| (0..n).map(|j| matrix[i][j] * v[j]).sum())
            .collect();
        if let Some((value, u)) = deflate {
            let along: f64 = u.iter().zip(v).map(|(a, b)| a * b).sum();
            out.iter_mut()
                .zip(u)
                .for_each(|(o, a)| *o -= value * along * a);
        }
        out
    };
    let normalised = |v: Vec<f64>| -> Option<Vec<f64>> {
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        (norm > 0.0).then(|| v.into_iter().map(|x| x / norm).collect())
    };
    // A start with a part along every eigenvector (the golden-ratio sequence).
    let mut v = normalised(
        (0..n)
            .map(|i| 0.1 + (i as f64 * 0.618_034).fract())
            .collect(),
    )?;
    let trace: f64 = (0..n).map(|i| matrix[i][i]).sum();
    for _ in 0..10_000 {
        let next = normalised(apply(&v))?;
        let change: f64 = next.iter().zip(&v).map(|(a, b)| (a - b).abs()).sum();
        v = next;
        if change < 1e-13 {
            break;
        }
    }
    let value: f64 = apply(&v).iter().zip(&v).map(|(a, b)| a * b).sum();
    (value > 1e-9 * trace.max(f64::MIN_POSITIVE)).then_some((value, v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(values: &[f32]) -> Point {
        Point {
            tensors: vec![Values {
                shape: vec![values.len()],
                values: values.to_vec(),
                buffer: false,
            }],
        }
    }

    #[test]
    fn filters_are_linear_columns_and_conv_leading_slices() {
        // Linear [3 inputs, 2 outputs]: row-major, so the column is index % 2.
        let linear: Vec<usize> = (0..6).map(|i| filter_of(&[3, 2], i)).collect();
        assert_eq!(linear, [0, 1, 0, 1, 0, 1]);
        // Conv [2 out, 1 in, 2, 2]: four elements per filter.
        let conv: Vec<usize> = (0..8).map(|i| filter_of(&[2, 1, 2, 2], i)).collect();
        assert_eq!(conv, [0, 0, 0, 0, 1, 1, 1, 1]);
    }

    #[test]
    fn a_direction_has_each_filters_norm_and_leaves_biases_alone() {
        let centre = Point {
            tensors: vec![
                Values {
                    shape: vec![2, 2],
                    values: vec![3.0, 0.0, 4.0, 1.0],
                    buffer: false,
                },
                Values {
                    shape: vec![2],
                    values: vec![1.0, 2.0],
                    buffer: false,
                },
            ],
        };
        let d = filter_normalised_direction(&centre, 7);
        let w = &d.tensors[0].values;
        // Column 0 of the centre has norm 5, column 1 norm 1.
        assert!(((w[0] * w[0] + w[2] * w[2]).sqrt() - 5.0).abs() < 1e-5);
        assert!(((w[1] * w[1] + w[3] * w[3]).sqrt() - 1.0).abs() < 1e-5);
        assert_eq!(d.tensors[1].values, [0.0, 0.0]);
        assert_eq!(d, filter_normalised_direction(&centre, 7));
    }

    #[test]
    fn the_path_plane_finds_a_planar_paths_directions() {
        // A path in the plane z = 0 of 3-D space, mostly along x: the plane holds it all.
        let path: Vec<Point> = [
            [4.0, 1.0, 0.0],
            [3.0, -1.0, 0.0],
            [2.0, 0.5, 0.0],
            [1.0, 0.0, 0.0],
            [0.0, 0.0, 0.0],
        ]
        .iter()
        .map(|p| point(p))
        .collect();
        let plane = path_plane(&path).unwrap();
        assert!((plane.explained[0] + plane.explained[1] - 1.0).abs() < 1e-9);
        assert!(plane.explained[0] > plane.explained[1]);
        for (d, i) in plane.directions.iter().zip([0, 1]) {
            assert!((d.dot(d) - 1.0).abs() < 1e-6, "unit");
            assert!(d.tensors[0].values[2].abs() < 1e-6, "in the plane");
            let other = &plane.directions[1 - i];
            assert!(d.dot(other).abs() < 1e-6, "orthogonal");
        }
        // The coordinates reproduce each point (the plane holds the path).
        for (p, &(x, y)) in path.iter().zip(&plane.coordinates) {
            let back = Point::combination(&[(x, &plane.directions[0]), (y, &plane.directions[1])]);
            for (a, b) in back.tensors[0].values.iter().zip(&p.tensors[0].values) {
                assert!((a - b).abs() < 1e-5, "{back:?} {p:?}");
            }
        }
        // A path along one line has no plane.
        let line: Vec<Point> = (0..4).map(|i| point(&[i as f32, 0.0])).collect();
        assert!(path_plane(&line).is_none());
    }

    #[test]
    fn running_statistics_are_buffers_and_stay_between_the_ends() {
        let device = crate::backend::Backend::Ndarray.device().unwrap();
        let config = crate::config::ModelConfig {
            norm: crate::config::Norm::Batch,
            ..Default::default()
        };
        let model = Network::new(&config, crate::config::Loss::CrossEntropy, &device);
        let start = Point::of(&model);
        let buffers: Vec<&Values> = start.tensors.iter().filter(|t| t.buffer).collect();
        // Two hidden layers, each with a running mean and variance.
        assert_eq!(buffers.len(), 4);
        let mut end = start.clone();
        end.tensors
            .iter_mut()
            .for_each(|t| t.values.iter_mut().for_each(|v| *v += 1.0));
        let before = Point::between(&start, &end, -0.25);
        for ((b, s), e) in before.tensors.iter().zip(&start.tensors).zip(&end.tensors) {
            let expected = match b.buffer {
                true => s.values[0],
                false => s.values[0] * 1.25 - e.values[0] * 0.25,
            };
            assert!((b.values[0] - expected).abs() < 1e-6);
        }
        // Placing a point and reading it back gives it again.
        assert_eq!(Point::of(&end.place(model)), end);
    }
}
