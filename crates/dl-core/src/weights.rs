//! Reading PyTorch-named weights into models.
//!
//! A [`TensorSource`] hands out tensors by their PyTorch `state_dict()` key.
//! Two sources exist: a parity [`crate::parity::Fixture`] (its `param.*`
//! tensors) and a [`StateDict`] read from a `.safetensors` file, which is what
//! `safetensors.torch.save_file(model.state_dict(), path)` writes. The family
//! crates map these keys onto their modules (`load_pytorch` functions), so a
//! model trained in PyTorch runs here without conversion scripts.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use burn::module::Param;
use burn::nn::Linear;
use burn::tensor::{Device, Tensor, TensorData};
use safetensors::{Dtype, SafeTensors};

use crate::{Error, Result};

/// Tensors by PyTorch state-dict key.
pub trait TensorSource {
    /// Whether `key` is present.
    fn contains(&self, key: &str) -> bool;
    /// Shape of `key`, or an error naming the key.
    fn shape_of(&self, key: &str) -> Result<Vec<usize>>;
    /// The float tensor stored under `key`, of rank `D`.
    fn tensor<const D: usize>(&self, key: &str, device: &Device) -> Result<Tensor<D>>;
}

#[cfg(feature = "parity")]
impl TensorSource for crate::parity::Fixture {
    fn contains(&self, key: &str) -> bool {
        self.has_param(key)
    }
    fn shape_of(&self, key: &str) -> Result<Vec<usize>> {
        self.shape(&format!("param.{key}"))
    }
    fn tensor<const D: usize>(&self, key: &str, device: &Device) -> Result<Tensor<D>> {
        self.param(key, device)
    }
}

/// The floating-point tensors of a `.safetensors` state dict, as `f32`.
///
/// F16 and BF16 checkpoints are widened to `f32` on load. Integer tensors
/// (buffers such as BERT's `embeddings.position_ids`) are not weights: their
/// keys are kept in [`StateDict::buffers`] and asking for them as a tensor is an error.
/// Non-finite values are refused on load. The keys handed out are recorded,
/// so that a loader can refuse tensors it did not use ([`StateDict::check_all_used`]).
#[derive(Debug, Clone)]
pub struct StateDict {
    path: PathBuf,
    tensors: BTreeMap<String, (Vec<usize>, Vec<f32>)>,
    buffers: Vec<String>,
    used: RefCell<BTreeSet<String>>,
}

/// IEEE half precision to `f32` (normals, subnormals, infinities, NaN).
fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let frac = (h & 0x3ff) as u32;
    let bits = match (exp, frac) {
        (0, 0) => sign,
        (0, f) => {
            // Subnormal: value = f * 2^-24.
            let v = f as f32 * (1.0 / 16_777_216.0);
            return if sign != 0 { -v } else { v };
        }
        (0x1f, f) => sign | 0x7f80_0000 | (f << 13),
        (e, f) => sign | ((e + 112) << 23) | (f << 13),
    };
    f32::from_bits(bits)
}

impl StateDict {
    /// Reads every floating-point tensor of `path`; other float widths than
    /// F32/F16/BF16 are an error naming the key.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io("reading", path, e))?;
        let st = SafeTensors::deserialize(&bytes).map_err(|e| match header_problem(&bytes) {
            Some((tensor, problem)) => Error::data(path, format!("header, tensor `{tensor}`"), problem),
            None => Error::data(path, "header", e),
        })?;
        let mut tensors = BTreeMap::new();
        let mut buffers = Vec::new();
        for (key, view) in st.tensors() {
            let raw = view.data();
            let values: Vec<f32> = match view.dtype() {
                Dtype::F32 => raw.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
                Dtype::F16 => raw.chunks_exact(2).map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]]))).collect(),
                Dtype::BF16 => raw
                    .chunks_exact(2)
                    .map(|b| f32::from_bits((u16::from_le_bytes([b[0], b[1]]) as u32) << 16))
                    .collect(),
                Dtype::I64 | Dtype::I32 | Dtype::I16 | Dtype::I8 | Dtype::U8 | Dtype::BOOL => {
                    buffers.push(key);
                    continue;
                }
                other => {
                    return Err(Error::data(path, format!("tensor `{key}`"), format!("unsupported dtype {other:?}")));
                }
            };
            if let Some(i) = values.iter().position(|v| !v.is_finite()) {
                return Err(Error::checkpoint(
                    path,
                    format!("tensor `{key}` holds {} at index {i}: weights must be finite", values[i]),
                ));
            }
            tensors.insert(key, (view.shape().to_vec(), values));
        }
        Ok(Self { path: path.to_path_buf(), tensors, buffers, used: RefCell::default() })
    }

    /// An error listing the float tensors no one has asked for, except keys
    /// ending in one of `ignored` (buffers some exporters store as floats,
    /// such as GPT-2's causal-mask `.attn.bias`). A loader calls it last: a
    /// checkpoint with tensors the model has no place for (a config with
    /// fewer layers than the checkpoint, another architecture) is not the
    /// model it claims to be.
    pub fn check_all_used(&self, ignored: &[&str]) -> Result<()> {
        let used = self.used.borrow();
        let unused: Vec<&str> = self
            .tensors
            .keys()
            .filter(|k| !used.contains(*k) && !ignored.iter().any(|s| k.ends_with(s)))
            .map(String::as_str)
            .collect();
        match unused.as_slice() {
            [] => Ok(()),
            some => Err(Error::checkpoint(
                &self.path,
                format!(
                    "{} tensor(s) the model has no place for: {}{}",
                    some.len(),
                    some.iter().take(5).map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", "),
                    if some.len() > 5 { ", ..." } else { "" }
                ),
            )),
        }
    }

    /// Keys of the integer buffers that were not loaded as weights.
    pub fn buffers(&self) -> &[String] {
        &self.buffers
    }

    /// Keys of the float tensors, sorted.
    pub fn keys(&self) -> Vec<&str> {
        self.tensors.keys().map(String::as_str).collect()
    }
}

