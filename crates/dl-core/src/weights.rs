//! Reading PyTorch-named weights into models.
//!
//! A [`TensorSource`] hands out tensors by their PyTorch `state_dict()` key.
//! Two sources exist: a parity [`crate::parity::Fixture`] (its `param.*`
//! tensors) and a [`StateDict`] read from a `.safetensors` file, which is what
//! `safetensors.torch.save_file(model.state_dict(), path)` writes. The family
//! crates map these keys onto their modules (`load_pytorch` functions), so a
//! model trained in PyTorch runs here without conversion scripts.

use std::collections::BTreeMap;
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

/// The F32 tensors of a `.safetensors` state dict.
#[derive(Debug, Clone)]
pub struct StateDict {
    path: PathBuf,
    tensors: BTreeMap<String, (Vec<usize>, Vec<f32>)>,
}

impl StateDict {
    /// Reads every F32 tensor of `path` (other dtypes are an error naming the key).
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io("reading", path, e))?;
        let st = SafeTensors::deserialize(&bytes).map_err(|e| Error::data(path, "header", e))?;
        let mut tensors = BTreeMap::new();
        for (key, view) in st.tensors() {
            if view.dtype() != Dtype::F32 {
                return Err(Error::data(
                    path,
                    format!("tensor `{key}`"),
                    format!("dtype {:?}, expected F32", view.dtype()),
                ));
            }
            let values = view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
            tensors.insert(key, (view.shape().to_vec(), values));
        }
        Ok(Self { path: path.to_path_buf(), tensors })
    }

    /// Keys, sorted.
    pub fn keys(&self) -> Vec<&str> {
        self.tensors.keys().map(String::as_str).collect()
    }
}

impl TensorSource for StateDict {
    fn contains(&self, key: &str) -> bool {
        self.tensors.contains_key(key)
    }
    fn shape_of(&self, key: &str) -> Result<Vec<usize>> {
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
