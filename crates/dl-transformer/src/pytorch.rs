//! PyTorch's `nn.MultiheadAttention`, `nn.TransformerEncoderLayer` and
//! `nn.TransformerDecoderLayer` state dicts into this crate's layers.

use burn::module::Param;
use burn::nn::{LayerNorm, Linear};
use burn::tensor::Device;

use crate::attention::Attention;
use crate::layer::{DecoderLayer, EncoderLayer};
use dl_core::weights::{TensorSource, expect, load_linear};
use dl_core::{Error, Result};

/// Rows `rows` of PyTorch's packed `in_proj_weight` `[3E, E]` (and `in_proj_bias`) into `l`.
fn in_proj<S: TensorSource>(mut l: Linear, src: &S, p: &str, block: usize, device: &Device) -> Result<Linear> {
    let [e_in, e_out] = l.weight.lazy_shape().dims::<2>();
    let rows = block * e_out..(block + 1) * e_out;
    let w = expect::<2, S>(src, &format!("{p}in_proj_weight"), [3 * e_out, e_in], device)?;
    l.weight = Param::from_tensor(w.slice([rows.clone(), 0..e_in]).transpose());
    let bias_key = format!("{p}in_proj_bias");
    match (l.bias.is_some(), src.contains(&bias_key)) {
        (true, true) => {
            let b = expect::<1, S>(src, &bias_key, [3 * e_out], device)?;
            l.bias = Some(Param::from_tensor(b.slice([rows])));
        }
        (false, false) => {}
        (has, _) => {
            return Err(Error::Invalid(format!(
                "`{bias_key}` {} but the layer {} a bias",
                if has { "is missing" } else { "is given" },
                if has { "has" } else { "has no" }
            )));
        }
    }
    Ok(l)
}

/// `nn.MultiheadAttention` (`in_proj_weight` rows `[W_q; W_k; W_v]`, `out_proj`) under `prefix`.
pub fn load_mha<S: TensorSource>(mut a: Attention, src: &S, prefix: &str, device: &Device) -> Result<Attention> {
    if a.n_kv_heads() != a.n_heads() {
        return Err(Error::Invalid("nn.MultiheadAttention has one key/value head per query head".into()));
    }
    a.query = in_proj(a.query, src, prefix, 0, device)?;
    a.key = in_proj(a.key, src, prefix, 1, device)?;
    a.value = in_proj(a.value, src, prefix, 2, device)?;
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
    let inner = f.inner.take().ok_or_else(|| Error::Invalid("PyTorch layers have an MLP feed-forward".into()))?;
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
