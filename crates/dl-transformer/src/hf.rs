//! Hugging Face checkpoints: `config.json` + `model.safetensors` into the
//! crate's BERT, GPT-2 and LLaMA models, by the parameter names of
//! `transformers` (`BertModel`, `GPT2LMHeadModel`, `LlamaForCausalLM`).
//!
//! The loaders take any [`TensorSource`], so the same code reads a checkpoint
//! folder and a parity fixture. Every shape is checked against the config;
//! a missing tensor or a wrong shape is an error naming the key.

use std::path::{Path, PathBuf};

use burn::module::Param;
use burn::nn::{Embedding, LayerNorm, Linear, RmsNorm};
use burn::tensor::{Device, Int, Tensor};
use serde_json::{Map, Value};

use crate::attention::{Attention, KvCache};
use crate::ffn::{Activation, FeedForward};
use crate::generate::CausalLm;
use crate::layer::EncoderLayer;
use crate::models::bert::{Bert, BertConfig};
use crate::models::gpt::{Gpt, GptConfig};
use crate::models::llama::{Llama, LlamaConfig};
use crate::position::Llama3RopeScaling;
use dl_core::weights::{StateDict, TensorSource, expect, load_linear};
use dl_core::{Error, ModelConfig, Result};

// ----- config.json -----

fn field<'a>(cfg: &'a Map<String, Value>, model: &'static str, key: &str) -> Result<&'a Value> {
    cfg.get(key).filter(|v| !v.is_null()).ok_or_else(|| Error::config(model, key, "missing in the Hugging Face config"))
}

fn usize_of(cfg: &Map<String, Value>, model: &'static str, key: &str) -> Result<usize> {
    field(cfg, model, key)?
        .as_u64()
        .map(|v| v as usize)
        .ok_or_else(|| Error::config(model, key, "not a non-negative integer"))
}

fn usize_or(cfg: &Map<String, Value>, model: &'static str, key: &str, default: usize) -> Result<usize> {
    if cfg.get(key).is_none_or(Value::is_null) { Ok(default) } else { usize_of(cfg, model, key) }
}

fn f64_of(cfg: &Map<String, Value>, model: &'static str, key: &str) -> Result<f64> {
    field(cfg, model, key)?.as_f64().ok_or_else(|| Error::config(model, key, "not a number"))
}

fn f64_or(cfg: &Map<String, Value>, model: &'static str, key: &str, default: f64) -> Result<f64> {
    match cfg.get(key).filter(|v| !v.is_null()) {
        None => Ok(default),
        Some(v) => v.as_f64().ok_or_else(|| Error::config(model, key, "not a number")),
    }
}

fn bool_or(cfg: &Map<String, Value>, model: &'static str, key: &str, default: bool) -> Result<bool> {
    match cfg.get(key).filter(|v| !v.is_null()) {
        None => Ok(default),
        Some(v) => v.as_bool().ok_or_else(|| Error::config(model, key, "not a boolean")),
    }
}

fn str_or<'a>(cfg: &'a Map<String, Value>, model: &'static str, key: &str, default: &'a str) -> Result<&'a str> {
    match cfg.get(key).filter(|v| !v.is_null()) {
        None => Ok(default),
        Some(v) => v.as_str().ok_or_else(|| Error::config(model, key, "not a string")),
    }
}

/// A [`BertConfig`] from a `BertConfig` dict (dropout 0: the checkpoint is used for inference or fine-tuned with its own setting).
pub fn bert_config(cfg: &Map<String, Value>) -> Result<BertConfig> {
    const M: &str = "BertConfig";
    if str_or(cfg, M, "position_embedding_type", "absolute")? != "absolute" {
        return Err(Error::config(M, "position_embedding_type", "only \"absolute\" is supported"));
    }
    let c = BertConfig::new(
        usize_of(cfg, M, "vocab_size")?,
        usize_of(cfg, M, "hidden_size")?,
        usize_of(cfg, M, "num_hidden_layers")?,
        usize_of(cfg, M, "num_attention_heads")?,
        usize_of(cfg, M, "intermediate_size")?,
    )
    .with_hidden_act(Activation::parse(str_or(cfg, M, "hidden_act", "gelu")?)?)
    .with_layer_norm_eps(f64_or(cfg, M, "layer_norm_eps", 1e-12)?)
    .with_max_position_embeddings(usize_or(cfg, M, "max_position_embeddings", 512)?)
    .with_type_vocab_size(usize_or(cfg, M, "type_vocab_size", 2)?)
    .with_pad_token_id(usize_or(cfg, M, "pad_token_id", 0)?)
    .with_dropout(0.0);
    c.validate()?;
    Ok(c)
}

