//! The fused linear layer equals burn's `Linear::forward` in values and in
//! the gradients of the input, the weight and the bias.

use burn::nn::LinearConfig;
use burn::tensor::{Device, Distribution, Tensor};

mod common;
use common::{close, values, weights};

#[test]
fn linear_equals_burns_in_values_and_all_gradients() {
    let ad = Device::flex().autodiff();
    ad.seed(31);
    assert!(dl_kernels::fused_on(&ad));
    // (input dims, d_out, bias, read through a transposed view): one row,
    // odd sizes, a product large enough for several threads, no bias, and an
    // input that is not contiguous.
    let cases = [([1, 1, 7], 3, true, false), ([3, 5, 7], 9, true, false), ([16, 128, 128], 512, true, false)];
    let more = [([2, 4, 6], 5, false, false), ([3, 6, 5], 4, true, true)];
    for (dims, d_out, bias, transposed) in cases.into_iter().chain(more) {
        let layer = LinearConfig::new(dims[2], d_out).with_bias(bias).init(&ad);
        let x = if transposed {
            let [b, t, d] = dims;
            Tensor::<3>::random([b, d, t], Distribution::Normal(0.0, 1.0), &ad).require_grad()
        } else {
            Tensor::<3>::random(dims, Distribution::Normal(0.0, 1.0), &ad).require_grad()
        };
        let out_dims = [dims[0], dims[1], d_out];
        let run = |fused: bool| {
            let input = if transposed { x.clone().swap_dims(1, 2) } else { x.clone() };
            let y = if fused { dl_kernels::linear(&layer, input) } else { layer.forward(input) };
            let grads = (y.clone() * weights(out_dims, &ad)).sum().backward();
            let mut out = vec![values(y), values(x.grad(&grads).unwrap()), values(layer.weight.grad(&grads).unwrap())];
            if let Some(b) = &layer.bias {
                out.push(values(b.grad(&grads).unwrap()));
            }
            out
        };
        let (fused, plain) = (run(true), run(false));
        for (i, what) in
            ["values", "input gradient", "weight gradient", "bias gradient"].iter().enumerate().take(fused.len())
        {
            close(&fused[i], &plain[i], &format!("linear {dims:?} -> {d_out} (bias {bias}): {what}"));
        }
    }
}

#[test]
fn linear_without_autodiff_and_on_a_vector_equals_burns() {
    let device = Device::flex();
    device.seed(32);
    let layer = LinearConfig::new(6, 4).init(&device);
    let x = Tensor::<1>::random([6], Distribution::Normal(0.0, 1.0), &device);
    close(&values(dl_kernels::linear(&layer, x.clone())), &values(layer.forward(x)), "vector input");
    let x = Tensor::<2>::random([5, 6], Distribution::Normal(0.0, 1.0), &device);
    close(&values(dl_kernels::linear(&layer, x.clone())), &values(layer.forward(x)), "matrix input");
}
