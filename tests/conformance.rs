//! Backend conformance: every family computes what flex computes and trains
//! on every compiled backend (flex, ndarray, wgpu), and every committed
//! PyTorch fixture passes on every backend besides flex (the family tests
//! check them on flex). One test binary for all families, so that wgpu
//! measures its device and compiles each kernel the families share once.

use burn::module::Module;
use burn::tensor::Device;
use dl_cnn::recipes::load_digits;
use dl_cnn::{ImageBatcher, ImageClassifier, LeNet5Config};
use dl_core::data::locate::DataDirs;
use dl_core::parity::{Registry, Verdict, check_one};
use dl_core::task::to_f32;
use dl_core::testing::{device, max_diff, random, rng_lock, token_task, values, workspace_root};
use dl_core::train::{TrainConfig, fit};
use dl_core::{Backend, ModelConfig};
use dl_gan::data::GanData;
use dl_gan::models::dcgan::DcganConfig;
use dl_gan::sampling::latent_codes;
use dl_gan::train::{GanTrainConfig, train_gan};
use dl_gan::{Discriminator, Generator};
use dl_lstm::{LstmConfig, SeriesBatcher};
use dl_rnn::{GruConfig, HeadConfig, RnnConfig, SequenceModelConfig, SequenceTask, TokenSequenceBatcher};

/// The compiled backends and their devices. CUDA, when compiled in on a
/// machine without a CUDA device, is left out with a line saying so; every
/// other compiled backend must have its device (CI installs lavapipe for wgpu).
fn backends() -> Vec<(Backend, Device)> {
    let mut out = Vec::new();
    for backend in Backend::compiled() {
        match backend.device() {
            Ok(d) => out.push((backend, d)),
            Err(e) if backend == Backend::Cuda => eprintln!("conformance: cuda skipped: {e}"),
            Err(e) => panic!("{backend}: {e}"),
        }
    }
    out
}

/// The backends other than flex, the reference, with their devices.
fn others() -> Vec<(Backend, Device)> {
    backends().into_iter().filter(|(b, _)| *b != Backend::Flex).collect()
}

