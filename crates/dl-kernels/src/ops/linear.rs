//! `x · w + b` in one op: the product written straight into the output
//! (bias rows first, the GEMM accumulating onto them), and a backward pass
//! of two GEMMs and a column sum; burn's composition records a matmul and a
//! broadcast add, each with its own output buffer.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, TensorMetadata, backend_extension};
use burn::nn::Linear;
use burn::tensor::{Shape, Tensor};

use super::{device_shaped, device_values, fused_on, values};
use crate::gemm::{View, matmul, matmul_serial};
use crate::math::multiversion;

pub use extension::LinearKernels;

/// The extension trait and its backends. (ndarray is deprecated upstream; it
/// stays a backend of this project for the conformance tests.)
#[allow(deprecated)]
mod extension {
    use super::*;

    /// A linear layer's product.
    #[backend_extension(Flex: cfg(feature = "flex"), NdArray: cfg(feature = "ndarray"), Autodiff)]
    pub trait LinearKernels: Backend {
        /// `x` `[.., k]`, `w` `[k, n]`, `bias` `[n]`; returns `[.., n]`.
        fn linear_fused(x: FloatTensor<Self>, w: FloatTensor<Self>, bias: FloatTensor<Self>) -> FloatTensor<Self> {
            let (shape, device) = (out_shape::<Self>(&x, &w), x.device());
            let y = forward(&values::<Self>(&x), &values::<Self>(&w), &values::<Self>(&bias));
            device_shaped::<Self>(y, shape, &device)
        }
    }

    #[cfg(feature = "flex")]
    impl LinearKernels for burn::backend::Flex {}

    #[cfg(feature = "ndarray")]
    impl LinearKernels for burn::backend::NdArray {}
}

/// The output shape: `x`'s with the last axis `w`'s columns.
fn out_shape<B: Backend>(x: &FloatTensor<B>, w: &FloatTensor<B>) -> Shape {
    let mut dims = x.shape().as_slice().to_vec();
    if let Some(last) = dims.last_mut() {
        *last = w.shape().dims::<2>()[1];
    }
    Shape::from(dims)
}

/// `x · w + bias` for `x` `m x k` (row-major), `w` `k x n`.
fn forward(x: &[f32], w: &[f32], bias: &[f32]) -> Vec<f32> {
    let n = bias.len();
    let k = w.len() / n.max(1);
    let m = x.len() / k.max(1);
    let mut y = Vec::with_capacity(m * n);
    for _ in 0..m {
        y.extend_from_slice(bias);
    }
    matmul(&mut y, View::dense(x, m, k), View::dense(w, k, n), true);
    y
}

multiversion! {
    /// `Σ_i dy[i, j]` for `dy` of rows of `n` values, accumulated in `f64`
    /// (thousands of rows of mixed signs).
    fn column_sums(dy: &[f32], n: usize) -> Vec<f32> {
        let mut acc = vec![0.0f64; n];
        for row in dy.chunks_exact(n.max(1)) {
            acc.iter_mut().zip(row).for_each(|(a, &d)| *a += f64::from(d));
        }
        acc.into_iter().map(|a| a as f32).collect()
    }
}

/// `m·n·k` below which the two backward products run side by side, each on
/// one thread (the 8-Gaussians GAN's 256x128x128 products: ring8 500 steps
/// 8.2-8.9 s -> 7.6-8.2 s with the frozen generator copy); from it on, each
/// runs in turn on the `gemm` crate's threads (the cutoff itself not tuned).
const SIDE_BY_SIDE_BELOW: usize = 1 << 24;

/// What the backward pass keeps: the input and the weight, shared with the
/// graph rather than copied.
#[derive(Debug, Clone)]
struct LinearState<T> {
    x: T,
    w: T,
}

#[derive(Debug)]
struct LinearBackward;

