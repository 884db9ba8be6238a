//! `conv2d` and `conv_transpose2d` (one group) as im2col + GEMM over the
//! batch ([`crate::conv`]), both backward passes written out; the modules of
//! `burn::nn` keep their parameters, only their `forward` is replaced.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, TensorMetadata, backend_extension};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::tensor::Tensor;

use super::{device_values, fused_on, values};
use crate::conv::{Geometry, bias_grad, gather, gather_and_weight_grad, scatter, weight_grad};

pub use extension::ConvKernels;

/// Stride, dilation, leading padding and the result's spatial size of a
/// convolution; the kernel size comes from the weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvSpec {
    /// Stride (height, width).
    pub stride: [usize; 2],
    /// Dilation (height, width).
    pub dilation: [usize; 2],
    /// Zero padding before the first row and column (of the convolution's
    /// input; for a transposed convolution, of its output).
    pub pad: [usize; 2],
    /// The result's height and width.
    pub out: [usize; 2],
}

/// The extension trait and its backends. (ndarray is deprecated upstream; it
/// stays a backend of this project for the conformance tests.)
#[allow(deprecated)]
mod extension {
    use super::*;

    /// Convolutions with one group. Implemented on the host for the CPU
    /// backends; `Autodiff` adds the hand-written backward passes.
    #[backend_extension(Flex: cfg(feature = "flex"), NdArray: cfg(feature = "ndarray"), Autodiff)]
    pub trait ConvKernels: Backend {
        /// `x` `[N, C, H, W]`, `w` `[O, C, kh, kw]`, `bias` `[O]`; returns
        /// `[N, O, spec.out]`.
        fn conv2d_im2col(
            x: FloatTensor<Self>,
            w: FloatTensor<Self>,
            bias: FloatTensor<Self>,
            spec: ConvSpec,
        ) -> FloatTensor<Self> {
            let (n, m, g, device) =
                (x.shape().dims::<4>()[0], w.shape().dims::<4>()[0], conv_geometry::<Self>(&x, &w, spec), x.device());
            let (x, w, bias) = (values::<Self>(&x), values::<Self>(&w), values::<Self>(&bias));
            device_values::<Self, 4>(gather(&x, n, &g, &w, m, Some(&bias)), [n, m, spec.out[0], spec.out[1]], &device)
        }

        /// `x` `[N, C_in, H, W]`, `w` `[C_in, C_out, kh, kw]`, `bias`
        /// `[C_out]`; returns `[N, C_out, spec.out]`.
        fn conv_transpose2d_col2im(
            x: FloatTensor<Self>,
            w: FloatTensor<Self>,
            bias: FloatTensor<Self>,
            spec: ConvSpec,
        ) -> FloatTensor<Self> {
            let (n, m, g, device) = (
                x.shape().dims::<4>()[0],
                w.shape().dims::<4>()[0],
                transpose_geometry::<Self>(&x, &w, spec),
                x.device(),
            );
            let (x, w, bias) = (values::<Self>(&x), values::<Self>(&w), values::<Self>(&bias));
            device_values::<Self, 4>(scatter(&x, n, &g, &w, m, Some(&bias)), [n, g.c, g.h, g.w], &device)
        }
    }

    #[cfg(feature = "flex")]
    impl ConvKernels for burn::backend::Flex {}

    #[cfg(feature = "ndarray")]
    impl ConvKernels for burn::backend::NdArray {}
}

/// The im2col geometry of a convolution: the windows run over `x`.
fn conv_geometry<B: Backend>(x: &FloatTensor<B>, w: &FloatTensor<B>, spec: ConvSpec) -> Geometry {
    let [_, c, h, width] = x.shape().dims::<4>();
    let [_, _, kh, kw] = w.shape().dims::<4>();
    Geometry {
        c,
        h,
        w: width,
        kernel: [kh, kw],
        stride: spec.stride,
        dilation: spec.dilation,
        pad: spec.pad,
        out: spec.out,
    }
}

/// The im2col geometry of a transposed convolution: the windows run over
/// its output, one window per input position.
fn transpose_geometry<B: Backend>(x: &FloatTensor<B>, w: &FloatTensor<B>, spec: ConvSpec) -> Geometry {
    let [_, _, h, width] = x.shape().dims::<4>();
    let [_, c_out, kh, kw] = w.shape().dims::<4>();
    let [oh, ow] = spec.out;
    Geometry {
        c: c_out,
        h: oh,
        w: ow,
        kernel: [kh, kw],
        stride: spec.stride,
        dilation: spec.dilation,
        pad: spec.pad,
        out: [h, width],
    }
}

/// What both backward passes keep: the input and the weight, shared with
/// the graph rather than copied.
#[derive(Debug, Clone)]
struct ConvState<T, D> {
    x: T,
    w: T,
    n: usize,
    m: usize,
    geometry: Geometry,
    x_shape: [usize; 4],
    w_shape: [usize; 4],
    device: D,
}

