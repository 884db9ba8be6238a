//! Feature extraction and image retrieval by cosine similarity.
//!
//! The penultimate layer of a trained classifier maps images to vectors in
//! which images of the same kind lie close together; a nearest-neighbour
//! search over those vectors finds similar images without any retraining.

use burn::tensor::{Device, Tensor, TensorData};

use crate::data::{ImageBatcher, ImageItem};
use crate::models::ImageClassifier;
use dl_core::task::{to_f32, to_usize};
use dl_core::{Error, Result};

/// Embeds `items` with `model` in batches; returns `[N, D]` row-major values and D.
pub fn extract_features<M: ImageClassifier>(
    model: &M,
    items: &[ImageItem],
    batch_size: usize,
    device: &Device,
) -> Result<(Vec<f32>, usize)> {
    dl_core::config::check::positive("extract_features", "batch_size", batch_size)?;
    let model = model.valid();
    let device = device.clone().without_autodiff();
    let [c, h, w] = model.input_shape();
    let batcher = ImageBatcher::new(c, h, w);
    let mut out = Vec::new();
    let mut dim = 0;
    for chunk in items.chunks(batch_size) {
        let refs: Vec<&ImageItem> = chunk.iter().collect();
        let feats = model.embed(batcher.images(&refs, &device)?);
        dim = feats.dims()[1];
        out.extend(to_f32(feats)?);
    }
    Ok((out, dim))
}

/// A cosine-similarity index over L2-normalised vectors.
#[derive(Debug, Clone)]
pub struct CosineIndex {
    vectors: Tensor<2>,
    len: usize,
    dim: usize,
}

/// One retrieved neighbour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Neighbour {
    /// Row of the indexed vector.
    pub index: usize,
    /// Cosine similarity with the query.
    pub similarity: f32,
}

fn normalise(x: Tensor<2>) -> Tensor<2> {
    let norm = x.clone().powf_scalar(2.0).sum_dim(1).sqrt().clamp_min(1e-12);
    x / norm
}

impl CosineIndex {
    /// Indexes `values` (`len * dim`, row-major).
    pub fn new(values: Vec<f32>, dim: usize, device: &Device) -> Result<Self> {
        if dim == 0 || values.is_empty() || !values.len().is_multiple_of(dim) {
            return Err(Error::shape("CosineIndex::new", format!("a non-empty multiple of dim {dim}"), values.len()));
        }
        let len = values.len() / dim;
        let vectors = normalise(Tensor::from_data(TensorData::new(values, [len, dim]), device));
        Ok(Self { vectors, len, dim })
    }

    /// Number of indexed vectors.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the index is empty (never: `new` refuses empty input).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The `k` nearest neighbours of each query (`queries * dim` values), best first.
    pub fn search(&self, queries: &[f32], k: usize) -> Result<Vec<Vec<Neighbour>>> {
        if k == 0 || k > self.len {
            return Err(Error::config("CosineIndex::search", "k", format!("must be in 1..={}, got {k}", self.len)));
        }
        if !queries.len().is_multiple_of(self.dim) {
            return Err(Error::shape("CosineIndex::search", format!("a multiple of dim {}", self.dim), queries.len()));
        }
        let device = self.vectors.device();
        let n = queries.len() / self.dim;
        let mut out = Vec::with_capacity(n);
        // Chunks bound the [q, len] similarity matrix to a few hundred MB.
        let chunk = (50_000_000 / self.len).clamp(1, 1024);
        for start in (0..n).step_by(chunk) {
            let m = chunk.min(n - start);
            let q = Tensor::<2>::from_data(
                TensorData::new(queries[start * self.dim..(start + m) * self.dim].to_vec(), [m, self.dim]),
                &device,
            );
            let sims = normalise(q).matmul(self.vectors.clone().transpose());
            let (vals, idx) = sims.topk_with_indices(k, 1);
            let vals = to_f32(vals)?;
            let idx = to_usize(idx)?;
            for r in 0..m {
                out.push((0..k).map(|j| Neighbour { index: idx[r * k + j], similarity: vals[r * k + j] }).collect());
            }
        }
        Ok(out)
    }
}

/// Mean precision@k: the fraction of each query's k neighbours that share its label.
pub fn precision_at_k(neighbours: &[Vec<Neighbour>], query_labels: &[usize], index_labels: &[usize]) -> Result<f64> {
    if neighbours.len() != query_labels.len() || neighbours.is_empty() {
        return Err(Error::shape("precision_at_k", format!("{} queries", query_labels.len()), neighbours.len()));
    }
    let mut total = 0.0;
    for (nb, &label) in neighbours.iter().zip(query_labels) {
        let hits = nb.iter().filter(|n| index_labels.get(n.index) == Some(&label)).count();
        total += hits as f64 / nb.len().max(1) as f64;
    }
    Ok(total / neighbours.len() as f64)
}
