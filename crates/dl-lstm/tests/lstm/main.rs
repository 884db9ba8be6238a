//! dl-lstm tests: parity with PyTorch (`lstm`, with h0/c0, layers, directions,
//! proj_size), variable-length batches, bidirectionality, state handling, gate
//! introspection, peepholes, forget-bias initialisation, errors, training,
//! save/load, and the fused layer against the
//! composition.

use burn::tensor::{Device, Tensor};
use dl_core::parity::{Registry, Verdict, check_one};
use dl_core::testing::{device, max_diff, random, rng_lock, values, workspace_root};
use dl_core::train::{TrainConfig, fit};
use dl_core::{Error, ModelConfig};
use dl_lstm::gates::forward_with_gates;
use dl_lstm::*;
use dl_lstm::{EncoderState, RecurrentCell};
use dl_lstm::{HeadConfig, SequenceInput, SequenceModelConfig, SequenceTask, SeriesBatcher};

mod fused;
mod parity;
mod sequences;
mod validation;
