//! Sentence embeddings with a pretrained BERT (sentence-transformers'
//! recipe): tokenise with truncation at the model's length, run the encoder,
//! mean-pool over real tokens, L2-normalise.

use std::path::Path;

use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::hf::bert_from_dir;
use crate::models::bert::{Bert, mean_pool};
use crate::tokenizer::HfTokenizer;
use dl_core::task::to_f32;
use dl_core::{Error, Result};

/// A sentence encoder: tokenizer + BERT + mean pooling + normalisation.
#[derive(Debug)]
pub struct SentenceEncoder {
    /// The encoder.
    pub bert: Bert,
    /// Its tokenizer.
    pub tokenizer: HfTokenizer,
    /// Longest input in tokens (special tokens included).
    pub max_len: usize,
    pad_id: usize,
}

impl SentenceEncoder {
    /// Loads a sentence-transformers folder (`config.json`, `model.safetensors`,
    /// `tokenizer.json`, optional `sentence_bert_config.json` whose
    /// `max_seq_length` sets the truncation; else the model's position count).
    pub fn from_dir(dir: &Path, device: &Device) -> Result<Self> {
        let (config, bert) = bert_from_dir(dir, device)?;
        let st = dir.join("sentence_bert_config.json");
        let max_len = if st.is_file() {
            let v: serde_json::Value = dl_core::config::load_json(&st)?;
            v.get("max_seq_length").and_then(|m| m.as_u64()).map_or(config.max_position_embeddings, |m| m as usize)
        } else {
            config.max_position_embeddings
        };
        let max_len = max_len.min(config.max_position_embeddings);
        let tokenizer = HfTokenizer::from_file(dir.join("tokenizer.json"), Some(max_len))?;
        Ok(Self { bert, tokenizer, max_len, pad_id: config.pad_token_id })
    }

    /// Token ids of each text (with `[CLS]`/`[SEP]`, truncated).
    pub fn encode(&self, texts: &[&str]) -> Result<Vec<Vec<usize>>> {
        texts.iter().map(|t| self.tokenizer.encode(t, true)).collect()
    }

    /// Unit-length embeddings `[N, d]` of `texts`, `batch_size` texts per forward pass.
    pub fn embed(&self, texts: &[&str], batch_size: usize, device: &Device) -> Result<Vec<Vec<f32>>> {
        if batch_size == 0 {
            return Err(Error::config("SentenceEncoder", "batch_size", "must be at least 1"));
        }
        let ids = self.encode(texts)?;
        // Batches of similar lengths pad little: encode in length order, return in input order.
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_by_key(|&i| ids[i].len());
        let sorted: Vec<Vec<usize>> = order.iter().map(|&i| ids[i].clone()).collect();
        let mut out = vec![Vec::new(); texts.len()];
        let mut next = order.iter();
        for chunk in sorted.chunks(batch_size) {
            let t = chunk.iter().map(Vec::len).max().unwrap_or(1).max(1);
            let b = chunk.len();
            let mut flat = Vec::with_capacity(b * t);
            let mut mask = Vec::with_capacity(b * t);
            for seq in chunk {
                flat.extend(seq.iter().map(|&i| i as i64));
                flat.extend(std::iter::repeat_n(self.pad_id as i64, t - seq.len()));
                mask.extend(std::iter::repeat_n(1i64, seq.len()));
                mask.extend(std::iter::repeat_n(0i64, t - seq.len()));
            }
            let ids = Tensor::<2, Int>::from_data(TensorData::new(flat, [b, t]), device);
            let mask = Tensor::<2, Int>::from_data(TensorData::new(mask, [b, t]), device);
            let h = self.bert.forward(ids, Some(mask.clone()), None)?.last_hidden_state;
            let pooled = mean_pool(h, mask);
            let d = pooled.dims()[1];
            let norm = pooled.clone().powf_scalar(2.0).sum_dim(1).sqrt().clamp_min(1e-12);
            let unit = pooled / norm.expand([b, d]);
            let values = to_f32(unit)?;
            for row in values.chunks(d) {
                if let Some(&i) = next.next() {
                    out[i] = row.to_vec();
                }
            }
        }
        Ok(out)
    }
}
