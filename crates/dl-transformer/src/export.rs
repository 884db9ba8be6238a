//! Hugging Face checkpoint folders from the crate's BERT, GPT-2 and LLaMA
//! models: `config.json` and `model.safetensors` with `transformers`'
//! parameter names, which `BertModel` / `GPT2LMHeadModel` /
//! `LlamaForCausalLM.from_pretrained` load (and which [`crate::hf`] reads back). A tokenizer is
//! not written: copy the `tokenizer.json` the model was trained with.

use std::path::Path;

use burn::nn::{LayerNorm, Linear, RmsNorm};
use burn::tensor::Tensor;
use serde_json::{Value, json};

use crate::ffn::Activation;
use crate::layer::EncoderLayer;
use crate::models::bert::{Bert, BertConfig};
use crate::models::gpt::{Gpt, GptConfig};
use crate::models::llama::{Llama, LlamaConfig};
use dl_core::weights::StateDictWriter;
use dl_core::{Error, ModelConfig, Result};

/// `{prefix}.weight` as `nn.Linear` stores it (`[out, in]`) and `{prefix}.bias` when present.
fn linear(w: &mut StateDictWriter, prefix: &str, l: &Linear) -> Result<()> {
    w.put_linear(&format!("{prefix}.weight"), &format!("{prefix}.bias"), l)
}

/// GPT-2's `Conv1D` of the `layers` side by side: weight `[in, Σ out]` (burn's
/// own layout), bias `[Σ out]`, zeros for a layer without one (GPT-2 always has biases).
fn conv1d(w: &mut StateDictWriter, prefix: &str, layers: &[&Linear]) -> Result<()> {
    let weights: Vec<Tensor<2>> = layers.iter().map(|l| l.weight.val()).collect();
    let biases: Vec<Tensor<1>> = layers
        .iter()
        .map(|l| match &l.bias {
            Some(b) => b.val(),
            None => Tensor::zeros([l.weight.lazy_shape().dims::<2>()[1]], &l.weight.device()),
        })
        .collect();
    w.put(format!("{prefix}.weight"), Tensor::cat(weights, 1))?;
    w.put(format!("{prefix}.bias"), Tensor::cat(biases, 0))
}

/// A LayerNorm's `weight` and `bias` (zeros when it has none: GPT-2's always do).
fn layer_norm(w: &mut StateDictWriter, prefix: &str, ln: &LayerNorm) -> Result<()> {
    let gamma = ln.gamma.val();
    let beta = ln.beta.as_ref().map_or_else(|| gamma.zeros_like(), |b| b.val());
    w.put(format!("{prefix}.weight"), gamma)?;
    w.put(format!("{prefix}.bias"), beta)
}

fn rms_norm(w: &mut StateDictWriter, key: &str, n: &RmsNorm) -> Result<()> {
    w.put(key, n.gamma.val())
}

/// `config.validate()`, then each `(what, in the config, in the model)` size must agree.
fn check_model<C: ModelConfig>(config: &C, model: &str, sizes: [(&str, usize, usize); 3]) -> Result<()> {
    config.validate()?;
    match sizes.iter().find(|(_, c, m)| c != m) {
        None => Ok(()),
        Some((what, c, m)) => Err(Error::shape(format!("{model} export: {what}"), format!("{c} (the config)"), m)),
    }
}

fn write_folder(dir: &Path, config: &Value, weights: &StateDictWriter) -> Result<()> {
    weights.write(dir.join("model.safetensors"))?;
    dl_core::config::save_json(config, dir.join("config.json"))
}

