//! GPT-2-style decoder (Radford et al. 2019): learned positions, pre-norm
//! blocks, causal self-attention, GELU MLP, final LayerNorm, tied output.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, Initializer, LayerNorm, LayerNormConfig, Linear};
use burn::tensor::{Device, Int, Tensor};

use crate::attention::{Attention, AttentionConfig, KvCache, LayerCache, causal_mask, normal_linear};
use crate::ffn::{Activation, FeedForward, FeedForwardConfig};
use crate::generate::{CausalLm, check_input_ids, lm_step, output_logits};
use dl_core::config::check;
use dl_core::{Error, ModelConfig, StepOutput, Supervised};
use dl_seq::SequenceBatch;

/// Hyper-parameters of [`Gpt`], named as in Hugging Face's `GPT2Config`.
#[derive(Config, Debug)]
pub struct GptConfig {
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Context length (learned positions).
    pub n_positions: usize,
    /// Model width.
    pub n_embd: usize,
    /// Blocks.
    pub n_layer: usize,
    /// Attention heads.
    pub n_head: usize,
    /// Feed-forward width; `None` means `4 · n_embd`.
    #[config(default = "None")]
    pub n_inner: Option<usize>,
    /// Feed-forward non-linearity (`GeluTanh` is GPT-2's `gelu_new`).
    #[config(default = "Activation::GeluTanh")]
    pub activation: Activation,
    /// LayerNorm epsilon.
    #[config(default = 1e-5)]
    pub layer_norm_epsilon: f64,
    /// Dropout on embeddings, attention weights and residual branches (training only).
    #[config(default = 0.0)]
    pub dropout: f64,
    /// Biases in linear layers and LayerNorms (GPT-2: yes; nanoGPT's default: no).
    #[config(default = true)]
    pub bias: bool,
    /// Output projection shares the token embedding matrix.
    #[config(default = true)]
    pub tie_word_embeddings: bool,
    /// Standard deviation of the normal initialisation (GPT-2: 0.02); the
    /// residual output projections use `std / √(2 · n_layer)`.
    #[config(default = 0.02)]
    pub initializer_range: f64,
}

impl GptConfig {
    /// About how many parameters the model has (weights of the embeddings,
    /// attention, feed-forward and an untied head; norms and biases left out).
    pub fn params(&self) -> f64 {
        let (d, l) = (self.n_embd as f64, self.n_layer as f64);
        let f = self.n_inner.map_or(4.0 * d, |f| f as f64);
        let head = if self.tie_word_embeddings { 0.0 } else { self.vocab_size as f64 * d };
        (self.vocab_size as f64 + self.n_positions as f64) * d + l * (4.0 * d * d + 2.0 * d * f) + head
    }

    fn residual_std(&self) -> f64 {
        self.initializer_range / (2.0 * self.n_layer.max(1) as f64).sqrt()
    }

    fn attention(&self) -> AttentionConfig {
        AttentionConfig::new(self.n_embd, self.n_head)
            .with_bias(self.bias)
            .with_dropout(self.dropout)
            .with_init_std(Some(self.initializer_range))
            .with_out_init_std(Some(self.residual_std()))
    }

    fn norm(&self, device: &Device) -> LayerNorm {
        LayerNormConfig::new(self.n_embd).with_epsilon(self.layer_norm_epsilon).with_bias(self.bias).init(device)
    }
}

impl ModelConfig for GptConfig {
    type Model = Gpt;

    fn validate(&self) -> dl_core::Result<()> {
        check::positive("GptConfig", "vocab_size", self.vocab_size)?;
        check::positive("GptConfig", "n_positions", self.n_positions)?;
        check::positive("GptConfig", "n_layer", self.n_layer)?;
        check::positive_f("GptConfig", "layer_norm_epsilon", self.layer_norm_epsilon)?;
        check::positive_f("GptConfig", "initializer_range", self.initializer_range)?;
        check::probability("GptConfig", "dropout", self.dropout)?;
        if self.n_inner == Some(0) {
            return Err(Error::config("GptConfig", "n_inner", "must be at least 1"));
        }
        if self.activation == Activation::SwiGlu {
            return Err(Error::config("GptConfig", "activation", "GPT blocks use an MLP; SwiGLU is LLaMA's"));
        }
        self.attention().validate()?;
        check::fits_in_memory("GptConfig", "vocab_size, n_positions, n_embd, n_layer", self.params())
    }

