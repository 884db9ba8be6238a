//! Encoder and decoder layers as in Vaswani et al. and PyTorch's
//! `nn.TransformerEncoderLayer` / `nn.TransformerDecoderLayer`: post-norm (the
//! original) or pre-norm (GPT-2 onwards), ReLU or GELU feed-forward.
//!
//! burn has `TransformerEncoder/Decoder`, but with boolean masks and without
//! the attention weights; these layers are built on [`Attention`] so that the
//! same parameters reproduce PyTorch's additive masks and hand the weights out
//! (attention maps), and the decoder supports the KV cache.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, LayerNorm, LayerNormConfig};
use burn::tensor::{Device, Tensor};

use crate::attention::{Attention, AttentionConfig, LayerCache};
use crate::ffn::{Activation, FeedForward, FeedForwardConfig};
use dl_core::config::check;
use dl_core::{Error, ModelConfig};

/// Hyper-parameters shared by [`EncoderLayer`] and [`DecoderLayer`].
#[derive(Config, Debug)]
pub struct TransformerLayerConfig {
    /// Model width.
    pub d_model: usize,
    /// Attention heads.
    pub n_heads: usize,
    /// Feed-forward hidden width.
    pub d_ff: usize,
    /// Feed-forward non-linearity (ReLU or GELU; SwiGLU is accepted too).
    #[config(default = "Activation::Relu")]
    pub activation: Activation,
    /// Pre-norm (`x + f(norm(x))`) instead of post-norm (`norm(x + f(x))`).
    #[config(default = false)]
    pub norm_first: bool,
    /// LayerNorm epsilon.
    #[config(default = 1e-5)]
    pub layer_norm_eps: f64,
    /// Dropout on attention weights and sub-layer outputs (training only).
    #[config(default = 0.0)]
    pub dropout: f64,
    /// Biases on the linear layers and LayerNorms.
    #[config(default = true)]
    pub bias: bool,
}

impl TransformerLayerConfig {
    fn attention(&self) -> AttentionConfig {
        AttentionConfig::new(self.d_model, self.n_heads).with_bias(self.bias).with_dropout(self.dropout)
    }

    fn ffn(&self) -> FeedForwardConfig {
        FeedForwardConfig::new(self.d_model, self.d_ff)
            .with_activation(self.activation)
            .with_bias(self.bias)
            .with_dropout(self.dropout)
    }

    fn norm(&self, device: &Device) -> LayerNorm {
        LayerNormConfig::new(self.d_model).with_epsilon(self.layer_norm_eps).with_bias(self.bias).init(device)
    }

    /// Validates, then builds a decoder layer.
    pub fn init_decoder(&self, device: &Device) -> dl_core::Result<DecoderLayer> {
        self.validate()?;
        Ok(self.build_decoder(device))
    }

    /// Builds a decoder layer from a validated config.
    pub fn build_decoder(&self, device: &Device) -> DecoderLayer {
        DecoderLayer {
            self_attn: self.attention().build(device),
            cross_attn: self.attention().build(device),
            ffn: self.ffn().build(device),
            norm1: self.norm(device),
            norm2: self.norm(device),
            norm3: self.norm(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            norm_first: self.norm_first,
        }
    }
}

impl ModelConfig for TransformerLayerConfig {
    type Model = EncoderLayer;

    fn validate(&self) -> dl_core::Result<()> {
        self.attention().validate()?;
        self.ffn().validate()?;
        check::positive_f("TransformerLayerConfig", "layer_norm_eps", self.layer_norm_eps)
    }

