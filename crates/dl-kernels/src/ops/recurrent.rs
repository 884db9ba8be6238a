//! The recurrent layers: one autodiff node per layer and direction, with
//! backpropagation through time written out in [`crate::recurrent`].

use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, TensorMetadata, backend_extension};
use burn::tensor::Tensor;

use super::{device_values, host, host_mask, values};

use crate::recurrent::{
    Activation, Dims, ElmanSaved, LstmSaved, batch_blocks, elman_backward_blocks, elman_forward_blocks,
    lstm_backward_blocks, lstm_forward_blocks,
};

pub use extension::RecurrentKernels;

/// The extension trait and its backends. (ndarray is deprecated upstream; it
/// stays a backend of this project for the conformance tests.)
#[allow(deprecated)]
mod extension {
    use super::*;

    /// Whole-sequence recurrent layers. Implemented on the host for the CPU
    /// backends; `Autodiff` adds the hand-written backward pass.
    #[backend_extension(Flex: cfg(feature = "flex"), NdArray: cfg(feature = "ndarray"), Autodiff)]
    pub trait RecurrentKernels: Backend {
        /// An LSTM layer: `gx` `[B, T, 4H]`, `w` `[H, 4H]`, `h0`, `c0` `[B, H]`,
        /// `mask` `[B, T]`; returns `[B, T + 2, H]` (outputs, final h, final c).
        fn lstm_layer(
            gx: FloatTensor<Self>,
            w: FloatTensor<Self>,
            h0: FloatTensor<Self>,
            c0: FloatTensor<Self>,
            mask: FloatTensor<Self>,
            reverse: bool,
        ) -> FloatTensor<Self> {
            let (dims, device) = (lstm_dims::<Self>(&gx), gx.device());
            let mask = host_mask::<Self>(mask);
            let (gx, w, h0, c0) = (values::<Self>(&gx), values::<Self>(&w), values::<Self>(&h0), values::<Self>(&c0));
            let blocks = batch_blocks(dims.b);
            let (packed, _) = lstm_forward_blocks(dims, &gx, &w, &h0, &c0, mask.as_deref(), reverse, &blocks);
            device_values::<Self, 3>(packed, [dims.b, dims.t + 2, dims.h], &device)
        }

        /// An Elman layer: `gx` `[B, T, H]`, `w` `[H, H]`, `h0` `[B, H]`, `mask`
        /// `[B, T]`; returns `[B, T + 1, H]` (outputs, final h).
        fn elman_layer(
            gx: FloatTensor<Self>,
            w: FloatTensor<Self>,
            h0: FloatTensor<Self>,
            mask: FloatTensor<Self>,
            reverse: bool,
            relu: bool,
        ) -> FloatTensor<Self> {
            let (dims, device) = (elman_dims::<Self>(&gx), gx.device());
            let mask = host_mask::<Self>(mask);
            let (gx, w, h0) = (values::<Self>(&gx), values::<Self>(&w), values::<Self>(&h0));
            let blocks = batch_blocks(dims.b);
            let act = activation(relu);
            let (packed, _) = elman_forward_blocks(dims, &gx, &w, &h0, mask.as_deref(), reverse, act, &blocks);
            device_values::<Self, 3>(packed, [dims.b, dims.t + 1, dims.h], &device)
        }
    }

    #[cfg(feature = "flex")]
    impl RecurrentKernels for burn::backend::Flex {}

    #[cfg(feature = "ndarray")]
    impl RecurrentKernels for burn::backend::NdArray {}
}

fn activation(relu: bool) -> Activation {
    if relu { Activation::Relu } else { Activation::Tanh }
}

fn lstm_dims<B: Backend>(gx: &FloatTensor<B>) -> Dims {
    let [b, t, g] = gx.shape().dims::<3>();
    Dims { b, t, h: g / 4 }
}

fn elman_dims<B: Backend>(gx: &FloatTensor<B>) -> Dims {
    let [b, t, h] = gx.shape().dims::<3>();
    Dims { b, t, h }
}

/// What the LSTM's backward pass keeps.
#[derive(Debug, Clone)]
struct LstmState<D> {
    saved: Arc<Vec<LstmSaved>>,
    blocks: Vec<std::ops::Range<usize>>,
    w: Arc<Vec<f32>>,
    mask: Option<Arc<Vec<f32>>>,
    dims: Dims,
    reverse: bool,
    device: D,
}

