//! LLaMA-style decoder (Touvron et al. 2023): RMSNorm pre-norm blocks, rotary
//! positions, grouped-query attention, SwiGLU feed-forward, no biases.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig, Initializer, Linear, RmsNorm, RmsNormConfig};
use burn::tensor::{Device, Int, Tensor};

use crate::attention::{Attention, AttentionConfig, KvCache, LayerCache, causal_mask, normal_linear};
use crate::ffn::{Activation, FeedForward, FeedForwardConfig};
use crate::generate::{CausalLm, check_input_ids, lm_step, output_logits};
use crate::position::{Llama3RopeScaling, Rope};
use dl_core::config::check;
use dl_core::{Error, ModelConfig, StepOutput, Supervised};
use dl_seq::SequenceBatch;

/// Hyper-parameters of [`Llama`], named as in Hugging Face's `LlamaConfig`.
#[derive(Config, Debug)]
pub struct LlamaConfig {
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Model width.
    pub hidden_size: usize,
    /// SwiGLU hidden width.
    pub intermediate_size: usize,
    /// Blocks.
    pub num_hidden_layers: usize,
    /// Query heads.
    pub num_attention_heads: usize,
    /// Key/value heads (grouped-query attention); `None` means one per query head.
    #[config(default = "None")]
    pub num_key_value_heads: Option<usize>,
    /// Head width; `None` means `hidden_size / num_attention_heads`.
    #[config(default = "None")]
    pub head_dim: Option<usize>,
    /// RMSNorm epsilon.
    #[config(default = 1e-6)]
    pub rms_norm_eps: f64,
    /// RoPE base.
    #[config(default = 10000.0)]
    pub rope_theta: f64,
    /// Llama 3's rescaling of the rotary frequencies (`rope_type: "llama3"`), if any.
    #[config(default = "None")]
    pub rope_scaling: Option<Llama3RopeScaling>,
    /// Longest context generation keeps (rotary positions themselves have no limit).
    #[config(default = 2048)]
    pub max_position_embeddings: usize,
    /// Output projection shares the token embedding matrix.
    #[config(default = false)]
    pub tie_word_embeddings: bool,
    /// Standard deviation of the normal initialisation (0.02 as in Hugging Face).
    #[config(default = 0.02)]
    pub initializer_range: f64,
}

impl LlamaConfig {
    fn attention(&self) -> AttentionConfig {
        AttentionConfig::new(self.hidden_size, self.num_attention_heads)
            .with_n_kv_heads(self.num_key_value_heads)
            .with_head_dim(self.head_dim)
            .with_bias(false)
            .with_init_std(Some(self.initializer_range))
    }

    fn rope(&self, head_dim: usize) -> dl_core::Result<Rope> {
        let rope = Rope::new(self.rope_theta, head_dim)?;
        match self.rope_scaling {
            Some(s) => rope.with_llama3_scaling(s),
            None => Ok(rope),
        }
    }

    fn norm(&self, device: &Device) -> RmsNorm {
        RmsNormConfig::new(self.hidden_size).with_epsilon(self.rms_norm_eps).init(device)
    }
}

impl ModelConfig for LlamaConfig {
    type Model = Llama;

    fn validate(&self) -> dl_core::Result<()> {
        check::positive("LlamaConfig", "vocab_size", self.vocab_size)?;
        check::positive("LlamaConfig", "intermediate_size", self.intermediate_size)?;
        check::positive("LlamaConfig", "num_hidden_layers", self.num_hidden_layers)?;
        check::positive("LlamaConfig", "max_position_embeddings", self.max_position_embeddings)?;
        check::positive_f("LlamaConfig", "rms_norm_eps", self.rms_norm_eps)?;
        check::positive_f("LlamaConfig", "initializer_range", self.initializer_range)?;
        let attn = self.attention();
        attn.validate()?;
        self.rope(attn.head_width())?;
        let (d, f, l) = (self.hidden_size as f64, self.intermediate_size as f64, self.num_hidden_layers as f64);
        let kv = (attn.head_width() * self.num_key_value_heads.unwrap_or(self.num_attention_heads)) as f64;
        let q = (attn.head_width() * self.num_attention_heads) as f64;
        let heads = if self.tie_word_embeddings { 1.0 } else { 2.0 };
        let params = heads * self.vocab_size as f64 * d + l * (2.0 * d * q + 2.0 * d * kv + 3.0 * d * f);
        check::fits_in_memory("LlamaConfig", "vocab_size, hidden_size, intermediate_size, num_hidden_layers", params)
    }