/// A [`GptConfig`] from a `GPT2Config` dict.
pub fn gpt2_config(cfg: &Map<String, Value>) -> Result<GptConfig> {
    const M: &str = "GPT2Config";
    if !bool_or(cfg, M, "scale_attn_weights", true)? || bool_or(cfg, M, "scale_attn_by_inverse_layer_idx", false)? {
        return Err(Error::config(M, "scale_attn_weights", "only the standard 1/sqrt(head_dim) scaling is supported"));
    }
    let n_inner = match cfg.get("n_inner").filter(|v| !v.is_null()) {
        None => None,
        Some(_) => Some(usize_of(cfg, M, "n_inner")?),
    };
    let c = GptConfig::new(
        usize_of(cfg, M, "vocab_size")?,
        usize_of(cfg, M, "n_positions")?,
        usize_of(cfg, M, "n_embd")?,
        usize_of(cfg, M, "n_layer")?,
        usize_of(cfg, M, "n_head")?,
    )
    .with_n_inner(n_inner)
    .with_activation(Activation::parse(str_or(cfg, M, "activation_function", "gelu_new")?)?)
    .with_layer_norm_epsilon(f64_or(cfg, M, "layer_norm_epsilon", 1e-5)?)
    .with_tie_word_embeddings(bool_or(cfg, M, "tie_word_embeddings", true)?);
    c.validate()?;
    Ok(c)
}

/// A [`LlamaConfig`] from a `LlamaConfig` dict (`rope_theta` at the top level,
/// or in `rope_parameters` as transformers 5 writes it).
pub fn llama_config(cfg: &Map<String, Value>) -> Result<LlamaConfig> {
    const M: &str = "LlamaConfig";
    if str_or(cfg, M, "hidden_act", "silu")? != "silu" {
        return Err(Error::config(M, "hidden_act", "only \"silu\" (SwiGLU) is supported"));
    }
    if bool_or(cfg, M, "attention_bias", false)? || bool_or(cfg, M, "mlp_bias", false)? {
        return Err(Error::config(M, "attention_bias", "biases are not supported"));
    }
    let (theta, scaling) = rope_parameters(cfg)?;
    let heads = usize_of(cfg, M, "num_attention_heads")?;
    let c = LlamaConfig::new(
        usize_of(cfg, M, "vocab_size")?,
        usize_of(cfg, M, "hidden_size")?,
        usize_of(cfg, M, "intermediate_size")?,
        usize_of(cfg, M, "num_hidden_layers")?,
        heads,
    )
    .with_num_key_value_heads(Some(usize_or(cfg, M, "num_key_value_heads", heads)?))
    .with_head_dim(match cfg.get("head_dim").filter(|v| !v.is_null()) {
        None => None,
        Some(_) => Some(usize_of(cfg, M, "head_dim")?),
    })
    .with_rms_norm_eps(f64_or(cfg, M, "rms_norm_eps", 1e-6)?)
    .with_rope_theta(theta)
    .with_rope_scaling(scaling)
    .with_max_position_embeddings(usize_or(cfg, M, "max_position_embeddings", 2048)?)
    .with_tie_word_embeddings(bool_or(cfg, M, "tie_word_embeddings", false)?);
    c.validate()?;
    Ok(c)
}

