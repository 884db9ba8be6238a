//! PNG charts and images with no system dependency.
//!
//! Training curves, sample grids, saliency maps and confusion matrices have to
//! be viewable on a machine with no Python, no fonts and no GUI, so everything
//! here draws into a plain RGB buffer with a built-in 5x7 bitmap font and writes
//! it with the pure-Rust `png` crate:
//!
//! - [`line_chart`]: one or more series (loss/accuracy per epoch, gradient norm
//!   vs distance) with nice ticks, optional log y axis and a legend.
//! - [`gray_image_png`]: one grayscale image, min-max normalised and upscaled.
//! - [`image_grid_png`]: a grid of grayscale images (GAN samples, retrieval
//!   results) with optional captions.
//! - [`saliency_overlay_png`]: an input next to the same input with its saliency
//!   map overlaid in a red-yellow heat colour map.
//! - [`heatmap_png`]: a matrix (confusion matrix, attention weights) in a
//!   viridis-like colour map, with labels, a colour bar and cell values when the
//!   cells are large enough.
//!
//! All functions validate their input (lengths, zero sizes, empty series, image
//! size limits) and return [`Error`] instead of panicking; non-finite values are
//! skipped (charts) or drawn in a neutral colour (images, heatmaps).

use std::path::Path;

use crate::{Error, Result};

/// An RGB colour.
type Rgb = [u8; 3];

const WHITE: Rgb = [255, 255, 255];
const TEXT: Rgb = [20, 20, 20];
const AXIS: Rgb = [60, 60, 60];
const GRID: Rgb = [222, 222, 222];
const MINOR_GRID: Rgb = [240, 240, 240];
const LEGEND_BORDER: Rgb = [170, 170, 170];
/// Colour of heatmap cells whose value is NaN or infinite.
const NAN_CELL: Rgb = [205, 205, 205];

/// Series colours of [`line_chart`], in order (the "tab10" palette); series
/// past the tenth reuse them cyclically.
pub const PALETTE: [[u8; 3]; 10] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
    [188, 189, 34],
    [23, 190, 207],
];

/// Viridis, sampled at 9 evenly spaced points (dark purple to yellow).
const VIRIDIS: [Rgb; 9] = [
    [68, 1, 84],
    [71, 44, 122],
    [59, 81, 139],
    [44, 113, 142],
    [33, 144, 141],
    [39, 173, 129],
    [92, 200, 99],
    [170, 220, 50],
    [253, 231, 37],
];

/// Red to yellow heat map, evenly spaced.
const HEAT: [Rgb; 5] = [[150, 0, 0], [215, 20, 0], [255, 90, 0], [255, 180, 0], [255, 255, 80]];

/// Largest width or height, in pixels, of any image written here.
pub const MAX_SIDE: u32 = 1 << 15;
/// Largest number of pixels of any image written here (about 200 MB of RGB).
pub const MAX_PIXELS: u64 = 1 << 26;

/// Size of the line chart written by [`line_chart`].
pub const CHART_WIDTH: u32 = 800;
/// Height of the line chart written by [`line_chart`].
pub const CHART_HEIGHT: u32 = 500;

/// Gap, in pixels, between the two panels of [`saliency_overlay_png`] and
/// around / between the tiles of [`image_grid_png`].
pub const GAP: u32 = 4;

// ---------------------------------------------------------------------------
// Font
// ---------------------------------------------------------------------------

/// Glyph width in font pixels.
const GLYPH_W: i64 = 5;
/// Glyph height above the baseline in font pixels (descenders add 2 below;
/// layouts leave room for them).
const GLYPH_H: i64 = 7;
/// Horizontal advance per character in font pixels (glyph + 1 spacing).
const ADVANCE: i64 = 6;

/// The bitmap of `c`: 9 rows of 5 bits (bit 4 is the leftmost column); rows
/// 0-6 sit on the baseline, rows 7-8 hold the descenders of `g j p q y , ;`.
///
/// Covers digits, `A-Z`, `a-z`, space and `.-_:/%()=,+[]<>!?'"*#|&;^~`.
/// Anything else is drawn as `?`.
#[rustfmt::skip]
fn glyph(c: char) -> [u8; 9] {
    match c {
        ' ' => [0; 9],
        '0' => [0b01110, 0b10001, 0b10011, 0b10101, 0b11001, 0b10001, 0b01110, 0, 0],
        '1' => [0b00100, 0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110, 0, 0],
        '2' => [0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b01000, 0b11111, 0, 0],
        '3' => [0b11111, 0b00010, 0b00100, 0b00010, 0b00001, 0b10001, 0b01110, 0, 0],
        '4' => [0b00010, 0b00110, 0b01010, 0b10010, 0b11111, 0b00010, 0b00010, 0, 0],
        '5' => [0b11111, 0b10000, 0b11110, 0b00001, 0b00001, 0b10001, 0b01110, 0, 0],
        '6' => [0b00110, 0b01000, 0b10000, 0b11110, 0b10001, 0b10001, 0b01110, 0, 0],
        '7' => [0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b01000, 0b01000, 0, 0],
        '8' => [0b01110, 0b10001, 0b10001, 0b01110, 0b10001, 0b10001, 0b01110, 0, 0],
        '9' => [0b01110, 0b10001, 0b10001, 0b01111, 0b00001, 0b00010, 0b01100, 0, 0],
        'A' => [0b01110, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001, 0, 0],
        'B' => [0b11110, 0b10001, 0b10001, 0b11110, 0b10001, 0b10001, 0b11110, 0, 0],
        'C' => [0b01110, 0b10001, 0b10000, 0b10000, 0b10000, 0b10001, 0b01110, 0, 0],
        'D' => [0b11100, 0b10010, 0b10001, 0b10001, 0b10001, 0b10010, 0b11100, 0, 0],
        'E' => [0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b11111, 0, 0],
        'F' => [0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b10000, 0, 0],
        'G' => [0b01110, 0b10001, 0b10000, 0b10111, 0b10001, 0b10001, 0b01111, 0, 0],
        'H' => [0b10001, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001, 0, 0],
        'I' => [0b01110, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110, 0, 0],
        'J' => [0b00111, 0b00010, 0b00010, 0b00010, 0b00010, 0b10010, 0b01100, 0, 0],
        'K' => [0b10001, 0b10010, 0b10100, 0b11000, 0b10100, 0b10010, 0b10001, 0, 0],
        'L' => [0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b11111, 0, 0],
        'M' => [0b10001, 0b11011, 0b10101, 0b10101, 0b10001, 0b10001, 0b10001, 0, 0],
        'N' => [0b10001, 0b10001, 0b11001, 0b10101, 0b10011, 0b10001, 0b10001, 0, 0],
        'O' => [0b01110, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110, 0, 0],
        'P' => [0b11110, 0b10001, 0b10001, 0b11110, 0b10000, 0b10000, 0b10000, 0, 0],
        'Q' => [0b01110, 0b10001, 0b10001, 0b10001, 0b10101, 0b10010, 0b01101, 0, 0],
        'R' => [0b11110, 0b10001, 0b10001, 0b11110, 0b10100, 0b10010, 0b10001, 0, 0],
        'S' => [0b01111, 0b10000, 0b10000, 0b01110, 0b00001, 0b00001, 0b11110, 0, 0],
        'T' => [0b11111, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0, 0],
        'U' => [0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110, 0, 0],
        'V' => [0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01010, 0b00100, 0, 0],
        'W' => [0b10001, 0b10001, 0b10001, 0b10101, 0b10101, 0b10101, 0b01010, 0, 0],
        'X' => [0b10001, 0b10001, 0b01010, 0b00100, 0b01010, 0b10001, 0b10001, 0, 0],
        'Y' => [0b10001, 0b10001, 0b10001, 0b01010, 0b00100, 0b00100, 0b00100, 0, 0],
        'Z' => [0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b10000, 0b11111, 0, 0],
        'a' => [0b00000, 0b00000, 0b01110, 0b00001, 0b01111, 0b10001, 0b01111, 0, 0],
        'b' => [0b10000, 0b10000, 0b10110, 0b11001, 0b10001, 0b10001, 0b11110, 0, 0],
        'c' => [0b00000, 0b00000, 0b01110, 0b10000, 0b10000, 0b10001, 0b01110, 0, 0],
        'd' => [0b00001, 0b00001, 0b01101, 0b10011, 0b10001, 0b10001, 0b01111, 0, 0],
        'e' => [0b00000, 0b00000, 0b01110, 0b10001, 0b11111, 0b10000, 0b01110, 0, 0],
        'f' => [0b00110, 0b01001, 0b01000, 0b11100, 0b01000, 0b01000, 0b01000, 0, 0],
        'g' => [0b00000, 0b00000, 0b01111, 0b10001, 0b10001, 0b10001, 0b01111, 0b00001, 0b01110],
        'h' => [0b10000, 0b10000, 0b10110, 0b11001, 0b10001, 0b10001, 0b10001, 0, 0],
        'i' => [0b00100, 0b00000, 0b01100, 0b00100, 0b00100, 0b00100, 0b01110, 0, 0],
        'j' => [0b00010, 0b00000, 0b00110, 0b00010, 0b00010, 0b00010, 0b00010, 0b10010, 0b01100],
        'k' => [0b10000, 0b10000, 0b10010, 0b10100, 0b11000, 0b10100, 0b10010, 0, 0],
        'l' => [0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00011, 0, 0],
        'm' => [0b00000, 0b00000, 0b11010, 0b10101, 0b10101, 0b10001, 0b10001, 0, 0],
        'n' => [0b00000, 0b00000, 0b10110, 0b11001, 0b10001, 0b10001, 0b10001, 0, 0],
        'o' => [0b00000, 0b00000, 0b01110, 0b10001, 0b10001, 0b10001, 0b01110, 0, 0],
        'p' => [0b00000, 0b00000, 0b11110, 0b10001, 0b10001, 0b10001, 0b11110, 0b10000, 0b10000],
        'q' => [0b00000, 0b00000, 0b01111, 0b10001, 0b10001, 0b10001, 0b01111, 0b00001, 0b00001],
        'r' => [0b00000, 0b00000, 0b10110, 0b11001, 0b10000, 0b10000, 0b10000, 0, 0],
        's' => [0b00000, 0b00000, 0b01110, 0b10000, 0b01110, 0b00001, 0b11110, 0, 0],
        't' => [0b01000, 0b01000, 0b11100, 0b01000, 0b01000, 0b01001, 0b00110, 0, 0],
        'u' => [0b00000, 0b00000, 0b10001, 0b10001, 0b10001, 0b10011, 0b01101, 0, 0],
        'v' => [0b00000, 0b00000, 0b10001, 0b10001, 0b10001, 0b01010, 0b00100, 0, 0],
        'w' => [0b00000, 0b00000, 0b10001, 0b10001, 0b10101, 0b10101, 0b01010, 0, 0],
        'x' => [0b00000, 0b00000, 0b10001, 0b01010, 0b00100, 0b01010, 0b10001, 0, 0],
        'y' => [0b00000, 0b00000, 0b10001, 0b10001, 0b10001, 0b10001, 0b01111, 0b00001, 0b01110],
        'z' => [0b00000, 0b00000, 0b11111, 0b00010, 0b00100, 0b01000, 0b11111, 0, 0],
        '.' => [0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b01100, 0b01100, 0, 0],
        ',' => [0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b01100, 0b01100, 0b00100, 0b01000],
        '-' => [0b00000, 0b00000, 0b00000, 0b11111, 0b00000, 0b00000, 0b00000, 0, 0],
        '_' => [0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b11111, 0, 0],
        ':' => [0b00000, 0b01100, 0b01100, 0b00000, 0b01100, 0b01100, 0b00000, 0, 0],
        ';' => [0b00000, 0b00000, 0b01100, 0b01100, 0b00000, 0b01100, 0b01100, 0b00100, 0b01000],
        '/' => [0b00000, 0b00001, 0b00010, 0b00100, 0b01000, 0b10000, 0b00000, 0, 0],
        '%' => [0b11000, 0b11001, 0b00010, 0b00100, 0b01000, 0b10011, 0b00011, 0, 0],
        '(' => [0b00010, 0b00100, 0b01000, 0b01000, 0b01000, 0b00100, 0b00010, 0, 0],
        ')' => [0b01000, 0b00100, 0b00010, 0b00010, 0b00010, 0b00100, 0b01000, 0, 0],
        '[' => [0b01110, 0b01000, 0b01000, 0b01000, 0b01000, 0b01000, 0b01110, 0, 0],
        ']' => [0b01110, 0b00010, 0b00010, 0b00010, 0b00010, 0b00010, 0b01110, 0, 0],
        '<' => [0b00010, 0b00100, 0b01000, 0b10000, 0b01000, 0b00100, 0b00010, 0, 0],
        '>' => [0b01000, 0b00100, 0b00010, 0b00001, 0b00010, 0b00100, 0b01000, 0, 0],
        '=' => [0b00000, 0b00000, 0b11111, 0b00000, 0b11111, 0b00000, 0b00000, 0, 0],
        '+' => [0b00000, 0b00100, 0b00100, 0b11111, 0b00100, 0b00100, 0b00000, 0, 0],
        '*' => [0b00000, 0b00100, 0b10101, 0b01110, 0b10101, 0b00100, 0b00000, 0, 0],
        '!' => [0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00000, 0b00100, 0, 0],
        '\'' => [0b00100, 0b00100, 0b01000, 0b00000, 0b00000, 0b00000, 0b00000, 0, 0],
        '"' => [0b01010, 0b01010, 0b01010, 0b00000, 0b00000, 0b00000, 0b00000, 0, 0],
        '#' => [0b01010, 0b01010, 0b11111, 0b01010, 0b11111, 0b01010, 0b01010, 0, 0],
        '|' => [0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0, 0],
        '&' => [0b01100, 0b10010, 0b10100, 0b01000, 0b10101, 0b10010, 0b01101, 0, 0],
        '^' => [0b00100, 0b01010, 0b10001, 0b00000, 0b00000, 0b00000, 0b00000, 0, 0],
        '~' => [0b00000, 0b00000, 0b01000, 0b10101, 0b00010, 0b00000, 0b00000, 0, 0],
        _ => [0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b00000, 0b00100, 0, 0],
    }
}

