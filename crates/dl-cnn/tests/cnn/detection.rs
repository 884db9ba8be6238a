//! The CenterNet-style detector on scenes of ten synthetic glyphs: it learns
//! to find a handful exactly (mAP 1 at IoU 0.5), a saved detector finds the
//! same boxes, and what it cannot take is an error.

use burn::module::Module;
use dl_cnn::detection::{Interpolation, mean_average_precision};
use dl_cnn::models::centernet::{SceneBatch, SceneBatcher};
use dl_cnn::scenes::{DigitScene, DigitSceneConfig};
use dl_cnn::{CenterNet, CenterNetConfig};
use dl_core::data::idx::ImageSet;
use dl_core::testing::{device, rng_lock, temp_dir};
use dl_core::train::{TrainConfig, fit};
use dl_core::{Batcher, Error, ModelConfig, Supervised};

/// Ten 28x28 glyphs, each a different pattern of bright 4x4 blocks inside a 16x16 square.
fn glyphs() -> (ImageSet, Vec<u8>) {
    let codes: [u16; 10] = [0x0F0F, 0x3C3C, 0xF00F, 0x6996, 0x9009, 0x0FF0, 0xA5A5, 0x1248, 0x8421, 0x7E7E];
    let mut pixels = Vec::with_capacity(10 * 28 * 28);
    for code in codes {
        for r in 0..28usize {
            for c in 0..28usize {
                let inside = (6..22).contains(&r) && (6..22).contains(&c);
                let bit = inside && (code >> (((r - 6) / 4) * 4 + (c - 6) / 4)) & 1 == 1;
                // A frame keeps every glyph's ink box the full square.
                let frame = inside && (r == 6 || r == 21 || c == 6 || c == 21);
                pixels.push(if bit || frame { 255 } else { 0 });
            }
        }
    }
    (ImageSet { n: 10, rows: 28, cols: 28, pixels }, (0..10).collect())
}

fn layout() -> DigitSceneConfig {
    DigitSceneConfig::new().with_size(32).with_max_digits(2).with_min_side(20).with_max_side(24)
}

fn small() -> CenterNetConfig {
    CenterNetConfig::new(32).with_channels(vec![16, 16, 32]).with_head_channels(32)
}

#[test]
fn a_detector_learns_to_find_a_handful_of_digits() {
    let _rng = rng_lock();
    let d = device().autodiff();
    d.seed(4);
    let (images, labels) = glyphs();
    let layout = layout();
    let pool: Vec<usize> = (0..10).collect();
    let scenes: Vec<DigitScene> = (0..8).map(|i| layout.plan(&pool, &images, &labels, 2, i).unwrap()).collect();
    let batcher = SceneBatcher { layout: &layout, images: &images, classes: 10 };
    let cfg = TrainConfig {
        epochs: 150,
        batch_size: 4,
        lr: 1e-2,
        progress: false,
        restore_best: false,
        ..Default::default()
    };
    let report = fit(small().init(&d).unwrap(), &scenes, None, &batcher, &cfg, &d).unwrap();
    let first = report.history.epochs[0].train_loss;
    let last = report.history.epochs.last().unwrap().train_loss;
    assert!(last < 0.1 * first, "the loss fell from {first} to {last} only");
    let model = report.model.valid();
    let all: Vec<&DigitScene> = scenes.iter().collect();
    let batch = batcher.batch(&all, &d.clone().without_autodiff()).unwrap();
    let found = model.detect(batch.images, 0.3, 10).unwrap();
    let map = mean_average_precision(&found, &batch.truths, 10, 0.5, Interpolation::EveryPoint).unwrap();
    assert_eq!(map, 1.0, "{found:?} vs {:?}", batch.truths);
}

#[test]
fn a_saved_detector_finds_the_same_boxes() {
    let _rng = rng_lock();
    let d = device();
    let (images, labels) = glyphs();
    let layout = layout();
    let scene = layout.plan(&(0..10).collect::<Vec<_>>(), &images, &labels, 1, 0).unwrap();
    let batch = SceneBatcher { layout: &layout, images: &images, classes: 10 }.batch(&[&scene], &d).unwrap();
    let model = small().init(&d).unwrap();
    let dir = temp_dir("dl-cnn", "centernet_save");
    dl_core::checkpoint::save_model(&small(), &model, &dir).unwrap();
    let (_, loaded): (CenterNetConfig, CenterNet) = dl_core::checkpoint::load_model(&dir, &d).unwrap();
    let a = model.detect(batch.images.clone(), 0.0, 50).unwrap();
    assert!(!a[0].is_empty());
    assert_eq!(a, loaded.detect(batch.images, 0.0, 50).unwrap());
}

#[test]
fn what_a_detector_cannot_take_is_an_error() {
    let _rng = rng_lock();
    let d = device();
    let model = small().init(&d).unwrap();
    assert!(matches!(model.forward(burn::tensor::Tensor::zeros([1, 1, 36, 36], &d)), Err(Error::Shape { .. })));
    // Targets built for another canvas.
    let (images, labels) = glyphs();
    let big = DigitSceneConfig::new().with_size(48);
    let scene = big.plan(&[0, 1], &images, &labels, 0, 0).unwrap();
    let batch: SceneBatch = SceneBatcher { layout: &big, images: &images, classes: 10 }.batch(&[&scene], &d).unwrap();
    assert!(model.step(&batch).is_err());
    // A label past the classes, a canvas that is no multiple of the stride, bad configs.
    let seven = DigitScene {
        glyphs: vec![dl_cnn::scenes::Glyph { image: 7, x: 0, y: 0, size: 20 }],
        labels: vec![7],
        boxes: vec![dl_cnn::detection::BBox { x0: 6.0, y0: 6.0, x1: 14.0, y1: 14.0 }],
    };
    let e = SceneBatcher { layout: &big, images: &images, classes: 7 }.batch(&[&seven], &d).unwrap_err();
    assert!(e.to_string().contains("scene label"), "{e}");
    let odd = DigitSceneConfig::new().with_size(30).with_max_side(20);
    let scene = odd.plan(&[0], &images, &labels, 0, 0).unwrap();
    assert!(SceneBatcher { layout: &odd, images: &images, classes: 10 }.batch(&[&scene], &d).is_err());
    assert!(CenterNetConfig::new(30).validate().is_err());
    assert!(CenterNetConfig::new(32).with_channels(vec![8]).validate().is_err());
    assert!(CenterNetConfig::new(32).with_classes(0).validate().is_err());
}
