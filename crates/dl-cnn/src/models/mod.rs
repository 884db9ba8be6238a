//! The CNN architectures.

pub mod centernet;
pub mod lenet;
pub mod resnet;
pub mod spectrogram;
pub mod textcnn;
pub mod vgg;

use burn::module::Module;
use burn::tensor::Tensor;

/// What every image classifier of this crate offers: logits, and the
/// penultimate-layer embedding used for retrieval and transfer.
pub trait ImageClassifier: Module {
    /// Logits `[B, classes]` for images `[B, C, H, W]`.
    fn forward(&self, images: Tensor<4>) -> Tensor<2>;
    /// The penultimate-layer features `[B, D]` (the input of the last linear layer).
    fn embed(&self, images: Tensor<4>) -> Tensor<2>;
    /// The expected input `[C, H, W]`.
    fn input_shape(&self) -> [usize; 3];
}

/// Implements `Supervised<ImageBatch>` (cross-entropy) for an [`ImageClassifier`].
macro_rules! image_supervised {
    ($t:ty) => {
        impl dl_core::Supervised<$crate::data::ImageBatch> for $t {
            fn step(&self, batch: &$crate::data::ImageBatch) -> dl_core::Result<dl_core::StepOutput> {
                let logits = $crate::models::ImageClassifier::forward(self, batch.images.clone());
                Ok(dl_core::StepOutput::classification(logits, batch.targets.clone()))
            }
        }
    };
}
pub(crate) use image_supervised;