/// Width in pixels of `text` drawn at `scale`.
fn text_width(text: &str, scale: i64) -> i64 {
    let n = text.chars().count() as i64;
    if n == 0 { 0 } else { (n * ADVANCE - 1) * scale }
}

/// `text` cut to at most `max` characters (a trailing `..` marks the cut).
fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    if max <= 2 {
        return text.chars().take(max).collect();
    }
    let mut s: String = text.chars().take(max - 2).collect();
    s.push_str("..");
    s
}

// ---------------------------------------------------------------------------
// Canvas
// ---------------------------------------------------------------------------

/// An RGB pixel buffer with clipped drawing primitives (coordinates may be
/// negative or past the edge: what falls outside is dropped).
struct Canvas {
    w: i64,
    h: i64,
    data: Vec<u8>,
}

impl Canvas {
    /// A `w` x `h` canvas filled with `bg`; checks the size limits.
    fn new(context: &str, w: u64, h: u64, bg: Rgb) -> Result<Self> {
        if w == 0 || h == 0 {
            return Err(Error::Invalid(format!(
                "{context}: image would be {w}x{h} pixels; both sides must be non-zero"
            )));
        }
        let pixels = w.saturating_mul(h);
        if w > u64::from(MAX_SIDE) || h > u64::from(MAX_SIDE) || pixels > MAX_PIXELS {
            return Err(Error::Invalid(format!(
                "{context}: image would be {w}x{h} pixels; the limit is {MAX_SIDE} per side and \
                 {MAX_PIXELS} pixels (use a smaller scale or fewer items)"
            )));
        }
        let len = pixels as usize * 3;
        let mut data = Vec::with_capacity(len);
        for _ in 0..pixels {
            data.extend_from_slice(&bg);
        }
        Ok(Canvas { w: w as i64, h: h as i64, data })
    }

    fn index(&self, x: i64, y: i64) -> Option<usize> {
        if x < 0 || y < 0 || x >= self.w || y >= self.h { None } else { Some(((y * self.w + x) * 3) as usize) }
    }

    #[cfg(test)]
    fn get(&self, x: i64, y: i64) -> Option<Rgb> {
        self.index(x, y).map(|i| [self.data[i], self.data[i + 1], self.data[i + 2]])
    }

    fn put(&mut self, x: i64, y: i64, c: Rgb) {
        if let Some(i) = self.index(x, y) {
            self.data[i..i + 3].copy_from_slice(&c);
        }
    }

    /// Mixes `c` into the pixel with opacity `alpha` in [0, 1].
    fn blend(&mut self, x: i64, y: i64, c: Rgb, alpha: f32) {
        if let Some(i) = self.index(x, y) {
            let a = alpha.clamp(0.0, 1.0);
            for (dst, &src) in self.data[i..i + 3].iter_mut().zip(&c) {
                let old = f32::from(*dst);
                *dst = (old + (f32::from(src) - old) * a).round() as u8;
            }
        }
    }

    fn fill_rect(&mut self, x: i64, y: i64, w: i64, h: i64, c: Rgb) {
        let (x0, y0) = (x.max(0), y.max(0));
        let (x1, y1) = (x.saturating_add(w).min(self.w), y.saturating_add(h).min(self.h));
        for yy in y0..y1 {
            for xx in x0..x1 {
                self.put(xx, yy, c);
            }
        }
    }

    fn rect_outline(&mut self, x: i64, y: i64, w: i64, h: i64, c: Rgb) {
        self.fill_rect(x, y, w, 1, c);
        self.fill_rect(x, y + h - 1, w, 1, c);
        self.fill_rect(x, y, 1, h, c);
        self.fill_rect(x + w - 1, y, 1, h, c);
    }

    /// Draws `text` with its top-left corner at (x, y).
    fn text(&mut self, x: i64, y: i64, text: &str, scale: i64, c: Rgb) {
        for (i, ch) in text.chars().enumerate() {
            let ox = x + i as i64 * ADVANCE * scale;
            if ox >= self.w {
                break;
            }
            for (row, bits) in glyph(ch).iter().enumerate() {
                for col in 0..GLYPH_W {
                    if (bits >> (GLYPH_W - 1 - col)) & 1 == 1 {
                        self.fill_rect(ox + col * scale, y + row as i64 * scale, scale, scale, c);
                    }
                }
            }
        }
    }

    /// Draws `text` rotated a quarter turn counter-clockwise (reading bottom to
    /// top): its bounding box is `7 * scale` wide from `x`, and it ends
    /// `text_width` above `y_bottom`.
    fn text_up(&mut self, x: i64, y_bottom: i64, text: &str, scale: i64, c: Rgb) {
        for (i, ch) in text.chars().enumerate() {
            let along = i as i64 * ADVANCE * scale;
            if y_bottom - along < 0 {
                break;
            }
            for (row, bits) in glyph(ch).iter().enumerate() {
                for col in 0..GLYPH_W {
                    if (bits >> (GLYPH_W - 1 - col)) & 1 == 1 {
                        let dx = along + col * scale;
                        let dy = row as i64 * scale;
                        self.fill_rect(x + dy, y_bottom - dx - scale + 1, scale, scale, c);
                    }
                }
            }
        }
    }

    /// Fills the `scale` x `scale` block of source pixel (px, py) of an image
    /// placed at (x0, y0).
    fn block(&mut self, x0: i64, y0: i64, px: usize, py: usize, scale: i64, c: Rgb) {
        self.fill_rect(x0 + px as i64 * scale, y0 + py as i64 * scale, scale, scale, c);
    }

