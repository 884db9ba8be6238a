//! Scaled dot-product attention and multi-head attention with grouped-query
//! heads, additive masks, rotary positions and a KV cache.
//!
//! burn's `MultiHeadAttention` takes boolean masks only and has one key/value
//! head per query head; PyTorch fixtures use additive float masks, LLaMA uses
//! grouped-query attention with rotary positions applied between projection
//! and scores, and incremental decoding needs the keys and values of earlier
//! steps. This module is written for those cases and is used by every model of
//! the crate; the projections are burn `Linear` layers.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Initializer, Linear, LinearConfig};
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};

use crate::position::Rope;
use dl_core::config::check;
use dl_core::{Error, ModelConfig};

/// The value added to a masked score. Finite, so that adding two masks stays
/// finite; far below any real score, so a masked key gets exactly zero weight
/// after the softmax (`exp(-1e9)` underflows to 0 in `f32`).
pub const MASKED: f32 = -1.0e9;

/// Hyper-parameters of [`Attention`].
#[derive(Config, Debug)]
pub struct AttentionConfig {
    /// Width of the input and output.
    pub d_model: usize,
    /// Query heads.
    pub n_heads: usize,
    /// Key/value heads: `n_heads` (multi-head), 1 (multi-query) or a divisor of
    /// `n_heads` (grouped-query). `None` means `n_heads`.
    #[config(default = "None")]
    pub n_kv_heads: Option<usize>,
    /// Width of one head; `None` means `d_model / n_heads`.
    #[config(default = "None")]
    pub head_dim: Option<usize>,
    /// Biases on the four projections.
    #[config(default = true)]
    pub bias: bool,
    /// Dropout on the attention weights (training only).
    #[config(default = 0.0)]
    pub dropout: f64,
    /// Standard deviation of a normal initialisation of the projections
    /// (GPT-2/LLaMA use 0.02); `None` keeps burn's Kaiming-uniform default.
    #[config(default = "None")]
    pub init_std: Option<f64>,
    /// Like `init_std`, for the output projection only (GPT-2 scales it by `1/√(2·layers)`).
    #[config(default = "None")]
    pub out_init_std: Option<f64>,
}

impl AttentionConfig {
    /// Key/value heads after defaults.
    pub fn kv_heads(&self) -> usize {
        self.n_kv_heads.unwrap_or(self.n_heads)
    }

    /// Head width after defaults.
    pub fn head_width(&self) -> usize {
        self.head_dim.unwrap_or_else(|| self.d_model.checked_div(self.n_heads).unwrap_or(0))
    }
}

impl ModelConfig for AttentionConfig {
    type Model = Attention;

    fn validate(&self) -> dl_core::Result<()> {
        check::positive("AttentionConfig", "d_model", self.d_model)?;
        check::positive("AttentionConfig", "n_heads", self.n_heads)?;
        check::probability("AttentionConfig", "dropout", self.dropout)?;
        let kv = self.kv_heads();
        if kv == 0 || !self.n_heads.is_multiple_of(kv) {
            return Err(Error::config(
                "AttentionConfig",
                "n_kv_heads",
                format!("{kv} key/value heads do not divide {} query heads", self.n_heads),
            ));
        }
        match self.head_dim {
            Some(0) => Err(Error::config("AttentionConfig", "head_dim", "must be at least 1")),
            None if !self.d_model.is_multiple_of(self.n_heads) => Err(Error::config(
                "AttentionConfig",
                "n_heads",
                format!("d_model {} is not divisible by {} heads (or set head_dim)", self.d_model, self.n_heads),
            )),
            _ => Ok(()),
        }
    }

    fn build(&self, device: &Device) -> Attention {
        let (h, kv, hd) = (self.n_heads, self.kv_heads(), self.head_width());
        let linear = |i, o, std: Option<f64>| normal_linear(i, o, self.bias, std, device);
        Attention {
            query: linear(self.d_model, h * hd, self.init_std),
            key: linear(self.d_model, kv * hd, self.init_std),
            value: linear(self.d_model, kv * hd, self.init_std),
            output: linear(h * hd, self.d_model, self.out_init_std.or(self.init_std)),
            dropout: DropoutConfig::new(self.dropout).init(),
            n_heads: h,
            n_kv_heads: kv,
            head_dim: hd,
        }
    }
}

/// A linear layer, normally initialised with `std` (weights) and zero biases when `std` is set.
pub fn normal_linear(d_in: usize, d_out: usize, bias: bool, std: Option<f64>, device: &Device) -> Linear {
    let cfg = LinearConfig::new(d_in, d_out).with_bias(bias);
    let Some(std) = std else { return cfg.init(device) };
    let mut l = cfg.with_initializer(Initializer::Normal { mean: 0.0, std }).init(device);
    if let Some(b) = &l.bias {
        l.bias = Some(burn::module::Param::from_tensor(b.val().zeros_like()));
    }
    l
}

