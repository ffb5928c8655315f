//! Text in our pictures, set properly. plotters 0.3.7's ab_glyph text places each glyph at
//! the start of its advance, ignoring its side bearing (so "first" came out "fir st" and
//! "loss per" as "lossper"), and sets the baseline from each glyph's own top (a raised "u").
//! [`Typeset`] wraps a plotters backend and draws every text itself with ab_glyph — kerning,
//! bearings and one baseline — while lines, shapes and pixels go to the wrapped backend.

use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};
use plotters::prelude::DrawingBackend;
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind,
};

/// The font every picture uses: Ubuntu Light, embedded (no system fonts needed).
pub fn font() -> FontRef<'static> {
    FontRef::try_from_slice(epaint_default_fonts::UBUNTU_LIGHT)
        .expect("the embedded font is valid TrueType")
}

/// The width in pixels of `text` set at pixel size `size`, for laying out around it.
pub fn text_width(size: f32, text: &str) -> i32 {
    layout(&font(), size, text).0 as i32
}

/// A glyph's coverage of one pixel of a laid-out text, relative to its top-left corner.
type Coverage = (i32, i32, f32);

/// `text` laid out at pixel size `size`: its width and height, and the pixels it covers.
pub fn layout(font: &FontRef, size: f32, text: &str) -> (u32, u32, Vec<Coverage>) {
    let scaled = font.as_scaled(PxScale::from(size));
    let ascent = scaled.ascent();
    let mut caret = 0.0f32;
    let mut previous = None;
    let mut pixels = Vec::new();
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(before) = previous {
            caret += scaled.kern(before, id);
        }
        let glyph = id.with_scale_and_position(size, point(caret, ascent));
        if let Some(outline) = font.outline_glyph(glyph) {
            let bounds = outline.px_bounds();
            outline.draw(|x, y, coverage| {
                pixels.push((
                    bounds.min.x as i32 + x as i32,
                    bounds.min.y as i32 + y as i32,
                    coverage,
                ))
            });
        }
        caret += scaled.h_advance(id);
        previous = Some(id);
    }
    let height = (scaled.ascent() - scaled.descent()).ceil() as u32;
    (caret.ceil() as u32, height, pixels)
}

/// A plotters backend whose texts are set by [`layout`].
pub struct Typeset<B> {
    inner: B,
    font: FontRef<'static>,
}

impl<B> Typeset<B> {
    pub fn new(inner: B) -> Self {
        Typeset {
            inner,
            font: font(),
        }
    }
}

impl<B: DrawingBackend> DrawingBackend for Typeset<B> {
    type ErrorType = B::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }

    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.present()
    }

    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.draw_pixel(point, color)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.draw_line(from, to, style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.draw_path(path, style)
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.draw_circle(center, radius, style, fill)
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.fill_polygon(vert, style)
    }

    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.blit_bitmap(pos, size, src)
    }

    fn estimate_text_size<S: BackendTextStyle>(
        &self,
        text: &str,
        style: &S,
    ) -> Result<(u32, u32), DrawingErrorKind<B::ErrorType>> {
        let (width, height, _) = layout(&self.font, style.size() as f32, text);
        Ok((width, height))
    }

    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        let (width, height, pixels) = layout(&self.font, style.size() as f32, text);
        let (width, height) = (width as i32, height as i32);
        let dx = match style.anchor().h_pos {
            HPos::Left => 0,
            HPos::Center => -width / 2,
            HPos::Right => -width,
        };
        let dy = match style.anchor().v_pos {
            VPos::Top => 0,
            VPos::Center => -height / 2,
            VPos::Bottom => -height,
        };
        let transform = style.transform();
        let (w, h) = self.get_size();
        for (x, y, coverage) in pixels {
            let (x, y) = transform.transform(x + dx, y + dy);
            let (x, y) = (pos.0 + x, pos.1 + y);
            if x >= 0 && y >= 0 && x < w as i32 && y < h as i32 {
                let alpha = color.alpha * f64::from(coverage.clamp(0.0, 1.0));
                self.inner.draw_pixel(
                    (x, y),
                    BackendColor {
                        alpha,
                        rgb: color.rgb,
                    },
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The columns of a laid-out text that no glyph covers.
    fn blank_columns(text: &str) -> Vec<bool> {
        let (width, _, pixels) = layout(&font(), 16.0, text);
        let mut inked = vec![false; width as usize + 2];
        for (x, _, c) in pixels {
            if c > 0.3 && x >= 0 && (x as usize) < inked.len() {
                inked[x as usize] = true;
            }
        }
        inked.iter().map(|i| !i).collect()
    }

    /// Runs of blank columns between the first and last inked one, as (start, length).
    fn gaps(text: &str) -> Vec<usize> {
        let blank = blank_columns(text);
        let first = blank.iter().position(|b| !b).unwrap();
        let last = blank.iter().rposition(|b| !b).unwrap();
        let mut gaps = Vec::new();
        let mut run = 0;
        for &b in &blank[first..=last] {
            if b {
                run += 1;
            } else if run > 0 {
                gaps.push(run);
                run = 0;
            }
        }
        gaps
    }

    #[test]
    fn a_word_has_no_gap_as_wide_as_a_space() {
        // plotters' own layout left a gap inside "first" wider than the one of a space.
        let space = *gaps("a b").iter().max().unwrap();
        for word in ["first", "hidden", "neurons", "confusion", "relu"] {
            let widest = gaps(word).into_iter().max().unwrap_or(0);
            assert!(
                widest < space,
                "{word}: a gap of {widest} px (a space: {space})"
            );
        }
    }

    #[test]
    fn a_space_separates_words() {
        let (joined, _, _) = layout(&font(), 16.0, "lossper");
        let (spaced, _, _) = layout(&font(), 16.0, "loss per");
        assert!(spaced >= joined + 3, "{spaced} vs {joined}");
    }

    #[test]
    fn letters_sit_on_one_baseline() {
        // Short and tall letters end on one row (round ones overshoot it by a pixel at most);
        // plotters placed each glyph by its own top, so a tall letter sat lower.
        let bottom = |text: &str| {
            let (_, _, pixels) = layout(&font(), 20.0, text);
            pixels
                .iter()
                .filter(|p| p.2 > 0.5)
                .map(|p| p.1)
                .max()
                .unwrap()
        };
        for letter in ["x", "l", "h", "k", "u", "o"] {
            let offset = (bottom(letter) - bottom("n")).abs();
            assert!(offset <= 1, "{letter} ends {offset} px off the baseline");
        }
    }
}