    fn build(&self, device: &Device) -> Llama {
        let attn = self.attention();
        let layers = (0..self.num_hidden_layers)
            .map(|_| LlamaBlock {
                input_layernorm: self.norm(device),
                self_attn: attn.build(device),
                post_attention_layernorm: self.norm(device),
                mlp: FeedForwardConfig::new(self.hidden_size, self.intermediate_size)
                    .with_activation(Activation::SwiGlu)
                    .with_bias(false)
                    .with_init_std(Some(self.initializer_range))
                    .build(device),
            })
            .collect();
        Llama {
            embed_tokens: EmbeddingConfig::new(self.vocab_size, self.hidden_size)
                .with_initializer(Initializer::Normal { mean: 0.0, std: self.initializer_range })
                .init(device),
            layers,
            norm: self.norm(device),
            lm_head: (!self.tie_word_embeddings)
                .then(|| normal_linear(self.hidden_size, self.vocab_size, false, Some(self.initializer_range), device)),
            vocab_size: self.vocab_size,
            max_len: self.max_position_embeddings,
            // `validate` checked these (`Self::rope`).
            rope: Rope { theta: self.rope_theta, head_dim: attn.head_width(), scaling: self.rope_scaling },
        }
    }
}

/// One block: `x + attn(norm(x))` with RoPE on queries and keys, then `x + swiglu(norm(x))`.
#[derive(Module, Debug)]
pub struct LlamaBlock {
    /// Norm before attention.
    pub input_layernorm: RmsNorm,
    /// Causal grouped-query self-attention.
    pub self_attn: Attention,
    /// Norm before the feed-forward.
    pub post_attention_layernorm: RmsNorm,
    /// SwiGLU feed-forward.
    pub mlp: FeedForward,
}

impl LlamaBlock {
    /// `x` `[B, T, d]` through the block, attending under `mask`
    /// `[1, 1, T, T_past + T]` with rotary positions; returns the new `x` and
    /// the attention weights `[B, H, T, T_past + T]`.
    pub fn forward(
        &self,
        x: Tensor<3>,
        mask: Tensor<4>,
        rope: &Rope,
        cache: Option<&mut LayerCache>,
    ) -> dl_core::Result<(Tensor<3>, Tensor<4>)> {
        // [B, T, d]: grouped-query self-attention over the normed input, added back.
        let h = self.input_layernorm.forward(x.clone());
        let a = self.self_attn.forward_with(h.clone(), h, Some(mask), Some(rope), cache)?;
        let x = x + a.context;
        // [B, T, d]: SwiGLU over the normed sum, added back.
        let x = x.clone() + self.mlp.forward(self.post_attention_layernorm.forward(x));
        Ok((x, a.weights))
    }
}

/// A LLaMA-style language model.
#[derive(Module, Debug)]
pub struct Llama {
    /// Token embeddings `[V, d]`.
    pub embed_tokens: Embedding,
    /// Blocks.
    pub layers: Vec<LlamaBlock>,
    /// Final RMSNorm.
    pub norm: RmsNorm,
    /// Output projection (`None` when tied to the embeddings).
    pub lm_head: Option<Linear>,
    #[module(skip)]
    vocab_size: usize,
    #[module(skip)]
    max_len: usize,
    #[module(skip)]
    rope: Rope,
}

impl Llama {
    /// Logits `[B, T, V]` of every position of `ids` `[B, T]`.
    pub fn forward(&self, ids: Tensor<2, Int>) -> dl_core::Result<Tensor<3>> {
        self.forward_cached(ids, None)
    }

    /// Hidden states after the final norm `[B, T, d]` and each block's attention weights.
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
        let t = ids.dims()[1];
        check_input_ids("Llama", &ids, self.vocab_size, host_checked)?;
        if let Some(c) = cache.as_ref()
            && c.layers.len() != self.layers.len()
        {
            return Err(Error::shape("Llama cache", format!("{} layers", self.layers.len()), c.layers.len()));
        }
        let past = cache.as_ref().map_or(0, |c| c.len());
        let device = ids.device();
        let rope = self.rope;
        // [1, 1, T, past + T]
        let mask = causal_mask(t, past + t, &device)?;
        // [B, T, d]
        let mut x = self.embed_tokens.forward(ids);
        let mut weights = Vec::with_capacity(self.layers.len());
        for (i, block) in self.layers.iter().enumerate() {
            let layer_cache: Option<&mut LayerCache> = cache.as_deref_mut().map(|c| &mut c.layers[i]);
            let (next, w) = block.forward(x, mask.clone(), &rope, layer_cache)?;
            x = next;
            weights.push(w);
        }
        // [B, T, d]
        Ok((self.norm.forward(x), weights))
    }

    /// Projects hidden states `[B, T, d]` to logits `[B, T, V]`.
    pub fn logits(&self, h: Tensor<3>) -> Tensor<3> {
        output_logits(h, self.lm_head.as_ref(), &self.embed_tokens)
    }
}

impl CausalLm for Llama {
    fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    fn max_len(&self) -> Option<usize> {
        Some(self.max_len)
    }

    fn new_cache(&self) -> KvCache {
        KvCache::new(self.layers.len())
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

impl Supervised<SequenceBatch> for Llama {
    fn step(&self, batch: &SequenceBatch) -> dl_core::Result<StepOutput> {
        lm_step(self, batch)
    }
}