/// Multi-head attention: `softmax(q kᵀ / √d_head + mask) v` per head, heads
/// concatenated and projected. Query head `h` reads key/value head
/// `h / (n_heads / n_kv_heads)` (grouped-query attention).
#[derive(Module, Debug)]
pub struct Attention {
    /// Query projection `[d_model, n_heads · d_head]`.
    pub query: Linear,
    /// Key projection `[d_model, n_kv_heads · d_head]`.
    pub key: Linear,
    /// Value projection `[d_model, n_kv_heads · d_head]`.
    pub value: Linear,
    /// Output projection `[n_heads · d_head, d_model]`.
    pub output: Linear,
    dropout: Dropout,
    #[module(skip)]
    n_heads: usize,
    #[module(skip)]
    n_kv_heads: usize,
    #[module(skip)]
    head_dim: usize,
}

/// The result of an attention call.
#[derive(Debug, Clone)]
pub struct AttentionOutput {
    /// `[B, L, d_model]`.
    pub context: Tensor<3>,
    /// Attention weights `[B, n_heads, L, S]` (rows sum to 1).
    pub weights: Tensor<4>,
}

/// Keys and values of earlier steps for one attention layer, before the
/// grouped heads are repeated: `[B, n_kv_heads, S, d_head]`.
#[derive(Debug, Clone, Default)]
pub struct LayerCache {
    kv: Option<(Tensor<4>, Tensor<4>)>,
}

impl LayerCache {
    /// Steps held.
    pub fn len(&self) -> usize {
        self.kv.as_ref().map_or(0, |(k, _)| k.dims()[2])
    }

    /// Whether nothing is cached yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One [`LayerCache`] per layer of a decoder.
#[derive(Debug, Clone, Default)]
pub struct KvCache {
    /// Per layer, in order.
    pub layers: Vec<LayerCache>,
}

impl KvCache {
    /// An empty cache for `n` layers.
    pub fn new(n: usize) -> Self {
        Self { layers: vec![LayerCache::default(); n] }
    }

    /// Steps already processed (0 for a fresh cache).
    pub fn len(&self) -> usize {
        self.layers.first().map_or(0, LayerCache::len)
    }

    /// Whether nothing is cached yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Attention {
    /// Query heads.
    pub fn n_heads(&self) -> usize {
        self.n_heads
    }

    /// Key/value heads.
    pub fn n_kv_heads(&self) -> usize {
        self.n_kv_heads
    }

    /// Width of one head.
    pub fn head_dim(&self) -> usize {
        self.head_dim
    }

    fn split(&self, x: Tensor<3>, heads: usize) -> Tensor<4> {
        let [b, t, _] = x.dims();
        x.reshape([b, t, heads, self.head_dim]).swap_dims(1, 2)
    }

    /// Attention of `query` `[B, L, d]` over `memory` `[B, S, d]` (pass the
    /// same tensor for self-attention) with an additive `mask` broadcastable to
    /// `[B, n_heads, L, S]` (see [`causal_mask`], [`padding_mask`]).
    pub fn forward(
        &self,
        query: Tensor<3>,
        memory: Tensor<3>,
        mask: Option<Tensor<4>>,
    ) -> dl_core::Result<AttentionOutput> {
        self.forward_with(query, memory, mask, None, None)
    }

    /// Attention with separate key and value inputs `[B, S, d]` (PyTorch's
    /// `nn.MultiheadAttention(query, key, value)`).
    pub fn forward_qkv(
        &self,
        query: Tensor<3>,
        key: Tensor<3>,
        value: Tensor<3>,
        mask: Option<Tensor<4>>,
    ) -> dl_core::Result<AttentionOutput> {
        if key.dims() != value.dims() {
            return Err(Error::shape(
                "Attention key/value",
                format!("{:?}", key.dims()),
                format!("{:?}", value.dims()),
            ));
        }
        self.attend(query, key, value, mask, None, None)
    }

    /// The general call: optional rotary positions (applied to queries and keys,
    /// the new keys starting at the cache's length) and an optional cache whose
    /// keys/values are prepended to this call's and which is extended with them.
    pub fn forward_with(
        &self,
        query: Tensor<3>,
        memory: Tensor<3>,
        mask: Option<Tensor<4>>,
        rope: Option<&Rope>,
        cache: Option<&mut LayerCache>,
    ) -> dl_core::Result<AttentionOutput> {
        self.attend(query, memory.clone(), memory, mask, rope, cache)
    }

