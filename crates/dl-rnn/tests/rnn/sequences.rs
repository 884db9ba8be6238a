//! Padded batches, directions and carried state.

use super::*;

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
