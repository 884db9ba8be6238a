//! Scaled dot-product attention in two ops, each with its own backward pass:
//! the weights `softmax(q kᵀ · scale + mask)` (product, scale, mask and
//! softmax in one pass per head) and the context `weights · v` written with
//! the heads already merged. Queries, keys and values are read where they
//! lie, split heads included; grouped-query heads are read, not repeated.
//! Two ops rather than one, so that dropout can sit between them and the
//! weights keep their gradient as in burn's composition.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, TensorMetadata, backend_extension};
use burn::tensor::Tensor;
use rayon::prelude::*;

use super::{Strided, device_values, fused_on, map_in_place, strided, values};
use crate::gemm::{View, matmul_serial, matmul_serial_into};
use crate::math::{self, multiversion};

pub use extension::AttentionKernels;

/// The extension trait and its backends. (ndarray is deprecated upstream; it
/// stays a backend of this project for the conformance tests.)
#[allow(deprecated)]
mod extension {
    use super::*;

    /// The two halves of scaled dot-product attention.
    #[backend_extension(Flex: cfg(feature = "flex"), NdArray: cfg(feature = "ndarray"), Autodiff)]
    pub trait AttentionKernels: Backend {
        /// `q` `[B, H, L, d]`, `k` `[B, H_kv, S, d]`, `mask` broadcastable to
        /// `[B, H, L, S]`; returns `softmax(q kᵀ · scale + mask)` `[B, H, L, S]`.
        fn attention_weights(
            q: FloatTensor<Self>,
            k: FloatTensor<Self>,
            mask: FloatTensor<Self>,
            scale: f32,
        ) -> FloatTensor<Self> {
            let device = q.device();
            let (q, k, mask) = (strided::<Self>(&q), strided::<Self>(&k), strided::<Self>(&mask));
            let [b, h, l, _] = q.dims;
            let s = k.dims[2];
            device_values::<Self, 4>(weights_forward(&q, &k, &mask, scale), [b, h, l, s], &device)
        }

        /// `p` `[B, H, L, S]`, `v` `[B, H_kv, S, d]`; returns `p · v` with the
        /// heads merged, `[B, L, H · d]`.
        fn attention_context(p: FloatTensor<Self>, v: FloatTensor<Self>) -> FloatTensor<Self> {
            let device = p.device();
            let (p, v) = (strided::<Self>(&p), strided::<Self>(&v));
            let [b, h, l, _] = p.dims;
            let d = v.dims[3];
            device_values::<Self, 3>(context_forward(&p, &v), [b, l, h * d], &device)
        }
    }

    #[cfg(feature = "flex")]
    impl AttentionKernels for burn::backend::Flex {}

    #[cfg(feature = "ndarray")]
    impl AttentionKernels for burn::backend::NdArray {}
}

/// Below this many products, the heads run on the calling thread.
const PARALLEL_FROM: usize = 1 << 16;

/// Query heads per key/value head.
fn group(q_heads: usize, kv_heads: usize) -> usize {
    (q_heads / kv_heads.max(1)).max(1)
}

multiversion! {
    /// Every row `i` of the `L x S` block `p` becomes
    /// `softmax(p[i] · scale + mask row i)`; mask row `i` starts at
    /// `mask[row_start + i · row_stride]`, its values `col_stride` apart.
    fn scores_to_weights(p: &mut [f32], s: usize, scale: f32, mask: &[f32], row_start: usize, strides: [usize; 2]) {
        for (i, row) in p.chunks_mut(s).enumerate() {
            let m = &mask[row_start + i * strides[0]..];
            if strides[1] == 1 {
                row.iter_mut().zip(m).for_each(|(v, m)| *v = *v * scale + m);
            } else {
                row.iter_mut().enumerate().for_each(|(j, v)| *v = *v * scale + m[j * strides[1]]);
            }
            let max = math::max(row);
            row.iter_mut().for_each(|v| *v = math::exp(*v - max));
            let inv = 1.0 / math::sum(row);
            row.iter_mut().for_each(|v| *v *= inv);
        }
    }
}

multiversion! {
    /// Softmax's backward pass on every row of `s` values, times `factor`:
    /// `dp` becomes `factor · p · (dp - Σ dp·p)`.
    fn softmax_rows_backward(dp: &mut [f32], p: &[f32], s: usize, factor: f32) {
        for (d, y) in dp.chunks_mut(s).zip(p.chunks(s)) {
            let dot = math::dot(d, y);
            d.iter_mut().zip(y).for_each(|(d, y)| *d = factor * y * (*d - dot));
        }
    }
}