/// The RoPE base and Llama 3 rescaling of a `LlamaConfig` dict: `rope_theta`
/// at the top level and `rope_scaling` (transformers 4), or both in
/// `rope_parameters` (transformers 5). Other rope types are an error.
fn rope_parameters(cfg: &Map<String, Value>) -> Result<(f64, Option<Llama3RopeScaling>)> {
    const M: &str = "LlamaConfig";
    let (key, rope) = match (cfg.get("rope_parameters"), cfg.get("rope_scaling")) {
        (Some(Value::Object(r)), _) => ("rope_parameters", Some(r)),
        (_, Some(Value::Object(r))) => ("rope_scaling", Some(r)),
        _ => ("rope_scaling", None),
    };
    let theta = match rope.filter(|r| r.contains_key("rope_theta")) {
        Some(r) => f64_of(r, M, "rope_theta")?,
        None => f64_or(cfg, M, "rope_theta", 10_000.0)?,
    };
    let Some(r) = rope else { return Ok((theta, None)) };
    let kind = match r.get("rope_type").or_else(|| r.get("type")) {
        None => "default",
        Some(v) => v.as_str().ok_or_else(|| Error::config(M, key, format!("rope_type {v} is not a string")))?,
    };
    match kind {
        "default" => Ok((theta, None)),
        "llama3" => {
            if let Some(a) = r.get("attention_factor").filter(|v| !v.is_null())
                && a.as_f64() != Some(1.0)
            {
                return Err(Error::config(M, key, format!("llama3 attention_factor {a} is not supported (only 1)")));
            }
            let scaling = Llama3RopeScaling::new(
                f64_of(r, M, "factor")?,
                f64_of(r, M, "low_freq_factor")?,
                f64_of(r, M, "high_freq_factor")?,
                usize_of(r, M, "original_max_position_embeddings")?,
            );
            scaling.validate()?;
            Ok((theta, Some(scaling)))
        }
        other => Err(Error::config(M, key, format!("rope_type {other:?} is not supported (default, llama3)"))),
    }
}

/// Reads `dir/config.json` as a JSON object.
pub fn read_config(dir: &Path) -> Result<Map<String, Value>> {
    let path = dir.join("config.json");
    let v: Value = dl_core::config::load_json(&path)?;
    v.as_object().cloned().ok_or_else(|| Error::data(&path, "top level", "not a JSON object"))
}

// ----- weights -----

fn load_embedding<S: TensorSource>(mut e: Embedding, src: &S, key: &str, device: &Device) -> Result<Embedding> {
    let dims = e.weight.lazy_shape().dims::<2>();
    e.weight = Param::from_tensor(expect::<2, S>(src, key, dims, device)?);
    Ok(e)
}

fn load_layer_norm<S: TensorSource>(mut ln: LayerNorm, src: &S, prefix: &str, device: &Device) -> Result<LayerNorm> {
    let d = ln.gamma.lazy_shape()[0];
    ln.gamma = Param::from_tensor(expect::<1, S>(src, &format!("{prefix}.weight"), [d], device)?);
    if ln.beta.is_some() {
        ln.beta = Some(Param::from_tensor(expect::<1, S>(src, &format!("{prefix}.bias"), [d], device)?));
    }
    Ok(ln)
}

fn load_rms_norm<S: TensorSource>(mut n: RmsNorm, src: &S, key: &str, device: &Device) -> Result<RmsNorm> {
    let d = n.gamma.lazy_shape()[0];
    n.gamma = Param::from_tensor(expect::<1, S>(src, key, [d], device)?);
    Ok(n)
}

fn pt_linear<S: TensorSource>(l: Linear, src: &S, prefix: &str, device: &Device) -> Result<Linear> {
    load_linear(l, src, &format!("{prefix}.weight"), &format!("{prefix}.bias"), device)
}

