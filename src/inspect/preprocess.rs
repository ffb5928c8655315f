//! Turning any picture of a digit into what the network was trained on, the way MNIST itself
//! was made: grey, light ink on a dark background, the ink's bounding box scaled to fit 20×20
//! keeping its aspect ratio, then placed in a 28×28 frame with its centre of mass in the
//! middle.

use image::imageops::{self, FilterType};
use image::{DynamicImage, GenericImageView, GrayImage, Luma};

use crate::data::idx::{PIXELS, SIDE};

/// The box the ink is scaled into, as in MNIST.
const INK_BOX: u32 = 20;
/// Grey levels at or below this (after inversion) count as background when finding the ink.
const INK_THRESHOLD: u8 = 40;

/// Why an image could not be turned into a digit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PreprocessError {
    #[error("the image is empty (0 pixels)")]
    Empty,
    #[error("no ink found: the image is a single flat shade")]
    NoInk,
}

/// The 28×28 network input for a picture of one digit, any size, colour or grey.
pub fn mnist_like(image: &DynamicImage) -> Result<[u8; PIXELS], PreprocessError> {
    if image.width() == 0 || image.height() == 0 {
        return Err(PreprocessError::Empty);
    }
    let mut grey = flatten_onto_white(image);
    // Photos and scans are dark ink on light paper; MNIST is light ink on black.
    if border_mean(&grey) > 127.0 {
        imageops::invert(&mut grey);
    }
    let (x0, y0, x1, y1) = ink_bounds(&grey).ok_or(PreprocessError::NoInk)?;
    let ink = imageops::crop_imm(&grey, x0, y0, x1 - x0 + 1, y1 - y0 + 1).to_image();

    let scale = INK_BOX as f32 / ink.width().max(ink.height()) as f32;
    let width = ((ink.width() as f32 * scale).round() as u32).clamp(1, INK_BOX);
    let height = ((ink.height() as f32 * scale).round() as u32).clamp(1, INK_BOX);
    let scaled = imageops::resize(&ink, width, height, FilterType::Triangle);

    // Place it so its centre of mass lands on the frame's centre, without cutting it off.
    let (cx, cy) = centre_of_mass(&scaled);
    let side = SIDE as i64;
    let left = (side as f32 / 2.0 - cx).round() as i64;
    let top = (side as f32 / 2.0 - cy).round() as i64;
    let left = left.clamp(0, side - i64::from(width));
    let top = top.clamp(0, side - i64::from(height));
    let mut frame = GrayImage::new(SIDE as u32, SIDE as u32);
    imageops::overlay(&mut frame, &scaled, left, top);

    let mut pixels = [0u8; PIXELS];
    pixels.copy_from_slice(frame.as_raw());
    Ok(pixels)
}

/// Mean colourfulness (each pixel's max − min channel, 0..1) above which a picture is a
/// photo rather than ink on paper (coloured ink on white paper stays far below it).
const COLOURFUL: f32 = 0.15;
/// The share of a picture's pixels that may be ink before it is a scene rather than a digit
/// (a digit on plain paper covers well under a third of the page).
const MOSTLY_INK: f32 = 0.45;

/// Why the picture does not look like one handwritten digit on plain paper, when it does
/// not: the network answers some digit for any picture, and a user should know when that
/// answer means little. `None` for a picture that looks like one.
pub fn doubt(image: &DynamicImage) -> Option<String> {
    let pixels = u64::from(image.width()) * u64::from(image.height());
    if pixels == 0 {
        return None;
    }
    let chroma: f32 = image
        .pixels()
        .map(|(_, _, p)| {
            let [r, g, b, _] = p.0;
            f32::from(r.max(g).max(b) - r.min(g).min(b)) / 255.0
        })
        .sum::<f32>()
        / pixels as f32;
    if chroma > COLOURFUL {
        return Some(format!(
            "is in colour (mean colourfulness {:.0} %; ink on paper is under {:.0} %): a photo?",
            chroma * 100.0,
            COLOURFUL * 100.0
        ));
    }
    let mut grey = flatten_onto_white(image);
    if border_mean(&grey) > 127.0 {
        imageops::invert(&mut grey);
    }
    let min = grey.pixels().map(|p| p.0[0]).min().unwrap_or(0);
    let threshold = min.saturating_add(INK_THRESHOLD);
    let ink = grey.pixels().filter(|p| p.0[0] > threshold).count() as f32 / pixels as f32;
    (ink > MOSTLY_INK).then(|| {
        format!(
            "is {:.0} % ink against its background (a digit on plain paper is well under {:.0} \
             %): a scene or a texture rather than one digit?",
            ink * 100.0,
            MOSTLY_INK * 100.0
        )
    })
}

