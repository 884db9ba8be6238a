//! dl-lstm tests: parity with PyTorch (`lstm`, with h0/c0, layers, directions,
//! proj_size), variable-length batches, bidirectionality, state handling, gate
//! introspection, peepholes, forget-bias initialisation, errors, training,
//! save/load, and the fused layer against the
//! composition.

use burn::tensor::{Device, Tensor};
use dl_core::parity::{Registry, Verdict, check_one};
use dl_core::testing::{device, max_diff, random, rng_lock, values, workspace_root};
use dl_core::train::{TrainConfig, fit};
use dl_core::{Error, ModelConfig};
use dl_lstm::gates::forward_with_gates;
use dl_lstm::*;
use dl_lstm::{EncoderState, RecurrentCell};
use dl_lstm::{HeadConfig, SequenceInput, SequenceModelConfig, SequenceTask, SeriesBatcher};

fn check_lstm_fixtures(d: &Device) -> usize {
    let mut registry = Registry::new();
    dl_lstm::parity::register(&mut registry);
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
            if p.extension().is_some_and(|x| x == "json") && text.contains("\"module\": \"lstm\"") {
                match check_one(&registry, &p, d) {
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
fn lstm_matches_pytorch_fixtures() {
    let _rng = rng_lock();
    // Committed: h0/c0 and proj_size + 2 layers + bidirectional (tools/parity).
    assert!(check_lstm_fixtures(&device()) >= 2);
}

#[test]
fn loading_pytorch_weights_checks_projection_and_peepholes() {
    let _rng = rng_lock();
    let d = device();
    let fx = dl_core::parity::Fixture::load(&workspace_root().join("fixtures/parity/p_lstm_proj_bidir.json")).unwrap();
    // Same sizes without the projection: the weight_hh shape differs and is named.
    let no_proj = LstmConfig::new(5, 6).with_num_layers(2).with_bidirectional(true).init(&d).unwrap();
    let err = dl_lstm::pytorch::load_lstm(no_proj, &fx, "", &d).unwrap_err();
    assert!(err.to_string().contains("weight_hh_l0"), "{err}");
    let peep = LstmConfig::new(5, 6).with_proj_size(3).with_peephole(true).init(&d).unwrap();
    assert!(dl_lstm::pytorch::load_lstm(peep, &fx, "", &d).unwrap_err().to_string().contains("peephole"));
}

#[test]
fn padded_steps_never_change_outputs_or_final_states() {
    let _rng = rng_lock();
    let d = device();
    d.seed(1);
    for cfg in [
        LstmConfig::new(3, 4).with_num_layers(2).with_bidirectional(true),
        LstmConfig::new(3, 6).with_proj_size(2).with_bidirectional(true),
        LstmConfig::new(3, 4).with_peephole(true),
    ] {
        let lstm = cfg.init(&d).unwrap();
        let lengths = [4usize, 1, 3];
        let x = random([3, 4, 3], &d);
        let batch = lstm.forward(x.clone(), Some(&lengths), None).unwrap();
        let w = lstm.directions() * lstm.hidden_size();
        let out = values(batch.output.clone());
        let c = batch.state.c.clone().unwrap();
        let [rows, _, hc] = c.dims();
        for (i, &len) in lengths.iter().enumerate() {
            let alone = lstm.forward(x.clone().slice([i..i + 1, 0..len, 0..3]), None, None).unwrap();
            assert!(max_diff(&out[i * 4 * w..(i * 4 + len) * w], &values(alone.output)) < 1e-5, "{cfg:?} seq {i}");
            assert!(out[(i * 4 + len) * w..(i + 1) * 4 * w].iter().all(|v| *v == 0.0));
            let c_i = values(c.clone().slice([0..rows, i..i + 1, 0..hc]));
            assert!(max_diff(&c_i, &values(alone.state.c.unwrap())) < 1e-5, "{cfg:?} seq {i}: c_n");
        }
    }
}

#[test]
fn the_reverse_direction_reads_the_sequence_backwards_and_states_carry_over() {
    let _rng = rng_lock();
    let d = device();
    d.seed(2);
    let bi = LstmConfig::new(3, 4).with_bidirectional(true).init(&d).unwrap();
    let mut uni = LstmConfig::new(3, 4).init(&d).unwrap();
    uni.forward[0] = bi.reverse[0].clone();
    let x = random([2, 6, 3], &d);
    let a = bi.forward(x.clone(), None, None).unwrap();
    let b = uni.forward(x.flip([1]), None, None).unwrap();
    assert!(max_diff(&values(a.output.slice([0..2, 0..6, 4..8]).flip([1])), &values(b.output)) < 1e-5);

    // Split a sequence; carry (h, c) across the split.
    let lstm = LstmConfig::new(2, 5).with_num_layers(2).init(&d).unwrap();
    let x = random([3, 7, 2], &d);
    let whole = lstm.forward(x.clone(), None, None).unwrap();
    let first = lstm.forward(x.clone().slice([0..3, 0..4, 0..2]), None, None).unwrap();
    let second = lstm.forward(x.slice([0..3, 4..7, 0..2]), None, Some(first.state)).unwrap();
    assert!(max_diff(&values(whole.state.c.unwrap()), &values(second.state.c.unwrap())) < 1e-5);
    assert!(max_diff(&values(whole.state.h), &values(second.state.h)) < 1e-5);
}

#[test]
fn gate_readout_is_consistent_with_the_states() {
    let _rng = rng_lock();
    let d = device();
    d.seed(3);
    let lstm = LstmConfig::new(3, 4).with_num_layers(2).with_bidirectional(true).init(&d).unwrap();
    let x = random([2, 5, 3], &d);
    let lengths = [5usize, 3];
    let (out, gates) = forward_with_gates(&lstm, x.clone(), Some(&lengths), None).unwrap();
    // Same outputs as a plain forward (the fused layer's sigmoid and tanh are
    // polynomial approximations within 1e-6 of the composition's).
    let plain = lstm.forward(x, Some(&lengths), None).unwrap();
    assert!(max_diff(&values(out.output.clone()), &values(plain.output)) < 1e-6);
    assert_eq!(gates.input.dims(), [4, 2, 5, 4]);
    for g in [&gates.input, &gates.forget, &gates.output] {
        let v = values(g.clone());
        assert!(v.iter().all(|x| (0.0..=1.0).contains(x)), "gates are sigmoids");
    }
    // Without a projection, h = o * tanh(c) at every real step of the top forward layer.
    let o = gates.output.clone().slice([2..3, 0..1, 0..5, 0..4]).reshape([5, 4]);
    let c = gates.cell.clone().slice([2..3, 0..1, 0..5, 0..4]).reshape([5, 4]);
    let h = out.output.clone().slice([0..1, 0..5, 0..4]).reshape([5, 4]);
    assert!(max_diff(&values(o * c.tanh()), &values(h)) < 1e-5);
    // The cell read out at each sequence's last real step is c_n (forward rows).
    let c_n = out.state.c.unwrap();
    for (i, &len) in lengths.iter().enumerate() {
        let read = gates.cell.clone().slice([2..3, i..i + 1, len - 1..len, 0..4]).reshape([4]);
        let fin = c_n.clone().slice([2..3, i..i + 1, 0..4]).reshape([4]);
        assert!(max_diff(&values(read), &values(fin)) < 1e-6);
    }
}

#[test]
fn forget_bias_and_peepholes() {
    let _rng = rng_lock();
    let d = device();
    d.seed(4);
    let lstm = LstmConfig::new(2, 3).init(&d).unwrap();
    let b_i = values(lstm.forward[0].input.bias.as_ref().unwrap().val());
    let b_h = values(lstm.forward[0].hidden.bias.as_ref().unwrap().val());
    assert!(b_i[3..6].iter().all(|v| *v == 1.0) && b_h[3..6].iter().all(|v| *v == 0.0));
    assert_eq!(LstmConfig::new(2, 3).with_forget_bias(0.0).init(&d).unwrap().forward[0].cell_size(), Some(3));

    // Zero peepholes are the plain LSTM; non-zero ones change the result.
    let plain = LstmConfig::new(2, 3).init(&d).unwrap();
    let mut peep = LstmConfig::new(2, 3).with_peephole(true).init(&d).unwrap();
    peep.forward[0].input = plain.forward[0].input.clone();
    peep.forward[0].hidden = plain.forward[0].hidden.clone();
    let x = random([2, 4, 2], &d);
    let a = values(plain.forward(x.clone(), None, None).unwrap().output);
    let b = values(peep.forward(x.clone(), None, None).unwrap().output);
    // (The plain LSTM runs the fused layer, the peephole one the composition.)
    assert!(max_diff(&a, &b) < 1e-6);
    peep.forward[0].peephole = Some(burn::module::Param::from_tensor(Tensor::ones([3, 3], &d)));
    let c = values(peep.forward(x, None, None).unwrap().output);
    assert!(max_diff(&a, &c) > 1e-3);
}

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
    let train = dl_core::data::synthetic::adding_problem(1024, 10, 1);
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

// ------------------------------------------------------------------ fused layer

/// The fused LSTM layer (flex's default path) equals the step-by-step
/// composition in values and in the gradients of the input, every weight and
/// bias, and the initial states: odd sizes, length-1 sequences, padding,
/// two layers, both directions.
#[test]
fn the_fused_layer_equals_the_composition_in_values_and_gradients() {
    let _rng = rng_lock();
    let ad = device().autodiff();
    ad.seed(3);
    assert!(dl_kernels::fused_on(&ad), "flex runs the fused layer");
    // The last case has enough sequences to split the batch into blocks
    // that run on separate threads.
    let many: Vec<usize> = (0..19).map(|i| 1 + i % 5).collect();
    for (cfg, lengths, t) in [
        (LstmConfig::new(3, 5), None, 1),
        (LstmConfig::new(3, 5).with_num_layers(2).with_bidirectional(true), Some(vec![4usize, 1, 3]), 4),
        (LstmConfig::new(2, 7).with_forget_bias(0.0), Some(vec![6usize, 6, 2]), 6),
        (LstmConfig::new(4, 6).with_bidirectional(true), Some(many.clone()), 5),
    ] {
        let lstm = cfg.init(&ad).unwrap();
        assert!(lstm.forward.iter().all(RecurrentCell::fusable));
        let rows = lstm.num_layers() * lstm.directions();
        let n = lengths.as_ref().map_or(3, Vec::len);
        let x = random([n, t, cfg.input_size], &ad).require_grad();
        let h0 = random([rows, n, cfg.hidden_size], &ad).require_grad();
        let c0 = random([rows, n, cfg.hidden_size], &ad).require_grad();
        let state = || Some(EncoderState { h: h0.clone(), c: Some(c0.clone()) });
        let run = |fused: bool| {
            let out = if fused {
                lstm.forward(x.clone(), lengths.as_deref(), state()).unwrap()
            } else {
                lstm.forward_with(x.clone(), lengths.as_deref(), state(), &mut PlainStep).unwrap()
            };
            // A loss that weighs every output and final state differently.
            let dims = out.output.dims();
            let n = dims.iter().product::<usize>();
            let weights: Vec<f32> = (0..n).map(|i| (i % 7) as f32 * 0.1 - 0.3).collect();
            let w_out = Tensor::<3>::from_data(burn::tensor::TensorData::new(weights, dims), &ad);
            let loss = (out.output.clone() * w_out).sum()
                + (out.state.h.clone() * 0.3).sum()
                + (out.state.c.clone().unwrap() * -0.7).sum();
            let grads = loss.backward();
            let mut g = vec![
                values(x.grad(&grads).unwrap()),
                values(h0.grad(&grads).unwrap()),
                values(c0.grad(&grads).unwrap()),
            ];
            for cell in lstm.forward.iter().chain(&lstm.reverse) {
                g.push(values(cell.input.weight.val().grad(&grads).unwrap()));
                g.push(values(cell.hidden.weight.val().grad(&grads).unwrap()));
                g.push(values(cell.input.bias.as_ref().unwrap().val().grad(&grads).unwrap()));
                g.push(values(cell.hidden.bias.as_ref().unwrap().val().grad(&grads).unwrap()));
            }
            (values(out.output), values(out.state.h), values(out.state.c.unwrap()), g)
        };
        let (fo, fh, fc, fg) = run(true);
        let (co, ch, cc, cg) = run(false);
        let what = format!("{cfg:?} lengths {lengths:?}");
        assert!(max_diff(&fo, &co) < 1e-5 && max_diff(&fh, &ch) < 1e-5 && max_diff(&fc, &cc) < 1e-5, "{what}");
        for (i, (f, c)) in fg.iter().zip(&cg).enumerate() {
            assert!(max_diff(f, c) < 1e-5, "{what}: gradient {i} differs by {}", max_diff(f, c));
        }
    }
}