#[test]
fn committed_fixtures_pass_on_every_other_backend() {
    let _rng = rng_lock();
    let mut registry = Registry::with_layers();
    dl_cnn::parity::register(&mut registry);
    dl_rnn::parity::register(&mut registry);
    dl_lstm::parity::register(&mut registry);
    dl_transformer::parity::register(&mut registry);
    let mut paths: Vec<_> = std::fs::read_dir(workspace_root().join("fixtures/parity"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 35, "{} committed fixtures", paths.len());
    for (backend, d) in others() {
        for p in &paths {
            let verdict = check_one(&registry, p, &d);
            assert!(matches!(verdict, Verdict::Pass(_)), "{backend} {}: {verdict:?}", p.display());
        }
    }
}

#[test]
fn a_cnn_computes_and_trains_on_every_backend() {
    let _rng = rng_lock();
    let flex = device();
    flex.seed(2);
    let lenet8 = |d: &Device| LeNet5Config::new().with_input_size([8, 8]).with_c2_padding(2).init(d).unwrap();
    let model = lenet8(&flex);
    let train = load_digits(&DataDirs::resolve(None)).expect("embedded digits load").train;
    let refs: Vec<&dl_cnn::ImageItem> = train[..16].iter().collect();
    let batcher = ImageBatcher::new(1, 8, 8);
    let batch = |d: &Device| dl_core::Batcher::batch(&batcher, &refs, d).unwrap().images;
    let reference = to_f32(model.forward(batch(&flex))).unwrap();
    for (backend, d) in backends() {
        let got = to_f32(model.clone().to_device(&d).forward(batch(&d))).unwrap();
        assert!(max_diff(&reference, &got) < 1e-4, "{backend}: max diff {}", max_diff(&reference, &got));
        // Two short epochs of training on this backend lower the loss.
        let ad = d.autodiff();
        let cfg = TrainConfig {
            epochs: 2,
            batch_size: 32,
            max_batches_per_epoch: Some(15),
            progress: false,
            ..TrainConfig::default()
        };
        let r = fit(lenet8(&ad), &train, None, &batcher, &cfg, &ad).unwrap();
        assert!(r.history.epochs[1].train_loss < r.history.epochs[0].train_loss, "{backend}");
    }
}

#[test]
fn recurrent_layers_compute_and_train_on_every_backend() {
    let _rng = rng_lock();
    let flex = device();
    flex.seed(10);
    let gru = GruConfig::new(3, 4).with_num_layers(2).with_bidirectional(true).init(&flex).unwrap();
    let lstm = LstmConfig::new(3, 5).with_proj_size(2).with_bidirectional(true).init(&flex).unwrap();
    let x = random([2, 5, 3], &flex);
    let gru_ref = values(gru.forward(x.clone(), Some(&[5, 3]), None).unwrap().output);
    let lstm_ref = values(lstm.forward(x.clone(), Some(&[5, 2]), None).unwrap().output);
    for (backend, d) in backends() {
        let xd = x.clone().to_device(&d);
        let got = values(gru.clone().to_device(&d).forward(xd.clone(), Some(&[5, 3]), None).unwrap().output);
        assert!(max_diff(&gru_ref, &got) < 1e-5, "{backend} GRU");
        let got = values(lstm.clone().to_device(&d).forward(xd, Some(&[5, 2]), None).unwrap().output);
        assert!(max_diff(&lstm_ref, &got) < 1e-5, "{backend} LSTM");
        // An Elman classifier and an LSTM regressor learn on this backend.
        let ad = d.autodiff();
        let cfg = SequenceModelConfig {
            encoder: RnnConfig::new(8, 12),
            head: HeadConfig::new(SequenceTask::Classify { classes: 2 }).with_vocab_size(Some(8)),
        };
        let tc = TrainConfig { epochs: 3, batch_size: 16, lr: 1e-2, progress: false, ..TrainConfig::default() };
        let batcher = TokenSequenceBatcher { pad_id: 0, max_len: 16 };
        let r = fit(cfg.init(&ad).unwrap(), &token_task(64, 11), None, &batcher, &tc, &ad).unwrap();
        assert!(r.history.epochs[2].train_loss < r.history.epochs[0].train_loss, "{backend} RNN");
        let cfg = dl_lstm::SequenceModelConfig {
            encoder: LstmConfig::new(2, 8),
            head: dl_lstm::HeadConfig::new(dl_lstm::SequenceTask::Regress { outputs: 1 }),
        };
        let train = dl_core::data::synthetic::adding_problem(128, 6, 2).unwrap();
        let tc = TrainConfig { batch_size: 32, ..tc };
        let r = fit(cfg.init(&ad).unwrap(), &train, None, &SeriesBatcher, &tc, &ad).unwrap();
        assert!(r.history.epochs[2].train_loss < r.history.epochs[0].train_loss, "{backend} LSTM");
    }
}

#[test]
fn a_gan_computes_and_trains_on_every_backend() {
    let _rng = rng_lock();
    let flex = device();
    flex.seed(17);
    let cfg = DcganConfig::new().with_base_channels(8).with_latent_dim(16).with_spectral_norm(true);
    let gan = cfg.init(&flex).unwrap();
    let z = latent_codes(4, 16, 3, &flex);
    let reference = to_f32(gan.generator.forward(z.clone(), None)).unwrap();
    let ref_scores = to_f32(gan.discriminator.forward(gan.generator.forward(z, None), None)).unwrap();
    let data = GanData::new(vec![-0.5; 784 * 64], 784, None).unwrap();
    for (backend, d) in backends() {
        let g = gan.generator.clone().to_device(&d);
        let disc = gan.discriminator.clone().to_device(&d);
        let z = latent_codes(4, 16, 3, &d);
        let got = to_f32(g.forward(z.clone(), None)).unwrap();
        assert!(max_diff(&reference, &got) < 1e-4, "{backend}: generator");
        let scores = to_f32(disc.forward(g.forward(z, None), None)).unwrap();
        assert!(max_diff(&ref_scores, &scores) < 1e-3, "{backend}: discriminator");
        let ad = d.autodiff();
        ad.seed(1);
        let fresh = cfg.init(&ad).unwrap();
        let tc = GanTrainConfig {
            epochs: 1,
            batch_size: 32,
            max_steps_per_epoch: Some(2),
            progress: false,
            ..GanTrainConfig::default()
        };
        let r = train_gan(fresh.generator, fresh.discriminator, &data, &tc, &ad).unwrap();
        assert!(r.state.epochs[0].d_loss.is_finite(), "{backend}");
    }
}

/// Every float parameter of `model`, in visiting order.
fn parameters<M: Module>(model: &M) -> Vec<f32> {
    struct All(Vec<f32>);
    impl burn::module::ModuleVisitor for All {
        fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<burn::tensor::Tensor<D>>) {
            self.0.extend(values(param.val()));
        }
    }
    let mut all = All(Vec::new());
    model.visit(&mut all);
    all.0
}

