//! Batches for CNNs: images (and spectrograms) and token sequences.

use burn::tensor::{Device, Int, Tensor, TensorData};

use dl_core::{Batcher, Error, Result};

pub use dl_core::data::image::{ImageBatch, ImageBatcher, ImageItem, image_items};

/// One token sequence with its class.
#[derive(Debug, Clone, PartialEq)]
pub struct TextItem {
    /// Token ids.
    pub ids: Vec<usize>,
    /// Class id.
    pub label: usize,
}

/// A batch of token sequences `[B, T]` (padded) and class ids `[B]`.
#[derive(Debug, Clone)]
pub struct TextBatch {
    /// Token ids, right-padded with the pad id.
    pub tokens: Tensor<2, Int>,
    /// Class ids.
    pub targets: Tensor<1, Int>,
    /// One more than the largest token id (padding included): the model
    /// checks it against its vocabulary on the host, without reading the device.
    pub ids_below: usize,
}

/// Pads or truncates sequences to the longest of the batch, within `[min_len, max_len]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextBatcher {
    /// Padding id.
    pub pad_id: usize,
    /// Shortest batch length (TextCNN needs at least its widest filter).
    pub min_len: usize,
    /// Longest batch length; longer texts are truncated.
    pub max_len: usize,
}

impl Batcher<TextItem, TextBatch> for TextBatcher {
    fn batch(&self, items: &[&TextItem], device: &Device) -> Result<TextBatch> {
        if self.max_len == 0 || self.min_len > self.max_len {
            return Err(Error::config("TextBatcher", "min_len/max_len", "need 1 <= max_len and min_len <= max_len"));
        }
        let longest = items.iter().map(|i| i.ids.len()).max().unwrap_or(0);
        let t = longest.clamp(self.min_len.max(1), self.max_len);
        let mut data = Vec::with_capacity(items.len() * t);
        for item in items {
            data.extend(item.ids.iter().take(t).map(|&i| i as i64));
            data.extend(std::iter::repeat_n(self.pad_id as i64, t.saturating_sub(item.ids.len())));
        }
        let labels: Vec<i64> = items.iter().map(|i| i.label as i64).collect();
        let ids_below = dl_core::data::sequence::ids_below(data.iter().map(|&i| i as usize));
        Ok(TextBatch {
            tokens: Tensor::from_data(TensorData::new(data, [items.len(), t]), device),
            targets: Tensor::from_data(TensorData::new(labels, [items.len()]), device),
            ids_below,
        })
    }
}

/// Adds copies of each image shifted by one pixel up, down, left and right
/// (zero fill, in normalised units `fill`): a classic augmentation that
/// teaches small translations that handwriting has, five times the data.
pub fn augment_shifts(items: &[ImageItem], shape: [usize; 3], fill: f32) -> Result<Vec<ImageItem>> {
    let [c, h, w] = shape;
    let mut out = Vec::with_capacity(items.len() * 5);
    for (i, item) in items.iter().enumerate() {
        if item.pixels.len() != c * h * w {
            return Err(Error::shape(format!("augment_shifts image {i}"), c * h * w, item.pixels.len()));
        }
        out.push(item.clone());
        for (dy, dx) in [(-1i64, 0i64), (1, 0), (0, -1), (0, 1)] {
            let mut p = vec![fill; c * h * w];
            for ch in 0..c {
                for y in 0..h as i64 {
                    for x in 0..w as i64 {
                        let (sy, sx) = (y - dy, x - dx);
                        if sy >= 0 && sy < h as i64 && sx >= 0 && sx < w as i64 {
                            p[ch * h * w + (y as usize) * w + x as usize] =
                                item.pixels[ch * h * w + (sy as usize) * w + sx as usize];
                        }
                    }
                }
            }
            out.push(ImageItem { pixels: p, label: item.label });
        }
    }
    Ok(out)
}