#[derive(Debug)]
struct LstmBackward;

impl<B: Backend> Backward<B, 4> for LstmBackward {
    type State = LstmState<B::Device>;

    fn backward(self, ops: Ops<Self::State, 4>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [n_gx, n_w, n_h0, n_c0] = ops.parents;
        let s = ops.state;
        let Dims { b, t, h } = s.dims;
        let d_packed = grads.consume::<B>(&ops.node);
        let d_packed = values::<B>(&d_packed);
        let mask = s.mask.as_deref().map(Vec::as_slice);
        let g = lstm_backward_blocks(s.dims, &s.saved, &s.w, mask, s.reverse, &d_packed, &s.blocks);
        if let Some(n) = n_gx {
            grads.register::<B>(n.id, device_values::<B, 3>(g.gx, [b, t, 4 * h], &s.device));
        }
        if let Some(n) = n_w {
            grads.register::<B>(n.id, device_values::<B, 2>(g.w, [h, 4 * h], &s.device));
        }
        if let Some(n) = n_h0 {
            grads.register::<B>(n.id, device_values::<B, 2>(g.h0, [b, h], &s.device));
        }
        if let Some(n) = n_c0 {
            grads.register::<B>(n.id, device_values::<B, 2>(g.c0, [b, h], &s.device));
        }
    }
}

/// What the Elman layer's backward pass keeps.
#[derive(Debug, Clone)]
struct ElmanState<D> {
    saved: Arc<Vec<ElmanSaved>>,
    blocks: Vec<std::ops::Range<usize>>,
    w: Arc<Vec<f32>>,
    mask: Option<Arc<Vec<f32>>>,
    dims: Dims,
    reverse: bool,
    act: Activation,
    device: D,
}

#[derive(Debug)]
struct ElmanBackward;

impl<B: Backend> Backward<B, 3> for ElmanBackward {
    type State = ElmanState<B::Device>;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [n_gx, n_w, n_h0] = ops.parents;
        let s = ops.state;
        let Dims { b, t, h } = s.dims;
        let d_packed = grads.consume::<B>(&ops.node);
        let d_packed = values::<B>(&d_packed);
        let mask = s.mask.as_deref().map(Vec::as_slice);
        let g = elman_backward_blocks(s.dims, &s.saved, &s.w, mask, s.reverse, s.act, &d_packed, &s.blocks);
        if let Some(n) = n_gx {
            grads.register::<B>(n.id, device_values::<B, 3>(g.gx, [b, t, h], &s.device));
        }
        if let Some(n) = n_w {
            grads.register::<B>(n.id, device_values::<B, 2>(g.w, [h, h], &s.device));
        }
        if let Some(n) = n_h0 {
            grads.register::<B>(n.id, device_values::<B, 2>(g.h0, [b, h], &s.device));
        }
    }
}

impl<B: RecurrentKernels, C: CheckpointStrategy> RecurrentKernels for Autodiff<B, C> {
    fn lstm_layer(
        gx: FloatTensor<Self>,
        w: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        c0: FloatTensor<Self>,
        mask: FloatTensor<Self>,
        reverse: bool,
    ) -> FloatTensor<Self> {
        let (gx, n_gx) = gx.into_parts();
        let (w, n_w) = w.into_parts();
        let (h0, n_h0) = h0.into_parts();
        let (c0, n_c0) = c0.into_parts();
        let mask = mask.into_primitive();
        match LstmBackward.prepare::<C>([n_gx, n_w, n_h0, n_c0]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let (dims, device) = (lstm_dims::<B>(&gx), gx.device());
                let mask = host_mask::<B>(mask);
                let (gx, w, h0, c0) = (values::<B>(&gx), host::<B>(w), values::<B>(&h0), values::<B>(&c0));
                let blocks = batch_blocks(dims.b);
                let (packed, saved) = lstm_forward_blocks(dims, &gx, &w, &h0, &c0, mask.as_deref(), reverse, &blocks);
                let out = device_values::<B, 3>(packed, [dims.b, dims.t + 2, dims.h], &device);
                let state = LstmState {
                    saved: Arc::new(saved),
                    blocks,
                    w: Arc::new(w),
                    mask: mask.map(Arc::new),
                    dims,
                    reverse,
                    device,
                };
                prep.finish(state, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::lstm_layer(gx, w, h0, c0, mask, reverse)),
        }
    }

