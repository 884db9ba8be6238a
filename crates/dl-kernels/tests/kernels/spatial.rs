//! The fused convolutions and max pooling equal burn's `Conv2d`,
//! `ConvTranspose2d` and `MaxPool2d` in values and in the gradients of the
//! input, the weight and the bias.

use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2dConfig, ConvTranspose2dConfig};
use burn::nn::pool::MaxPool2dConfig;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Distribution, Tensor, TensorData};

use crate::common::{close, close_abs, values};

/// A bias gradient is the sum of its channel's output gradients (7,056 of
/// mixed signs in the largest case, a value near 0): it is compared at 1e-4
/// absolute, the rounding of a one-by-one f32 sum of that many terms; the
/// rest at [`close`]'s relative 1e-5.
fn compare(what: &str, a: &[f32], b: &[f32], context: &str) {
    if what == "dbias" { close_abs(a, b, 1e-4, context) } else { close(a, b, context) }
}

/// A loss that weighs every output differently.
fn weighted_sum(y: Tensor<4>) -> Tensor<1> {
    let dims = y.dims();
    let n = dims.iter().product::<usize>();
    let w: Vec<f32> = (0..n).map(|i| ((i * 7) % 11) as f32 * 0.1 - 0.5).collect();
    let w = Tensor::<4>::from_data(TensorData::new(w, dims), &y.device());
    (y * w).sum()
}

#[test]
fn conv2d_equals_burns_in_values_and_gradients() {
    let ad = Device::flex().autodiff();
    ad.seed(7);
    assert!(dl_kernels::fused_on(&ad));
    // (batch, channels, size, kernel, stride, dilation, padding, bias): LeNet's
    // first layer, odd sizes with stride, dilation and asymmetric padding,
    // one sample (threaded products), no bias. The batch sizes cover samples
    // grouped side by side in one product, on one thread and on several,
    // with a last group smaller than the others.
    let cases = [
        (9, [1, 6], [28, 28], [5, 5], [1, 1], [1, 1], PaddingConfig2d::Explicit(2, 2, 2, 2), true),
        (50, [3, 4], [9, 7], [3, 2], [2, 1], [1, 2], PaddingConfig2d::Explicit(2, 1, 0, 1), true),
        (1, [2, 3], [6, 6], [4, 4], [2, 2], [1, 1], PaddingConfig2d::Valid, false),
        (8, [4, 5], [5, 5], [1, 1], [1, 1], [1, 1], PaddingConfig2d::Valid, true),
        // `Same`: 3x3 at stride 1 (the CRNN's and the detector's), an even
        // kernel at stride 2 (the padding split unevenly), dilation.
        (6, [2, 3], [8, 10], [3, 3], [1, 1], [1, 1], PaddingConfig2d::Same, true),
        (3, [2, 3], [7, 9], [4, 4], [2, 2], [1, 1], PaddingConfig2d::Same, true),
        (2, [2, 2], [9, 9], [3, 3], [1, 1], [2, 2], PaddingConfig2d::Same, false),
    ];
    for (n, channels, [h, w], kernel, stride, dilation, padding, bias) in cases {
        let conv = Conv2dConfig::new(channels, kernel)
            .with_stride(stride)
            .with_dilation(dilation)
            .with_padding(padding.clone())
            .with_bias(bias)
            .init(&ad);
        let x = Tensor::<4>::random([n, channels[0], h, w], Distribution::Normal(0.0, 1.0), &ad).require_grad();
        let run = |fused: bool| {
            let y = if fused { dl_kernels::conv2d(&conv, x.clone()) } else { conv.forward(x.clone()) };
            let grads = weighted_sum(y.clone()).backward();
            let mut out = vec![values(y), values(x.grad(&grads).unwrap()), values(conv.weight.grad(&grads).unwrap())];
            if let Some(b) = &conv.bias {
                out.push(values(b.grad(&grads).unwrap()));
            }
            out
        };
        let (fused, plain) = (run(true), run(false));
        for (what, (a, b)) in ["output", "dx", "dweight", "dbias"].iter().zip(fused.iter().zip(&plain)) {
            compare(what, a, b, &format!("{what} of {channels:?} {kernel:?} stride {stride:?} {padding:?}"));
        }
    }
}