    /// Encodes the canvas as an 8-bit RGB PNG and writes it to `path`.
    fn save(&self, path: &Path) -> Result<()> {
        let mut bytes = Vec::new();
        let encode_err = |e: png::EncodingError| Error::Invalid(format!("encoding PNG `{}`: {e}", path.display()));
        {
            let mut enc = png::Encoder::new(&mut bytes, self.w as u32, self.h as u32);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            let mut writer = enc.write_header().map_err(encode_err)?;
            writer.write_image_data(&self.data).map_err(encode_err)?;
            writer.finish().map_err(encode_err)?;
        }
        // Through a synced temporary file and a rename: a kill never leaves half a PNG.
        crate::train::checkpointer::write_atomically(path, &bytes)
    }
}

/// Per-pixel coverage of one series inside a clip rectangle, so that
/// overlapping segments of the same line are blended once (clean joints).
struct Coverage {
    x0: i64,
    y0: i64,
    w: i64,
    h: i64,
    buf: Vec<f32>,
}

impl Coverage {
    fn new(x0: i64, y0: i64, w: i64, h: i64) -> Self {
        let (w, h) = (w.max(0), h.max(0));
        Coverage { x0, y0, w, h, buf: vec![0.0; (w * h) as usize] }
    }

    /// Adds an anti-aliased segment from `p` to `q` (pixel coordinates, pixel
    /// centres at +0.5) with half-width `hw`; `p == q` gives a disc.
    fn segment(&mut self, p: (f64, f64), q: (f64, f64), hw: f64) {
        if !(p.0.is_finite() && p.1.is_finite() && q.0.is_finite() && q.1.is_finite()) {
            return;
        }
        let reach = hw + 1.0;
        let x_lo = ((p.0.min(q.0) - reach).floor() as i64).max(self.x0);
        let x_hi = ((p.0.max(q.0) + reach).ceil() as i64).min(self.x0 + self.w - 1);
        let y_lo = ((p.1.min(q.1) - reach).floor() as i64).max(self.y0);
        let y_hi = ((p.1.max(q.1) + reach).ceil() as i64).min(self.y0 + self.h - 1);
        let (dx, dy) = (q.0 - p.0, q.1 - p.1);
        let len2 = dx * dx + dy * dy;
        for y in y_lo..=y_hi {
            for x in x_lo..=x_hi {
                let (cx, cy) = (x as f64 + 0.5, y as f64 + 0.5);
                let t = if len2 > 0.0 { (((cx - p.0) * dx + (cy - p.1) * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
                let dist = (cx - (p.0 + t * dx)).hypot(cy - (p.1 + t * dy));
                let cov = (hw + 0.5 - dist).clamp(0.0, 1.0) as f32;
                if cov > 0.0 {
                    let i = ((y - self.y0) * self.w + (x - self.x0)) as usize;
                    if cov > self.buf[i] {
                        self.buf[i] = cov;
                    }
                }
            }
        }
    }

    /// Blends the accumulated coverage onto `canvas` in colour `c`, and marks
    /// well-covered pixels in `occupied` (same rectangle).
    fn apply(&self, canvas: &mut Canvas, c: Rgb, occupied: &mut [bool]) {
        for y in 0..self.h {
            for x in 0..self.w {
                let i = (y * self.w + x) as usize;
                let a = self.buf[i];
                if a > 0.0 {
                    canvas.blend(self.x0 + x, self.y0 + y, c, a);
                    if a > 0.3
                        && let Some(o) = occupied.get_mut(i)
                    {
                        *o = true;
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Colour maps and value formatting
// ---------------------------------------------------------------------------

/// Linear interpolation in an evenly spaced colour table, `t` in [0, 1].
fn colour_map(table: &[Rgb], t: f32) -> Rgb {
    let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 };
    let n = table.len();
    if n == 0 {
        return [0, 0, 0];
    }
    if n == 1 {
        return table[0];
    }
    let pos = t * (n - 1) as f32;
    let i = (pos.floor() as usize).min(n - 2);
    let f = pos - i as f32;
    let (a, b) = (table[i], table[i + 1]);
    let mut out = [0u8; 3];
    for k in 0..3 {
        out[k] = (f32::from(a[k]) + (f32::from(b[k]) - f32::from(a[k])) * f).round() as u8;
    }
    out
}

/// The viridis-like colour of `t` in [0, 1] (0 dark purple, 1 yellow).
fn viridis(t: f32) -> Rgb {
    colour_map(&VIRIDIS, t)
}

/// The red-yellow heat colour of `t` in [0, 1].
fn heat(t: f32) -> Rgb {
    colour_map(&HEAT, t)
}

fn gray(t: f32) -> Rgb {
    let v = (t.clamp(0.0, 1.0) * 255.0).round() as u8;
    [v, v, v]
}

/// Relative luminance in [0, 1] (for choosing black or white text).
fn luminance(c: Rgb) -> f32 {
    (0.299 * f32::from(c[0]) + 0.587 * f32::from(c[1]) + 0.114 * f32::from(c[2])) / 255.0
}

/// Minimum and maximum of the finite values, if any.
fn finite_min_max(values: &[f32]) -> Option<(f32, f32)> {
    values.iter().filter(|v| v.is_finite()).fold(None, |acc, &v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

/// Min-max normalisation to [0, 1]. Non-finite values become 0; a constant
/// image keeps its value clamped to [0, 1] (so an all-zero image stays black
/// and an all-one image white).
fn normalise(values: &[f32]) -> Vec<f32> {
    match finite_min_max(values) {
        None => vec![0.0; values.len()],
        Some((lo, hi)) => {
            let range = hi - lo;
            values
                .iter()
                .map(|&v| {
                    if !v.is_finite() {
                        0.0
                    } else if range > 0.0 && range.is_finite() {
                        ((v - lo) / range).clamp(0.0, 1.0)
                    } else {
                        v.clamp(0.0, 1.0)
                    }
                })
                .collect()
        }
    }
}

/// `v` in scientific notation with at most `digits` mantissa decimals,
/// trailing zeros removed ("1e-5", "2.5e3").
fn fmt_sci(v: f64, digits: usize) -> String {
    if v == 0.0 {
        return "0".to_string();
    }
    let s = format!("{v:.digits$e}");
    match s.split_once('e') {
        Some((mant, exp)) => {
            let mant = if mant.contains('.') { mant.trim_end_matches('0').trim_end_matches('.') } else { mant };
            format!("{mant}e{exp}")
        }
        None => s,
    }
}

/// Removes the sign of a formatted zero ("-0.00" -> "0.00").
fn unsign_zero(s: String) -> String {
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') { s[1..].to_string() } else { s }
}

/// How the numbers of one heatmap are written, chosen once for all its values
/// so that the cells line up: integers (confusion counts), 2 decimals
/// (probabilities, attention weights) or scientific notation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NumFormat {
    Integer,
    Fixed2,
    Sci,
}

impl NumFormat {
    fn for_values(values: &[f32]) -> Self {
        let finite = || values.iter().copied().filter(|v| v.is_finite());
        let max = finite().fold(0f32, |m, v| m.max(v.abs()));
        if max < 1e6 && finite().all(|v| v.fract() == 0.0) {
            NumFormat::Integer
        } else if (0.01..1000.0).contains(&max) {
            NumFormat::Fixed2
        } else {
            NumFormat::Sci
        }
    }

    fn format(self, v: f32) -> String {
        if v.is_nan() {
            return "nan".to_string();
        }
        if v.is_infinite() {
            return if v > 0.0 { "inf" } else { "-inf" }.to_string();
        }
        match self {
            NumFormat::Integer => unsign_zero(format!("{v:.0}")),
            NumFormat::Fixed2 => unsign_zero(format!("{v:.2}")),
            NumFormat::Sci => fmt_sci(f64::from(v), 1),
        }
    }
}

// ---------------------------------------------------------------------------
// Axes
// ---------------------------------------------------------------------------

/// One chart axis in "axis space" (log10 of the value for a log axis).
#[derive(Debug, Clone, PartialEq)]
struct Axis {
    lo: f64,
    hi: f64,
    /// Major ticks: position and label.
    ticks: Vec<(f64, String)>,
    /// Minor grid lines (log axes only).
    minor: Vec<f64>,
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let nice = if norm <= 1.0 + 1e-9 {
        1.0
    } else if norm <= 2.0 + 1e-9 {
        2.0
    } else if norm <= 5.0 + 1e-9 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

/// A linear axis covering [min, max] with about 5 ticks at nice values.
///
/// With `tight`, the axis spans exactly the data and the ticks are the nice
/// values inside it (used for x: epochs 1-12 stay 1-12); otherwise the range
/// is widened to the nice ticks around the data (used for y, so both ends are
/// labelled).
fn linear_axis(min: f64, max: f64, tight: bool) -> Result<Axis> {
    let (mut lo, mut hi) = (min, max);
    let span = lo.abs().max(hi.abs());
    if hi - lo <= span * 1e-12 {
        let d = if span == 0.0 { 1.0 } else { span * 0.1 };
        lo -= d;
        hi += d;
    }
    let range = hi - lo;
    if !range.is_finite() || range <= 0.0 {
        return Err(Error::Invalid(format!("values from {min} to {max} are too large to plot")));
    }
    let mut step = nice_step(range / if tight { 6.0 } else { 5.0 });
    let (mut a, mut b) =
        if tight { ((lo / step).ceil(), (hi / step).floor()) } else { ((lo / step).floor(), (hi / step).ceil()) };
    if tight && b - a < 2.0 {
        // Fewer than 3 ticks inside the data: use a finer step.
        step = nice_step(range / 12.0);
        (a, b) = ((lo / step).ceil(), (hi / step).floor());
    }
    let n = b - a;
    if !(step.is_finite() && step > 0.0 && n.is_finite() && (0.0..=50.0).contains(&n)) {
        // Precision exhausted (a huge offset with a tiny spread): label the ends.
        return Ok(Axis { lo, hi, ticks: vec![(lo, fmt_sci(lo, 6)), (hi, fmt_sci(hi, 6))], minor: Vec::new() });
    }
    if !tight {
        (lo, hi) = (a * step, b * step);
    }
    let sci = step < 1e-4 || lo.abs().max(hi.abs()) >= 1e6;
    let decimals = if step >= 1.0 { 0 } else { ((-step.log10()) - 1e-9).ceil().clamp(0.0, 12.0) as usize };
    let ticks = (0..=n as usize)
        .map(|i| {
            let v = (a + i as f64) * step;
            let label = if sci { fmt_sci(v, 3) } else { unsign_zero(format!("{v:.decimals$}")) };
            (v, label)
        })
        .collect();
    Ok(Axis { lo, hi, ticks, minor: Vec::new() })
}

/// The label of 10^k.
fn power_label(k: i64) -> String {
    match k {
        -3..=0 => format!("{:.*}", (-k) as usize, 10f64.powi(k as i32)),
        1..=4 => format!("{}", 10i64.pow(k as u32)),
        _ => format!("1e{k}"),
    }
}

/// A log10 axis; `min` and `max` are already log10 of the data. Major ticks at
/// powers of ten, minor grid lines at 2..9 times them.
fn log_axis(min: f64, max: f64) -> Axis {
    let lo = min.floor();
    let mut hi = max.ceil();
    if hi <= lo {
        hi = lo + 1.0;
    }
    let decades = hi - lo;
    let stride = (decades / 6.0).ceil().max(1.0);
    let n = (decades / stride).ceil();
    let hi = lo + n * stride;
    let ticks = (0..=n as i64)
        .map(|i| {
            let k = lo + i as f64 * stride;
            (k, power_label(k as i64))
        })
        .collect();
    let mut minor = Vec::new();
    if stride == 1.0 && decades <= 8.0 {
        for d in 0..n as i64 {
            for m in 2..=9 {
                minor.push(lo + d as f64 + f64::from(m).log10());
            }
        }
    }
    Axis { lo, hi, ticks, minor }
}

// ---------------------------------------------------------------------------
// Line chart
// ---------------------------------------------------------------------------

/// One named curve of a [`line_chart`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    /// Legend text (an empty name shows as "series N").
    pub name: String,
    /// (x, y) points, drawn in order; non-finite points leave a gap.
    pub points: Vec<(f64, f64)>,
}

impl Series {
    /// A series named `name`.
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series { name: name.into(), points }
    }
}

const TITLE_SCALE: i64 = 2;
const LABEL_SCALE: i64 = 2;
const TICK_SCALE: i64 = 1;
const LEGEND_SCALE: i64 = 1;
/// Pixels between the frame and the extreme data / tick positions.
const INSET: i64 = 8;
/// Half-width of series lines.
const LINE_HW: f64 = 1.25;
/// Series with at most this many drawable points also get a dot per point.
const MARKER_MAX_POINTS: usize = 60;
const MARKER_R: f64 = 2.6;

/// Writes an [`CHART_WIDTH`] x [`CHART_HEIGHT`] PNG line chart of `series`.
///
/// White background, framed plot area with light grid lines at about five
/// "nice" ticks per axis (1, 2 or 5 times a power of ten) and their labels,
/// one [`PALETTE`] colour per series, a legend in the emptiest corner, and the
/// title and axis labels in the built-in font. With `log_y`, the y axis is
/// log10 with ticks at powers of ten and points with `y <= 0` are skipped.
/// Non-finite points are skipped and break their line; series with 60 points
/// or fewer (and isolated points) also get a dot per point, so a one-epoch run
/// still shows. A series with nothing to draw stays in the legend, marked
/// "(no data)".
///
/// # Errors
/// [`Error::Invalid`] when `series` is empty or no series has a drawable
/// point, or the values are too large to plot; [`Error::Io`] when the file
/// cannot be written.
pub fn line_chart(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    log_y: bool,
) -> Result<()> {
    if series.is_empty() {
        return Err(Error::empty(format!("line chart `{title}`: the list of series")));
    }
    // Drawable points in axis space; None marks a skipped point.
    let drawable: Vec<Vec<Option<(f64, f64)>>> = series
        .iter()
        .map(|s| {
            s.points
                .iter()
                .map(|&(x, y)| match (x.is_finite() && y.is_finite(), log_y) {
                    (false, _) => None,
                    (true, false) => Some((x, y)),
                    (true, true) => (y > 0.0).then(|| (x, y.log10())),
                })
                .collect()
        })
        .collect();
    let mut bounds: Option<(f64, f64, f64, f64)> = None;
    for &(x, y) in drawable.iter().flatten().flatten() {
        bounds = Some(match bounds {
            None => (x, x, y, y),
            Some((x0, x1, y0, y1)) => (x0.min(x), x1.max(x), y0.min(y), y1.max(y)),
        });
    }
    let Some((xmin, xmax, ymin, ymax)) = bounds else {
        let why = if log_y { " (a log y axis needs finite y > 0)" } else { " (all points are NaN or infinite)" };
        return Err(Error::Invalid(format!("line chart `{title}`: no point to plot{why}")));
    };
    let err = |e: Error| Error::Invalid(format!("line chart `{title}`: {e}"));
    let xa = linear_axis(xmin, xmax, true).map_err(err)?;
    let ya = if log_y { log_axis(ymin, ymax) } else { linear_axis(ymin, ymax, false).map_err(err)? };

    let (w, h) = (i64::from(CHART_WIDTH), i64::from(CHART_HEIGHT));
    let mut c = Canvas::new("line_chart", CHART_WIDTH.into(), CHART_HEIGHT.into(), WHITE)?;

    // Layout.
    let title_scale = if text_width(title, TITLE_SCALE) <= w - 20 { TITLE_SCALE } else { 1 };
    let top = if title.is_empty() { 20 } else { 14 + GLYPH_H * title_scale + 16 };
    let y_tick_w = ya.ticks.iter().map(|(_, l)| text_width(l, TICK_SCALE)).max().unwrap_or(0);
    let y_label_w = if y_label.is_empty() { 0 } else { GLYPH_H * LABEL_SCALE + 12 };
    let left = 14 + y_label_w + y_tick_w + 10;
    let right = w - 24;
    let x_label_h = if x_label.is_empty() { 0 } else { GLYPH_H * LABEL_SCALE + 10 };
    let bottom = h - (12 + x_label_h + GLYPH_H * TICK_SCALE + 10);
    let (pw, ph) = (right - left, bottom - top);
    let map_x = |v: f64| left as f64 + INSET as f64 + (v - xa.lo) / (xa.hi - xa.lo) * (pw - 2 * INSET) as f64;
    let map_y = |v: f64| bottom as f64 - INSET as f64 - (v - ya.lo) / (ya.hi - ya.lo) * (ph - 2 * INSET) as f64;

    // Grid.
    for &m in &ya.minor {
        c.fill_rect(left, map_y(m).floor() as i64, pw, 1, MINOR_GRID);
    }
    for &(v, _) in &ya.ticks {
        c.fill_rect(left, map_y(v).floor() as i64, pw, 1, GRID);
    }
    for &(v, _) in &xa.ticks {
        c.fill_rect(map_x(v).floor() as i64, top, 1, ph, GRID);
    }

    // Series, clipped to the inside of the frame.
    let (cx0, cy0, cw, ch) = (left + 1, top + 1, pw - 2, ph - 2);
    let mut occupied = vec![false; (cw.max(0) * ch.max(0)) as usize];
    for (i, pts) in drawable.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let mut cov = Coverage::new(cx0, cy0, cw, ch);
        let count = pts.iter().flatten().count();
        for (j, p) in pts.iter().enumerate() {
            let Some(p) = *p else { continue };
            let pp = (map_x(p.0), map_y(p.1));
            let next = pts.get(j + 1).copied().flatten();
            if let Some(q) = next {
                cov.segment(pp, (map_x(q.0), map_y(q.1)), LINE_HW);
            }
            let prev = if j > 0 { pts[j - 1] } else { None };
            if count <= MARKER_MAX_POINTS || (prev.is_none() && next.is_none()) {
                cov.segment(pp, pp, MARKER_R);
            }
        }
        cov.apply(&mut c, colour, &mut occupied);
    }

    // Frame, ticks and tick labels.
    c.rect_outline(left, top, pw, ph, AXIS);
    let tick_h = GLYPH_H * TICK_SCALE;
    for (v, label) in &ya.ticks {
        let y = map_y(*v).floor() as i64;
        c.fill_rect(left - 5, y, 5, 1, AXIS);
        c.text(left - 8 - text_width(label, TICK_SCALE), y - tick_h / 2, label, TICK_SCALE, TEXT);
    }
    let spacing = if xa.ticks.len() > 1 { (pw - 2 * INSET) / (xa.ticks.len() as i64 - 1) } else { pw };
    let x_tick_w = xa.ticks.iter().map(|(_, l)| text_width(l, TICK_SCALE)).max().unwrap_or(0);
    let stride = ((x_tick_w + 10) / spacing.max(1) + 1).max(1) as usize;
    for (k, (v, label)) in xa.ticks.iter().enumerate() {
        let x = map_x(*v).floor() as i64;
        c.fill_rect(x, bottom, 1, 5, AXIS);
        if k % stride == 0 {
            c.text(x - text_width(label, TICK_SCALE) / 2, bottom + 8, label, TICK_SCALE, TEXT);
        }
    }

    // Title and axis labels.
    c.text((w - text_width(title, title_scale)) / 2, 14, title, title_scale, TEXT);
    let x_label_y = bottom + 8 + tick_h + 10;
    c.text(left + (pw - text_width(x_label, LABEL_SCALE)) / 2, x_label_y, x_label, LABEL_SCALE, TEXT);
    c.text_up(14, top + (ph + text_width(y_label, LABEL_SCALE)) / 2, y_label, LABEL_SCALE, TEXT);

    // Legend in the corner with the fewest series pixels.
    let names: Vec<String> = series
        .iter()
        .zip(&drawable)
        .enumerate()
        .map(|(i, (s, pts))| {
            let name = if s.name.is_empty() { format!("series {}", i + 1) } else { truncate(&s.name, 40) };
            if pts.iter().flatten().next().is_none() { format!("{name} (no data)") } else { name }
        })
        .collect();
    let line_h = GLYPH_H * LEGEND_SCALE + 6;
    let lw = 8 + 22 + 6 + names.iter().map(|n| text_width(n, LEGEND_SCALE)).max().unwrap_or(0) + 8;
    let lh = 6 + names.len() as i64 * line_h;
    let margin = 10;
    let corners = [
        (right - margin - lw, top + margin),
        (left + margin, top + margin),
        (right - margin - lw, bottom - margin - lh),
        (left + margin, bottom - margin - lh),
    ];
    let busy = |(lx, ly): (i64, i64)| {
        let mut n = 0usize;
        for y in ly.max(cy0)..(ly + lh).min(cy0 + ch) {
            for x in lx.max(cx0)..(lx + lw).min(cx0 + cw) {
                if occupied[((y - cy0) * cw + (x - cx0)) as usize] {
                    n += 1;
                }
            }
        }
        n
    };
    let mut best = corners[0];
    let mut best_n = busy(best);
    for &corner in &corners[1..] {
        let n = busy(corner);
        if n < best_n {
            best = corner;
            best_n = n;
        }
    }
    let (lx, ly) = best;
    c.fill_rect(lx, ly, lw, lh, WHITE);
    c.rect_outline(lx, ly, lw, lh, LEGEND_BORDER);
    for (i, name) in names.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let y = ly + 6 + i as i64 * line_h;
        let mid = y as f64 + (GLYPH_H * LEGEND_SCALE) as f64 / 2.0;
        let mut cov = Coverage::new(lx + 1, ly + 1, lw - 2, lh - 2);
        cov.segment(((lx + 8) as f64, mid), ((lx + 30) as f64, mid), LINE_HW);
        cov.apply(&mut c, colour, &mut []);
        c.text(lx + 36, y, name, LEGEND_SCALE, TEXT);
    }

    c.save(path)
}

// ---------------------------------------------------------------------------
// Images
// ---------------------------------------------------------------------------

/// Checks a width x height image description and returns its pixel count.
fn check_image(context: &str, width: usize, height: usize, scale: u32) -> Result<usize> {
    if width == 0 || height == 0 {
        return Err(Error::out_of_range(
            format!("{context}: image size"),
            format!("{width}x{height}"),
            "both sides >= 1",
        ));
    }
    if scale == 0 {
        return Err(Error::out_of_range(format!("{context}: scale"), scale, ">= 1"));
    }
    width
        .checked_mul(height)
        .ok_or_else(|| Error::Invalid(format!("{context}: image size {width}x{height} is too large")))
}

/// `a * b` in u64, or an error naming `context`.
fn mul(context: &str, a: u64, b: u64) -> Result<u64> {
    a.checked_mul(b).ok_or_else(|| Error::Invalid(format!("{context}: image would be too large")))
}

/// Draws normalised gray values at (x0, y0), each pixel a `scale` block.
fn draw_gray(c: &mut Canvas, x0: i64, y0: i64, norm: &[f32], width: usize, scale: i64) {
    for (i, &v) in norm.iter().enumerate() {
        c.block(x0, y0, i % width, i / width, scale, gray(v));
    }
}

/// Writes one grayscale image as a PNG of `width * scale` x `height * scale`
/// pixels.
///
/// `pixels` is row-major; values are min-max normalised to black..white (a
/// constant image is clamped to [0, 1] instead, so blank stays black;
/// non-finite values are black), then each pixel becomes a `scale` x `scale`
/// block (nearest neighbour), so a 28x28 digit is readable at `scale` 4-8.
///
/// # Errors
/// [`Error::Shape`] when `pixels.len() != width * height`; [`Error::Invalid`]
/// for a zero size or scale, or an image past [`MAX_SIDE`] / [`MAX_PIXELS`];
/// [`Error::Io`] when the file cannot be written.
pub fn gray_image_png(path: &Path, width: usize, height: usize, pixels: &[f32], scale: u32) -> Result<()> {
    let ctx = "gray_image_png";
    let n = check_image(ctx, width, height, scale)?;
    if pixels.len() != n {
        return Err(Error::shape(ctx, format!("{width}x{height} = {n} pixels"), format!("{} pixels", pixels.len())));
    }
    let s = u64::from(scale);
    let mut c = Canvas::new(ctx, mul(ctx, width as u64, s)?, mul(ctx, height as u64, s)?, WHITE)?;
    draw_gray(&mut c, 0, 0, &normalise(pixels), width, i64::from(scale));
    c.save(path)
}

/// The checks of a grid of `width x height` images: sizes and scale within
/// the limits, at least one image and one column, every image complete.
fn check_grid(ctx: &str, images: &[Vec<f32>], width: usize, height: usize, cols: usize, scale: u32) -> Result<()> {
    let n = check_image(ctx, width, height, scale)?;
    if images.is_empty() {
        return Err(Error::empty(format!("{ctx}: the list of images")));
    }
    if cols == 0 {
        return Err(Error::out_of_range(format!("{ctx}: cols"), cols, ">= 1"));
    }
    match images.iter().position(|img| img.len() != n) {
        Some(i) => Err(Error::shape(
            format!("{ctx} image {i}"),
            format!("{width}x{height} = {n} pixels"),
            format!("{} pixels", images[i].len()),
        )),
        None => Ok(()),
    }
}

/// Writes a grid of grayscale images, `cols` per row, each normalised on its
/// own (as in [`gray_image_png`]) and upscaled by `scale`.
///
/// Tiles are `width * scale` x `height * scale` pixels, separated and framed
/// by a [`GAP`]-pixel white border; with `captions`, a line of small text
/// (cut to the tile width) sits under each tile: a class, a score, a
/// retrieval rank. `cols` larger than the number of images is reduced to it.
///
/// # Errors
/// [`Error::Shape`] when an image is not `width * height` long or the caption
/// count differs from the image count; [`Error::Invalid`] for no images, a
/// zero size, `cols` or `scale`, or an image past the size limits;
/// [`Error::Io`] when the file cannot be written.
pub fn image_grid_png(
    path: &Path,
    images: &[Vec<f32>],
    width: usize,
    height: usize,
    cols: usize,
    scale: u32,
    captions: Option<&[String]>,
) -> Result<()> {
    let ctx = "image_grid_png";
    check_grid(ctx, images, width, height, cols, scale)?;
    if let Some(caps) = captions
        && caps.len() != images.len()
    {
        return Err(Error::shape(
            format!("{ctx} captions"),
            format!("{} captions (one per image)", images.len()),
            format!("{} captions", caps.len()),
        ));
    }
    let cols = cols.min(images.len());
    let rows = images.len().div_ceil(cols);
    let s = u64::from(scale);
    let gap = u64::from(GAP);
    let tile_w = mul(ctx, width as u64, s)?;
    let tile_h = mul(ctx, height as u64, s)?;
    let caption_h = if captions.is_some() { (GLYPH_H + 4) as u64 } else { 0 };
    let cell_w = tile_w.saturating_add(gap);
    let cell_h = tile_h.saturating_add(caption_h).saturating_add(gap);
    let total_w = mul(ctx, cols as u64, cell_w)?.saturating_add(gap);
    let total_h = mul(ctx, rows as u64, cell_h)?.saturating_add(gap);
    let mut c = Canvas::new(ctx, total_w, total_h, WHITE)?;
    // The canvas limits bound every size below to i64 range.
    let (tile_w, cell_w, cell_h, gap) = (tile_w as i64, cell_w as i64, cell_h as i64, gap as i64);
    let max_chars = ((tile_w + 1) / ADVANCE) as usize;
    for (i, img) in images.iter().enumerate() {
        let x0 = gap + (i % cols) as i64 * cell_w;
        let y0 = gap + (i / cols) as i64 * cell_h;
        draw_gray(&mut c, x0, y0, &normalise(img), width, i64::from(scale));
        if let Some(caption) = captions.and_then(|caps| caps.get(i)) {
            let text = truncate(caption, max_chars);
            let tx = x0 + (tile_w - text_width(&text, 1)) / 2;
            c.text(tx, y0 + tile_h as i64 + 3, &text, 1, TEXT);
        }
    }
    c.save(path)
}

/// A box to draw over an image: corners in image pixels, a label, a colour.
#[derive(Debug, Clone, PartialEq)]
pub struct MarkedBox {
    /// `[x0, y0, x1, y1]` in image pixels (before upscaling).
    pub corners: [f32; 4],
    /// Text drawn at the box's top-left corner ("7 0.98").
    pub label: String,
    /// Outline and text colour.
    pub color: [u8; 3],
}

/// Writes a grid of grayscale images (as [`image_grid_png`], without
/// captions) with boxes drawn over each: a 2-pixel outline and its label on
/// a white strip at the top-left corner, inside the tile.
///
/// # Errors
/// As [`image_grid_png`]; [`Error::Shape`] when `boxes` does not have one
/// list per image.
pub fn boxes_grid_png(
    path: &Path,
    images: &[Vec<f32>],
    width: usize,
    height: usize,
    cols: usize,
    scale: u32,
    boxes: &[Vec<MarkedBox>],
) -> Result<()> {
    let ctx = "boxes_grid_png";
    check_grid(ctx, images, width, height, cols, scale)?;
    if boxes.len() != images.len() {
        return Err(Error::shape(
            format!("{ctx} boxes"),
            format!("{} lists (one per image)", images.len()),
            boxes.len(),
        ));
    }

    let cols = cols.min(images.len());
    let rows = images.len().div_ceil(cols);
    let (s, gap) = (i64::from(scale), i64::from(GAP));
    let (tile_w, tile_h) = (width as i64 * s, height as i64 * s);
    let total_w = mul(ctx, cols as u64, (tile_w + gap) as u64)?.saturating_add(GAP as u64);
    let total_h = mul(ctx, rows as u64, (tile_h + gap) as u64)?.saturating_add(GAP as u64);
    let mut c = Canvas::new(ctx, total_w, total_h, WHITE)?;
    for (i, (img, marks)) in images.iter().zip(boxes).enumerate() {
        let x0 = gap + (i % cols) as i64 * (tile_w + gap);
        let y0 = gap + (i / cols) as i64 * (tile_h + gap);
        draw_gray(&mut c, x0, y0, &normalise(img), width, s);
        for m in marks {
            let [bx0, by0, bx1, by1] = m.corners.map(|v| if v.is_finite() { (v * s as f32).round() as i64 } else { 0 });
            let (bx0, by0) = (bx0.clamp(0, tile_w - 1), by0.clamp(0, tile_h - 1));
            let (bx1, by1) = (bx1.clamp(bx0 + 1, tile_w), by1.clamp(by0 + 1, tile_h));
            for k in 0..2 {
                c.rect_outline(x0 + bx0 + k, y0 + by0 + k, bx1 - bx0 - 2 * k, by1 - by0 - 2 * k, m.color);
            }
            let tw = text_width(&m.label, 1);
            let (tx, ty) = (x0 + bx0, (y0 + by0 - GLYPH_H - 2).max(y0));
            c.fill_rect(tx, ty, (tw + 2).min(x0 + tile_w - tx), GLYPH_H + 2, WHITE);
            c.text(tx + 1, ty + 1, &truncate(&m.label, ((x0 + tile_w - tx) / ADVANCE).max(0) as usize), 1, m.color);
        }
    }
    c.save(path)
}

/// Writes a saliency map as two panels side by side, each `width * scale` x
/// `height * scale`, separated by a [`GAP`]-pixel white strip.
///
/// Left: the input in gray (normalised as in [`gray_image_png`]). Right: the
/// input dimmed to 75 % gray with `|saliency| / max |saliency|` overlaid in a
/// dark-red to yellow heat colour, its opacity rising with the saliency, so
/// unimportant pixels stay gray. Non-finite saliency counts as 0.
///
/// # Errors
/// [`Error::Shape`] when `image` or `saliency` is not `width * height` long;
/// [`Error::Invalid`] for a zero size or scale or an image past the size
/// limits; [`Error::Io`] when the file cannot be written.
pub fn saliency_overlay_png(
    path: &Path,
    image: &[f32],
    saliency: &[f32],
    width: usize,
    height: usize,
    scale: u32,
) -> Result<()> {
    let ctx = "saliency_overlay_png";
    let n = check_image(ctx, width, height, scale)?;
    for (what, v) in [("image", image), ("saliency", saliency)] {
        if v.len() != n {
            return Err(Error::shape(
                format!("{ctx} {what}"),
                format!("{width}x{height} = {n} values"),
                format!("{} values", v.len()),
            ));
        }
    }
    let s = u64::from(scale);
    let panel_w = mul(ctx, width as u64, s)?;
    let total_w = mul(ctx, panel_w, 2)?.saturating_add(u64::from(GAP));
    let mut c = Canvas::new(ctx, total_w, mul(ctx, height as u64, s)?, WHITE)?;
    let norm = normalise(image);
    let sal: Vec<f32> = saliency.iter().map(|v| if v.is_finite() { v.abs() } else { 0.0 }).collect();
    let max = sal.iter().fold(0.0f32, |m, &v| m.max(v));
    let scale = i64::from(scale);
    draw_gray(&mut c, 0, 0, &norm, width, scale);
    let x0 = panel_w as i64 + i64::from(GAP);
    for (i, (&g, &sv)) in norm.iter().zip(&sal).enumerate() {
        let t = if max > 0.0 { (sv / max).clamp(0.0, 1.0) } else { 0.0 };
        let base = gray(g * 0.75);
        let hot = heat(t);
        let a = 0.9 * t;
        let mut px = [0u8; 3];
        for k in 0..3 {
            px[k] = (f32::from(base[k]) * (1.0 - a) + f32::from(hot[k]) * a).round() as u8;
        }
        c.block(x0, 0, i % width, i / width, scale, px);
    }
    c.save(path)
}

/// Writes a `rows` x `cols` matrix as a heatmap PNG with `cell` x `cell`
/// pixel cells.
///
/// `values` is row-major. Colours follow a viridis-like map from the smallest
/// finite value (dark purple) to the largest (yellow); non-finite cells are
/// light gray, a constant matrix is mid-colour. Row labels go left of the
/// rows, column labels above the columns (turned to read upwards when wider
/// than a cell; with cells under 8 pixels only every few labels are drawn). A
/// colour bar on the right shows the min and max values. When every cell's
/// value fits in its cell (`cell` >= 9 and the text narrower than the cell),
/// it is written in the cell: integers as such (confusion counts), other
/// values with 2 decimals or in scientific notation.
///
/// # Errors
/// [`Error::Shape`] when `values.len() != rows * cols` or a label list has
/// the wrong length; [`Error::Invalid`] for zero `rows`, `cols` or `cell` or
/// an image past the size limits; [`Error::Io`] when the file cannot be
/// written.
pub fn heatmap_png(
    path: &Path,
    values: &[f32],
    rows: usize,
    cols: usize,
    cell: u32,
    row_labels: Option<&[String]>,
    col_labels: Option<&[String]>,
) -> Result<()> {
    let ctx = "heatmap_png";
    if rows == 0 || cols == 0 {
        return Err(Error::out_of_range(format!("{ctx}: matrix size"), format!("{rows}x{cols}"), "both sides >= 1"));
    }
    if cell == 0 {
        return Err(Error::out_of_range(format!("{ctx}: cell size"), cell, ">= 1 pixel"));
    }
    let n = rows
        .checked_mul(cols)
        .ok_or_else(|| Error::Invalid(format!("{ctx}: matrix size {rows}x{cols} is too large")))?;
    if values.len() != n {
        return Err(Error::shape(ctx, format!("{rows}x{cols} = {n} values"), format!("{} values", values.len())));
    }
    for (what, labels, count) in [("row labels", row_labels, rows), ("column labels", col_labels, cols)] {
        if let Some(l) = labels
            && l.len() != count
        {
            return Err(Error::shape(
                format!("{ctx} {what}"),
                format!("{count} labels"),
                format!("{} labels", l.len()),
            ));
        }
    }
    let cut = |l: Option<&[String]>| l.map(|l| l.iter().map(|s| truncate(s, 32)).collect::<Vec<_>>());
    let (row_labels, col_labels) = (cut(row_labels), cut(col_labels));

    let cell_px = i64::from(cell);
    let grid_w = mul(ctx, cols as u64, u64::from(cell))?;
    let grid_h = mul(ctx, rows as u64, u64::from(cell))?;
    if grid_w > u64::from(MAX_SIDE) || grid_h > u64::from(MAX_SIDE) {
        return Err(Error::Invalid(format!(
            "{ctx}: a {grid_w}x{grid_h} pixel grid is past the limit of {MAX_SIDE} per side; use a smaller cell"
        )));
    }
    let (grid_w, grid_h) = (grid_w as i64, grid_h as i64);
    const PAD: i64 = 6;
    let max_w = |l: &Option<Vec<String>>| l.as_ref().map(|l| l.iter().map(|s| text_width(s, 1)).max().unwrap_or(0));
    let left = PAD + max_w(&row_labels).map_or(0, |w| w + 6);
    let col_w = max_w(&col_labels);
    let cols_horizontal = col_w.is_some_and(|w| w <= cell_px);
    let top = PAD
        + match col_w {
            None => 0,
            Some(_) if cols_horizontal => GLYPH_H + 4,
            Some(w) => w + 4,
        };

    let range = finite_min_max(values);
    let (vmin, vmax) = range.unwrap_or((0.0, 0.0));
    let num = NumFormat::for_values(values);
    let min_label = num.format(vmin);
    let max_label = num.format(vmax);
    let bar_h = grid_h.max(2 * GLYPH_H + 4);
    let bar_x = left + grid_w + 12;
    let bar_w = 14;
    let total_w = bar_x + bar_w + 6 + text_width(&min_label, 1).max(text_width(&max_label, 1)) + PAD;
    let total_h = top + bar_h + PAD;
    let mut c = Canvas::new(ctx, total_w as u64, total_h as u64, WHITE)?;

    let t_of = |v: f32| -> f32 {
        let r = vmax - vmin;
        if r > 0.0 && r.is_finite() { ((v - vmin) / r).clamp(0.0, 1.0) } else { 0.5 }
    };
    let colours: Vec<Rgb> = values.iter().map(|&v| if v.is_finite() { viridis(t_of(v)) } else { NAN_CELL }).collect();
    for (i, &colour) in colours.iter().enumerate() {
        let (r, col) = ((i / cols) as i64, (i % cols) as i64);
        c.fill_rect(left + col * cell_px, top + r * cell_px, cell_px, cell_px, colour);
    }

    // Cell values, only when all of them fit.
    if cell_px >= GLYPH_H + 2 {
        let texts: Vec<String> = values.iter().map(|&v| num.format(v)).collect();
        if texts.iter().all(|t| text_width(t, 1) <= cell_px - 2) {
            for (i, text) in texts.iter().enumerate() {
                let (r, col) = ((i / cols) as i64, (i % cols) as i64);
                let ink = if luminance(colours[i]) > 0.5 { [0, 0, 0] } else { WHITE };
                let x = left + col * cell_px + (cell_px - text_width(text, 1)) / 2;
                let y = top + r * cell_px + (cell_px - GLYPH_H) / 2;
                c.text(x, y, text, 1, ink);
            }
        }
    }

    // Labels; with small cells only every `stride`-th one, so they don't overlap.
    if let Some(labels) = &row_labels {
        let stride = ((GLYPH_H + 1 + cell_px - 1) / cell_px).max(1) as usize;
        for (r, l) in labels.iter().enumerate().step_by(stride) {
            let y = top + r as i64 * cell_px + (cell_px - GLYPH_H) / 2;
            c.text(left - 6 - text_width(l, 1), y, l, 1, TEXT);
        }
    }
    if let Some(labels) = &col_labels {
        if cols_horizontal {
            for (j, l) in labels.iter().enumerate() {
                let x = left + j as i64 * cell_px + (cell_px - text_width(l, 1)) / 2;
                c.text(x, top - 4 - GLYPH_H, l, 1, TEXT);
            }
        } else {
            let stride = ((GLYPH_H + 1 + cell_px - 1) / cell_px).max(1) as usize;
            for (j, l) in labels.iter().enumerate().step_by(stride) {
                let x = left + j as i64 * cell_px + (cell_px - GLYPH_H) / 2;
                c.text_up(x, top - 4, l, 1, TEXT);
            }
        }
    }

    // Colour bar.
    for y in 0..bar_h {
        let t = if range.is_some_and(|(lo, hi)| hi > lo) { 1.0 - y as f32 / (bar_h - 1).max(1) as f32 } else { 0.5 };
        c.fill_rect(bar_x, top + y, bar_w, 1, viridis(t));
    }
    c.rect_outline(bar_x, top, bar_w, bar_h, AXIS);
    c.text(bar_x + bar_w + 6, top, &max_label, 1, TEXT);
    c.text(bar_x + bar_w + 6, top + bar_h - GLYPH_H, &min_label, 1, TEXT);

    c.save(path)
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static COUNTER: AtomicUsize = AtomicUsize::new(0);

    /// A fresh path in the temp dir, unique per process and call.
    fn temp_png(name: &str) -> PathBuf {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        std::env::temp_dir().join(format!("dl-core-plot-{}-{n}-{name}.png", std::process::id()))
    }

    struct Decoded {
        w: u32,
        h: u32,
        data: Vec<u8>,
    }

    impl Decoded {
        fn px(&self, x: u32, y: u32) -> Rgb {
            let i = ((y * self.w + x) * 3) as usize;
            [self.data[i], self.data[i + 1], self.data[i + 2]]
        }

        fn count(&self, c: Rgb) -> usize {
            self.data.chunks_exact(3).filter(|p| *p == c).count()
        }
    }

    /// Decodes an RGB8 PNG and removes the file.
    fn read_png(path: &Path) -> Decoded {
        let file = std::fs::File::open(path).expect("open png");
        let decoder = png::Decoder::new(std::io::BufReader::new(file));
        let mut reader = decoder.read_info().expect("png header");
        let mut data = vec![0; reader.output_buffer_size().expect("buffer size")];
        let info = reader.next_frame(&mut data).expect("png frame");
        assert_eq!(info.color_type, png::ColorType::Rgb);
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        data.truncate(info.buffer_size());
        let _ = std::fs::remove_file(path);
        Decoded { w: info.width, h: info.height, data }
    }

    fn epochs(f: impl Fn(f64) -> f64) -> Vec<(f64, f64)> {
        (1..=20).map(|e| (f64::from(e), f(f64::from(e)))).collect()
    }

    #[test]
    fn line_chart_draws_series_and_legend() {
        let path = temp_png("line");
        let series =
            [Series::new("train loss", epochs(|e| 2.0 / e)), Series::new("valid loss", epochs(|e| 2.2 / e + 0.05))];
        line_chart(&path, "mnist lenet5 loss", "epoch", "loss", &series, false).expect("chart");
        let img = read_png(&path);
        assert_eq!((img.w, img.h), (CHART_WIDTH, CHART_HEIGHT));
        assert_eq!(img.px(0, 0), WHITE);
        assert_eq!(img.px(img.w - 1, img.h - 1), WHITE);
        assert!(img.count(PALETTE[0]) > 100, "first series colour drawn");
        assert!(img.count(PALETTE[1]) > 100, "second series colour drawn");
        assert_eq!(img.count(PALETTE[2]), 0, "no third series");
        assert!(img.count(TEXT) > 200, "title, labels and ticks drawn");
    }

    #[test]
    fn line_chart_skips_non_finite_and_handles_log_and_constant() {
        let path = temp_png("line-log");
        let mut pts = epochs(|e| 10f64.powf(-e / 5.0));
        pts[3].1 = f64::NAN;
        pts[7].1 = f64::INFINITY;
        pts[9].1 = 0.0; // not drawable on a log axis
        pts.push((f64::NAN, 1.0));
        let series = [Series::new("grad norm", pts), Series::new("flat", epochs(|_| 0.5))];
        line_chart(&path, "gradient norm vs distance", "distance", "norm", &series, true).expect("log chart");
        let img = read_png(&path);
        assert_eq!((img.w, img.h), (CHART_WIDTH, CHART_HEIGHT));
        assert!(img.count(PALETTE[0]) > 50);
        assert!(img.count(PALETTE[1]) > 50);

        let path = temp_png("line-const");
        line_chart(&path, "", "", "", &[Series::new("", vec![(1.0, 3.0)])], false).expect("single point");
        let img = read_png(&path);
        assert!(img.count(PALETTE[0]) > 5, "a lone point is drawn as a dot");
    }

    #[test]
    fn line_chart_rejects_empty_input() {
        let path = temp_png("line-empty");
        let err = line_chart(&path, "t", "x", "y", &[], false).unwrap_err();
        assert!(matches!(err, Error::Empty { .. }), "{err}");
        let empty = [Series::new("a", vec![]), Series::new("b", vec![(f64::NAN, 1.0)])];
        let err = line_chart(&path, "t", "x", "y", &empty, false).unwrap_err();
        assert!(matches!(err, Error::Invalid(_)), "{err}");
        let negative = [Series::new("a", vec![(1.0, -1.0), (2.0, 0.0)])];
        let err = line_chart(&path, "t", "x", "y", &negative, true).unwrap_err();
        assert!(err.to_string().contains("log"), "{err}");
        let huge = [Series::new("a", vec![(0.0, -f64::MAX), (1.0, f64::MAX)])];
        assert!(line_chart(&path, "t", "x", "y", &huge, false).is_err());
        assert!(!path.exists());
    }

    #[test]
    fn line_chart_reports_unwritable_path() {
        let path = std::env::temp_dir().join("dl-core-plot-no-such-dir").join("x").join("chart.png");
        let err = line_chart(&path, "t", "x", "y", &[Series::new("a", vec![(0.0, 1.0)])], false).unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err}");
    }

    #[test]
    fn gray_image_normalises_and_upscales() {
        let path = temp_png("gray");
        let pixels = [0.0, 0.5, 1.0, 2.0, f32::NAN, 1.0];
        gray_image_png(&path, 3, 2, &pixels, 4).expect("gray");
        let img = read_png(&path);
        assert_eq!((img.w, img.h), (12, 8));
        assert_eq!(img.px(0, 0), [0, 0, 0]);
        assert_eq!(img.px(3, 3), [0, 0, 0]);
        assert_eq!(img.px(4, 0), [64, 64, 64]);
        assert_eq!(img.px(0, 4), [255, 255, 255], "max value is white");
        assert_eq!(img.px(5, 5), [0, 0, 0], "NaN is black");
    }

    #[test]
    fn boxes_are_drawn_over_their_image() {
        let path = temp_png("boxes");
        let red = [220, 30, 30];
        let mark = MarkedBox { corners: [2.0, 3.0, 8.0, 9.0], label: "7 0.98".into(), color: red };
        boxes_grid_png(&path, &[vec![0.0; 100], vec![1.0; 100]], 10, 10, 2, 4, &[vec![mark], vec![]]).expect("boxes");
        let img = read_png(&path);
        let g = GAP;
        assert_eq!((img.w, img.h), (2 * 40 + 3 * g, 40 + 2 * g));
        // The outline of the first tile's box (4x upscaled), two pixels thick, and its label.
        assert_eq!(img.px(g + 2 * 4, g + 6 * 4), red);
        assert_eq!(img.px(g + 2 * 4 + 1, g + 6 * 4), red);
        assert_eq!(img.px(g + 8 * 4 - 1, g + 6 * 4), red);
        assert_eq!(img.px(g + 5 * 4, g + 6 * 4), [0, 0, 0], "inside the box: the image");
        // The 24x24 outline two pixels thick (24^2 - 20^2), and the label.
        assert!(img.count(red) > 24 * 24 - 20 * 20);
        let e = boxes_grid_png(&path, &[vec![0.0; 100]], 10, 10, 1, 1, &[]).unwrap_err();
        assert!(matches!(e, Error::Shape { .. }), "{e}");
        assert!(matches!(boxes_grid_png(&path, &[vec![0.0; 99]], 10, 10, 1, 1, &[vec![]]), Err(Error::Shape { .. })));
    }

    #[test]
    fn gray_image_rejects_bad_input() {
        let path = temp_png("gray-bad");
        let err = gray_image_png(&path, 3, 2, &[0.0; 5], 1).unwrap_err();
        assert!(matches!(err, Error::Shape { .. }), "{err}");
        assert!(matches!(gray_image_png(&path, 0, 2, &[], 1), Err(Error::OutOfRange { .. })));
        assert!(matches!(gray_image_png(&path, 1, 1, &[0.0], 0), Err(Error::OutOfRange { .. })));
        assert!(matches!(gray_image_png(&path, 1, 1, &[0.0], u32::MAX), Err(Error::Invalid(_))));
        assert!(!path.exists());
    }

    #[test]
    fn image_grid_lays_out_tiles_and_captions() {
        let path = temp_png("grid");
        let images: Vec<Vec<f32>> = (0..5).map(|i| vec![i as f32; 4]).chain([vec![0.0, 1.0, 1.0, 0.0]]).collect();
        let caps: Vec<String> = (0..6).map(|i| format!("#{i}")).collect();
        image_grid_png(&path, &images, 2, 2, 4, 3, Some(&caps)).expect("grid");
        let img = read_png(&path);
        // 4 columns of 6 px tiles, 2 rows of 6 px tiles + 11 px captions, 4 px gaps.
        assert_eq!((img.w, img.h), (4 + 4 * 10, 4 + 2 * (6 + 11 + 4)));
        assert_eq!(img.px(0, 0), WHITE);
        // Tile 1 is constant 1.0 (white); tile 0 constant 0.0 (black).
        assert_eq!(img.px(4, 4), [0, 0, 0]);
        // Tile 5 (row 1, col 1): top-left black, top-right white.
        let (x5, y5) = (4 + 10, 4 + 21);
        assert_eq!(img.px(x5, y5), [0, 0, 0]);
        assert_eq!(img.px(x5 + 3, y5), [255, 255, 255]);
        assert!(img.count(TEXT) > 10, "captions drawn");

        let path = temp_png("grid-plain");
        image_grid_png(&path, &images[..2], 2, 2, 10, 1, None).expect("cols clamped");
        let img = read_png(&path);
        assert_eq!((img.w, img.h), (4 + 2 * 6, 4 + 6));
    }

    #[test]
    fn image_grid_rejects_bad_input() {
        let path = temp_png("grid-bad");
        let ok = vec![vec![0.0; 4]; 2];
        let err = image_grid_png(&path, &[vec![0.0; 4], vec![0.0; 3]], 2, 2, 2, 1, None).unwrap_err();
        assert!(matches!(err, Error::Shape { .. }), "{err}");
        let caps = vec!["a".to_string()];
        let err = image_grid_png(&path, &ok, 2, 2, 2, 1, Some(&caps)).unwrap_err();
        assert!(matches!(err, Error::Shape { .. }), "{err}");
        assert!(matches!(image_grid_png(&path, &[], 2, 2, 2, 1, None), Err(Error::Empty { .. })));
        assert!(matches!(image_grid_png(&path, &ok, 2, 2, 0, 1, None), Err(Error::OutOfRange { .. })));
        assert!(!path.exists());
    }

    #[test]
    fn saliency_overlay_colours_salient_pixels() {
        let path = temp_png("saliency");
        let image = [0.0, 1.0, 0.5, 0.25];
        let saliency = [0.0, -4.0, 0.0, f32::NAN];
        saliency_overlay_png(&path, &image, &saliency, 2, 2, 5).expect("overlay");
        let img = read_png(&path);
        assert_eq!((img.w, img.h), (2 * 10 + GAP, 10));
        // Left panel: plain gray input.
        assert_eq!(img.px(0, 0), [0, 0, 0]);
        assert_eq!(img.px(5, 0), [255, 255, 255]);
        assert_eq!(img.px(12, 12 - 5), [255, 255, 255], "gap is white");
        // Right panel: zero saliency stays gray, the max |saliency| is hot.
        let x0 = 10 + GAP;
        let cold = img.px(x0 + 2, 7);
        assert!(cold[0] == cold[1] && cold[1] == cold[2], "{cold:?}");
        let hot = img.px(x0 + 7, 2);
        assert!(hot[0] > 200 && hot[2] < 100 && hot[0] >= hot[1], "{hot:?}");
    }

    #[test]
    fn saliency_overlay_rejects_bad_input() {
        let path = temp_png("saliency-bad");
        let err = saliency_overlay_png(&path, &[0.0; 4], &[0.0; 3], 2, 2, 1).unwrap_err();
        assert!(matches!(err, Error::Shape { .. }), "{err}");
        let err = saliency_overlay_png(&path, &[0.0; 3], &[0.0; 4], 2, 2, 1).unwrap_err();
        assert!(matches!(err, Error::Shape { .. }), "{err}");
        assert!(matches!(saliency_overlay_png(&path, &[], &[], 0, 0, 1), Err(Error::OutOfRange { .. })));
        assert!(!path.exists());
    }

    #[test]
    fn heatmap_maps_max_to_top_colour() {
        let path = temp_png("heatmap");
        let values = [5.0, 1.0, 0.0, 2.0, 9.0, 0.0];
        let rows: Vec<String> = ["cat", "dog"].iter().map(|s| s.to_string()).collect();
        let cols: Vec<String> = ["cat", "dog", "bird"].iter().map(|s| s.to_string()).collect();
        heatmap_png(&path, &values, 2, 3, 24, Some(&rows), Some(&cols)).expect("heatmap");
        let img = read_png(&path);
        assert_eq!(img.px(0, 0), WHITE);
        // Layout: left = 6 + width("cat") + 6, top = 6 + 7 + 4 (labels fit horizontally).
        let (left, top) = (6 + text_width("cat", 1) as u32 + 6, 6 + 7 + 4);
        let cell = |r: u32, c: u32| img.px(left + c * 24 + 1, top + r * 24 + 1);
        assert_eq!(cell(1, 1), VIRIDIS[8], "max cell is yellow");
        assert_eq!(cell(0, 2), VIRIDIS[0], "min cell is dark purple");
        assert!(img.count(TEXT) > 20, "labels drawn");
        assert!(img.count(VIRIDIS[8]) > 24 * 24 - 40, "max cell and colour bar top");
        let expected_w = left + 3 * 24 + 12 + 14 + 6 + text_width("9", 1) as u32 + 6;
        assert_eq!((img.w, img.h), (expected_w, top + 2 * 24 + 6));
    }

    #[test]
    fn heatmap_handles_nan_constant_and_long_labels() {
        let path = temp_png("heatmap-nan");
        let values = [0.1, f32::NAN, 0.3, 0.2];
        let long: Vec<String> = vec!["a very long column label".into(), "b".into()];
        heatmap_png(&path, &values, 2, 2, 4, None, Some(&long)).expect("heatmap");
        let img = read_png(&path);
        assert!(img.count(NAN_CELL) >= 16);
        let path = temp_png("heatmap-const");
        heatmap_png(&path, &[1.0; 4], 2, 2, 10, None, None).expect("constant");
        let img = read_png(&path);
        assert!(img.count(viridis(0.5)) > 0);
    }

    #[test]
    fn heatmap_rejects_bad_input() {
        let path = temp_png("heatmap-bad");
        let err = heatmap_png(&path, &[0.0; 5], 2, 3, 4, None, None).unwrap_err();
        assert!(matches!(err, Error::Shape { .. }), "{err}");
        let labels = vec!["a".to_string()];
        let err = heatmap_png(&path, &[0.0; 6], 2, 3, 4, Some(&labels), None).unwrap_err();
        assert!(matches!(err, Error::Shape { .. }), "{err}");
        let err = heatmap_png(&path, &[0.0; 6], 2, 3, 4, None, Some(&labels)).unwrap_err();
        assert!(matches!(err, Error::Shape { .. }), "{err}");
        assert!(matches!(heatmap_png(&path, &[], 0, 3, 4, None, None), Err(Error::OutOfRange { .. })));
        assert!(matches!(heatmap_png(&path, &[0.0; 6], 2, 3, 0, None, None), Err(Error::OutOfRange { .. })));
        assert!(matches!(heatmap_png(&path, &[0.0; 6], 2, 3, u32::MAX, None, None), Err(Error::Invalid(_))));
        assert!(!path.exists());
    }

    #[test]
    fn nice_ticks() {
        let labels = |a: &Axis| a.ticks.iter().map(|(_, l)| l.clone()).collect::<Vec<_>>();
        let a = linear_axis(1.0, 20.0, false).expect("axis");
        assert_eq!(labels(&a), ["0", "5", "10", "15", "20"]);
        assert_eq!((a.lo, a.hi), (0.0, 20.0));
        let a = linear_axis(1.0, 12.0, true).expect("axis");
        assert_eq!(labels(&a), ["2", "4", "6", "8", "10", "12"]);
        assert_eq!((a.lo, a.hi), (1.0, 12.0));
        let a = linear_axis(1.0, 2.0, true).expect("axis");
        assert!(a.ticks.len() >= 3, "{:?}", a.ticks);
        let a = linear_axis(1.0, 1.0, true).expect("axis");
        assert!(a.ticks.iter().any(|(_, l)| l == "1.00"), "{:?}", a.ticks);
        let a = linear_axis(0.12, 0.93, false).expect("axis");
        let labels: Vec<&str> = a.ticks.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(labels, ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
        let a = linear_axis(-0.3, 0.3, false).expect("axis");
        assert!(a.ticks.iter().any(|(_, l)| l == "0.0"), "{:?}", a.ticks);
        let a = linear_axis(0.0, 3e-5, false).expect("axis");
        assert!(a.ticks.iter().any(|(_, l)| l == "1e-5"), "{:?}", a.ticks);
        let a = linear_axis(4.0, 4.0, false).expect("axis");
        assert!(a.lo < 4.0 && a.hi > 4.0);
        let a = log_axis(0.001f64.log10(), 2.5f64.log10());
        let labels: Vec<&str> = a.ticks.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(labels, ["0.001", "0.01", "0.1", "1", "10"]);
        let f = |values: &[f32], v: f32| NumFormat::for_values(values).format(v);
        assert_eq!(f(&[0.0, 12.0, f32::NAN], 12.0), "12");
        assert_eq!(f(&[0.0, 1.0, 0.5], 1.0), "1.00");
        assert_eq!(f(&[0.0, 0.934], 0.934), "0.93");
        assert_eq!(f(&[0.0, 0.0004], 0.0004), "4e-4");
        assert_eq!(f(&[1.5, 2e7], 2e7), "2e7");
        assert_eq!(f(&[1.0], f32::NAN), "nan");
        assert_eq!(fmt_sci(1.5e7, 3), "1.5e7");
    }

    #[test]
    fn font_covers_required_characters() {
        let unknown = glyph('\u{2603}');
        for ch in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz.-_:/%()=,+".chars() {
            assert_ne!(glyph(ch), unknown, "{ch} has its own glyph");
            assert!(glyph(ch).iter().any(|&r| r != 0), "{ch} is not blank");
        }
        assert_eq!(glyph(' '), [0; 9]);
        let mut c = Canvas::new("t", 20, 10, WHITE).expect("canvas");
        c.text(-3, -3, "A?\u{e9}", 3, TEXT); // clipped, unknown chars, no panic
        c.text_up(0, 9, "hello world", 1, TEXT);
        assert_eq!(c.get(19, 9), Some(WHITE));
        assert_eq!(text_width("ab", 2), 22);
    }
}
