//! Trainer.

use super::*;

#[test]
fn trainer_updates_both_networks() {
    let _rng = rng_lock();
    let ad = device().autodiff();
    ad.seed(1);
    let gan = mlp(false, None, &ad);
    let (g0, d0) = (params(&gan.generator), params(&gan.discriminator));
    let data = Mixture::ring8().data(256, 1).unwrap();
    let cfg = GanTrainConfig { d_steps: 2, ..quick(1, 6) };
    let r = train_gan(gan.generator, gan.discriminator, &data, &cfg, &ad).unwrap();
    let (g1, d1) = (params(&r.generator), params(&r.discriminator));
    assert_eq!(g0.len(), g1.len());
    assert!(g0.iter().zip(&g1).any(|(a, b)| a != b), "generator did not change");
    assert!(d0.iter().zip(&d1).any(|(a, b)| a != b), "discriminator did not change");
    // k = 2: 6 discriminator steps, 3 generator steps.
    assert_eq!((r.state.d_step, r.state.g_step), (6, 3));
    let e = &r.state.epochs[0];
    assert!(e.d_loss.is_finite() && e.g_loss.is_finite());
}

/// Networks fresh from `init`, their parameters still lazily uninitialised,
/// train: freezing one network for the other's update must leave the network
/// itself trainable (burn's `no_grad` on a copy of a lazy parameter reaches
/// the original; the generator's backward pass then had nothing to track).
#[test]
fn freshly_built_networks_train() {
    let _rng = rng_lock();
    let ad = device().autodiff();
    ad.seed(3);
    let gan = DcganConfig::new().with_image_size(8).with_base_channels(4).with_latent_dim(8).init(&ad).unwrap();
    let data = GanData::new(vec![-0.5; 64 * 64], 64, None).unwrap();
    let r = train_gan(gan.generator, gan.discriminator, &data, &quick(1, 2), &ad).unwrap();
    assert_eq!((r.state.d_step, r.state.g_step), (2, 2));
    let e = &r.state.epochs[0];
    assert!(e.d_loss.is_finite() && e.g_loss.is_finite(), "{e:?}");
}

/// The "overfit a batch" of GANs: one narrow Gaussian at (1.5, -0.5) is learnt.
#[test]
fn gan_learns_a_single_gaussian() {
    let _rng = rng_lock();
    let ad = device().autodiff();
    ad.seed(3);
    let gan = mlp(false, None, &ad);
    let mix = Mixture { name: "one".into(), modes: vec![[1.5, -0.5]], std: 0.05 };
    let data = mix.data(2048, 2).unwrap();
    let cfg = GanTrainConfig { g_lr: 2e-3, d_lr: 2e-3, ..quick(6, 64) };
    let r = train_gan(gan.generator, gan.discriminator, &data, &cfg, &ad).unwrap();
    let g = r.sampler();
    let z = latent_codes(500, 4, 9, &device());
    let s = sample_values(&g, z, None, 500).unwrap();
    let mean = |k: usize| s.iter().skip(k).step_by(2).sum::<f32>() / 500.0;
    let (mx, my) = (mean(0), mean(1));
    assert!((mx - 1.5).abs() < 0.15 && (my + 0.5).abs() < 0.15, "sample mean ({mx}, {my})");
    let cov = metrics::mode_coverage(&s, &Mixture { std: 0.1, ..mix }, 20).unwrap();
    assert!(cov.high_quality > 0.5, "{cov:?}");
}

