//! BERT (Devlin et al. 2019): a post-norm Transformer encoder over token,
//! position and segment embeddings, with a masked-language-model head and a
//! sequence-classification head. Parameter names follow Hugging Face's
//! `BertModel`, so checkpoints such as all-MiniLM-L6-v2 load unchanged.

use std::sync::atomic::{AtomicU64, Ordering};

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::activation::gelu;
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::attention::padding_mask;
use crate::ffn::Activation;
use crate::generate::check_ids;
use crate::layer::{EncoderLayer, TransformerLayerConfig};
use dl_core::config::check;
use dl_core::data::split::SplitRng;
use dl_core::{Batcher, Error, ModelConfig, StepOutput, Supervised};
use dl_seq::{SequenceBatch, SequenceInput, SequenceTarget};

/// Hyper-parameters of [`Bert`], named as in Hugging Face's `BertConfig`.
#[derive(Config, Debug)]
pub struct BertConfig {
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Model width.
    pub hidden_size: usize,
    /// Encoder layers.
    pub num_hidden_layers: usize,
    /// Attention heads.
    pub num_attention_heads: usize,
    /// Feed-forward width.
    pub intermediate_size: usize,
    /// Feed-forward non-linearity (`gelu` = exact erf GELU).
    #[config(default = "Activation::Gelu")]
    pub hidden_act: Activation,
    /// LayerNorm epsilon (1e-12 in BERT; 1e-5 gives visibly different outputs).
    #[config(default = 1e-12)]
    pub layer_norm_eps: f64,
    /// Longest input (learned positions).
    #[config(default = 512)]
    pub max_position_embeddings: usize,
    /// Segment types.
    #[config(default = 2)]
    pub type_vocab_size: usize,
    /// Dropout on embeddings, attention weights and residual branches (training only).
    #[config(default = 0.1)]
    pub dropout: f64,
    /// Padding token id.
    #[config(default = 0)]
    pub pad_token_id: usize,
}

impl BertConfig {
    fn layer(&self) -> TransformerLayerConfig {
        TransformerLayerConfig::new(self.hidden_size, self.num_attention_heads, self.intermediate_size)
            .with_activation(self.hidden_act)
            .with_layer_norm_eps(self.layer_norm_eps)
            .with_dropout(self.dropout)
            .with_norm_first(false)
    }
}

impl ModelConfig for BertConfig {
    type Model = Bert;

    fn validate(&self) -> dl_core::Result<()> {
        check::positive("BertConfig", "vocab_size", self.vocab_size)?;
        check::positive("BertConfig", "num_hidden_layers", self.num_hidden_layers)?;
        check::positive("BertConfig", "max_position_embeddings", self.max_position_embeddings)?;
        check::positive("BertConfig", "type_vocab_size", self.type_vocab_size)?;
        if self.pad_token_id >= self.vocab_size {
            return Err(Error::config("BertConfig", "pad_token_id", "must be below vocab_size"));
        }
        self.layer().validate()?;
        let (d, f) = (self.hidden_size as f64, self.intermediate_size as f64);
        let rows = (self.vocab_size + self.max_position_embeddings + self.type_vocab_size) as f64;
        let params = rows * d + d * d + self.num_hidden_layers as f64 * (4.0 * d * d + 2.0 * d * f);
        check::fits_in_memory(
            "BertConfig",
            "vocab_size, max_position_embeddings, hidden_size, intermediate_size, num_hidden_layers",
            params,
        )
    }

    fn build(&self, device: &Device) -> Bert {
        let d = self.hidden_size;
        Bert {
            word_embeddings: EmbeddingConfig::new(self.vocab_size, d).init(device),
            position_embeddings: EmbeddingConfig::new(self.max_position_embeddings, d).init(device),
            token_type_embeddings: EmbeddingConfig::new(self.type_vocab_size, d).init(device),
            embeddings_norm: LayerNormConfig::new(d).with_epsilon(self.layer_norm_eps).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            layers: (0..self.num_hidden_layers).map(|_| self.layer().build(device)).collect(),
            pooler: LinearConfig::new(d, d).init(device),
            vocab_size: self.vocab_size,
            max_len: self.max_position_embeddings,
            type_vocab_size: self.type_vocab_size,
        }
    }
}

/// A BERT encoder with its pooler.
#[derive(Module, Debug)]
pub struct Bert {
    /// `embeddings.word_embeddings`.
    pub word_embeddings: Embedding,
    /// `embeddings.position_embeddings`.
    pub position_embeddings: Embedding,
    /// `embeddings.token_type_embeddings`.
    pub token_type_embeddings: Embedding,
    /// `embeddings.LayerNorm`.
    pub embeddings_norm: LayerNorm,
    dropout: Dropout,
    /// `encoder.layer.*`: post-norm layers.
    pub layers: Vec<EncoderLayer>,
    /// `pooler.dense`: `tanh(W h_[CLS] + b)`.
    pub pooler: Linear,
    #[module(skip)]
    vocab_size: usize,
    #[module(skip)]
    max_len: usize,
    #[module(skip)]
    type_vocab_size: usize,
}

