//! PyTorch's `nn.MultiheadAttention`, `nn.TransformerEncoderLayer` and
//! `nn.TransformerDecoderLayer` state dicts into this crate's layers, the
//! ViT and the encoder-decoder Transformer in and out under the names of
//! their PyTorch modules (`nn.MultiheadAttention`
//! and the layers; `Vit` and `Seq2Seq` in `tools/parity/check_exported.py`).

use std::path::Path;

use burn::module::Param;
use burn::nn::{LayerNorm, Linear};
use burn::tensor::{Device, Tensor};

use crate::attention::Attention;
use crate::ffn::{Activation, FeedForward};
use crate::layer::{DecoderLayer, EncoderLayer};
use crate::models::seq2seq::TransformerSeq2Seq;
use crate::models::vit::Vit;
use dl_core::weights::{StateDictWriter, TensorSource, expect, load_linear};
use dl_core::{Error, Result};

/// PyTorch's packed `in_proj_weight` `[3E, E]` (and `in_proj_bias`) into the
/// query, key and value projections, each tensor read once (a state-dict file
/// hands each tensor out once) and split by rows.
fn in_proj<S: TensorSource>(layers: [Linear; 3], src: &S, p: &str, device: &Device) -> Result<[Linear; 3]> {
    let [e_in, e_out] = layers[0].weight.lazy_shape().dims::<2>();
    let w = expect::<2, S>(src, &format!("{p}in_proj_weight"), [3 * e_out, e_in], device)?;
    let bias_key = format!("{p}in_proj_bias");
    let b = match (layers[0].bias.is_some(), src.contains(&bias_key)) {
        (true, true) => Some(expect::<1, S>(src, &bias_key, [3 * e_out], device)?),
        (false, false) => None,
        (has, _) => {
            return Err(Error::Invalid(format!(
                "`{bias_key}` {} but the layer {} a bias",
                if has { "is missing" } else { "is given" },
                if has { "has" } else { "has no" }
            )));
        }
    };
    let mut block = 0;
    Ok(layers.map(|mut l| {
        let rows = block * e_out..(block + 1) * e_out;
        block += 1;
        l.weight = Param::from_tensor(w.clone().slice([rows.clone(), 0..e_in]).transpose());
        l.bias = b.as_ref().map(|b| Param::from_tensor(b.clone().slice([rows])));
        l
    }))
}

/// `nn.MultiheadAttention` (`in_proj_weight` rows `[W_q; W_k; W_v]`, `out_proj`) under `prefix`.
pub fn load_mha<S: TensorSource>(mut a: Attention, src: &S, prefix: &str, device: &Device) -> Result<Attention> {
    if a.n_kv_heads() != a.n_heads() {
        return Err(Error::Unsupported("nn.MultiheadAttention has one key/value head per query head".into()));
    }
    let [q, k, v] = [a.query.clone(), a.key.clone(), a.value.clone()];
    [a.query, a.key, a.value] = in_proj([q, k, v], src, prefix, device)?;
    a.output =
        load_linear(a.output, src, &format!("{prefix}out_proj.weight"), &format!("{prefix}out_proj.bias"), device)?;
    Ok(a)
}

fn load_norm<S: TensorSource>(mut ln: LayerNorm, src: &S, prefix: &str, device: &Device) -> Result<LayerNorm> {
    let d = ln.gamma.lazy_shape()[0];
    ln.gamma = Param::from_tensor(expect::<1, S>(src, &format!("{prefix}.weight"), [d], device)?);
    if ln.beta.is_some() {
        ln.beta = Some(Param::from_tensor(expect::<1, S>(src, &format!("{prefix}.bias"), [d], device)?));
    }
    Ok(ln)
}

fn linear<S: TensorSource>(l: Linear, src: &S, key: &str, device: &Device) -> Result<Linear> {
    load_linear(l, src, &format!("{key}.weight"), &format!("{key}.bias"), device)
}