#[test]
fn conv_transpose2d_equals_burns_in_values_and_gradients() {
    let ad = Device::flex().autodiff();
    ad.seed(11);
    // DCGAN's up-sampling (k4 s2 p1), output padding with dilation, one
    // sample, no bias.
    let cases = [
        (21, [8, 4], [7, 7], [4, 4], [2, 2], [1, 1], [1, 1], [0, 0], true),
        (5, [3, 2], [4, 5], [3, 3], [2, 3], [1, 2], [1, 0], [1, 2], true),
        (1, [2, 3], [3, 3], [2, 2], [1, 1], [1, 1], [0, 0], [0, 0], false),
    ];
    for (n, channels, [h, w], kernel, stride, dilation, padding, padding_out, bias) in cases {
        let conv = ConvTranspose2dConfig::new(channels, kernel)
            .with_stride(stride)
            .with_dilation(dilation)
            .with_padding(padding)
            .with_padding_out(padding_out)
            .with_bias(bias)
            .init(&ad);
        let x = Tensor::<4>::random([n, channels[0], h, w], Distribution::Normal(0.0, 1.0), &ad).require_grad();
        let run = |fused: bool| {
            let y = if fused { dl_kernels::conv_transpose2d(&conv, x.clone()) } else { conv.forward(x.clone()) };
            let grads = weighted_sum(y.clone()).backward();
            let mut out = vec![values(y), values(x.grad(&grads).unwrap()), values(conv.weight.grad(&grads).unwrap())];
            if let Some(b) = &conv.bias {
                out.push(values(b.grad(&grads).unwrap()));
            }
            out
        };
        let (fused, plain) = (run(true), run(false));
        for (what, (a, b)) in ["output", "dx", "dweight", "dbias"].iter().zip(fused.iter().zip(&plain)) {
            compare(what, a, b, &format!("{what} of {channels:?} {kernel:?} stride {stride:?} padding {padding:?}"));
        }
    }
}

#[test]
fn inference_without_autodiff_gives_the_same_values() {
    let device = Device::flex();
    device.seed(5);
    let conv = Conv2dConfig::new([3, 4], [3, 3]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)).init(&device);
    let x = Tensor::<4>::random([4, 3, 8, 8], Distribution::Normal(0.0, 1.0), &device);
    close(&values(dl_kernels::conv2d(&conv, x.clone())), &values(conv.forward(x)), "conv2d output");
    let up = ConvTranspose2dConfig::new([3, 2], [4, 4]).with_stride([2, 2]).with_padding([1, 1]).init(&device);
    let x = Tensor::<4>::random([4, 3, 5, 5], Distribution::Normal(0.0, 1.0), &device);
    close(&values(dl_kernels::conv_transpose2d(&up, x.clone())), &values(up.forward(x)), "conv_transpose2d output");
}

#[test]
fn max_pool2d_equals_burns_in_values_and_gradients_with_ties() {
    let ad = Device::flex().autodiff();
    ad.seed(13);
    // (shape, kernel, stride): LeNet's 2x2 pooling, overlapping windows with
    // a remainder, one plane. The input goes through ReLU first, so that
    // windows of zeros tie, as they do in the models.
    for (shape, kernel, stride) in
        [([8, 6, 28, 28], [2, 2], [2, 2]), ([3, 2, 9, 8], [3, 2], [2, 3]), ([1, 1, 4, 4], [4, 4], [1, 1])]
    {
        let x = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &ad).require_grad();
        let run = |fused: bool| {
            let a = relu(x.clone());
            let y = if fused {
                dl_kernels::max_pool2d(a, kernel, stride)
            } else {
                MaxPool2dConfig::new(kernel).with_strides(stride).with_padding(PaddingConfig2d::Valid).init().forward(a)
            };
            let grads = weighted_sum(y.clone()).backward();
            [values(y), values(x.grad(&grads).unwrap())]
        };
        let (fused, plain) = (run(true), run(false));
        close(&fused[0], &plain[0], &format!("max pool output {shape:?} {kernel:?} {stride:?}"));
        close(&fused[1], &plain[1], &format!("max pool dx {shape:?} {kernel:?} {stride:?}"));
    }
    // A NaN wins its window, as in burn and PyTorch.
    let x = Tensor::<4>::from_data(TensorData::new(vec![1.0, f32::NAN, 3.0, 2.0], [1, 1, 2, 2]), &Device::flex());
    assert!(values(dl_kernels::max_pool2d(x, [2, 2], [2, 2]))[0].is_nan());
}

