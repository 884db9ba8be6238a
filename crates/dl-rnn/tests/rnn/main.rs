//! dl-rnn tests: parity with PyTorch (`rnn`, `gru`), variable-length batches
//! against running each sequence alone, bidirectionality, state handling,
//! config and input errors, save/load (backend conformance: tests/conformance.rs
//! at the workspace root). The sequence
//! heads and the encoder-decoder are tested in dl-seq.

use burn::tensor::{Device, Tensor, TensorData};
use dl_core::parity::{Registry, Verdict, check_one};
use dl_core::testing::{device, error_text, max_diff, random, rng_lock, values, workspace_root};
use dl_core::{Error, ModelConfig};
use dl_rnn::*;
use dl_rnn::{EncoderState, SequenceEncoder};
use dl_rnn::{HeadConfig, SequenceInput, SequenceModelConfig, SequenceTask};

mod fused;
mod parity;
mod sequences;
mod validation;

fn registry() -> Registry {
    let mut r = Registry::new();
    dl_rnn::parity::register(&mut r);
    r
}