    fn elman_layer(
        gx: FloatTensor<Self>,
        w: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        mask: FloatTensor<Self>,
        reverse: bool,
        relu: bool,
    ) -> FloatTensor<Self> {
        let (gx, n_gx) = gx.into_parts();
        let (w, n_w) = w.into_parts();
        let (h0, n_h0) = h0.into_parts();
        let mask = mask.into_primitive();
        match ElmanBackward.prepare::<C>([n_gx, n_w, n_h0]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let (dims, device) = (elman_dims::<B>(&gx), gx.device());
                let mask = host_mask::<B>(mask);
                let (gx, w, h0) = (values::<B>(&gx), host::<B>(w), values::<B>(&h0));
                let act = activation(relu);
                let blocks = batch_blocks(dims.b);
                let (packed, saved) = elman_forward_blocks(dims, &gx, &w, &h0, mask.as_deref(), reverse, act, &blocks);
                let out = device_values::<B, 3>(packed, [dims.b, dims.t + 1, dims.h], &device);
                let state = ElmanState {
                    saved: Arc::new(saved),
                    blocks,
                    w: Arc::new(w),
                    mask: mask.map(Arc::new),
                    dims,
                    reverse,
                    act,
                    device,
                };
                prep.finish(state, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::elman_layer(gx, w, h0, mask, reverse, relu)),
        }
    }
}

/// One direction of an LSTM layer over a whole sequence.
#[derive(Debug, Clone)]
pub struct LstmRun {
    /// Every step's output `[B, T, H]` (zeros at padding).
    pub outputs: Tensor<3>,
    /// The final hidden state `[B, H]` (at each sequence's own last step).
    pub h: Tensor<2>,
    /// The final cell state `[B, H]`.
    pub c: Tensor<2>,
}

/// Runs an LSTM layer given the input projections `gx` `[B, T, 4H]` of all
/// steps (`x W_ih + b_ih + b_hh`), the recurrent weight `w` `[H, 4H]`, the
/// initial states and the padding mask `[B, T]` (1 at real steps). Only on a
/// device where [`fused_on`](crate::fused_on) holds.
pub fn lstm_layer(
    gx: Tensor<3>,
    w: Tensor<2>,
    h0: Tensor<2>,
    c0: Tensor<2>,
    mask: Tensor<2>,
    reverse: bool,
) -> LstmRun {
    let [b, t, _] = gx.dims();
    let h = h0.dims()[1];
    let packed: Tensor<3> = Tensor::from_dispatch(<burn::backend::Dispatch as RecurrentKernels>::lstm_layer(
        gx.into_dispatch(),
        w.into_dispatch(),
        h0.into_dispatch(),
        c0.into_dispatch(),
        mask.into_dispatch(),
        reverse,
    ));
    LstmRun {
        outputs: packed.clone().slice([0..b, 0..t, 0..h]),
        h: packed.clone().slice([0..b, t..t + 1, 0..h]).reshape([b, h]),
        c: packed.slice([0..b, t + 1..t + 2, 0..h]).reshape([b, h]),
    }
}

/// Runs an Elman layer (`tanh`, or ReLU with `relu`) given the input
/// projections `gx` `[B, T, H]`, the recurrent weight `w` `[H, H]`, the
/// initial state and the padding mask `[B, T]`; returns every step's output
/// `[B, T, H]` and the final state `[B, H]`. Only where [`fused_on`](crate::fused_on) holds.
pub fn elman_layer(
    gx: Tensor<3>,
    w: Tensor<2>,
    h0: Tensor<2>,
    mask: Tensor<2>,
    reverse: bool,
    relu: bool,
) -> (Tensor<3>, Tensor<2>) {
    let [b, t, h] = gx.dims();
    let packed: Tensor<3> = Tensor::from_dispatch(<burn::backend::Dispatch as RecurrentKernels>::elman_layer(
        gx.into_dispatch(),
        w.into_dispatch(),
        h0.into_dispatch(),
        mask.into_dispatch(),
        reverse,
        relu,
    ));
    (packed.clone().slice([0..b, 0..t, 0..h]), packed.slice([0..b, t..t + 1, 0..h]).reshape([b, h]))
}
