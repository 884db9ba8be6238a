//! dl-cnn tests: parity with PyTorch, shapes, config validation, training
//! behaviour (loss decreases, a batch is overfitted, runs are deterministic
//! and resumable), save/load, retrieval and saliency, the shipped models
//! (backend conformance: tests/conformance.rs at the workspace root).

use std::path::PathBuf;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use dl_cnn::recipes::load_digits;
use dl_cnn::retrieval::{CosineIndex, precision_at_k};
use dl_cnn::saliency::saliency_map;
use dl_cnn::*;
use dl_core::data::locate::DataDirs;
use dl_core::parity::{Registry, Verdict, check_one};
use dl_core::task::{evaluate, to_f32};
use dl_core::testing::{device, rng_lock, temp_dir, workspace_root};
use dl_core::train::checkpointer::interrupt_next_save;
use dl_core::train::{Checkpointer, TrainConfig, fit};
use dl_core::{Batcher, Error, ModelConfig};

fn registry() -> Registry {
    let mut r = Registry::with_layers();
    dl_cnn::parity::register(&mut r);
    r
}

fn digits() -> (Vec<ImageItem>, Vec<ImageItem>) {
    let d = load_digits(&DataDirs::resolve(None)).expect("embedded digits load");
    (d.train, d.test)
}

fn lenet8(device: &Device) -> LeNet5 {
    LeNet5Config::new().with_input_size([8, 8]).with_c2_padding(2).init(device).unwrap()
}

// ------------------------------------------------------------------ parity

