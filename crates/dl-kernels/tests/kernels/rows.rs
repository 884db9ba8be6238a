//! GELU, tanh, softmax over the last axis and layer normalisation equal burn's in
//! values and gradients (GELU within the `erf` approximation's 1e-6).

use burn::nn::LayerNormConfig;
use burn::tensor::{Device, Distribution, Tensor, TensorData};

use crate::common::{close_abs, values, weights};

#[test]
fn gelu_equals_burns_within_the_erf_approximation() {
    let ad = Device::flex().autodiff();
    ad.seed(21);
    for dims in [[3, 5, 7], [16, 128, 64]] {
        let x = Tensor::<3>::random(dims, Distribution::Normal(0.0, 3.0), &ad).require_grad();
        let run = |fused: bool| {
            let y = if fused { dl_kernels::gelu(x.clone()) } else { burn::tensor::activation::gelu(x.clone()) };
            let grads = (y.clone() * weights(dims, &ad)).sum().backward();
            [values(y), values(x.grad(&grads).unwrap())]
        };
        let (fused, plain) = (run(true), run(false));
        close_abs(&fused[0], &plain[0], 5e-6, "gelu values");
        close_abs(&fused[1], &plain[1], 5e-6, "gelu gradients");
    }
}

#[test]
fn tanh_equals_burns_within_1e_6() {
    let ad = Device::flex().autodiff();
    ad.seed(24);
    for dims in [[1, 1, 1], [3, 5, 7], [64, 28, 28]] {
        let x = Tensor::<3>::random(dims, Distribution::Normal(0.0, 2.0), &ad).require_grad();
        let run = |fused: bool| {
            let y = if fused { dl_kernels::tanh(x.clone()) } else { x.clone().tanh() };
            let grads = (y.clone() * weights(dims, &ad)).sum().backward();
            [values(y), values(x.grad(&grads).unwrap())]
        };
        let (fused, plain) = (run(true), run(false));
        close_abs(&fused[0], &plain[0], 1e-6, "tanh values");
        close_abs(&fused[1], &plain[1], 2e-6, "tanh gradients");
    }
}

#[test]
fn softmax_equals_burns_with_masked_entries() {
    let ad = Device::flex().autodiff();
    ad.seed(22);
    for dims in [[2, 3, 1, 5], [4, 4, 128, 128]] {
        let x = Tensor::<4>::random(dims, Distribution::Normal(0.0, 2.0), &ad).require_grad();
        // A causal-style additive mask: -1e9 above the diagonal of the last two axes.
        let [_, _, l, s] = dims;
        let m: Vec<f32> = (0..l * s).map(|i| if i % s > i / s { -1e9 } else { 0.0 }).collect();
        let mask = Tensor::<4>::from_data(TensorData::new(m, [1, 1, l, s]), &ad).expand(dims);
        let run = |fused: bool| {
            let scores = x.clone() + mask.clone();
            let y =
                if fused { dl_kernels::softmax_last_dim(scores) } else { burn::tensor::activation::softmax(scores, 3) };
            let grads = (y.clone() * weights(dims, &ad)).sum().backward();
            [values(y), values(x.grad(&grads).unwrap())]
        };
        let (fused, plain) = (run(true), run(false));
        close_abs(&fused[0], &plain[0], 1e-6, "softmax values");
        close_abs(&fused[1], &plain[1], 1e-6, "softmax gradients");
    }
}

#[test]
fn layer_norm_equals_burns_in_values_and_all_gradients() {
    let ad = Device::flex().autodiff();
    ad.seed(23);
    for (dims, bias) in [([2, 3, 5], true), ([16, 128, 128], true), ([4, 1, 7], false)] {
        let d = dims[2];
        let norm = LayerNormConfig::new(d).with_epsilon(1e-5).with_bias(bias).init(&ad);
        // Non-trivial gamma and beta.
        let norm = burn::module::Module::map(norm, &mut Shift);
        let x = Tensor::<3>::random(dims, Distribution::Normal(1.0, 2.0), &ad).require_grad();
        let run = |fused: bool| {
            let y = if fused { dl_kernels::layer_norm(&norm, x.clone(), 1e-5) } else { norm.forward(x.clone()) };
            let grads = (y.clone() * weights(dims, &ad)).sum().backward();
            let mut out = vec![values(y), values(x.grad(&grads).unwrap()), values(norm.gamma.grad(&grads).unwrap())];
            if let Some(b) = &norm.beta {
                out.push(values(b.grad(&grads).unwrap()));
            }
            out
        };
        let (fused, plain) = (run(true), run(false));
        for (what, (a, b)) in ["values", "dx", "dgamma", "dbeta"].iter().zip(fused.iter().zip(&plain)) {
            let scale = b.iter().fold(1.0f32, |m, v| m.max(v.abs()));
            // The parameter gradients sum over every row, in another order
            // than burn's: their rounding grows with the rows summed.
            let rows = (dims[0] * dims[1]) as f32;
            let tol = if what.starts_with("dgamma") || what.starts_with("dbeta") { 1e-7 * rows } else { 2e-6 } * scale;
            close_abs(a, b, tol, &format!("layer norm {what} {dims:?}"));
        }
    }
}

/// Moves every parameter away from its initial value (gamma 1, beta 0).
struct Shift;

impl burn::module::ModuleMapper for Shift {
    fn map_float<const D: usize>(&mut self, param: burn::module::Param<Tensor<D>>) -> burn::module::Param<Tensor<D>> {
        param.map(|t| {
            let n = t.shape().num_elements();
            let (device, dims) = (t.device(), t.dims());
            let shift: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin() * 0.5).collect();
            (t + Tensor::<1>::from_data(TensorData::new(shift, [n]), &device).reshape(dims)).detach().require_grad()
        })
    }
}
