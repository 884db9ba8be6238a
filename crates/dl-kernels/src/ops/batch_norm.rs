//! Batch normalisation in training ([`crate::channels`]): one op for the
//! statistics, one for the output (read from the input where it lies), the
//! backward from the saved normalised values, written over the output's
//! gradient; burn's default composes both from transposed copies.

use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, TensorMetadata, backend_extension};
use burn::nn::BatchNorm;
use burn::tensor::{Shape, Tensor};

use super::{device_shaped, device_values, fused_on, map_in_place, values};
use crate::channels::{batch_norm, batch_norm_backward, batch_stats};

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
        /// The batch mean then the biased variance of each channel of `x`
        /// `[N, C, ..]` (`[2 C]`, no gradient).
        fn batch_norm_stats(x: FloatTensor<Self>) -> FloatTensor<Self> {
            let (shape, device) = (x.shape(), x.device());
            let (c, s) = ncs(&shape);
            let (mut mean, var) = batch_stats(&values::<Self>(&x), c, s);
            mean.extend_from_slice(&var);
            device_values::<Self, 1>(mean, [2 * c], &device)
        }

        /// `x` `[N, C, ..]` normalised with `stats` (from
        /// [`batch_norm_stats`](Self::batch_norm_stats)), scaled by `gamma`
        /// and shifted by `beta` (`[C]` each).
        fn batch_norm_apply(
            x: FloatTensor<Self>,
            gamma: FloatTensor<Self>,
            beta: FloatTensor<Self>,
            stats: FloatTensor<Self>,
            epsilon: f32,
        ) -> FloatTensor<Self> {
            normalise::<Self>(&x, &gamma, &beta, &stats, epsilon).0
        }
    }

    #[cfg(feature = "flex")]
    impl BatchNormKernels for burn::backend::Flex {}

    #[cfg(feature = "ndarray")]
    impl BatchNormKernels for burn::backend::NdArray {}
}

/// The output of [`batch_norm`] on `B`'s tensors, and what the backward pass keeps.
fn normalise<B: Backend>(
    x: &FloatTensor<B>,
    gamma: &FloatTensor<B>,
    beta: &FloatTensor<B>,
    stats: &FloatTensor<B>,
    epsilon: f32,
) -> (FloatTensor<B>, BnState<B::Device>) {
    let (shape, device) = (x.shape(), x.device());
    let (c, s) = ncs(&shape);
    let (stats, gamma) = (values::<B>(stats), values::<B>(gamma).to_vec());
    let (mean, var) = stats.split_at(c.min(stats.len()));
    let out = batch_norm(&values::<B>(x), c, s, (mean, var), (&gamma, &values::<B>(beta)), epsilon);
    let y = device_shaped::<B>(out.output, shape.clone(), &device);
    let state = BnState {
        normalised: Arc::new(out.normalised),
        rstd: Arc::new(out.rstd),
        gamma: Arc::new(gamma),
        shape,
        device,
    };
    (y, state)
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
        let dy = grads.consume::<B>(&ops.node);
        let mut param_grads = (Vec::new(), Vec::new());
        // The input gradient is written over the output gradient where nothing else holds it.
        let dx = map_in_place::<B>(dy, |dy| {
            param_grads = batch_norm_backward(dy, &s.normalised, &s.rstd, &s.gamma, c, sp);
        });
        let (dgamma, dbeta) = param_grads;
        if let Some(node) = n_x {
            grads.register::<B>(node.id, dx);
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
    fn batch_norm_stats(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let (x, _) = x.into_parts();
        // A new leaf: the statistics carry no gradient of their own (the
        // output's backward pass accounts for them).
        FloatTensor::<Self>::new(B::batch_norm_stats(x))
    }

    fn batch_norm_apply(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        stats: FloatTensor<Self>,
        epsilon: f32,
    ) -> FloatTensor<Self> {
        let (x, n_x) = x.into_parts();
        let (gamma, n_gamma) = gamma.into_parts();
        let (beta, n_beta) = beta.into_parts();
        let (stats, _) = stats.into_parts();
        match BnBackward.prepare::<C>([n_x, n_gamma, n_beta]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let (y, state) = normalise::<B>(&x, &gamma, &beta, &stats, epsilon);
                prep.finish(state, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::batch_norm_apply(x, gamma, beta, stats, epsilon)),
        }
    }
}

/// `bn.forward(x)` for `x` `[N, C, ..]`: in training (an autodiff device and
/// the layer's training flag on) the batch statistics come from one pass
/// and the output from one fused op with its own backward, and the running
/// statistics are updated exactly as burn's `BatchNorm` does; otherwise, and
/// where [`fused_on`] does not hold, exactly `bn.forward(x)`.
pub fn batch_norm_2d<const D: usize>(bn: &BatchNorm, x: Tensor<D>) -> Tensor<D> {
    let device = x.device();
    let [c] = bn.gamma.dims();
    let training = device.is_autodiff() && bn.training.is_enabled();
    if D < 2 || x.dims()[1] != c || !training || !fused_on(&device) {
        return bn.forward(x);
    }
    type Kernels = burn::backend::Dispatch;
    // [2 C]: the batch means, then the biased variances.
    let stats: Tensor<1> =
        Tensor::from_dispatch(<Kernels as BatchNormKernels>::batch_norm_stats(x.clone().detach().into_dispatch()));
    let (mean, var) = (stats.clone().slice(0..c), stats.clone().slice(c..2 * c));
    let momentum = bn.momentum;
    let running_mean = bn.running_mean.value_sync().to_device(&device);
    let running_var = bn.running_var.value_sync().to_device(&device);
    bn.running_mean.update(running_mean.mul_scalar(1.0 - momentum).add(mean.mul_scalar(momentum)).detach());
    bn.running_var.update(running_var.mul_scalar(1.0 - momentum).add(var.mul_scalar(momentum)).detach());
    // [N, C, ..]
    Tensor::from_dispatch(<Kernels as BatchNormKernels>::batch_norm_apply(
        x.into_dispatch(),
        bn.gamma.val().into_dispatch(),
        bn.beta.val().into_dispatch(),
        stats.into_dispatch(),
        bn.epsilon as f32,
    ))
}