#[test]
fn data_parallel_training_takes_the_combined_batch_step() {
    let _rng = rng_lock();
    let train = load_digits(&DataDirs::resolve(None)).expect("embedded digits load").train;
    let batcher = ImageBatcher::new(1, 8, 8);
    // 30 examples a step: shards of 8, 8, 7, 7 on four devices, 15 and 15 on two.
    let cfg = TrainConfig {
        epochs: 3,
        batch_size: 30,
        max_batches_per_epoch: Some(4),
        lr: 0.05,
        optimizer: dl_core::train::OptimizerKind::Sgd { momentum: 0.9, weight_decay: 0.0 },
        progress: false,
        ..TrainConfig::default()
    };
    let run = |devices: &[Device]| {
        devices[0].seed(5);
        let model = LeNet5Config::new().with_input_size([8, 8]).with_c2_padding(2).init(&devices[0]).unwrap();
        let before = parameters(&model);
        let r = dl_core::train::fit_data_parallel(model, &train, None, &batcher, &cfg, devices).unwrap();
        (before, parameters(&r.model.to_device(&device())), r.history.epochs[2].train_loss)
    };
    let flex = device().autodiff();
    let (start, one, loss) = run(std::slice::from_ref(&flex));
    let moved = max_diff(&start, &one);
    assert!(moved > 1e-2, "training moved the parameters by {moved}");
    let mut layouts = vec![vec![flex.clone(); 2], vec![flex.clone(); 4]];
    // Replicas on different backends: the shards' gradients cross devices.
    layouts.extend(others().into_iter().map(|(_, d)| vec![flex.clone(), d.autodiff()]));
    for devices in layouts {
        let (same_start, got, got_loss) = run(&devices);
        assert_eq!(start, same_start);
        let diff = max_diff(&one, &got);
        assert!(diff < 1e-5, "{devices:?}: parameters differ from one device's by {diff}");
        assert!((loss - got_loss).abs() < 1e-5, "{devices:?}: loss {got_loss} against {loss}");
    }
}

#[test]
fn a_gpu_is_picked_by_index_and_a_missing_one_is_named() {
    if !Backend::Wgpu.is_compiled() {
        return eprintln!("conformance: wgpu not compiled in, device indices not tested");
    }
    let first: dl_core::DeviceSpec = "wgpu:0".parse().unwrap();
    let d = first.device().unwrap();
    let x = random([2, 3], &device());
    assert_eq!(values(x.clone().to_device(&d).mul_scalar(2.0)), values(x.mul_scalar(2.0)));
    let err = "wgpu:64".parse::<dl_core::DeviceSpec>().unwrap().device().unwrap_err().to_string();
    assert!(err.contains("`wgpu:64` is not available") && err.contains("index 64 is out of range"), "{err}");
}

