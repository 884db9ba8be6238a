//! The encoder-decoder Transformer of Vaswani et al. (2017) for
//! sequence-to-sequence tasks (translation): token embeddings scaled by
//! `√d` plus sinusoidal positions, an encoder stack, a decoder stack with
//! causal self-attention and cross-attention, a linear output layer.
//! Trains on dl-core's [`Seq2SeqBatch`] (the same batches as the recurrent
//! seq2seq), decodes greedily with a KV cache or by beam search.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::attention::{KvCache, causal_mask, lengths_mask};
use crate::ffn::Activation;
use crate::generate::{check_ids, check_input_ids};
use crate::layer::{DecoderLayer, EncoderLayer, TransformerLayerConfig};
use crate::position::sinusoidal;
use dl_core::config::check;
use dl_core::task::to_f32;
use dl_core::{Error, ModelConfig, StepOutput, Supervised};
use dl_seq::{Decoded, Seq2SeqBatch, Translator, beam_search, check_ids_below, ids_below, target_step_output};

/// Hyper-parameters of [`TransformerSeq2Seq`].
#[derive(Config, Debug)]
pub struct TransformerSeq2SeqConfig {
    /// Source vocabulary size.
    pub src_vocab: usize,
    /// Target vocabulary size.
    pub tgt_vocab: usize,
    /// Model width.
    #[config(default = 256)]
    pub d_model: usize,
    /// Attention heads.
    #[config(default = 4)]
    pub n_heads: usize,
    /// Feed-forward width.
    #[config(default = 1024)]
    pub d_ff: usize,
    /// Encoder layers.
    #[config(default = 3)]
    pub encoder_layers: usize,
    /// Decoder layers.
    #[config(default = 3)]
    pub decoder_layers: usize,
    /// Dropout (training only).
    #[config(default = 0.1)]
    pub dropout: f64,
    /// Pre-norm layers (more stable to train; the 2017 paper is post-norm).
    #[config(default = true)]
    pub norm_first: bool,
    /// Feed-forward non-linearity.
    #[config(default = "Activation::Relu")]
    pub activation: Activation,
    /// Longest source or target (sinusoidal table size).
    #[config(default = 256)]
    pub max_len: usize,
}

impl TransformerSeq2SeqConfig {
    fn layer(&self) -> TransformerLayerConfig {
        TransformerLayerConfig::new(self.d_model, self.n_heads, self.d_ff)
            .with_activation(self.activation)
            .with_norm_first(self.norm_first)
            .with_dropout(self.dropout)
    }
}

impl ModelConfig for TransformerSeq2SeqConfig {
    type Model = TransformerSeq2Seq;

    fn validate(&self) -> dl_core::Result<()> {
        check::positive("TransformerSeq2SeqConfig", "src_vocab", self.src_vocab)?;
        check::positive("TransformerSeq2SeqConfig", "tgt_vocab", self.tgt_vocab)?;
        check::positive("TransformerSeq2SeqConfig", "encoder_layers", self.encoder_layers)?;
        check::positive("TransformerSeq2SeqConfig", "decoder_layers", self.decoder_layers)?;
        check::positive("TransformerSeq2SeqConfig", "max_len", self.max_len)?;
        self.layer().validate()
    }

    fn build(&self, device: &Device) -> TransformerSeq2Seq {
        let layer = self.layer();
        let norm = |on: bool| on.then(|| LayerNormConfig::new(self.d_model).init(device));
        TransformerSeq2Seq {
            src_embed: EmbeddingConfig::new(self.src_vocab, self.d_model).init(device),
            tgt_embed: EmbeddingConfig::new(self.tgt_vocab, self.d_model).init(device),
            encoder: (0..self.encoder_layers).map(|_| layer.build(device)).collect(),
            decoder: (0..self.decoder_layers).map(|_| layer.build_decoder(device)).collect(),
            encoder_norm: norm(self.norm_first),
            decoder_norm: norm(self.norm_first),
            output: LinearConfig::new(self.d_model, self.tgt_vocab).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            d_model: self.d_model,
            max_len: self.max_len,
            vocab: [self.src_vocab, self.tgt_vocab],
        }
    }
}

/// An encoder-decoder Transformer.
#[derive(Module, Debug)]
pub struct TransformerSeq2Seq {
    /// Source token embeddings.
    pub src_embed: Embedding,
    /// Target token embeddings.
    pub tgt_embed: Embedding,
    /// Encoder layers.
    pub encoder: Vec<EncoderLayer>,
    /// Decoder layers.
    pub decoder: Vec<DecoderLayer>,
    /// Final encoder norm (pre-norm stacks only).
    pub encoder_norm: Option<LayerNorm>,
    /// Final decoder norm (pre-norm stacks only).
    pub decoder_norm: Option<LayerNorm>,
    /// Output projection to the target vocabulary.
    pub output: Linear,
    dropout: Dropout,
    #[module(skip)]
    d_model: usize,
    #[module(skip)]
    max_len: usize,
    #[module(skip)]
    vocab: [usize; 2],
}