/// What [`Bert::forward`] returns.
#[derive(Debug, Clone)]
pub struct BertOutput {
    /// `[B, T, d]`, every position (padded ones included).
    pub last_hidden_state: Tensor<3>,
    /// Attention weights of each layer `[B, H, T, T]`.
    pub attentions: Vec<Tensor<4>>,
}

impl Bert {
    /// Longest input.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Model width.
    pub fn hidden_size(&self) -> usize {
        self.word_embeddings.weight.dims()[1]
    }

    /// Encodes `ids` `[B, T]`; `attention_mask` `[B, T]` is 1 for tokens and 0 for
    /// padding (default: all tokens); `token_type_ids` default to segment 0.
    pub fn forward(
        &self,
        ids: Tensor<2, Int>,
        attention_mask: Option<Tensor<2, Int>>,
        token_type_ids: Option<Tensor<2, Int>>,
    ) -> dl_core::Result<BertOutput> {
        let [b, t] = ids.dims();
        check_ids("Bert", &ids, self.vocab_size)?;
        if t > self.max_len {
            return Err(Error::shape("Bert input", format!("at most {} tokens", self.max_len), t));
        }
        let device = ids.device();
        let types = match token_type_ids {
            Some(tt) => {
                if tt.dims() != [b, t] {
                    return Err(Error::shape("Bert token_type_ids", format!("[{b}, {t}]"), format!("{:?}", tt.dims())));
                }
                check_ids("Bert token types", &tt, self.type_vocab_size)?;
                tt
            }
            None => Tensor::<2, Int>::zeros([b, t], &device),
        };
        let mask = match attention_mask {
            Some(m) if m.dims() != [b, t] => {
                return Err(Error::shape("Bert attention_mask", format!("[{b}, {t}]"), format!("{:?}", m.dims())));
            }
            Some(m) => Some(padding_mask(m)),
            None => None,
        };
        let positions = Tensor::<1, Int>::arange(0..t as i64, &device).reshape([1, t]).repeat_dim(0, b);
        let x = self.word_embeddings.forward(ids)
            + self.position_embeddings.forward(positions)
            + self.token_type_embeddings.forward(types);
        let mut x = self.dropout.forward(self.embeddings_norm.forward(x));
        let mut attentions = Vec::with_capacity(self.layers.len());
        for layer in &self.layers {
            let (y, w) = layer.forward(x, mask.clone())?;
            x = y;
            attentions.push(w);
        }
        Ok(BertOutput { last_hidden_state: x, attentions })
    }

    /// The pooler's output `tanh(W h_[CLS] + b)` `[B, d]`.
    pub fn pool(&self, hidden: Tensor<3>) -> Tensor<2> {
        let [b, _, d] = hidden.dims();
        self.pooler.forward(hidden.slice([0..b, 0..1, 0..d]).reshape([b, d])).tanh()
    }
}

/// Mean of `hidden` `[B, T, d]` over the positions where `mask` `[B, T]` is 1
/// (sentence-transformers' mean pooling).
pub fn mean_pool(hidden: Tensor<3>, mask: Tensor<2, Int>) -> Tensor<2> {
    let [b, t, d] = hidden.dims();
    let m = mask.float().reshape([b, t, 1]);
    let sum = (hidden * m.clone().expand([b, t, d])).sum_dim(1).reshape([b, d]);
    let count = m.sum_dim(1).reshape([b, 1]).clamp_min(1e-9);
    sum / count.expand([b, d])
}

/// `[B, T]` attention mask (1 = token) from sequence lengths.
pub fn mask_from_lengths(lengths: &[usize], t: usize, device: &Device) -> Tensor<2, Int> {
    let values: Vec<i64> = lengths.iter().flat_map(|&n| (0..t).map(move |j| i64::from(j < n))).collect();
    Tensor::from_data(TensorData::new(values, [lengths.len(), t]), device)
}

/// How a classifier turns token states into one vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BertPooling {
    /// The pooler over `[CLS]` (Hugging Face's `BertForSequenceClassification`).
    Cls,
    /// Mean over real tokens (how sentence-transformers models were trained).
    Mean,
}

