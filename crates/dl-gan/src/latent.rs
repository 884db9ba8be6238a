//! Working in the generator's latent space: inpainting by latent search, and
//! interpolation.
//!
//! Inpainting (Yeh et al. 2017): to fill the hidden part of an image, search
//! for the latent code whose generated image best matches the *visible*
//! pixels, with a Gaussian prior on the code so the search stays where the
//! generator was trained; the generated pixels then fill the hole. The
//! generator is frozen (its weights get no gradient and its batch norms use
//! their running statistics); only the codes are optimised, several restarts
//! per image at once, and the restart that matches the visible pixels best is kept.

use burn::module::{Module, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::models::Generator;
use crate::sampling::latent_codes;
use dl_core::config::check;
use dl_core::task::to_f32;
use dl_core::train::OptimizerKind;
use dl_core::{Error, Result};

/// Settings of the latent search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InpaintConfig {
    /// Latent codes tried per image.
    pub restarts: usize,
    /// Adam steps.
    pub steps: usize,
    /// Adam learning rate on the codes.
    pub lr: f64,
    /// Weight of the prior `mean(z²)` against the mean squared error on visible pixels.
    pub prior_weight: f64,
    /// Seed of the starting codes.
    pub seed: u64,
}

impl Default for InpaintConfig {
    fn default() -> Self {
        InpaintConfig { restarts: 8, steps: 300, lr: 0.05, prior_weight: 0.01, seed: 7 }
    }
}

#[derive(Module, Debug)]
struct Codes {
    z: Param<Tensor<2>>,
}

/// Fills the pixels where `known` is false in each of `images` (`[n][D]`, the
/// generator's value range) from the generator. Returns the composites:
/// visible pixels kept, hidden ones generated. `labels` (one per image) for a
/// conditional generator. `device` must be an autodiff device holding `g`.
pub fn inpaint<G: Generator>(
    g: &G,
    images: &[Vec<f32>],
    known: &[bool],
    labels: Option<&[usize]>,
    cfg: &InpaintConfig,
    device: &Device,
) -> Result<Vec<Vec<f32>>> {
    let fit = search_latent(g, images, known, labels, cfg, device)?;
    Ok(images
        .iter()
        .zip(&fit.generated)
        .map(|(image, gen_row)| {
            image.iter().zip(gen_row).zip(known).map(|((&x, &y), &k)| if k { x } else { y }).collect()
        })
        .collect())
}

/// What [`search_latent`] found for each image.
#[derive(Debug, Clone, PartialEq)]
pub struct LatentFit {
    /// The best code of each image `[n][latent_dim]`.
    pub codes: Vec<Vec<f32>>,
    /// What the generator draws from it `[n][D]`.
    pub generated: Vec<Vec<f32>>,
    /// Its mean squared error on the known pixels.
    pub errors: Vec<f32>,
}

