//! Fused operations as burn backend extensions, for the CPU backends (flex,
//! ndarray), each with a hand-written backward pass on `Autodiff`: the
//! recurrent layers ([`recurrent`]), the convolutions ([`conv`]), max pooling
//! ([`pool`]), activations ([`activation`]), layer normalisation ([`norm`])
//! and spectral normalisation ([`spectral`]). Other
//! devices keep the composition of standard ops.

use std::any::Any;
use std::future::Future;
use std::ops::Deref;
use std::task::{Context, Poll, Waker};

use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, TensorMetadata};
use burn::tensor::{Device, Shape, TensorData};

pub mod activation;
pub mod attention;
pub mod batch_norm;
pub mod conv;
pub mod linear;
pub mod norm;
pub mod optim;
pub mod pool;
pub mod recurrent;
pub mod spectral;

/// Waits for a future that a CPU backend has already completed.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    let mut context = Context::from_waker(Waker::noop());
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(value) = future.as_mut().poll(&mut context) {
            return value;
        }
        std::thread::yield_now();
    }
}

/// The values of a float tensor of a CPU backend. Reading back from host
/// memory cannot fail; a failure is a bug of the backend, not of the input.
pub(crate) fn host<B: Backend>(tensor: FloatTensor<B>) -> Vec<f32> {
    let data = block_on(B::float_into_data(tensor)).expect("a CPU backend hands back its values");
    data.convert::<f32>().try_into_vec::<f32>().expect("values converted to f32")
}

/// A float tensor's values on the host: borrowed from the backend's own
/// storage where it is a contiguous `f32` buffer on the host (flex), a copy
/// read back otherwise.
pub(crate) enum Values<'a> {
    Borrowed(&'a [f32]),
    Owned(Vec<f32>),
}

impl Deref for Values<'_> {
    type Target = [f32];

    fn deref(&self) -> &[f32] {
        match self {
            Values::Borrowed(v) => v,
            Values::Owned(v) => v,
        }
    }
}

/// The contiguous `f32` values of a flex tensor, in place, if it has them.
#[cfg(feature = "flex")]
fn flex_slice(tensor: &dyn Any) -> Option<&[f32]> {
    let t = tensor.downcast_ref::<burn::backend::flex::FlexTensor>()?;
    (t.dtype() == burn::tensor::DType::F32).then(|| t.as_slice::<f32>()).flatten()
}

/// The values of `tensor` without consuming it (see [`Values`]).
pub(crate) fn values<B: Backend>(tensor: &FloatTensor<B>) -> Values<'_> {
    #[cfg(feature = "flex")]
    if let Some(v) = flex_slice(tensor) {
        return Values::Borrowed(v);
    }
    Values::Owned(host::<B>(tensor.clone()))
}

/// A rank-4 float tensor's values with the distance between neighbours
/// along each axis (0 along axes of size 1, so that they broadcast) and the
/// index of its first value: the backend's own storage where the last axis
/// is dense (flex, views such as split attention heads included), a
/// contiguous copy otherwise.
pub(crate) struct Strided<'a> {
    pub values: Values<'a>,
    pub dims: [usize; 4],
    pub strides: [usize; 4],
    pub offset: usize,
}

impl Strided<'_> {
    /// The `rows x cols` matrix at `(i, j)` of the first two axes.
    pub fn matrix(&self, i: usize, j: usize) -> crate::gemm::View<'_> {
        let start = self.offset + i * self.strides[0] + j * self.strides[1];
        crate::gemm::View {
            data: &self.values[start..],
            rows: self.dims[2],
            cols: self.dims[3],
            stride: self.strides[2],
            transposed: false,
        }
    }
}

/// The values of a rank-4 `tensor` with their layout (see [`Strided`]).
pub(crate) fn strided<B: Backend>(tensor: &FloatTensor<B>) -> Strided<'_> {
    let dims = tensor.shape().dims::<4>();
    let broadcast = |strides: [usize; 4]| std::array::from_fn(|i| if dims[i] == 1 { 0 } else { strides[i] });
    #[cfg(feature = "flex")]
    if let Some(t) = (tensor as &dyn Any).downcast_ref::<burn::backend::flex::FlexTensor>()
        && t.dtype() == burn::tensor::DType::F32
        && let [s0, s1, s2, s3] = *t.layout().strides()
        && [s0, s1, s2, s3].iter().all(|&s| s >= 0)
        && (s3 == 1 || dims[3] == 1)
    {
        let storage = t.storage::<f32>();
        let strides = broadcast([s0 as usize, s1 as usize, s2 as usize, 1]);
        let offset = t.layout().start_offset();
        let last = offset + (0..4).map(|i| dims[i].saturating_sub(1) * strides[i]).sum::<usize>();
        if dims.contains(&0) || last < storage.len() {
            return Strided { values: Values::Borrowed(storage), dims, strides, offset };
        }
    }
    let strides = broadcast([dims[1] * dims[2] * dims[3], dims[2] * dims[3], dims[3], 1]);
    Strided { values: Values::Owned(host::<B>(tensor.clone())), dims, strides, offset: 0 }
}

/// `f` applied to the values of `tensor` in place: in the backend's own
/// storage where `tensor` holds a contiguous `f32` buffer that nothing else
/// shares (flex), on a copy otherwise.
pub(crate) fn map_in_place<B: Backend>(tensor: FloatTensor<B>, f: impl FnOnce(&mut [f32])) -> FloatTensor<B> {
    #[cfg(feature = "flex")]
    let mut tensor = tensor;
    #[cfg(feature = "flex")]
    if let Some(t) = (&mut tensor as &mut dyn Any).downcast_mut::<burn::backend::flex::FlexTensor>() {
        let range = t.layout().contiguous_offsets().filter(|_| t.dtype() == burn::tensor::DType::F32);
        if let Some((start, end)) = range
            && let Some(storage) = t.try_storage_mut::<f32>()
            && let Some(v) = storage.get_mut(start..end)
        {
            f(v);
            return tensor;
        }
    }
    let (shape, device) = (tensor.shape(), tensor.device());
    let mut v = host::<B>(tensor);
    f(&mut v);
    device_shaped::<B>(v, shape, &device)
}

/// The mask's values, or `None` when every step is real.
pub(crate) fn host_mask<B: Backend>(mask: FloatTensor<B>) -> Option<Vec<f32>> {
    let m = host::<B>(mask);
    (!m.iter().all(|&v| v == 1.0)).then_some(m)
}

/// A float tensor of any rank, shaped `shape`, on `device`.
pub(crate) fn device_shaped<B: Backend>(values: Vec<f32>, shape: Shape, device: &B::Device) -> FloatTensor<B> {
    B::float_from_data(TensorData::new(values, shape), device)
}

/// A float tensor of shape `shape` on `device` holding `values`.
pub(crate) fn device_values<B: Backend, const D: usize>(
    values: Vec<f32>,
    shape: [usize; D],
    device: &B::Device,
) -> FloatTensor<B> {
    B::float_from_data(TensorData::new(values, shape), device)
}

/// Whether the fused layers run on `device`: a CPU backend (flex, ndarray),
/// with autodiff or without, unless `DL_FUSED=0` asks for the composition.
pub fn fused_on(device: &Device) -> bool {
    crate::tune_allocator();
    if !crate::fused_enabled() {
        return false;
    }
    let plain = device.clone().without_autodiff();
    #[cfg(feature = "flex")]
    if plain == Device::flex() {
        return true;
    }
    #[cfg(feature = "ndarray")]
    #[allow(deprecated)]
    if plain == Device::ndarray() {
        return true;
    }
    let _ = plain;
    false
}
