//! Style transfer through continuous InfoGAN codes: a class-conditional
//! generator draws *what* (the class) from its label and *how* (slant,
//! stroke, size) from its continuous codes; the discriminator's Q head reads
//! those codes back from any image, a real one included. Restyling a real
//! image as another class is then: estimate its codes, generate the other
//! class with them. The measures of style (slant and stroke width from
//! image moments and the ink's outline) say whether it carried over.

use burn::tensor::{Int, Tensor, TensorData};

use crate::models::{Discriminator, Generator};
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
}
