//! Batch normalisation in training ([`crate::channels`]): one pass for the
//! statistics, one for the output, the backward from the saved normalised
//! values; burn's default composes both from transposed copies.

use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, TensorMetadata, backend_extension};
use burn::nn::BatchNorm;
use burn::tensor::{Shape, Tensor};

use super::{device_shaped, device_values, fused_on, host};
use crate::channels::{batch_norm, batch_norm_backward};

pub use extension::BatchNormKernels;

/// `[N, C, S]` sizes of a tensor `[N, C, ..]`.
fn ncs(shape: &Shape) -> (usize, usize) {
    let d = shape.as_slice();
    (d[1], d[2..].iter().product())
}

/// The extension trait and its backends. (ndarray is deprecated upstream; it
/// stays a backend of this project for the conformance tests.)
#[allow(deprecated)]
mod extension {
    use super::*;

    /// Batch normalisation with batch statistics.
    #[backend_extension(Flex: cfg(feature = "flex"), NdArray: cfg(feature = "ndarray"), Autodiff)]
    pub trait BatchNormKernels: Backend {
        /// `x` `[N, C, ..]`, `gamma`, `beta` `[C]`; returns, flat, the output
        /// (`N·C·..` values) then the batch mean and biased variance (`C` each).
        fn batch_norm_train_packed(
            x: FloatTensor<Self>,
            gamma: FloatTensor<Self>,
            beta: FloatTensor<Self>,
            epsilon: f32,
        ) -> FloatTensor<Self> {
            let (shape, device) = (x.shape(), x.device());
            let (c, s) = ncs(&shape);
            let (mut y, gamma, beta) = (host::<Self>(x), host::<Self>(gamma), host::<Self>(beta));
            let (stats, _) = batch_norm(&mut y, c, s, &gamma, &beta, epsilon);
            y.extend_from_slice(&stats.mean);
            y.extend_from_slice(&stats.var);
            let len = y.len();
            device_values::<Self, 1>(y, [len], &device)
        }
    }

    #[cfg(feature = "flex")]
    impl BatchNormKernels for burn::backend::Flex {}

    #[cfg(feature = "ndarray")]
    impl BatchNormKernels for burn::backend::NdArray {}
}

#[derive(Debug, Clone)]
struct BnState<D> {
    normalised: Arc<Vec<f32>>,
    rstd: Arc<Vec<f32>>,
    gamma: Arc<Vec<f32>>,
    shape: Shape,
    device: D,
}

#[derive(Debug)]
struct BnBackward;

impl<B: Backend> Backward<B, 3> for BnBackward {
    type State = BnState<B::Device>;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [n_x, n_gamma, n_beta] = ops.parents;
        let s = ops.state;
        let (c, sp) = ncs(&s.shape);
        let mut dy = host::<B>(grads.consume::<B>(&ops.node));
        // The statistics at the end are detached: only the output's part flows back.
        dy.truncate(s.normalised.len());
        let (dgamma, dbeta) = batch_norm_backward(&mut dy, &s.normalised, &s.rstd, &s.gamma, c, sp);
        if let Some(node) = n_x {
            grads.register::<B>(node.id, device_shaped::<B>(dy, s.shape, &s.device));
        }
        if let Some(node) = n_gamma {
            grads.register::<B>(node.id, device_values::<B, 1>(dgamma, [c], &s.device));
        }
        if let Some(node) = n_beta {
            grads.register::<B>(node.id, device_values::<B, 1>(dbeta, [c], &s.device));
        }
    }
}

impl<B: BatchNormKernels, C: CheckpointStrategy> BatchNormKernels for Autodiff<B, C> {
    fn batch_norm_train_packed(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f32,
    ) -> FloatTensor<Self> {
        let (x, n_x) = x.into_parts();
        let (gamma, n_gamma) = gamma.into_parts();
        let (beta, n_beta) = beta.into_parts();
        match BnBackward.prepare::<C>([n_x, n_gamma, n_beta]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let (shape, device) = (x.shape(), x.device());
                let (c, s) = ncs(&shape);
                let (mut y, gamma, beta) = (host::<B>(x), host::<B>(gamma), host::<B>(beta));
                let (stats, normalised) = batch_norm(&mut y, c, s, &gamma, &beta, epsilon);
                y.extend_from_slice(&stats.mean);
                y.extend_from_slice(&stats.var);
                let len = y.len();
                let out = device_values::<B, 1>(y, [len], &device);
                let state = BnState {
                    normalised: Arc::new(normalised),
                    rstd: Arc::new(stats.rstd),
                    gamma: Arc::new(gamma),
                    shape,
                    device,
                };
                prep.finish(state, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::batch_norm_train_packed(x, gamma, beta, epsilon)),
        }
    }
}

/// `bn.forward(x)` for `x` `[N, C, ..]`: in training (an autodiff device and
/// the layer's training flag on) the batch statistics come from one fused
/// op with its own backward, and the running statistics are updated exactly
/// as burn's `BatchNorm` does; otherwise, and where [`fused_on`] does not
/// hold, exactly `bn.forward(x)`.
pub fn batch_norm_2d<const D: usize>(bn: &BatchNorm, x: Tensor<D>) -> Tensor<D> {
    let device = x.device();
    let [c] = bn.gamma.dims();
    let training = device.is_autodiff() && bn.training.is_enabled();
    if D < 2 || x.dims()[1] != c || !training || !fused_on(&device) {
        return bn.forward(x);
    }
    let dims = x.dims();
    let numel = dims.iter().product::<usize>();
    let packed: Tensor<1> =
        Tensor::from_dispatch(<burn::backend::Dispatch as BatchNormKernels>::batch_norm_train_packed(
            x.into_dispatch(),
            bn.gamma.val().into_dispatch(),
            bn.beta.val().into_dispatch(),
            bn.epsilon as f32,
        ));
    let mean = packed.clone().slice(numel..numel + c).detach();
    let var = packed.clone().slice(numel + c..numel + 2 * c).detach();
    let momentum = bn.momentum;
    let running_mean = bn.running_mean.value_sync().to_device(&device);
    let running_var = bn.running_var.value_sync().to_device(&device);
    bn.running_mean.update(running_mean.mul_scalar(1.0 - momentum).add(mean.mul_scalar(momentum)).detach());
    bn.running_var.update(running_var.mul_scalar(1.0 - momentum).add(var.mul_scalar(momentum)).detach());
    packed.slice(0..numel).reshape(dims)
}
