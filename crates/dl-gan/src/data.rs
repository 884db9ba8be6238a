//! Training data for GANs: a set of flat samples (with optional class
//! labels), and the Gaussian mixtures on which mode coverage is measured.

use burn::tensor::{Device, Int, Tensor, TensorData};

use dl_core::data::image::ImageItem;
use dl_core::data::split::SplitRng;
use dl_core::{Error, Result};

/// `n` samples of width `dim`, row-major, with optional labels in `0..num_classes`
/// and optional targets for the first continuous InfoGAN codes.
#[derive(Debug, Clone, PartialEq)]
pub struct GanData {
    samples: Vec<f32>,
    dim: usize,
    labels: Option<(Vec<usize>, usize)>,
    code_targets: Option<(Vec<f32>, usize)>,
}

impl GanData {
    /// Checks widths, finiteness and labels. `labels` is `(labels, num_classes)`.
    pub fn new(samples: Vec<f32>, dim: usize, labels: Option<(Vec<usize>, usize)>) -> Result<Self> {
        if dim == 0 || samples.is_empty() || !samples.len().is_multiple_of(dim) {
            return Err(Error::shape("GanData samples", format!("a non-empty multiple of dim {dim}"), samples.len()));
        }
        if let Some(i) = samples.iter().position(|v| !v.is_finite()) {
            return Err(Error::Invalid(format!("GanData: sample {} has a non-finite value", i / dim)));
        }
        let n = samples.len() / dim;
        if let Some((l, classes)) = &labels {
            if l.len() != n {
                return Err(Error::shape("GanData labels", format!("{n} (one per sample)"), l.len()));
            }
            if let Some(bad) = l.iter().find(|&&y| y >= *classes) {
                return Err(Error::out_of_range("GanData label", bad, format!("0..{classes}")));
            }
        }
        Ok(GanData { samples, dim, labels, code_targets: None })
    }

    /// Adds what the first `k` continuous codes should read on each real
    /// sample (`values`: `[n, k]` row-major, on the codes' scale [-1, 1]), a
    /// measured attribute such as a digit's slant. The trainer then also
    /// teaches the discriminator's Q head to estimate them on real samples,
    /// which anchors those codes to the attribute (a semi-supervised InfoGAN).
    ///
    /// # Errors
    /// [`Error::Config`] for `k == 0`; [`Error::Shape`] unless there are `k`
    /// values per sample; [`Error::Invalid`] for a value outside [-1, 1] or not finite.
    pub fn with_code_targets(mut self, values: Vec<f32>, k: usize) -> Result<Self> {
        if k == 0 {
            return Err(Error::config("GanData", "code targets", "need at least 1 code"));
        }
        let n = self.len();
        if values.len() != n * k {
            return Err(Error::shape("GanData code targets", format!("{n} samples x {k} codes"), values.len()));
        }
        if let Some(i) = values.iter().position(|v| !(v.is_finite() && (-1.0..=1.0).contains(v))) {
            return Err(Error::out_of_range(
                format!("GanData: code target {} of sample {}", i % k, i / k),
                values[i],
                "[-1, 1] (the codes' range)",
            ));
        }
        self.code_targets = Some((values, k));
        Ok(self)
    }

    /// Number of continuous codes with targets (0: none).
    pub fn code_targets(&self) -> usize {
        self.code_targets.as_ref().map_or(0, |t| t.1)
    }

    /// The code targets of the samples at `indices` (`[B, k]`), if there are any.
    pub fn code_target_batch(&self, indices: &[usize], device: &Device) -> Result<Option<Tensor<2>>> {
        let Some((values, k)) = &self.code_targets else { return Ok(None) };
        let mut rows = Vec::with_capacity(indices.len() * k);
        for &i in indices {
            let row = values.get(i * k..(i + 1) * k).ok_or_else(|| {
                Error::out_of_range("GanData: sample index", i, format!("< {} (the samples held)", self.len()))
            })?;
            rows.extend_from_slice(row);
        }
        Ok(Some(Tensor::from_data(TensorData::new(rows, [indices.len(), *k]), device)))
    }