/// The encoded source.
#[derive(Debug, Clone)]
pub struct Memory {
    /// `[B, S, d]`.
    pub states: Tensor<3>,
    /// Additive key-padding mask `[B, 1, 1, S]`.
    pub mask: Tensor<4>,
}

impl Memory {
    fn repeat(&self, k: usize) -> Memory {
        Memory { states: self.states.clone().repeat_dim(0, k), mask: self.mask.clone().repeat_dim(0, k) }
    }
}

impl TransformerSeq2Seq {
    fn embed(&self, emb: &Embedding, ids: Tensor<2, Int>, start: usize) -> dl_core::Result<Tensor<3>> {
        let [b, t] = ids.dims();
        if start + t > self.max_len {
            return Err(Error::shape(
                "TransformerSeq2Seq input",
                format!("at most {} positions", self.max_len),
                start + t,
            ));
        }
        let device = ids.device();
        let pe = sinusoidal(start + t, self.d_model, &device).slice([start..start + t, 0..self.d_model]);
        let x = emb.forward(ids).mul_scalar((self.d_model as f64).sqrt()) + pe.unsqueeze::<3>().repeat_dim(0, b);
        Ok(self.dropout.forward(x))
    }

    /// Encodes padded sources `[B, S]` with their lengths.
    pub fn encode(&self, src: Tensor<2, Int>, lengths: &[usize]) -> dl_core::Result<Memory> {
        self.encode_with(src, lengths, false)
    }

    /// [`TransformerSeq2Seq::encode`]; `host_checked`: the ids were checked
    /// against the vocabulary on the host ([`TransformerSeq2Seq::check_below`]).
    fn encode_with(&self, src: Tensor<2, Int>, lengths: &[usize], host_checked: bool) -> dl_core::Result<Memory> {
        let [b, s] = src.dims();
        dl_seq::check_lengths("TransformerSeq2Seq source", lengths, b, s)?;
        check_input_ids("TransformerSeq2Seq source", &src, self.vocab[0], host_checked)?;
        let mask = lengths_mask(lengths, s, &src.device())?;
        let mut x = self.embed(&self.src_embed, src, 0)?;
        for layer in &self.encoder {
            x = layer.forward(x, Some(mask.clone()))?.0;
        }
        if let Some(n) = &self.encoder_norm {
            x = n.forward(x);
        }
        Ok(Memory { states: x, mask })
    }

    /// Decoder logits `[B, T, V]` for target inputs `[B, T]` that follow the
    /// steps in `cache` (if any), and the last layer's cross-attention
    /// averaged over heads `[B, T, S]`.
    pub fn decode(
        &self,
        tgt: Tensor<2, Int>,
        memory: &Memory,
        cache: Option<&mut KvCache>,
    ) -> dl_core::Result<(Tensor<3>, Tensor<3>)> {
        self.decode_with(tgt, memory, cache, false)
    }

    /// Checks on the host that ids below `below` fit the source
    /// (`target = false`) or target vocabulary, with `check_ids`'s error.
    fn check_below(&self, below: usize, target: bool) -> dl_core::Result<()> {
        let (vocab, what) = if target { (self.vocab[1], "target") } else { (self.vocab[0], "source") };
        check_ids_below(below, vocab, || format!("TransformerSeq2Seq {what} with a vocabulary of {vocab}"))
    }

    /// [`TransformerSeq2Seq::decode`]; `host_checked` as in `encode_with`.
    fn decode_with(
        &self,
        tgt: Tensor<2, Int>,
        memory: &Memory,
        mut cache: Option<&mut KvCache>,
        host_checked: bool,
    ) -> dl_core::Result<(Tensor<3>, Tensor<3>)> {
        check_input_ids("TransformerSeq2Seq target", &tgt, self.vocab[1], host_checked)?;
        let t = tgt.dims()[1];
        let past = cache.as_ref().map_or(0, |c| c.len());
        let device = tgt.device();
        let mut x = self.embed(&self.tgt_embed, tgt, past)?;
        let self_mask = causal_mask(t, past + t, &device)?;
        let mut cross = None;
        for (i, layer) in self.decoder.iter().enumerate() {
            let c = cache.as_deref_mut().map(|c| &mut c.layers[i]);
            let out = layer.forward(x, memory.states.clone(), Some(self_mask.clone()), Some(memory.mask.clone()), c)?;
            x = out.output;
            cross = Some(out.cross_weights);
        }
        if let Some(n) = &self.decoder_norm {
            x = n.forward(x);
        }
        let cross = cross.ok_or_else(|| Error::Internal("the decoder has no layers".into()))?;
        let [b, h, tt, s] = cross.dims();
        Ok((self.output.forward(x), cross.sum_dim(1).reshape([b, tt, s]).div_scalar(h as f64)))
    }