/// The first tensor of a `.safetensors` header whose offsets disagree with
/// its dtype and shape, and how (the crate's own error names no tensor).
fn header_problem(bytes: &[u8]) -> Option<(String, String)> {
    let len = usize::try_from(u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?)).ok()?;
    let header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(bytes.get(8..8usize.checked_add(len)?)?).ok()?;
    for (name, info) in header.iter().filter(|(k, _)| k.as_str() != "__metadata__") {
        let width = match info.get("dtype")?.as_str()? {
            "F64" | "I64" | "U64" => 8,
            "F32" | "I32" | "U32" => 4,
            "F16" | "BF16" | "I16" | "U16" => 2,
            _ => 1,
        };
        let shape: Vec<u64> = info.get("shape")?.as_array()?.iter().map(|d| d.as_u64()).collect::<Option<_>>()?;
        let offsets: Vec<u64> =
            info.get("data_offsets")?.as_array()?.iter().map(|d| d.as_u64()).collect::<Option<_>>()?;
        let [begin, end] = offsets[..] else { return Some((name.clone(), "data_offsets is not [begin, end]".into())) };
        let needed = shape.iter().try_fold(width as u64, |a, &d| a.checked_mul(d));
        if end < begin || needed != Some(end - begin) {
            return Some((
                name.clone(),
                format!(
                    "shape {shape:?} of {} needs {needed:?} bytes, data_offsets [{begin}, {end}] hold {}",
                    info["dtype"],
                    end.saturating_sub(begin)
                ),
            ));
        }
    }
    None
}

impl TensorSource for StateDict {
    fn contains(&self, key: &str) -> bool {
        self.tensors.contains_key(key)
    }
    fn shape_of(&self, key: &str) -> Result<Vec<usize>> {
        if self.buffers.iter().any(|b| b == key) {
            return Err(Error::checkpoint(&self.path, format!("`{key}` is an integer buffer, not a weight")));
        }
        self.tensors
            .get(key)
            .map(|(s, _)| s.clone())
            .ok_or_else(|| Error::checkpoint(&self.path, format!("no tensor `{key}`")))
    }
    fn tensor<const D: usize>(&self, key: &str, device: &Device) -> Result<Tensor<D>> {
        let (shape, values) =
            self.tensors.get(key).ok_or_else(|| Error::checkpoint(&self.path, format!("no tensor `{key}`")))?;
        if shape.len() != D {
            return Err(Error::checkpoint(&self.path, format!("`{key}` has shape {shape:?}, expected rank {D}")));
        }
        self.used.borrow_mut().insert(key.to_string());
        Ok(Tensor::from_data(TensorData::new(values.clone(), shape.clone()), device))
    }
}

/// A tensor of `src` that must have exactly `shape`.
pub fn expect<const D: usize, S: TensorSource>(
    src: &S,
    key: &str,
    shape: [usize; D],
    device: &Device,
) -> Result<Tensor<D>> {
    let got = src.shape_of(key)?;
    if got != shape {
        return Err(Error::shape(format!("weight `{key}`"), format!("{shape:?}"), format!("{got:?}")));
    }
    src.tensor(key, device)
}

