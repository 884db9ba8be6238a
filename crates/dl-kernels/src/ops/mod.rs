//! Fused operations as burn backend extensions, for the CPU backends (flex,
//! ndarray), each with a hand-written backward pass on `Autodiff`: the
//! recurrent layers ([`recurrent`]), the convolutions ([`conv`]), max pooling
//! ([`pool`]), activations ([`activation`]) and layer normalisation ([`norm`]). Other
//! devices keep the composition of standard ops.

use std::future::Future;
use std::task::{Context, Poll, Waker};

use burn::backend::Backend;
use burn::backend::tensor::FloatTensor;
use burn::tensor::{Device, Shape, TensorData};

pub mod activation;
pub mod batch_norm;
pub mod conv;
pub mod norm;
pub mod optim;
pub mod pool;
pub mod recurrent;

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
