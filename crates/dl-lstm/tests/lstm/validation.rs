//! Config and state errors, training on a short adding problem, save and load.

use super::*;

#[test]
fn invalid_configs_and_states_are_errors() {
    let _rng = rng_lock();
    let d = device();
    let text = |r: dl_core::Result<Lstm>| r.expect_err("expected an error").to_string();
    assert!(text(LstmConfig::new(3, 4).with_proj_size(4).init(&d)).contains("proj_size"));
    assert!(text(LstmConfig::new(3, 0).init(&d)).contains("hidden_size"));
    assert!(text(LstmConfig::new(3, 4).with_dropout(0.2).init(&d)).contains("dropout"));
    assert!(text(LstmConfig::new(3, 4).with_bias(false).init(&d)).contains("forget_bias"));
    let lstm = LstmConfig::new(3, 4).init(&d).unwrap();
    let x = Tensor::<3>::zeros([2, 5, 3], &d);
    let h_only = EncoderState { h: Tensor::zeros([1, 2, 4], &d), c: None };
    assert!(lstm.forward(x.clone(), None, Some(h_only)).unwrap_err().to_string().contains("c0"));
    let bad_c = EncoderState { h: Tensor::zeros([1, 2, 4], &d), c: Some(Tensor::zeros([1, 3, 4], &d)) };
    assert!(lstm.forward(x, None, Some(bad_c)).unwrap_err().to_string().contains("c0"));
}

#[test]
fn an_lstm_solves_a_short_adding_problem() {
    let _rng = rng_lock();
    let d = device().autodiff();
    d.seed(5);
    let train = dl_core::data::synthetic::adding_problem(1024, 10, 1).unwrap();
    let cfg = SequenceModelConfig {
        encoder: LstmConfig::new(2, 16),
        head: HeadConfig::new(SequenceTask::Regress { outputs: 1 }),
    };
    let tc = TrainConfig { epochs: 25, batch_size: 32, lr: 5e-3, progress: false, ..TrainConfig::default() };
    let r = fit(cfg.init(&d).unwrap(), &train, None, &SeriesBatcher, &tc, &d).unwrap();
    let first = r.history.epochs[0].train_loss;
    let last = r.history.epochs.last().unwrap().train_loss;
    // The constant-mean baseline is 0.167.
    assert!(last < 0.03 && last < first / 5.0, "loss {first} -> {last}");
}

#[test]
fn save_load_is_bit_exact_and_rejects_other_configs() {
    let _rng = rng_lock();
    let d = device();
    d.seed(6);
    let config = SequenceModelConfig {
        encoder: LstmConfig::new(3, 6).with_proj_size(2).with_num_layers(2).with_peephole(true),
        head: HeadConfig::new(SequenceTask::Classify { classes: 3 }),
    };
    let model = config.init(&d).unwrap();
    let dir = std::env::temp_dir().join(format!("dl-lstm-test-{}-save", std::process::id()));
    dl_core::checkpoint::save_model(&config, &model, &dir).unwrap();
    let (cfg2, loaded) = dl_core::checkpoint::load_model::<SequenceModelConfig<LstmConfig>>(&dir, &d).unwrap();
    assert_eq!(cfg2, config);
    let x = random([2, 4, 3], &d);
    let a = values(model.forward(SequenceInput::Features(x.clone()), &[4, 1]).unwrap());
    let b = values(loaded.forward(SequenceInput::Features(x), &[4, 1]).unwrap());
    assert_eq!(a, b, "bit-exact");
    let other = SequenceModelConfig { encoder: LstmConfig::new(3, 6), head: config.head.clone() }.init(&d).unwrap();
    let err = dl_core::checkpoint::load_weights(other, dir.join("model.bpk")).unwrap_err();
    assert!(matches!(err, Error::Checkpoint { .. }), "{err}");
}