#[test]
fn resume_continues_identically() {
    let _rng = rng_lock();
    let data = Mixture::grid25().data(512, 4).unwrap();
    let run = |dir: &PathBuf, epochs: usize, resume: bool| {
        let ad = device().autodiff();
        ad.seed(5);
        let gan = mlp(true, None, &ad);
        let cfg = GanTrainConfig {
            out_dir: Some(dir.clone()),
            resume,
            ema_decay: Some(0.9),
            loss: GanLoss::Hinge,
            log_every: 2,
            ..quick(epochs, 4)
        };
        train_gan(gan.generator, gan.discriminator, &data, &cfg, &ad).unwrap()
    };
    let (a, b) = (temp_dir("dl-gan", "resume-a"), temp_dir("dl-gan", "resume-b"));
    let full = run(&a, 3, false);
    let first = run(&b, 1, false);
    assert_eq!(first.state.epoch, 1);
    let resumed = run(&b, 3, true);
    assert_eq!(resumed.resumed_from, Some(1));
    assert_eq!(params(&full.generator), params(&resumed.generator));
    assert_eq!(params(&full.discriminator), params(&resumed.discriminator));
    assert_eq!(params(full.average.as_ref().unwrap()), params(resumed.average.as_ref().unwrap()));
    // Same figures (the resumed run read its first epoch back from JSON: equal to 1e-12).
    let figures = |s: &GanState| {
        let e = s.epochs.iter().flat_map(|e| [e.d_loss, e.g_loss, e.d_real, e.d_fake]);
        e.chain(s.curve.iter().flat_map(|p| [p.step as f64, p.d_loss, p.g_loss])).collect::<Vec<_>>()
    };
    let (x, y) = (figures(&full.state), figures(&resumed.state));
    assert_eq!(x.len(), y.len());
    assert!(x.iter().zip(&y).all(|(a, b)| (a - b).abs() < 1e-12), "{x:?} vs {y:?}");
    assert_eq!((full.state.d_step, full.state.g_step), (resumed.state.d_step, resumed.state.g_step));
    let ckpt = Checkpointer::new(&b).unwrap().latest_dir().unwrap().unwrap();
    for f in [b.join("metrics.csv"), b.join("losses.png"), ckpt.join("average.bpk"), ckpt.join("g_optim.bpk")] {
        assert!(f.is_file(), "{}", f.display());
    }
    // Another seed may not resume this checkpoint.
    let ad = device().autodiff();
    let gan = mlp(true, None, &ad);
    let cfg = GanTrainConfig { out_dir: Some(b.clone()), resume: true, seed: 1, ..quick(4, 4) };
    assert!(matches!(train_gan(gan.generator, gan.discriminator, &data, &cfg, &ad), Err(Error::Checkpoint { .. })));
}

/// A kill at any step of any epoch's checkpoint write, then `resume`, gives
/// exactly the uninterrupted run.
#[test]
fn resume_after_an_interrupted_checkpoint_is_exact() {
    let _rng = rng_lock();
    let data = Mixture::grid25().data(256, 4).unwrap();
    let run = |dir: &PathBuf, resume: bool| {
        let ad = device().autodiff();
        ad.seed(5);
        let gan = mlp(false, None, &ad);
        let cfg = GanTrainConfig { out_dir: Some(dir.clone()), resume, ema_decay: Some(0.9), ..quick(3, 3) };
        train_gan(gan.generator, gan.discriminator, &data, &cfg, &ad)
    };
    let full = run(&temp_dir("dl-gan", "kill-full"), false).unwrap();
    for epoch in 1..=3 {
        for steps in 0..4 {
            let dir = temp_dir("dl-gan", &format!("kill-{epoch}-{steps}"));
            if epoch > 1 {
                let ad = device().autodiff();
                ad.seed(5);
                let gan = mlp(false, None, &ad);
                let cfg = GanTrainConfig { out_dir: Some(dir.clone()), ema_decay: Some(0.9), ..quick(epoch - 1, 3) };
                train_gan(gan.generator, gan.discriminator, &data, &cfg, &ad).unwrap();
            }
            interrupt_next_save(Some(steps));
            let killed = run(&dir, true);
            interrupt_next_save(None);
            assert!(killed.is_err(), "epoch {epoch}, step {steps}: the save was interrupted");
            let resumed = run(&dir, true).unwrap();
            let at = format!("killed at step {steps} of epoch {epoch}'s checkpoint");
            assert_eq!(params(&full.generator), params(&resumed.generator), "{at}");
            assert_eq!(params(&full.discriminator), params(&resumed.discriminator), "{at}");
            assert_eq!(params(full.average.as_ref().unwrap()), params(resumed.average.as_ref().unwrap()), "{at}");
            assert_eq!(full.state.epochs.len(), resumed.state.epochs.len(), "{at}");
        }
    }
}