/// Grey levels, with any transparency composited onto white (drawings are often dark strokes
/// on a transparent background, whose hidden colour is usually black).
fn flatten_onto_white(image: &DynamicImage) -> GrayImage {
    // Pixel by pixel from the decoded picture: no full-size colour copy is made.
    let mut grey = GrayImage::new(image.width(), image.height());
    for (x, y, pixel) in image.pixels() {
        let [r, g, b, a] = pixel.0.map(f32::from);
        let luma = 0.299 * r + 0.587 * g + 0.114 * b;
        let alpha = a / 255.0;
        let value = luma * alpha + 255.0 * (1.0 - alpha);
        grey.put_pixel(x, y, Luma([value.round() as u8]));
    }
    grey
}

fn border_mean(image: &GrayImage) -> f32 {
    let (w, h) = image.dimensions();
    let border = image
        .enumerate_pixels()
        .filter(|(x, y, _)| *x == 0 || *y == 0 || *x == w - 1 || *y == h - 1);
    let (sum, count) = border.fold((0.0f32, 0u32), |(s, c), (_, _, p)| {
        (s + f32::from(p.0[0]), c + 1)
    });
    sum / count as f32
}

/// The smallest box holding every ink pixel, inclusive, or None for a blank image.
fn ink_bounds(image: &GrayImage) -> Option<(u32, u32, u32, u32)> {
    let max = image.pixels().map(|p| p.0[0]).max()?;
    let min = image.pixels().map(|p| p.0[0]).min()?;
    if max.saturating_sub(min) <= INK_THRESHOLD {
        return None;
    }
    let threshold = min.saturating_add(INK_THRESHOLD);
    image
        .enumerate_pixels()
        .filter(|(_, _, p)| p.0[0] > threshold)
        .fold(None, |bounds, (x, y, _)| match bounds {
            None => Some((x, y, x, y)),
            Some((x0, y0, x1, y1)) => Some((x0.min(x), y0.min(y), x1.max(x), y1.max(y))),
        })
}