/// GPT-2's `Conv1D`: weight stored `[in, out]` (burn's own layout), bias `[out]`;
/// `cols` selects the output columns that go into `l`.
/// GPT-2 `Conv1D` weights of `prefix` (`[in, out]`, burn's layout), read
/// once and split by output columns among `layers` in order (the fused
/// `c_attn` holds the query, key and value projections).
fn conv1d_split<S: TensorSource, const N: usize>(
    layers: [Linear; N],
    src: &S,
    prefix: &str,
    device: &Device,
) -> Result<[Linear; N]> {
    let dims: Vec<[usize; 2]> = layers.iter().map(|l| l.weight.lazy_shape().dims::<2>()).collect();
    let d_in = dims[0][0];
    let total = dims.iter().map(|d| d[1]).sum();
    let w = expect::<2, S>(src, &format!("{prefix}.weight"), [d_in, total], device)?;
    let b = expect::<1, S>(src, &format!("{prefix}.bias"), [total], device)?;
    let mut start = 0;
    Ok(layers.map(|mut l| {
        let cols = start..start + l.weight.lazy_shape().dims::<2>()[1];
        start = cols.end;
        l.weight = Param::from_tensor(w.clone().slice([0..d_in, cols.clone()]));
        l.bias = Some(Param::from_tensor(b.clone().slice([cols])));
        l
    }))
}

/// Loads an encoder layer from Hugging Face BERT names (`{p}.attention.self.query`, ...).
fn load_bert_layer<S: TensorSource>(mut l: EncoderLayer, src: &S, p: &str, device: &Device) -> Result<EncoderLayer> {
    let a = &mut l.self_attn;
    a.query = pt_linear(a.query.clone(), src, &format!("{p}.attention.self.query"), device)?;
    a.key = pt_linear(a.key.clone(), src, &format!("{p}.attention.self.key"), device)?;
    a.value = pt_linear(a.value.clone(), src, &format!("{p}.attention.self.value"), device)?;
    a.output = pt_linear(a.output.clone(), src, &format!("{p}.attention.output.dense"), device)?;
    l.norm1 = load_layer_norm(l.norm1, src, &format!("{p}.attention.output.LayerNorm"), device)?;
    l.ffn = load_mlp(l.ffn, src, &format!("{p}.intermediate.dense"), &format!("{p}.output.dense"), device)?;
    l.norm2 = load_layer_norm(l.norm2, src, &format!("{p}.output.LayerNorm"), device)?;
    Ok(l)
}

fn load_mlp<S: TensorSource>(
    mut f: FeedForward,
    src: &S,
    up: &str,
    down: &str,
    device: &Device,
) -> Result<FeedForward> {
    let inner = f.inner.take().ok_or_else(|| Error::Unsupported("an MLP feed-forward was expected".into()))?;
    f.inner = Some(pt_linear(inner, src, up, device)?);
    f.down = pt_linear(f.down, src, down, device)?;
    Ok(f)
}

/// Loads BERT weights (`embeddings.*`, `encoder.layer.*`, `pooler.dense.*`) into `bert`.
/// A `bert.` prefix (as in `BertForSequenceClassification` checkpoints) is detected.
pub fn load_bert<S: TensorSource>(mut bert: Bert, src: &S, device: &Device) -> Result<Bert> {
    let p = if src.contains("bert.embeddings.word_embeddings.weight") { "bert." } else { "" };
    bert.word_embeddings =
        load_embedding(bert.word_embeddings, src, &format!("{p}embeddings.word_embeddings.weight"), device)?;
    bert.position_embeddings =
        load_embedding(bert.position_embeddings, src, &format!("{p}embeddings.position_embeddings.weight"), device)?;
    bert.token_type_embeddings = load_embedding(
        bert.token_type_embeddings,
        src,
        &format!("{p}embeddings.token_type_embeddings.weight"),
        device,
    )?;
    bert.embeddings_norm = load_layer_norm(bert.embeddings_norm, src, &format!("{p}embeddings.LayerNorm"), device)?;
    let layers = std::mem::take(&mut bert.layers);
    bert.layers = layers
        .into_iter()
        .enumerate()
        .map(|(i, l)| load_bert_layer(l, src, &format!("{p}encoder.layer.{i}"), device))
        .collect::<Result<_>>()?;
    bert.pooler = pt_linear(bert.pooler, src, &format!("{p}pooler.dense"), device)?;
    Ok(bert)
}

