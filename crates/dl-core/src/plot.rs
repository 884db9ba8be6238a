//! PNG output for results people look at: training curves, image grids,
//! heatmaps (confusion matrices, attention weights) and saliency overlays.
//!
//! Written on the `png` crate with a built-in 5x7 bitmap font, so charts
//! have titles, ticks and legends without system fonts or C libraries.

use std::path::Path;

use crate::{Error, Result};

type Rgb = [u8; 3];

const WHITE: Rgb = [255, 255, 255];
const BLACK: Rgb = [0, 0, 0];
const GRID: Rgb = [225, 225, 225];
const PALETTE: [Rgb; 8] = [
    [31, 119, 180],
    [214, 39, 40],
    [44, 160, 44],
    [255, 127, 14],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [23, 190, 207],
];

/// An RGB canvas.
struct Canvas {
    w: usize,
    h: usize,
    px: Vec<u8>,
}

impl Canvas {
    fn new(w: usize, h: usize, bg: Rgb) -> Self {
        let mut px = Vec::with_capacity(w * h * 3);
        for _ in 0..w * h {
            px.extend_from_slice(&bg);
        }
        Self { w, h, px }
    }

    fn set(&mut self, x: i64, y: i64, c: Rgb) {
        if x >= 0 && y >= 0 && (x as usize) < self.w && (y as usize) < self.h {
            let i = (y as usize * self.w + x as usize) * 3;
            self.px[i..i + 3].copy_from_slice(&c);
        }
    }

    fn rect(&mut self, x: i64, y: i64, w: i64, h: i64, c: Rgb) {
        for yy in y..y + h {
            for xx in x..x + w {
                self.set(xx, yy, c);
            }
        }
    }

    fn line(&mut self, (x0, y0): (f64, f64), (x1, y1): (f64, f64), c: Rgb, thick: i64) {
        let steps = ((x1 - x0).abs().max((y1 - y0).abs()).ceil() as usize).max(1);
        for s in 0..=steps {
            let t = s as f64 / steps as f64;
            let (x, y) = ((x0 + (x1 - x0) * t).round() as i64, (y0 + (y1 - y0) * t).round() as i64);
            self.rect(x - thick / 2, y - thick / 2, thick, thick, c);
        }
    }

    /// Draws `text` with its top-left corner at (x, y), glyphs scaled by `s`.
    fn text(&mut self, x: i64, y: i64, text: &str, c: Rgb, s: i64) {
        for (i, ch) in text.chars().enumerate() {
            let g = glyph(ch);
            for (row, bits) in g.iter().enumerate() {
                for col in 0..5 {
                    if bits & (0x10 >> col) != 0 {
                        self.rect(x + (i as i64 * 6 + col) * s, y + row as i64 * s, s, s, c);
                    }
                }
            }
        }
    }

    fn save(&self, path: &Path) -> Result<()> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| Error::io("creating", parent, e))?;
        }
        let file = std::fs::File::create(path).map_err(|e| Error::io("creating", path, e))?;
        let mut enc = png::Encoder::new(std::io::BufWriter::new(file), self.w as u32, self.h as u32);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let io = |e: png::EncodingError| Error::io("writing", path, std::io::Error::other(e));
        let mut w = enc.write_header().map_err(io)?;
        w.write_image_data(&self.px).map_err(io)?;
        w.finish().map_err(io)
    }
}

fn text_width(t: &str, s: i64) -> i64 {
    t.chars().count() as i64 * 6 * s
}