    fn build(&self, device: &Device) -> EncoderLayer {
        EncoderLayer {
            self_attn: self.attention().build(device),
            ffn: self.ffn().build(device),
            norm1: self.norm(device),
            norm2: self.norm(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            norm_first: self.norm_first,
        }
    }
}

/// Self-attention then feed-forward, each with a residual connection.
#[derive(Module, Debug)]
pub struct EncoderLayer {
    /// Self-attention.
    pub self_attn: Attention,
    /// Feed-forward.
    pub ffn: FeedForward,
    /// Norm around the attention sub-layer.
    pub norm1: LayerNorm,
    /// Norm around the feed-forward sub-layer.
    pub norm2: LayerNorm,
    dropout: Dropout,
    #[module(skip)]
    norm_first: bool,
}

impl EncoderLayer {
    /// `x` `[B, T, d]` with an additive mask broadcastable to `[B, H, T, T]`;
    /// returns the output and the attention weights `[B, H, T, T]`.
    pub fn forward(&self, x: Tensor<3>, mask: Option<Tensor<4>>) -> dl_core::Result<(Tensor<3>, Tensor<4>)> {
        if self.norm_first {
            let h = self.norm1.forward(x.clone());
            let a = self.self_attn.forward(h.clone(), h, mask)?;
            let x = x + self.dropout.forward(a.context);
            let f = self.ffn.forward(self.norm2.forward(x.clone()));
            Ok((x + self.dropout.forward(f), a.weights))
        } else {
            let a = self.self_attn.forward(x.clone(), x.clone(), mask)?;
            let x = self.norm1.forward(x + self.dropout.forward(a.context));
            let f = self.ffn.forward(x.clone());
            Ok((self.norm2.forward(x + self.dropout.forward(f)), a.weights))
        }
    }
}

/// What a decoder layer returns.
#[derive(Debug, Clone)]
pub struct DecoderLayerOutput {
    /// `[B, T, d]`.
    pub output: Tensor<3>,
    /// Self-attention weights `[B, H, T, T_total]`.
    pub self_weights: Tensor<4>,
    /// Cross-attention weights over the memory `[B, H, T, S]`.
    pub cross_weights: Tensor<4>,
}

/// Masked self-attention, cross-attention over the encoder's memory, feed-forward.
#[derive(Module, Debug)]
pub struct DecoderLayer {
    /// Self-attention over the target.
    pub self_attn: Attention,
    /// Attention over the memory.
    pub cross_attn: Attention,
    /// Feed-forward.
    pub ffn: FeedForward,
    /// Norm around self-attention.
    pub norm1: LayerNorm,
    /// Norm around cross-attention.
    pub norm2: LayerNorm,
    /// Norm around the feed-forward.
    pub norm3: LayerNorm,
    dropout: Dropout,
    #[module(skip)]
    norm_first: bool,
}

impl DecoderLayer {
    /// `x` `[B, T, d]` over `memory` `[B, S, d]`. With a `cache`, `x` holds only
    /// the new steps and the self-attention also sees the cached ones.
    pub fn forward(
        &self,
        x: Tensor<3>,
        memory: Tensor<3>,
        self_mask: Option<Tensor<4>>,
        memory_mask: Option<Tensor<4>>,
        cache: Option<&mut LayerCache>,
    ) -> dl_core::Result<DecoderLayerOutput> {
        if memory.dims()[2] != x.dims()[2] {
            return Err(Error::shape("DecoderLayer memory", format!("[B, S, {}]", x.dims()[2]), memory.dims()[2]));
        }
        if self.norm_first {
            let h = self.norm1.forward(x.clone());
            let sa = self.self_attn.forward_with(h.clone(), h, self_mask, None, cache)?;
            let x = x + self.dropout.forward(sa.context);
            let ca = self.cross_attn.forward(self.norm2.forward(x.clone()), memory, memory_mask)?;
            let x = x + self.dropout.forward(ca.context);
            let f = self.ffn.forward(self.norm3.forward(x.clone()));
            Ok(DecoderLayerOutput {
                output: x + self.dropout.forward(f),
                self_weights: sa.weights,
                cross_weights: ca.weights,
            })
        } else {
            let sa = self.self_attn.forward_with(x.clone(), x.clone(), self_mask, None, cache)?;
            let x = self.norm1.forward(x + self.dropout.forward(sa.context));
            let ca = self.cross_attn.forward(x.clone(), memory, memory_mask)?;
            let x = self.norm2.forward(x + self.dropout.forward(ca.context));
            let f = self.ffn.forward(x.clone());
            Ok(DecoderLayerOutput {
                output: self.norm3.forward(x + self.dropout.forward(f)),
                self_weights: sa.weights,
                cross_weights: ca.weights,
            })
        }
    }
}