fn load_ffn<S: TensorSource>(
    mut f: crate::ffn::FeedForward,
    src: &S,
    p: &str,
    device: &Device,
) -> Result<crate::ffn::FeedForward> {
    let inner = f.inner.take().ok_or_else(|| Error::Unsupported("PyTorch layers have an MLP feed-forward".into()))?;
    f.inner = Some(linear(inner, src, &format!("{p}linear1"), device)?);
    f.down = linear(f.down, src, &format!("{p}linear2"), device)?;
    Ok(f)
}

/// `nn.TransformerEncoderLayer` under `prefix` (`self_attn.*`, `linear1/2`, `norm1/2`).
pub fn load_encoder_layer<S: TensorSource>(
    mut l: EncoderLayer,
    src: &S,
    p: &str,
    device: &Device,
) -> Result<EncoderLayer> {
    l.self_attn = load_mha(l.self_attn, src, &format!("{p}self_attn."), device)?;
    l.ffn = load_ffn(l.ffn, src, p, device)?;
    l.norm1 = load_norm(l.norm1, src, &format!("{p}norm1"), device)?;
    l.norm2 = load_norm(l.norm2, src, &format!("{p}norm2"), device)?;
    Ok(l)
}

/// `nn.TransformerDecoderLayer` under `prefix` (adds `multihead_attn.*` and `norm3`).
pub fn load_decoder_layer<S: TensorSource>(
    mut l: DecoderLayer,
    src: &S,
    p: &str,
    device: &Device,
) -> Result<DecoderLayer> {
    l.self_attn = load_mha(l.self_attn, src, &format!("{p}self_attn."), device)?;
    l.cross_attn = load_mha(l.cross_attn, src, &format!("{p}multihead_attn."), device)?;
    l.ffn = load_ffn(l.ffn, src, p, device)?;
    l.norm1 = load_norm(l.norm1, src, &format!("{p}norm1"), device)?;
    l.norm2 = load_norm(l.norm2, src, &format!("{p}norm2"), device)?;
    l.norm3 = load_norm(l.norm3, src, &format!("{p}norm3"), device)?;
    Ok(l)
}

/// Writes `a` as `nn.MultiheadAttention` under `prefix`: `in_proj_weight`
/// `[3E, E]` (rows `[W_q; W_k; W_v]`), `in_proj_bias` when the projections
/// have biases, `out_proj.*`.
pub fn put_mha(a: &Attention, w: &mut StateDictWriter, prefix: &str) -> Result<()> {
    if a.n_kv_heads() != a.n_heads() {
        return Err(Error::Unsupported(format!(
            "{prefix}: nn.MultiheadAttention has one key/value head per query head, this layer has {} for {}",
            a.n_kv_heads(),
            a.n_heads()
        )));
    }
    let [q, k, v] = [&a.query, &a.key, &a.value];
    // burn stores `[in, out]`, PyTorch `[out, in]`: each block transposed, then stacked by rows.
    let weights: Vec<Tensor<2>> = [q, k, v].iter().map(|l| l.weight.val().transpose()).collect();
    w.put(format!("{prefix}in_proj_weight"), Tensor::cat(weights, 0))?;
    match [q, k, v].map(|l| l.bias.as_ref().map(|b| b.val())) {
        [Some(bq), Some(bk), Some(bv)] => w.put(format!("{prefix}in_proj_bias"), Tensor::cat(vec![bq, bk, bv], 0))?,
        [None, None, None] => {}
        _ => return Err(Error::Unsupported(format!("{prefix}: the query, key and value projections differ in bias"))),
    }
    w.put_linear(&format!("{prefix}out_proj.weight"), &format!("{prefix}out_proj.bias"), &a.output)
}

fn put_norm(ln: &LayerNorm, w: &mut StateDictWriter, prefix: &str) -> Result<()> {
    w.put(format!("{prefix}.weight"), ln.gamma.val())?;
    match &ln.beta {
        Some(b) => w.put(format!("{prefix}.bias"), b.val()),
        None => Ok(()),
    }
}

