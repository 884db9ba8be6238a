//! The fused Elman layer against the composition.

use super::*;

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
