//! Training: one loop for every supervised model of every family.
//!
//! burn-train's `Learner` is built around one model and one optimizer and
//! its own metric/event system; dl-families needs the same loop for a CNN, an
//! LSTM and a Transformer *and* building blocks for loops it does not fit
//! (a GAN alternates two optimizers). So the pieces are separate and public:
//! [`OptimizerKind`] (burn-optim optimizers, with gradient clipping),
//! [`LrSchedule`], [`progress::bar`], [`History`] (CSV + PNG curves),
//! [`Checkpointer`] (an atomic per-epoch checkpoint), and [`fit()`] composes them for the supervised case
//! with early stopping, per-epoch checkpoints and exact resume.

pub mod adadelta;
pub mod adam;
pub mod checkpointer;
pub mod config;
pub mod fit;
pub mod grads;
pub mod log;
pub mod parallel;
pub mod progress;

pub use checkpointer::Checkpointer;
pub use config::{EarlyStopping, LrSchedule, OptimizerKind, TrainConfig};
pub use fit::{FitReport, TrainState, fit, fit_data_parallel};
pub use log::{EpochRecord, History};
