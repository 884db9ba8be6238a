//! Scenes composed from single-digit images: rows of handwritten digits
//! like a plate or a postcode, for models that read a whole string, and
//! canvases of scattered digits with their boxes, for detectors.
//!
//! No dataset of such strings is at hand, so they are composed from a pool
//! of MNIST-layout images: training scenes from training images only, test
//! scenes from test images only. A scene is a pure function of the seed
//! and its index, so a set is rebuilt identically from its plan and only
//! drawn when a batch needs it.

use burn::config::Config;

use dl_core::config::check;
use dl_core::data::idx::ImageSet;
use dl_core::data::split::SplitRng;

use crate::detection::BBox;
use dl_core::Error as DataError;

/// How digit strings are laid out on their canvas.
#[derive(Config, Debug, PartialEq)]
pub struct DigitStringConfig {
    /// Canvas height in pixels.
    #[config(default = 32)]
    pub height: usize,
    /// Canvas width in pixels.
    #[config(default = 160)]
    pub width: usize,
    /// Fewest digits in a string.
    #[config(default = 4)]
    pub min_digits: usize,
    /// Most digits in a string.
    #[config(default = 8)]
    pub max_digits: usize,
    /// Smallest side a 28x28 digit is scaled to (one size per string).
    #[config(default = 16)]
    pub min_size: usize,
    /// Largest side (a long string may get less, so that it fits).
    #[config(default = 22)]
    pub max_size: usize,
    /// Narrowest gap between neighbouring digit boxes (negative: they overlap).
    #[config(default = -2)]
    pub min_gap: i64,
    /// Widest gap (a long string may get less).
    #[config(default = 4)]
    pub max_gap: i64,
}

/// One digit of a string: which image, where, how large.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Glyph {
    /// Index of the image in its [`ImageSet`].
    pub image: usize,
    /// Left edge on the canvas.
    pub x: usize,
    /// Top edge on the canvas.
    pub y: usize,
    /// Side of the scaled image.
    pub size: usize,
}

/// A composed string: its digits left to right and their labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigitString {
    /// Where each digit is drawn.
    pub glyphs: Vec<Glyph>,
    /// The digits, left to right.
    pub labels: Vec<usize>,
}

impl DigitStringConfig {
    /// Checks the sizes and that the longest string fits its canvas.
    pub fn validate(&self) -> dl_core::Result<()> {
        const C: &str = "DigitStringConfig";
        check::positive(C, "height", self.height)?;
        check::positive(C, "width", self.width)?;
        check::positive(C, "min_digits", self.min_digits)?;
        check::positive(C, "min_size", self.min_size)?;
        if self.max_digits < self.min_digits {
            return Err(DataError::config(
                C,
                "max_digits",
                format!("must be at least min_digits ({})", self.min_digits),
            ));
        }
        if self.max_size < self.min_size || self.max_size > self.height {
            return Err(DataError::config(
                C,
                "max_size",
                format!("must lie between min_size ({}) and height ({})", self.min_size, self.height),
            ));
        }
        if self.max_gap < self.min_gap || self.min_gap <= -(self.min_size as i64) {
            return Err(DataError::config(
                C,
                "min_gap",
                format!("must be at most max_gap ({}) and above minus min_size", self.max_gap),
            ));
        }
        if self.span(self.max_digits, self.min_size) > self.width as i64 {
            return Err(DataError::config(
                C,
                "width",
                format!(
                    "{} digits of {} pixels with gaps of {} need {} pixels, more than {}",
                    self.max_digits,
                    self.min_size,
                    self.min_gap,
                    self.span(self.max_digits, self.min_size),
                    self.width
                ),
            ));
        }
        Ok(())
    }

    /// Width of `n` digits of side `size` at the narrowest gap.
    fn span(&self, n: usize, size: usize) -> i64 {
        (n * size) as i64 + (n as i64 - 1) * self.min_gap
    }