#[test]
fn data_parallel_training_with_batch_norm_learns_and_validates_on_the_first_device() {
    let _rng = rng_lock();
    let data = load_digits(&DataDirs::resolve(None)).expect("embedded digits load");
    let batcher = ImageBatcher::new(1, 8, 8);
    let cfg = TrainConfig {
        epochs: 2,
        batch_size: 32,
        max_batches_per_epoch: Some(6),
        progress: false,
        ..TrainConfig::default()
    };
    let flex = device().autodiff();
    let mut layouts = vec![vec![flex.clone(); 2]];
    layouts.extend(others().into_iter().map(|(_, d)| vec![flex.clone(), d.autodiff()]));
    for devices in layouts {
        flex.seed(8);
        let model = dl_cnn::VggConfig::digits8x8().init(&flex).unwrap();
        // Validation runs on the first device after every epoch: the running
        // statistics the replicas updated must be usable there.
        let r = dl_core::train::fit_data_parallel(model, &data.train, Some(&data.test), &batcher, &cfg, &devices)
            .unwrap_or_else(|e| panic!("{devices:?}: {e}"));
        let [first, last] = [&r.history.epochs[0], &r.history.epochs[1]];
        assert!(last.train_loss < first.train_loss, "{devices:?}: {} -> {}", first.train_loss, last.train_loss);
        let accuracy = r.valid.as_ref().and_then(|v| v.accuracy()).unwrap();
        assert!(accuracy > 0.5, "{devices:?}: validation accuracy {accuracy}");
    }
}

#[test]
fn data_parallel_gan_training_takes_the_combined_batch_steps() {
    let _rng = rng_lock();
    let data = dl_gan::data::Mixture::ring8().data(240, 1).unwrap();
    // 29 samples a step: shards of 15 and 14 on two devices, 8, 7, 7, 7 on
    // four (uneven, so that weighting the shards alike shows even through
    // Adam, which ignores a common scale); two discriminator steps per
    // generator step.
    let cfg = GanTrainConfig {
        epochs: 2,
        batch_size: 29,
        max_steps_per_epoch: Some(4),
        d_steps: 2,
        progress: false,
        ..GanTrainConfig::default()
    };
    let run = |devices: &[Device], cfg: &GanTrainConfig| {
        devices[0].seed(9);
        let gan = dl_gan::models::mlp::MlpGanConfig::new().with_hidden(32).with_layers(2).init(&devices[0]).unwrap();
        let r = dl_gan::train_gan_data_parallel(gan.generator, gan.discriminator, &data, cfg, devices).unwrap();
        let flex = device();
        let losses: Vec<f64> = r.state.epochs.iter().flat_map(|e| [e.d_loss, e.g_loss]).collect();
        (parameters(&r.generator.to_device(&flex)), parameters(&r.discriminator.to_device(&flex)), losses)
    };
    let flex = device().autodiff();
    let mut layouts = vec![vec![flex.clone(); 2], vec![flex.clone(); 4]];
    layouts.extend(others().into_iter().map(|(_, d)| vec![flex.clone(), d.autodiff()]));
    // With augmentation (each 2-d sample as a 1 x 2 image: moved by up to one
    // column, one pixel cut), its draws are sharded with the samples.
    let augmented = GanTrainConfig {
        image_shape: Some([1, 1, 2]),
        augment: Some(dl_gan::augment::Augment { shift: 1, cutout: 0.5 }),
        ..cfg.clone()
    };
    for (cfg, layouts) in [(&cfg, &layouts[..]), (&augmented, &layouts[..2])] {
        let (g, d, losses) = run(std::slice::from_ref(&flex), cfg);
        for devices in layouts {
            let (got_g, got_d, got_losses) = run(devices, cfg);
            let (dg, dd) = (max_diff(&g, &got_g), max_diff(&d, &got_d));
            eprintln!("{} devices: generator {dg:.2e}, discriminator {dd:.2e}", devices.len());
            assert!(dg < 1e-5 && dd < 1e-5, "{devices:?}: generator differs by {dg}, discriminator by {dd}");
            for (a, b) in losses.iter().zip(&got_losses) {
                assert!((a - b).abs() < 1e-5, "{devices:?}: losses {got_losses:?} against {losses:?}");
            }
        }
    }
}