fn centre_of_mass(image: &GrayImage) -> (f32, f32) {
    let (mut mass, mut mx, mut my) = (0.0f32, 0.0f32, 0.0f32);
    for (x, y, p) in image.enumerate_pixels() {
        let m = f32::from(p.0[0]);
        mass += m;
        mx += m * (x as f32 + 0.5);
        my += m * (y as f32 + 0.5);
    }
    if mass == 0.0 {
        return (image.width() as f32 / 2.0, image.height() as f32 / 2.0);
    }
    (mx / mass, my / mass)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage, Rgba, RgbaImage};

    /// A dark bar on white paper, off-centre, in colour, 100×60.
    fn photo_of_a_one() -> DynamicImage {
        let mut img = RgbImage::from_pixel(100, 60, Rgb([250, 245, 240]));
        for y in 5..45 {
            for x in 10..18 {
                img.put_pixel(x, y, Rgb([20, 20, 60]));
            }
        }
        DynamicImage::ImageRgb8(img)
    }

    fn ink_box_of(pixels: &[u8; PIXELS]) -> (usize, usize, usize, usize) {
        let ink: Vec<(usize, usize)> = (0..PIXELS)
            .filter(|&i| pixels[i] > INK_THRESHOLD)
            .map(|i| (i % SIDE, i / SIDE))
            .collect();
        let xs = ink.iter().map(|p| p.0);
        let ys = ink.iter().map(|p| p.1);
        (
            xs.clone().min().unwrap(),
            ys.clone().min().unwrap(),
            xs.max().unwrap(),
            ys.max().unwrap(),
        )
    }

    #[test]
    fn dark_ink_on_light_paper_is_inverted_scaled_to_20_and_centred() {
        let pixels = mnist_like(&photo_of_a_one()).unwrap();
        // The border of the result is background.
        assert!((0..SIDE).all(|i| pixels[i] == 0 && pixels[PIXELS - 1 - i] == 0));
        let (x0, y0, x1, y1) = ink_box_of(&pixels);
        assert_eq!(y1 - y0 + 1, 20, "the long side fills the 20-pixel box");
        assert!((x1 - x0 + 1) <= 6, "aspect ratio kept: 8×40 → 4×20");
        // Centred by mass: the bar's middle is at the frame's middle.
        let (cx, cy) = ((x0 + x1) as f32 / 2.0, (y0 + y1) as f32 / 2.0);
        assert!(
            (cx - 13.5).abs() <= 1.0 && (cy - 13.5).abs() <= 1.0,
            "({cx}, {cy})"
        );
    }

    #[test]
    fn a_colour_photo_or_a_texture_is_doubted_and_a_digit_on_paper_is_not() {
        assert_eq!(doubt(&photo_of_a_one()), None);
        let photo = RgbImage::from_fn(60, 40, |x, y| Rgb([(x * 4) as u8, 200, (y * 6) as u8]));
        let said = doubt(&DynamicImage::ImageRgb8(photo)).unwrap();
        assert!(said.contains("in colour"), "{said}");
        let stripes = GrayImage::from_fn(60, 40, |x, _| Luma([if x % 3 == 0 { 250 } else { 20 }]));
        let said = doubt(&DynamicImage::ImageLuma8(stripes));
        assert_eq!(said, None, "a third of it ink: still could be strokes");
        let texture = GrayImage::from_fn(60, 40, |x, y| {
            Luma([if x == 0 || y == 0 || x == 59 || y == 39 {
                0
            } else {
                60 + (x * y % 190) as u8
            }])
        });
        let said = doubt(&DynamicImage::ImageLuma8(texture)).unwrap();
        assert!(said.contains("% ink"), "{said}");
    }

    #[test]
    fn light_ink_on_dark_is_kept_as_is() {
        let mut img = GrayImage::new(28, 28);
        for y in 4..24 {
            img.put_pixel(14, y, Luma([255]));
        }
        let pixels = mnist_like(&DynamicImage::ImageLuma8(img)).unwrap();
        assert_eq!(pixels.iter().filter(|&&p| p > 200).count(), 20);
    }

    #[test]
    fn transparent_backgrounds_count_as_paper() {
        let mut img = RgbaImage::from_pixel(50, 50, Rgba([0, 0, 0, 0]));
        for y in 10..40 {
            for x in 20..26 {
                img.put_pixel(x, y, Rgba([0, 0, 0, 255]));
            }
        }
        let pixels = mnist_like(&DynamicImage::ImageRgba8(img)).unwrap();
        assert_eq!(pixels[0], 0);
        assert!(pixels.iter().any(|&p| p > 200));
    }

    #[test]
    fn blank_and_empty_images_are_errors() {
        let blank = DynamicImage::ImageLuma8(GrayImage::from_pixel(30, 30, Luma([255])));
        assert_eq!(mnist_like(&blank), Err(PreprocessError::NoInk));
        let empty = DynamicImage::ImageLuma8(GrayImage::new(0, 0));
        assert_eq!(mnist_like(&empty), Err(PreprocessError::Empty));
    }
}
