//! The training images moved at random (`data.augment`): each image gets its own shift,
//! rotation and scale, drawn from (seed, epoch, image) alone, and is resampled bilinearly on
//! the loader's side, before the batch becomes a tensor.
//!
//! Written by hand (an affine map and a bilinear read, ~60 lines) rather than with Burn's
//! `grid_sample_2d` or burn-vision's `Transform2D`: on the CPU, as the batch's pixels are
//! converted, the augmented images are the same bits on every backend and device count, and
//! the loader's background thread (`training.num_workers = 1`) does the work.

use crate::config::{Augment, IMAGE_SIDE};
use crate::data::seed::epoch_seed;

/// One image's move: turn by `angle` radians and scale by `scale` about the centre, then shift
/// by whole pixels (as torchvision's `RandomAffine` rounds its translation).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Move {
    pub angle: f64,
    pub scale: f64,
    pub dx: f64,
    pub dy: f64,
}

impl Move {
    pub const NONE: Move = Move {
        angle: 0.0,
        scale: 1.0,
        dx: 0.0,
        dy: 0.0,
    };

    /// The move of image `row` in `epoch` of a run seeded `seed`.
    pub fn drawn(augment: &Augment, seed: u64, epoch: usize, row: usize) -> Move {
        let base = epoch_seed(seed ^ 0xA0A0_5EED, epoch) ^ (row as u64).wrapping_mul(4);
        // Four independent uniforms in [-1, 1].
        let u = |k: u64| {
            let bits = epoch_seed(base.wrapping_add(k), row) >> 11;
            bits as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        };
        let shift = augment.shift as f64;
        Move {
            angle: (u(0) * augment.rotate).to_radians(),
            scale: 1.0 + u(1) * augment.scale,
            dx: (u(2) * shift).round(),
            dy: (u(3) * shift).round(),
        }
    }

    /// `pixels` (28×28 bytes, 0 = background) moved, appended to `out` as values in 0..1.
    /// Pixels moved in from outside the canvas are background.
    pub fn apply(&self, pixels: &[u8], out: &mut Vec<f32>) {
        let side = IMAGE_SIDE as isize;
        let centre = (IMAGE_SIDE as f64 - 1.0) / 2.0;
        // Each output pixel reads the source point the inverse move takes it to.
        let (sin, cos) = self.angle.sin_cos();
        let inverse = 1.0 / self.scale;
        let at = |x: isize, y: isize| -> f32 {
            match (0..side).contains(&x) && (0..side).contains(&y) {
                true => f32::from(pixels[(y * side + x) as usize]),
                false => 0.0,
            }
        };
        for y in 0..IMAGE_SIDE {
            for x in 0..IMAGE_SIDE {
                let (u, v) = (x as f64 - centre - self.dx, y as f64 - centre - self.dy);
                let sx = (cos * u + sin * v) * inverse + centre;
                let sy = (-sin * u + cos * v) * inverse + centre;
                let (x0, y0) = (sx.floor(), sy.floor());
                let (fx, fy) = ((sx - x0) as f32, (sy - y0) as f32);
                let (x0, y0) = (x0 as isize, y0 as isize);
                let top = at(x0, y0) * (1.0 - fx) + at(x0 + 1, y0) * fx;
                let bottom = at(x0, y0 + 1) * (1.0 - fx) + at(x0 + 1, y0 + 1) * fx;
                out.push((top * (1.0 - fy) + bottom * fy) / 255.0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::idx::PIXELS;

    fn moved(pixels: &[u8], m: Move) -> Vec<f32> {
        let mut out = Vec::new();
        m.apply(pixels, &mut out);
        out
    }

    #[test]
    fn no_move_is_the_image_and_a_whole_pixel_shift_moves_it_exactly() {
        let pixels: Vec<u8> = (0..PIXELS).map(|i| (i * 7 % 256) as u8).collect();
        let plain: Vec<f32> = pixels.iter().map(|&p| f32::from(p) / 255.0).collect();
        assert_eq!(moved(&pixels, Move::NONE), plain);
        let right = moved(
            &pixels,
            Move {
                dx: 3.0,
                dy: -2.0,
                ..Move::NONE
            },
        );
        // Output (x, y) is input (x - 3, y + 2); what came from outside is background.
        assert_eq!(right[10 * 28 + 5], plain[12 * 28 + 2]);
        assert_eq!(right[10 * 28 + 1], 0.0);
        assert_eq!(right[27 * 28 + 10], 0.0);
    }

    #[test]
    fn a_quarter_turn_turns_the_image() {
        let mut pixels = vec![0u8; PIXELS];
        pixels[5 * 28 + 20] = 255; // row 5, column 20: upper right
        let turned = moved(
            &pixels,
            Move {
                angle: std::f64::consts::FRAC_PI_2,
                ..Move::NONE
            },
        );
        let lit: Vec<usize> = (0..PIXELS).filter(|&i| turned[i] > 0.5).collect();
        // Turned by 90° (clockwise on screen, y pointing down): column 20 → row 20, row 5 →
        // column 22.
        assert_eq!(lit, [20 * 28 + 22]);
    }

    #[test]
    fn draws_depend_on_seed_epoch_and_image_only_and_stay_in_bounds() {
        let augment = Augment {
            shift: 3,
            rotate: 15.0,
            scale: 0.1,
        };
        let a = Move::drawn(&augment, 42, 2, 17);
        assert_eq!(a, Move::drawn(&augment, 42, 2, 17));
        assert_ne!(a, Move::drawn(&augment, 42, 3, 17));
        assert_ne!(a, Move::drawn(&augment, 42, 2, 18));
        assert_ne!(a, Move::drawn(&augment, 43, 2, 17));
        let draws: Vec<Move> = (0..2000).map(|i| Move::drawn(&augment, 1, 1, i)).collect();
        assert!(draws.iter().all(|m| m.angle.abs() <= 15f64.to_radians()
            && (0.9..=1.1).contains(&m.scale)
            && m.dx.abs() <= 3.0
            && m.dx.fract() == 0.0));
        // Every shift from -3 to 3 occurs, and the angles spread over the range.
        for d in -3..=3 {
            assert!(draws.iter().any(|m| m.dx == d as f64), "{d}");
        }
        assert!(draws.iter().any(|m| m.angle > 14f64.to_radians()));
        assert!(draws.iter().any(|m| m.angle < -14f64.to_radians()));
    }
}