/// A discriminator that wins outright (real data far away, the generator
/// barely learning) is detected; the last good epoch's checkpoint stays.
#[test]
fn collapse_detection_fires_and_keeps_the_last_good_checkpoint() {
    let _rng = rng_lock();
    let ad = device().autodiff();
    ad.seed(7);
    let gan = mlp(false, None, &ad);
    let data = GanData::new([8.0f32, 8.0].repeat(256), 2, None).unwrap();
    let dir = temp_dir("dl-gan", "collapse");
    let cfg = GanTrainConfig {
        loss: GanLoss::Hinge,
        g_lr: 1e-9,
        d_lr: 5e-2,
        collapse_floor: 1e-6,
        collapse_patience: 15,
        out_dir: Some(dir.clone()),
        ..quick(20, 8)
    };
    let err = train_gan(gan.generator, gan.discriminator, &data, &cfg, &ad).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Training(_)), "{msg}");
    assert!(msg.contains("collapse") && msg.contains("last good checkpoint"), "{msg}");
    let state: GanState = Checkpointer::new(&dir).unwrap().latest().unwrap().unwrap().state;
    assert!(state.epoch >= 1 && msg.contains(&format!("(epoch {})", state.epoch)), "{msg} / {}", state.epoch);
    // A NaN in the data is refused before training.
    assert!(GanData::new(vec![1.0, f32::NAN], 2, None).is_err());
}

#[test]
fn trainer_checks_its_inputs() {
    let _rng = rng_lock();
    let ad = device().autodiff();
    let gan = mlp(false, None, &ad);
    let data = Mixture::ring8().data(64, 1).unwrap();
    let bad = [
        GanTrainConfig { batch_size: 0, ..quick(1, 1) },
        GanTrainConfig { betas: (1.0, 0.9), ..quick(1, 1) },
        GanTrainConfig { label_smoothing: 0.1, loss: GanLoss::Hinge, ..quick(1, 1) },
        GanTrainConfig { resume: true, ..quick(1, 1) },
        GanTrainConfig { batch_size: 128, ..quick(1, 1) },
    ];
    for cfg in bad {
        assert!(train_gan(gan.generator.clone(), gan.discriminator.clone(), &data, &cfg, &ad).is_err(), "{cfg:?}");
    }
    // Wrong width, labels where none are expected, a plain device.
    let wide = GanData::new(vec![0.0; 3 * 64], 3, None).unwrap();
    assert!(matches!(
        train_gan(gan.generator.clone(), gan.discriminator.clone(), &wide, &quick(1, 1), &ad),
        Err(Error::Shape { .. })
    ));
    let labelled = GanData::new(vec![0.0; 2 * 64], 2, Some((vec![0; 64], 2))).unwrap();
    assert!(train_gan(gan.generator.clone(), gan.discriminator.clone(), &labelled, &quick(1, 1), &ad).is_err());
    assert!(train_gan(gan.generator, gan.discriminator, &data, &quick(1, 1), &device()).is_err());
    assert!(GanData::new(vec![0.0; 4], 2, Some((vec![0, 5], 2))).is_err());
}

/// A discriminator that claims an auxiliary classifier but names no classes.
#[derive(Module, Debug)]
struct ClassifiesNothing {
    inner: MlpDiscriminator,
}

impl Discriminator for ClassifiesNothing {
    fn sample_dim(&self) -> usize {
        self.inner.sample_dim()
    }

    fn num_classes(&self) -> Option<usize> {
        self.inner.num_classes()
    }

    fn forward(&self, x: Tensor<2>, labels: Option<Tensor<1, Int>>) -> Tensor<2> {
        self.inner.forward(x, labels)
    }

    fn classifies(&self) -> bool {
        true
    }
}

