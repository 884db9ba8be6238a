//! Drawing from a generator: seeded latent codes, fixed grid labels, batched
//! sampling, discriminator-filtered sampling and PNG grids of image samples.

#[cfg(feature = "plot")]
use std::path::Path;

use burn::tensor::{Device, Int, Tensor, TensorData};
use dl_core::task::to_f32;
use dl_core::{Error, Result};

use crate::models::{Discriminator, Generator};

/// Latent codes `[n, dim]` from N(0, 1) drawn with `seed` on `device`, so
/// that the same seed gives the same codes on every run and after a resume.
pub fn latent_codes(n: usize, dim: usize, seed: u64, device: &Device) -> Tensor<2> {
    let mut rng = dl_core::data::split::SplitRng::new(seed);
    let values: Vec<f32> = (0..n * dim).map(|_| rng.normal()).collect();
    Tensor::from_data(TensorData::new(values, [n, dim]), device)
}

/// The fixed labels of the per-epoch grid: `per_row` codes for each class, in class order.
pub fn grid_labels(num_classes: usize, per_row: usize, device: &Device) -> Tensor<1, Int> {
    let ids: Vec<i64> = (0..num_classes * per_row).map(|i| (i / per_row) as i64).collect();
    Tensor::from_data(TensorData::new(ids, [num_classes * per_row]), device)
}

/// Runs a generator in batches on its own device and returns `[n * sample_dim]` values.
pub fn sample_values<G: Generator>(
    g: &G,
    z: Tensor<2>,
    labels: Option<Tensor<1, Int>>,
    batch: usize,
) -> Result<Vec<f32>> {
    let [n, _] = z.dims();
    let mut out = Vec::with_capacity(n * g.sample_dim());
    let mut start = 0;
    while start < n {
        let end = (start + batch.max(1)).min(n);
        let zb = z.clone().narrow(0, start, end - start);
        let lb = labels.as_ref().map(|l| l.clone().narrow(0, start, end - start));
        let x = crate::models::generate(g, zb, lb)?;
        out.extend(to_f32(x)?);
        start = end;
    }
    Ok(out)
}

/// Draws the samples of `z` (and `labels`) in batches, rates each with the
/// discriminator `d`, and returns the `keep` it rates most real, in the
/// order drawn, with their row indices in `z`.
///
/// Why: a discriminator trained with the cross-entropy loss estimates
/// `log p_data(x) / p_g(x)` by its logit, so the samples it rates lowest are
/// where the generator puts mass the data lack (on MNIST, strokes between
/// two digits). Keeping the best-rated fraction is the simplest form of
/// discriminator rejection sampling (Azadi et al. 2019): better samples for
/// `1 / fraction` times the draws, from a distribution that is no longer the
/// generator's own, so it is reported beside the plain samples, not instead.
/// The discriminator gets the labels only if it is class-conditional (an
/// InfoGAN's is not: its codes go to the generator alone).
pub fn best_rated_samples<G: Generator, D: Discriminator>(
    g: &G,
    d: &D,
    z: Tensor<2>,
    labels: Option<Tensor<1, Int>>,
    keep: usize,
    batch: usize,
) -> Result<(Vec<f32>, Vec<usize>)> {
    let [n, _] = z.dims();
    if keep == 0 || keep > n {
        return Err(Error::out_of_range("best_rated_samples: keep", keep, format!("1..={n} (the codes drawn)")));
    }
    let width = g.sample_dim();
    let (mut values, mut rating) = (Vec::with_capacity(n * width), Vec::with_capacity(n));
    let mut start = 0;
    while start < n {
        let end = (start + batch.max(1)).min(n);
        let zb = z.clone().narrow(0, start, end - start);
        let lb = labels.as_ref().map(|l| l.clone().narrow(0, start, end - start));
        let x = crate::models::generate(g, zb, lb.clone())?;
        let dl = if d.num_classes().is_some() { lb } else { None };
        rating.extend(to_f32(crate::models::discriminate(d, x.clone(), dl)?)?);
        values.extend(to_f32(x)?);
        start = end;
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| rating[b].total_cmp(&rating[a]));
    let mut kept = order[..keep].to_vec();
    kept.sort_unstable();
    let out = kept.iter().flat_map(|&i| values[i * width..(i + 1) * width].iter().copied()).collect();
    Ok((out, kept))
}

/// Writes a grid of image samples (values in `[-1, 1]`).
#[cfg(feature = "plot")]
pub fn save_sample_grid(path: &Path, values: &[f32], shape: [usize; 3], cols: usize) -> Result<()> {
    let [c, h, w] = shape;
    let n = c * h * w;
    if c != 1 {
        return Err(Error::Invalid(format!("save_sample_grid: grayscale images only, got {c} channels")));
    }
    let images: Vec<Vec<f32>> = values.chunks(n).map(|img| img.to_vec()).collect();
    dl_core::plot::image_grid_png(path, &images, w, h, cols, 2, None)
}