#[derive(Debug)]
struct ConvBackward;

impl<B: Backend> Backward<B, 3> for ConvBackward {
    type State = ConvState<FloatTensor<B>, B::Device>;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [n_x, n_w, n_b] = ops.parents;
        let s = ops.state;
        let (g, cols) = (s.geometry, s.geometry.cols());
        let dy = grads.consume::<B>(&ops.node);
        let dy = values::<B>(&dy);
        if let Some(node) = n_x {
            let dx = scatter(&dy, s.n, &g, &values::<B>(&s.w), s.m, None);
            grads.register::<B>(node.id, device_values::<B, 4>(dx, s.x_shape, &s.device));
        }
        if let Some(node) = n_w {
            let dw = weight_grad(&dy, &values::<B>(&s.x), s.n, &g, s.m);
            grads.register::<B>(node.id, device_values::<B, 4>(dw, s.w_shape, &s.device));
        }
        if let Some(node) = n_b {
            grads.register::<B>(node.id, device_values::<B, 1>(bias_grad(&dy, s.m, cols), [s.m], &s.device));
        }
    }
}

#[derive(Debug)]
struct TransposeBackward;

impl<B: Backend> Backward<B, 3> for TransposeBackward {
    type State = ConvState<FloatTensor<B>, B::Device>;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [n_x, n_w, n_b] = ops.parents;
        let s = ops.state;
        let g = s.geometry;
        let dy = grads.consume::<B>(&ops.node);
        let dy = values::<B>(&dy);
        // Both gradients read the column matrices of `dy`: built once for both.
        let (dx, dw) = match (n_x.is_some(), n_w.is_some()) {
            (true, true) => {
                let (dx, dw) = gather_and_weight_grad(&dy, &values::<B>(&s.x), s.n, &g, &values::<B>(&s.w), s.m);
                (Some(dx), Some(dw))
            }
            (true, false) => (Some(gather(&dy, s.n, &g, &values::<B>(&s.w), s.m, None)), None),
            (false, true) => (None, Some(weight_grad(&values::<B>(&s.x), &dy, s.n, &g, s.m))),
            (false, false) => (None, None),
        };
        if let (Some(node), Some(dx)) = (n_x, dx) {
            grads.register::<B>(node.id, device_values::<B, 4>(dx, s.x_shape, &s.device));
        }
        if let (Some(node), Some(dw)) = (n_w, dw) {
            grads.register::<B>(node.id, device_values::<B, 4>(dw, s.w_shape, &s.device));
        }
        if let Some(node) = n_b {
            let db = bias_grad(&dy, g.c, g.h * g.w);
            grads.register::<B>(node.id, device_values::<B, 1>(db, [g.c], &s.device));
        }
    }
}

impl<B: ConvKernels, C: CheckpointStrategy> ConvKernels for Autodiff<B, C> {
    fn conv2d_im2col(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        spec: ConvSpec,
    ) -> FloatTensor<Self> {
        let (x, n_x) = x.into_parts();
        let (w, n_w) = w.into_parts();
        let (bias, n_b) = bias.into_parts();
        match ConvBackward.prepare::<C>([n_x, n_w, n_b]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let (x_shape, w_shape) = (x.shape().dims::<4>(), w.shape().dims::<4>());
                let (g, device) = (conv_geometry::<B>(&x, &w, spec), x.device());
                let (n, m) = (x_shape[0], w_shape[0]);
                let y = gather(&values::<B>(&x), n, &g, &values::<B>(&w), m, Some(&values::<B>(&bias)));
                let out = device_values::<B, 4>(y, [n, m, spec.out[0], spec.out[1]], &device);
                let state = ConvState { x, w, n, m, geometry: g, x_shape, w_shape, device };
                prep.finish(state, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::conv2d_im2col(x, w, bias, spec)),
        }
    }

    fn conv_transpose2d_col2im(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        spec: ConvSpec,
    ) -> FloatTensor<Self> {
        let (x, n_x) = x.into_parts();
        let (w, n_w) = w.into_parts();
        let (bias, n_b) = bias.into_parts();
        match TransposeBackward.prepare::<C>([n_x, n_w, n_b]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let (x_shape, w_shape) = (x.shape().dims::<4>(), w.shape().dims::<4>());
                let (g, device) = (transpose_geometry::<B>(&x, &w, spec), x.device());
                let (n, m) = (x_shape[0], w_shape[0]);
                let y = scatter(&values::<B>(&x), n, &g, &values::<B>(&w), m, Some(&values::<B>(&bias)));
                let out = device_values::<B, 4>(y, [n, g.c, g.h, g.w], &device);
                let state = ConvState { x, w, n, m, geometry: g, x_shape, w_shape, device };
                prep.finish(state, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::conv_transpose2d_col2im(x, w, bias, spec)),
        }
    }
}