#[test]
fn an_auxiliary_classifier_without_classes_is_an_error() {
    let _rng = rng_lock();
    let ad = device().autodiff();
    let gan = mlp(false, None, &ad);
    let data = Mixture::ring8().data(64, 1).unwrap();
    let d = ClassifiesNothing { inner: gan.discriminator };
    let err = train_gan(gan.generator, d, &data, &quick(1, 1), &ad).unwrap_err().to_string();
    assert!(err.contains("auxiliary classifier"), "{err}");
}

#[test]
fn infogan_code_becomes_recoverable() {
    let _rng = rng_lock();
    let ad = device().autodiff();
    ad.seed(5);
    let cfg = DcganConfig::new().with_image_size(8).with_base_channels(4).with_latent_dim(8).with_info_codes(Some(4));
    let gan = cfg.init(&ad).unwrap();
    assert_eq!((gan.generator.num_classes(), gan.discriminator.info_codes()), (Some(4), Some(4)));
    assert_eq!(gan.discriminator.num_classes(), None);
    // Unlabelled 8x8 images: four stripe patterns with noise.
    let mut rng = dl_core::data::split::SplitRng::new(3);
    let values: Vec<f32> = (0..256)
        .flat_map(|i| (0..64).map(move |p| (i, p)))
        .map(|(i, p)| if (p / 8 + i) % 4 == 0 { 0.9 } else { -0.9 } + 0.1 * rng.normal())
        .collect();
    let data = GanData::new(values, 64, None).unwrap();
    let tc = GanTrainConfig { g_lr: 1e-3, d_lr: 1e-3, ..quick(6, 8) };
    let r = train_gan(gan.generator, gan.discriminator, &data, &tc, &ad).unwrap();
    let ce: Vec<f64> = r.state.epochs.iter().map(|e| e.info_loss.unwrap()).collect();
    // Chance is ln 4 = 1.386; the generator and the Q head cooperate on it.
    assert!(ce[0] > 1.0 && ce[5] < 0.5 * ce[0], "code cross-entropy per epoch {ce:?}");
    // The trained Q head names the code of fresh samples.
    let z = latent_codes(200, 8, 9, &device());
    let codes: Vec<i64> = (0..200).map(|i| i % 4).collect();
    let labels = Tensor::<1, Int>::from_data(TensorData::new(codes.clone(), [200]), &device());
    let x = generate(&r.generator.valid(), z, Some(labels)).unwrap();
    let q = r.discriminator.valid().forward_info(x, None).categories;
    let guess = to_f32(q.unwrap().argmax(1).float()).unwrap();
    let right = guess.iter().zip(&codes).filter(|&(g, &c)| *g as i64 == c).count();
    assert!(right > 120, "{right}/200 codes recovered (chance 50)");
    // An InfoGAN learns without labels; it cannot also be conditional, nor train on labelled data.
    assert!(DcganConfig::new().with_info_codes(Some(1)).validate().unwrap_err().to_string().contains("info_codes"));
    let both = DcganConfig::new().with_info_codes(Some(10)).with_num_classes(Some(10));
    assert!(both.validate().unwrap_err().to_string().contains("info_codes"));
    let gan = cfg.init(&ad).unwrap();
    let labelled = GanData::new(vec![0.0; 64 * 64], 64, Some((vec![0; 64], 4))).unwrap();
    let err = train_gan(gan.generator, gan.discriminator, &labelled, &quick(1, 1), &ad).unwrap_err();
    assert!(err.to_string().contains("InfoGAN"), "{err}");
    assert!(GanTrainConfig { info_weight: -1.0, ..quick(1, 1) }.validate().is_err());
}

