#![doc = include_str!("../README.md")]
//! # dl-core
//!
//! What every dl-families crate shares, so that a CNN, an RNN, an LSTM, a GAN
//! and a Transformer are configured, trained, evaluated, saved and checked
//! against PyTorch the same way:
//!
//! - [`Error`] / [`Result`]: one error type; user input never panics.
//! - [`config::ModelConfig`]: validated hyper-parameters that build a model.
//! - [`task`]: the [`task::Supervised`] and [`task::Batcher`] traits, evaluation and prediction.
//! - [`train`]: the training loop and its parts (optimizers, schedules, early
//!   stopping, checkpoints with exact resume, progress bar, CSV + PNG curves).
//! - [`data`]: readers for IDX, TSV and CSV series, tokenizers, batches of
//!   sequences, seeded splits, and where to find the datasets.
//! - [`metrics`]: accuracy, confusion matrix, precision/recall/F1, RMSE/MAE, perplexity.
//! - [`checkpoint`]: weights (burnpack) + config (JSON) save/load.
//! - [`weights`]: PyTorch state dicts (safetensors) read by key into models.
//! - [`pretrained`]: trained checkpoints shipped inside a crate.
//! - [`parity`]: PyTorch-parity fixtures and their checker (feature `parity`).
//! - [`sampling`]: greedy / temperature / top-k / top-p choice of the next token.
//! - [`plot`]: PNG charts and images with no system dependency (feature `plot`).
//! - [`device`]: picking flex / ndarray / wgpu at run time.
//! - [`testing`]: helpers of the test suites (feature `testing`).
//!
//! Features: a backend (`flex`, `ndarray`, `wgpu`); `plot` (PNG curves of
//! the training loop), `progress` (progress bars), `parity`, `testing`. With
//! none of the optional ones, dl-core compiles burn, serde, thiserror,
//! flate2 and safetensors only.

pub mod checkpoint;
pub mod config;
pub mod data;
pub mod device;
pub mod error;
pub mod memory;
pub mod metrics;
#[cfg(feature = "parity")]
pub mod parity;
#[cfg(feature = "plot")]
pub mod plot;
pub mod pretrained;
pub mod sampling;
pub mod task;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod train;
pub mod weights;

pub use burn;
pub use config::ModelConfig;
pub use device::{Backend, DeviceSpec, select_backend, select_device};
pub use error::{Error, Result};
pub use task::{Batcher, StepOutput, Supervised, Targets};