    /// The string number `index` of a set drawn with `seed` from the images
    /// `pool` of `labels` (indices into the [`ImageSet`] they label).
    ///
    /// # Errors
    /// [`DataError::Empty`] for an empty pool; [`DataError::OutOfRange`] for a pool
    /// index past `labels`; the config's own errors.
    pub fn plan(&self, pool: &[usize], labels: &[u8], seed: u64, index: usize) -> dl_core::Result<DigitString> {
        self.validate()?;
        if pool.is_empty() {
            return Err(DataError::empty("digit strings: the image pool"));
        }
        if let Some(&bad) = pool.iter().find(|&&i| i >= labels.len()) {
            return Err(DataError::out_of_range("digit strings: pool image", bad, format!("below {}", labels.len())));
        }
        let mut rng = SplitRng::new(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (index as u64).wrapping_add(1));
        let between = |rng: &mut SplitRng, lo: i64, hi: i64| lo + rng.below((hi - lo + 1) as usize) as i64;
        let n = between(&mut rng, self.min_digits as i64, self.max_digits as i64) as usize;
        // The largest size at which n digits still fit at the narrowest gap.
        let fits = (self.min_size..=self.max_size).rev().find(|&s| self.span(n, s) <= self.width as i64);
        let size = between(&mut rng, self.min_size as i64, fits.unwrap_or(self.min_size) as i64) as usize;
        let room = self.width as i64 - (n * size) as i64;
        // Floor division: room is negative when the digits overlap at the narrowest gap.
        let widest = if n > 1 { self.max_gap.min(room.div_euclid(n as i64 - 1)) } else { 0 };
        let gaps: Vec<i64> = (1..n).map(|_| between(&mut rng, self.min_gap, widest)).collect();
        let used = (n * size) as i64 + gaps.iter().sum::<i64>();
        let mut x = between(&mut rng, 0, self.width as i64 - used);
        let mut glyphs = Vec::with_capacity(n);
        for k in 0..n {
            let image = pool[rng.below(pool.len())];
            let y = rng.below(self.height - size + 1);
            glyphs.push(Glyph { image, x: x as usize, y, size });
            x += size as i64 + gaps.get(k).copied().unwrap_or(0);
        }
        let labels = glyphs.iter().map(|g| usize::from(labels[g.image])).collect();
        Ok(DigitString { glyphs, labels })
    }

    /// Draws `string` from `images`: a `height * width` canvas, row-major,
    /// black 0 to white 1, overlapping strokes taking the brighter value.
    ///
    /// # Errors
    /// [`DataError::OutOfRange`] for a glyph outside the canvas or an image past the set.
    pub fn render(&self, string: &DigitString, images: &ImageSet) -> dl_core::Result<Vec<f32>> {
        let (h, w) = (self.height, self.width);
        let mut canvas = vec![0f32; h * w];
        for g in &string.glyphs {
            draw(&mut canvas, w, h, g, images)?;
        }
        Ok(canvas)
    }
}

/// Draws glyph `g` of `images` onto a `width x height` canvas (brighter value wins).
fn draw(canvas: &mut [f32], width: usize, height: usize, g: &Glyph, images: &ImageSet) -> dl_core::Result<()> {
    let src = images
        .get(g.image)
        .ok_or_else(|| DataError::out_of_range("digit scenes: glyph image", g.image, format!("below {}", images.n)))?;
    if g.size == 0 || g.x + g.size > width || g.y + g.size > height {
        return Err(DataError::out_of_range(
            "digit scenes: glyph",
            format!("{} px at ({}, {})", g.size, g.x, g.y),
            format!("inside {width}x{height}"),
        ));
    }
    for ty in 0..g.size {
        for tx in 0..g.size {
            let v = bilinear(src, images.rows, images.cols, ty, tx, g.size) / 255.0;
            let px = &mut canvas[(g.y + ty) * width + g.x + tx];
            *px = px.max(v);
        }
    }
    Ok(())
}

/// Ink brighter than this (of 1) belongs to a digit's box.
const INK: f32 = 0.25;

/// The box of the ink of image `src` scaled to `size`, relative to the
/// glyph's corner: `(x0, y0, x1, y1)` in pixels, ends exclusive; `None`
/// for an image without ink.
fn ink_box(src: &[u8], rows: usize, cols: usize, size: usize) -> Option<(usize, usize, usize, usize)> {
    let mut b: Option<(usize, usize, usize, usize)> = None;
    for ty in 0..size {
        for tx in 0..size {
            if bilinear(src, rows, cols, ty, tx, size) / 255.0 > INK {
                let (x0, y0, x1, y1) = b.unwrap_or((tx, ty, tx + 1, ty + 1));
                b = Some((x0.min(tx), y0.min(ty), x1.max(tx + 1), y1.max(ty + 1)));
            }
        }
    }
    b
}

