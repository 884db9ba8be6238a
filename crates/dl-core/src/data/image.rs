//! Image batches shared by every family that reads images (CNNs, ViT, GANs):
//! items of normalised pixels, `[B, C, H, W]` batches, IDX conversion.

use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::data::idx::ImageSet;
use crate::{Batcher, Error, Result};

/// One image (or spectrogram) with its class.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageItem {
    /// `channels * height * width` values, channel-major, already normalised.
    pub pixels: Vec<f32>,
    /// Class id.
    pub label: usize,
}

/// A batch of images: `[B, C, H, W]` and class ids `[B]`.
#[derive(Debug, Clone)]
pub struct ImageBatch {
    /// Pixels.
    pub images: Tensor<4>,
    /// Class ids.
    pub targets: Tensor<1, Int>,
}

/// Stacks [`ImageItem`]s of one fixed shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageBatcher {
    /// Channels.
    pub channels: usize,
    /// Height.
    pub height: usize,
    /// Width.
    pub width: usize,
}

impl ImageBatcher {
    /// A batcher for `[channels, height, width]` images.
    pub fn new(channels: usize, height: usize, width: usize) -> Self {
        Self { channels, height, width }
    }

    /// Values per image.
    pub fn len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Whether images are empty (0 channels or pixels).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Just the images of `items` as `[B, C, H, W]`.
    pub fn images(&self, items: &[&ImageItem], device: &Device) -> Result<Tensor<4>> {
        let n = self.len();
        let mut data = Vec::with_capacity(items.len() * n);
        for (i, item) in items.iter().enumerate() {
            if item.pixels.len() != n {
                return Err(Error::shape(
                    format!("image {i} of the batch"),
                    format!("{} values ({}x{}x{})", n, self.channels, self.height, self.width),
                    item.pixels.len(),
                ));
            }
            data.extend_from_slice(&item.pixels);
        }
        Ok(Tensor::from_data(TensorData::new(data, [items.len(), self.channels, self.height, self.width]), device))
    }
}

impl Batcher<ImageItem, ImageBatch> for ImageBatcher {
    fn batch(&self, items: &[&ImageItem], device: &Device) -> Result<ImageBatch> {
        let images = self.images(items, device)?;
        let labels: Vec<i64> = items.iter().map(|i| i.label as i64).collect();
        let targets = Tensor::from_data(TensorData::new(labels, [items.len()]), device);
        Ok(ImageBatch { images, targets })
    }
}

/// Converts an IDX image set + labels into normalised items: `(p / max_value - mean) / std`.
pub fn image_items(set: &ImageSet, labels: &[u8], max_value: f32, mean: f32, std: f32) -> Result<Vec<ImageItem>> {
    if set.n != labels.len() {
        return Err(Error::shape("image_items", format!("{} labels (one per image)", set.n), labels.len()));
    }
    if std.is_nan() || std <= 0.0 || max_value.is_nan() || max_value <= 0.0 {
        return Err(Error::Invalid(format!("image_items: max_value {max_value} and std {std} must be positive")));
    }
    Ok((0..set.n)
        .map(|i| ImageItem {
            pixels: set.image(i).iter().map(|&p| (p as f32 / max_value - mean) / std).collect(),
            label: labels[i] as usize,
        })
        .collect())
}
