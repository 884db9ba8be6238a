//! The models: BERT, GPT-2, LLaMA (and, built from the same layers, the
//! encoder-decoder Transformer and ViT).

pub mod bert;
pub mod encoder;
pub mod gpt;
pub mod llama;
pub mod seq2seq;
pub mod vit;