/// Loads PyTorch `weight` `[out, in]` (and `bias` `[out]` if the layer has one) into a
/// burn [`Linear`] (which stores `[in, out]`). A missing bias where the layer has one,
/// or one present where it has none, is an error.
pub fn load_linear<S: TensorSource>(
    mut layer: Linear,
    src: &S,
    weight: &str,
    bias: &str,
    device: &Device,
) -> Result<Linear> {
    let [d_in, d_out] = layer.weight.dims();
    layer.weight = Param::from_tensor(expect::<2, S>(src, weight, [d_out, d_in], device)?.transpose());
    match (layer.bias.is_some(), src.contains(bias)) {
        (true, true) => layer.bias = Some(Param::from_tensor(expect::<1, S>(src, bias, [d_out], device)?)),
        (false, false) => {}
        (true, false) => return Err(Error::Invalid(format!("the model has a bias but `{bias}` is missing"))),
        (false, true) => return Err(Error::Invalid(format!("`{bias}` is given but the model has no bias"))),
    }
    Ok(layer)
}

/// Loads one recurrent layer's input and hidden projections from PyTorch's
/// `{prefix}weight_ih{sfx}` / `bias_ih{sfx}` and `weight_hh{sfx}` / `bias_hh{sfx}`
/// (`sfx` is `_l0`, `_l0_reverse`, ...): the layout shared by `nn.RNN`, `nn.GRU`
/// and `nn.LSTM`, whose gate blocks the cells keep in PyTorch's order.
pub fn load_recurrent_pair<S: TensorSource>(
    input: Linear,
    hidden: Linear,
    src: &S,
    prefix: &str,
    sfx: &str,
    device: &Device,
) -> Result<(Linear, Linear)> {
    let input = load_linear(input, src, &format!("{prefix}weight_ih{sfx}"), &format!("{prefix}bias_ih{sfx}"), device)?;
    let hidden =
        load_linear(hidden, src, &format!("{prefix}weight_hh{sfx}"), &format!("{prefix}bias_hh{sfx}"), device)?;
    Ok((input, hidden))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{device, temp_dir};

    /// A `.safetensors` file of F32 tensors.
    fn write(path: &Path, tensors: &[(&str, Vec<usize>, Vec<f32>)]) {
        let bytes: Vec<Vec<u8>> = tensors.iter().map(|t| t.2.iter().flat_map(|v| v.to_le_bytes()).collect()).collect();
        let views: Vec<(String, safetensors::tensor::TensorView)> = tensors
            .iter()
            .zip(&bytes)
            .map(|(t, b)| (t.0.to_string(), safetensors::tensor::TensorView::new(Dtype::F32, t.1.clone(), b).unwrap()))
            .collect();
        safetensors::serialize_to_file(views, None, path).unwrap();
    }

    #[test]
    fn non_finite_and_unused_tensors_are_errors() {
        let dir = temp_dir("dl-core", "state-dict");
        let path = dir.join("model.safetensors");
        write(&path, &[("a.weight", vec![2], vec![1.0, 2.0]), ("b.weight", vec![1], vec![f32::INFINITY])]);
        let e = StateDict::load(&path).unwrap_err().to_string();
        assert!(e.contains("model.safetensors") && e.contains("`b.weight` holds inf at index 0"), "{e}");
        // A shape that disagrees with the offsets names the tensor.
        let mut bytes = std::fs::read(&path).unwrap();
        let at = bytes.windows(11).position(|w| w == b"\"shape\":[1]").unwrap();
        bytes[at + 9] = b'3';
        std::fs::write(&path, &bytes).unwrap();
        let e = StateDict::load(&path).unwrap_err().to_string();
        assert!(e.contains("tensor `b.weight`") && e.contains("shape [3]") && e.contains("hold 4"), "{e}");
        write(&path, &[("a.weight", vec![2], vec![1.0, 2.0]), ("h.0.attn.bias", vec![1], vec![1.0])]);
        let sd = StateDict::load(&path).unwrap();
        let e = sd.check_all_used(&[]).unwrap_err().to_string();
        assert!(e.contains("2 tensor(s)") && e.contains("`a.weight`") && e.contains("`h.0.attn.bias`"), "{e}");
        let _: Tensor<1> = sd.tensor("a.weight", &device()).unwrap();
        let e = sd.check_all_used(&[]).unwrap_err().to_string();
        assert!(e.contains("1 tensor(s) the model has no place for: `h.0.attn.bias`"), "{e}");
        sd.check_all_used(&[".attn.bias"]).unwrap();
    }

    #[test]
    fn half_precision_widens_exactly() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
        assert_eq!(f16_to_f32(0x0001), 5.960_464_5e-8);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x7c00), f32::INFINITY);
        assert!(f16_to_f32(0x7e00).is_nan());
        assert_eq!(f16_to_f32(0x8000).to_bits(), (-0.0f32).to_bits());
    }
}