#[test]
fn continuous_codes_become_recoverable_beside_classes() {
    let _rng = rng_lock();
    let ad = device().autodiff();
    ad.seed(5);
    let cfg = DcganConfig::new()
        .with_image_size(8)
        .with_base_channels(4)
        .with_latent_dim(8)
        .with_num_classes(Some(2))
        .with_continuous_codes(1);
    let gan = cfg.init(&ad).unwrap();
    assert_eq!(gan.discriminator.continuous_codes(), 1);
    // Labelled 8x8 images: class 0 a horizontal bar, class 1 a vertical bar, each at any
    // position (the one factor of variation a code can take).
    let mut rng = dl_core::data::split::SplitRng::new(3);
    let (mut values, mut labels) = (Vec::new(), Vec::new());
    for i in 0..256 {
        let (class, at) = (i % 2, rng.below(8));
        values.extend((0..64).map(|p| {
            let on = if class == 0 { p / 8 == at } else { p % 8 == at };
            if on { 0.9 } else { -0.9 }
        }));
        labels.push(class);
    }
    let data = GanData::new(values, 64, Some((labels, 2))).unwrap();
    let tc = GanTrainConfig { g_lr: 1e-3, d_lr: 1e-3, ..quick(12, 16) };
    let r = train_gan(gan.generator, gan.discriminator, &data, &tc, &ad).unwrap();
    let loss: Vec<f64> = r.state.epochs.iter().map(|e| e.info_loss.unwrap()).collect();
    // Guessing 0 for a code uniform in [-1, 1] costs its variance, 1/3.
    assert!(loss[0] > 0.2 && loss[11] < 0.4 * loss[0], "code loss per epoch {loss:?}");
    // The trained Q head estimates the code of fresh samples (the first latent value).
    let mut rng = dl_core::data::split::SplitRng::new(9);
    let z: Vec<f32> = (0..200 * 8).map(|i| if i % 8 < 1 { 2.0 * rng.next_f32() - 1.0 } else { rng.normal() }).collect();
    let z = Tensor::<2>::from_data(TensorData::new(z.clone(), [200, 8]), &device());
    let classes =
        Tensor::<1, Int>::from_data(TensorData::new((0..200).map(|i| i % 2).collect::<Vec<i64>>(), [200]), &device());
    let x = generate(&r.generator.valid(), z.clone(), Some(classes.clone())).unwrap();
    let q = r.discriminator.valid().forward_info(x, Some(classes)).continuous.unwrap();
    let err = to_f32((q - z.narrow(1, 0, 1)).powi_scalar(2).mean()).unwrap()[0];
    assert!(err < 0.5 / 3.0, "squared error {err} (chance 1/3)");
    // More codes than latent values is a config error.
    let e = DcganConfig::new().with_latent_dim(4).with_continuous_codes(5).validate().unwrap_err();
    assert!(e.to_string().contains("continuous_codes"), "{e}");
}

