//! Models.

use super::*;

#[test]
fn dcgan_shapes_conditioning_and_errors() {
    let _rng = rng_lock();
    let d = device();
    let cfg = DcganConfig::new().with_base_channels(8).with_latent_dim(10).with_num_classes(Some(10));
    let gan = cfg.init(&d).unwrap();
    let z = latent_codes(3, 10, 1, &d);
    let labels = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 4, 9], [3]), &d);
    let x = generate(&gan.generator, z.clone(), Some(labels.clone())).unwrap();
    assert_eq!(x.dims(), [3, 784]);
    let v = to_f32(x.clone()).unwrap();
    assert!(v.iter().all(|p| (-1.0..=1.0).contains(p)), "tanh output");
    assert_eq!(discriminate(&gan.discriminator, x.clone(), Some(labels.clone())).unwrap().dims(), [3, 1]);
    // Errors, not panics.
    assert!(matches!(
        generate(&gan.generator, latent_codes(3, 9, 1, &d), Some(labels.clone())),
        Err(Error::Shape { .. })
    ));
    assert!(generate(&gan.generator, z.clone(), None).is_err());
    let bad = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 4, 10], [3]), &d);
    assert!(generate(&gan.generator, z.clone(), Some(bad)).unwrap_err().to_string().contains("0..10"));
    assert!(discriminate(&gan.discriminator, Tensor::zeros([3, 700], &d), Some(labels)).is_err());
    for (field, bad) in [
        ("image_size", DcganConfig::new().with_image_size(30)),
        ("num_classes", DcganConfig::new().with_num_classes(Some(1))),
        ("latent_dim", DcganConfig::new().with_latent_dim(0)),
    ] {
        assert!(bad.validate().unwrap_err().to_string().contains(field), "{field}");
    }
    assert!(MlpGanConfig::new().with_layers(0).validate().unwrap_err().to_string().contains("layers"));
    // The benchmark's shapes: 100 -> 6272 -> 128x7x7 -> 64x14x14 -> 1x28x28.
    let bench = DcganConfig::new().init(&d).unwrap();
    assert_eq!(bench.generator.fc.weight.dims(), [100, 6272]);
    assert_eq!(bench.discriminator.fc.forward(Tensor::zeros([2, 6272], &d)).dims(), [2, 1]);
}

#[test]
fn specgan_shapes_conditioning_and_errors() {
    let _rng = rng_lock();
    let d = device();
    // Rectangular images: 16 rows x 8 columns, three halvings (2 x 1 smallest maps).
    let cfg = SpecGanConfig::new().with_bins(16).with_frames(8).with_channels(vec![8, 6, 4]).with_latent_dim(5);
    let gan = cfg.init(&d).unwrap();
    // 8 channels x 2 rows x 1 column.
    assert_eq!(gan.generator.fc.weight.dims(), [5 + 10, 16]);
    assert_eq!((gan.generator.ups.len(), gan.discriminator.convs.len(), gan.discriminator.norms.len()), (3, 3, 2));
    let labels = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 3, 9], [3]), &d);
    let x = generate(&gan.generator, latent_codes(3, 5, 1, &d), Some(labels.clone())).unwrap();
    assert_eq!(x.dims(), [3, 128]);
    assert!(to_f32(x.clone()).unwrap().iter().all(|p| (-1.0..=1.0).contains(p)), "tanh output");
    assert_eq!(discriminate(&gan.discriminator, x.clone(), Some(labels.clone())).unwrap().dims(), [3, 1]);
    assert!(discriminate(&gan.discriminator, x, None).is_err());
    assert!(generate(&gan.generator, latent_codes(3, 4, 1, &d), Some(labels)).is_err());
    let sn = SpecGanConfig::new().with_bins(16).with_frames(8).with_channels(vec![4, 4]).with_spectral_norm(true);
    assert!(sn.init(&d).unwrap().discriminator.norms.is_empty());
    // Save/load keeps every weight and both networks' outputs bit for bit.
    let dir = temp_dir("dl-gan", "specgan");
    save_model(&cfg, &gan, &dir).unwrap();
    let (_, loaded): (SpecGanConfig, SpecGan) = load_model(&dir, &d).unwrap();
    assert_eq!(params(&gan), params(&loaded));
    let z = latent_codes(2, 5, 3, &d);
    let l = Tensor::<1, Int>::from_data(TensorData::new(vec![1i64, 7], [2]), &d);
    let (a, b) = (gan.generator.forward(z.clone(), Some(l.clone())), loaded.generator.forward(z, Some(l.clone())));
    assert_eq!(to_f32(a.clone()).unwrap(), to_f32(b).unwrap());
    let (a, b) = (gan.discriminator.forward(a.clone(), Some(l.clone())), loaded.discriminator.forward(a, Some(l)));
    assert_eq!(to_f32(a).unwrap(), to_f32(b).unwrap());
    for (field, bad) in [
        ("frames", SpecGanConfig::new().with_frames(60)),
        ("bins", SpecGanConfig::new().with_bins(0)),
        ("channels", SpecGanConfig::new().with_channels(vec![])),
        ("channels", SpecGanConfig::new().with_channels(vec![8, 0])),
        ("num_classes", SpecGanConfig::new().with_num_classes(Some(1))),
        ("auxiliary_classifier", SpecGanConfig::new().with_num_classes(None).with_auxiliary_classifier(true)),
    ] {
        assert!(bad.validate().unwrap_err().to_string().contains(field), "{field}");
    }
}

