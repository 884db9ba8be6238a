//! Ready-made training recipes shared by the examples and the workspace tour.

use std::path::Path;
use std::time::Instant;

use burn::tensor::Device;

use crate::data::{ImageBatcher, ImageItem, augment_shifts, image_items};
use crate::embedded::{DIGITS8X8_MAX, digits8x8};
use crate::models::vgg::VggConfig;
use dl_core::data::idx::{ImageSet, check_labels, read_idx_images, read_idx_labels};
use dl_core::data::locate::DataDirs;
use dl_core::data::split::train_valid_split;
use dl_core::task::evaluate;
use dl_core::train::{TrainConfig, fit};
use dl_core::{Error, ModelConfig, Result};

/// Train/test images of a dataset with IDX files, plus where they came from.
#[derive(Debug, Clone)]
pub struct ImageData {
    /// Training items.
    pub train: Vec<ImageItem>,
    /// Test items.
    pub test: Vec<ImageItem>,
    /// `[channels, height, width]`.
    pub shape: [usize; 3],
    /// A folder, or "embedded".
    pub source: String,
}

/// Mean and std of MNIST pixels scaled to [0, 1] (the usual normalisation constants).
pub const MNIST_MEAN_STD: (f32, f32) = (0.1307, 0.3081);

/// The classes of every IDX dataset read here (MNIST, Fashion-MNIST, the
/// 8x8 digits).
pub const IDX_CLASSES: usize = 10;

/// One split of an IDX folder: its images and labels, which must agree in
/// count; labels at or above [`IDX_CLASSES`] are an error naming the file
/// and record.
pub fn read_idx_split(dir: &Path, images: &str, labels: &str) -> Result<(ImageSet, Vec<u8>)> {
    let (ip, lp) = (dir.join(images), dir.join(labels));
    let set = read_idx_images(&ip)?;
    let l = read_idx_labels(&lp)?;
    check_labels(&l, IDX_CLASSES, &lp)?;
    if set.n != l.len() {
        return Err(Error::Invalid(format!(
            "{} holds {} images but {} holds {} labels",
            ip.display(),
            set.n,
            lp.display(),
            l.len()
        )));
    }
    Ok((set, l))
}

/// The raw images of an MNIST-layout folder for composing scenes: both
/// splits as read, and the training images split into a pool for training
/// scenes and `valid` held out for validation scenes (seeded).
#[derive(Debug, Clone)]
pub struct ScenePools {
    /// Training images and labels.
    pub train: (ImageSet, Vec<u8>),
    /// Test images and labels.
    pub test: (ImageSet, Vec<u8>),
    /// Training images that training scenes may use.
    pub train_pool: Vec<usize>,
    /// Training images held out for validation scenes.
    pub valid_pool: Vec<usize>,
    /// Every test image.
    pub test_pool: Vec<usize>,
}

/// MNIST's raw images with `valid` training images held out (seeded by `seed`).
///
/// # Errors
/// The readers' errors; [`Error::Invalid`] when too few training images are
/// left to hold any out.
pub fn mnist_scene_pools(dirs: &DataDirs, valid: usize, seed: u64) -> Result<ScenePools> {
    let dir = dirs.find("mnist", &IDX_FILES)?;
    let train = read_idx_split(&dir, IDX_FILES[0], IDX_FILES[1])?;
    let test = read_idx_split(&dir, IDX_FILES[2], IDX_FILES[3])?;
    let n = train.0.n;
    let (train_pool, valid_pool) = train_valid_split(n, (valid as f64 / n.max(1) as f64).min(0.5), seed)?;
    if valid_pool.is_empty() || train_pool.is_empty() {
        return Err(Error::Invalid(format!(
            "{}: {n} training images are too few to hold validation images out",
            dir.display()
        )));
    }
    let test_pool = (0..test.0.n).collect();
    Ok(ScenePools { train, test, train_pool, valid_pool, test_pool })
}

/// Loads an IDX dataset folder (`train-*`, `t10k-*`); labels at or above
/// [`IDX_CLASSES`] are an error naming the file and record.
pub fn load_idx_dataset(dir: &Path, max_value: f32, mean: f32, std: f32) -> Result<ImageData> {
    let split = |images: &str, labels: &str| read_idx_split(dir, images, labels);
    let (tr, tr_l) = split("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")?;
    let (te, te_l) = split("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")?;
    if (tr.rows, tr.cols) != (te.rows, te.cols) {
        return Err(Error::Invalid(format!(
            "{}: training images are {}x{}, test images {}x{}",
            dir.display(),
            tr.rows,
            tr.cols,
            te.rows,
            te.cols
        )));
    }
    Ok(ImageData {
        shape: [1, tr.rows, tr.cols],
        train: image_items(&tr, &tr_l, max_value, mean, std)?,
        test: image_items(&te, &te_l, max_value, mean, std)?,
        source: dir.display().to_string(),
    })
}