#[test]
fn code_targets_anchor_a_code_to_a_measured_attribute() {
    let _rng = rng_lock();
    let ad = device().autodiff();
    let cfg = DcganConfig::new()
        .with_image_size(8)
        .with_base_channels(4)
        .with_latent_dim(8)
        .with_num_classes(Some(2))
        .with_continuous_codes(1);
    // The bars of the test above, each labelled with where its bar is: -1 at
    // row (column) 0 to +1 at row (column) 7.
    let mut rng = dl_core::data::split::SplitRng::new(3);
    let (mut values, mut labels, mut targets) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..256 {
        let (class, at) = (i % 2, rng.below(8));
        values.extend((0..64).map(|p| {
            let on = if class == 0 { p / 8 == at } else { p % 8 == at };
            if on { 0.9 } else { -0.9 }
        }));
        labels.push(class);
        targets.push(at as f32 / 3.5 - 1.0);
    }
    let plain = GanData::new(values.clone(), 64, Some((labels.clone(), 2))).unwrap();
    assert!(matches!(plain.clone().with_code_targets(vec![0.0; 255], 1), Err(Error::Shape { .. })));
    let e = plain.clone().with_code_targets(vec![1.5; 256], 1).unwrap_err().to_string();
    assert!(e.contains("sample 0") && e.contains("[-1, 1]"), "{e}");
    let guided = plain.clone().with_code_targets(targets.clone(), 1).unwrap();
    assert_eq!((guided.code_targets(), plain.code_targets()), (1, 0));
    // Targets for more codes than the Q head estimates are refused.
    ad.seed(5);
    let no_q = DcganConfig::new().with_image_size(8).with_base_channels(4).with_num_classes(Some(2)).init(&ad).unwrap();
    let err = train_gan(no_q.generator, no_q.discriminator, &guided, &quick(1, 1), &ad).unwrap_err();
    assert!(err.to_string().contains("targets for 1 continuous codes"), "{err}");

    // The same run with and without targets: how well the Q head reads the
    // bar's position on the real bars, and the code on generated ones.
    let run = |data: &GanData| {
        ad.seed(5);
        let gan = cfg.init(&ad).unwrap();
        let tc = GanTrainConfig { g_lr: 1e-3, d_lr: 1e-3, ..quick(12, 16) };
        let r = train_gan(gan.generator, gan.discriminator, data, &tc, &ad).unwrap();
        let (g, d) = (r.generator.valid(), r.discriminator.valid());
        let classes = Tensor::<1, Int>::from_data(
            TensorData::new(labels.iter().map(|&l| l as i64).collect::<Vec<_>>(), [256]),
            &device(),
        );
        let real = Tensor::<2>::from_data(TensorData::new(values.clone(), [256, 64]), &device());
        let t = Tensor::<2>::from_data(TensorData::new(targets.clone(), [256, 1]), &device());
        let on_real = d.forward_info(real, Some(classes.clone())).continuous.unwrap();
        let real_err = to_f32((on_real - t).powi_scalar(2).mean()).unwrap()[0];
        let mut rng = dl_core::data::split::SplitRng::new(9);
        let z: Vec<f32> =
            (0..256 * 8).map(|i| if i % 8 == 0 { 2.0 * rng.next_f32() - 1.0 } else { rng.normal() }).collect();
        let z = Tensor::<2>::from_data(TensorData::new(z, [256, 8]), &device());
        let x = generate(&g, z.clone(), Some(classes.clone())).unwrap();
        let q = d.forward_info(x, Some(classes)).continuous.unwrap();
        let fake_err = to_f32((q - z.narrow(1, 0, 1)).powi_scalar(2).mean()).unwrap()[0];
        (real_err, fake_err)
    };
    let (guided_real, guided_fake) = run(&guided);
    let (plain_real, _) = run(&plain);
    // The positions' variance is 0.43: the guided Q head reads them, the unguided one does not.
    assert!(
        guided_real < 0.15 && plain_real > 0.3,
        "real-bar squared error: guided {guided_real}, unguided {plain_real}"
    );
    assert!(guided_fake < 0.5 / 3.0, "code squared error on generated bars {guided_fake} (chance 1/3)");
}

#[test]
fn restyling_draws_each_class_with_the_estimated_codes() {
    let _rng = rng_lock();
    let d = device();
    let cfg = DcganConfig::new()
        .with_image_size(8)
        .with_base_channels(4)
        .with_latent_dim(6)
        .with_num_classes(Some(3))
        .with_continuous_codes(2);
    let gan = cfg.init(&d).unwrap();
    let images = latent_codes(4, 64, 1, &d).tanh();
    let codes = dl_gan::style::estimate_codes(&gan.discriminator, images.clone()).unwrap();
    assert_eq!(codes.dims(), [4, 2]);
    assert!(to_f32(codes.clone().abs().max()).unwrap()[0] <= 1.0);
    let out = dl_gan::style::restyle(&gan.generator, codes.clone(), &[2, 0]).unwrap();
    assert_eq!(out.dims(), [8, 64]);
    // Row 2 k + j is source k drawn as class [2, 0][j] from [codes_k, 0, 0, 0, 0].
    let z = Tensor::cat(vec![codes.clone().narrow(0, 1, 1), Tensor::zeros([1, 4], &d)], 1);
    let label = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64], [1]), &d);
    let direct = generate(&gan.generator, z, Some(label)).unwrap();
    let row = out.narrow(0, 3, 1);
    assert!(to_f32((row - direct).abs().max()).unwrap()[0] < 1e-6);
    // What cannot be restyled.
    use dl_gan::style::{estimate_codes, restyle};
    assert!(matches!(estimate_codes(&gan.discriminator, images.clone().narrow(1, 0, 60)), Err(Error::Shape { .. })));
    let err = restyle(&gan.generator, codes.clone(), &[3]).unwrap_err();
    assert!(matches!(&err, Error::OutOfRange { value, .. } if value == "3"), "{err}");
    assert!(matches!(restyle(&gan.generator, codes.clone(), &[]), Err(Error::Shape { .. })));
    assert!(restyle(&gan.generator, Tensor::zeros([1, 7], &d), &[0]).is_err());
    let plain = DcganConfig::new().with_image_size(8).with_base_channels(4).with_latent_dim(6).init(&d).unwrap();
    assert!(estimate_codes(&plain.discriminator, images).unwrap_err().to_string().contains("no continuous-code head"));
    let e = restyle(&plain.generator, codes, &[0]).unwrap_err();
    assert!(matches!(&e, dl_core::Error::WrongInput(m) if m.contains("not class-conditional")), "{e}");
}

