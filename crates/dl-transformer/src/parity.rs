//! The parity kinds of this crate: `multihead_attention`,
//! `transformer_encoder_layer`, `transformer_decoder_layer`, `hf_gpt2`,
//! `hf_llama`, `hf_bert` (`shared/parity/FORMAT.md`).

use burn::tensor::Device;

use crate::attention::{AttentionConfig, additive_mask};
use crate::ffn::Activation;
use crate::hf::{bert_config, gpt2_config, llama_config, load_bert, load_gpt2, load_llama};
use crate::layer::TransformerLayerConfig;
use crate::pytorch::{load_decoder_layer, load_encoder_layer, load_mha};
use dl_core::parity::{Fixture, NamedOutput, Registry, output};
use dl_core::{Error, ModelConfig, Result};

/// Adds the kinds of this crate to `registry`.
pub fn register(registry: &mut Registry) {
    registry.register("multihead_attention", run_mha);
    registry.register("transformer_encoder_layer", run_encoder_layer);
    registry.register("transformer_decoder_layer", run_decoder_layer);
    registry.register("hf_gpt2", run_gpt2);
    registry.register("hf_llama", run_llama);
    registry.register("hf_bert", run_bert);
}

fn batch_first(fx: &Fixture) -> Result<()> {
    if fx.bool_or("batch_first", false)? {
        Ok(())
    } else {
        Err(Error::Unsupported("only batch_first=True fixtures are defined by the format".into()))
    }
}

fn mask(fx: &Fixture, name: &str, device: &Device) -> Result<Option<burn::tensor::Tensor<4>>> {
    Ok(if fx.has_input(name) { Some(additive_mask(fx.float::<2>(name, device)?)) } else { None })
}

fn run_mha(fx: &Fixture, device: &Device) -> Result<Vec<NamedOutput>> {
    batch_first(fx)?;
    let cfg = AttentionConfig::new(fx.usize_req("embed_dim")?, fx.usize_req("num_heads")?)
        .with_bias(fx.bool_or("bias", true)?)
        .with_dropout(fx.f64_or("dropout", 0.0)?);
    let attn = load_mha(cfg.init(device)?, fx, "", device)?;
    let q = fx.float::<3>("query", device)?;
    let k = fx.float::<3>("key", device)?;
    let v = fx.float::<3>("value", device)?;
    let out = attn.forward_qkv(q, k, v, mask(fx, "attn_mask", device)?)?;
    Ok(vec![output("output", out.context)?])
}

fn layer_config(fx: &Fixture) -> Result<TransformerLayerConfig> {
    batch_first(fx)?;
    Ok(TransformerLayerConfig::new(
        fx.usize_req("d_model")?,
        fx.usize_req("nhead")?,
        fx.usize_or("dim_feedforward", 2048)?,
    )
    .with_activation(Activation::parse(fx.str_or("activation", "relu")?)?)
    .with_norm_first(fx.bool_or("norm_first", false)?)
    .with_layer_norm_eps(fx.f64_or("layer_norm_eps", 1e-5)?)
    .with_dropout(fx.f64_or("dropout", 0.0)?)
    .with_bias(fx.bool_or("bias", true)?))
}

fn run_encoder_layer(fx: &Fixture, device: &Device) -> Result<Vec<NamedOutput>> {
    let layer = load_encoder_layer(layer_config(fx)?.init(device)?, fx, "", device)?;
    let (y, _) = layer.forward(fx.float::<3>("src", device)?, mask(fx, "src_mask", device)?)?;
    Ok(vec![output("output", y)?])
}

fn run_decoder_layer(fx: &Fixture, device: &Device) -> Result<Vec<NamedOutput>> {
    let layer = load_decoder_layer(layer_config(fx)?.init_decoder(device)?, fx, "", device)?;
    let y = layer.forward(
        fx.float::<3>("tgt", device)?,
        fx.float::<3>("memory", device)?,
        mask(fx, "tgt_mask", device)?,
        mask(fx, "memory_mask", device)?,
        None,
    )?;
    Ok(vec![output("output", y.output)?])
}

fn run_gpt2(fx: &Fixture, device: &Device) -> Result<Vec<NamedOutput>> {
    let cfg = gpt2_config(&fx.config)?;
    let gpt = load_gpt2(cfg.init(device)?, fx, device)?;
    Ok(vec![output("logits", gpt.forward(fx.int::<2>("input_ids", device)?)?)?])
}

fn run_llama(fx: &Fixture, device: &Device) -> Result<Vec<NamedOutput>> {
    let cfg = llama_config(&fx.config)?;
    let llama = load_llama(cfg.init(device)?, fx, device)?;
    Ok(vec![output("logits", llama.forward(fx.int::<2>("input_ids", device)?)?)?])
}

fn run_bert(fx: &Fixture, device: &Device) -> Result<Vec<NamedOutput>> {
    let cfg = bert_config(&fx.config)?;
    let bert = load_bert(cfg.init(device)?, fx, device)?;
    let mask = if fx.has_input("attention_mask") { Some(fx.int::<2>("attention_mask", device)?) } else { None };
    let out = bert.forward(fx.int::<2>("input_ids", device)?, mask, None)?;
    Ok(vec![output("last_hidden_state", out.last_hidden_state)?])
}