    fn attend(
        &self,
        query: Tensor<3>,
        key: Tensor<3>,
        value: Tensor<3>,
        mask: Option<Tensor<4>>,
        rope: Option<&Rope>,
        cache: Option<&mut LayerCache>,
    ) -> dl_core::Result<AttentionOutput> {
        let [b, l, d] = query.dims();
        let [bm, s_new, dm] = key.dims();
        let d_in = self.query.weight.dims()[0];
        if d != d_in || dm != d_in || bm != b {
            return Err(Error::shape(
                "Attention input",
                format!("query [B, L, {d_in}] and memory [B, S, {d_in}] with one B"),
                format!("query {:?}, memory {:?}", [b, l, d], [bm, s_new, dm]),
            ));
        }
        let offset = cache.as_ref().map_or(0, |c| c.len());
        let mut q = self.split(dl_kernels::linear(&self.query, query), self.n_heads);
        let mut k = self.split(dl_kernels::linear(&self.key, key), self.n_kv_heads);
        let v = self.split(dl_kernels::linear(&self.value, value), self.n_kv_heads);
        if let Some(rope) = rope {
            q = rope.apply(q, offset)?;
            k = rope.apply(k, offset)?;
        }
        let (k, v) = match cache {
            Some(cache) => {
                let (k, v) = match cache.kv.take() {
                    Some((pk, pv)) => (Tensor::cat(vec![pk, k], 2), Tensor::cat(vec![pv, v], 2)),
                    None => (k, v),
                };
                cache.kv = Some((k.clone(), v.clone()));
                (k, v)
            }
            None => (k, v),
        };
        let (ctx, weights) = scaled_dot_product(q, k, v, mask, &self.dropout)?;
        Ok(AttentionOutput { context: dl_kernels::linear(&self.output, ctx), weights })
    }
}

/// `softmax(q kᵀ / √d + mask) v` for `q` `[B, H, L, d]`, `k`, `v`
/// `[B, H_kv, S, d]` (query head `h` reads key/value head `h / (H / H_kv)`);
/// returns the context with the heads merged, `[B, L, H · d]`, and the
/// weights `[B, H, L, S]`. Fused on the CPU backends ([`dl_kernels::attention_weights`]).
pub fn scaled_dot_product(
    q: Tensor<4>,
    k: Tensor<4>,
    v: Tensor<4>,
    mask: Option<Tensor<4>>,
    dropout: &Dropout,
) -> dl_core::Result<(Tensor<3>, Tensor<4>)> {
    let [b, h, l, d] = q.dims();
    let (kd, vd) = (k.dims(), v.dims());
    let s = kd[2];
    if kd != vd || kd[0] != b || kd[3] != d || kd[1] == 0 || h % kd[1] != 0 {
        return Err(Error::shape(
            "attention keys/values",
            format!("[{b}, H_kv dividing {h}, S, {d}] for both"),
            format!("keys {kd:?}, values {vd:?}"),
        ));
    }
    if let Some(mask) = &mask {
        let m = mask.dims();
        let fits = |i: usize, full: usize| m[i] == full || m[i] == 1;
        if !(fits(0, b) && fits(1, h) && fits(2, l) && m[3] == s) {
            return Err(Error::shape("attention mask", format!("[{b}|1, {h}|1, {l}|1, {s}]"), format!("{m:?}")));
        }
    }
    let weights = dl_kernels::attention_weights(q, k, mask, 1.0 / (d as f64).sqrt());
    let ctx = dl_kernels::attention_context(dropout.forward(weights.clone()), v);
    Ok((ctx, weights))
}

/// An additive causal mask `[1, 1, L, S]` for `L` new queries after `S - L`
/// earlier steps: query `i` (absolute position `S - L + i`) sees keys `0..=S - L + i`.
pub fn causal_mask(l: usize, s: usize, device: &Device) -> dl_core::Result<Tensor<4>> {
    if l > s {
        return Err(Error::shape("causal_mask", "queries <= keys", format!("{l} queries, {s} keys")));
    }
    let past = s - l;
    let values: Vec<f32> = (0..l).flat_map(|i| (0..s).map(move |j| if j <= past + i { 0.0 } else { MASKED })).collect();
    Ok(Tensor::from_data(TensorData::new(values, [1, 1, l, s]), device))
}

/// An additive key-padding mask `[B, 1, 1, S]` from a `[B, S]` attention mask
/// (1 = token, 0 = padding), as BERT takes it.
pub fn padding_mask(attention_mask: Tensor<2, Int>) -> Tensor<4> {
    let [b, s] = attention_mask.dims();
    let keep = attention_mask.float();
    keep.neg().add_scalar(1.0).mul_scalar(MASKED).reshape([b, 1, 1, s])
}

/// An additive key-padding mask `[B, 1, 1, S]` from sequence lengths.
pub fn lengths_mask(lengths: &[usize], s: usize, device: &Device) -> dl_core::Result<Tensor<4>> {
    if let Some(&bad) = lengths.iter().find(|&&n| n == 0 || n > s) {
        return Err(Error::shape("lengths_mask", format!("lengths in 1..={s}"), bad));
    }
    let values: Vec<f32> =
        lengths.iter().flat_map(|&n| (0..s).map(move |j| if j < n { 0.0 } else { MASKED })).collect();
    Ok(Tensor::from_data(TensorData::new(values, [lengths.len(), 1, 1, s]), device))
}

/// A `[L, S]` float mask (PyTorch's additive `attn_mask`) as `[1, 1, L, S]`.
pub fn additive_mask(mask: Tensor<2>) -> Tensor<4> {
    mask.unsqueeze::<4>()
}

/// A `[L, S]` boolean mask (`true` = may not attend, PyTorch's convention) as an additive `[1, 1, L, S]`.
pub fn bool_mask(mask: Tensor<2, Bool>) -> Tensor<4> {
    mask.float().mul_scalar(MASKED).unsqueeze::<4>()
}