/// Hyper-parameters of [`BertClassifier`].
#[derive(Config, Debug)]
pub struct BertClassifierConfig {
    /// The encoder.
    pub bert: BertConfig,
    /// Classes.
    pub num_labels: usize,
    /// Pooling.
    #[config(default = "BertPooling::Cls")]
    pub pooling: BertPooling,
    /// Dropout before the classifier (training only).
    #[config(default = 0.1)]
    pub classifier_dropout: f64,
}

impl ModelConfig for BertClassifierConfig {
    type Model = BertClassifier;

    fn validate(&self) -> dl_core::Result<()> {
        self.bert.validate()?;
        check::positive("BertClassifierConfig", "num_labels", self.num_labels)?;
        check::probability("BertClassifierConfig", "classifier_dropout", self.classifier_dropout)
    }

    fn build(&self, device: &Device) -> BertClassifier {
        BertClassifier::new(self.bert.build(device), self, device)
    }
}

/// BERT with a linear classifier over the pooled sequence.
#[derive(Module, Debug)]
pub struct BertClassifier {
    /// The encoder.
    pub bert: Bert,
    /// `classifier`: `[d, num_labels]`.
    pub classifier: Linear,
    dropout: Dropout,
    #[module(skip)]
    pooling: BertPooling,
}

impl BertClassifier {
    /// Puts a fresh classifier on an existing (for example pretrained) encoder.
    pub fn new(bert: Bert, config: &BertClassifierConfig, device: &Device) -> Self {
        let d = bert.hidden_size();
        Self {
            bert,
            classifier: LinearConfig::new(d, config.num_labels).init(device),
            dropout: DropoutConfig::new(config.classifier_dropout).init(),
            pooling: config.pooling,
        }
    }

    /// Class logits `[B, C]` of padded `ids` `[B, T]` with their lengths.
    pub fn forward(&self, ids: Tensor<2, Int>, lengths: &[usize]) -> dl_core::Result<Tensor<2>> {
        let [b, t] = ids.dims();
        dl_seq::check_lengths("BertClassifier", lengths, b, t)?;
        let mask = mask_from_lengths(lengths, t, &ids.device());
        let out = self.bert.forward(ids, Some(mask.clone()), None)?;
        let pooled = match self.pooling {
            BertPooling::Cls => self.bert.pool(out.last_hidden_state),
            BertPooling::Mean => mean_pool(out.last_hidden_state, mask),
        };
        Ok(self.classifier.forward(self.dropout.forward(pooled)))
    }
}

impl Supervised<SequenceBatch> for BertClassifier {
    fn step(&self, batch: &SequenceBatch) -> dl_core::Result<StepOutput> {
        let (SequenceInput::Tokens(ids), SequenceTarget::Classes(c)) = (&batch.input, &batch.target) else {
            return Err(Error::WrongInput("BertClassifier learns from token inputs with class targets".into()));
        };
        Ok(StepOutput::classification(self.forward(ids.clone(), &batch.lengths)?, c.clone()))
    }
}

/// Hyper-parameters of [`BertForMaskedLm`].
#[derive(Config, Debug)]
pub struct BertMlmConfig {
    /// The encoder.
    pub bert: BertConfig,
}

impl ModelConfig for BertMlmConfig {
    type Model = BertForMaskedLm;

    fn validate(&self) -> dl_core::Result<()> {
        self.bert.validate()
    }

    fn build(&self, device: &Device) -> BertForMaskedLm {
        let d = self.bert.hidden_size;
        BertForMaskedLm {
            bert: self.bert.build(device),
            transform: LinearConfig::new(d, d).init(device),
            transform_norm: LayerNormConfig::new(d).with_epsilon(self.bert.layer_norm_eps).init(device),
            bias: Param::from_tensor(Tensor::zeros([self.bert.vocab_size], device)),
        }
    }
}

/// BERT with the masked-language-model head (`cls.predictions`): a dense GELU
/// transform, LayerNorm, and the word-embedding matrix (tied) plus a bias.
#[derive(Module, Debug)]
pub struct BertForMaskedLm {
    /// The encoder.
    pub bert: Bert,
    /// `cls.predictions.transform.dense`.
    pub transform: Linear,
    /// `cls.predictions.transform.LayerNorm`.
    pub transform_norm: LayerNorm,
    /// `cls.predictions.bias` `[V]`.
    pub bias: Param<Tensor<1>>,
}

impl BertForMaskedLm {
    /// Vocabulary logits `[B, T, V]`.
    pub fn forward(&self, ids: Tensor<2, Int>, attention_mask: Option<Tensor<2, Int>>) -> dl_core::Result<Tensor<3>> {
        let h = self.bert.forward(ids, attention_mask, None)?.last_hidden_state;
        let [b, t, d] = h.dims();
        let h = self.transform_norm.forward(gelu(self.transform.forward(h)));
        let w = self.bert.word_embeddings.weight.val();
        let v = w.dims()[0];
        let logits = h.reshape([b * t, d]).matmul(w.transpose()) + self.bias.val().reshape([1, v]).expand([b * t, v]);
        Ok(logits.reshape([b, t, v]))
    }
}