/// Searches, for each of `images`, the latent code whose generated image best
/// matches its `known` pixels (Adam on the codes of `cfg.restarts` starts, a
/// Gaussian prior; the best start is kept): the search behind [`inpaint`],
/// and with every pixel known, the inversion of a generator. Inputs and
/// errors as [`inpaint`].
pub fn search_latent<G: Generator>(
    g: &G,
    images: &[Vec<f32>],
    known: &[bool],
    labels: Option<&[usize]>,
    cfg: &InpaintConfig,
    device: &Device,
) -> Result<LatentFit> {
    let c = "InpaintConfig";
    check::positive(c, "restarts", cfg.restarts)?;
    check::positive(c, "steps", cfg.steps)?;
    check::positive_f(c, "lr", cfg.lr)?;
    if cfg.prior_weight.is_nan() || cfg.prior_weight < 0.0 {
        return Err(Error::config(c, "prior_weight", "must be >= 0"));
    }
    if !device.is_autodiff() {
        return Err(Error::NeedsAutodiff { what: "the latent search (gradients reach the latent codes)" });
    }
    let dim = g.sample_dim();
    if known.len() != dim {
        return Err(Error::shape("inpaint mask", dim, known.len()));
    }
    if let Some((i, img)) = images.iter().enumerate().find(|(_, im)| im.len() != dim) {
        return Err(Error::shape(format!("inpaint image {i}"), dim, img.len()));
    }
    if images.is_empty() {
        return Err(Error::empty("inpaint: the images"));
    }
    let visible = known.iter().filter(|&&k| k).count();
    if visible == 0 {
        return Err(Error::Invalid("inpaint: the mask hides every pixel; nothing to match".into()));
    }
    let (n, r) = (images.len(), cfg.restarts);
    let label_tensor = match (g.num_classes(), labels) {
        (Some(k), Some(l)) => {
            if l.len() != n || l.iter().any(|&y| y >= k) {
                return Err(Error::Invalid(format!("inpaint: need {n} labels in 0..{k}")));
            }
            let ids: Vec<i64> = l.iter().flat_map(|&y| std::iter::repeat_n(y as i64, r)).collect();
            Some(Tensor::<1, Int>::from_data(TensorData::new(ids, [n * r]), device))
        }
        (None, None) => None,
        (Some(_), None) => return Err(Error::WrongInput("inpaint: the generator is conditional; pass labels".into())),
        (None, Some(_)) => {
            return Err(Error::WrongInput("inpaint: the generator is unconditional; labels given".into()));
        }
    };
    let targets: Vec<f32> = images.iter().flat_map(|im| std::iter::repeat_n(im.iter().copied(), r).flatten()).collect();
    let target = Tensor::<2>::from_data(TensorData::new(targets, [n * r, dim]), device);
    let mask_values: Vec<f32> = known.iter().map(|&k| if k { 1.0 } else { 0.0 }).collect();
    let mask = Tensor::<1>::from_data(TensorData::new(mask_values, [dim]), device).unsqueeze::<2>();

    let frozen = g.clone().freeze();
    let mut codes = Codes { z: Param::from_tensor(latent_codes(n * r, g.latent_dim(), cfg.seed, device)) };
    let mut optim = OptimizerKind::adam().init(None);
    let per_row_error = |codes: &Codes| -> Tensor<1> {
        let x = frozen.forward(codes.z.val(), label_tensor.clone());
        ((x - target.clone()) * mask.clone()).powf_scalar(2.0).sum_dim(1).squeeze_dim::<1>(1) / visible as f64
    };
    for _ in 0..cfg.steps {
        let rec = per_row_error(&codes);
        let z = codes.z.val();
        let prior = z.powf_scalar(2.0).mean_dim(1).squeeze_dim::<1>(1).mul_scalar(cfg.prior_weight);
        // Summed over rows: each code gets its own gradient.
        let loss = (rec + prior).sum();
        let grads = GradientsParams::from_grads(loss.backward(), &codes);
        codes = optim.step(cfg.lr, codes, grads);
    }
    let errors = to_f32(per_row_error(&codes))?;
    let generated = to_f32(frozen.forward(codes.z.val(), label_tensor))?;
    let z = to_f32(codes.z.val())?;
    let k = g.latent_dim();
    let mut fit =
        LatentFit { codes: Vec::with_capacity(n), generated: Vec::with_capacity(n), errors: Vec::with_capacity(n) };
    for i in 0..n {
        let best = i * r + (0..r).min_by(|&a, &b| errors[i * r + a].total_cmp(&errors[i * r + b])).unwrap_or(0);
        fit.codes.push(z[best * k..(best + 1) * k].to_vec());
        fit.generated.push(generated[best * dim..(best + 1) * dim].to_vec());
        fit.errors.push(errors[best]);
    }
    Ok(fit)
}

/// Spherical interpolation between two latent codes, `steps` points from `a` to `b` inclusive.
///
/// Gaussian codes live near a sphere; a straight line between two of them
/// passes through low-norm codes the generator rarely saw, so the walk follows
/// the great circle instead (White 2016), falling back to a straight line when
/// the codes are (anti)parallel.
pub fn slerp(a: &[f32], b: &[f32], steps: usize) -> Result<Vec<Vec<f32>>> {
    if a.len() != b.len() || a.is_empty() {
        return Err(Error::shape("slerp codes", a.len(), b.len()));
    }
    if steps < 2 {
        return Err(Error::out_of_range("slerp steps", steps, "at least 2"));
    }
    let norm = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum();
    let cos = (dot / (norm(a) * norm(b)).max(1e-12)).clamp(-1.0, 1.0);
    let omega = cos.acos();
    Ok((0..steps)
        .map(|s| {
            let t = s as f64 / (steps - 1) as f64;
            let (wa, wb) = if omega.sin().abs() < 1e-6 {
                (1.0 - t, t)
            } else {
                (((1.0 - t) * omega).sin() / omega.sin(), (t * omega).sin() / omega.sin())
            };
            a.iter().zip(b).map(|(x, y)| (wa * f64::from(*x) + wb * f64::from(*y)) as f32).collect()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slerp_ends_and_norm() {
        let a = [1.0f32, 0.0];
        let b = [0.0f32, 1.0];
        let path = slerp(&a, &b, 3).unwrap();
        assert_eq!(path[0], vec![1.0, 0.0]);
        assert!((path[2][1] - 1.0).abs() < 1e-6 && path[2][0].abs() < 1e-6);
        let mid = &path[1];
        assert!(((mid[0] * mid[0] + mid[1] * mid[1]).sqrt() - 1.0).abs() < 1e-6, "stays on the circle");
        assert!(slerp(&a, &b[..1], 3).is_err());
        assert!(slerp(&a, &b, 1).is_err());
    }
}
