#![doc = include_str!("../README.md")]
//! # dl-lstm
//!
//! Long short-term memory (Hochreiter & Schmidhuber 1997). An LSTM keeps a
//! *cell state* next to its hidden state and changes it only through gates:
//! the forget gate decides what to keep, the input gate what to write, the
//! output gate what to show. Because the cell is updated additively
//! (`c' = f * c + i * g`), the gradient along it is scaled by the forget gate
//! instead of by a weight matrix and an activation's slope at every step, so it
//! survives hundreds of steps where an Elman RNN's vanishes.
//!
//! - [`Lstm`] ([`LstmConfig`]): stacked with dropout between layers,
//!   bidirectional, projection (`proj_size`, as PyTorch), optional peephole
//!   connections (Gers & Schmidhuber 2000), forget-gate bias initialisation
//!   (Jozefowicz et al. 2015), variable-length batches; usable with every head
//!   of [`dl_seq::heads`].
//! - [`gates`]: a forward pass that also returns every step's input, forget
//!   and output gate and cell state, to see what the network remembers.
//! - [`pytorch`]: loads `nn.LSTM` state dicts (bidirectional, `proj_size`).

/// The shared core (errors, configs, training loop), so one dependency is enough.
pub use dl_core;
/// burn, as this crate uses it.
pub use dl_core::burn;

pub mod cell;
pub mod config;
pub mod gates;
#[cfg(feature = "parity")]
pub mod parity;
pub mod pytorch;

pub use cell::LstmCell;
pub use config::LstmConfig;
pub use dl_seq::*;

/// An LSTM stack.
pub type Lstm = dl_seq::RecurrentStack<LstmCell>;