/// With tied embeddings the output matrix is the embedding matrix; a stored
/// copy (transformers saves one under `lm_head.weight`) must be equal to it.
fn check_tied<S: TensorSource>(src: &S, key: &str, emb: &Embedding, device: &Device) -> Result<()> {
    if !src.contains(key) {
        return Ok(());
    }
    let head = expect::<2, S>(src, key, emb.weight.lazy_shape().dims::<2>(), device)?;
    let diff = (head - emb.weight.val()).abs().max().into_scalar::<f32>();
    if diff > 0.0 {
        return Err(Error::Invalid(format!(
            "tie_word_embeddings is set but `{key}` differs from the embeddings by {diff}"
        )));
    }
    Ok(())
}

/// Loads GPT-2 weights (`transformer.*` and `lm_head.weight`, or a bare
/// `GPT2Model`'s `wte.weight`, `h.0.*`, ...) into `gpt`.
pub fn load_gpt2<S: TensorSource>(mut gpt: Gpt, src: &S, device: &Device) -> Result<Gpt> {
    let p = if src.contains("transformer.wte.weight") { "transformer." } else { "" };
    gpt.wte = load_embedding(gpt.wte, src, &format!("{p}wte.weight"), device)?;
    gpt.wpe = load_embedding(gpt.wpe, src, &format!("{p}wpe.weight"), device)?;
    let blocks = std::mem::take(&mut gpt.blocks);
    gpt.blocks = blocks
        .into_iter()
        .enumerate()
        .map(|(i, mut b)| {
            let h = format!("{p}h.{i}");
            b.ln_1 = load_layer_norm(b.ln_1, src, &format!("{h}.ln_1"), device)?;
            b.ln_2 = load_layer_norm(b.ln_2, src, &format!("{h}.ln_2"), device)?;
            let a: &mut Attention = &mut b.attn;
            let [q, k, v] = [a.query.clone(), a.key.clone(), a.value.clone()];
            [a.query, a.key, a.value] = conv1d_split([q, k, v], src, &format!("{h}.attn.c_attn"), device)?;
            [a.output] = conv1d_split([a.output.clone()], src, &format!("{h}.attn.c_proj"), device)?;
            let inner = b.mlp.inner.take().ok_or_else(|| Error::Unsupported("GPT blocks have an MLP".into()))?;
            let [inner] = conv1d_split([inner], src, &format!("{h}.mlp.c_fc"), device)?;
            b.mlp.inner = Some(inner);
            [b.mlp.down] = conv1d_split([b.mlp.down.clone()], src, &format!("{h}.mlp.c_proj"), device)?;
            Ok(b)
        })
        .collect::<Result<_>>()?;
    gpt.ln_f = load_layer_norm(gpt.ln_f, src, &format!("{p}ln_f"), device)?;
    match gpt.lm_head.take() {
        Some(head) => gpt.lm_head = Some(load_linear(head, src, "lm_head.weight", "lm_head.bias", device)?),
        None => check_tied(src, "lm_head.weight", &gpt.wte, device)?,
    }
    Ok(gpt)
}

