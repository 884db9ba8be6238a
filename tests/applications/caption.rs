//! The captioners of `caption` on scenes composed from ten synthetic glyphs
//! (used as both digits and clothing): each decoder learns to caption a
//! handful exactly, a saved model captions as before, attention is a
//! distribution over the regions, and inputs it cannot read are errors.

use crate::glyphs::glyphs;
use burn::module::Module;
use burn::tensor::{Int, Tensor, TensorData};
use dl_cnn::captioned::{GridScene, GridSceneConfig, ItemPool, vocabulary};
use dl_core::testing::{device, max_diff, rng_lock, temp_dir, values};
use dl_core::train::{TrainConfig, fit};
use dl_core::{Batcher, Error, ModelConfig};
use dl_families::caption::{CaptionBatcher, CaptionDecoderKind, Captioner, CaptionerConfig};

fn small(kind: CaptionDecoderKind) -> CaptionerConfig {
    CaptionerConfig::new(64, vocabulary().len(), kind)
        .with_channels(vec![8, 16, 16])
        .with_width(32)
        .with_hidden(64)
        .with_layers(1)
        .with_dropout(0.0)
}

fn scenes(n: usize, seed: u64) -> Vec<GridScene> {
    let (_, labels) = glyphs();
    let pool = ItemPool::new(&labels, &(0..10).collect::<Vec<_>>()).unwrap();
    (0..n).map(|i| GridSceneConfig::new().plan(&pool, &pool, seed, i).unwrap()).collect()
}

#[test]
fn each_decoder_learns_to_caption_a_handful_of_scenes() {
    let _rng = rng_lock();
    let (images, _) = glyphs();
    let layout = GridSceneConfig::new();
    let scenes = scenes(8, 5);
    let batcher = CaptionBatcher { layout: &layout, digits: &images, clothing: &images };
    for kind in [CaptionDecoderKind::Lstm, CaptionDecoderKind::Transformer] {
        let d = device().autodiff();
        d.seed(3);
        let cfg = TrainConfig {
            epochs: 80,
            batch_size: 4,
            lr: 5e-3,
            progress: false,
            restore_best: false,
            ..Default::default()
        };
        let report = fit(small(kind).init(&d).unwrap(), &scenes, None, &batcher, &cfg, &d).unwrap();
        let first = report.history.epochs[0].train_loss;
        let last = report.history.epochs.last().unwrap().train_loss;
        assert!(last < 0.05 * first, "{kind:?}: the loss fell from {first} to {last} only");
        let model: Captioner = report.model.valid();
        let plain = d.clone().without_autodiff();
        let batch = batcher.batch(&scenes.iter().collect::<Vec<_>>(), &plain).unwrap();
        let written: Vec<Vec<usize>> = model.caption(batch.images).unwrap().into_iter().map(|c| c.words).collect();
        assert_eq!(written, batch.captions, "{kind:?}");
    }
}

#[test]
fn a_saved_captioner_writes_exactly_as_before_and_attends_with_a_distribution() {
    let _rng = rng_lock();
    let d = device();
    let (images, _) = glyphs();
    let layout = GridSceneConfig::new();
    let scenes = scenes(3, 1);
    let batch = CaptionBatcher { layout: &layout, digits: &images, clothing: &images }
        .batch(&scenes.iter().collect::<Vec<_>>(), &d)
        .unwrap();
    for kind in [CaptionDecoderKind::Lstm, CaptionDecoderKind::Transformer] {
        let model = small(kind).init(&d).unwrap();
        let dir = temp_dir("dl-families", &format!("caption_save_{kind:?}"));
        dl_core::checkpoint::save_model(&small(kind), &model, &dir).unwrap();
        let (_, loaded): (CaptionerConfig, Captioner) = dl_core::checkpoint::load_model(&dir, &d).unwrap();
        let a = model.forward(batch.images.clone(), batch.input.clone()).unwrap();
        let b = loaded.forward(batch.images.clone(), batch.input.clone()).unwrap();
        assert_eq!(max_diff(&values(a.logits), &values(b.logits)), 0.0, "{kind:?}");
        // [3, T, 64 regions]: each word's weights sum to 1.
        let [n, t, r] = a.attention.dims();
        assert_eq!((n, r), (3, 64));
        let sums = values(a.attention.sum_dim(2));
        assert!(sums.iter().all(|s| (s - 1.0).abs() < 1e-5), "{kind:?}: {sums:?} over {t} words");
    }
}

#[test]
fn what_a_captioner_cannot_read_is_an_error() {
    let _rng = rng_lock();
    let d = device();
    let model = small(CaptionDecoderKind::Lstm).init(&d).unwrap();
    let tokens = |ids: Vec<i64>, t: usize| Tensor::<2, Int>::from_data(TensorData::new(ids, [1, t]), &d);
    // Another image size; a token past the vocabulary; more tokens than max_len; no tokens.
    let e = model.forward(Tensor::zeros([1, 1, 32, 32], &d), tokens(vec![1], 1)).unwrap_err();
    assert!(matches!(e, Error::Shape { .. }), "{e}");
    let images = Tensor::zeros([1, 1, 64, 64], &d);
    let e = model.forward(images.clone(), tokens(vec![1, 33], 2)).unwrap_err();
    assert!(matches!(e, Error::OutOfRange { .. }), "{e}");
    assert!(matches!(model.forward(images.clone(), tokens(vec![1; 33], 33)), Err(Error::Shape { .. })));
    // Configs that cannot be built.
    let lstm = CaptionDecoderKind::Lstm;
    assert!(CaptionerConfig::new(60, 33, lstm).validate().is_err());
    assert!(CaptionerConfig::new(64, 2, lstm).validate().is_err());
    assert!(CaptionerConfig::new(64, 33, lstm).with_channels(vec![]).validate().is_err());
    assert!(CaptionerConfig::new(64, 33, CaptionDecoderKind::Transformer).with_width(30).validate().is_err());
}
