//! Encoder-decoder (sequence-to-sequence) with attention, for any recurrent
//! encoder and any recurrent decoder cell.
//!
//! The encoder reads the source; its summary initialises the decoder (through
//! a `tanh` bridge). At each target step the decoder cell reads the previous
//! target token and the previous attentional vector (Luong et al. 2015's
//! input feeding), then attends over the encoder outputs:
//!
//! - additive (Bahdanau et al. 2015): `score_j = v^T tanh(W_k e_j + W_q h)`;
//! - multiplicative (Luong's "general"): `score_j = (W_k e_j)^T h`;
//!
//! padded source positions are masked out. The context and the decoder state
//! give the attentional vector `tanh(W_c [ctx; h])`, and a linear layer the
//! next-token logits. Training uses teacher forcing (the gold previous token,
//! or with probability `1 - teacher_forcing` the model's own argmax);
//! decoding is greedy (batched) or beam search with a length penalty.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::tensor::activation::{log_softmax, softmax};
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use dl_core::Error;
use dl_core::config::{ModelConfig, check};
use dl_core::data::sequence::{PairBatcher, PairItem, Seq2SeqBatch, check_ids_below, check_lengths, ids_below};
use dl_core::task::{Batcher, StepOutput, Supervised, to_f32};

use crate::beam::{Decoded, beam_search};
use crate::{CellState, RecurrentCell, RecurrentStack, SequenceEncoder};

/// How the decoder scores encoder positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AttentionKind {
    /// Bahdanau: a one-hidden-layer MLP of key and query.
    #[default]
    Additive,
    /// Luong "general": a bilinear form of key and query.
    Multiplicative,
}

/// Head hyper-parameters of a [`Seq2Seq`] around its encoder and decoder.
#[derive(Config, Debug, PartialEq)]
pub struct Seq2SeqHeadConfig {
    /// Source vocabulary size (the embedding width is the encoder's input size).
    pub src_vocab: usize,
    /// Target vocabulary size (the embedding width is the decoder's input size minus
    /// its hidden size: the rest of the decoder input is the fed-back attentional vector).
    pub tgt_vocab: usize,
    /// Attention score.
    #[config(default = "AttentionKind::Additive")]
    pub attention: AttentionKind,
    /// Hidden width of the additive score (ignored by multiplicative attention).
    #[config(default = 128)]
    pub attention_dim: usize,
    /// Probability of feeding the gold previous token while training (1 = always).
    #[config(default = 1.0)]
    pub teacher_forcing: f64,
    /// Dropout on embeddings and attentional vectors while training.
    #[config(default = 0.0)]
    pub dropout: f64,
}

/// A whole encoder-decoder config: the encoder's, the decoder's (a one-direction
/// recurrent stack) and the head's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Seq2SeqConfig<EC, DC> {
    /// Encoder config (any recurrent stack, bidirectional allowed).
    pub encoder: EC,
    /// Decoder config (unidirectional; input size = target embedding + hidden).
    pub decoder: DC,
    /// Vocabularies, attention, teacher forcing, dropout.
    pub head: Seq2SeqHeadConfig,
}

