//! Padded batches, directions, carried state, gates, forget bias and peepholes.

use super::*;

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
    // The heatmaps of the first layer on the first sequence: three PNGs that
    // differ; step marks of another length are an error naming both counts.
    let dir = dl_core::testing::temp_dir("dl-lstm", "gate-heatmaps");
    let marked = [false, true, false, false, true];
    dl_lstm::gates::gate_heatmaps(&gates, &marked, &dir.join("gates")).unwrap();
    let read = |name: &str| std::fs::read(dir.join(format!("gates_{name}.png"))).unwrap();
    let [input, forget, cell] = ["input", "forget", "cell"].map(read);
    for png in [&input, &forget, &cell] {
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    }
    assert!(input != forget && forget != cell);
    let err = dl_lstm::gates::gate_heatmaps(&gates, &marked[..4], &dir.join("gates")).unwrap_err();
    assert!(matches!(&err, Error::Shape { expected, got, .. } if expected.starts_with('5') && got == "4"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
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