/// Two "words" of 8x8 spectrograms: class 0 is loud in rows 1-2, class 1 in rows 5-6.
fn two_words(seed: u64) -> GanData {
    let mut rng = dl_core::data::split::SplitRng::new(seed);
    let (mut values, mut labels) = (Vec::new(), Vec::new());
    for i in 0..256 {
        let k = i % 2;
        labels.push(k);
        values.extend((0..64).map(|p| {
            let row = p / 8;
            let loud = if k == 0 { (1..=2).contains(&row) } else { (5..=6).contains(&row) };
            (if loud { 0.8 } else { -0.8 }) + 0.1 * rng.normal()
        }));
    }
    GanData::new(values, 64, Some((labels, 2))).unwrap()
}

/// Trains a two-class 8x8 SpecGAN on [`two_words`], with an auxiliary
/// classifier if `auxiliary` (learning from generated samples too if
/// `classify_generated`).
fn trained_specgan(auxiliary: bool, classify_generated: bool) -> GanReport<SpecGenerator, SpecDiscriminator> {
    let ad = device().autodiff();
    ad.seed(11);
    let cfg = SpecGanConfig::new()
        .with_bins(8)
        .with_frames(8)
        .with_channels(vec![8, 4])
        .with_latent_dim(4)
        .with_num_classes(Some(2))
        .with_auxiliary_classifier(auxiliary);
    let gan = cfg.init(&ad).unwrap();
    let tc = GanTrainConfig { g_lr: 2e-3, d_lr: 2e-3, classify_generated, ..quick(8, 8) };
    train_gan(gan.generator, gan.discriminator, &two_words(4), &tc, &ad).unwrap()
}

/// Of 100 generated samples asked for class `i % 2`, how many are loud where their class is.
fn loud_where_asked(g: &SpecGenerator) -> usize {
    let z = latent_codes(100, 4, 9, &device());
    let asked: Vec<i64> = (0..100).map(|i| i % 2).collect();
    let labels = Tensor::<1, Int>::from_data(TensorData::new(asked.clone(), [100]), &device());
    let x = to_f32(generate(g, z, Some(labels)).unwrap()).unwrap();
    let band = |s: &[f32], rows: [usize; 2]| rows.iter().map(|r| s[r * 8..r * 8 + 8].iter().sum::<f32>()).sum::<f32>();
    x.chunks(64)
        .zip(&asked)
        .filter(|(s, k)| {
            let (b0, b1) = (band(s, [1, 2]), band(s, [5, 6]));
            if **k == 0 { b0 > b1 } else { b1 > b0 }
        })
        .count()
}