impl<EC, DC, C> ModelConfig for Seq2SeqConfig<EC, DC>
where
    EC: ModelConfig,
    EC::Model: SequenceEncoder + Module,
    DC: ModelConfig<Model = RecurrentStack<C>>,
    C: RecurrentCell + Module,
{
    type Model = Seq2Seq<EC::Model, C>;

    fn validate(&self) -> dl_core::Result<()> {
        self.encoder.validate()?;
        self.decoder.validate()?;
        let h = &self.head;
        check::positive("Seq2SeqHeadConfig", "src_vocab", h.src_vocab)?;
        check::positive("Seq2SeqHeadConfig", "tgt_vocab", h.tgt_vocab)?;
        check::positive("Seq2SeqHeadConfig", "attention_dim", h.attention_dim)?;
        check::probability("Seq2SeqHeadConfig", "dropout", h.dropout)?;
        if !(0.0..=1.0).contains(&h.teacher_forcing) {
            return Err(Error::config("Seq2SeqHeadConfig", "teacher_forcing", "must be in [0, 1]"));
        }
        Ok(())
    }

    fn build(&self, device: &Device) -> Self::Model {
        let encoder = self.encoder.build(device);
        let decoder = self.decoder.build(device);
        let (he, hd) = (encoder.output_size(), decoder.hidden_size());
        let emb = decoder.forward[0].input_size().saturating_sub(hd).max(1);
        let h = &self.head;
        let key_dim = match h.attention {
            AttentionKind::Additive => h.attention_dim,
            AttentionKind::Multiplicative => hd,
        };
        let additive = h.attention == AttentionKind::Additive;
        Seq2Seq {
            src_embedding: EmbeddingConfig::new(h.src_vocab, encoder.input_size()).init(device),
            tgt_embedding: EmbeddingConfig::new(h.tgt_vocab, emb).init(device),
            bridge: LinearConfig::new(encoder.summary_size(), hd).init(device),
            attn_key: LinearConfig::new(he, key_dim).with_bias(additive).init(device),
            attn_query: additive.then(|| LinearConfig::new(hd, key_dim).with_bias(false).init(device)),
            attn_v: additive.then(|| LinearConfig::new(key_dim, 1).with_bias(false).init(device)),
            combine: LinearConfig::new(he + hd, hd).init(device),
            output: LinearConfig::new(hd, h.tgt_vocab).init(device),
            dropout: DropoutConfig::new(h.dropout).init(),
            encoder,
            decoder,
            attention: h.attention,
            teacher_forcing: h.teacher_forcing,
        }
    }

    fn init(&self, device: &Device) -> dl_core::Result<Self::Model> {
        self.validate()?;
        let model = self.build(device);
        if model.decoder.directions() != 1 {
            return Err(Error::config(
                "Seq2SeqConfig",
                "decoder",
                "must be unidirectional (it generates left to right)",
            ));
        }
        let (din, hd) = (model.decoder.forward[0].input_size(), model.decoder.hidden_size());
        if din <= hd {
            return Err(Error::config(
                "Seq2SeqConfig",
                "decoder.input_size",
                format!("must be target embedding width + hidden size ({hd}), got {din}"),
            ));
        }
        Ok(model)
    }
}

/// An attention encoder-decoder.
#[derive(Module, Debug)]
pub struct Seq2Seq<E: SequenceEncoder + Module, C: RecurrentCell + Module> {
    /// Source token embedding.
    pub src_embedding: Embedding,
    /// Target token embedding.
    pub tgt_embedding: Embedding,
    /// Source encoder.
    pub encoder: E,
    /// Decoder layers (one direction).
    pub decoder: RecurrentStack<C>,
    /// Encoder summary -> initial decoder state.
    pub bridge: Linear,
    /// Encoder outputs -> attention keys.
    pub attn_key: Linear,
    /// Decoder state -> additive query.
    pub attn_query: Option<Linear>,
    /// Additive score vector.
    pub attn_v: Option<Linear>,
    /// `[context; state]` -> attentional vector.
    pub combine: Linear,
    /// Attentional vector -> target logits.
    pub output: Linear,
    /// Dropout.
    pub dropout: Dropout,
    #[module(skip)]
    attention: AttentionKind,
    #[module(skip)]
    teacher_forcing: f64,
}

/// The encoded source, ready to be attended over.
#[derive(Debug, Clone)]
pub struct Encoded {
    /// Encoder outputs `[B, S, He]`.
    pub outputs: Tensor<3>,
    /// Attention keys `[B, S, K]`.
    pub keys: Tensor<3>,
    /// 0 at real source positions, -1e9 at padding: `[B, S]`.
    pub mask: Tensor<2>,
}

/// Decoder state between steps.
#[derive(Debug, Clone)]
pub struct DecoderState {
    /// One state per decoder layer.
    pub layers: Vec<CellState>,
    /// The previous attentional vector `[B, Hd]` (input feeding).
    pub feed: Tensor<2>,
}

impl DecoderState {
    fn select(self, idx: Tensor<1, Int>) -> Self {
        DecoderState {
            layers: self
                .layers
                .into_iter()
                .map(|s| CellState { h: s.h.select(0, idx.clone()), c: s.c.map(|c| c.select(0, idx.clone())) })
                .collect(),
            feed: self.feed.select(0, idx),
        }
    }
}