#[test]
fn data_parallel_gan_training_with_batch_norm_samples_on_the_first_device() {
    let _rng = rng_lock();
    let flex = device().autodiff();
    let data = GanData::new((0..64 * 96).map(|i| ((i % 13) as f32 / 6.5) - 1.0).collect(), 64, None).unwrap();
    let cfg = GanTrainConfig {
        epochs: 1,
        batch_size: 16,
        max_steps_per_epoch: Some(3),
        progress: false,
        ..GanTrainConfig::default()
    };
    let mut layouts = vec![vec![flex.clone(); 2]];
    layouts.extend(others().into_iter().map(|(_, d)| vec![flex.clone(), d.autodiff()]));
    for devices in layouts {
        flex.seed(4);
        let gan = DcganConfig::new().with_image_size(8).with_base_channels(4).with_latent_dim(8).init(&flex).unwrap();
        let r = dl_gan::train_gan_data_parallel(gan.generator, gan.discriminator, &data, &cfg, &devices)
            .unwrap_or_else(|e| panic!("{devices:?}: {e}"));
        assert_eq!((r.state.d_step, r.state.g_step), (3, 3));
        // The generator's batch-norm statistics, updated by the replicas, serve sampling on the first device.
        let samples = to_f32(r.sampler().forward(latent_codes(4, 8, 1, &device()), None)).unwrap();
        assert!(samples.len() == 4 * 64 && samples.iter().all(|v| v.is_finite()), "{devices:?}");
    }
}

#[test]
fn figures_read_back_every_few_steps_are_those_of_every_step() {
    let _rng = rng_lock();
    let train = load_digits(&DataDirs::resolve(None)).expect("embedded digits load").train;
    let batcher = ImageBatcher::new(1, 8, 8);
    for (backend, d) in backends() {
        let ad = d.autodiff();
        let run = |read_every: usize| {
            ad.seed(6);
            let model = LeNet5Config::new().with_input_size([8, 8]).with_c2_padding(2).init(&ad).unwrap();
            let cfg = TrainConfig {
                epochs: 2,
                batch_size: 32,
                max_batches_per_epoch: Some(9),
                read_every,
                progress: false,
                ..TrainConfig::default()
            };
            let r = fit(model, &train, None, &batcher, &cfg, &ad).unwrap();
            (r.history.epochs.iter().map(|e| (e.train_loss, e.train_metric)).collect::<Vec<_>>(), parameters(&r.model))
        };
        // Read after every step, every 4 steps (9 is not a multiple: the rest is read at the epoch's end), once an epoch.
        let every = run(1);
        for read_every in [4, 100] {
            let later = run(read_every);
            if backend == Backend::Wgpu {
                // On wgpu a read ends a fused kernel, so reading later can fuse the
                // loss's operations differently and change its last bits (seen:
                // 2.301774025 vs 2.301773998); the CPU backends must agree exactly.
                let (a, b) = (&every.0, &later.0);
                for ((la, ma), (lb, mb)) in a.iter().zip(b) {
                    assert!(
                        (la - lb).abs() <= 1e-6 * la.abs() && ma == mb,
                        "{backend}, every {read_every}: {a:?} {b:?}"
                    );
                }
                let d = max_diff(&every.1, &later.1);
                assert!(d <= 1e-5, "{backend}, every {read_every}: parameters differ by {d}");
            } else {
                assert_eq!(every, later, "{backend}, every {read_every}");
            }
        }
    }
}