#[test]
fn specgan_draws_the_class_it_is_asked_for() {
    let _rng = rng_lock();
    let r = trained_specgan(false, true);
    assert!(r.discriminator.classify.is_none() && !r.discriminator.classifies());
    assert!(r.state.epochs.iter().all(|e| e.info_loss.is_none()));
    let right = loud_where_asked(&r.generator.valid());
    assert!(right >= 90, "{right}/100 samples loud where their class is");
}

#[test]
fn an_auxiliary_classifier_names_the_class_of_real_and_generated_samples() {
    let _rng = rng_lock();
    let mut heads = Vec::new();
    for classify_generated in [true, false] {
        let r = trained_specgan(true, classify_generated);
        let right = loud_where_asked(&r.generator.valid());
        assert!(right >= 90, "{right}/100 samples loud where their class is ({classify_generated})");
        // The class loss is logged each epoch and falls.
        let ce: Vec<f64> = r.state.epochs.iter().map(|e| e.info_loss.unwrap()).collect();
        assert!(ce.iter().all(|l| l.is_finite()) && ce[ce.len() - 1] < 0.5 * ce[0], "class loss by epoch {ce:?}");
        // The head names the class of real samples it never saw.
        let d = r.discriminator.valid();
        let (x, labels) = two_words(5).batch(&(0..64).collect::<Vec<_>>(), &device()).unwrap();
        let logits = to_f32(d.forward_info(x, labels).classes.unwrap()).unwrap();
        // Sample i is of class i % 2.
        let named = logits.chunks(2).enumerate().filter(|(i, l)| (l[1] > l[0]) == (i % 2 == 1)).count();
        assert_eq!(named, 64, "{named}/64 real samples named ({classify_generated})");
        heads.push(params(&d));
    }
    // Whether the head also learns from generated samples changes what it learns.
    assert_ne!(heads[0], heads[1]);
}

#[test]
fn batch_norm_recalibration_measures_the_generators_own_statistics() {
    let _rng = rng_lock();
    let d = device();
    let g = DcganConfig::new().with_base_channels(4).with_latent_dim(8).init(&d).unwrap().generator;
    // Freshly built, bn0 holds mean 0 and variance 1; the N(0, 0.02) weights
    // make the first layer's outputs far narrower (variance ~ 8 * 0.02^2).
    let z = latent_codes(4096, 8, 99, &d);
    let h: Tensor<4> = g.fc.forward(z).reshape([4096, 8, 7, 7]);
    let per_channel = |t: Tensor<4>| to_f32(t.swap_dims(0, 1).reshape([8, 4096 * 49]).mean_dim(1)).unwrap();
    let mean = per_channel(h.clone());
    let var: Vec<f32> = {
        let centred = h - Tensor::<1>::from_data(TensorData::new(mean.clone(), [8]), &d).reshape([1, 8, 1, 1]);
        per_channel(centred.powi_scalar(2))
    };
    assert!(var.iter().all(|&v| v < 0.05), "narrow activations: {var:?}");

    let r = ema::recalibrate_batch_norm(&g, 100, 128, 3, &d).unwrap();
    let r_mean = to_f32(r.bn0.running_mean.value()).unwrap();
    let r_var = to_f32(r.bn0.running_var.value()).unwrap();
    for c in 0..8 {
        assert!((r_mean[c] - mean[c]).abs() < 0.1 * var[c].sqrt(), "mean of channel {c}: {} vs {}", r_mean[c], mean[c]);
        assert!((r_var[c] / var[c] - 1.0).abs() < 0.1, "variance of channel {c}: {} vs {}", r_var[c], var[c]);
    }
    // Only the statistics move: the weights are the same bits, the samples change.
    assert_eq!(to_f32(r.fc.weight.val()).unwrap(), to_f32(g.fc.weight.val()).unwrap());
    assert_eq!(to_f32(r.up2.weight.val()).unwrap(), to_f32(g.up2.weight.val()).unwrap());
    let codes = latent_codes(16, 8, 5, &d);
    let (before, after) =
        (sample_values(&g, codes.clone(), None, 16).unwrap(), sample_values(&r, codes.clone(), None, 16).unwrap());
    assert!(before.iter().zip(&after).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max) > 1e-3);
    // A generator without batch norm comes back unchanged; bad sizes are errors.
    let m = mlp(false, Some(3), &d).generator;
    assert_eq!(params(&ema::recalibrate_batch_norm(&m, 2, 8, 1, &d).unwrap()), params(&m));
    assert!(ema::recalibrate_batch_norm(&g, 0, 256, 3, &d).is_err());
    assert!(ema::recalibrate_batch_norm(&g, 5, 1, 3, &d).unwrap_err().to_string().contains("batch"));
}

