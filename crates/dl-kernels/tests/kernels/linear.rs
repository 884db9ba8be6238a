//! The fused linear layer equals burn's `Linear::forward` in values and in
//! the gradients of the input, the weight and the bias.

use burn::nn::LinearConfig;
use burn::tensor::{Device, Distribution, Tensor};

use crate::common::{close, values, weights};

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

#[test]
fn spectral_normalization_equals_the_composition_in_values_estimate_and_gradient() {
    let ad = Device::flex().autodiff();
    ad.seed(33);
    assert!(dl_kernels::fused_on(&ad));
    // (rows, cols, power-iteration steps): a vector, odd sizes, a discriminator
    // layer, a flattened convolution kernel, several steps.
    for (rows, cols, steps) in [(1, 5, 1), (7, 3, 1), (128, 128, 1), (64, 512, 1), (9, 11, 4)] {
        let w = Tensor::<2>::random([rows, cols], Distribution::Normal(0.0, 0.3), &ad).require_grad();
        let u0 = Tensor::<1>::random([rows], Distribution::Normal(0.0, 1.0), &ad);
        let u0 = u0.clone() / u0.powf_scalar(2.0).sum().sqrt();
        let run = |fused: bool| {
            let out = if fused {
                dl_kernels::spectral_normalize(w.clone(), u0.clone(), steps)
            } else {
                dl_kernels::spectral_normalize_composed(w.clone(), u0.clone(), steps)
            };
            let grads = (out.weight.clone() * weights([rows, cols], &ad)).sum().backward();
            [values(out.weight), values(out.u), values(w.grad(&grads).unwrap())]
        };
        let (fused, composed) = (run(true), run(false));
        for (i, what) in ["values", "singular-vector estimate", "weight gradient"].iter().enumerate() {
            close(&fused[i], &composed[i], &format!("spectral {rows}x{cols}, {steps} steps: {what}"));
        }
    }
}

/// The largest singular value of a row-major `rows x cols` matrix (power
/// iteration on `AᵀA` in f64, to convergence for these small matrices).
fn largest_singular_value(a: &[f32], cols: usize) -> f64 {
    let mut x = vec![1.0f64; cols];
    let mut s = 0.0;
    for _ in 0..2000 {
        let ax: Vec<f64> = a.chunks(cols).map(|r| r.iter().zip(&x).map(|(&p, q)| f64::from(p) * q).sum()).collect();
        let mut atax = vec![0.0f64; cols];
        for (r, y) in a.chunks(cols).zip(&ax) {
            atax.iter_mut().zip(r).for_each(|(t, &p)| *t += f64::from(p) * y);
        }
        let norm = atax.iter().map(|t| t * t).sum::<f64>().sqrt();
        s = norm.sqrt();
        x = atax.into_iter().map(|t| t / norm).collect();
    }
    s
}

#[test]
fn spectral_normalization_gives_a_largest_singular_value_of_one() {
    let device = Device::flex();
    device.seed(35);
    let w = Tensor::<2>::random([9, 5], Distribution::Normal(0.0, 2.0), &device);
    let u = Tensor::<1>::ones([9], &device) / 3.0;
    let before = largest_singular_value(&values(w.clone()), 5);
    let out = dl_kernels::spectral_normalize(w, u, 200);
    let after = largest_singular_value(&values(out.weight), 5);
    assert!(before > 2.0, "the test matrix is not already normalised (σ = {before})");
    assert!((after - 1.0).abs() < 1e-4, "σ(W / σ(W)) = {after}, not 1");
}

#[test]
fn spectral_normalization_without_autodiff_equals_the_composition() {
    let device = Device::flex();
    device.seed(34);
    let w = Tensor::<2>::random([6, 4], Distribution::Normal(0.0, 1.0), &device);
    let u = Tensor::<1>::ones([6], &device) / 6f32.sqrt();
    let fused = dl_kernels::spectral_normalize(w.clone(), u.clone(), 2);
    let composed = dl_kernels::spectral_normalize_composed(w, u, 2);
    close(&values(fused.weight), &values(composed.weight), "values");
    close(&values(fused.u), &values(composed.u), "estimate");
}
