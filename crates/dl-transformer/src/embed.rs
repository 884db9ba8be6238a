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

/// How an encoder's embeddings compare with a reference file's.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceCheck {
    /// Sentences compared.
    pub sentences: usize,
    /// The least cosine similarity over the sentences.
    pub min_cosine: f64,
    /// The largest absolute difference of any component.
    pub max_abs_diff: f32,
}

impl SentenceEncoder {
    /// Embeds the `sentences` of a reference file (`{"sentences": [...],
    /// "embeddings": [[...], ...]}`, sentence-transformers' output) and
    /// compares: a count or width that differs, a cosine below `min_cosine`
    /// and a NaN are errors naming the file.
    pub fn check_reference(&self, path: &Path, min_cosine: f64, device: &Device) -> Result<ReferenceCheck> {
        if !(0.0..=1.0).contains(&min_cosine) {
            return Err(Error::out_of_range("the least cosine", min_cosine, "[0, 1]"));
        }
        let r: serde_json::Value = dl_core::config::load_json(path)?;
        let json = |e| Error::Json { path: path.into(), source: e };
        let sentences: Vec<String> = serde_json::from_value(r["sentences"].clone()).map_err(json)?;
        let expected: Vec<Vec<f32>> = serde_json::from_value(r["embeddings"].clone()).map_err(json)?;
        let refs: Vec<&str> = sentences.iter().map(String::as_str).collect();
        let got = self.embed(&refs, 32, device)?;
        let widths = |v: &[Vec<f32>]| v.iter().map(Vec::len).collect::<Vec<_>>();
        if expected.len() != refs.len() || widths(&expected) != widths(&got) {
            return Err(Error::data(
                path,
                "embeddings",
                format!(
                    "{} embeddings of widths {:?} for {} sentences; the encoder gives width {}",
                    expected.len(),
                    widths(&expected).into_iter().collect::<std::collections::BTreeSet<_>>(),
                    refs.len(),
                    got.first().map_or(0, Vec::len)
                ),
            ));
        }
        let min = got
            .iter()
            .zip(&expected)
            .map(|(g, e)| crate::hf::cosine(g, e))
            // A NaN sticks (f64::min would drop it).
            .fold(f64::INFINITY, |a, b| if b.is_nan() || b < a { b } else { a });
        let max_abs_diff = got
            .iter()
            .zip(&expected)
            .flat_map(|(g, e)| g.iter().zip(e).map(|(a, b)| (a - b).abs()))
            .fold(0.0f32, |a, b| if b.is_nan() || b > a { b } else { a });
        if min.is_nan() || min < min_cosine {
            return Err(Error::Invalid(format!(
                "{}: the embeddings differ from the reference (least cosine {min:.6}, below {min_cosine})",
                path.display()
            )));
        }
        Ok(ReferenceCheck { sentences: refs.len(), min_cosine: min, max_abs_diff })
    }

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
