//! The fused LSTM layer against the composition.

use super::*;

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
