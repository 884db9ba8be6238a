//! Style transfer through continuous InfoGAN codes: a class-conditional
//! generator draws *what* (the class) from its label and *how* (slant,
//! stroke, size) from its continuous codes; the discriminator's Q head reads
//! those codes back from any image, a real one included. Restyling a real
//! image as another class is then: estimate its codes, generate the other
//! class with them. The measures of style (slant and stroke width from
//! image moments and the ink's outline) say whether it carried over;
//! [`StyleTerm`] trains a generator to draw the slant and width its codes ask for.

use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::models::{Discriminator, Generator};
use crate::train::SampleTerm;
use dl_core::config::check;
use dl_core::{Error, Result};

/// The continuous codes `[B, codes]` that `d`'s Q head estimates for
/// `images` `[B, sample_dim]` (scaled as the training data were), clamped to
/// the [-1, 1] they were drawn from.
///
/// # Errors
/// [`Error::WrongInput`] when `d` has no continuous codes; [`Error::Shape`] for
/// images of another width.
pub fn estimate_codes<D: Discriminator>(d: &D, images: Tensor<2>) -> Result<Tensor<2>> {
    let [b, w] = images.dims();
    if w != d.sample_dim() {
        return Err(Error::shape("estimate_codes images", format!("[B, {}]", d.sample_dim()), format!("[{b}, {w}]")));
    }
    d.forward_info(images, None)
        .continuous
        .map(|c| c.clamp(-1.0, 1.0))
        .ok_or_else(|| Error::WrongInput("estimate_codes: the discriminator has no continuous-code head".into()))
}

/// Generates, for each row of `codes` `[B, k]` and each class of `classes`,
/// that class drawn with those codes and the rest of the latent code at its
/// mean (0): `[B * classes.len(), sample_dim]`, source-major.
///
/// # Errors
/// [`Error::WrongInput`] for an unconditional generator, [`Error::OutOfRange`]
/// for a class past its classes, [`Error::Invalid`] for more codes than
/// latent values; [`Error::Shape`] for no classes.
pub fn restyle<G: Generator>(g: &G, codes: Tensor<2>, classes: &[usize]) -> Result<Tensor<2>> {
    let [b, k] = codes.dims();
    let n =
        g.num_classes().ok_or_else(|| Error::WrongInput("restyle: the generator is not class-conditional".into()))?;
    if classes.is_empty() {
        return Err(Error::shape("restyle classes", "at least one class", "none"));
    }
    if let Some(&bad) = classes.iter().find(|&&c| c >= n) {
        return Err(Error::out_of_range("restyle: class", bad, format!("< {n} (the generator's classes)")));
    }
    if k > g.latent_dim() {
        return Err(Error::Invalid(format!("restyle: {k} codes for a latent code of {}", g.latent_dim())));
    }
    let device = codes.device();
    let m = classes.len();
    // [B, k] -> [B * m, k]: each source's codes once per class.
    let codes = codes.unsqueeze_dim::<3>(1).repeat_dim(1, m).reshape([b * m, k]);
    let z = Tensor::cat(vec![codes, Tensor::zeros([b * m, g.latent_dim() - k], &device)], 1);
    let ids: Vec<i64> = (0..b * m).map(|i| classes[i % m] as i64).collect();
    let labels = Tensor::<1, Int>::from_data(TensorData::new(ids, [b * m]), &device);
    crate::models::generate(g, z, Some(labels))
}

/// Ink of `image` (`width * height`, row-major, in [-1, 1] as the GANs
/// draw) as weights in [0, 1].
fn ink(image: &[f32]) -> impl Iterator<Item = f64> + '_ {
    image.iter().map(|&v| ((f64::from(v) + 1.0) / 2.0).clamp(0.0, 1.0))
}

fn check_image(ctx: &str, image: &[f32], width: usize) -> Result<usize> {
    if width == 0 || image.is_empty() || !image.len().is_multiple_of(width) {
        return Err(Error::shape(ctx, format!("rows of {width} pixels"), format!("{} values", image.len())));
    }
    Ok(image.len() / width)
}