#[test]
fn lenet5_matches_pytorch_fixtures() {
    // The checker builds each module with random weights before loading the fixture's.
    let _rng = rng_lock();
    // The committed fixtures (tools/parity) and the shared sample, when present.
    let mut checked = 0;
    for dir in [workspace_root().join("fixtures/parity"), workspace_root().join("../shared/parity/samples")] {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            let is_lenet = std::fs::read_to_string(&p).map(|t| t.contains("\"lenet5\"")).unwrap_or(false);
            if p.extension().is_some_and(|x| x == "json") && is_lenet {
                match check_one(&registry(), &p, &device()) {
                    Verdict::Pass(d) => assert!(d <= 1e-4, "{} diff {d}", p.display()),
                    other => panic!("{}: {other:?}", p.display()),
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 1, "no lenet5 fixture found");
}

#[test]
fn every_committed_fixture_of_a_known_kind_passes() {
    // The checker builds each module with random weights before loading the fixture's.
    let _rng = rng_lock();
    let dir = workspace_root().join("fixtures/parity");
    let mut out = Vec::new();
    let (passed, failed) = dl_core::parity::check_dirs(&registry(), &[dir], &device(), &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let bad: Vec<&str> = text.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert!(bad.is_empty(), "{bad:?}");
    assert!(passed >= 10, "{text}");
    // Kinds of other families are UNSUPPORTED here, never FAIL.
    assert_eq!(failed, text.lines().filter(|l| l.starts_with("UNSUPPORTED")).count());
}

// ------------------------------------------------------------------ shapes and configs

#[test]
fn output_shapes() {
    let _rng = rng_lock();
    let d = device();
    let x = Tensor::<4>::zeros([2, 1, 28, 28], &d);
    let lenet = LeNet5Config::new().init(&d).unwrap();
    assert_eq!(lenet.forward(x.clone()).dims(), [2, 10]);
    assert_eq!(lenet.embed(x.clone()).dims(), [2, 84]);

    let resnet = ResNetConfig::resnet18_small(1, 10, 8).init(&d).unwrap();
    assert_eq!(resnet.forward(x.clone()).dims(), [2, 10]);
    assert_eq!(resnet.embed(x.clone()).dims(), [2, 64]);
    assert_eq!(resnet.blocks.len(), 8);

    let imagenet = ResNetConfig::resnet18(3, 5).with_base_width(4).init(&d).unwrap();
    assert_eq!(imagenet.forward(Tensor::zeros([1, 3, 64, 64], &d)).dims(), [1, 5]);

    let vgg = VggConfig::digits8x8().init(&d).unwrap();
    assert_eq!(vgg.forward(Tensor::zeros([3, 1, 8, 8], &d)).dims(), [3, 10]);

    let spec = SpectrogramCnnConfig::new(40, 50, 10).init(&d).unwrap();
    assert_eq!(spec.forward(Tensor::zeros([2, 1, 40, 50], &d)).dims(), [2, 10]);

    let text = TextCnnConfig::new(50, 2).with_embed_dim(8).with_filters(4).init(&d).unwrap();
    let tokens = Tensor::<2, burn::tensor::Int>::zeros([3, 7], &d);
    assert_eq!(text.forward(tokens.clone()).dims(), [3, 2]);
    assert_eq!(text.embed(tokens).dims(), [3, 12]);
}

#[test]
fn pooling_variants() {
    let _rng = rng_lock();
    let d = device();
    let x = Tensor::<4>::from_data(TensorData::new((0..16).map(|v| v as f32).collect::<Vec<_>>(), [1, 1, 4, 4]), &d);
    let v = |p: PoolKind| to_f32(p.forward(x.clone())).unwrap();
    assert_eq!(v(PoolKind::MAX2), vec![5.0, 7.0, 13.0, 15.0]);
    assert_eq!(v(PoolKind::AVG2), vec![2.5, 4.5, 10.5, 12.5]);
    assert_eq!(v(PoolKind::GlobalMax), vec![15.0]);
    assert_eq!(v(PoolKind::GlobalAvg), vec![7.5]);
    assert_eq!(v(PoolKind::AdaptiveAvg { output: [2, 2] }), vec![2.5, 4.5, 10.5, 12.5]);
    assert_eq!(PoolKind::MAX2.output_size([5, 7]), Some([2, 3]));
    assert_eq!(PoolKind::MAX2.output_size([1, 7]), None);
    // Configs accept any variant.
    let cfg = LeNet5Config::new().with_pool(PoolKind::AVG2);
    assert!(cfg.init(&d).is_ok());
}

fn config_error(r: dl_core::Result<impl std::fmt::Debug>) -> String {
    match r {
        Err(e @ Error::Config { .. }) => e.to_string(),
        other => panic!("expected a config error, got {other:?}"),
    }
}

#[test]
fn invalid_configs_are_errors_naming_the_field() {
    let _rng = rng_lock();
    let d = device();
    assert!(config_error(LeNet5Config::new().with_input_size([8, 8]).init(&d)).contains("input_size"));
    assert!(config_error(LeNet5Config::new().with_num_classes(0).init(&d)).contains("num_classes"));
    assert!(config_error(VggConfig::new(1, [8, 8], vec![], 10).init(&d)).contains("blocks"));
    let too_many = VggConfig::new(1, [8, 8], vec![VggBlock { channels: 4, convs: 1, pool: PoolKind::MAX2 }; 4], 10);
    assert!(config_error(too_many.init(&d)).contains("input_size"));
    assert!(config_error(ResNetConfig::new(1, 10).with_head_pool(PoolKind::MAX2).init(&d)).contains("head_pool"));
    assert!(config_error(ResNetConfig::new(1, 10).with_layers(vec![2, 0]).init(&d)).contains("layers[1]"));
    // A width no machine holds is refused before anything is allocated.
    let e = config_error(ResNetConfig::resnet18_small(1, 10, 100_000).init(&d));
    assert!(e.contains("base_width") && e.contains("parameters needs") && e.contains("available"), "{e}");
    assert!(config_error(TextCnnConfig::new(10, 2).with_dropout(1.0).init(&d)).contains("dropout"));
    assert!(config_error(TextCnnConfig::new(10, 2).with_filter_widths(vec![]).init(&d)).contains("filter_widths"));
    assert!(config_error(SpectrogramCnnConfig::new(4, 4, 10).init(&d)).contains("input_size"));
}

#[test]
fn bad_inputs_are_errors() {
    let _rng = rng_lock();
    let d = device();
    let b = ImageBatcher::new(1, 8, 8);
    let item = ImageItem { pixels: vec![0.0; 63], label: 1 };
    assert!(matches!(b.batch(&[&item], &d), Err(Error::Shape { .. })));
    let text = TextCnnConfig::new(5, 2).init(&d).unwrap();
    assert!(matches!(text.check_tokens(&[1, 7]), Err(Error::Unknown { .. })));
    let lenet = lenet8(&d);
    let ad = d.clone().autodiff();
    assert!(saliency_map(&lenet, &[0.0; 10], 0, &ad).is_err());
    assert!(saliency_map(&lenet.clone().fork(&ad), &[0.0; 64], 10, &ad).is_err());
    assert!(matches!(saliency_map(&lenet, &[0.0; 64], 0, &d), Err(Error::NeedsAutodiff { .. })));
    // The common cases have their own variants, so callers can match on them.
    let (train, _) = digits();
    let cfg = quick_cfg(1, None);
    assert!(matches!(fit(lenet8(&d), &train, None, &b, &cfg, &d), Err(Error::NeedsAutodiff { what: "fit" })));
    let none: &[ImageItem] = &[];
    assert!(matches!(fit(lenet8(&ad), none, None, &b, &cfg, &ad), Err(Error::Empty { .. })));
}

// ------------------------------------------------------------------ training

fn quick_cfg(epochs: usize, out: Option<PathBuf>) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: 32,
        progress: false,
        out_dir: out,
        max_batches_per_epoch: Some(15),
        ..TrainConfig::default()
    }
}

#[test]
fn training_reduces_loss_and_learns_digits() {
    let _rng = rng_lock();
    let (train, test) = digits();
    let ad = device().autodiff();
    ad.seed(1);
    let model = lenet8(&ad);
    let batcher = ImageBatcher::new(1, 8, 8);
    let before = evaluate(&model, &test, &batcher, 128, &ad).unwrap();
    let cfg = TrainConfig { lr: 3e-3, max_batches_per_epoch: None, ..quick_cfg(3, None) };
    let report = fit(model, &train, Some(&test), &batcher, &cfg, &ad).unwrap();
    let h = &report.history.epochs;
    assert_eq!(h.len(), 3);
    assert!(h[2].train_loss < h[0].train_loss * 0.8, "{h:?}");
    let after = report.valid.unwrap();
    assert!(after.loss < before.loss * 0.5, "{} -> {}", before.loss, after.loss);
    assert!(after.accuracy().unwrap() > 0.8, "accuracy {:?}", after.accuracy());
}

/// An IDX folder whose image and label files disagree names both files.
#[test]
fn idx_folders_with_mismatched_files_are_errors_naming_them() {
    let dir = temp_dir("dl-cnn", "idx-mismatch");
    let images = |n: u32, side: u32| dl_core::testing::idx_images(n, side, side, 7);
    let labels = dl_core::testing::idx_labels;
    let write = |name: &str, bytes: Vec<u8>| std::fs::write(dir.join(name), bytes).unwrap();
    write("train-images-idx3-ubyte.gz", images(3, 4));
    write("train-labels-idx1-ubyte.gz", labels(&[1, 2]));
    write("t10k-images-idx3-ubyte.gz", images(1, 5));
    write("t10k-labels-idx1-ubyte.gz", labels(&[3]));
    let e = dl_cnn::recipes::load_idx_dataset(&dir, 255.0, 0.0, 1.0).unwrap_err().to_string();
    assert!(e.contains("train-images-idx3-ubyte.gz holds 3 images but") && e.contains("train-labels"), "{e}");
    write("train-labels-idx1-ubyte.gz", labels(&[1, 2, 0]));
    let e = dl_cnn::recipes::load_idx_dataset(&dir, 255.0, 0.0, 1.0).unwrap_err().to_string();
    assert!(e.contains("training images are 4x4, test images 5x5"), "{e}");
    write("t10k-images-idx3-ubyte.gz", images(1, 4));
    assert_eq!(dl_cnn::recipes::load_idx_dataset(&dir, 255.0, 0.0, 1.0).unwrap().train.len(), 3);
}

/// A learning rate far too high: training stops with the epoch and step
/// where the loss exploded, instead of finishing with a useless model.
#[test]
fn divergence_stops_training_with_the_epoch_and_step() {
    let _rng = rng_lock();
    let (train, _) = digits();
    let ad = device().autodiff();
    ad.seed(1);
    let cfg = TrainConfig { lr: 50.0, ..quick_cfg(3, None) };
    let e = fit(lenet8(&ad), &train, None, &ImageBatcher::new(1, 8, 8), &cfg, &ad).unwrap_err().to_string();
    assert!(e.contains("diverged") && e.contains("at epoch 1, step "), "{e}");
}

#[test]
fn a_small_model_overfits_one_batch() {
    let _rng = rng_lock();
    let (train, _) = digits();
    let batch: Vec<ImageItem> = train[..32].to_vec();
    let ad = device().autodiff();
    ad.seed(3);
    let model = lenet8(&ad);
    let cfg = TrainConfig { epochs: 60, batch_size: 32, lr: 3e-3, progress: false, ..TrainConfig::default() };
    let report = fit(model, &batch, None, &ImageBatcher::new(1, 8, 8), &cfg, &ad).unwrap();
    let last = report.history.epochs.last().unwrap();
    assert!(last.train_loss < 0.05, "loss {}", last.train_loss);
    let eval = evaluate(&report.model, &batch, &ImageBatcher::new(1, 8, 8), 32, &ad).unwrap();
    assert_eq!(eval.accuracy(), Some(1.0));

    // TextCNN memorises four labelled sentences.
    let items: Vec<TextItem> =
        [(vec![2, 3, 4, 5], 0), (vec![6, 7, 8], 1), (vec![3, 9, 2, 2, 4], 0), (vec![8, 8, 6], 1)]
            .into_iter()
            .map(|(ids, label)| TextItem { ids, label })
            .collect();
    let model = TextCnnConfig::new(10, 2).with_embed_dim(16).with_filters(8).with_dropout(0.0).init(&ad).unwrap();
    let batcher = TextBatcher { pad_id: 0, min_len: model.min_len(), max_len: 20 };
    let cfg = TrainConfig { epochs: 40, batch_size: 4, lr: 1e-2, progress: false, ..TrainConfig::default() };
    let report = fit(model, &items, None, &batcher, &cfg, &ad).unwrap();
    let eval = evaluate(&report.model, &items, &batcher, 4, &ad).unwrap();
    assert_eq!(eval.accuracy(), Some(1.0), "loss {}", eval.loss);
}

/// Kim's variant: with wide convolutions and zero padding vectors a
/// sentence's logits do not depend on the padding of its batch (they do
/// without), and the max-norm constraint holds after every step.
#[test]
fn textcnn_wide_ignores_padding_and_max_norm_holds() {
    let _rng = rng_lock();
    let ad = device().autodiff();
    ad.seed(3);
    let items: Vec<TextItem> = [(vec![2, 3, 4], 0), (vec![6, 7, 8, 9, 5, 1, 7], 1), (vec![3, 9], 0), (vec![8, 6], 1)]
        .into_iter()
        .map(|(ids, label)| TextItem { ids, label })
        .collect();
    let base = TextCnnConfig::new(10, 2).with_embed_dim(16).with_filters(8).with_dropout(0.0);
    let wide = base.clone().with_wide(true).with_max_norm(Some(0.5)).init(&ad).unwrap();
    assert_eq!(wide.min_len(), 1);
    let batcher = TextBatcher { pad_id: 0, min_len: wide.min_len(), max_len: 20 };
    let cfg = TrainConfig { epochs: 10, batch_size: 4, lr: 1e-2, progress: false, ..TrainConfig::default() };
    let trained = fit(wide, &items, None, &batcher, &cfg, &ad).unwrap().model.valid();
    let w = to_f32(trained.fc.weight.val()).unwrap(); // [24 in, 2 out]
    let norms: Vec<f32> = (0..2).map(|c| (0..24).map(|r| w[r * 2 + c].powi(2)).sum::<f32>().sqrt()).collect();
    assert!(norms.iter().all(|&n| n <= 0.5 + 1e-5), "{norms:?}");
    assert!(norms.iter().any(|&n| n > 0.5 - 1e-4), "the constraint is active: {norms:?}");

    let logits_of_first = |model: &TextCnn, rows: usize| {
        let refs: Vec<&TextItem> = items.iter().take(rows).collect();
        let batch = batcher.batch(&refs, &device()).unwrap();
        to_f32(model.forward(batch.tokens).narrow(0, 0, 1)).unwrap()
    };
    let (alone, padded) = (logits_of_first(&trained, 1), logits_of_first(&trained, 2));
    assert!(alone.iter().zip(&padded).all(|(a, b)| (a - b).abs() < 1e-5), "{alone:?} vs {padded:?}");
    let narrow = base.init(&device()).unwrap();
    let batcher = TextBatcher { pad_id: 0, min_len: narrow.min_len(), max_len: 20 };
    let refs: Vec<&TextItem> = items.iter().take(2).collect();
    let batch = batcher.batch(&refs[..1], &device()).unwrap();
    let alone = to_f32(narrow.forward(batch.tokens)).unwrap();
    let batch = batcher.batch(&refs, &device()).unwrap();
    let padded = to_f32(narrow.forward(batch.tokens).narrow(0, 0, 1)).unwrap();
    assert!(alone.iter().zip(&padded).any(|(a, b)| (a - b).abs() > 1e-4), "narrow convolutions see the padding");
}

#[test]
fn runs_are_deterministic_and_resume_exactly() {
    let _rng = rng_lock();
    let (train, test) = digits();
    let batcher = ImageBatcher::new(1, 8, 8);
    let probe = Tensor::<4>::from_data(TensorData::new(test[0].pixels.clone(), [1, 1, 8, 8]), &device());
    let run = |epochs: usize, out: Option<PathBuf>, resume: bool| {
        let ad = device().autodiff();
        ad.seed(7);
        let model = VggConfig::digits8x8().with_dropout(0.3).init(&ad).unwrap();
        let cfg = TrainConfig { resume, seed: 7, restore_best: false, ..quick_cfg(epochs, out) };
        let r = fit(model, &train, Some(&test), &batcher, &cfg, &ad).unwrap();
        let out = to_f32(r.model.valid().forward(probe.clone())).unwrap();
        (r.history, out, r.resumed_from)
    };
    let (h_a, out_a, _) = run(2, None, false);
    let (h_b, out_b, _) = run(2, None, false);
    assert_eq!(out_a, out_b, "same seed, same result");
    assert_eq!(h_a.epochs[1].train_loss, h_b.epochs[1].train_loss);

    let dir = temp_dir("dl-cnn", "resume");
    let (_, _, resumed) = run(1, Some(dir.clone()), false);
    assert_eq!(resumed, None);
    let ckpt = Checkpointer::new(&dir).unwrap().latest_dir().unwrap().unwrap();
    assert!(ckpt.join("model.bpk").is_file() && dir.join("metrics.csv").is_file());
    let (h_c, out_c, resumed) = run(2, Some(dir.clone()), true);
    assert_eq!(resumed, Some(1));
    assert_eq!(h_c.epochs.len(), 2);
    assert_eq!(h_c.epochs[1].train_loss, h_a.epochs[1].train_loss, "resumed epoch 2 equals uninterrupted epoch 2");
    assert_eq!(out_c, out_a);
    let csv = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(dir.join("loss.png").is_file());
}

/// Batch norm keeps running statistics that a plain module clone shares: the
/// best epoch's copy and a reloaded checkpoint must each keep their own. A
/// kill at any step of any epoch's checkpoint write, then `--resume`, gives
/// exactly the uninterrupted run.
#[test]
fn batch_norm_models_restore_the_best_epoch_and_resume_exactly_after_kills() {
    let _rng = rng_lock();
    let (train, test) = digits();
    let batcher = ImageBatcher::new(1, 8, 8);
    let probe = Tensor::<4>::from_data(TensorData::new(test[0].pixels.clone(), [1, 1, 8, 8]), &device());
    // Validation labels shifted by one: the better the model learns, the worse it
    // scores on them, so the best epoch is an early one and restoring it matters.
    let shifted: Vec<ImageItem> = test.iter().map(|i| ImageItem { label: (i.label + 1) % 10, ..i.clone() }).collect();
    let run = |epochs: usize, out: Option<PathBuf>, resume: bool| {
        let ad = device().autodiff();
        ad.seed(11);
        let model = VggConfig::digits8x8().init(&ad).unwrap();
        let cfg = TrainConfig { resume, seed: 11, lr: 3e-3, restore_best: true, ..quick_cfg(epochs, out) };
        let r = fit(model, &train, Some(&shifted), &batcher, &cfg, &ad)?;
        let valid = r.valid.as_ref().map(|v| v.loss).unwrap();
        let out = to_f32(r.model.valid().forward(probe.clone())).unwrap();
        Ok::<_, Error>((r.best_epoch, valid, out))
    };
    let full = run(4, None, false).unwrap();
    assert!(full.0 < 4, "the best epoch ({}) is not the last, so restoring it matters", full.0);
    let dir = temp_dir("dl-cnn", "bn-full");
    assert_eq!(run(4, Some(dir.clone()), false).unwrap(), full, "writing checkpoints changes nothing");
    assert_eq!(run(4, Some(dir), true).unwrap(), full, "resumed after the last epoch");
    // A kill during the first checkpoint and during a later one, at each step of the write.
    for epoch in [1, 3] {
        for steps in 0..4 {
            let dir = temp_dir("dl-cnn", &format!("bn-kill-{epoch}-{steps}"));
            if epoch > 1 {
                run(epoch - 1, Some(dir.clone()), false).unwrap();
            }
            interrupt_next_save(Some(steps));
            let killed = run(4, Some(dir.clone()), true);
            interrupt_next_save(None);
            assert!(killed.is_err(), "epoch {epoch}, step {steps}: the save was interrupted");
            let resumed = run(4, Some(dir), true).unwrap();
            assert_eq!(resumed, full, "killed at step {steps} of epoch {epoch}'s checkpoint, then resumed");
        }
    }
}

#[test]
fn early_stopping_stops() {
    let _rng = rng_lock();
    let (train, test) = digits();
    let ad = device().autodiff();
    let model = lenet8(&ad);
    // lr 0 cannot improve after the first epoch, so patience 2 ends the run at epoch 3.
    let cfg = TrainConfig {
        lr: 1e-12,
        early_stopping: Some(dl_core::train::EarlyStopping { patience: 2, min_delta: 0.01 }),
        ..quick_cfg(10, None)
    };
    let r = fit(model, &train[..200], Some(&test[..100]), &ImageBatcher::new(1, 8, 8), &cfg, &ad).unwrap();
    assert!(r.stopped_early);
    assert_eq!(r.history.epochs.len(), 3);
    assert_eq!(r.best_epoch, 1);
}

// ------------------------------------------------------------------ checkpoints

#[test]
fn save_load_is_bit_exact_and_rejects_other_configs() {
    let _rng = rng_lock();
    let d = device();
    d.seed(11);
    let config = ResNetConfig::resnet18_small(1, 10, 4);
    let model = config.init(&d).unwrap();
    let dir = temp_dir("dl-cnn", "save");
    dl_core::checkpoint::save_model(&config, &model, &dir).unwrap();
    let (loaded_cfg, loaded) = dl_core::checkpoint::load_model::<ResNetConfig>(&dir, &d).unwrap();
    assert_eq!(loaded_cfg, config);
    let x = Tensor::<4>::random([2, 1, 28, 28], burn::tensor::Distribution::Default, &d);
    let a = to_f32(model.valid().forward(x.clone())).unwrap();
    let b = to_f32(loaded.valid().forward(x)).unwrap();
    assert_eq!(a, b, "bit-exact");

    // Same architecture family, other width: a checkpoint error, not a panic.
    let other = ResNetConfig::resnet18_small(1, 10, 8).init(&d).unwrap();
    let err = dl_core::checkpoint::load_weights(other, dir.join("model.bpk")).unwrap_err();
    assert!(matches!(err, Error::Checkpoint { .. }), "{err}");
    let err = dl_core::checkpoint::load_weights(lenet8(&d), dir.join("missing.bpk")).unwrap_err();
    assert!(err.to_string().contains("missing.bpk"));
    // A config file that is not JSON names the file.
    std::fs::write(dir.join("config.json"), "{ not json").unwrap();
    let err = dl_core::checkpoint::load_model::<ResNetConfig>(&dir, &d).unwrap_err();
    assert!(err.to_string().contains("config.json"), "{err}");
}

// ------------------------------------------------------------------ retrieval and saliency

#[test]
fn cosine_index_finds_nearest() {
    let d = device();
    let index = CosineIndex::new(vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0], 2, &d).unwrap();
    let res = index.search(&[2.0, 0.1, -0.1, 3.0], 2).unwrap();
    assert_eq!(res[0][0].index, 0);
    assert_eq!(res[0][1].index, 2);
    assert_eq!(res[1][0].index, 1);
    assert!((res[0][0].similarity - 0.99875).abs() < 1e-4);
    let p = precision_at_k(&res, &[0, 1], &[0, 1, 0]).unwrap();
    assert!((p - 0.75).abs() < 1e-12);
    assert!(index.search(&[1.0, 0.0], 4).is_err());
    assert!(CosineIndex::new(vec![1.0; 5], 2, &d).is_err());
}