/// How detection scenes are composed: digits of different sizes scattered
/// on a square canvas, their ink boxes apart.
#[derive(Config, Debug, PartialEq)]
pub struct DigitSceneConfig {
    /// Canvas side in pixels.
    #[config(default = 80)]
    pub size: usize,
    /// Fewest digits in a scene.
    #[config(default = 1)]
    pub min_digits: usize,
    /// Most digits (fewer when no free place is found for one).
    #[config(default = 5)]
    pub max_digits: usize,
    /// Smallest side a 28x28 digit is scaled to.
    #[config(default = 14)]
    pub min_side: usize,
    /// Largest side.
    #[config(default = 32)]
    pub max_side: usize,
    /// Pixels kept free around each digit's ink box.
    #[config(default = 2)]
    pub margin: usize,
}

/// A composed detection scene: its digits, their labels and ink boxes.
#[derive(Debug, Clone, PartialEq)]
pub struct DigitScene {
    /// Where each digit is drawn.
    pub glyphs: Vec<Glyph>,
    /// The digit of each glyph.
    pub labels: Vec<usize>,
    /// The box around each glyph's ink, in canvas pixels.
    pub boxes: Vec<BBox>,
}

impl DigitSceneConfig {
    /// Checks the sizes.
    pub fn validate(&self) -> dl_core::Result<()> {
        const C: &str = "DigitSceneConfig";
        check::positive(C, "size", self.size)?;
        check::positive(C, "min_digits", self.min_digits)?;
        check::positive(C, "min_side", self.min_side)?;
        if self.max_digits < self.min_digits {
            return Err(DataError::config(
                C,
                "max_digits",
                format!("must be at least min_digits ({})", self.min_digits),
            ));
        }
        if self.max_side < self.min_side || self.max_side > self.size {
            return Err(DataError::config(
                C,
                "max_side",
                format!("must lie between min_side ({}) and size ({})", self.min_side, self.size),
            ));
        }
        Ok(())
    }

    /// Scene number `index` of a set drawn with `seed` from the images `pool`
    /// of `images` (labelled by `labels`). Each digit gets up to 50 tries at
    /// a place whose ink box, grown by the margin, touches no other.
    ///
    /// # Errors
    /// [`DataError::Empty`] for an empty pool; [`DataError::OutOfRange`]
    /// for a pool index past the images or labels; the config's own errors.
    pub fn plan(
        &self,
        pool: &[usize],
        images: &ImageSet,
        labels: &[u8],
        seed: u64,
        index: usize,
    ) -> dl_core::Result<DigitScene> {
        self.validate()?;
        if pool.is_empty() {
            return Err(DataError::empty("digit scenes: the image pool"));
        }
        let n_images = images.n.min(labels.len());
        if let Some(&bad) = pool.iter().find(|&&i| i >= n_images) {
            return Err(DataError::out_of_range("digit scenes: pool image", bad, format!("below {n_images}")));
        }
        let mut rng = SplitRng::new(seed.wrapping_mul(0xD1B5_4A32_D192_ED03) ^ (index as u64).wrapping_add(1));
        let n = self.min_digits + rng.below(self.max_digits - self.min_digits + 1);
        let mut scene = DigitScene { glyphs: Vec::new(), labels: Vec::new(), boxes: Vec::new() };
        for _ in 0..n {
            let image = pool[rng.below(pool.len())];
            for _ in 0..50 {
                let side = self.min_side + rng.below(self.max_side - self.min_side + 1);
                let (x, y) = (rng.below(self.size - side + 1), rng.below(self.size - side + 1));
                let Some((x0, y0, x1, y1)) = ink_box(images.image(image), images.rows, images.cols, side) else {
                    break;
                };
                let m = self.margin as f32;
                let bbox = BBox { x0: (x + x0) as f32, y0: (y + y0) as f32, x1: (x + x1) as f32, y1: (y + y1) as f32 };
                let grown = BBox { x0: bbox.x0 - m, y0: bbox.y0 - m, x1: bbox.x1 + m, y1: bbox.y1 + m };
                if scene.boxes.iter().all(|b| grown.iou(b) == 0.0) {
                    scene.glyphs.push(Glyph { image, x, y, size: side });
                    scene.labels.push(usize::from(labels[image]));
                    scene.boxes.push(bbox);
                    break;
                }
            }
        }
        Ok(scene)
    }