/// Loads LLaMA weights (`model.*`, `lm_head.weight`) into `llama`.
pub fn load_llama<S: TensorSource>(mut llama: Llama, src: &S, device: &Device) -> Result<Llama> {
    llama.embed_tokens = load_embedding(llama.embed_tokens, src, "model.embed_tokens.weight", device)?;
    let layers = std::mem::take(&mut llama.layers);
    llama.layers = layers
        .into_iter()
        .enumerate()
        .map(|(i, mut b)| {
            let p = format!("model.layers.{i}");
            b.input_layernorm = load_rms_norm(b.input_layernorm, src, &format!("{p}.input_layernorm.weight"), device)?;
            b.post_attention_layernorm = load_rms_norm(
                b.post_attention_layernorm,
                src,
                &format!("{p}.post_attention_layernorm.weight"),
                device,
            )?;
            let a = &mut b.self_attn;
            a.query = pt_linear(a.query.clone(), src, &format!("{p}.self_attn.q_proj"), device)?;
            a.key = pt_linear(a.key.clone(), src, &format!("{p}.self_attn.k_proj"), device)?;
            a.value = pt_linear(a.value.clone(), src, &format!("{p}.self_attn.v_proj"), device)?;
            a.output = pt_linear(a.output.clone(), src, &format!("{p}.self_attn.o_proj"), device)?;
            let mut swiglu = b.mlp.swiglu.take().ok_or_else(|| Error::Unsupported("LLaMA blocks use SwiGLU".into()))?;
            swiglu.linear_inner = pt_linear(swiglu.linear_inner, src, &format!("{p}.mlp.gate_proj"), device)?;
            swiglu.linear_outer = pt_linear(swiglu.linear_outer, src, &format!("{p}.mlp.up_proj"), device)?;
            b.mlp.swiglu = Some(swiglu);
            b.mlp.down = pt_linear(b.mlp.down.clone(), src, &format!("{p}.mlp.down_proj"), device)?;
            Ok(b)
        })
        .collect::<Result<_>>()?;
    llama.norm = load_rms_norm(llama.norm, src, "model.norm.weight", device)?;
    match llama.lm_head.take() {
        Some(head) => llama.lm_head = Some(load_linear(head, src, "lm_head.weight", "lm_head.bias", device)?),
        None => check_tied(src, "lm_head.weight", &llama.embed_tokens, device)?,
    }
    Ok(llama)
}

/// The weights of a checkpoint folder: `model.safetensors`, or the shards
/// that `model.safetensors.index.json` lists.
pub fn read_weights(dir: &Path) -> Result<StateDict> {
    let single = dir.join("model.safetensors");
    let index = dir.join("model.safetensors.index.json");
    if single.is_file() {
        StateDict::load(&single)
    } else if index.is_file() {
        StateDict::load_sharded(&index)
    } else {
        Err(Error::io(
            "reading the weights (model.safetensors or model.safetensors.index.json) in",
            dir,
            std::io::Error::from(std::io::ErrorKind::NotFound),
        ))
    }
}

/// The files a checkpoint folder with its tokenizer holds.
pub const CHECKPOINT_FILES: [&str; 3] = ["config.json", "model.safetensors", "tokenizer.json"];

/// The checkpoint folder to read: `explicit` (a `--model-dir`) if given, else
/// `<data folder>/../models/<name>` for the first data folder where it holds
/// [`CHECKPOINT_FILES`] (the shared layout, `data/` beside `models/`). An
/// error lists every folder tried.
pub fn checkpoint_dir(explicit: Option<&Path>, data: &dl_core::data::DataDirs, name: &str) -> Result<PathBuf> {
    if let Some(d) = explicit {
        return Ok(d.to_path_buf());
    }
    let rel = format!("../models/{name}");
    data.find_opt(&rel, &CHECKPOINT_FILES).ok_or_else(|| {
        let tried: Vec<String> = data.dirs().iter().map(|d| d.join(&rel).display().to_string()).collect();
        Error::Invalid(format!(
            "checkpoint `{name}` not found (a folder with {}), tried: {}; pass --model-dir",
            CHECKPOINT_FILES.join(", "),
            tried.join(", ")
        ))
    })
}

/// A BERT checkpoint folder (`config.json`, `model.safetensors`).
pub fn bert_from_dir(dir: &Path, device: &Device) -> Result<(BertConfig, Bert)> {
    let config = bert_config(&read_config(dir)?)?;
    let weights = read_weights(dir)?;
    let bert = load_bert(config.init(device)?, &weights, device)?;
    weights.check_all_used(&[])?;
    Ok((config, bert))
}

/// A GPT-2 checkpoint folder.
pub fn gpt2_from_dir(dir: &Path, device: &Device) -> Result<(GptConfig, Gpt)> {
    let config = gpt2_config(&read_config(dir)?)?;
    let weights = read_weights(dir)?;
    let gpt = load_gpt2(config.init(device)?, &weights, device)?;
    // The causal masks older exports store as float tensors.
    weights.check_all_used(&[".attn.bias", ".attn.masked_bias"])?;
    Ok((config, gpt))
}

