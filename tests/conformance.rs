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

/// The backends other than flex, the reference.
fn others() -> Vec<Backend> {
    Backend::compiled().into_iter().filter(|b| *b != Backend::Flex).collect()
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
    for backend in others() {
        let d = backend.device().unwrap();
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
    for backend in Backend::compiled() {
        let d = backend.device().unwrap();
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
    for backend in Backend::compiled() {
        let d = backend.device().unwrap();
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
    for backend in Backend::compiled() {
        let d = backend.device().unwrap();
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