    /// Draws `scene` from `images`: a `size * size` canvas, row-major, 0 to 1.
    ///
    /// # Errors
    /// [`DataError::OutOfRange`] for a glyph outside the canvas or an image past the set.
    pub fn render(&self, scene: &DigitScene, images: &ImageSet) -> dl_core::Result<Vec<f32>> {
        let mut canvas = vec![0f32; self.size * self.size];
        for g in &scene.glyphs {
            draw(&mut canvas, self.size, self.size, g, images)?;
        }
        Ok(canvas)
    }
}

/// Value of target pixel (`ty`, `tx`) of a `size x size` copy of the
/// `rows x cols` image `src`, sampled bilinearly at the pixel's centre.
fn bilinear(src: &[u8], rows: usize, cols: usize, ty: usize, tx: usize, size: usize) -> f32 {
    let at = |t: usize, n: usize| ((t as f32 + 0.5) * n as f32 / size as f32 - 0.5).clamp(0.0, (n - 1) as f32);
    let (y, x) = (at(ty, rows), at(tx, cols));
    let (y0, x0) = (y.floor() as usize, x.floor() as usize);
    let (y1, x1) = ((y0 + 1).min(rows - 1), (x0 + 1).min(cols - 1));
    let (fy, fx) = (y - y0 as f32, x - x0 as f32);
    let p = |r: usize, c: usize| f32::from(src[r * cols + c]);
    let top = p(y0, x0) * (1.0 - fx) + p(y0, x1) * fx;
    let bottom = p(y1, x0) * (1.0 - fx) + p(y1, x1) * fx;
    top * (1.0 - fy) + bottom * fy
}

#[cfg(test)]
mod tests {
    use super::*;
    use dl_core::Error;

    fn images(n: usize) -> (ImageSet, Vec<u8>) {
        // Image i is filled with the value 10 * i + 5, labelled i % 10.
        let pixels = (0..n).flat_map(|i| std::iter::repeat_n((10 * i + 5) as u8, 28 * 28)).collect();
        (ImageSet { n, rows: 28, cols: 28, pixels }, (0..n).map(|i| (i % 10) as u8).collect())
    }

    #[test]
    fn strings_are_a_function_of_seed_and_index_and_fit_their_canvas() {
        let cfg = DigitStringConfig::new();
        let (set, labels) = images(20);
        let pool: Vec<usize> = (0..20).collect();
        let mut lengths = std::collections::BTreeSet::new();
        for i in 0..3000 {
            let s = cfg.plan(&pool, &labels, 7, i).unwrap();
            assert_eq!(s, cfg.plan(&pool, &labels, 7, i).unwrap());
            lengths.insert(s.labels.len());
            assert!((4..=8).contains(&s.labels.len()));
            for (g, w) in s.glyphs.iter().zip(s.glyphs.iter().skip(1)) {
                // Left to right, never more than two pixels of overlap.
                assert!(w.x + 2 >= g.x + g.size, "{s:?}");
            }
            for (g, &l) in s.glyphs.iter().zip(&s.labels) {
                assert!(g.x + g.size <= 160 && g.y + g.size <= 32 && (16..=22).contains(&g.size));
                assert_eq!(l, g.image % 10);
            }
            if i < 300 {
                assert_eq!(cfg.render(&s, &set).unwrap().len(), 32 * 160);
            }
        }
        assert_eq!(lengths.len(), 5, "every length from 4 to 8 occurs");
        assert_ne!(cfg.plan(&pool, &labels, 7, 0).unwrap(), cfg.plan(&pool, &labels, 8, 0).unwrap());
    }

    #[test]
    fn only_pool_images_are_drawn() {
        let cfg = DigitStringConfig::new();
        let (_, labels) = images(20);
        let pool = [3, 11, 17];
        for i in 0..100 {
            assert!(cfg.plan(&pool, &labels, 1, i).unwrap().glyphs.iter().all(|g| pool.contains(&g.image)));
        }
    }