/// `transformers`' name of an MLP non-linearity (SwiGLU has none in BERT or GPT-2).
fn activation_name(model: &'static str, a: Activation) -> Result<&'static str> {
    match a {
        Activation::GeluTanh => Ok("gelu_new"),
        Activation::Gelu => Ok("gelu"),
        Activation::Relu => Ok("relu"),
        Activation::SwiGlu => Err(Error::config(model, "activation", "SwiGLU has no form in this architecture")),
    }
}

fn bert_layer(w: &mut StateDictWriter, p: &str, l: &EncoderLayer) -> Result<()> {
    let a = &l.self_attn;
    linear(w, &format!("{p}.attention.self.query"), &a.query)?;
    linear(w, &format!("{p}.attention.self.key"), &a.key)?;
    linear(w, &format!("{p}.attention.self.value"), &a.value)?;
    linear(w, &format!("{p}.attention.output.dense"), &a.output)?;
    layer_norm(w, &format!("{p}.attention.output.LayerNorm"), &l.norm1)?;
    let inner = l.ffn.inner.as_ref().ok_or_else(|| Error::Unsupported("BERT layers have an MLP".into()))?;
    linear(w, &format!("{p}.intermediate.dense"), inner)?;
    linear(w, &format!("{p}.output.dense"), &l.ffn.down)?;
    layer_norm(w, &format!("{p}.output.LayerNorm"), &l.norm2)
}

/// Writes `model` (built from `config`) as a `BertModel` folder.
pub fn save_bert_dir(config: &BertConfig, model: &Bert, dir: impl AsRef<Path>) -> Result<()> {
    let [vocab, d] = model.word_embeddings.weight.lazy_shape().dims::<2>();
    let layers = model.layers.len();
    check_model(
        config,
        "BERT",
        [
            ("vocab_size", config.vocab_size, vocab),
            ("hidden_size", config.hidden_size, d),
            ("num_hidden_layers", config.num_hidden_layers, layers),
        ],
    )?;
    let activation = activation_name("BertConfig", config.hidden_act)?;
    let mut w = StateDictWriter::new();
    w.put("embeddings.word_embeddings.weight", model.word_embeddings.weight.val())?;
    w.put("embeddings.position_embeddings.weight", model.position_embeddings.weight.val())?;
    w.put("embeddings.token_type_embeddings.weight", model.token_type_embeddings.weight.val())?;
    layer_norm(&mut w, "embeddings.LayerNorm", &model.embeddings_norm)?;
    for (i, l) in model.layers.iter().enumerate() {
        bert_layer(&mut w, &format!("encoder.layer.{i}"), l)?;
    }
    linear(&mut w, "pooler.dense", &model.pooler)?;
    let cfg = json!({
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": config.vocab_size,
        "hidden_size": config.hidden_size,
        "num_hidden_layers": config.num_hidden_layers,
        "num_attention_heads": config.num_attention_heads,
        "intermediate_size": config.intermediate_size,
        "hidden_act": activation,
        "layer_norm_eps": config.layer_norm_eps,
        "max_position_embeddings": config.max_position_embeddings,
        "type_vocab_size": config.type_vocab_size,
        "pad_token_id": config.pad_token_id,
        "position_embedding_type": "absolute",
        "hidden_dropout_prob": config.dropout,
        "attention_probs_dropout_prob": config.dropout,
        "dtype": "float32",
    });
    write_folder(dir.as_ref(), &cfg, &w)
}

/// Writes `model` (built from `config`) as a `GPT2LMHeadModel` folder. A
/// model without biases gets zero biases (the same function); a SwiGLU
/// feed-forward or an untied head with a bias have no GPT-2 form and are errors.
pub fn save_gpt2_dir(config: &GptConfig, model: &Gpt, dir: impl AsRef<Path>) -> Result<()> {
    let [vocab, d] = model.wte.weight.lazy_shape().dims::<2>();
    let layers = model.blocks.len();
    check_model(
        config,
        "GPT-2",
        [("vocab_size", config.vocab_size, vocab), ("n_embd", config.n_embd, d), ("n_layer", config.n_layer, layers)],
    )?;
    let activation = activation_name("GptConfig", config.activation)?;
    let mut w = StateDictWriter::new();
    w.put("transformer.wte.weight", model.wte.weight.val())?;
    w.put("transformer.wpe.weight", model.wpe.weight.val())?;
    for (i, b) in model.blocks.iter().enumerate() {
        let h = format!("transformer.h.{i}");
        layer_norm(&mut w, &format!("{h}.ln_1"), &b.ln_1)?;
        let a = &b.attn;
        conv1d(&mut w, &format!("{h}.attn.c_attn"), &[&a.query, &a.key, &a.value])?;
        conv1d(&mut w, &format!("{h}.attn.c_proj"), &[&a.output])?;
        layer_norm(&mut w, &format!("{h}.ln_2"), &b.ln_2)?;
        let inner = b.mlp.inner.as_ref().ok_or_else(|| Error::Unsupported("GPT blocks have an MLP".into()))?;
        conv1d(&mut w, &format!("{h}.mlp.c_fc"), &[inner])?;
        conv1d(&mut w, &format!("{h}.mlp.c_proj"), &[&b.mlp.down])?;
    }
    layer_norm(&mut w, "transformer.ln_f", &model.ln_f)?;
    if let Some(head) = &model.lm_head {
        if head.bias.is_some() {
            return Err(Error::Unsupported("GPT-2 export: GPT2LMHeadModel's lm_head has no bias".into()));
        }
        linear(&mut w, "lm_head", head)?;
    }
    let cfg = json!({
        "architectures": ["GPT2LMHeadModel"],
        "model_type": "gpt2",
        "vocab_size": config.vocab_size,
        "n_positions": config.n_positions,
        "n_embd": config.n_embd,
        "n_layer": config.n_layer,
        "n_head": config.n_head,
        "n_inner": config.n_inner,
        "activation_function": activation,
        "layer_norm_epsilon": config.layer_norm_epsilon,
        "initializer_range": config.initializer_range,
        "tie_word_embeddings": config.tie_word_embeddings,
        "scale_attn_weights": true,
        "resid_pdrop": config.dropout,
        "embd_pdrop": config.dropout,
        "attn_pdrop": config.dropout,
        "bos_token_id": null,
        "eos_token_id": null,
        "dtype": "float32",
    });
    write_folder(dir.as_ref(), &cfg, &w)
}

/// Writes `model` (built from `config`) as a `LlamaForCausalLM` folder
/// (`rope_theta` and `rope_scaling` as transformers 4 writes them, which
/// transformers 5 also reads).
pub fn save_llama_dir(config: &LlamaConfig, model: &Llama, dir: impl AsRef<Path>) -> Result<()> {
    let [vocab, d] = model.embed_tokens.weight.lazy_shape().dims::<2>();
    let layers = model.layers.len();
    check_model(
        config,
        "LLaMA",
        [
            ("vocab_size", config.vocab_size, vocab),
            ("hidden_size", config.hidden_size, d),
            ("num_hidden_layers", config.num_hidden_layers, layers),
        ],
    )?;
    let mut w = StateDictWriter::new();
    w.put("model.embed_tokens.weight", model.embed_tokens.weight.val())?;
    for (i, b) in model.layers.iter().enumerate() {
        let p = format!("model.layers.{i}");
        rms_norm(&mut w, &format!("{p}.input_layernorm.weight"), &b.input_layernorm)?;
        let a = &b.self_attn;
        linear(&mut w, &format!("{p}.self_attn.q_proj"), &a.query)?;
        linear(&mut w, &format!("{p}.self_attn.k_proj"), &a.key)?;
        linear(&mut w, &format!("{p}.self_attn.v_proj"), &a.value)?;
        linear(&mut w, &format!("{p}.self_attn.o_proj"), &a.output)?;
        rms_norm(&mut w, &format!("{p}.post_attention_layernorm.weight"), &b.post_attention_layernorm)?;
        let swiglu = b.mlp.swiglu.as_ref().ok_or_else(|| Error::Unsupported("LLaMA blocks use SwiGLU".into()))?;
        linear(&mut w, &format!("{p}.mlp.gate_proj"), &swiglu.linear_inner)?;
        linear(&mut w, &format!("{p}.mlp.up_proj"), &swiglu.linear_outer)?;
        linear(&mut w, &format!("{p}.mlp.down_proj"), &b.mlp.down)?;
    }
    rms_norm(&mut w, "model.norm.weight", &model.norm)?;
    if let Some(head) = &model.lm_head {
        linear(&mut w, "lm_head", head)?;
    }
    let scaling = config.rope_scaling.map(|s| {
        json!({
            "rope_type": "llama3",
            "factor": s.factor,
            "low_freq_factor": s.low_freq_factor,
            "high_freq_factor": s.high_freq_factor,
            "original_max_position_embeddings": s.original_max_position_embeddings,
        })
    });
    let cfg = json!({
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": config.vocab_size,
        "hidden_size": config.hidden_size,
        "intermediate_size": config.intermediate_size,
        "num_hidden_layers": config.num_hidden_layers,
        "num_attention_heads": config.num_attention_heads,
        "num_key_value_heads": config.num_key_value_heads.unwrap_or(config.num_attention_heads),
        "head_dim": config.head_dim.unwrap_or(config.hidden_size / config.num_attention_heads),
        "hidden_act": "silu",
        "rms_norm_eps": config.rms_norm_eps,
        "rope_theta": config.rope_theta,
        "rope_scaling": scaling,
        "max_position_embeddings": config.max_position_embeddings,
        "tie_word_embeddings": config.tie_word_embeddings,
        "attention_bias": false,
        "mlp_bias": false,
        "initializer_range": config.initializer_range,
        "bos_token_id": null,
        "eos_token_id": null,
        "dtype": "float32",
    });
    write_folder(dir.as_ref(), &cfg, &w)
}