/// Runs `f` on every item, on rayon's threads when `work` (products in all)
/// is large enough.
fn for_each_task<T: Send, F: Fn(usize, T) + Sync + Send>(items: Vec<T>, work: usize, f: F) {
    if work >= PARALLEL_FROM {
        items.into_par_iter().enumerate().for_each(|(i, t)| f(i, t));
    } else {
        items.into_iter().enumerate().for_each(|(i, t)| f(i, t));
    }
}

fn weights_forward(q: &Strided<'_>, k: &Strided<'_>, mask: &Strided<'_>, scale: f32) -> Vec<f32> {
    let [b, h, l, d] = q.dims;
    let s = k.dims[2];
    let mut p = vec![0.0; b * h * l * s];
    if p.is_empty() || d == 0 {
        return p;
    }
    let rep = group(h, k.dims[1]);
    let tasks: Vec<&mut [f32]> = p.chunks_mut(l * s).collect();
    for_each_task(tasks, b * h * l * s * d, |bh, block| {
        let (bi, hi) = (bh / h, bh % h);
        matmul_serial(block, q.matrix(bi, hi), k.matrix(bi, hi / rep).t(), false);
        let row_start = mask.offset + bi * mask.strides[0] + hi * mask.strides[1];
        scores_to_weights(block, s, scale, &mask.values, row_start, [mask.strides[2], mask.strides[3]]);
    });
    p
}

fn context_forward(p: &Strided<'_>, v: &Strided<'_>) -> Vec<f32> {
    let [b, h, l, s] = p.dims;
    let d = v.dims[3];
    let mut ctx = vec![0.0; b * l * h * d];
    if ctx.is_empty() {
        return ctx;
    }
    let rep = group(h, v.dims[1]);
    let tasks: Vec<&mut [f32]> = ctx.chunks_mut(l * h * d).collect();
    for_each_task(tasks, b * h * l * s * d, |bi, out| {
        for hi in 0..h {
            matmul_serial_into(&mut out[hi * d..], h * d, p.matrix(bi, hi), v.matrix(bi, hi / rep), false);
        }
    });
    ctx
}

/// What the weights' backward pass keeps: the inputs and the weights.
#[derive(Debug, Clone)]
struct WeightsState<T> {
    q: T,
    k: T,
    mask: T,
    p: T,
    scale: f32,
}

#[derive(Debug)]
struct WeightsBackward;

impl<B: Backend> Backward<B, 3> for WeightsBackward {
    type State = WeightsState<FloatTensor<B>>;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [n_q, n_k, n_mask] = ops.parents;
        let st = ops.state;
        let device = st.q.device();
        let dp = grads.consume::<B>(&ops.node);
        let (q, k, p) = (strided::<B>(&st.q), strided::<B>(&st.k), values::<B>(&st.p));
        let [b, h, l, d] = q.dims;
        let [_, kv, s, _] = k.dims;
        let rep = group(h, kv);
        // dS = softmax backward of dP, per row, times the scale (after the
        // mask's gradient, when it has one: the mask is added unscaled).
        let factor = if n_mask.is_some() { 1.0 } else { st.scale };
        let ds = map_in_place::<B>(dp, |ds| {
            let tasks = ds.chunks_mut(l * s).zip(p.chunks(l * s)).collect();
            for_each_task(tasks, b * h * l * s, |_, (ds, p)| softmax_rows_backward(ds, p, s, factor));
        });
        let ds = match n_mask {
            Some(node) => {
                let mask_dims = st.mask.shape().dims::<4>();
                let dmask = reduce_to(&values::<B>(&ds), [b, h, l, s], mask_dims);
                grads.register::<B>(node.id, device_values::<B, 4>(dmask, mask_dims, &device));
                map_in_place::<B>(ds, |ds| ds.iter_mut().for_each(|v| *v *= st.scale))
            }
            None => ds,
        };
        let ds = values::<B>(&ds);
        let (mut dq, mut dk) = (vec![0.0; b * h * l * d], vec![0.0; b * kv * s * d]);
        if d > 0 && !ds.is_empty() {
            // One task per key/value head: its query heads' dq blocks and its dk block.
            let tasks: Vec<_> = dq.chunks_mut(rep * l * d).zip(dk.chunks_mut(s * d)).collect();
            for_each_task(tasks, b * h * l * s * d, |bg, (dq, dk)| {
                let (bi, gi) = (bg / kv, bg % kv);
                for r in 0..rep {
                    let hi = gi * rep + r;
                    let dsv = View::dense(&ds[(bi * h + hi) * l * s..][..l * s], l, s);
                    matmul_serial(&mut dq[r * l * d..][..l * d], dsv, k.matrix(bi, gi), false);
                    matmul_serial(dk, dsv.t(), q.matrix(bi, hi), true);
                }
            });
        }
        if let Some(node) = n_q {
            grads.register::<B>(node.id, device_values::<B, 4>(dq, [b, h, l, d], &device));
        }
        if let Some(node) = n_k {
            grads.register::<B>(node.id, device_values::<B, 4>(dk, [b, kv, s, d], &device));
        }
    }
}

