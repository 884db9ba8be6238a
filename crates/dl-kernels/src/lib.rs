//! # dl-kernels
//!
//! Fused operations for the CPU backends, through burn's backend-extension
//! API: whole-sequence LSTM and Elman layers with their own backpropagation
//! through time ([`ops`]), on vectorised `sigmoid`/`tanh` ([`math`]) and
//! strided matrix products ([`gemm`]). Models call them where [`fused_on`]
//! holds and keep the composition of standard ops elsewhere; `DL_FUSED=0`
//! switches every fused op back to the composition, for A/B runs and tests.

pub mod channels;
pub mod conv;
pub mod gemm;
pub mod math;
pub mod ops;
pub mod pool;
pub mod recurrent;
pub mod rows;

pub use ops::activation::{gelu, leaky_relu, relu, softmax_last_dim};
pub use ops::batch_norm::batch_norm_2d;
pub use ops::conv::{conv_transpose2d, conv2d};
pub use ops::fused_on;
pub use ops::linear::linear;
pub use ops::norm::layer_norm;
pub use ops::optim::{AdamStep, adam_step};
pub use ops::pool::max_pool2d;
pub use ops::recurrent::{LstmRun, elman_layer, lstm_layer};

/// Whether fused ops are on: unless the environment sets `DL_FUSED=0` (read
/// once per process).
pub fn fused_enabled() -> bool {
    static ENABLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ENABLED.get_or_init(|| std::env::var("DL_FUSED").map_or(true, |v| v.trim() != "0"))
}
