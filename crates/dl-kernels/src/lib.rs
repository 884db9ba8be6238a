#![doc = include_str!("../README.md")]
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

pub use ops::activation::{gelu, leaky_relu, relu, softmax_last_dim, tanh};
pub use ops::attention::{attention_context, attention_weights};
pub use ops::batch_norm::batch_norm_2d;
pub use ops::conv::{conv_transpose2d, conv2d};
pub use ops::fused_on;
pub use ops::linear::{affine, linear};
pub use ops::norm::layer_norm;
pub use ops::optim::{AdamStep, adam_step};
pub use ops::pool::max_pool2d;
pub use ops::recurrent::{LstmRun, elman_layer, lstm_layer};
pub use ops::spectral::{SpectralNormalized, spectral_normalize, spectral_normalize_composed, unit_vector};

/// Keeps freed buffers in the process heap (glibc on Linux; elsewhere
/// nothing): by default glibc maps every buffer above 128 KiB to fresh pages
/// and unmaps it when freed, and gives memory at the top of the heap back
/// past 128 KiB, so that each op's output of a few MB costs page faults and
/// page clearing in the kernel (the gpt benchmark trains 30% faster without
/// them). Raises the mapping threshold to 32 MiB (glibc's maximum) and the
/// trim threshold to 1 GiB. Called once by the fused ops; `DL_MALLOC=system`
/// leaves glibc's settings alone (loops of many tiny ops, such as the
/// tour's 2-D GAN, run about 17% faster that way).
pub fn tune_allocator() {
    static DONE: std::sync::Once = std::sync::Once::new();
    DONE.call_once(|| {
        if std::env::var("DL_MALLOC").is_ok_and(|v| v.trim() == "system") {
            return;
        }
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        {
            unsafe extern "C" {
                fn mallopt(param: std::ffi::c_int, value: std::ffi::c_int) -> std::ffi::c_int;
            }
            const M_TRIM_THRESHOLD: std::ffi::c_int = -1;
            const M_MMAP_THRESHOLD: std::ffi::c_int = -3;
            // SAFETY: glibc's `mallopt` only sets allocator parameters; both
            // values are within the ranges its manual documents.
            unsafe {
                mallopt(M_MMAP_THRESHOLD, 32 << 20);
                mallopt(M_TRIM_THRESHOLD, 1 << 30);
            }
        }
    });
}

/// Runs `f` on a worker of the thread pool the fused ops and burn's CPU
/// backend split their work over, instead of on the calling thread: the
/// caller would otherwise be one more thread competing with the pool's
/// workers for the cores whenever it runs the serial parts of a step, and
/// every parallel part would have to wake a worker from outside. A training
/// step of the gpt and lstm benchmarks runs 14-18% faster this way on two
/// cores. Calls from inside a pool run `f` in place.
pub fn on_compute_threads<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    static POOL: std::sync::OnceLock<Option<rayon::ThreadPool>> = std::sync::OnceLock::new();
    if rayon::current_thread_index().is_some() {
        return f();
    }
    let pool = POOL.get_or_init(|| {
        // The main thread's stack size: a step runs here instead.
        rayon::ThreadPoolBuilder::new().stack_size(8 << 20).thread_name(|i| format!("dl-compute-{i}")).build().ok()
    });
    match pool {
        Some(pool) => pool.install(f),
        None => f(),
    }
}

/// Whether fused ops are on: unless the environment sets `DL_FUSED=0` (read
/// once per process).
pub fn fused_enabled() -> bool {
    static ENABLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ENABLED.get_or_init(|| std::env::var("DL_FUSED").map_or(true, |v| v.trim() != "0"))
}
