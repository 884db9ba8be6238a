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
//! - [`data`]: readers for IDX, TSV, CSV series, WAV (+ spectrograms), tokenizers,
//!   seeded splits, and where to find the datasets.
//! - [`metrics`]: accuracy, confusion matrix, precision/recall/F1, RMSE/MAE, perplexity.
//! - [`checkpoint`]: weights (burnpack) + config (JSON) save/load.
//! - [`weights`]: PyTorch state dicts (safetensors) read by key into models.
//! - [`parity`]: PyTorch-parity fixtures and their checker.
//! - [`recurrent`]: what every recurrent family shares (stacking, directions,
//!   sequence lengths, initial states, sequence heads).
//! - [`sampling`]: greedy / temperature / top-k / top-p choice of the next token.
//! - [`plot`]: PNG charts and images with no system dependency.
//! - [`device`]: picking flex / ndarray / wgpu at run time.

pub mod checkpoint;
pub mod cli;
pub mod config;
pub mod data;
pub mod device;
pub mod embedded;
pub mod error;
pub mod metrics;
pub mod parity;
pub mod plot;
pub mod recurrent;
pub mod sampling;
pub mod task;
pub mod train;
pub mod weights;

pub use burn;
pub use config::ModelConfig;
pub use device::{Backend, select_backend};
pub use error::{Error, Result};
pub use task::{Batcher, StepOutput, Supervised, Targets};