#[test]
fn features_and_saliency_of_a_trained_model() {
    let _rng = rng_lock();
    let (train, test) = digits();
    let ad = device().autodiff();
    ad.seed(5);
    let model = lenet8(&ad);
    let report = fit(model, &train, None, &ImageBatcher::new(1, 8, 8), &quick_cfg(2, None), &ad).unwrap();
    let (feats, dim) = retrieval::extract_features(&report.model, &test[..50], 16, &ad).unwrap();
    assert_eq!(dim, 84);
    assert_eq!(feats.len(), 50 * 84);
    let (index_feats, _) = retrieval::extract_features(&report.model, &train[..500], 64, &ad).unwrap();
    let index = CosineIndex::new(index_feats, dim, &device()).unwrap();
    let nb = index.search(&feats, 5).unwrap();
    let labels = |v: &[ImageItem]| v.iter().map(|i| i.label).collect::<Vec<_>>();
    let p = precision_at_k(&nb, &labels(&test[..50]), &labels(&train[..500])).unwrap();
    assert!(p > 0.6, "precision@5 {p}");

    let s = saliency_map(&report.model, &test[0].pixels, test[0].label, &ad).unwrap();
    assert_eq!(s.len(), 64);
    assert!(s.iter().all(|v| v.is_finite() && *v >= 0.0));
    assert!(s.iter().any(|v| *v > 0.0));
}