impl<E: SequenceEncoder + Module, C: RecurrentCell + Module> Seq2Seq<E, C> {
    fn check_ids(&self, ids: &Tensor<2, Int>, vocab: usize, what: &str) -> dl_core::Result<()> {
        let max = ids.clone().max().into_scalar::<i64>();
        let min = ids.clone().min().into_scalar::<i64>();
        if min < 0 {
            return Err(Error::Unknown {
                kind: "token id",
                value: min.to_string(),
                context: format!("the {what} vocabulary of {vocab}"),
            });
        }
        check_ids_below(max as usize + 1, vocab, || format!("the {what} vocabulary of {vocab}"))
    }

    /// The host-side check of ids known to lie below `below` (a batcher's or
    /// the caller's bound), with [`Seq2Seq::check_ids`]'s error.
    fn check_below(&self, below: usize, target: bool) -> dl_core::Result<()> {
        let (vocab, what) = if target {
            (self.tgt_embedding.weight.dims()[0], "target")
        } else {
            (self.src_embedding.weight.dims()[0], "source")
        };
        check_ids_below(below, vocab, || format!("the {what} vocabulary of {vocab}"))
    }

    /// Encodes source ids `[B, S]` with their lengths.
    pub fn encode(&self, src: Tensor<2, Int>, lengths: &[usize]) -> dl_core::Result<(Encoded, DecoderState)> {
        self.check_ids(&src, self.src_embedding.weight.dims()[0], "source")?;
        self.encode_checked(src, lengths)
    }

    /// [`Seq2Seq::encode`] for ids already checked against the vocabulary.
    fn encode_checked(&self, src: Tensor<2, Int>, lengths: &[usize]) -> dl_core::Result<(Encoded, DecoderState)> {
        let [b, s] = src.dims();
        check_lengths("Seq2Seq source", lengths, b, s)?;
        let device = src.device();
        let x = self.dropout.forward(self.src_embedding.forward(src));
        let enc = self.encoder.encode(x, Some(lengths), None)?;
        let keys = self.attn_key.forward(enc.output.clone());
        let mask = crate::length_mask(lengths, s, &device);
        let mask = (mask - 1.0) * 1e9;
        let h0 = self.bridge.forward(enc.last).tanh();
        let layers = self
            .decoder
            .forward
            .iter()
            .map(|cell| CellState { h: h0.clone(), c: cell.cell_size().map(|n| Tensor::zeros([b, n], &device)) })
            .collect();
        let feed = Tensor::zeros([b, self.decoder.hidden_size()], &device);
        Ok((Encoded { outputs: enc.output, keys, mask }, DecoderState { layers, feed }))
    }

    /// One decoder step from previous tokens `[B]`: logits `[B, V]`, attention `[B, S]`, next state.
    pub fn decode_step(
        &self,
        prev: Tensor<1, Int>,
        state: DecoderState,
        enc: &Encoded,
    ) -> (Tensor<2>, Tensor<2>, DecoderState) {
        let [b] = prev.dims();
        let e = self.tgt_embedding.weight.dims()[1];
        let emb = self.dropout.forward(self.tgt_embedding.forward(prev.reshape([b, 1]))).reshape([b, e]);
        let mut x = Tensor::cat(vec![emb, state.feed], 1);
        let mut layers = Vec::with_capacity(state.layers.len());
        for (cell, s) in self.decoder.forward.iter().zip(state.layers) {
            let next = cell.step(x, s);
            x = next.h.clone();
            layers.push(next);
        }
        let h = x;
        let [_, s_len, k] = enc.keys.dims();
        let scores = match (&self.attn_query, &self.attn_v) {
            (Some(q), Some(v)) => {
                let q = q.forward(h.clone()).reshape([b, 1, k]);
                v.forward((enc.keys.clone() + q).tanh()).reshape([b, s_len])
            }
            _ => enc.keys.clone().matmul(h.clone().reshape([b, k, 1])).reshape([b, s_len]),
        };
        let attn = softmax(scores + enc.mask.clone(), 1);
        let he = enc.outputs.dims()[2];
        let ctx = attn.clone().reshape([b, 1, s_len]).matmul(enc.outputs.clone()).reshape([b, he]);
        let feed = self.combine.forward(Tensor::cat(vec![ctx, h], 1)).tanh();
        let logits = self.output.forward(self.dropout.forward(feed.clone()));
        (logits, attn, DecoderState { layers, feed })
    }