/// The four IDX files of an MNIST-layout dataset folder.
pub const IDX_FILES: [&str; 4] = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
];

/// MNIST from the data folders, normalised with [`MNIST_MEAN_STD`]; with `quick`,
/// only the first `quick_sizes` (train, test) images are kept.
pub fn load_mnist(dirs: &DataDirs, quick: bool, quick_sizes: (usize, usize)) -> Result<ImageData> {
    let dir = dirs.find("mnist", &IDX_FILES)?;
    let (mean, std) = MNIST_MEAN_STD;
    let mut data = load_idx_dataset(&dir, 255.0, mean, std)?;
    if quick {
        data.train.truncate(quick_sizes.0);
        data.test.truncate(quick_sizes.1);
    }
    Ok(data)
}

/// The 8x8 digits from the data folder if present, else the embedded copy.
pub fn load_digits(dirs: &DataDirs) -> Result<ImageData> {
    let files = [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ];
    if let Some(dir) = dirs.find_opt("digits8x8", &files) {
        return load_idx_dataset(&dir, DIGITS8X8_MAX, 0.0, 1.0);
    }
    let ((tr, tr_l), (te, te_l)) = digits8x8()?;
    Ok(ImageData {
        shape: [1, 8, 8],
        train: image_items(&tr, &tr_l, DIGITS8X8_MAX, 0.0, 1.0)?,
        test: image_items(&te, &te_l, DIGITS8X8_MAX, 0.0, 1.0)?,
        source: "embedded".into(),
    })
}

/// The headline figures of [`train_digits`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DigitsReport {
    /// The model's name.
    pub model: String,
    /// Where the digits came from (`embedded` or a data folder).
    pub data: String,
    /// Training images before augmentation.
    pub train_examples: usize,
    /// The augmentation applied.
    pub augmentation: String,
    /// Validation images (held out of the training split).
    pub valid_examples: usize,
    /// Test images.
    pub test_examples: usize,
    /// Accuracy on the test split.
    pub test_accuracy: Option<f64>,
    /// Macro-averaged F1 on the test split.
    pub test_macro_f1: Option<f64>,
    /// Epochs run.
    pub epochs: usize,
    /// The epoch with the best validation score.
    pub best_epoch: usize,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// Trains the small VGG-style digits net and returns its headline figures.
pub fn train_digits(dirs: &DataDirs, train_cfg: &TrainConfig, device: &Device) -> Result<DigitsReport> {
    let data = load_digits(dirs)?;
    let start = Instant::now();
    let ad = device.clone().autodiff();
    ad.seed(train_cfg.seed);
    let config = VggConfig::digits8x8();
    let model = config.init(&ad)?;
    let [c, h, w] = data.shape;
    let batcher = ImageBatcher::new(c, h, w);
    // The final weights of a cosine schedule, not the best of 144 noisy validation scores.
    let cfg = TrainConfig { batch_size: 32, restore_best: false, ..train_cfg.clone() };
    // Model selection on 10% of the training split; the test split is scored once.
    let (tr, va) = train_valid_split(data.train.len(), 0.1, cfg.seed)?;
    let train: Vec<ImageItem> = tr.iter().map(|&i| data.train[i].clone()).collect();
    let train = augment_shifts(&train, data.shape, 0.0)?;
    let valid: Vec<ImageItem> = va.iter().map(|&i| data.train[i].clone()).collect();
    let report = fit(model, &train, Some(&valid), &batcher, &cfg, &ad)?;
    let test = evaluate(&report.model, &data.test, &batcher, 256, &ad)?;
    if let Some(dir) = &cfg.out_dir {
        dl_core::checkpoint::save_model(&config, &report.model, dir.join("model"))?;
    }
    Ok(DigitsReport {
        model: "vgg-digits8x8".into(),
        data: data.source,
        train_examples: train.len() / 5,
        augmentation: "1-pixel shifts (x5)".into(),
        valid_examples: valid.len(),
        test_examples: data.test.len(),
        test_accuracy: test.accuracy(),
        test_macro_f1: test.confusion.as_ref().map(|c| c.macro_f1()),
        epochs: report.history.epochs.len(),
        best_epoch: report.best_epoch,
        seconds: start.elapsed().as_secs_f64(),
    })
}
