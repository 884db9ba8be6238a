//! Data compiled into the library, so the README's first command works on a
//! machine without the datasets folder.
//!
//! The 8x8 UCI optical digits (scikit-learn's `load_digits`, CC BY 4.0):
//! 1,437 training and 360 test images, pixel values 0..16, as gzipped IDX
//! (45 kB in all).

use dl_core::Result;
use dl_core::data::idx::{ImageSet, read_idx_images_from_bytes, read_idx_labels_from_bytes};

const TRAIN_IMAGES: &[u8] = include_bytes!("../assets/digits8x8/train-images-idx3-ubyte.gz");
const TRAIN_LABELS: &[u8] = include_bytes!("../assets/digits8x8/train-labels-idx1-ubyte.gz");
const TEST_IMAGES: &[u8] = include_bytes!("../assets/digits8x8/t10k-images-idx3-ubyte.gz");
const TEST_LABELS: &[u8] = include_bytes!("../assets/digits8x8/t10k-labels-idx1-ubyte.gz");

/// Largest pixel value of the 8x8 digits (they are 0..16, not 0..255).
pub const DIGITS8X8_MAX: f32 = 16.0;

/// Images of one split with their labels.
pub type LabeledImages = (ImageSet, Vec<u8>);

/// The embedded 8x8 digits: `((train images, train labels), (test images, test labels))`.
pub fn digits8x8() -> Result<(LabeledImages, LabeledImages)> {
    Ok((
        (
            read_idx_images_from_bytes(TRAIN_IMAGES, "embedded digits8x8/train-images")?,
            read_idx_labels_from_bytes(TRAIN_LABELS, "embedded digits8x8/train-labels")?,
        ),
        (
            read_idx_images_from_bytes(TEST_IMAGES, "embedded digits8x8/t10k-images")?,
            read_idx_labels_from_bytes(TEST_LABELS, "embedded digits8x8/t10k-labels")?,
        ),
    ))
}