fn put_ffn(f: &FeedForward, w: &mut StateDictWriter, p: &str) -> Result<()> {
    let (Some(inner), Activation::Relu | Activation::Gelu) = (&f.inner, f.activation()) else {
        return Err(Error::Unsupported(format!(
            "{p}: PyTorch's Transformer layers have a ReLU or exact-GELU MLP, this one is {:?}",
            f.activation()
        )));
    };
    w.put_linear(&format!("{p}linear1.weight"), &format!("{p}linear1.bias"), inner)?;
    w.put_linear(&format!("{p}linear2.weight"), &format!("{p}linear2.bias"), &f.down)
}

/// Writes `l` as `nn.TransformerEncoderLayer` under `prefix`.
pub fn put_encoder_layer(l: &EncoderLayer, w: &mut StateDictWriter, p: &str) -> Result<()> {
    put_mha(&l.self_attn, w, &format!("{p}self_attn."))?;
    put_ffn(&l.ffn, w, p)?;
    put_norm(&l.norm1, w, &format!("{p}norm1"))?;
    put_norm(&l.norm2, w, &format!("{p}norm2"))
}

/// Writes `l` as `nn.TransformerDecoderLayer` under `prefix`.
pub fn put_decoder_layer(l: &DecoderLayer, w: &mut StateDictWriter, p: &str) -> Result<()> {
    put_mha(&l.self_attn, w, &format!("{p}self_attn."))?;
    put_mha(&l.cross_attn, w, &format!("{p}multihead_attn."))?;
    put_ffn(&l.ffn, w, p)?;
    put_norm(&l.norm1, w, &format!("{p}norm1"))?;
    put_norm(&l.norm2, w, &format!("{p}norm2"))?;
    put_norm(&l.norm3, w, &format!("{p}norm3"))
}

/// Writes a ViT: `patch` (`nn.Conv2d`), `cls` `[1, 1, d]`, `positions`
/// `[1, N + 1, d]`, `encoder.layers.{i}` (`nn.TransformerEncoder` of
/// pre-norm GELU layers), `norm`, `head`.
pub fn put_vit(m: &Vit, w: &mut StateDictWriter, prefix: &str) -> Result<()> {
    w.put_conv2d(&format!("{prefix}patch."), &m.patch)?;
    w.put(format!("{prefix}cls"), m.cls.val())?;
    w.put(format!("{prefix}positions"), m.positions.val())?;
    for (i, l) in m.layers.iter().enumerate() {
        put_encoder_layer(l, w, &format!("{prefix}encoder.layers.{i}."))?;
    }
    put_norm(&m.norm, w, &format!("{prefix}norm"))?;
    w.put_linear(&format!("{prefix}head.weight"), &format!("{prefix}head.bias"), &m.head)
}

/// Each of `layers` through `load`, the `i`-th under the prefix `{prefix}{i}.`
/// (`nn.ModuleList`'s names).
fn numbered<L>(layers: Vec<L>, prefix: &str, mut load: impl FnMut(L, &str) -> Result<L>) -> Result<Vec<L>> {
    layers.into_iter().enumerate().map(|(i, l)| load(l, &format!("{prefix}{i}."))).collect()
}

/// Loads a ViT from the names of [`put_vit`] (a file it wrote, or the
/// `state_dict()` of its PyTorch twin), keys under `prefix`; `m` must have
/// the checkpoint's sizes.
pub fn load_vit<S: TensorSource>(mut m: Vit, src: &S, prefix: &str, device: &Device) -> Result<Vit> {
    let shape = m.patch.weight.lazy_shape().dims::<4>();
    m.patch.weight = Param::from_tensor(expect::<4, S>(src, &format!("{prefix}patch.weight"), shape, device)?);
    if m.patch.bias.is_some() {
        let b = expect::<1, S>(src, &format!("{prefix}patch.bias"), [shape[0]], device)?;
        m.patch.bias = Some(Param::from_tensor(b));
    }
    let cls = m.cls.lazy_shape().dims::<3>();
    m.cls = Param::from_tensor(expect::<3, S>(src, &format!("{prefix}cls"), cls, device)?);
    let positions = m.positions.lazy_shape().dims::<3>();
    m.positions = Param::from_tensor(expect::<3, S>(src, &format!("{prefix}positions"), positions, device)?);
    let layers = std::mem::take(&mut m.layers);
    m.layers = numbered(layers, &format!("{prefix}encoder.layers."), |l, p| load_encoder_layer(l, src, p, device))?;
    m.norm = load_norm(m.norm, src, &format!("{prefix}norm"), device)?;
    m.head = linear(m.head, src, &format!("{prefix}head"), device)?;
    Ok(m)
}

