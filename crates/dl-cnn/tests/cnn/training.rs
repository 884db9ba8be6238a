//! Training.

use super::*;

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
