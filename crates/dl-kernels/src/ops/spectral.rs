//! Spectral normalisation `W / σ(W)` in one op: the power iteration on the
//! host (two matrix-vector products per step, on the detached weight), then
//! one pass dividing by `σ = uᵀ W v`, with the backward pass
//! `dW = G / σ - (⟨G, W⟩ / σ²) u vᵀ`; burn's composition records about
//! twenty small ops per layer and call.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, TensorMetadata, backend_extension};
use burn::tensor::Tensor;

use super::{device_shaped, fused_on, values};
use crate::math::{self, multiversion};

pub use extension::SpectralKernels;

/// Added to a vector's norm before dividing by it, as PyTorch's `spectral_norm` does.
const EPS: f64 = 1e-12;

/// The extension trait and its backends. (ndarray is deprecated upstream; it
/// stays a backend of this project for the conformance tests.)
#[allow(deprecated)]
mod extension {
    use super::*;

    /// A weight divided by its spectral-norm estimate.
    #[backend_extension(Flex: cfg(feature = "flex"), NdArray: cfg(feature = "ndarray"), Autodiff)]
    pub trait SpectralKernels: Backend {
        /// `w / (uᵀ w v)` for `w` `[rows, cols]`, `u` `[rows]`, `v` `[cols]`.
        fn spectral_divide(w: FloatTensor<Self>, u: FloatTensor<Self>, v: FloatTensor<Self>) -> FloatTensor<Self> {
            let (shape, device) = (w.shape(), w.device());
            let (ws, us, vs) = (values::<Self>(&w), values::<Self>(&u), values::<Self>(&v));
            let inv = (1.0 / sigma(&ws, &us, &vs)) as f32;
            device_shaped::<Self>(scaled(&ws, inv), shape, &device)
        }

        /// `iterations` steps of power iteration from `u` (`[rows]`) on `w`
        /// (`[rows, cols]`): `[u', v]` (`[rows + cols]`), no gradient.
        fn spectral_power(w: FloatTensor<Self>, u: FloatTensor<Self>, iterations: usize) -> FloatTensor<Self> {
            let [rows, cols] = w.shape().dims::<2>();
            let (u, v) = power_iteration(&values::<Self>(&w), rows, cols, &values::<Self>(&u), iterations);
            device_shaped::<Self>([u, v].concat(), [rows + cols].into(), &w.device())
        }
    }

    #[cfg(feature = "flex")]
    impl SpectralKernels for burn::backend::Flex {}

    #[cfg(feature = "ndarray")]
    impl SpectralKernels for burn::backend::NdArray {}
}

multiversion! {
    /// `uᵀ W v` for `W` row-major `[u.len(), v.len()]`, the rows' dot products summed in `f64`.
    fn sigma(w: &[f32], u: &[f32], v: &[f32]) -> f64 {
        w.chunks_exact(v.len().max(1)).zip(u).map(|(row, &ui)| f64::from(ui) * f64::from(math::dot(row, v))).sum()
    }
}

multiversion! {
    /// `w · s`.
    fn scaled(w: &[f32], s: f32) -> Vec<f32> {
        w.iter().map(|&x| x * s).collect()
    }
}

multiversion! {
    /// `G / σ - (⟨G, W⟩ / σ²) u vᵀ`, row by row.
    fn weight_gradient(g: &[f32], w: &[f32], u: &[f32], v: &[f32], sigma: f64) -> Vec<f32> {
        let inner = f64::from(math::dot(g, w));
        let (inv, k) = ((1.0 / sigma) as f32, (inner / (sigma * sigma)) as f32);
        let mut dw = Vec::with_capacity(g.len());
        for (row, &ui) in g.chunks_exact(v.len().max(1)).zip(u) {
            let ku = k * ui;
            dw.extend(row.iter().zip(v).map(|(&gi, &vj)| gi * inv - ku * vj));
        }
        dw
    }
}

/// `x / (|x| + EPS)`.
fn unit(x: Vec<f64>) -> Vec<f64> {
    let norm = x.iter().map(|a| a * a).sum::<f64>().sqrt() + EPS;
    x.into_iter().map(|a| a / norm).collect()
}

/// `iterations` steps of power iteration from `u` on `W` (`[rows, cols]`,
/// row-major): `v = unit(Wᵀ u)`, `u = unit(W v)`. Returns `(u, v)`.
fn power_iteration(w: &[f32], rows: usize, cols: usize, u: &[f32], iterations: usize) -> (Vec<f32>, Vec<f32>) {
    let mut u: Vec<f64> = u.iter().map(|&a| f64::from(a)).collect();
    let mut v = vec![0.0f64; cols];
    for _ in 0..iterations {
        let mut wt_u = vec![0.0f64; cols];
        for (row, &ui) in w.chunks_exact(cols.max(1)).zip(&u) {
            wt_u.iter_mut().zip(row).for_each(|(acc, &a)| *acc += f64::from(a) * ui);
        }
        v = unit(wt_u);
        let w_v = w
            .chunks_exact(cols.max(1))
            .take(rows)
            .map(|row| row.iter().zip(&v).map(|(&a, b)| f64::from(a) * b).sum::<f64>())
            .collect();
        u = unit(w_v);
    }
    let narrow = |x: Vec<f64>| x.into_iter().map(|a| a as f32).collect();
    (narrow(u), narrow(v))
}

