//! Activations in one pass each way: ReLU and leaky ReLU (the backward pass
//! reads the saved output's sign; burn composes leaky ReLU from a
//! comparison, a product and a masked select), GELU (vectorised `erf`,
//! backward from the saved input) and softmax over the last axis (backward
//! from the saved output; burn records its composition op by op).

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, TensorMetadata, backend_extension};
use burn::tensor::Tensor;
use rayon::prelude::*;

use super::{device_shaped, fused_on, map_in_place, values};
use crate::math;
use crate::rows::{softmax, softmax_backward};

pub use extension::ActivationKernels;

/// The extension trait and its backends. (ndarray is deprecated upstream; it
/// stays a backend of this project for the conformance tests.)
#[allow(deprecated)]
mod extension {
    use super::*;

    /// Elementwise activations with a one-pass backward.
    #[backend_extension(Flex: cfg(feature = "flex"), NdArray: cfg(feature = "ndarray"), Autodiff)]
    pub trait ActivationKernels: Backend {
        /// `x` for `x >= 0`, `slope · x` below (ReLU for slope 0), any shape.
        fn leaky_relu_fused(x: FloatTensor<Self>, slope: f32) -> FloatTensor<Self> {
            map_in_place::<Self>(x, |v| leaky_forward(v, slope))
        }

        /// GELU with the exact `erf`, any shape.
        fn gelu_fused(x: FloatTensor<Self>) -> FloatTensor<Self> {
            map_in_place::<Self>(x, gelu_forward)
        }

        /// Softmax over the last axis, any shape.
        fn softmax_last(x: FloatTensor<Self>) -> FloatTensor<Self> {
            let n = last_dim::<Self>(&x);
            map_in_place::<Self>(x, |v| softmax(v, n))
        }

        /// `tanh`, any shape.
        fn tanh_fused(x: FloatTensor<Self>) -> FloatTensor<Self> {
            map_in_place::<Self>(x, tanh_forward)
        }
    }

    #[cfg(feature = "flex")]
    impl ActivationKernels for burn::backend::Flex {}

    #[cfg(feature = "ndarray")]
    impl ActivationKernels for burn::backend::NdArray {}
}

/// Below this many values, one thread.
const PARALLEL_FROM: usize = 1 << 16;

/// GELU in place, on rayon's threads for large inputs.
fn gelu_forward(v: &mut [f32]) {
    if v.len() >= PARALLEL_FROM {
        v.par_chunks_mut(PARALLEL_FROM / 4).for_each(math::gelu_in_place);
    } else {
        math::gelu_in_place(v);
    }
}

/// `tanh` in place, on rayon's threads for large inputs.
fn tanh_forward(v: &mut [f32]) {
    if v.len() >= PARALLEL_FROM {
        v.par_chunks_mut(PARALLEL_FROM / 4).for_each(math::tanh_in_place);
    } else {
        math::tanh_in_place(v);
    }
}

/// `dy · (1 - y²)` given the saved output `y`, on rayon's threads for large inputs.
fn tanh_backward(dy: &mut [f32], y: &[f32]) {
    let one = |(d, y): (&mut [f32], &[f32])| d.iter_mut().zip(y).for_each(|(d, y)| *d *= 1.0 - y * y);
    if dy.len() >= PARALLEL_FROM {
        dy.par_chunks_mut(PARALLEL_FROM / 4).zip(y.par_chunks(PARALLEL_FROM / 4)).for_each(one);
    } else {
        one((dy, y));
    }
}

/// `out` becomes GELU of `x`, on rayon's threads for large inputs.
fn gelu_into(out: &mut [f32], x: &[f32]) {
    if out.len() >= PARALLEL_FROM {
        out.par_chunks_mut(PARALLEL_FROM / 4)
            .zip(x.par_chunks(PARALLEL_FROM / 4))
            .for_each(|(o, x)| math::gelu_into(o, x));
    } else {
        math::gelu_into(out, x);
    }
}

/// `dy · gelu'(x)`, on rayon's threads for large inputs.
fn gelu_backward(dy: &mut [f32], x: &[f32]) {
    if dy.len() >= PARALLEL_FROM {
        dy.par_chunks_mut(PARALLEL_FROM / 4)
            .zip(x.par_chunks(PARALLEL_FROM / 4))
            .for_each(|(d, x)| math::gelu_backward(d, x));
    } else {
        math::gelu_backward(dy, x);
    }
}

fn leaky_forward(v: &mut [f32], slope: f32) {
    let one = |c: &mut [f32]| c.iter_mut().for_each(|x| *x = if *x < 0.0 { *x * slope } else { *x });
    if v.len() >= PARALLEL_FROM {
        v.par_chunks_mut(PARALLEL_FROM / 4).for_each(one);
    } else {
        one(v);
    }
}

/// `dy` becomes the input gradient, given the saved output `y`: `dy` where
/// `y > 0`, `slope · dy` where `y < 0`; at `y = 0` (from `x = 0`), burn's
/// choice: 0 for ReLU, `dy` for leaky ReLU.
fn leaky_backward(dy: &mut [f32], y: &[f32], slope: f32) {
    let at_zero = if slope == 0.0 { 0.0 } else { 1.0 };
    let one = |(d, y): (&mut [f32], &[f32])| {
        d.iter_mut().zip(y).for_each(|(d, &y)| {
            let g = if y > 0.0 {
                1.0
            } else if y < 0.0 {
                slope
            } else {
                at_zero
            };
            *d *= g;
        })
    };
    if dy.len() >= PARALLEL_FROM {
        dy.par_chunks_mut(PARALLEL_FROM / 4).zip(y.par_chunks(PARALLEL_FROM / 4)).for_each(one);
    } else {
        one((dy, y));
    }
}

