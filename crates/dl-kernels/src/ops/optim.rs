//! One Adam / AdamW step per parameter tensor in a single pass: the two
//! moments and the parameter updated together, where burn's optimizers run
//! about a dozen elementwise ops (each a pass over the tensor). Same
//! arithmetic as burn's, operation by operation.

use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, TensorMetadata, backend_extension};
use burn::tensor::Tensor;
use rayon::prelude::*;

use super::{device_values, fused_on, host};

pub use extension::OptimKernels;

/// The scalars of one step, computed on the host as burn computes them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamStep {
    /// `beta_1`, `1 - beta_1`.
    pub beta_1: [f32; 2],
    /// `beta_2`, `1 - beta_2`.
    pub beta_2: [f32; 2],
    /// `sqrt(1 - beta_2^t) / (1 - beta_1^t)`.
    pub combined: f32,
    /// `epsilon · sqrt(1 - beta_2^t)`.
    pub epsilon: f32,
    /// The learning rate.
    pub lr: f32,
    /// `1 - lr · weight_decay` (AdamW's decoupled decay), or `None`.
    pub decay: Option<f32>,
}

impl AdamStep {
    /// The scalars of step `time` (1 for the first).
    pub fn new(beta_1: f32, beta_2: f32, epsilon: f32, lr: f64, weight_decay: f32, time: usize) -> Self {
        let t = time as i32;
        let bias_correction2_sqrt = (1.0 - beta_2.powi(t)).sqrt();
        let decay_rate = lr * f64::from(weight_decay);
        AdamStep {
            beta_1: [beta_1, 1.0 - beta_1],
            beta_2: [beta_2, 1.0 - beta_2],
            combined: bias_correction2_sqrt / (1.0 - beta_1.powi(t)),
            epsilon: epsilon * bias_correction2_sqrt,
            lr: lr as f32,
            decay: (decay_rate != 0.0).then_some((1.0 - decay_rate) as f32),
        }
    }
}

/// Below this many values, one thread.
const PARALLEL_FROM: usize = 1 << 16;

/// Below this many values burn's step is as fast (measured on the rnn
/// workload: the copies in and out of the fused op cost more than the
/// passes it saves on small tensors).
const FUSED_FROM: usize = 1 << 16;

/// The parameter, gradient and moment slices of one chunk.
type Chunk<'a> = (((&'a mut [f32], &'a [f32]), &'a mut [f32]), &'a mut [f32]);

/// One chunk of the update, `decay` applied to the parameter first (1 for
/// Adam). Inlined into the vectorised versions below.
#[inline(always)]
fn adam_chunk(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], s: &AdamStep, decay: f32) {
    for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        *m = *m * s.beta_1[0] + g * s.beta_1[1];
        *v = *v * s.beta_2[0] + (g * g) * s.beta_2[1];
        let update = (*m * s.combined) / (v.sqrt() + s.epsilon);
        *p = *p * decay - update * s.lr;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn adam_chunk_avx512(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], s: &AdamStep, decay: f32) {
    adam_chunk(p, g, m, v, s, decay)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn adam_chunk_avx2(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], s: &AdamStep, decay: f32) {
    adam_chunk(p, g, m, v, s, decay)
}

/// Updates `p`, `m`, `v` in place given `g`. Adam multiplies the parameter
/// by no decay; `p · 1` is `p` exactly, so one loop serves both.
fn adam(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], s: &AdamStep) {
    let decay = s.decay.unwrap_or(1.0);
    let one = |(((p, g), m), v): Chunk<'_>| {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU supports AVX-512F (checked just above).
                return unsafe { adam_chunk_avx512(p, g, m, v, s, decay) };
            }
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                // SAFETY: the CPU supports AVX2 and FMA (checked just above).
                return unsafe { adam_chunk_avx2(p, g, m, v, s, decay) };
            }
        }
        adam_chunk(p, g, m, v, s, decay)
    };
    if p.len() >= PARALLEL_FROM {
        let c = PARALLEL_FROM / 4;
        p.par_chunks_mut(c).zip(g.par_chunks(c)).zip(m.par_chunks_mut(c)).zip(v.par_chunks_mut(c)).for_each(one);
    } else {
        one((((p, g), m), v));
    }
}

/// The extension trait and its backends. (ndarray is deprecated upstream; it
/// stays a backend of this project for the conformance tests.)
#[allow(deprecated)]
mod extension {
    use super::*;

    /// Optimizer steps (no autodiff: optimizers work on plain tensors).
    #[backend_extension(Flex: cfg(feature = "flex"), NdArray: cfg(feature = "ndarray"))]
    pub trait OptimKernels: Backend {
        /// One Adam(W) step; returns, flat, the new parameter, first and
        /// second moments.
        fn adam_step(
            param: FloatTensor<Self>,
            grad: FloatTensor<Self>,
            m: FloatTensor<Self>,
            v: FloatTensor<Self>,
            step: AdamStep,
        ) -> FloatTensor<Self> {
            let device = param.device();
            let (mut p, g, mut m, mut v) = (host::<Self>(param), host::<Self>(grad), host::<Self>(m), host::<Self>(v));
            adam(&mut p, &g, &mut m, &mut v, &step);
            p.extend_from_slice(&m);
            p.extend_from_slice(&v);
            let len = p.len();
            device_values::<Self, 1>(p, [len], &device)
        }
    }

    #[cfg(feature = "flex")]
    impl OptimKernels for burn::backend::Flex {}

    #[cfg(feature = "ndarray")]
    impl OptimKernels for burn::backend::NdArray {}
}

/// The four tensors of a step handed back where the fused step does not run.
pub type Unfused<const D: usize> = (Tensor<D>, Tensor<D>, Tensor<D>, Tensor<D>);

/// One Adam(W) step on `param` given `grad` and the moments `m`, `v` before
/// it: the new parameter and moments. Where the fused ops do not run
/// ([`fused_on`], plain tensors only) or the shapes disagree, the four
/// tensors come back untouched, for the caller to take burn's step; so do
/// tensors below 65,536 values, where burn's step is as fast.
#[allow(clippy::type_complexity, clippy::result_large_err)]
pub fn adam_step<const D: usize>(
    param: Tensor<D>,
    grad: Tensor<D>,
    m: Tensor<D>,
    v: Tensor<D>,
    step: AdamStep,
) -> Result<(Tensor<D>, Tensor<D>, Tensor<D>), Unfused<D>> {
    let dims = param.dims();
    let device = param.device();
    let n = dims.iter().product::<usize>();
    if n < FUSED_FROM
        || !fused_on(&device)
        || device.is_autodiff()
        || [grad.dims(), m.dims(), v.dims()].iter().any(|d| *d != dims)
    {
        return Err((param, grad, m, v));
    }
    let packed: Tensor<1> = Tensor::from_dispatch(<burn::backend::Dispatch as OptimKernels>::adam_step(
        param.into_dispatch(),
        grad.into_dispatch(),
        m.into_dispatch(),
        v.into_dispatch(),
        step,
    ));
    Ok((
        packed.clone().slice(0..n).reshape(dims),
        packed.clone().slice(n..2 * n).reshape(dims),
        packed.slice(2 * n..3 * n).reshape(dims),
    ))
}
