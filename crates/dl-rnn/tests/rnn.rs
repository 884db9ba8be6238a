//! dl-rnn tests: parity with PyTorch (`rnn`, `gru`), variable-length batches
//! against running each sequence alone, bidirectionality, state handling,
//! config and input errors, save/load (backend conformance: tests/conformance.rs
//! at the workspace root). The sequence
//! heads and the encoder-decoder are tested in dl-seq.

use burn::tensor::{Device, Tensor, TensorData};
use dl_core::parity::{Registry, Verdict, check_one};
use dl_core::testing::{device, error_text, max_diff, random, rng_lock, values, workspace_root};
use dl_core::{Error, ModelConfig};
use dl_rnn::*;
use dl_rnn::{EncoderState, SequenceEncoder};
use dl_rnn::{HeadConfig, SequenceInput, SequenceModelConfig, SequenceTask};

fn registry() -> Registry {
    let mut r = Registry::new();
    dl_rnn::parity::register(&mut r);
    r
}

// ------------------------------------------------------------------ parity

fn check_kind_fixtures(kinds: &[&str], d: &Device) -> usize {
    let mut checked = 0;
    // Other backends check the committed fixtures only: on lavapipe every new shape
    // compiles kernels, which costs seconds per fixture.
    let dirs = if *d == device() {
        vec![workspace_root().join("fixtures/parity"), workspace_root().join("../shared/parity/samples")]
    } else {
        vec![workspace_root().join("fixtures/parity")]
    };
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            let hit = kinds.iter().any(|k| text.contains(&format!("\"module\": \"{k}\"")));
            if p.extension().is_some_and(|x| x == "json") && hit {
                match check_one(&registry(), &p, d) {
                    Verdict::Pass(diff) => assert!(diff <= 1e-5, "{} diff {diff}", p.display()),
                    other => panic!("{}: {other:?}", p.display()),
                }
                checked += 1;
            }
        }
    }
    checked
}

#[test]
fn rnn_and_gru_match_pytorch_fixtures() {
    let _rng = rng_lock();
    // Committed: 2 rnn + 2 gru (tools/parity); the shared samples add more when present.
    assert!(check_kind_fixtures(&["rnn", "gru"], &device()) >= 4);
}

#[test]
fn loading_pytorch_weights_names_missing_and_misshaped_keys() {
    let _rng = rng_lock();
    let d = device();
    let fx = dl_core::parity::Fixture::load(&workspace_root().join("fixtures/parity/p_gru_bidir.json")).unwrap();
    // A unidirectional GRU reads the forward keys but the model is smaller than the file.
    let small = GruConfig::new(4, 3).init(&d).unwrap();
    let err = dl_rnn::pytorch::load_gru(small, &fx, "", &d).unwrap_err();
    assert!(err.to_string().contains("weight_ih_l0"), "{err}");
    // A prefix that does not exist names the key it looked for.
    let gru = GruConfig::new(4, 5).init(&d).unwrap();
    let err = dl_rnn::pytorch::load_gru(gru, &fx, "encoder.", &d).unwrap_err();
    assert!(err.to_string().contains("encoder.weight_ih_l0"), "{err}");
}

// ------------------------------------------------------------------ masking

/// Runs each sequence alone (unpadded) and compares with the padded batch.
fn check_lengths_against_single<E: SequenceEncoder>(enc: &E, width: usize, d: &Device) {
    let lengths = [5usize, 3, 1, 4];
    let (b, t) = (lengths.len(), 5);
    let x = random([b, t, width], d);
    let batch = enc.encode(x.clone(), Some(&lengths), None).unwrap();
    let out = values(batch.output.clone());
    let out_w = enc.output_size();
    for (i, &len) in lengths.iter().enumerate() {
        let xi = x.clone().slice([i..i + 1, 0..len, 0..width]);
        let alone = enc.encode(xi, None, None).unwrap();
        let alone_out = values(alone.output);
        // Real steps equal the unpadded run; padded steps are zero.
        let got: Vec<f32> = out[i * t * out_w..(i * t + len) * out_w].to_vec();
        assert!(max_diff(&got, &alone_out) < 1e-5, "sequence {i}: outputs differ");
        let pad = &out[(i * t + len) * out_w..(i + 1) * t * out_w];
        assert!(pad.iter().all(|v| *v == 0.0), "sequence {i}: padded outputs are not zero");
        // Final states: every layer and direction.
        let rows = batch.state.h.dims()[0];
        let hid = batch.state.h.dims()[2];
        let h_batch = values(batch.state.h.clone().slice([0..rows, i..i + 1, 0..hid]));
        assert!(max_diff(&h_batch, &values(alone.state.h)) < 1e-5, "sequence {i}: final states differ");
        let last = values(batch.last.clone().slice([i..i + 1, 0..out_w]));
        assert!(max_diff(&last, &values(alone.last)) < 1e-5, "sequence {i}: summaries differ");
    }
}

#[test]
fn padded_steps_never_change_outputs_or_final_states() {
    let _rng = rng_lock();
    let d = device();
    d.seed(1);
    let rnn = RnnConfig::new(3, 4).with_num_layers(2).with_bidirectional(true).init(&d).unwrap();
    check_lengths_against_single(&rnn, 3, &d);
    let relu = RnnConfig::new(3, 4).with_nonlinearity(Nonlinearity::Relu).init(&d).unwrap();
    check_lengths_against_single(&relu, 3, &d);
    let gru = GruConfig::new(3, 5).with_num_layers(3).with_bidirectional(true).init(&d).unwrap();
    check_lengths_against_single(&gru, 3, &d);
}

// ------------------------------------------------------------------ directions and state