    fn build(&self, device: &Device) -> Gpt {
        let d_ff = self.n_inner.unwrap_or(4 * self.n_embd);
        let init = Initializer::Normal { mean: 0.0, std: self.initializer_range };
        let blocks = (0..self.n_layer)
            .map(|_| GptBlock {
                ln_1: self.norm(device),
                attn: self.attention().build(device),
                ln_2: self.norm(device),
                mlp: FeedForwardConfig::new(self.n_embd, d_ff)
                    .with_activation(self.activation)
                    .with_bias(self.bias)
                    .with_init_std(Some(self.initializer_range))
                    .with_out_init_std(Some(self.residual_std()))
                    .build(device),
                drop: DropoutConfig::new(self.dropout).init(),
                eps: self.layer_norm_epsilon,
            })
            .collect();
        Gpt {
            wte: EmbeddingConfig::new(self.vocab_size, self.n_embd).with_initializer(init.clone()).init(device),
            wpe: EmbeddingConfig::new(self.n_positions, self.n_embd).with_initializer(init).init(device),
            drop: DropoutConfig::new(self.dropout).init(),
            blocks,
            ln_f: self.norm(device),
            lm_head: (!self.tie_word_embeddings)
                .then(|| normal_linear(self.n_embd, self.vocab_size, false, Some(self.initializer_range), device)),
            vocab_size: self.vocab_size,
            n_positions: self.n_positions,
            eps: self.layer_norm_epsilon,
        }
    }
}

/// One pre-norm block: `x + attn(ln_1(x))`, then `x + mlp(ln_2(x))`.
#[derive(Module, Debug)]
pub struct GptBlock {
    /// Norm before attention.
    pub ln_1: LayerNorm,
    /// Causal self-attention.
    pub attn: Attention,
    /// Norm before the MLP.
    pub ln_2: LayerNorm,
    /// MLP.
    pub mlp: FeedForward,
    drop: Dropout,
    /// The norms' epsilon (burn's `LayerNorm` keeps its own private).
    #[module(skip)]
    eps: f64,
}

impl GptBlock {
    /// `x` `[B, T, d]` through the block, attending under `mask`
    /// `[1, 1, T, T_past + T]`; returns the new `x` and the attention weights
    /// `[B, H, T, T_past + T]`.
    pub fn forward(
        &self,
        x: Tensor<3>,
        mask: Tensor<4>,
        cache: Option<&mut LayerCache>,
    ) -> dl_core::Result<(Tensor<3>, Tensor<4>)> {
        // [B, T, d]: causal self-attention over the normed input, added back.
        let h = dl_kernels::layer_norm(&self.ln_1, x.clone(), self.eps);
        let a = self.attn.forward_with(h.clone(), h, Some(mask), None, cache)?;
        let x = x + self.drop.forward(a.context);
        // [B, T, d]: the MLP over the normed sum, added back.
        let x = x.clone() + self.drop.forward(self.mlp.forward(dl_kernels::layer_norm(&self.ln_2, x, self.eps)));
        Ok((x, a.weights))
    }
}

/// A GPT-2-style language model.
#[derive(Module, Debug)]
pub struct Gpt {
    /// Token embeddings `[V, d]` (also the output matrix when tied).
    pub wte: Embedding,
    /// Position embeddings `[n_positions, d]`.
    pub wpe: Embedding,
    drop: Dropout,
    /// Blocks.
    pub blocks: Vec<GptBlock>,
    /// Final norm.
    pub ln_f: LayerNorm,
    /// Untied output projection.
    pub lm_head: Option<Linear>,
    #[module(skip)]
    vocab_size: usize,
    #[module(skip)]
    n_positions: usize,
    #[module(skip)]
    eps: f64,
}

