//! The CRNN of `read_digits` on strings composed from ten synthetic glyphs:
//! it learns to read a handful exactly, a saved model reads as before, and
//! inputs it cannot read are errors.

use crate::glyphs::glyphs;
use burn::module::Module;
use dl_cnn::scenes::{DigitString, DigitStringConfig};
use dl_core::testing::{device, max_diff, rng_lock, temp_dir, values};
use dl_core::train::{TrainConfig, fit};
use dl_core::{Batcher, Error, ModelConfig, Supervised};
use dl_families::crnn::{Crnn, CrnnConfig, StringBatch, StringBatcher};

fn layout() -> DigitStringConfig {
    DigitStringConfig::new()
        .with_height(16)
        .with_width(64)
        .with_min_digits(2)
        .with_max_digits(4)
        .with_min_size(12)
        .with_max_size(14)
        .with_min_gap(0)
        .with_max_gap(2)
}

fn small() -> CrnnConfig {
    CrnnConfig::new(16).with_channels(vec![16, 16]).with_hidden(32)
}

#[test]
fn a_crnn_learns_to_read_a_handful_of_strings() {
    let _rng = rng_lock();
    let d = device().autodiff();
    d.seed(3);
    let (images, labels) = glyphs();
    let layout = layout();
    let pool: Vec<usize> = (0..10).collect();
    let strings: Vec<DigitString> = (0..16).map(|i| layout.plan(&pool, &labels, 5, i).unwrap()).collect();
    let batcher = StringBatcher { layout: &layout, images: &images };
    let cfg = TrainConfig {
        epochs: 100,
        batch_size: 4,
        lr: 1e-2,
        progress: false,
        restore_best: false,
        ..Default::default()
    };
    let report = fit(small().init(&d).unwrap(), &strings, None, &batcher, &cfg, &d).unwrap();
    let first = report.history.epochs[0].train_loss;
    let last = report.history.epochs.last().unwrap().train_loss;
    assert!(last < 0.05 * first, "the CTC loss fell from {first} to {last} only");
    let model = report.model.valid();
    let plain = d.clone().without_autodiff();
    let all: Vec<&DigitString> = strings.iter().collect();
    let batch = batcher.batch(&all, &plain).unwrap();
    let read = model.read(batch.images, &[1, 4]).unwrap();
    assert_eq!(read, vec![batch.labels.clone(), batch.labels]);
}

#[test]
fn a_saved_crnn_reads_exactly_as_before() {
    let _rng = rng_lock();
    let d = device();
    let (images, labels) = glyphs();
    let layout = layout();
    let s = layout.plan(&(0..10).collect::<Vec<_>>(), &labels, 1, 0).unwrap();
    let batch = StringBatcher { layout: &layout, images: &images }.batch(&[&s], &d).unwrap();
    let model = small().init(&d).unwrap();
    let dir = temp_dir("dl-families", "crnn_save");
    dl_core::checkpoint::save_model(&small(), &model, &dir).unwrap();
    let (_, loaded): (CrnnConfig, Crnn) = dl_core::checkpoint::load_model(&dir, &d).unwrap();
    let a = values(model.forward(batch.images.clone()).unwrap());
    let b = values(loaded.forward(batch.images).unwrap());
    assert_eq!(max_diff(&a, &b), 0.0);
}

#[test]
fn the_documented_crnn_has_the_documented_size() {
    let _rng = rng_lock();
    // docs/lstm.md: read_digits' default model holds 236,619 values (batch-norm statistics included).
    assert_eq!(CrnnConfig::new(32).init(&device()).unwrap().num_params(), 236_619);
}

#[test]
fn what_a_crnn_cannot_read_is_an_error() {
    let _rng = rng_lock();
    let d = device();
    let model = small().init(&d).unwrap();
    // Another height than the config's.
    let e = model.forward(burn::tensor::Tensor::zeros([1, 1, 20, 64], &d)).unwrap_err();
    assert!(matches!(e, Error::Shape { .. }), "{e}");
    // A label past the classes, and more labels than 16 steps can emit.
    let images = burn::tensor::Tensor::zeros([1, 1, 16, 64], &d);
    let batch = StringBatch { images: images.clone(), labels: vec![vec![10]] };
    assert!(model.step(&batch).unwrap_err().to_string().contains("targets[0]"));
    let batch = StringBatch { images, labels: vec![vec![1; 9]] };
    assert!(model.step(&batch).unwrap_err().to_string().contains("at least 17 steps"));
    // Configs that cannot be built.
    assert!(CrnnConfig::new(2).with_channels(vec![4, 4, 4]).validate().is_err());
    assert!(CrnnConfig::new(16).with_channels(vec![]).validate().is_err());
    assert!(CrnnConfig::new(16).with_hidden(0).validate().is_err());
}
