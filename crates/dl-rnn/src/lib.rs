#![doc = include_str!("../README.md")]
//! # dl-rnn
//!
//! Recurrent neural networks: a network that feeds its previous state back in
//! at the next step, so one set of weights reads a sequence of any length.
//!
//! - [`Rnn`]: the Elman RNN, `h' = act(W_ih x + b_ih + W_hh h + b_hh)` with
//!   tanh or ReLU. Simple and fast, but gradients through many steps are
//!   products of many Jacobians, so they vanish (or explode) over long spans.
//! - [`Gru`]: the gated recurrent unit (Cho et al. 2014). A reset gate decides
//!   how much of the past enters the candidate state, an update gate blends
//!   old and new state; the additive update keeps gradients alive.
//!
//! Both are [`RecurrentStack`]s: multi-layer with dropout between layers,
//! bidirectional, optional initial state, variable-length batches, and usable
//! with every sequence head ([`HeadConfig`]) and the attention
//! encoder-decoder ([`Seq2Seq`]) of dl-seq, re-exported here.
//! [`pytorch`] loads `nn.RNN` / `nn.GRU` state dicts.

/// The shared core (errors, configs, training loop), so one dependency is enough.
pub use dl_core;
/// burn, as this crate uses it.
pub use dl_core::burn;

pub mod cell;
pub mod config;
#[cfg(feature = "parity")]
pub mod parity;
pub mod pytorch;

pub use cell::{GruCell, Nonlinearity, RnnCell};
pub use config::{GruConfig, RnnConfig};
pub use dl_seq::*;

/// An Elman RNN stack.
pub type Rnn = RecurrentStack<RnnCell>;
/// A GRU stack.
pub type Gru = RecurrentStack<GruCell>;