/// Slant of the ink of `image` (rows of `width` pixels, values in [-1, 1]):
/// how far the strokes move right per row going up, `-mu11 / mu02` of the
/// ink-weighted central moments (0 upright, positive leaning right). `None`
/// for an image without ink or with all of it on one row.
///
/// # Errors
/// [`Error::Shape`] when `image` is not whole rows of `width`.
pub fn slant(image: &[f32], width: usize) -> Result<Option<f64>> {
    check_image("slant", image, width)?;
    let (mut m, mut mx, mut my) = (0.0, 0.0, 0.0);
    for (i, w) in ink(image).enumerate() {
        m += w;
        mx += w * (i % width) as f64;
        my += w * (i / width) as f64;
    }
    if m <= 0.0 {
        return Ok(None);
    }
    let (mx, my) = (mx / m, my / m);
    let (mut mu11, mut mu02) = (0.0, 0.0);
    for (i, w) in ink(image).enumerate() {
        let (dx, dy) = ((i % width) as f64 - mx, (i / width) as f64 - my);
        mu11 += w * dx * dy;
        mu02 += w * dy * dy;
    }
    Ok((mu02 > 1e-9 * m).then(|| -mu11 / mu02))
}

/// Stroke width of `image` (rows of `width` pixels, values in [-1, 1]): the
/// pixels with more ink than not, twice their area over their outline (the
/// pixel edges they share with paper or the border), which is the width of
/// a long stroke whatever its shape. `None` for an image without ink.
///
/// # Errors
/// [`Error::Shape`] when `image` is not whole rows of `width`.
pub fn stroke_width(image: &[f32], width: usize) -> Result<Option<f64>> {
    let height = check_image("stroke_width", image, width)?;
    let on: Vec<bool> = ink(image).map(|w| w > 0.5).collect();
    let at = |x: isize, y: isize| {
        x >= 0 && y >= 0 && (x as usize) < width && (y as usize) < height && on[y as usize * width + x as usize]
    };
    let (mut area, mut outline) = (0usize, 0usize);
    for y in 0..height as isize {
        for x in 0..width as isize {
            if at(x, y) {
                area += 1;
                outline += [(1, 0), (-1, 0), (0, 1), (0, -1)].iter().filter(|(dx, dy)| !at(x + dx, y + dy)).count();
            }
        }
    }
    Ok((area > 0).then(|| 2.0 * area as f64 / outline as f64))
}

/// Stroke width of `image` as [`stroke_width`] measures it, on the ink
/// itself rather than on its pixels with more ink than not: twice the ink
/// over its total variation (the ink differences of neighbouring pixels,
/// the border counting as paper). The same on images of pure ink and
/// paper; differentiable in the ink ([`soft_stroke_width_of`]). `None` for
/// an image without ink.
///
/// # Errors
/// [`Error::Shape`] when `image` is not whole rows of `width`.
pub fn soft_stroke_width(image: &[f32], width: usize) -> Result<Option<f64>> {
    let height = check_image("soft_stroke_width", image, width)?;
    let w: Vec<f64> = ink(image).collect();
    let at = |x: usize, y: usize| w[y * width + x];
    let (mut area, mut outline) = (0.0, 0.0);
    for y in 0..height {
        for x in 0..width {
            area += at(x, y);
            outline += if x + 1 < width { (at(x + 1, y) - at(x, y)).abs() } else { at(x, y) };
            outline += if y + 1 < height { (at(x, y + 1) - at(x, y)).abs() } else { at(x, y) };
            outline += if x == 0 { at(x, y) } else { 0.0 } + if y == 0 { at(x, y) } else { 0.0 };
        }
    }
    Ok((area > 0.0 && outline > 0.0).then(|| 2.0 * area / outline))
}

/// The ink of images `[B, N]` in [-1, 1] as weights in [0, 1].
fn ink_of(images: Tensor<2>) -> Tensor<2> {
    images.add_scalar(1.0).div_scalar(2.0).clamp(0.0, 1.0)
}

/// A constant `[rows, cols]` on `device` from `f(row, col)`.
fn constant(rows: usize, cols: usize, f: impl Fn(usize, usize) -> f32, device: &Device) -> Tensor<2> {
    let v: Vec<f32> = (0..rows * cols).map(|i| f(i / cols, i % cols)).collect();
    Tensor::from_data(TensorData::new(v, [rows, cols]), device)
}