/// A masked-LM batch: corrupted inputs, their mask, and the original ids at
/// the chosen positions (flattened `b · T + t`).
#[derive(Debug, Clone)]
pub struct MlmBatch {
    /// Corrupted ids `[B, T]`.
    pub ids: Tensor<2, Int>,
    /// 1 = token, 0 = padding.
    pub attention_mask: Tensor<2, Int>,
    /// Flattened positions that are predicted.
    pub positions: Tensor<1, Int>,
    /// Original ids at those positions.
    pub labels: Tensor<1, Int>,
}

impl Supervised<MlmBatch> for BertForMaskedLm {
    fn step(&self, batch: &MlmBatch) -> dl_core::Result<StepOutput> {
        let logits = self.forward(batch.ids.clone(), Some(batch.attention_mask.clone()))?;
        let [b, t, v] = logits.dims();
        let picked = logits.reshape([b * t, v]).select(0, batch.positions.clone());
        Ok(StepOutput::classification(picked, batch.labels.clone()))
    }
}

/// BERT's corruption: each real token (not a special one) is chosen with
/// probability `prob`; a chosen token becomes `[MASK]` 80% of the time, a
/// random token 10%, and stays 10%. Seeded; each batch draws a new stream.
#[derive(Debug)]
pub struct MlmBatcher {
    /// `[MASK]` id.
    pub mask_id: usize,
    /// Padding id.
    pub pad_id: usize,
    /// Vocabulary size (random replacements are drawn from it).
    pub vocab_size: usize,
    /// Ids never chosen (`[CLS]`, `[SEP]`, ...).
    pub special_ids: Vec<usize>,
    /// Selection probability (0.15 in BERT).
    pub prob: f32,
    /// Seed.
    pub seed: u64,
    calls: AtomicU64,
}

impl MlmBatcher {
    /// A batcher with BERT's 15% selection.
    pub fn new(mask_id: usize, pad_id: usize, vocab_size: usize, special_ids: Vec<usize>, seed: u64) -> Self {
        Self { mask_id, pad_id, vocab_size, special_ids, prob: 0.15, seed, calls: AtomicU64::new(0) }
    }
}

impl Batcher<Vec<usize>, MlmBatch> for MlmBatcher {
    fn batch(&self, items: &[&Vec<usize>], device: &Device) -> dl_core::Result<MlmBatch> {
        let t = items.iter().map(|i| i.len()).max().unwrap_or(0);
        if items.is_empty() || t == 0 {
            return Err(Error::empty("MlmBatcher: the batch or one of its sequences"));
        }
        let call = self.calls.fetch_add(1, Ordering::Relaxed);
        let mut rng = SplitRng::new(self.seed ^ call.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let (mut ids, mut mask, mut positions, mut labels) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (bi, item) in items.iter().enumerate() {
            for j in 0..t {
                let Some(&id) = item.get(j) else {
                    ids.push(self.pad_id as i64);
                    mask.push(0);
                    continue;
                };
                mask.push(1);
                let chosen = !self.special_ids.contains(&id) && rng.next_f32() < self.prob;
                if !chosen {
                    ids.push(id as i64);
                    continue;
                }
                positions.push((bi * t + j) as i64);
                labels.push(id as i64);
                let r = rng.next_f32();
                ids.push(if r < 0.8 {
                    self.mask_id as i64
                } else if r < 0.9 {
                    rng.below(self.vocab_size) as i64
                } else {
                    id as i64
                });
            }
        }
        if positions.is_empty() {
            // Always predict at least one token, so that every batch has a loss.
            let (bi, j) = items
                .iter()
                .enumerate()
                .find_map(|(bi, it)| it.iter().position(|i| !self.special_ids.contains(i)).map(|j| (bi, j)))
                .ok_or_else(|| Error::Invalid("MlmBatcher: a batch with no maskable token".into()))?;
            positions.push((bi * t + j) as i64);
            labels.push(items[bi][j] as i64);
            ids[bi * t + j] = self.mask_id as i64;
        }
        let b = items.len();
        let n = positions.len();
        Ok(MlmBatch {
            ids: Tensor::from_data(TensorData::new(ids, [b, t]), device),
            attention_mask: Tensor::from_data(TensorData::new(mask, [b, t]), device),
            positions: Tensor::from_data(TensorData::new(positions, [n]), device),
            labels: Tensor::from_data(TensorData::new(labels, [n]), device),
        })
    }
}