/// 5x7 glyphs; lowercase letters use the uppercase shapes.
fn glyph(ch: char) -> [u8; 7] {
    match ch.to_ascii_uppercase() {
        '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        'A' => [0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'B' => [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
        'C' => [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E],
        'D' => [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C],
        'E' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F],
        'F' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        'G' => [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F],
        'H' => [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'I' => [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
        'J' => [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
        'K' => [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11],
        'L' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        'M' => [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11],
        'N' => [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        'O' => [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'P' => [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        'Q' => [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D],
        'R' => [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        'S' => [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E],
        'T' => [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        'U' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'V' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        'W' => [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A],
        'X' => [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
        'Y' => [0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04],
        'Z' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
        '.' => [0, 0, 0, 0, 0, 0x0C, 0x0C],
        ',' => [0, 0, 0, 0, 0x0C, 0x04, 0x08],
        '-' => [0, 0, 0, 0x1F, 0, 0, 0],
        '+' => [0, 0x04, 0x04, 0x1F, 0x04, 0x04, 0],
        '_' => [0, 0, 0, 0, 0, 0, 0x1F],
        ':' => [0, 0x0C, 0x0C, 0, 0x0C, 0x0C, 0],
        '/' => [0x01, 0x01, 0x02, 0x04, 0x08, 0x10, 0x10],
        '%' => [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03],
        '(' => [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02],
        ')' => [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08],
        '=' => [0, 0, 0x1F, 0, 0x1F, 0, 0],
        '<' => [0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02],
        '>' => [0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08],
        '\'' => [0x04, 0x04, 0, 0, 0, 0, 0],
        ' ' => [0; 7],
        _ => [0x1F, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1F],
    }
}

/// A named curve of (x, y) points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend entry.
    pub name: String,
    /// Points; non-finite ones are skipped.
    pub points: Vec<(f64, f64)>,
}

/// About five round tick values covering [lo, hi].
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let span = (hi - lo).max(1e-12);
    let raw = span / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * mag).find(|s| span / s <= 6.0).unwrap_or(10.0 * mag);
    let mut t = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while t <= hi + step * 1e-9 {
        out.push(if t.abs() < step * 1e-9 { 0.0 } else { t });
        t += step;
    }
    out
}

fn fmt_tick(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e5).contains(&a) {
        format!("{v:.0e}")
    } else if a >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.2}").trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        format!("{v:.4}").trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// An 800x500 line chart with axes, ticks, a title and a legend.
///
/// With `log_y` the y axis is log10 (non-positive values are skipped).
pub fn line_chart(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    log_y: bool,
) -> Result<()> {
    let tf = |y: f64| if log_y { y.log10() } else { y };
    let pts: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|s| {
            s.points
                .iter()
                .filter(|(x, y)| x.is_finite() && y.is_finite() && (!log_y || *y > 0.0))
                .map(|&(x, y)| (x, tf(y)))
                .collect()
        })
        .collect();
    let all: Vec<&(f64, f64)> = pts.iter().flatten().collect();
    if all.is_empty() {
        return Err(Error::Invalid(format!("line_chart `{}`: no finite points to plot", path.display())));
    }
    let (mut x0, mut x1) = all.iter().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (mut y0, mut y1) = all.iter().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
    if x1 - x0 < 1e-12 {
        x0 -= 1.0;
        x1 += 1.0;
    }
    if y1 - y0 < 1e-12 {
        y0 -= 0.5;
        y1 += 0.5;
    }
    let pad = (y1 - y0) * 0.05;
    let (y0, y1) = (y0 - pad, y1 + pad);
    let (w, h) = (800i64, 500i64);
    let (l, r, t, b) = (80i64, 20i64, 40i64, 60i64);
    let mut cv = Canvas::new(w as usize, h as usize, WHITE);
    let px = |x: f64| l as f64 + (x - x0) / (x1 - x0) * (w - l - r) as f64;
    let py = |y: f64| (h - b) as f64 - (y - y0) / (y1 - y0) * (h - t - b) as f64;
    for tx in ticks(x0, x1) {
        let x = px(tx);
        cv.line((x, t as f64), (x, (h - b) as f64), GRID, 1);
        let s = fmt_tick(tx);
        cv.text(x as i64 - text_width(&s, 1) / 2, h - b + 8, &s, BLACK, 1);
    }
    for ty in ticks(y0, y1) {
        let y = py(ty);
        cv.line((l as f64, y), ((w - r) as f64, y), GRID, 1);
        let s = if log_y { fmt_tick(10f64.powf(ty)) } else { fmt_tick(ty) };
        cv.text(l - 6 - text_width(&s, 1), y as i64 - 3, &s, BLACK, 1);
    }
    cv.line((l as f64, t as f64), (l as f64, (h - b) as f64), BLACK, 1);
    cv.line((l as f64, (h - b) as f64), ((w - r) as f64, (h - b) as f64), BLACK, 1);
    cv.text(w / 2 - text_width(title, 2) / 2, 10, title, BLACK, 2);
    cv.text(w / 2 - text_width(x_label, 1) / 2, h - 24, x_label, BLACK, 1);
    let yl = if log_y { format!("{y_label} (log)") } else { y_label.to_string() };
    cv.text(8, t - 14, &yl, BLACK, 1);
    for (i, (s, p)) in series.iter().zip(&pts).enumerate() {
        let c = PALETTE[i % PALETTE.len()];
        for win in p.windows(2) {
            cv.line((px(win[0].0), py(win[0].1)), (px(win[1].0), py(win[1].1)), c, 2);
        }
        for &(x, y) in p {
            cv.rect(px(x) as i64 - 2, py(y) as i64 - 2, 5, 5, c);
        }
        let ly = t + 8 + i as i64 * 14;
        cv.rect(w - r - 160, ly, 12, 8, c);
        cv.text(w - r - 142, ly, &s.name, BLACK, 1);
    }
    cv.save(path)
}

fn check_len(what: &str, expected: usize, got: usize) -> Result<()> {
    if expected != got || expected == 0 {
        return Err(Error::shape(what, format!("{expected} values (non-empty)"), got));
    }
    Ok(())
}

/// Min-max normalises to [0, 1] (constant input maps to 0); non-finite values map to 0.
fn normalise(v: &[f32]) -> Vec<f32> {
    let (lo, hi) = v.iter().filter(|x| x.is_finite()).fold((f32::MAX, f32::MIN), |(a, b), &x| (a.min(x), b.max(x)));
    let span = if hi > lo { hi - lo } else { 1.0 };
    v.iter().map(|&x| if x.is_finite() { ((x - lo) / span).clamp(0.0, 1.0) } else { 0.0 }).collect()
}

fn gray(v: f32) -> Rgb {
    let g = (v * 255.0).round() as u8;
    [g, g, g]
}

/// A grayscale image, min-max normalised, enlarged `scale` times.
pub fn gray_image_png(path: &Path, width: usize, height: usize, pixels: &[f32], scale: u32) -> Result<()> {
    check_len("gray_image_png", width * height, pixels.len())?;
    let s = scale.max(1) as i64;
    let n = normalise(pixels);
    let mut cv = Canvas::new(width * s as usize, height * s as usize, WHITE);
    for y in 0..height {
        for x in 0..width {
            cv.rect(x as i64 * s, y as i64 * s, s, s, gray(n[y * width + x]));
        }
    }
    cv.save(path)
}

/// A grid of grayscale images (each min-max normalised), `cols` per row, optional captions.
pub fn image_grid_png(
    path: &Path,
    images: &[Vec<f32>],
    width: usize,
    height: usize,
    cols: usize,
    scale: u32,
    captions: Option<&[String]>,
) -> Result<()> {
    if images.is_empty() || cols == 0 {
        return Err(Error::Invalid(format!("image_grid_png `{}`: no images or zero columns", path.display())));
    }
    if let Some(c) = captions {
        check_len("image_grid_png captions", images.len(), c.len())?;
    }
    let s = scale.max(1) as i64;
    let (cw, ch) = (width as i64 * s + 4, height as i64 * s + 4 + if captions.is_some() { 10 } else { 0 });
    let rows = images.len().div_ceil(cols) as i64;
    let mut cv = Canvas::new((cols as i64 * cw) as usize, (rows * ch) as usize, WHITE);
    for (i, img) in images.iter().enumerate() {
        check_len(&format!("image_grid_png image {i}"), width * height, img.len())?;
        let (ox, oy) = ((i % cols) as i64 * cw + 2, (i / cols) as i64 * ch + 2);
        let n = normalise(img);
        for y in 0..height {
            for x in 0..width {
                cv.rect(ox + x as i64 * s, oy + y as i64 * s, s, s, gray(n[y * width + x]));
            }
        }
        if let Some(c) = captions {
            cv.text(ox, oy + height as i64 * s + 2, &c[i], BLACK, 1);
        }
    }
    cv.save(path)
}

/// Red-yellow heat colour for v in [0, 1].
fn heat(v: f32) -> Rgb {
    let v = v.clamp(0.0, 1.0);
    [255, (v * 255.0) as u8, ((v - 0.7).max(0.0) / 0.3 * 255.0) as u8]
}

/// Input (left) and input with |saliency| overlaid in heat colours (right).
pub fn saliency_overlay_png(
    path: &Path,
    image: &[f32],
    saliency: &[f32],
    width: usize,
    height: usize,
    scale: u32,
) -> Result<()> {
    check_len("saliency_overlay_png image", width * height, image.len())?;
    check_len("saliency_overlay_png saliency", width * height, saliency.len())?;
    let s = scale.max(1) as i64;
    let img = normalise(image);
    let abs: Vec<f32> = saliency.iter().map(|v| v.abs()).collect();
    let sal = normalise(&abs);
    let pw = width as i64 * s;
    let mut cv = Canvas::new((2 * pw + 8) as usize, height * s as usize, WHITE);
    for y in 0..height {
        for x in 0..width {
            let i = y * width + x;
            cv.rect(x as i64 * s, y as i64 * s, s, s, gray(img[i]));
            let base = gray(img[i] * 0.5);
            let hc = heat(sal[i]);
            let a = sal[i];
            let mix = [0, 1, 2].map(|k| (base[k] as f32 * (1.0 - a) + hc[k] as f32 * a) as u8);
            cv.rect(pw + 8 + x as i64 * s, y as i64 * s, s, s, mix);
        }
    }
    cv.save(path)
}

/// A viridis-like colour for v in [0, 1].
fn viridis(v: f32) -> Rgb {
    const STOPS: [Rgb; 5] = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
    let v = v.clamp(0.0, 1.0) * 4.0;
    let i = (v.floor() as usize).min(3);
    let f = v - i as f32;
    [0, 1, 2].map(|k| (STOPS[i][k] as f32 * (1.0 - f) + STOPS[i + 1][k] as f32 * f) as u8)
}

/// A `rows x cols` heatmap (confusion matrix, attention weights), optional labels.
pub fn heatmap_png(
    path: &Path,
    values: &[f32],
    rows: usize,
    cols: usize,
    cell: u32,
    row_labels: Option<&[String]>,
    col_labels: Option<&[String]>,
) -> Result<()> {
    check_len("heatmap_png", rows * cols, values.len())?;
    if let Some(l) = row_labels {
        check_len("heatmap_png row labels", rows, l.len())?;
    }
    if let Some(l) = col_labels {
        check_len("heatmap_png column labels", cols, l.len())?;
    }
    let c = cell.max(1) as i64;
    let lw = row_labels.map_or(0, |l| l.iter().map(|s| text_width(s, 1)).max().unwrap_or(0) + 8);
    let lh = if col_labels.is_some() { 14 } else { 0 };
    let mut cv = Canvas::new((lw + cols as i64 * c) as usize, (lh + rows as i64 * c) as usize, WHITE);
    let n = normalise(values);
    for r in 0..rows {
        for k in 0..cols {
            cv.rect(lw + k as i64 * c, lh + r as i64 * c, c, c, viridis(n[r * cols + k]));
        }
        if let Some(l) = row_labels {
            cv.text(2, lh + r as i64 * c + c / 2 - 3, &l[r], BLACK, 1);
        }
    }
    if let Some(l) = col_labels {
        for (k, s) in l.iter().enumerate() {
            cv.text(lw + k as i64 * c + c / 2 - text_width(s, 1) / 2, 3, s, BLACK, 1);
        }
    }
    cv.save(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(path: &Path) -> (u32, u32, Vec<u8>) {
        let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
        let mut r = dec.read_info().unwrap();
        let mut buf = vec![0; r.output_buffer_size().unwrap()];
        let info = r.next_frame(&mut buf).unwrap();
        (info.width, info.height, buf)
    }

    fn tmp(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("dl-core-plot-{}-{name}", std::process::id()))
    }

    #[test]
    fn line_chart_draws_series_and_rejects_empty() {
        let p = tmp("curve.png");
        let s = vec![Series {
            name: "train loss".into(),
            points: vec![(1.0, 2.0), (2.0, 1.0), (3.0, f64::NAN), (4.0, 0.5)],
        }];
        line_chart(&p, "loss", "epoch", "loss", &s, false).unwrap();
        let (w, h, px) = decode(&p);
        assert_eq!((w, h), (800, 500));
        assert_eq!(&px[0..3], &WHITE);
        assert!(px.chunks(3).any(|c| c == PALETTE[0]), "series colour drawn");
        assert!(line_chart(&p, "t", "x", "y", &[Series { name: "e".into(), points: vec![] }], false).is_err());
        line_chart(&p, "log", "x", "y", &s, true).unwrap();
    }

    #[test]
    fn images_heatmaps_and_length_checks() {
        let p = tmp("img.png");
        gray_image_png(&p, 2, 2, &[0.0, 1.0, 0.5, 0.25], 3).unwrap();
        let (w, h, px) = decode(&p);
        assert_eq!((w, h), (6, 6));
        assert_eq!(&px[0..3], &[0, 0, 0]);
        assert_eq!(&px[9..12], &[255, 255, 255]);
        assert!(gray_image_png(&p, 2, 2, &[0.0; 3], 1).is_err());

        let hm = tmp("heat.png");
        heatmap_png(&hm, &[0.0, 1.0, 0.2, 0.3], 2, 2, 10, None, None).unwrap();
        let (w, _, px) = decode(&hm);
        let at = |x: usize, y: usize| px[(y * w as usize + x) * 3..(y * w as usize + x) * 3 + 3].to_vec();
        assert_eq!(at(15, 5), viridis(1.0).to_vec());
        assert_eq!(at(5, 5), viridis(0.0).to_vec());
        let labels = vec!["a".to_string(), "b".to_string()];
        heatmap_png(&hm, &[0.0, 1.0, 0.2, 0.3], 2, 2, 10, Some(&labels), Some(&labels)).unwrap();
        assert!(heatmap_png(&hm, &[0.0; 4], 2, 2, 10, Some(&labels[..1]), None).is_err());

        let g = tmp("grid.png");
        image_grid_png(&g, &[vec![0.0; 4], vec![1.0; 4], vec![0.5; 4]], 2, 2, 2, 2, None).unwrap();
        assert!(image_grid_png(&g, &[vec![0.0; 3]], 2, 2, 2, 2, None).is_err());
        assert!(image_grid_png(&g, &[], 2, 2, 2, 2, None).is_err());

        let s = tmp("sal.png");
        saliency_overlay_png(&s, &[0.0, 1.0, 0.0, 1.0], &[0.0, 0.0, 0.0, 5.0], 2, 2, 4).unwrap();
        let (w, h, px) = decode(&s);
        assert_eq!((w, h), (24, 8));
        let at = |x: usize, y: usize| px[(y * w as usize + x) * 3..(y * w as usize + x) * 3 + 3].to_vec();
        assert_eq!(at(16 + 4 + 1, 4 + 1), heat(1.0).to_vec(), "the salient pixel is hot");
    }

    #[test]
    fn ticks_are_round() {
        assert_eq!(ticks(0.0, 1.0), vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]);
        assert_eq!(fmt_tick(0.25), "0.25");
        assert_eq!(fmt_tick(1500.0), "1500");
    }
}