/// What the backward pass keeps: the weight (shared with the graph) and the
/// singular-vector estimates.
#[derive(Debug, Clone)]
struct SpectralState<T> {
    w: T,
    u: T,
    v: T,
}

#[derive(Debug)]
struct SpectralBackward;

impl<B: Backend> Backward<B, 1> for SpectralBackward {
    type State = SpectralState<FloatTensor<B>>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [n_w] = ops.parents;
        let s = ops.state;
        let dy = grads.consume::<B>(&ops.node);
        let Some(node) = n_w else { return };
        let (shape, device) = (s.w.shape(), s.w.device());
        let (w, u, v, g) = (values::<B>(&s.w), values::<B>(&s.u), values::<B>(&s.v), values::<B>(&dy));
        let dw = weight_gradient(&g, &w, &u, &v, sigma(&w, &u, &v));
        drop(g);
        grads.register::<B>(node.id, device_shaped::<B>(dw, shape, &device));
    }
}

impl<B: SpectralKernels, C: CheckpointStrategy> SpectralKernels for Autodiff<B, C> {
    fn spectral_divide(w: FloatTensor<Self>, u: FloatTensor<Self>, v: FloatTensor<Self>) -> FloatTensor<Self> {
        let (w, n_w) = w.into_parts();
        let (u, _) = u.into_parts();
        let (v, _) = v.into_parts();
        match SpectralBackward.prepare::<C>([n_w]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let y = B::spectral_divide(w.clone(), u.clone(), v.clone());
                prep.finish(SpectralState { w, u, v }, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::spectral_divide(w, u, v)),
        }
    }

    fn spectral_power(w: FloatTensor<Self>, u: FloatTensor<Self>, iterations: usize) -> FloatTensor<Self> {
        let (w, _) = w.into_parts();
        let (u, _) = u.into_parts();
        // A new leaf: the estimate carries no gradient.
        FloatTensor::<Self>::new(B::spectral_power(w, u, iterations))
    }
}

/// A weight divided by its largest singular value, and the updated left
/// singular-vector estimate.
#[derive(Debug, Clone)]
pub struct SpectralNormalized {
    /// `W / σ(W)`, `[rows, cols]`; gradients reach `W` through `σ` too.
    pub weight: Tensor<2>,
    /// The new estimate of the left singular vector, `[rows]` (detached).
    pub u: Tensor<1>,
}

/// `W / σ(W)` for `w` `[rows, cols]`, with `σ` estimated as in Miyato et al.
/// and PyTorch's `spectral_norm`: `iterations` steps of power iteration
/// from `u` (`[rows]`) on the detached weight, then `σ = uᵀ W v`, through
/// which the gradient flows to `W`. One op with its own backward where the
/// fused ops run ([`fused_on`]); [`spectral_normalize_composed`] otherwise.
/// `iterations` of 0 counts as 1. A `u` whose length is not `rows` is no
/// estimate for this weight: it is left to the composition, whose product
/// rejects it, rather than read short by the host loop.
pub fn spectral_normalize(w: Tensor<2>, u: Tensor<1>, iterations: usize) -> SpectralNormalized {
    let [rows, cols] = w.dims();
    let device = w.device();
    if u.dims() != [rows] || !fused_on(&device) {
        return spectral_normalize_composed(w, u, iterations);
    }
    let uv = Tensor::<1>::from_dispatch(<burn::backend::Dispatch as SpectralKernels>::spectral_power(
        w.clone().detach().into_dispatch(),
        u.detach().into_dispatch(),
        iterations.max(1),
    ));
    let (u, v) = (uv.clone().narrow(0, 0, rows), uv.narrow(0, rows, cols));
    let weight = Tensor::from_dispatch(<burn::backend::Dispatch as SpectralKernels>::spectral_divide(
        w.into_dispatch(),
        u.clone().into_dispatch(),
        v.into_dispatch(),
    ));
    SpectralNormalized { weight, u }
}

/// `v / (|v| + 1e-12)`: a unit vector as the power iteration keeps it (and
/// as a fresh estimate `u` starts).
pub fn unit_vector(v: Tensor<1>) -> Tensor<1> {
    let norm = v.clone().powf_scalar(2.0).sum().sqrt().add_scalar(EPS);
    v / norm
}

/// [`spectral_normalize`] as a composition of burn's standard ops (any
/// device, `DL_FUSED=0`).
pub fn spectral_normalize_composed(w: Tensor<2>, u: Tensor<1>, iterations: usize) -> SpectralNormalized {
    let device = w.device();
    let wd = w.clone().detach();
    let [rows, cols] = w.dims();
    let mut u = u.detach();
    let mut v = Tensor::<1>::zeros([cols], &device);
    for _ in 0..iterations.max(1) {
        v = unit_vector(wd.clone().transpose().matmul(u.clone().reshape([rows, 1])).reshape([cols]));
        u = unit_vector(wd.clone().matmul(v.clone().reshape([cols, 1])).reshape([rows]));
    }
    let sigma = u.clone().reshape([1, rows]).matmul(w.clone()).matmul(v.reshape([cols, 1])).reshape([1]);
    SpectralNormalized { weight: w / sigma.unsqueeze::<2>(), u }
}
