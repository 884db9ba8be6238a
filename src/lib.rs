#![doc = include_str!("../README.md")]
//! # dl-families
//!
//! The umbrella crate: re-exports every family crate, holds the recipes
//! that compare families side by side (the examples `adding_problem`,
//! `vanishing_gradients`, `forecast` and the `tour`) and the hybrids of two
//! families ([`crnn`]: a CNN + BiLSTM that reads digit strings; [`speech`]: CTC
//! recognisers of connected spoken digits; [`caption`]: a CNN encoder with LSTM or
//! Transformer caption decoders). Depend on a family
//! crate alone (`dl-cnn`, `dl-rnn`, `dl-lstm`, `dl-transformer`, `dl-gan`) when you need only that one.

pub mod caption;
pub mod crnn;
pub mod recurrent;
pub mod speech;

pub use dl_cnn;
pub use dl_core;
pub use dl_gan;
pub use dl_lstm;
pub use dl_rnn;
pub use dl_transformer;