/// `x` `[B, H, L, S]` summed over the axes where `dims` is 1 (a broadcast
/// input's gradient).
fn reduce_to(x: &[f32], full: [usize; 4], dims: [usize; 4]) -> Vec<f32> {
    let mut out = vec![0.0; dims.iter().product()];
    let strides = [dims[1] * dims[2] * dims[3], dims[2] * dims[3], dims[3], 1];
    let at = |i: usize, axis: usize| if dims[axis] == 1 { 0 } else { i * strides[axis] };
    let mut idx = 0;
    for b in 0..full[0] {
        for h in 0..full[1] {
            for l in 0..full[2] {
                let row = at(b, 0) + at(h, 1) + at(l, 2);
                for s in 0..full[3] {
                    out[row + at(s, 3)] += x[idx];
                    idx += 1;
                }
            }
        }
    }
    out
}

/// What the context's backward pass keeps: its two inputs.
#[derive(Debug, Clone)]
struct ContextState<T> {
    p: T,
    v: T,
}

#[derive(Debug)]
struct ContextBackward;

impl<B: Backend> Backward<B, 2> for ContextBackward {
    type State = ContextState<FloatTensor<B>>;

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [n_p, n_v] = ops.parents;
        let st = ops.state;
        let device = st.p.device();
        let dctx = grads.consume::<B>(&ops.node);
        let dctx = values::<B>(&dctx);
        let (p, v) = (strided::<B>(&st.p), strided::<B>(&st.v));
        let [b, h, l, s] = p.dims;
        let [_, kv, _, d] = v.dims;
        let rep = group(h, kv);
        let (mut dp, mut dv) = (vec![0.0; b * h * l * s], vec![0.0; b * kv * s * d]);
        if d > 0 && !dp.is_empty() {
            // One task per key/value head: its query heads' dP blocks and its dv block.
            let tasks: Vec<_> = dp.chunks_mut(rep * l * s).zip(dv.chunks_mut(s * d)).collect();
            for_each_task(tasks, b * h * l * s * d, |bg, (dp, dv)| {
                let (bi, gi) = (bg / kv, bg % kv);
                for r in 0..rep {
                    let hi = gi * rep + r;
                    // This head's `L x d` block of the merged gradient.
                    let dc = View {
                        data: &dctx[bi * l * h * d + hi * d..],
                        rows: l,
                        cols: d,
                        stride: h * d,
                        transposed: false,
                    };
                    matmul_serial(&mut dp[r * l * s..][..l * s], dc, v.matrix(bi, gi).t(), false);
                    matmul_serial(dv, p.matrix(bi, hi).t(), dc, true);
                }
            });
        }
        if let Some(node) = n_p {
            grads.register::<B>(node.id, device_values::<B, 4>(dp, [b, h, l, s], &device));
        }
        if let Some(node) = n_v {
            grads.register::<B>(node.id, device_values::<B, 4>(dv, [b, kv, s, d], &device));
        }
    }
}