// ------------------------------------------------------------------ pretrained

/// The shipped LeNet-5 loads in one line and classifies MNIST's 10,000 test
/// images exactly as when it was trained (its documented 99.25%); a flipped
/// bit in its weights is an error naming it.
#[test]
fn the_shipped_lenet5_reaches_its_figure_on_mnist() {
    use dl_cnn::pretrained::{LENET5_MNIST, lenet5_mnist};
    let d = device();
    let model = lenet5_mnist(&d).unwrap();
    let mut bad = LENET5_MNIST.weights.to_vec();
    let at = bad.len() - 64;
    bad[at] ^= 0x10;
    let e = dl_core::checkpoint::load_model_from_bytes::<LeNet5Config>(
        "pretrained lenet5-mnist",
        LENET5_MNIST.config,
        &bad,
        &d,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("pretrained lenet5-mnist") && e.contains("corrupted"), "{e}");
    let Some(file) = dl_core::testing::data_file("mnist", "t10k-images-idx3-ubyte.gz") else { return };
    let root = file.parent().and_then(|p| p.parent()).unwrap().to_path_buf();
    let data = dl_cnn::recipes::load_mnist(&DataDirs::from_dirs(vec![root]), false, (0, 0)).unwrap();
    let eval = evaluate(&model, &data.test, &ImageBatcher::new(1, 28, 28), 500, &d).unwrap();
    let accuracy = eval.accuracy().unwrap();
    assert_eq!((data.test.len(), (accuracy * 10_000.0).round() as usize), (10_000, 9_925), "accuracy {accuracy}");
}