/// A LLaMA checkpoint folder.
pub fn llama_from_dir(dir: &Path, device: &Device) -> Result<(LlamaConfig, Llama)> {
    let config = llama_config(&read_config(dir)?)?;
    let weights = read_weights(dir)?;
    let llama = load_llama(config.init(device)?, &weights, device)?;
    // The rotary frequencies older exports store; they follow from the config.
    weights.check_all_used(&[".rotary_emb.inv_freq"])?;
    Ok((config, llama))
}

/// A Hugging Face causal language model, by its `config.json`'s `model_type`.
#[derive(Debug)]
pub enum PretrainedLm {
    /// `"gpt2"`.
    Gpt2 {
        /// Its configuration.
        config: GptConfig,
        /// The model.
        model: Gpt,
    },
    /// `"llama"` (LLaMA 1-3 and models of the same layout).
    Llama {
        /// Its configuration.
        config: LlamaConfig,
        /// The model.
        model: Llama,
    },
}

impl PretrainedLm {
    /// `"gpt2"` or `"llama"`.
    pub fn model_type(&self) -> &'static str {
        match self {
            PretrainedLm::Gpt2 { .. } => "gpt2",
            PretrainedLm::Llama { .. } => "llama",
        }
    }
}

impl CausalLm for PretrainedLm {
    fn vocab_size(&self) -> usize {
        match self {
            PretrainedLm::Gpt2 { model, .. } => model.vocab_size(),
            PretrainedLm::Llama { model, .. } => model.vocab_size(),
        }
    }
    fn max_len(&self) -> Option<usize> {
        match self {
            PretrainedLm::Gpt2 { model, .. } => model.max_len(),
            PretrainedLm::Llama { model, .. } => model.max_len(),
        }
    }
    fn new_cache(&self) -> KvCache {
        match self {
            PretrainedLm::Gpt2 { model, .. } => model.new_cache(),
            PretrainedLm::Llama { model, .. } => model.new_cache(),
        }
    }
    fn forward_cached(&self, ids: Tensor<2, Int>, cache: Option<&mut KvCache>) -> Result<Tensor<3>> {
        match self {
            PretrainedLm::Gpt2 { model, .. } => model.forward_cached(ids, cache),
            PretrainedLm::Llama { model, .. } => model.forward_cached(ids, cache),
        }
    }
    fn forward_checked(&self, ids: Tensor<2, Int>, cache: Option<&mut KvCache>) -> Result<Tensor<3>> {
        match self {
            PretrainedLm::Gpt2 { model, .. } => model.forward_checked(ids, cache),
            PretrainedLm::Llama { model, .. } => model.forward_checked(ids, cache),
        }
    }
}

/// The causal language model of a checkpoint folder (`config.json`,
/// `model.safetensors` or its shards): GPT-2 or LLaMA by `model_type`.
pub fn causal_lm_from_dir(dir: &Path, device: &Device) -> Result<PretrainedLm> {
    let cfg = read_config(dir)?;
    let kind = str_or(&cfg, "config.json", "model_type", "")?;
    match kind {
        "gpt2" => gpt2_from_dir(dir, device).map(|(config, model)| PretrainedLm::Gpt2 { config, model }),
        "llama" => llama_from_dir(dir, device).map(|(config, model)| PretrainedLm::Llama { config, model }),
        other => Err(Error::Unknown {
            kind: "model_type",
            value: format!("{other:?}"),
            context: format!("{} (supported: \"gpt2\", \"llama\")", dir.join("config.json").display()),
        }),
    }
}

/// The `eos_token_id` of a checkpoint folder's `config.json` (the first, when it lists several), if any.
pub fn eos_token_id(dir: &Path) -> Result<Option<usize>> {
    let cfg = read_config(dir)?;
    let value = match cfg.get("eos_token_id") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(ids)) => ids.first().cloned().unwrap_or(Value::Null),
        Some(v) => v.clone(),
    };
    value
        .as_u64()
        .map(|v| Some(v as usize))
        .ok_or_else(|| Error::config("config.json", "eos_token_id", "not a token id"))
}

/// Cosine similarity of two vectors (for comparing embeddings).
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    if na == 0.0 || nb == 0.0 { 0.0 } else { dot / (na * nb) }
}