    #[test]
    fn rendering_places_each_scaled_image_at_its_glyph() {
        let cfg = DigitStringConfig::new().with_width(40).with_height(20).with_min_size(4).with_max_size(10);
        let (set, _) = images(3);
        let s = DigitString {
            glyphs: vec![Glyph { image: 1, x: 0, y: 2, size: 10 }, Glyph { image: 2, x: 8, y: 0, size: 10 }],
            labels: vec![1, 2],
        };
        let c = cfg.render(&s, &set).unwrap();
        let at = |x: usize, y: usize| c[y * 40 + x];
        let near =
            |x: usize, y: usize, v: f32| assert!((at(x, y) - v / 255.0).abs() < 1e-6, "({x}, {y}): {}", at(x, y));
        near(0, 2, 15.0);
        near(0, 0, 0.0);
        // Overlap: the brighter image wins.
        near(9, 5, 25.0);
        near(17, 9, 25.0);
        near(18, 9, 0.0);
        near(30, 5, 0.0);
        let off = DigitString { glyphs: vec![Glyph { image: 0, x: 35, y: 0, size: 10 }], labels: vec![0] };
        assert!(matches!(cfg.render(&off, &set), Err(Error::OutOfRange { .. })));
        let missing = DigitString { glyphs: vec![Glyph { image: 9, x: 0, y: 0, size: 10 }], labels: vec![0] };
        assert!(matches!(cfg.render(&missing, &set), Err(Error::OutOfRange { .. })));
    }

    #[test]
    fn detection_scenes_keep_their_ink_boxes_apart_and_in_the_canvas() {
        let cfg = DigitSceneConfig::new();
        // Glyph i: a bright 10x10 square at (9, 9) of its 28x28 image.
        let mut pixels = vec![0u8; 10 * 28 * 28];
        for i in 0..10 {
            for r in 9..19 {
                for c in 9..19 {
                    pixels[i * 784 + r * 28 + c] = 200;
                }
            }
        }
        let set = ImageSet { n: 10, rows: 28, cols: 28, pixels };
        let labels: Vec<u8> = (0..10).collect();
        let pool: Vec<usize> = (0..10).collect();
        let mut counts = std::collections::BTreeSet::new();
        for i in 0..300 {
            let s = cfg.plan(&pool, &set, &labels, 3, i).unwrap();
            assert_eq!(s, cfg.plan(&pool, &set, &labels, 3, i).unwrap());
            counts.insert(s.glyphs.len());
            let canvas = cfg.render(&s, &set).unwrap();
            for (k, (g, b)) in s.glyphs.iter().zip(&s.boxes).enumerate() {
                assert!(b.x0 >= g.x as f32 && b.x1 <= (g.x + g.size) as f32 && b.x1 <= 80.0 && b.y1 <= 80.0);
                // The square covers about 10/28 of the glyph's side, in its middle.
                let side = (b.x1 - b.x0) / g.size as f32;
                assert!((0.3..0.45).contains(&side), "{side}");
                // Ink inside the box, none just outside its left edge.
                let (cx, cy) = (((b.x0 + b.x1) / 2.0) as usize, ((b.y0 + b.y1) / 2.0) as usize);
                assert!(canvas[cy * 80 + cx] > 0.5);
                if b.x0 >= 1.0 && !s.boxes.iter().enumerate().any(|(j, o)| j != k && o.x1 >= b.x0 - 1.0 && o.x0 <= b.x0)
                {
                    assert!(canvas[cy * 80 + b.x0 as usize - 1] <= INK + 1e-6);
                }
                for o in s.boxes.iter().skip(k + 1) {
                    assert_eq!(b.iou(o), 0.0);
                }
            }
        }
        assert_eq!(counts, (1..=5).collect(), "every count from 1 to 5 occurs");
        assert!(cfg.plan(&[10], &set, &labels, 0, 0).is_err());
        assert!(DigitSceneConfig::new().with_max_side(81).validate().is_err());
        assert!(DigitSceneConfig::new().with_min_digits(0).validate().is_err());
    }

    #[test]
    fn impossible_layouts_are_config_errors() {
        let e = DigitStringConfig::new().with_width(100).validate().unwrap_err().to_string();
        assert!(e.contains("width") && e.contains("114 pixels"), "{e}");
        assert!(DigitStringConfig::new().with_max_size(40).validate().is_err());
        assert!(DigitStringConfig::new().with_max_digits(2).validate().is_err());
        assert!(DigitStringConfig::new().with_min_gap(-16).validate().is_err());
        let (_, labels) = images(3);
        assert!(matches!(DigitStringConfig::new().plan(&[], &labels, 0, 0), Err(Error::Empty { .. })));
        assert!(DigitStringConfig::new().plan(&[5], &labels, 0, 0).is_err());
    }
}