/// The shipped SMS spam filter classifies the 1,117 test messages as when it
/// was trained (98.75%); a vocabulary that is not the model's is refused.
#[test]
fn the_shipped_textcnn_filters_sms_spam_as_documented() {
    use dl_cnn::pretrained::{TEXTCNN_SMS_SPAM, TextCnnClassifier, textcnn_sms_spam};
    use dl_core::data::LabelSet;
    use dl_core::data::tokenizer::{AnyWordTokenizer, WordSplit};
    let d = device();
    let filter = textcnn_sms_spam(&d).unwrap();
    assert_eq!(filter.labels(), ["ham", "spam"]);
    assert!(filter.classify(&[], &d).unwrap().is_empty());
    // docs/cnn.md's example.
    let got = filter.classify(&["WINNER!! Claim your prize now", "see you at 6"], &d).unwrap();
    assert_eq!(got, ["spam", "ham"]);
    let (_, model) = TEXTCNN_SMS_SPAM.load::<TextCnnConfig>(&d).unwrap();
    let other = AnyWordTokenizer::fit(WordSplit::Words, ["a b c"], 1, 100).unwrap();
    let e = TextCnnClassifier::new(model, other, LabelSet::from_labels(["ham", "spam"]), 100).unwrap_err();
    assert!(e.to_string().contains("3858"), "{e}");
    let Some(file) = dl_core::testing::data_file("sms-spam", "test.tsv") else { return };
    let rows = dl_core::data::read_labeled_tsv(&file).unwrap();
    let mut correct = 0;
    // Batches of 256 in file order, padded as the example's evaluation pads them.
    for chunk in rows.chunks(256) {
        let texts: Vec<&str> = chunk.iter().map(|(_, t)| t.as_str()).collect();
        let got = filter.classify(&texts, &d).unwrap();
        correct += got.iter().zip(chunk).filter(|(g, (want, _))| *g == want).count();
    }
    assert_eq!((rows.len(), correct), (1_117, 1_103));
}