/// [`slant`] of each image of `images` `[B, H * W]` (rows of `width`
/// pixels, values in [-1, 1]), differentiable: `[B]`. An image without ink
/// or with all of it on one row gets 0.
pub fn slant_of(images: Tensor<2>, width: usize) -> Tensor<1> {
    let [b, n] = images.dims();
    // Pixel coordinates about the centre (fewer digits lost in the sums).
    let (cx, cy) = ((width as f32 - 1.0) / 2.0, ((n / width) as f32 - 1.0) / 2.0);
    let xy = |i: usize| ((i % width) as f32 - cx, (i / width) as f32 - cy);
    // [N, 5]: what each pixel's ink adds to the mass, x, y, xy and y² moments.
    let per_pixel = constant(
        n,
        5,
        |i, k| {
            let (x, y) = xy(i);
            [1.0, x, y, x * y, y * y][k]
        },
        &images.device(),
    );
    // [B, 5] the ink's moments in one product; [B, 1] each.
    let m = ink_of(images).matmul(per_pixel);
    let at = |k: usize| m.clone().narrow(1, k, 1);
    let mass = at(0).clamp_min(1e-6);
    let mean = |k: usize| at(k) / mass.clone();
    let (mx, my) = (mean(1), mean(2));
    let mu11 = mean(3) - mx * my.clone();
    let mu02 = mean(4) - my.clone() * my;
    // -mu11 / mu02, with 0 where the ink has no height.
    let defined = mu02.clone().greater_elem(1e-6).float();
    (mu11.neg() * defined / mu02.clamp_min(1e-6)).reshape([b])
}

/// [`soft_stroke_width`] of each image of `images` `[B, H * W]` (rows of
/// `width` pixels, values in [-1, 1]), differentiable: `[B]` (0 for an image
/// without ink).
pub fn soft_stroke_width_of(images: Tensor<2>, width: usize) -> Tensor<1> {
    let [b, n] = images.dims();
    let (h, device) = (n / width, images.device());
    // [B, N]
    let w = ink_of(images);
    // [1, N - 1]: 1 between horizontal neighbours, 0 from a row's end to the next row's start.
    let same_row = constant(1, n - 1, |_, i| if (i + 1) % width == 0 { 0.0 } else { 1.0 }, &device);
    // [N, 1]: the sides of each pixel on the border (2 at a corner).
    let sides = constant(
        n,
        1,
        |i, _| {
            let (x, y) = (i % width, i / width);
            [x == 0, x == width - 1, y == 0, y == h - 1].iter().filter(|&&e| e).count() as f32
        },
        &device,
    );
    let area = w.clone().sum_dim(1);
    let across = ((w.clone().narrow(1, 1, n - 1) - w.clone().narrow(1, 0, n - 1)).abs() * same_row).sum_dim(1);
    let down = (w.clone().narrow(1, width, n - width) - w.clone().narrow(1, 0, n - width)).abs().sum_dim(1);
    let outline = across + down + w.matmul(sides);
    (area.mul_scalar(2.0) / outline.clamp_min(1e-6)).reshape([b])
}

/// Points of the code-to-value tables of [`StyleTerm`].
const KNOTS: usize = 129;

/// A generator loss that makes the measured slant and stroke width of each
/// sample ([`slant_of`], [`soft_stroke_width_of`]) the values its first
/// two codes stand for: code `c` stands for the value at rank `(c + 1) / 2`
/// among the training digits (of all classes, or of the sample's class), as
/// [`RankScale`] ranks them into the codes `style_transfer` anchors. Each
/// squared error is in units of the attribute's spread over the training
/// digits; their sum, averaged over the batch, is weighted by `weight`.
/// The width's values are [`soft_stroke_width`]'s, ranked as the codes rank
/// [`stroke_width`] (the two agree on pure ink and paper).
#[derive(Debug, Clone, PartialEq)]
pub struct StyleTerm {
    width: usize,
    pixels: usize,
    /// `[groups * KNOTS]` slant and stroke width at evenly spaced codes, per group.
    slants: Vec<f32>,
    widths: Vec<f32>,
    groups: usize,
    spread: (f32, f32),
    weight: f64,
}

