//! Every fused op of dl-kernels equals the composition of burn's standard ops
//! it replaces, in values and in gradients: attention, the linear layer and
//! spectral normalisation, the row-wise ops (GELU, tanh, softmax, layer
//! normalisation) and the spatial ops (convolutions, max pooling). One test
//! binary.

mod attention;
mod common;
mod linear;
mod rows;
mod spatial;