    /// Teacher-forced logits `[B, T, V]` of a batch.
    pub fn forward(&self, batch: &Seq2SeqBatch) -> dl_core::Result<Tensor<3>> {
        // Ids a batcher wrote are checked on the host, others on the device.
        let host_checked = match batch.ids_below {
            Some([src, tgt]) => {
                self.check_below(src, false)?;
                self.check_below(tgt, true)?;
                true
            }
            None => {
                check_ids("TransformerSeq2Seq target", &batch.tgt_out, self.vocab[1])?;
                false
            }
        };
        let memory = self.encode_with(batch.src.clone(), &batch.src_lengths, host_checked)?;
        Ok(self.decode_with(batch.tgt_in.clone(), &memory, None, host_checked)?.0)
    }

    fn source_tensor(sources: &[Vec<usize>], device: &Device) -> dl_core::Result<(Tensor<2, Int>, Vec<usize>)> {
        if let Some(i) = sources.iter().position(Vec::is_empty) {
            return Err(Error::shape(format!("source {i}"), "a non-empty sequence", "an empty one"));
        }
        let s = sources.iter().map(Vec::len).max().unwrap_or(1);
        let data: Vec<i64> = sources
            .iter()
            .flat_map(|x| x.iter().map(|&i| i as i64).chain(std::iter::repeat_n(0, s - x.len())))
            .collect();
        Ok((
            Tensor::from_data(TensorData::new(data, [sources.len(), s]), device),
            sources.iter().map(Vec::len).collect(),
        ))
    }
}

impl Translator for TransformerSeq2Seq {
    /// Greedy decoding of a batch of sources, incrementally with a KV cache.
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
        let (src, lengths) = Self::source_tensor(sources, device)?;
        // The sources and `bos` are checked here; later steps feed the model's own picks.
        self.check_below(ids_below(sources.iter().flatten().copied()), false)?;
        self.check_below(bos + 1, true)?;
        let memory = self.encode_with(src, &lengths, true)?;
        let mut cache = KvCache::new(self.decoder.len());
        let mut out: Vec<Decoded> =
            (0..b).map(|_| Decoded { tokens: vec![], attention: vec![], log_prob: 0.0 }).collect();
        let mut done = vec![false; b];
        let mut prev = vec![bos as i64; b];
        for _ in 0..max_len.min(self.max_len) {
            let ids = Tensor::<2, Int>::from_data(TensorData::new(prev.clone(), [b, 1]), device);
            let (logits, attn) = self.decode_with(ids, &memory, Some(&mut cache), true)?;
            let v = logits.dims()[2];
            let lp = to_f32(log_softmax(logits.reshape([b, v]), 1))?;
            let attn = to_f32(attn)?;
            let s = attn.len() / b;
            for i in 0..b {
                let row = &lp[i * v..(i + 1) * v];
                let best = row.iter().enumerate().fold(0, |m, (j, x)| if *x > row[m] { j } else { m });
                prev[i] = best as i64;
                if !done[i] {
                    out[i].attention.push(attn[i * s..i * s + lengths[i]].to_vec());
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
        }
        Ok(out)
    }

    /// Beam search for one source (GNMT length penalty `((5 + len) / 6)^alpha`;
    /// see [`dl_seq::beam_search`]). Each step rereads the
    /// hypotheses' prefixes against the encoded source.
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
        let (src, lengths) = Self::source_tensor(&[source.to_vec()], device)?;
        self.check_below(ids_below(source.iter().copied()), false)?;
        self.check_below(bos + 1, true)?;
        let memory1 = self.encode_with(src, &lengths, true)?;
        let s = source.len();
        beam_search(bos, eos, beam, max_len.min(self.max_len - 1), alpha, |live, _| {
            let (k, t) = (live.len(), live[0].tokens.len());
            let prefix: Vec<i64> = live.iter().flat_map(|h| h.tokens.iter().map(|&x| x as i64)).collect();
            let ids = Tensor::<2, Int>::from_data(TensorData::new(prefix, [k, t]), device);
            let (logits, attn) = self.decode_with(ids, &memory1.repeat(k), None, true)?;
            let v = logits.dims()[2];
            let last = logits.slice([0..k, t - 1..t, 0..v]).reshape([k, v]);
            Ok((to_f32(log_softmax(last, 1))?, to_f32(attn.slice([0..k, t - 1..t, 0..s]))?))
        })
    }
}

impl Supervised<Seq2SeqBatch> for TransformerSeq2Seq {
    fn step(&self, batch: &Seq2SeqBatch) -> dl_core::Result<StepOutput> {
        Ok(target_step_output(self.forward(batch)?, batch))
    }
}