impl Gpt {
    /// Logits `[B, T, V]` of every position of `ids` `[B, T]`.
    pub fn forward(&self, ids: Tensor<2, Int>) -> dl_core::Result<Tensor<3>> {
        self.forward_cached(ids, None)
    }

    /// The hidden states after the final norm, `[B, T, d]`, and the attention
    /// weights of every block `[B, H, T, T_total]`.
    pub fn hidden(
        &self,
        ids: Tensor<2, Int>,
        cache: Option<&mut KvCache>,
    ) -> dl_core::Result<(Tensor<3>, Vec<Tensor<4>>)> {
        self.hidden_with(ids, cache, false)
    }

    /// [`hidden`](Self::hidden); `host_checked`: the ids were checked on the
    /// host ([`CausalLm::forward_checked`]), only their shape is checked here.
    fn hidden_with(
        &self,
        ids: Tensor<2, Int>,
        mut cache: Option<&mut KvCache>,
        host_checked: bool,
    ) -> dl_core::Result<(Tensor<3>, Vec<Tensor<4>>)> {
        let [b, t] = ids.dims();
        let past = cache.as_ref().map_or(0, |c| c.len());
        check_input_ids("Gpt", &ids, self.vocab_size, host_checked)?;
        if past + t > self.n_positions {
            return Err(Error::shape("Gpt input", format!("at most {} positions", self.n_positions), past + t));
        }
        if let Some(c) = cache.as_ref()
            && c.layers.len() != self.blocks.len()
        {
            return Err(Error::shape("Gpt cache", format!("{} layers", self.blocks.len()), c.layers.len()));
        }
        let device = ids.device();
        let positions =
            Tensor::<1, Int>::arange(past as i64..(past + t) as i64, &device).reshape([1, t]).repeat_dim(0, b);
        // [B, T, d]: token plus position embeddings.
        let mut x = self.drop.forward(self.wte.forward(ids) + self.wpe.forward(positions));
        // [1, 1, T, past + T]
        let mask = causal_mask(t, past + t, &device)?;
        let mut weights = Vec::with_capacity(self.blocks.len());
        for (i, block) in self.blocks.iter().enumerate() {
            let layer_cache: Option<&mut LayerCache> = cache.as_deref_mut().map(|c| &mut c.layers[i]);
            let (next, w) = block.forward(x, mask.clone(), layer_cache)?;
            x = next;
            weights.push(w);
        }
        // [B, T, d]
        Ok((dl_kernels::layer_norm(&self.ln_f, x, self.eps), weights))
    }

    /// Projects hidden states `[B, T, d]` to logits `[B, T, V]`.
    pub fn logits(&self, h: Tensor<3>) -> Tensor<3> {
        output_logits(h, self.lm_head.as_ref(), &self.wte)
    }
}

impl CausalLm for Gpt {
    fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    fn max_len(&self) -> Option<usize> {
        Some(self.n_positions)
    }

    fn new_cache(&self) -> KvCache {
        KvCache::new(self.blocks.len())
    }

    fn forward_cached(&self, ids: Tensor<2, Int>, cache: Option<&mut KvCache>) -> dl_core::Result<Tensor<3>> {
        let (h, _) = self.hidden(ids, cache)?;
        Ok(self.logits(h))
    }
    fn forward_checked(&self, ids: Tensor<2, Int>, cache: Option<&mut KvCache>) -> dl_core::Result<Tensor<3>> {
        let (h, _) = self.hidden_with(ids, cache, true)?;
        Ok(self.logits(h))
    }
}

impl Supervised<SequenceBatch> for Gpt {
    fn step(&self, batch: &SequenceBatch) -> dl_core::Result<StepOutput> {
        lm_step(self, batch)
    }
}