impl StyleTerm {
    /// The term for samples like `images` (rows of `pixels` values, images
    /// with rows of `width` pixels, in [-1, 1]); with `classes` `(labels,
    /// n)`, each of `n` classes gets the values of its own images.
    ///
    /// # Errors
    /// [`Error::Shape`] for images that are not whole rows or labels that do
    /// not match them, [`Error::OutOfRange`] for a label past `n`,
    /// [`Error::Empty`] for a class without a measurable image,
    /// [`Error::Config`] for a weight that is negative or not finite.
    pub fn new(
        images: &[f32],
        pixels: usize,
        width: usize,
        classes: Option<(&[usize], usize)>,
        weight: f64,
    ) -> Result<Self> {
        if !weight.is_finite() || weight < 0.0 {
            return Err(Error::config("StyleTerm", "weight", format!("must be finite and >= 0, got {weight}")));
        }
        check::positive("StyleTerm", "pixels", pixels)?;
        if images.is_empty() || !images.len().is_multiple_of(pixels) {
            return Err(Error::shape("StyleTerm images", format!("rows of {pixels} values"), images.len()));
        }
        check_image("StyleTerm image", &images[..pixels], width)?;
        if pixels / width < 2 || width < 2 {
            return Err(Error::shape("StyleTerm image", "at least 2 x 2 pixels", format!("rows of {width}")));
        }
        let measured = images
            .chunks(pixels)
            .map(|img| Ok((slant(img, width)?, soft_stroke_width(img, width)?)))
            .collect::<Result<Vec<_>>>()?;
        let (slants, widths): (Vec<Option<f64>>, Vec<Option<f64>>) = measured.into_iter().unzip();
        // Each group's values at KNOTS evenly spaced codes.
        let table = |values: &[Option<f64>]| -> Result<Vec<f32>> {
            let scales = RankScale::per_group(values, classes)?;
            Ok(scales
                .iter()
                .flat_map(|scale| (0..KNOTS).map(|j| scale.value(2.0 * j as f32 / (KNOTS - 1) as f32 - 1.0) as f32))
                .collect())
        };
        // The standard deviation of the defined values.
        let spread = |values: &[Option<f64>]| {
            let v: Vec<f64> = values.iter().flatten().copied().collect();
            let mean = v.iter().sum::<f64>() / v.len().max(1) as f64;
            let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len().max(1) as f64;
            var.sqrt().max(1e-6) as f32
        };
        let groups = classes.map_or(1, |(_, n)| n);
        Ok(StyleTerm {
            width,
            pixels,
            slants: table(&slants)?,
            widths: table(&widths)?,
            groups,
            spread: (spread(&slants), spread(&widths)),
            weight,
        })
    }

    /// The values that codes `codes` `[B]` stand for in `table`, for samples
    /// of groups `groups` (group 0 for all without), linearly between knots.
    fn values(table: &[f32], codes: Tensor<1>, groups: Option<Tensor<1, Int>>) -> Tensor<1> {
        let device = codes.device();
        let last = (KNOTS - 1) as f64;
        let at = codes.detach().add_scalar(1.0).mul_scalar(last / 2.0).clamp(0.0, last);
        let below = at.clone().floor().clamp(0.0, last - 1.0);
        let frac = at - below.clone();
        let mut index = below.int();
        if let Some(g) = groups {
            index = index + g.mul_scalar(KNOTS as i64);
        }
        let t = Tensor::<1>::from_data(TensorData::new(table.to_vec(), [table.len()]), &device);
        let lo = t.clone().select(0, index.clone());
        let hi = t.select(0, index.add_scalar(1));
        lo.clone() + (hi - lo) * frac
    }
}

impl SampleTerm for StyleTerm {
    fn loss(&self, samples: Tensor<2>, z: Tensor<2>, labels: Option<Tensor<1, Int>>) -> Tensor<1> {
        let b = samples.dims()[0];
        let groups = labels.filter(|_| self.groups > 1);
        let code = |i: usize| z.clone().narrow(1, i, 1).reshape([b]);
        let slant_target = Self::values(&self.slants, code(0), groups.clone());
        let width_target = Self::values(&self.widths, code(1), groups);
        let slant_err = (slant_of(samples.clone(), self.width) - slant_target).div_scalar(self.spread.0);
        let width_err = (soft_stroke_width_of(samples, self.width) - width_target).div_scalar(self.spread.1);
        (slant_err.powi_scalar(2) + width_err.powi_scalar(2)).mean().mul_scalar(self.weight)
    }

