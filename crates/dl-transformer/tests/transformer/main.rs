//! dl-transformer tests: parity with PyTorch and Hugging Face (attention,
//! encoder/decoder layers, GPT-2, LLaMA, BERT), the real all-MiniLM-L6-v2
//! sentence embeddings, KV-cache decoding against full recomputation, masks,
//! generation, learning (GPT, LLaMA, BERT heads), save/load, input errors, and
//! checkpoint folders written by `transformers` itself.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use dl_core::parity::{Registry, Verdict, check_one};
use dl_core::sampling::Sampling;
use dl_core::task::evaluate;
use dl_core::testing::{device, max_diff, rng_lock, values, workspace_root};
use dl_core::train::{TrainConfig, fit};
use dl_core::{Batcher, ModelConfig, Supervised};
use dl_seq::Translator;
use dl_seq::{NextTokenBatcher, TokenSequence, TokenSequenceBatcher};
use dl_transformer::attention::{causal_mask, lengths_mask};
use dl_transformer::embed::SentenceEncoder;
use dl_transformer::hf::{CHECKPOINT_FILES, checkpoint_dir, cosine};
use dl_transformer::models::bert::{BertPooling, MlmBatcher};
use dl_transformer::*;

fn ids(v: &[usize], d: &Device) -> Tensor<2, Int> {
    Tensor::from_data(TensorData::new(v.iter().map(|&i| i as i64).collect::<Vec<_>>(), [1, v.len()]), d)
}

mod decoding;
mod hf_checkpoints;
mod pretrained;
mod pretrained_weights;
mod training;
mod validation;