    /// Images (pixels already scaled, e.g. to `[-1, 1]`), with their labels when `num_classes` is given.
    pub fn from_images(items: &[ImageItem], num_classes: Option<usize>) -> Result<Self> {
        let dim = items.first().map_or(0, |i| i.pixels.len());
        if let Some((i, it)) = items.iter().enumerate().find(|(_, it)| it.pixels.len() != dim) {
            return Err(Error::shape(format!("GanData image {i}"), format!("{dim} pixels"), it.pixels.len()));
        }
        let samples = items.iter().flat_map(|i| i.pixels.iter().copied()).collect();
        let labels = num_classes.map(|n| (items.iter().map(|i| i.label).collect(), n));
        GanData::new(samples, dim, labels)
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.samples.len() / self.dim
    }

    /// Whether there are no samples (never true for a constructed set).
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Width of a sample.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of classes, for labelled data.
    pub fn num_classes(&self) -> Option<usize> {
        self.labels.as_ref().map(|l| l.1)
    }

    /// Sample `i`.
    pub fn sample(&self, i: usize) -> Option<&[f32]> {
        self.samples.get(i * self.dim..(i + 1) * self.dim)
    }

    /// Label of sample `i`.
    pub fn label(&self, i: usize) -> Option<usize> {
        self.labels.as_ref().and_then(|l| l.0.get(i).copied())
    }

    /// The samples at `indices` (`[B, dim]`) and their labels (`[B]`) on `device`.
    pub fn batch(&self, indices: &[usize], device: &Device) -> Result<(Tensor<2>, Option<Tensor<1, Int>>)> {
        let mut values = Vec::with_capacity(indices.len() * self.dim);
        for &i in indices {
            let s = self.sample(i).ok_or_else(|| {
                Error::out_of_range("GanData: sample index", i, format!("< {} (the samples held)", self.len()))
            })?;
            values.extend_from_slice(s);
        }
        let x = Tensor::from_data(TensorData::new(values, [indices.len(), self.dim]), device);
        let y = self.labels.as_ref().map(|(l, _)| {
            let ids: Vec<i64> = indices.iter().map(|&i| l[i] as i64).collect();
            Tensor::from_data(TensorData::new(ids, [indices.len()]), device)
        });
        Ok((x, y))
    }
}

/// A mixture of isotropic 2-D Gaussians of equal weight.
#[derive(Debug, Clone, PartialEq)]
pub struct Mixture {
    /// Name for reports ("ring8", "grid25").
    pub name: String,
    /// Component means.
    pub modes: Vec<[f32; 2]>,
    /// Standard deviation of every component.
    pub std: f32,
}

impl Mixture {
    /// 8 Gaussians evenly spaced on a circle of radius 2, σ = 0.02.
    pub fn ring8() -> Self {
        let modes = (0..8)
            .map(|k| {
                let a = 2.0 * std::f32::consts::PI * k as f32 / 8.0;
                [2.0 * a.cos(), 2.0 * a.sin()]
            })
            .collect();
        Mixture { name: "ring8".into(), modes, std: 0.02 }
    }

    /// 25 Gaussians on the 5x5 grid {-4, -2, 0, 2, 4}², σ = 0.05.
    pub fn grid25() -> Self {
        let modes = (0..25).map(|k| [(k % 5) as f32 * 2.0 - 4.0, (k / 5) as f32 * 2.0 - 4.0]).collect();
        Mixture { name: "grid25".into(), modes, std: 0.05 }
    }

    /// `n` points drawn with `seed`, the component chosen uniformly.
    pub fn sample(&self, n: usize, seed: u64) -> Vec<f32> {
        let mut rng = SplitRng::new(seed);
        let mut out = Vec::with_capacity(2 * n);
        for _ in 0..n {
            let m = self.modes[rng.below(self.modes.len())];
            out.push(m[0] + self.std * rng.normal());
            out.push(m[1] + self.std * rng.normal());
        }
        out
    }

    /// A training set of `n` points.
    pub fn data(&self, n: usize, seed: u64) -> Result<GanData> {
        GanData::new(self.sample(n, seed), 2, None)
    }
}