impl<B: Backend> Backward<B, 3> for LinearBackward {
    type State = LinearState<FloatTensor<B>>;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [n_x, n_w, n_b] = ops.parents;
        let s = ops.state;
        let [k, n] = s.w.shape().dims::<2>();
        let device = s.x.device();
        let dy = grads.consume::<B>(&ops.node);
        let dy = values::<B>(&dy);
        let m = dy.len() / n.max(1);
        // dx = dy · wᵀ and dw = xᵀ · dy are independent: below the size at
        // which one product fills the cores by itself, the two run side by
        // side, each on one thread.
        let (x, w) = (n_w.as_ref().map(|_| values::<B>(&s.x)), n_x.as_ref().map(|_| values::<B>(&s.w)));
        let side_by_side = x.is_some() && w.is_some() && m * n * k < SIDE_BY_SIDE_BELOW;
        let product = if side_by_side { matmul_serial } else { matmul };
        let input_grad = || {
            w.as_ref().map(|w| {
                let mut dx = vec![0.0; m * k];
                product(&mut dx, View::dense(&dy, m, n), View::dense(w, k, n).t(), false);
                dx
            })
        };
        let weight_grad = || {
            x.as_ref().map(|x| {
                let mut dw = vec![0.0; k * n];
                product(&mut dw, View::dense(x, m, k).t(), View::dense(&dy, m, n), false);
                dw
            })
        };
        let (dx, dw) = if side_by_side { rayon::join(input_grad, weight_grad) } else { (input_grad(), weight_grad()) };
        if let (Some(node), Some(dx)) = (n_x, dx) {
            grads.register::<B>(node.id, device_shaped::<B>(dx, s.x.shape(), &device));
        }
        if let (Some(node), Some(dw)) = (n_w, dw) {
            grads.register::<B>(node.id, device_values::<B, 2>(dw, [k, n], &device));
        }
        if let Some(node) = n_b {
            let db = column_sums(&dy, n);
            grads.register::<B>(node.id, device_values::<B, 1>(db, [n], &device));
        }
    }
}

impl<B: LinearKernels, C: CheckpointStrategy> LinearKernels for Autodiff<B, C> {
    fn linear_fused(x: FloatTensor<Self>, w: FloatTensor<Self>, bias: FloatTensor<Self>) -> FloatTensor<Self> {
        let (x, n_x) = x.into_parts();
        let (w, n_w) = w.into_parts();
        let (bias, n_b) = bias.into_parts();
        match LinearBackward.prepare::<C>([n_x, n_w, n_b]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let y = B::linear_fused(x.clone(), w.clone(), bias);
                prep.finish(LinearState { x, w }, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::linear_fused(x, w, bias)),
        }
    }
}

/// `layer.forward(x)` as one op with its own backward where the fused ops
/// run ([`fused_on`]) and `x`'s last axis fits the layer; otherwise exactly
/// `layer.forward(x)`.
pub fn linear<const D: usize>(layer: &Linear, x: Tensor<D>) -> Tensor<D> {
    affine(x, layer.weight.val(), layer.bias.as_ref().map(|b| b.val()))
}

/// `x · weight + bias` for `x` `[.., k]`, `weight` `[k, n]`, `bias` `[n]`
/// (burn's `Linear` layout), as [`linear`] does it; burn's `linear`
/// where the fused ops do not run or the shapes do not fit.
pub fn affine<const D: usize>(x: Tensor<D>, weight: Tensor<2>, bias: Option<Tensor<1>>) -> Tensor<D> {
    let [k, n] = weight.dims();
    let bias_fits = bias.as_ref().is_none_or(|b| b.dims() == [n]);
    if D == 0 || x.dims()[D - 1] != k || !bias_fits || !fused_on(&x.device()) {
        return burn::tensor::module::linear(x, weight, bias);
    }
    let bias = bias.unwrap_or_else(|| Tensor::zeros([n], &x.device()));
    Tensor::from_dispatch(<burn::backend::Dispatch as LinearKernels>::linear_fused(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
    ))
}