    fn check(&self, sample_dim: usize, latent_dim: usize, classes: Option<usize>) -> Result<()> {
        if sample_dim != self.pixels {
            return Err(Error::shape("StyleTerm samples", self.pixels, sample_dim));
        }
        if latent_dim < 2 {
            return Err(Error::Invalid(format!(
                "StyleTerm: codes 0 and 1 set slant and stroke width; the latent code has {latent_dim} values"
            )));
        }
        if self.groups > 1 && classes != Some(self.groups) {
            return Err(Error::Invalid(format!(
                "StyleTerm: values for each of {} classes, the data have {classes:?} classes",
                self.groups
            )));
        }
        Ok(())
    }
}

/// An attribute's values as codes: each value's mid-rank among the values it
/// was built from, scaled to [-1, 1], so that the codes are as uniform as
/// the ones a generator is given (targets for [`crate::GanData::with_code_targets`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RankScale {
    sorted: Vec<f64>,
}

impl RankScale {
    /// The scale of `values` (undefined ones, `None`, are left out).
    ///
    /// # Errors
    /// [`Error::Empty`] when no value is defined; [`Error::Invalid`] for a non-finite one.
    pub fn new(values: impl IntoIterator<Item = Option<f64>>) -> Result<Self> {
        let mut sorted: Vec<f64> = values.into_iter().flatten().collect();
        if let Some(v) = sorted.iter().find(|v| !v.is_finite()) {
            return Err(Error::Invalid(format!("RankScale: value {v} is not finite")));
        }
        if sorted.is_empty() {
            return Err(Error::empty("RankScale: no defined value"));
        }
        sorted.sort_by(f64::total_cmp);
        Ok(RankScale { sorted })
    }

    /// One scale per group of `values`: without `groups`, one of all of
    /// them; with `groups` `(labels, n)` (a label per value), one for each
    /// label below `n`, of the values with that label.
    ///
    /// # Errors
    /// [`Error::Shape`] for a label count other than the values',
    /// [`Error::OutOfRange`] for a label from `n`, and [`RankScale::new`]'s
    /// for a group without a defined value.
    pub fn per_group(values: &[Option<f64>], groups: Option<(&[usize], usize)>) -> Result<Vec<Self>> {
        let Some((labels, n)) = groups else {
            return Ok(vec![RankScale::new(values.iter().copied())?]);
        };
        if labels.len() != values.len() {
            return Err(Error::shape("RankScale::per_group labels", values.len(), labels.len()));
        }
        if let Some(&bad) = labels.iter().find(|&&l| l >= n) {
            return Err(Error::out_of_range("RankScale::per_group label", bad, format!("< {n}")));
        }
        (0..n).map(|k| RankScale::new(values.iter().zip(labels).filter(|(_, l)| **l == k).map(|(v, _)| *v))).collect()
    }

    /// The code of `v`: -1 below every value, +1 above, the mid-rank between;
    /// 0 (the median's code) for an undefined value.
    pub fn code(&self, v: Option<f64>) -> f32 {
        let Some(v) = v else { return 0.0 };
        let below = self.sorted.partition_point(|x| *x < v);
        let upto = self.sorted.partition_point(|x| *x <= v);
        ((below + upto) as f64 / self.sorted.len() as f64 - 1.0) as f32
    }