#[test]
fn relu_and_leaky_relu_equal_burns_in_values_and_gradients_zeros_included() {
    let ad = Device::flex().autodiff();
    ad.seed(17);
    // Exact zeros (where the two sides of the derivative differ), sizes on
    // both sides of the threaded threshold.
    for n in [7usize, 70_001] {
        let v: Vec<f32> = (0..n).map(|i| if i % 5 == 0 { 0.0 } else { ((i as f32) * 0.77).sin() }).collect();
        let x = Tensor::<2>::from_data(TensorData::new(v, [1, n]), &ad).require_grad();
        for slope in [0.0, 0.2] {
            let run = |fused: bool| {
                let y = match (fused, slope == 0.0) {
                    (true, true) => dl_kernels::relu(x.clone()),
                    (true, false) => dl_kernels::leaky_relu(x.clone(), slope),
                    (false, true) => relu(x.clone()),
                    (false, false) => burn::tensor::activation::leaky_relu(x.clone(), slope),
                };
                let w = Tensor::<2>::from_data(
                    TensorData::new((0..n).map(|i| (i % 3) as f32 - 0.5).collect::<Vec<f32>>(), [1, n]),
                    &ad,
                );
                let grads = (y.clone() * w).sum().backward();
                [values(y), values(x.grad(&grads).unwrap())]
            };
            let (fused, plain) = (run(true), run(false));
            assert_eq!(fused[0], plain[0], "values, slope {slope}, {n} values");
            assert_eq!(fused[1], plain[1], "gradients, slope {slope}, {n} values");
        }
    }
}

#[test]
fn batch_norm_equals_burns_in_values_gradients_and_running_statistics() {
    let ad = Device::flex().autodiff();
    ad.seed(19);
    for dims in [[16, 8, 7, 7], [5, 3, 1, 2]] {
        let c = dims[1];
        // Two layers built alike (gamma 1, beta 0, running 0 and 1): a clone
        // would share its running statistics with the original.
        let fused = burn::nn::BatchNormConfig::new(c).with_momentum(0.3).init(&ad);
        let plain = burn::nn::BatchNormConfig::new(c).with_momentum(0.3).init(&ad);
        // Two training steps: the second sees the running statistics the first updated.
        for step in 0..2 {
            let x = Tensor::<4>::random(dims, Distribution::Normal(step as f64, 2.0), &ad).require_grad();
            let run = |bn: &burn::nn::BatchNorm, fused: bool| {
                let y = if fused { dl_kernels::batch_norm_2d(bn, x.clone()) } else { bn.forward(x.clone()) };
                let grads = weighted_sum(y.clone()).backward();
                [
                    values(y),
                    values(x.grad(&grads).unwrap()),
                    values(bn.gamma.grad(&grads).unwrap()),
                    values(bn.beta.grad(&grads).unwrap()),
                ]
            };
            let (a, b) = (run(&fused, true), run(&plain, false));
            for (what, (a, b)) in ["output", "dx", "dgamma", "dbeta"].iter().zip(a.iter().zip(&b)) {
                close(a, b, &format!("batch norm {what} {dims:?} step {step}"));
            }
            close(&values(fused.running_mean.value()), &values(plain.running_mean.value()), "running mean");
            close(&values(fused.running_var.value()), &values(plain.running_var.value()), "running var");
        }
    }
}