    /// Teacher-forced logits `[B, T, V]` for a batch.
    pub fn forward(&self, batch: &Seq2SeqBatch) -> dl_core::Result<Tensor<3>> {
        let [b, t] = batch.tgt_in.dims();
        check_lengths("Seq2Seq target", &batch.tgt_lengths, b, t)?;
        // Ids a batcher wrote are checked on the host, others on the device.
        match batch.ids_below {
            Some([src, tgt]) => {
                self.check_below(src, false)?;
                self.check_below(tgt, true)?;
            }
            None => {
                self.check_ids(&batch.src, self.src_embedding.weight.dims()[0], "source")?;
                self.check_ids(&batch.tgt_in, self.tgt_embedding.weight.dims()[0], "target")?;
                self.check_ids(&batch.tgt_out, self.tgt_embedding.weight.dims()[0], "target")?;
            }
        }
        let (enc, mut state) = self.encode_checked(batch.src.clone(), &batch.src_lengths)?;
        let device = batch.src.device();
        let gold: Vec<Tensor<1, Int>> = batch.tgt_in.clone().chunk(t, 1).into_iter().map(|c| c.reshape([b])).collect();
        let mut logits = Vec::with_capacity(t);
        let mut prev = gold[0].clone();
        for step in 0..t {
            let (l, _, next) = self.decode_step(prev.clone(), state, &enc);
            state = next;
            if step + 1 < t {
                // Evaluation (no autodiff) always feeds the gold token, so its loss is deterministic.
                let teacher = self.teacher_forcing >= 1.0
                    || !device.is_autodiff()
                    || Tensor::<1>::random([1], Distribution::Default, &device).into_scalar::<f32>()
                        < self.teacher_forcing as f32;
                prev = if teacher { gold[step + 1].clone() } else { l.clone().argmax(1).reshape([b]) };
            }
            logits.push(l);
        }
        Ok(Tensor::stack(logits, 1))
    }
}

/// A sequence-to-sequence model that decodes source ids into target ids:
/// the recurrent [`Seq2Seq`] here and dl-transformer's `TransformerSeq2Seq`.
pub trait Translator {
    /// Greedy decoding of a batch of non-empty sources, up to `max_len` tokens.
    fn greedy(
        &self,
        sources: &[Vec<usize>],
        bos: usize,
        eos: usize,
        max_len: usize,
        device: &Device,
    ) -> dl_core::Result<Vec<Decoded>>;

    /// Beam search for one source with GNMT's length penalty `alpha` (see [`beam_search`]).
    #[allow(clippy::too_many_arguments)]
    fn beam_search(
        &self,
        source: &[usize],
        bos: usize,
        eos: usize,
        beam: usize,
        max_len: usize,
        alpha: f32,
        device: &Device,
    ) -> dl_core::Result<Decoded>;
}