impl<B: AttentionKernels, C: CheckpointStrategy> AttentionKernels for Autodiff<B, C> {
    fn attention_weights(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        mask: FloatTensor<Self>,
        scale: f32,
    ) -> FloatTensor<Self> {
        let (q, n_q) = q.into_parts();
        let (k, n_k) = k.into_parts();
        let (mask, n_mask) = mask.into_parts();
        match WeightsBackward.prepare::<C>([n_q, n_k, n_mask]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let p = B::attention_weights(q.clone(), k.clone(), mask.clone(), scale);
                prep.finish(WeightsState { q, k, mask, p: p.clone(), scale }, p)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::attention_weights(q, k, mask, scale)),
        }
    }

    fn attention_context(p: FloatTensor<Self>, v: FloatTensor<Self>) -> FloatTensor<Self> {
        let (p, n_p) = p.into_parts();
        let (v, n_v) = v.into_parts();
        match ContextBackward.prepare::<C>([n_p, n_v]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let ctx = B::attention_context(p.clone(), v.clone());
                prep.finish(ContextState { p, v }, ctx)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::attention_context(p, v)),
        }
    }
}

/// `[B, H_kv, S, d] -> [B, H_kv · rep, S, d]`, each head repeated `rep`
/// times in place (query head `h` meets key/value head `h / rep`).
fn repeat_heads(x: Tensor<4>, rep: usize) -> Tensor<4> {
    if rep == 1 {
        return x;
    }
    let [b, h, t, d] = x.dims();
    x.unsqueeze_dim::<5>(2).repeat_dim(2, rep).reshape([b, h * rep, t, d])
}

/// Whether `q` `[B, H, L, d]`, `k`/`v` `[B, H_kv, S, d]` and `mask` fit
/// each other: the fused ops assume it, the composition reports it.
fn consistent(q: [usize; 4], kv: [usize; 4], mask: Option<[usize; 4]>) -> bool {
    let [b, h, l, d] = q;
    let fits = |m: [usize; 4]| {
        (m[0] == b || m[0] == 1) && (m[1] == h || m[1] == 1) && (m[2] == l || m[2] == 1) && m[3] == kv[2]
    };
    kv[0] == b && kv[1] > 0 && h % kv[1] == 0 && kv[3] == d && mask.is_none_or(fits)
}

/// `softmax(q kᵀ · scale + mask)` over the last axis for queries `q`
/// `[B, H, L, d]` and keys `k` `[B, H_kv, S, d]` (query head `h` reads key
/// head `h / (H / H_kv)`), with an additive `mask` broadcastable to
/// `[B, H, L, S]`: the attention weights `[B, H, L, S]`. One op each way
/// where [`fused_on`] holds and the shapes fit; otherwise burn's ops.
pub fn attention_weights(q: Tensor<4>, k: Tensor<4>, mask: Option<Tensor<4>>, scale: f64) -> Tensor<4> {
    let (qd, kd) = (q.dims(), k.dims());
    if !fused_on(&q.device()) || !consistent(qd, kd, mask.as_ref().map(|m| m.dims())) {
        let k = repeat_heads(k, group(qd[1], kd[1]));
        let scores = q.matmul(k.swap_dims(2, 3)).mul_scalar(scale);
        let scores = match mask {
            Some(mask) => scores.clone() + mask.expand(scores.dims()),
            None => scores,
        };
        return burn::tensor::activation::softmax(scores, 3);
    }
    let mask = mask.unwrap_or_else(|| Tensor::zeros([1, 1, 1, kd[2]], &q.device()));
    Tensor::from_dispatch(<burn::backend::Dispatch as AttentionKernels>::attention_weights(
        q.into_dispatch(),
        k.into_dispatch(),
        mask.into_dispatch(),
        scale as f32,
    ))
}

/// `weights · v` for attention weights `[B, H, L, S]` and values `v`
/// `[B, H_kv, S, d]` (grouped as in [`attention_weights`]), the heads
/// merged: `[B, L, H · d]`. One op each way where [`fused_on`] holds and
/// the shapes fit; otherwise burn's ops.
pub fn attention_context(weights: Tensor<4>, v: Tensor<4>) -> Tensor<3> {
    let ([b, h, l, s], vd) = (weights.dims(), v.dims());
    let fits = vd[0] == b && vd[1] > 0 && h % vd[1] == 0 && vd[2] == s;
    if !fused_on(&weights.device()) || !fits {
        let ctx = weights.matmul(repeat_heads(v, group(h, vd[1])));
        return ctx.swap_dims(1, 2).reshape([b, l, h * vd[3]]);
    }
    Tensor::from_dispatch(<burn::backend::Dispatch as AttentionKernels>::attention_context(
        weights.into_dispatch(),
        v.into_dispatch(),
    ))
}