    /// The value at code `code` (the inverse of [`RankScale::code`]): the
    /// value whose mid-rank the code falls on, the extremes beyond [-1, 1].
    pub fn value(&self, code: f32) -> f64 {
        let n = self.sorted.len();
        let at = ((f64::from(code) + 1.0) / 2.0 * n as f64).floor();
        // NaN and codes below -1 take the smallest value, codes from 1 the largest.
        let i = if at >= 0.0 { (at as usize).min(n - 1) } else { 0 };
        self.sorted[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dl_core::task::to_f32;

    /// A 28x28 image in [-1, 1] with ink where `f(x, y)`.
    fn draw(f: impl Fn(usize, usize) -> bool) -> Vec<f32> {
        (0..28 * 28).map(|i| if f(i % 28, i / 28) { 1.0 } else { -1.0 }).collect()
    }

    #[test]
    fn slant_is_the_shear_of_the_strokes() {
        // An upright bar, then bars sheared by 1 pixel right per 4 rows up, and left.
        let upright = draw(|x, y| (12..15).contains(&x) && (4..24).contains(&y));
        assert!(slant(&upright, 28).unwrap().unwrap().abs() < 1e-12);
        let sheared = |s: f64| {
            draw(move |x, y| (0.0..3.0).contains(&(x as f64 - 12.0 + s * (y as f64 - 14.0))) && (4..24).contains(&y))
        };
        let right = slant(&sheared(0.25), 28).unwrap().unwrap();
        let left = slant(&sheared(-0.25), 28).unwrap().unwrap();
        assert!((right - 0.25).abs() < 0.03, "{right}");
        assert!((left + 0.25).abs() < 0.03, "{left}");
        assert_eq!(slant(&draw(|_, _| false), 28).unwrap(), None);
        assert_eq!(slant(&draw(|_, y| y == 3), 28).unwrap(), None);
        assert!(matches!(slant(&upright[..100], 28), Err(Error::Shape { .. })));
    }

    #[test]
    fn stroke_width_is_twice_the_area_over_the_outline() {
        // A w x 20 bar: area 20 w, outline 2 (20 + w).
        for w in [1, 2, 4] {
            let bar = draw(|x, y| (10..10 + w).contains(&x) && (4..24).contains(&y));
            let got = stroke_width(&bar, 28).unwrap().unwrap();
            let expected = 2.0 * 20.0 * w as f64 / (2.0 * (20.0 + w as f64));
            assert!((got - expected).abs() < 1e-12, "{w}: {got} vs {expected}");
        }
        // A ring of width 2 is as wide as a bar of width 2, up to its corners.
        let ring = draw(|x, y| {
            let (dx, dy) = (x as f64 - 13.5, y as f64 - 13.5);
            let r = (dx * dx + dy * dy).sqrt();
            (8.0..10.0).contains(&r)
        });
        let w = stroke_width(&ring, 28).unwrap().unwrap();
        assert!((1.4..2.4).contains(&w), "{w}");
        assert_eq!(stroke_width(&draw(|_, _| false), 28).unwrap(), None);
        assert!(matches!(stroke_width(&[0.0; 5], 0), Err(Error::Shape { .. })));
    }

    #[test]
    fn rank_codes_are_uniform_in_minus_one_to_one() {
        let r = RankScale::new([Some(3.0), Some(1.0), None, Some(2.0), Some(4.0)]).unwrap();
        assert_eq!(r.code(Some(0.0)), -1.0);
        assert_eq!(r.code(Some(9.0)), 1.0);
        // Mid-ranks: 1 is the first of four values, (0 + 1) / 4 - 1 = -0.75.
        assert_eq!([1.0, 2.0, 3.0, 4.0].map(|v| r.code(Some(v))), [-0.75, -0.25, 0.25, 0.75]);
        assert_eq!(r.code(Some(2.5)), 0.0);
        assert_eq!(r.code(None), 0.0);
        // Ties share their mid-rank.
        let t = RankScale::new([Some(1.0), Some(1.0), Some(2.0), Some(2.0)]).unwrap();
        assert_eq!(t.code(Some(1.0)), -0.5);
        assert!(matches!(RankScale::new([None, None]), Err(Error::Empty { .. })));
        assert!(RankScale::new([Some(f64::NAN)]).is_err());
    }

    #[test]
    fn rank_values_invert_rank_codes() {
        let r = RankScale::new([Some(3.0), Some(1.0), None, Some(2.0), Some(4.0)]).unwrap();
        for v in [1.0, 2.0, 3.0, 4.0] {
            assert_eq!(r.value(r.code(Some(v))), v);
        }
        // A code between two mid-ranks takes the value whose rank it falls in.
        assert_eq!([-1.0, -0.6, -0.5, -0.1, 0.0, 0.4, 0.99].map(|c| r.value(c)), [1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0]);
        // Beyond [-1, 1] and NaN: the extremes.
        assert_eq!([-3.0, 1.0, 7.0, f32::NAN].map(|c| r.value(c)), [1.0, 4.0, 4.0, 1.0]);
        // The same rank in another class's values: the 75th percentile of each.
        let other = RankScale::new((1..=4).map(|v| Some(10.0 * f64::from(v)))).unwrap();
        assert_eq!(other.value(r.code(Some(3.0))), 30.0);
    }

    #[test]
    fn per_group_scales_rank_within_their_group() {
        let values = [Some(1.0), Some(10.0), Some(2.0), None, Some(20.0), Some(3.0)];
        let labels = [0, 1, 0, 1, 1, 0];
        let all = RankScale::per_group(&values, None).unwrap();
        assert_eq!(all, vec![RankScale::new(values).unwrap()]);
        let each = RankScale::per_group(&values, Some((&labels, 2))).unwrap();
        // 2 is the middle of group 0's (1, 2, 3); 20 the top of group 1's (10, 20).
        assert_eq!((each[0].code(Some(2.0)), each[1].code(Some(20.0))), (0.0, 0.5));
        assert_eq!(each[1].value(0.0), 20.0);
        assert!(matches!(RankScale::per_group(&values, Some((&labels[..5], 2))), Err(Error::Shape { .. })));
        assert!(matches!(RankScale::per_group(&values, Some((&labels, 1))), Err(Error::OutOfRange { .. })));
        // A group with no defined value.
        assert!(matches!(RankScale::per_group(&values, Some((&labels, 3))), Err(Error::Empty { .. })));
    }

    /// Values of a 28x28 image as a tensor `[n, 784]` of `images`.
    fn batch(images: &[Vec<f32>], device: &burn::tensor::Device) -> Tensor<2> {
        let flat: Vec<f32> = images.iter().flatten().copied().collect();
        Tensor::from_data(TensorData::new(flat, [images.len(), 784]), device)
    }

    #[test]
    fn tensor_measures_are_the_pixel_measures() {
        let device = dl_core::testing::device();
        let sheared = |s: f64, w: f64| {
            draw(move |x, y| (0.0..w).contains(&(x as f64 - 12.0 + s * (y as f64 - 14.0))) && (4..24).contains(&y))
        };
        // Graded ink too: a blurred disc.
        let soft: Vec<f32> = (0..784)
            .map(|i| {
                let (dx, dy) = ((i % 28) as f32 - 11.0, (i / 28) as f32 - 15.0);
                (1.0 - (dx * dx + 0.5 * dy * dy + 0.3 * dx * dy).sqrt() / 6.0).clamp(-1.0, 1.0)
            })
            .collect();
        let images = vec![sheared(0.25, 3.0), sheared(-0.4, 2.0), sheared(0.0, 5.0), soft, draw(|_, _| false)];
        let slants = to_f32(slant_of(batch(&images, &device), 28)).unwrap();
        let widths = to_f32(soft_stroke_width_of(batch(&images, &device), 28)).unwrap();
        for (i, img) in images.iter().enumerate() {
            let s = slant(img, 28).unwrap().unwrap_or(0.0);
            assert!((f64::from(slants[i]) - s).abs() < 1e-4, "image {i}: slant {} vs {s}", slants[i]);
            let w = soft_stroke_width(img, 28).unwrap().unwrap_or(0.0);
            assert!((f64::from(widths[i]) - w).abs() < 1e-4, "image {i}: width {} vs {w}", widths[i]);
        }
        // On pure ink and paper the soft width is the stroke width.
        for img in &images[..3] {
            assert!(
                (soft_stroke_width(img, 28).unwrap().unwrap() - stroke_width(img, 28).unwrap().unwrap()).abs() < 1e-12
            );
        }
        // The graded disc is tilted: its slant is not a trivial 0.
        assert!(slants[3].abs() > 0.05, "{}", slants[3]);
    }

    /// Digits-like training images: bars of slant `s` and width `w` for each (s, w).
    fn bars(styles: &[(f64, f64)]) -> Vec<f32> {
        styles
            .iter()
            .flat_map(|&(s, w)| {
                draw(move |x, y| (0.0..w).contains(&(x as f64 - 12.0 + s * (y as f64 - 14.0))) && (4..24).contains(&y))
            })
            .collect()
    }

    #[test]
    fn the_style_term_asks_for_the_values_codes_stand_for() {
        let device = dl_core::testing::device();
        let styles: Vec<(f64, f64)> = (0..9).map(|i| (0.1 * i as f64 - 0.4, 1.0 + (i % 3) as f64)).collect();
        let images = bars(&styles);
        let term = StyleTerm::new(&images, 784, 28, None, 1.0).unwrap();
        let codes = Tensor::<1>::from_data(TensorData::new(vec![-1.0f32, 0.0, 1.0, 1e-3], [4]), &device);
        let at = to_f32(StyleTerm::values(&term.slants, codes.clone(), None)).unwrap();
        let measured: Vec<f64> = styles.iter().map(|&(s, w)| slant(&bars(&[(s, w)]), 28).unwrap().unwrap()).collect();
        let (lo, hi) =
            (measured.iter().copied().fold(f64::MAX, f64::min), measured.iter().copied().fold(f64::MIN, f64::max));
        let median = RankScale::new(measured.iter().map(|&v| Some(v))).unwrap().value(0.0);
        assert!((f64::from(at[0]) - lo).abs() < 1e-6 && (f64::from(at[2]) - hi).abs() < 1e-6, "{at:?}");
        assert!((f64::from(at[1]) - median).abs() < 1e-6, "{at:?} vs median {median}");
        // Per class: each sample's class has its own values.
        let labels: Vec<usize> = (0..9).map(|i| usize::from(i >= 6)).collect();
        let per_class = StyleTerm::new(&images, 784, 28, Some((&labels, 2)), 1.0).unwrap();
        let groups = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 1, 1, 0], [4]), &device);
        let at = to_f32(StyleTerm::values(&per_class.slants, codes, Some(groups))).unwrap();
        assert!((f64::from(at[0]) - measured[0]).abs() < 1e-6, "{at:?}");
        assert!(
            (f64::from(at[2]) - measured[8]).abs() < 1e-6 && (f64::from(at[1]) - measured[7]).abs() < 1e-6,
            "{at:?}"
        );
        // What does not fit is refused.
        assert!(term.check(784, 8, Some(10)).is_ok());
        assert!(matches!(term.check(64, 8, None), Err(Error::Shape { .. })));
        assert!(term.check(784, 1, None).is_err());
        assert!(per_class.check(784, 8, Some(10)).is_err());
        assert!(matches!(StyleTerm::new(&images, 784, 28, None, -1.0), Err(Error::Config { .. })));
        assert!(matches!(StyleTerm::new(&images[..700], 784, 28, None, 1.0), Err(Error::Shape { .. })));
        assert!(matches!(StyleTerm::new(&images, 784, 28, Some((&labels, 1)), 1.0), Err(Error::OutOfRange { .. })));
        assert!(matches!(StyleTerm::new(&images, 784, 28, Some((&labels[..3], 2)), 1.0), Err(Error::Shape { .. })));
    }

    #[test]
    fn the_style_term_pulls_a_drawing_towards_its_codes() {
        let device = dl_core::testing::device().autodiff();
        let styles: Vec<(f64, f64)> = (0..9).map(|i| (0.1 * i as f64 - 0.4, 1.0 + (i % 3) as f64)).collect();
        let term = StyleTerm::new(&bars(&styles), 784, 28, None, 1.0).unwrap();
        // An upright bar of width 3 asked to lean right (code 1: slant 0.4) and be thin (code -1: width ~1).
        let z = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, -1.0], [1, 2]), &device);
        let mut x: Tensor<2> =
            Tensor::from_data(TensorData::new(bars(&[(0.0, 3.0)]), [1, 784]), &device).mul_scalar(0.9).require_grad();
        let start = to_f32(term.loss(x.clone(), z.clone(), None)).unwrap()[0];
        for _ in 0..50 {
            let loss = term.loss(x.clone().tanh(), z.clone(), None);
            let grads = loss.backward();
            let g = x.grad(&grads).unwrap();
            x = Tensor::from_inner(x.inner() - g.mul_scalar(2.0)).require_grad();
        }
        let end = to_f32(term.loss(x.clone().tanh(), z, None)).unwrap()[0];
        let s = to_f32(slant_of(x.tanh().inner(), 28)).unwrap()[0];
        assert!(end < start / 4.0, "loss {start} -> {end}");
        assert!(s > 0.1, "slant {s}");
    }
}
