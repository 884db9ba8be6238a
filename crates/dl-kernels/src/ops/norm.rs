//! Layer normalisation over the last axis ([`crate::rows`]): the forward
//! pass saves the normalised rows and each row's `1 / √(var + eps)`, the
//! backward pass computes the three gradients in two passes.

use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, TensorMetadata, backend_extension};
use burn::nn::LayerNorm;
use burn::tensor::Tensor;

use super::{device_values, fused_on, map_in_place, values};
use crate::rows::{layer_norm as norm_rows, layer_norm_backward};

pub use extension::NormKernels;

/// The extension trait and its backends. (ndarray is deprecated upstream; it
/// stays a backend of this project for the conformance tests.)
#[allow(deprecated)]
mod extension {
    use super::*;

    /// Layer normalisation with a hand-written backward pass.
    #[backend_extension(Flex: cfg(feature = "flex"), NdArray: cfg(feature = "ndarray"), Autodiff)]
    pub trait NormKernels: Backend {
        /// `x` `[.., n]`, `gamma` and `beta` `[n]`.
        fn layer_norm_fused(
            x: FloatTensor<Self>,
            gamma: FloatTensor<Self>,
            beta: FloatTensor<Self>,
            epsilon: f32,
        ) -> FloatTensor<Self> {
            let n = x.shape().as_slice().last().copied().unwrap_or(1);
            let (gamma, beta) = (values::<Self>(&gamma), values::<Self>(&beta));
            map_in_place::<Self>(x, |v| {
                norm_rows(v, n, &gamma, Some(&beta), epsilon);
            })
        }
    }

    #[cfg(feature = "flex")]
    impl NormKernels for burn::backend::Flex {}

    #[cfg(feature = "ndarray")]
    impl NormKernels for burn::backend::NdArray {}
}

#[derive(Debug, Clone)]
struct NormState<D> {
    normalised: Arc<Vec<f32>>,
    rstd: Arc<Vec<f32>>,
    gamma: Arc<Vec<f32>>,
    device: D,
}

#[derive(Debug)]
struct NormBackward;

impl<B: Backend> Backward<B, 3> for NormBackward {
    type State = NormState<B::Device>;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [n_x, n_gamma, n_beta] = ops.parents;
        let s = ops.state;
        let n = s.gamma.len();
        let mut param_grads = (Vec::new(), Vec::new());
        let dx = map_in_place::<B>(grads.consume::<B>(&ops.node), |dy| {
            param_grads = layer_norm_backward(dy, &s.normalised, &s.rstd, &s.gamma);
        });
        let (dgamma, dbeta) = param_grads;
        if let Some(node) = n_x {
            grads.register::<B>(node.id, dx);
        }
        if let Some(node) = n_gamma {
            grads.register::<B>(node.id, device_values::<B, 1>(dgamma, [n], &s.device));
        }
        if let Some(node) = n_beta {
            grads.register::<B>(node.id, device_values::<B, 1>(dbeta, [n], &s.device));
        }
    }
}

impl<B: NormKernels, C: CheckpointStrategy> NormKernels for Autodiff<B, C> {
    fn layer_norm_fused(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f32,
    ) -> FloatTensor<Self> {
        let (x, n_x) = x.into_parts();
        let (gamma, n_gamma) = gamma.into_parts();
        let (beta, n_beta) = beta.into_parts();
        match NormBackward.prepare::<C>([n_x, n_gamma, n_beta]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let device = x.device();
                let n = x.shape().as_slice().last().copied().unwrap_or(1);
                let (gamma, beta) = (values::<B>(&gamma).to_vec(), values::<B>(&beta));
                let mut stats = (Vec::new(), Vec::new());
                let out = map_in_place::<B>(x, |y| stats = norm_rows(y, n, &gamma, Some(&beta), epsilon));
                drop(beta);
                let (normalised, rstd) = stats;
                let state = NormState {
                    normalised: Arc::new(normalised),
                    rstd: Arc::new(rstd),
                    gamma: Arc::new(gamma),
                    device,
                };
                prep.finish(state, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::layer_norm_fused(x, gamma, beta, epsilon)),
        }
    }
}

/// `norm.forward(x)` for a `LayerNorm` built with `epsilon` (burn keeps the
/// module's epsilon private, so its owner passes it): fused where
/// [`fused_on`] holds and the last axis matches, otherwise exactly
/// `norm.forward(x)`.
pub fn layer_norm<const D: usize>(norm: &LayerNorm, x: Tensor<D>, epsilon: f64) -> Tensor<D> {
    let gamma = norm.gamma.val();
    let [n] = gamma.dims();
    if D == 0 || x.dims()[D - 1] != n || !fused_on(&x.device()) {
        return norm.forward(x);
    }
    let device = x.device();
    let beta = norm.beta.as_ref().map_or_else(|| Tensor::zeros([n], &device), |b| b.val());
    Tensor::from_dispatch(<burn::backend::Dispatch as NormKernels>::layer_norm_fused(
        x.into_dispatch(),
        gamma.into_dispatch(),
        beta.into_dispatch(),
        epsilon as f32,
    ))
}