impl<E: SequenceEncoder + Module, C: RecurrentCell + Module> Translator for Seq2Seq<E, C> {
    /// Greedy decoding of a batch of sources (each non-empty), up to `max_len` tokens.
    fn greedy(
        &self,
        sources: &[Vec<usize>],
        bos: usize,
        eos: usize,
        max_len: usize,
        device: &Device,
    ) -> dl_core::Result<Vec<Decoded>> {
        let b = sources.len();
        if b == 0 {
            return Ok(Vec::new());
        }
        let batch = PairBatcher { pad: 0, bos, eos }.batch(
            &sources
                .iter()
                .map(|s| PairItem { src: s.clone(), tgt: vec![] })
                .collect::<Vec<_>>()
                .iter()
                .collect::<Vec<_>>(),
            device,
        )?;
        self.check_below(ids_below(sources.iter().flatten().copied()), false)?;
        self.check_below(bos + 1, true)?;
        let (enc, mut state) = self.encode_checked(batch.src, &batch.src_lengths)?;
        let mut prev = Tensor::<1, Int>::from_data(TensorData::new(vec![bos as i64; b], [b]), device);
        let mut out: Vec<Decoded> =
            (0..b).map(|_| Decoded { tokens: vec![], attention: vec![], log_prob: 0.0 }).collect();
        let mut done = vec![false; b];
        for _ in 0..max_len {
            let (l, attn, next) = self.decode_step(prev, state, &enc);
            state = next;
            let lp = to_f32(log_softmax(l, 1))?;
            let v = lp.len() / b;
            let attn = to_f32(attn)?;
            let s = attn.len() / b;
            let mut picks = Vec::with_capacity(b);
            for i in 0..b {
                let row = &lp[i * v..(i + 1) * v];
                let best = row.iter().enumerate().fold(0, |m, (j, x)| if *x > row[m] { j } else { m });
                picks.push(best as i64);
                if !done[i] {
                    out[i].attention.push(attn[i * s..i * s + sources[i].len()].to_vec());
                    out[i].log_prob += row[best];
                    if best == eos {
                        done[i] = true;
                    } else {
                        out[i].tokens.push(best);
                    }
                }
            }
            if done.iter().all(|d| *d) {
                break;
            }
            prev = Tensor::from_data(TensorData::new(picks, [b]), device);
        }
        Ok(out)
    }

    /// Beam search for one source (see [`beam_search`]).
    fn beam_search(
        &self,
        source: &[usize],
        bos: usize,
        eos: usize,
        beam: usize,
        max_len: usize,
        alpha: f32,
        device: &Device,
    ) -> dl_core::Result<Decoded> {
        if source.is_empty() {
            return Err(Error::shape("beam_search", "a non-empty source", "an empty one"));
        }
        let src = Tensor::<2, Int>::from_data(
            TensorData::new(source.iter().map(|&i| i as i64).collect(), [1, source.len()]),
            device,
        );
        self.check_below(ids_below(source.iter().copied()), false)?;
        self.check_below(bos + 1, true)?;
        let (enc1, state1) = self.encode_checked(src, &[source.len()])?;
        let mut state = Some(state1);
        beam_search(bos, eos, beam, max_len, alpha, |live, parents| {
            let k = live.len();
            let idx = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64; k], [k]), device);
            let enc = Encoded {
                outputs: enc1.outputs.clone().select(0, idx.clone()),
                keys: enc1.keys.clone().select(0, idx.clone()),
                mask: enc1.mask.clone().select(0, idx),
            };
            let parents: Vec<i64> = parents.iter().map(|&p| p as i64).collect();
            let kept = state
                .take()
                .ok_or_else(|| Error::Internal("beam search: decoder state missing".into()))?
                .select(Tensor::from_data(TensorData::new(parents, [k]), device));
            let prev: Vec<i64> = live.iter().map(|h| *h.tokens.last().unwrap_or(&bos) as i64).collect();
            let prev = Tensor::<1, Int>::from_data(TensorData::new(prev, [k]), device);
            let (logits, attn, next) = self.decode_step(prev, kept, &enc);
            state = Some(next);
            Ok((to_f32(log_softmax(logits, 1))?, to_f32(attn)?))
        })
    }
}

/// The training output of a sequence-to-sequence model: its logits `[B, T, V]`
/// at each sequence's real target steps (padding left out) against the targets.
pub fn target_step_output(logits: Tensor<3>, batch: &Seq2SeqBatch) -> StepOutput {
    let [b, t, v] = logits.dims();
    let idx: Vec<i64> =
        batch.tgt_lengths.iter().enumerate().flat_map(|(i, &l)| (0..l).map(move |s| (i * t + s) as i64)).collect();
    let n = idx.len();
    let idx = Tensor::<1, Int>::from_data(TensorData::new(idx, [n]), &logits.device());
    let rows = logits.reshape([b * t, v]).select(0, idx.clone());
    let targets = batch.tgt_out.clone().reshape([b * t]).select(0, idx);
    StepOutput::classification(rows, targets)
}

impl<E: SequenceEncoder + Module, C: RecurrentCell + Module> Supervised<Seq2SeqBatch> for Seq2Seq<E, C> {
    fn step(&self, batch: &Seq2SeqBatch) -> dl_core::Result<StepOutput> {
        Ok(target_step_output(self.forward(batch)?, batch))
    }
}