/// A sample term that asks the first value of each sample to be its first latent value.
struct FollowFirst(f64);

impl dl_gan::SampleTerm for FollowFirst {
    fn loss(&self, samples: Tensor<2>, z: Tensor<2>, _: Option<Tensor<1, Int>>) -> Tensor<1> {
        (samples.narrow(1, 0, 1) - z.narrow(1, 0, 1)).powi_scalar(2).mean().mul_scalar(self.0)
    }

    fn check(&self, sample_dim: usize, _: usize, _: Option<usize>) -> dl_core::Result<()> {
        if sample_dim > 2 {
            return Err(Error::Invalid(format!("FollowFirst: {sample_dim} values")));
        }
        Ok(())
    }
}

#[test]
fn a_sample_term_joins_the_generator_loss() {
    let _rng = rng_lock();
    let ad = device().autodiff();
    let data = Mixture::ring8().data(512, 1).unwrap();
    let cfg = GanTrainConfig { g_lr: 2e-3, d_lr: 2e-3, ..quick(3, 16) };
    // How far the generated first values are from the first latent values.
    let gap = |term: Option<&FollowFirst>| {
        ad.seed(4);
        let gan = mlp(false, None, &ad);
        let r = match term {
            Some(t) => dl_gan::train_gan_with_term(gan.generator, gan.discriminator, &data, &cfg, &ad, t).unwrap(),
            None => train_gan(gan.generator, gan.discriminator, &data, &cfg, &ad).unwrap(),
        };
        let z = latent_codes(500, 4, 9, &device());
        let s = sample_values(&r.generator.valid(), z.clone(), None, 500).unwrap();
        let z = to_f32(z).unwrap();
        let gap = (0..500).map(|i| (s[2 * i] - z[4 * i]).powi(2)).sum::<f32>() / 500.0;
        (gap, r.state.epochs.iter().map(|e| e.term_loss).collect::<Vec<_>>())
    };
    let (with, losses) = gap(Some(&FollowFirst(5.0)));
    let (without, none) = gap(None);
    assert!(with < without / 4.0, "squared gap with the term {with}, without {without}");
    assert_eq!(none, vec![None; 3]);
    // Reported each epoch, weighted, and falling.
    let losses: Vec<f64> = losses.into_iter().map(|l| l.unwrap()).collect();
    assert!(losses[2] < losses[0] && losses[2] < 5.0 * with as f64 + 1.0, "{losses:?}");
    // A term that does not fit the networks is refused before training.
    ad.seed(4);
    let gan = DcganConfig::new().with_image_size(8).with_base_channels(4).with_latent_dim(8).init(&ad).unwrap();
    let images = GanData::new(vec![-0.5; 64 * 64], 64, None).unwrap();
    let err =
        dl_gan::train_gan_with_term(gan.generator, gan.discriminator, &images, &quick(1, 2), &ad, &FollowFirst(1.0))
            .unwrap_err();
    assert!(err.to_string().contains("FollowFirst: 64 values"), "{err}");
}
