//! Config and input errors; save and load.

use super::*;

#[test]
fn invalid_configs_and_inputs_are_errors() {
    let _rng = rng_lock();
    let d = device();
    assert!(error_text(RnnConfig::new(0, 4).init(&d)).contains("input_size"));
    assert!(error_text(GruConfig::new(3, 0).init(&d)).contains("hidden_size"));
    assert!(error_text(GruConfig::new(3, 4).with_num_layers(0).init(&d)).contains("num_layers"));
    assert!(error_text(RnnConfig::new(3, 4).with_dropout(0.5).init(&d)).contains("dropout"));
    assert!(error_text(RnnConfig::new(3, 4).with_num_layers(2).with_dropout(1.5).init(&d)).contains("dropout"));
    let rnn = RnnConfig::new(3, 4).with_num_layers(2).init(&d).unwrap();
    // Wrong feature width, empty sequence.
    assert!(error_text(rnn.forward(Tensor::zeros([2, 5, 4], &d), None, None)).contains("[batch >= 1, steps >= 1, 3]"));
    assert!(rnn.forward(Tensor::zeros([2, 0, 3], &d), None, None).is_err());
    // Lengths: wrong count, zero, longer than the batch.
    let x = Tensor::<3>::zeros([2, 5, 3], &d);
    assert!(error_text(rnn.forward(x.clone(), Some(&[5]), None)).contains("2 sequence lengths"));
    assert!(error_text(rnn.forward(x.clone(), Some(&[5, 0]), None)).contains("sequence 1"));
    assert!(error_text(rnn.forward(x.clone(), Some(&[6, 1]), None)).contains("1..=5"));
    // Initial states: wrong shape, or a cell state given to a network without one.
    let bad = EncoderState { h: Tensor::zeros([1, 2, 4], &d), c: None };
    assert!(error_text(rnn.forward(x.clone(), None, Some(bad))).contains("h0"));
    let with_c = EncoderState { h: Tensor::zeros([2, 2, 4], &d), c: Some(Tensor::zeros([2, 2, 4], &d)) };
    assert!(error_text(rnn.forward(x, None, Some(with_c))).contains("c0"));
}

#[test]
fn save_load_is_bit_exact_and_rejects_other_configs() {
    let _rng = rng_lock();
    let d = device();
    d.seed(9);
    let config = SequenceModelConfig {
        encoder: GruConfig::new(3, 5).with_num_layers(2).with_bidirectional(true),
        head: HeadConfig::new(SequenceTask::Regress { outputs: 2 }),
    };
    let model = config.init(&d).unwrap();
    let dir = std::env::temp_dir().join(format!("dl-rnn-test-{}-save", std::process::id()));
    dl_core::checkpoint::save_model(&config, &model, &dir).unwrap();
    let (cfg2, loaded) = dl_core::checkpoint::load_model::<SequenceModelConfig<GruConfig>>(&dir, &d).unwrap();
    assert_eq!(cfg2, config);
    let x = random([2, 4, 3], &d);
    let a = values(model.forward(SequenceInput::Features(x.clone()), &[4, 2]).unwrap());
    let b = values(loaded.forward(SequenceInput::Features(x), &[4, 2]).unwrap());
    assert_eq!(a, b, "bit-exact");
    let other = SequenceModelConfig { encoder: GruConfig::new(3, 6), head: config.head.clone() }.init(&d).unwrap();
    let err = dl_core::checkpoint::load_weights(other, dir.join("model.bpk")).unwrap_err();
    assert!(matches!(err, Error::Checkpoint { .. }), "{err}");
}