#[test]
fn the_reverse_direction_reads_the_sequence_backwards() {
    let _rng = rng_lock();
    let d = device();
    d.seed(2);
    let bi = GruConfig::new(3, 4).with_bidirectional(true).init(&d).unwrap();
    // A forward-only GRU with the reverse cell's weights, fed the time-reversed input.
    let mut uni = GruConfig::new(3, 4).init(&d).unwrap();
    uni.forward[0] = bi.reverse[0].clone();
    let x = random([2, 6, 3], &d);
    let rev_x = x.clone().flip([1]);
    let a = bi.forward(x, None, None).unwrap();
    let b = uni.forward(rev_x, None, None).unwrap();
    let rev_half = a.output.slice([0..2, 0..6, 4..8]).flip([1]);
    assert!(max_diff(&values(rev_half), &values(b.output)) < 1e-5);
    // h_n rows: forward then reverse; the reverse row is the state after t = 0.
    let h_rev = a.state.h.slice([1..2, 0..2, 0..4]);
    assert!(max_diff(&values(h_rev), &values(b.state.h)) < 1e-5);
}

#[test]
fn a_sequence_split_in_two_continues_from_the_carried_state() {
    let _rng = rng_lock();
    let d = device();
    d.seed(3);
    let rnn = RnnConfig::new(2, 6).with_num_layers(2).init(&d).unwrap();
    let x = random([3, 8, 2], &d);
    let whole = rnn.forward(x.clone(), None, None).unwrap();
    let first = rnn.forward(x.clone().slice([0..3, 0..5, 0..2]), None, None).unwrap();
    let second = rnn.forward(x.slice([0..3, 5..8, 0..2]), None, Some(first.state)).unwrap();
    assert!(max_diff(&values(whole.state.h), &values(second.state.h)) < 1e-5);
    let tail = whole.output.slice([0..3, 5..8, 0..6]);
    assert!(max_diff(&values(tail), &values(second.output)) < 1e-5);
    // A non-zero initial state changes the result.
    let h0 = EncoderState { h: Tensor::ones([2, 3, 6], &d), c: None };
    let x = random([3, 8, 2], &d);
    let from_ones = rnn.forward(x.clone(), None, Some(h0)).unwrap();
    let from_zeros = rnn.forward(x, None, None).unwrap();
    assert!(max_diff(&values(from_ones.output), &values(from_zeros.output)) > 1e-4);
}

// ------------------------------------------------------------------ errors

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

// ------------------------------------------------------------------ save / load

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

// ------------------------------------------------------------------ fused layer

/// The fused Elman layer (flex's default path) equals the step-by-step
/// composition in values and gradients, for tanh and ReLU, padding, two
/// layers and both directions.
#[test]
fn the_fused_layer_equals_the_composition_in_values_and_gradients() {
    let _rng = rng_lock();
    let ad = device().autodiff();
    ad.seed(3);
    // The last case has enough sequences to split the batch into blocks
    // that run on separate threads.
    let many: Vec<usize> = (0..19).map(|i| 1 + i % 5).collect();
    for (cfg, lengths, t) in [
        (RnnConfig::new(3, 5), None, 1),
        (RnnConfig::new(3, 5).with_num_layers(2).with_bidirectional(true), Some(vec![4usize, 1, 3]), 4),
        (RnnConfig::new(2, 7).with_nonlinearity(Nonlinearity::Relu), Some(vec![6usize, 6, 2]), 6),
        (RnnConfig::new(4, 6).with_bidirectional(true), Some(many.clone()), 5),
    ] {
        let rnn = cfg.init(&ad).unwrap();
        let rows = rnn.num_layers() * rnn.directions();
        let n = lengths.as_ref().map_or(3, Vec::len);
        let x = random([n, t, cfg.input_size], &ad).require_grad();
        let h0 = random([rows, n, cfg.hidden_size], &ad).require_grad();
        let run = |fused: bool| {
            let state = Some(EncoderState { h: h0.clone(), c: None });
            let out = if fused {
                rnn.forward(x.clone(), lengths.as_deref(), state).unwrap()
            } else {
                rnn.forward_with(x.clone(), lengths.as_deref(), state, &mut PlainStep).unwrap()
            };
            let dims = out.output.dims();
            let n = dims.iter().product::<usize>();
            let weights: Vec<f32> = (0..n).map(|i| (i % 7) as f32 * 0.1 - 0.3).collect();
            let w_out = Tensor::<3>::from_data(TensorData::new(weights, dims), &ad);
            let loss = (out.output.clone() * w_out).sum() + (out.state.h.clone() * 0.3).sum();
            let grads = loss.backward();
            let mut g = vec![values(x.grad(&grads).unwrap()), values(h0.grad(&grads).unwrap())];
            for cell in rnn.forward.iter().chain(&rnn.reverse) {
                g.push(values(cell.input.weight.val().grad(&grads).unwrap()));
                g.push(values(cell.hidden.weight.val().grad(&grads).unwrap()));
                g.push(values(cell.hidden.bias.as_ref().unwrap().val().grad(&grads).unwrap()));
            }
            (values(out.output), values(out.state.h), g)
        };
        let (fo, fh, fg) = run(true);
        let (co, ch, cg) = run(false);
        let what = format!("{cfg:?} lengths {lengths:?}");
        assert!(max_diff(&fo, &co) < 1e-5 && max_diff(&fh, &ch) < 1e-5, "{what}");
        for (i, (f, c)) in fg.iter().zip(&cg).enumerate() {
            assert!(max_diff(f, c) < 1e-5, "{what}: gradient {i} differs by {}", max_diff(f, c));
        }
    }
}