/// Saves a ViT as a `.safetensors` state dict (names of [`put_vit`]).
pub fn save_vit(m: &Vit, path: impl AsRef<Path>) -> Result<()> {
    StateDictWriter::save_to(path, |w| put_vit(m, w, ""))
}

/// Writes the encoder-decoder Transformer: `src_embed`, `tgt_embed`
/// (`nn.Embedding`), `encoder.layers.{i}` and `decoder.layers.{i}` (as in
/// `nn.Transformer`), `encoder.norm` and `decoder.norm` (pre-norm stacks
/// only), `output`.
pub fn put_seq2seq(m: &TransformerSeq2Seq, w: &mut StateDictWriter, prefix: &str) -> Result<()> {
    w.put(format!("{prefix}src_embed.weight"), m.src_embed.weight.val())?;
    w.put(format!("{prefix}tgt_embed.weight"), m.tgt_embed.weight.val())?;
    for (i, l) in m.encoder.iter().enumerate() {
        put_encoder_layer(l, w, &format!("{prefix}encoder.layers.{i}."))?;
    }
    for (i, l) in m.decoder.iter().enumerate() {
        put_decoder_layer(l, w, &format!("{prefix}decoder.layers.{i}."))?;
    }
    if let Some(n) = &m.encoder_norm {
        put_norm(n, w, &format!("{prefix}encoder.norm"))?;
    }
    if let Some(n) = &m.decoder_norm {
        put_norm(n, w, &format!("{prefix}decoder.norm"))?;
    }
    w.put_linear(&format!("{prefix}output.weight"), &format!("{prefix}output.bias"), &m.output)
}

/// Loads the encoder-decoder Transformer from the names of [`put_seq2seq`]
/// (a file it wrote, or its PyTorch twin's `state_dict()`), keys under
/// `prefix`; `m` must have the checkpoint's sizes and norm placement.
pub fn load_seq2seq<S: TensorSource>(
    mut m: TransformerSeq2Seq,
    src: &S,
    prefix: &str,
    device: &Device,
) -> Result<TransformerSeq2Seq> {
    for (e, key) in [(&mut m.src_embed, "src_embed"), (&mut m.tgt_embed, "tgt_embed")] {
        let shape = e.weight.lazy_shape().dims::<2>();
        e.weight = Param::from_tensor(expect::<2, S>(src, &format!("{prefix}{key}.weight"), shape, device)?);
    }
    let encoder = std::mem::take(&mut m.encoder);
    m.encoder = numbered(encoder, &format!("{prefix}encoder.layers."), |l, p| load_encoder_layer(l, src, p, device))?;
    let decoder = std::mem::take(&mut m.decoder);
    m.decoder = numbered(decoder, &format!("{prefix}decoder.layers."), |l, p| load_decoder_layer(l, src, p, device))?;
    if let Some(n) = m.encoder_norm.take() {
        m.encoder_norm = Some(load_norm(n, src, &format!("{prefix}encoder.norm"), device)?);
    }
    if let Some(n) = m.decoder_norm.take() {
        m.decoder_norm = Some(load_norm(n, src, &format!("{prefix}decoder.norm"), device)?);
    }
    m.output = linear(m.output, src, &format!("{prefix}output"), device)?;
    Ok(m)
}

/// Saves the encoder-decoder Transformer as a `.safetensors` state dict (names of [`put_seq2seq`]).
pub fn save_seq2seq(m: &TransformerSeq2Seq, path: impl AsRef<Path>) -> Result<()> {
    StateDictWriter::save_to(path, |w| put_seq2seq(m, w, ""))
}
