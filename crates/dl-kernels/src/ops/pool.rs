//! Max pooling without padding ([`crate::pool`]): the backward pass adds the
//! gradient at the saved positions of the maxima.

use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, TensorMetadata, backend_extension};
use burn::nn::PaddingConfig2d;
use burn::nn::pool::MaxPool2dConfig;
use burn::tensor::Tensor;

use super::{device_values, fused_on, values};
use crate::pool::{Window, max_pool, max_pool_backward};

pub use extension::PoolKernels;

/// The extension trait and its backends. (ndarray is deprecated upstream; it
/// stays a backend of this project for the conformance tests.)
#[allow(deprecated)]
mod extension {
    use super::*;

    /// Max pooling without padding or dilation. Implemented on the host for
    /// the CPU backends; `Autodiff` adds the backward pass.
    #[backend_extension(Flex: cfg(feature = "flex"), NdArray: cfg(feature = "ndarray"), Autodiff)]
    pub trait PoolKernels: Backend {
        /// `x` `[N, C, H, W]`; returns `[N, C, (H - kh) / sh + 1, (W - kw) / sw + 1]`.
        fn max_pool2d_valid(x: FloatTensor<Self>, kernel: [usize; 2], stride: [usize; 2]) -> FloatTensor<Self> {
            let ([n, c, h, w], device) = (x.shape().dims::<4>(), x.device());
            let win = Window { size: [h, w], kernel, stride };
            let [oh, ow] = win.out();
            let (out, _) = max_pool(&values::<Self>(&x), &win);
            device_values::<Self, 4>(out, [n, c, oh, ow], &device)
        }
    }

    #[cfg(feature = "flex")]
    impl PoolKernels for burn::backend::Flex {}

    #[cfg(feature = "ndarray")]
    impl PoolKernels for burn::backend::NdArray {}
}

/// What the backward pass keeps.
#[derive(Debug, Clone)]
struct PoolState<D> {
    arg: Arc<Vec<u32>>,
    window: Window,
    x_shape: [usize; 4],
    device: D,
}

#[derive(Debug)]
struct PoolBackward;

impl<B: Backend> Backward<B, 1> for PoolBackward {
    type State = PoolState<B::Device>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [n_x] = ops.parents;
        let s = ops.state;
        let dy = grads.consume::<B>(&ops.node);
        let dy = values::<B>(&dy);
        if let Some(node) = n_x {
            let dx = max_pool_backward(&dy, &s.arg, &s.window);
            grads.register::<B>(node.id, device_values::<B, 4>(dx, s.x_shape, &s.device));
        }
    }
}

impl<B: PoolKernels, C: CheckpointStrategy> PoolKernels for Autodiff<B, C> {
    fn max_pool2d_valid(x: FloatTensor<Self>, kernel: [usize; 2], stride: [usize; 2]) -> FloatTensor<Self> {
        let (x, n_x) = x.into_parts();
        match PoolBackward.prepare::<C>([n_x]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let (x_shape, device) = (x.shape().dims::<4>(), x.device());
                let [n, c, h, w] = x_shape;
                let window = Window { size: [h, w], kernel, stride };
                let [oh, ow] = window.out();
                let (y, arg) = max_pool(&values::<B>(&x), &window);
                let out = device_values::<B, 4>(y, [n, c, oh, ow], &device);
                prep.finish(PoolState { arg: Arc::new(arg), window, x_shape, device }, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::max_pool2d_valid(x, kernel, stride)),
        }
    }
}

/// Max pooling of `x` `[N, C, H, W]` with `kernel` and `stride`, no padding:
/// fused where [`fused_on`] holds and the window fits, otherwise burn's
/// `MaxPool2d` (same values and gradients).
pub fn max_pool2d(x: Tensor<4>, kernel: [usize; 2], stride: [usize; 2]) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    let fits = kernel.iter().all(|&k| k > 0) && stride.iter().all(|&s| s > 0) && kernel[0] <= h && kernel[1] <= w;
    if fits && h * w < u32::MAX as usize && fused_on(&x.device()) {
        return Tensor::from_dispatch(<burn::backend::Dispatch as PoolKernels>::max_pool2d_valid(
            x.into_dispatch(),
            kernel,
            stride,
        ));
    }
    MaxPool2dConfig::new(kernel).with_strides(stride).with_padding(PaddingConfig2d::Valid).init().forward(x)
}