/// The size of the last axis (1 for a scalar).
fn last_dim<B: Backend>(x: &FloatTensor<B>) -> usize {
    x.shape().as_slice().last().copied().unwrap_or(1)
}

/// What a backward pass keeps: the op's input (GELU) or output (ReLU,
/// tanh, softmax), shared with the graph rather than copied.
#[derive(Debug, Clone)]
struct Saved<T> {
    tensor: T,
    slope: f32,
}

/// The backward pass of each activation: `dy` becomes the input gradient,
/// given what the forward pass saved.
#[derive(Debug, Clone, Copy)]
enum ActivationBackward {
    Leaky,
    Gelu,
    Tanh,
    Softmax,
}

impl<B: Backend> Backward<B, 1> for ActivationBackward {
    type State = Saved<FloatTensor<B>>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [n_x] = ops.parents;
        let s = ops.state;
        let dy = grads.consume::<B>(&ops.node);
        let Some(node) = n_x else { return };
        let (n, saved) = (last_dim::<B>(&s.tensor), values::<B>(&s.tensor));
        let dx = map_in_place::<B>(dy, |d| match self {
            ActivationBackward::Leaky => leaky_backward(d, &saved, s.slope),
            ActivationBackward::Gelu => gelu_backward(d, &saved),
            ActivationBackward::Tanh => tanh_backward(d, &saved),
            ActivationBackward::Softmax => softmax_backward(d, &saved, n),
        });
        grads.register::<B>(node.id, dx);
    }
}

impl<B: ActivationKernels, C: CheckpointStrategy> ActivationKernels for Autodiff<B, C> {
    fn leaky_relu_fused(x: FloatTensor<Self>, slope: f32) -> FloatTensor<Self> {
        let (x, n_x) = x.into_parts();
        match ActivationBackward::Leaky.prepare::<C>([n_x]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let y = B::leaky_relu_fused(x, slope);
                prep.finish(Saved { tensor: y.clone(), slope }, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::leaky_relu_fused(x, slope)),
        }
    }

    fn gelu_fused(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let (x, n_x) = x.into_parts();
        match ActivationBackward::Gelu.prepare::<C>([n_x]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let (shape, device) = (x.shape(), x.device());
                let xs = values::<B>(&x);
                let mut y = vec![0.0; xs.len()];
                gelu_into(&mut y, &xs);
                drop(xs);
                let out = device_shaped::<B>(y, shape, &device);
                prep.finish(Saved { tensor: x, slope: 0.0 }, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::gelu_fused(x)),
        }
    }

    fn tanh_fused(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let (x, n_x) = x.into_parts();
        match ActivationBackward::Tanh.prepare::<C>([n_x]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let y = B::tanh_fused(x);
                prep.finish(Saved { tensor: y.clone(), slope: 0.0 }, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::tanh_fused(x)),
        }
    }

    fn softmax_last(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let (x, n_x) = x.into_parts();
        match ActivationBackward::Softmax.prepare::<C>([n_x]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let y = B::softmax_last(x);
                prep.finish(Saved { tensor: y.clone(), slope: 0.0 }, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::softmax_last(x)),
        }
    }
}

/// Leaky ReLU (`x` for `x >= 0`, `slope · x` below), one pass each way
/// where [`fused_on`] holds; otherwise burn's `leaky_relu` (same values and
/// gradients).
pub fn leaky_relu<const D: usize>(x: Tensor<D>, slope: f64) -> Tensor<D> {
    if !fused_on(&x.device()) || !slope.is_finite() || slope < 0.0 {
        return burn::tensor::activation::leaky_relu(x, slope);
    }
    Tensor::from_dispatch(<burn::backend::Dispatch as ActivationKernels>::leaky_relu_fused(
        x.into_dispatch(),
        slope as f32,
    ))
}

/// ReLU, one pass each way where [`fused_on`] holds; otherwise burn's
/// `relu` (same values and gradients).
pub fn relu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if !fused_on(&x.device()) {
        return burn::tensor::activation::relu(x);
    }
    Tensor::from_dispatch(<burn::backend::Dispatch as ActivationKernels>::leaky_relu_fused(x.into_dispatch(), 0.0))
}

/// GELU with the exact `erf` (within 1e-6 of it), one pass each way where
/// [`fused_on`] holds; otherwise burn's `gelu`.
pub fn gelu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if !fused_on(&x.device()) {
        return burn::tensor::activation::gelu(x);
    }
    Tensor::from_dispatch(<burn::backend::Dispatch as ActivationKernels>::gelu_fused(x.into_dispatch()))
}

/// `tanh` with the vectorised kernel (within 1e-6 of the exact function),
/// backward from the saved output, where [`fused_on`] holds; otherwise
/// burn's `tanh`.
pub fn tanh<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if !fused_on(&x.device()) {
        return x.tanh();
    }
    Tensor::from_dispatch(<burn::backend::Dispatch as ActivationKernels>::tanh_fused(x.into_dispatch()))
}

/// Softmax over the last axis, one pass each way where [`fused_on`] holds;
/// otherwise burn's `softmax`.
pub fn softmax_last_dim<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if !fused_on(&x.device()) || D == 0 {
        return burn::tensor::activation::softmax(x, D - 1);
    }
    Tensor::from_dispatch(<burn::backend::Dispatch as ActivationKernels>::softmax_last(x.into_dispatch()))
}