#[test]
fn best_rated_samples_keep_what_the_discriminator_rates_highest() {
    let _rng = rng_lock();
    let d = device();
    d.seed(21);
    let gan = mlp(false, Some(3), &d);
    let z = latent_codes(40, 4, 8, &d);
    let labels = Tensor::<1, Int>::from_data(TensorData::new((0..40).map(|i| i % 3).collect::<Vec<i64>>(), [40]), &d);
    let all = generate(&gan.generator, z.clone(), Some(labels.clone())).unwrap();
    let rating = to_f32(discriminate(&gan.discriminator, all.clone(), Some(labels.clone())).unwrap()).unwrap();
    let all = to_f32(all).unwrap();
    let (kept, idx) =
        sampling::best_rated_samples(&gan.generator, &gan.discriminator, z.clone(), Some(labels.clone()), 10, 7)
            .unwrap();
    assert_eq!(idx.len(), 10);
    assert!(idx.windows(2).all(|w| w[0] < w[1]), "in the order drawn");
    let worst_kept = idx.iter().map(|&i| rating[i]).fold(f32::INFINITY, f32::min);
    let best_dropped = (0..40).filter(|i| !idx.contains(i)).map(|i| rating[i]).fold(f32::NEG_INFINITY, f32::max);
    assert!(worst_kept >= best_dropped, "{worst_kept} < {best_dropped}");
    let expected: Vec<f32> = idx.iter().flat_map(|&i| all[i * 2..i * 2 + 2].to_vec()).collect();
    assert_eq!(kept, expected);
    for keep in [0, 41] {
        let e =
            sampling::best_rated_samples(&gan.generator, &gan.discriminator, z.clone(), Some(labels.clone()), keep, 7);
        assert!(e.unwrap_err().to_string().contains("keep"), "keep {keep}");
    }
}

#[test]
fn save_load_is_bit_exact_with_spectral_state() {
    let _rng = rng_lock();
    let ad = device().autodiff();
    ad.seed(11);
    let cfg = DcganConfig::new().with_base_channels(4).with_latent_dim(8).with_spectral_norm(true);
    let gan = cfg.init(&ad).unwrap();
    // A few training forwards move the power-iteration vectors and batch-norm statistics.
    let data = GanData::new(vec![0.5; 784 * 32], 784, None).unwrap();
    let r = train_gan(gan.generator, gan.discriminator, &data, &quick(1, 2), &ad).unwrap();
    let trained = Dcgan { generator: r.generator.valid(), discriminator: r.discriminator.valid() };
    let dir = temp_dir("dl-gan", "save");
    save_model(&cfg, &trained, &dir).unwrap();
    let (_, loaded): (DcganConfig, Dcgan) = load_model(&dir, &device()).unwrap();
    assert_eq!(params(&trained), params(&loaded));
    let x = Tensor::<2>::from_data(TensorData::new(vec![0.1f32; 2 * 784], [2, 784]), &device());
    let a = to_f32(trained.discriminator.forward(x.clone(), None)).unwrap();
    let b = to_f32(loaded.discriminator.forward(x, None)).unwrap();
    assert_eq!(a, b);
    // Weights of another size are an error naming the file.
    let other = DcganConfig::new().with_base_channels(8).with_latent_dim(8);
    dl_core::config::save_json(&other, dir.join("config.json")).unwrap();
    assert!(matches!(load_model::<DcganConfig>(&dir, &device()), Err(Error::Checkpoint { .. })));
}
