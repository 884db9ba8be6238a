#![doc = include_str!("../README.md")]
//! # dl-transformer
//!
//! Attention lets every position read every other position in one step:
//! nothing is carried through a recurrence, so a whole sequence is processed
//! in parallel and long-range dependencies are one hop away. This crate
//! builds the Transformer family on dl-core and burn:
//!
//! - building blocks: [`attention`] (scaled dot-product, multi-head,
//!   grouped/multi-query, padding and causal masks, KV cache), [`position`]
//!   (sinusoidal, learned, rotary), [`ffn`] (GELU MLP, SwiGLU), [`layer`]
//!   (pre-/post-norm encoder and decoder layers);
//! - models: [`models::seq2seq`] (encoder-decoder), [`models::bert`],
//!   [`models::gpt`], [`models::llama`], [`models::vit`];
//! - [`generate`](mod@generate): greedy / temperature / top-k / top-p decoding with a KV cache;
//! - [`hf`] and [`tokenizer`]: Hugging Face checkpoints and `tokenizer.json`;
//!   [`embed`]: sentence embeddings; [`pytorch`]: `nn.Transformer*` weights;
//! - [`parity`]: the PyTorch-parity kinds of the crate.

/// The shared core (errors, configs, training loop), so one dependency is enough.
pub use dl_core;
/// burn, as this crate uses it.
pub use dl_core::burn;

pub mod attention;
pub mod embed;
pub mod export;
pub mod ffn;
pub mod generate;
pub mod hf;
pub mod layer;
pub mod lm;
pub mod models;
#[cfg(feature = "parity")]
pub mod parity;
pub mod position;
pub mod pretrained;
pub mod pytorch;
pub mod tokenizer;

pub use attention::{Attention, AttentionConfig, KvCache};
pub use generate::{CausalLm, GenerateConfig, generate};
pub use models::bert::{Bert, BertClassifier, BertClassifierConfig, BertConfig, BertForMaskedLm, BertMlmConfig};
pub use models::encoder::{TransformerEncoder, TransformerEncoderConfig};
pub use models::gpt::{Gpt, GptConfig};
pub use models::llama::{Llama, LlamaConfig};
pub use models::seq2seq::{TransformerSeq2Seq, TransformerSeq2SeqConfig};
pub use models::vit::{Vit, VitConfig};