/// One output size: `(size + pads - dilation·(k - 1) - 1) / stride + 1`, or
/// `None` when the window does not fit.
fn conv_out(size: usize, pads: usize, kernel: usize, stride: usize, dilation: usize) -> Option<usize> {
    let span = dilation.checked_mul(kernel.checked_sub(1)?)?.checked_add(1)?;
    let padded = size.checked_add(pads)?;
    (stride > 0 && padded >= span).then(|| (padded - span) / stride + 1)
}

/// The bias of a module, or zeros (a constant: no gradient flows to it).
fn bias_or_zeros(bias: Option<Tensor<1>>, channels: usize, device: &burn::tensor::Device) -> Tensor<1> {
    bias.unwrap_or_else(|| Tensor::zeros([channels], device))
}

/// `conv.forward(x)`, as im2col + GEMM with its own backward where the fused
/// ops run ([`fused_on`]) and the module has one group; otherwise, and for
/// shapes the module would reject, exactly `conv.forward(x)`. `Same` padding
/// becomes the explicit padding burn computes for it.
pub fn conv2d(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let [_, c, h, w] = x.dims();
    let weight = conv.weight.val();
    let [o, c_w, kh, kw] = weight.dims();
    // burn's `Same`: the output keeps ceil(size / stride) positions, the
    // padding split in two with the odd pixel at the end (dilation aside).
    let same = |size: usize, k: usize, stride: usize| {
        let total =
            if size > 0 && stride > 0 { ((size.div_ceil(stride) - 1) * stride + k).saturating_sub(size) } else { 0 };
        (total / 2, total - total / 2)
    };
    let pads = match &conv.padding {
        PaddingConfig2d::Valid => Some([0, 0, 0, 0]),
        PaddingConfig2d::Explicit(top, left, bottom, right) => Some([*top, *left, *bottom, *right]),
        PaddingConfig2d::Same => {
            let ((top, bottom), (left, right)) = (same(h, kh, conv.stride[0]), same(w, kw, conv.stride[1]));
            Some([top, left, bottom, right])
        }
    };
    let fits = |[top, left, bottom, right]: [usize; 4]| {
        Some([
            conv_out(h, top + bottom, kh, conv.stride[0], conv.dilation[0])?,
            conv_out(w, left + right, kw, conv.stride[1], conv.dilation[1])?,
        ])
    };
    let out = pads.and_then(fits).filter(|o| o[0] > 0 && o[1] > 0);
    match (out, pads) {
        (Some(out), Some(p)) if conv.groups == 1 && c == c_w && fused_on(&x.device()) => {
            let spec = ConvSpec { stride: conv.stride, dilation: conv.dilation, pad: [p[0], p[1]], out };
            let bias = bias_or_zeros(conv.bias.as_ref().map(|b| b.val()), o, &x.device());
            Tensor::from_dispatch(<burn::backend::Dispatch as ConvKernels>::conv2d_im2col(
                x.into_dispatch(),
                weight.into_dispatch(),
                bias.into_dispatch(),
                spec,
            ))
        }
        _ => conv.forward(x),
    }
}

/// `conv.forward(x)` for a transposed convolution, as GEMM + col2im with its
/// own backward where the fused ops run and the module has one group;
/// otherwise exactly `conv.forward(x)`.
pub fn conv_transpose2d(conv: &ConvTranspose2d, x: Tensor<4>) -> Tensor<4> {
    let [_, c, h, w] = x.dims();
    let weight = conv.weight.val();
    let [c_w, c_out, kh, kw] = weight.dims();
    // (in - 1)·stride + dilation·(k - 1) + padding_out + 1 - 2·padding
    let size = |input: usize, d: usize, k: usize| {
        let grown = (input.checked_sub(1)?).checked_mul(conv.stride[d])?
            + conv.dilation[d].checked_mul(k.checked_sub(1)?)?
            + conv.padding_out[d]
            + 1;
        grown.checked_sub(2 * conv.padding[d]).filter(|&s| s > 0)
    };
    match (size(h, 0, kh), size(w, 1, kw)) {
        (Some(oh), Some(ow)) if conv.groups == 1 && c == c_w && fused_on(&x.device()) => {
            let spec = ConvSpec { stride: conv.stride, dilation: conv.dilation, pad: conv.padding, out: [oh, ow] };
            let bias = bias_or_zeros(conv.bias.as_ref().map(|b| b.val()), c_out, &x.device());
            Tensor::from_dispatch(<burn::backend::Dispatch as ConvKernels>::conv_transpose2d_col2im(
                x.into_dispatch(),
                weight.into_dispatch(),
                bias.into_dispatch(),
                spec,
            ))
        }
        _ => conv.forward(x),
    }
}
