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
use safetensors::Dtype;

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

/// The floating-point tensors of a `.safetensors` state dict.
///
/// Each tensor is read from the file on its own (the file is never held
/// whole) and kept in its stored width: F16 and BF16 tensors are widened to
/// `f32` only when handed out, and a tensor handed out is released, so that
/// loading a model holds little more than the model itself. Integer tensors
/// (buffers such as BERT's `embeddings.position_ids`) are not weights: their
/// keys are kept in [`StateDict::buffers`] and asking for them as a tensor is
/// an error. Non-finite values are refused on load. The keys handed out are
/// recorded, so that a loader can refuse tensors it did not use
/// ([`StateDict::check_all_used`]); each tensor is handed out once.
#[derive(Debug, Clone)]
pub struct StateDict {
    path: PathBuf,
    shapes: BTreeMap<String, Vec<usize>>,
    stored: RefCell<BTreeMap<String, Stored>>,
    buffers: Vec<String>,
    used: RefCell<BTreeSet<String>>,
}

/// A tensor's values as read: `f32` values, or half-precision bits.
#[derive(Debug, Clone)]
enum Stored {
    F32(Vec<f32>),
    F16(Vec<u16>),
    BF16(Vec<u16>),
}

/// Reads `len` bytes of little-endian values of `width` bytes from `r` in
/// blocks (no second copy of the tensor), converting each with `f`.
fn read_values<T>(
    r: &mut impl std::io::Read,
    len: usize,
    width: usize,
    f: impl Fn(&[u8]) -> T,
) -> std::io::Result<Vec<T>> {
    let mut out = Vec::with_capacity(len / width);
    let mut block = vec![0u8; (1 << 16) / width * width];
    let mut left = len;
    while left > 0 {
        let n = left.min(block.len());
        r.read_exact(&mut block[..n])?;
        out.extend(block[..n].chunks_exact(width).map(&f));
        left -= n;
    }
    Ok(out)
}

/// One tensor of a `.safetensors` header: name, dtype, shape, data offsets.
type HeaderEntry = (String, Dtype, Vec<usize>, [u64; 2]);

/// The tensors a `.safetensors` header of a file with `data_len` data bytes
/// declares, each checked: a dtype, a shape whose size matches its offsets,
/// offsets inside the data. Errors name the tensor.
fn header_entries(header: &[u8], data_len: u64, path: &Path) -> Result<Vec<HeaderEntry>> {
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(header).map_err(|e| Error::data(path, "header", format!("not a JSON object: {e}")))?;
    let mut out = Vec::with_capacity(map.len());
    for (name, info) in map.into_iter().filter(|(k, _)| k != "__metadata__") {
        let bad = |m: String| Error::data(path, format!("header, tensor `{name}`"), m);
        let field = |k: &str| info.get(k).cloned().ok_or_else(|| bad(format!("no `{k}`")));
        let dtype: Dtype = serde_json::from_value(field("dtype")?).map_err(|e| bad(format!("dtype: {e}")))?;
        let shape: Vec<usize> = serde_json::from_value(field("shape")?).map_err(|e| bad(format!("shape: {e}")))?;
        let offsets: [u64; 2] =
            serde_json::from_value(field("data_offsets")?).map_err(|e| bad(format!("data_offsets: {e}")))?;
        let bits = shape.iter().try_fold(dtype.bitsize() as u64, |a, &d| a.checked_mul(d as u64));
        let needed = bits.map(|b| b.div_ceil(8));
        let [begin, end] = offsets;
        if end < begin || needed != Some(end - begin) {
            return Err(bad(format!(
                "shape {shape:?} of {dtype:?} needs {} bytes, data_offsets [{begin}, {end}] hold {}",
                needed.map_or("too many".to_string(), |n| n.to_string()),
                end.saturating_sub(begin)
            )));
        }
        if end > data_len {
            return Err(bad(format!("data_offsets end at {end}, past the {data_len} data bytes of the file")));
        }
        out.push((name, dtype, shape, offsets));
    }
    Ok(out)
}

/// bfloat16 bits to `f32` (exact: the upper half of an `f32`).
pub(crate) fn bf16_to_f32(h: u16) -> f32 {
    f32::from_bits((h as u32) << 16)
}

/// IEEE half precision to `f32` (normals, subnormals, infinities, NaN).
pub(crate) fn f16_to_f32(h: u16) -> f32 {
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
        use std::io::{Read, Seek, SeekFrom};
        let path = path.as_ref();
        let io = |e| Error::io("reading", path, e);
        let mut file = std::fs::File::open(path).map_err(io)?;
        let file_len = file.metadata().map_err(io)?.len();
        let mut n = [0u8; 8];
        file.read_exact(&mut n).map_err(|_| Error::data(path, "header", "shorter than the 8-byte header length"))?;
        let n = u64::from_le_bytes(n);
        // safetensors' own bound on the header length.
        if n > 100_000_000 || n > file_len - 8 {
            return Err(Error::data(path, "header", format!("a header of {n} bytes in a file of {file_len}")));
        }
        let mut header = vec![0u8; n as usize];
        file.read_exact(&mut header).map_err(io)?;
        let data_start = 8 + n;
        let mut entries = header_entries(&header, file_len - data_start, path)?;
        entries.sort_by_key(|e| e.3[0]);
        let (mut shapes, mut stored, mut buffers) = (BTreeMap::new(), BTreeMap::new(), Vec::new());
        for (key, dtype, shape, [begin, end]) in entries {
            if !matches!(dtype, Dtype::F32 | Dtype::F16 | Dtype::BF16) {
                if matches!(dtype, Dtype::I64 | Dtype::I32 | Dtype::I16 | Dtype::I8 | Dtype::U8 | Dtype::BOOL) {
                    buffers.push(key);
                    continue;
                }
                return Err(Error::data(path, format!("tensor `{key}`"), format!("unsupported dtype {dtype:?}")));
            }
            file.seek(SeekFrom::Start(data_start + begin)).map_err(io)?;
            let len = (end - begin) as usize;
            let half = |b: &[u8]| u16::from_le_bytes([b[0], b[1]]);
            let values = match dtype {
                Dtype::F32 => Stored::F32(
                    read_values(&mut file, len, 4, |b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).map_err(io)?,
                ),
                Dtype::F16 => Stored::F16(read_values(&mut file, len, 2, half).map_err(io)?),
                _ => Stored::BF16(read_values(&mut file, len, 2, half).map_err(io)?),
            };
            let bad = match &values {
                Stored::F32(v) => v.iter().map(|&x| x as f64).enumerate().find(|(_, x)| !x.is_finite()),
                Stored::F16(v) => v.iter().map(|&h| f16_to_f32(h) as f64).enumerate().find(|(_, x)| !x.is_finite()),
                Stored::BF16(v) => v.iter().map(|&h| bf16_to_f32(h) as f64).enumerate().find(|(_, x)| !x.is_finite()),
            };
            if let Some((i, v)) = bad {
                return Err(Error::checkpoint(
                    path,
                    format!("tensor `{key}` holds {v} at index {i}: weights must be finite"),
                ));
            }
            shapes.insert(key.clone(), shape);
            stored.insert(key, values);
        }
        buffers.sort();
        Ok(Self { path: path.to_path_buf(), shapes, stored: RefCell::new(stored), buffers, used: RefCell::default() })
    }

    /// Reads a sharded checkpoint from its index (`model.safetensors.index.json`,
    /// as `save_pretrained` writes it): its `weight_map` names the shard file
    /// of every tensor, each shard is read as by [`StateDict::load`], and each
    /// must hold exactly the tensors the map gives it. Shard names are plain
    /// file names beside the index.
    pub fn load_sharded(index: impl AsRef<Path>) -> Result<Self> {
        let index = index.as_ref();
        let json: serde_json::Value = crate::config::load_json(index)?;
        let map = json
            .get("weight_map")
            .and_then(serde_json::Value::as_object)
            .ok_or_else(|| Error::data(index, "weight_map", "missing or not an object"))?;
        let mut by_file: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (key, file) in map {
            let file = file
                .as_str()
                .filter(|f| !f.is_empty() && Path::new(f).file_name() == Some(std::ffi::OsStr::new(f)) && *f != "..")
                .ok_or_else(|| {
                    Error::data(index, format!("weight_map[{key:?}]"), format!("{file} is not a file name"))
                })?;
            by_file.entry(file).or_default().insert(key);
        }
        if by_file.is_empty() {
            return Err(Error::data(index, "weight_map", "names no tensor"));
        }
        let dir = index.parent().unwrap_or(Path::new("."));
        let mut merged = Self {
            path: index.to_path_buf(),
            shapes: BTreeMap::new(),
            stored: RefCell::default(),
            buffers: Vec::new(),
            used: RefCell::default(),
        };
        for (file, keys) in by_file {
            let shard = Self::load(dir.join(file))?;
            let held: BTreeSet<&str> = shard.shapes.keys().chain(&shard.buffers).map(String::as_str).collect();
            if let Some(k) = keys.difference(&held).next() {
                return Err(Error::checkpoint(
                    &shard.path,
                    format!("no tensor `{k}`, which {} places here", index.display()),
                ));
            }
            if let Some(k) = held.difference(&keys).next() {
                return Err(Error::checkpoint(
                    &shard.path,
                    format!("tensor `{k}` is not in the weight_map of {}", index.display()),
                ));
            }
            merged.shapes.extend(shard.shapes);
            merged.stored.get_mut().extend(shard.stored.into_inner());
            merged.buffers.extend(shard.buffers);
        }
        merged.buffers.sort();
        Ok(merged)
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
            .shapes
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
        self.shapes.keys().map(String::as_str).collect()
    }
}

impl TensorSource for StateDict {
    fn contains(&self, key: &str) -> bool {
        self.shapes.contains_key(key)
    }
    fn shape_of(&self, key: &str) -> Result<Vec<usize>> {
        if self.buffers.iter().any(|b| b == key) {
            return Err(Error::checkpoint(&self.path, format!("`{key}` is an integer buffer, not a weight")));
        }
        self.shapes.get(key).cloned().ok_or_else(|| Error::checkpoint(&self.path, format!("no tensor `{key}`")))
    }
    fn tensor<const D: usize>(&self, key: &str, device: &Device) -> Result<Tensor<D>> {
        let shape = self.shape_of(key)?;
        if shape.len() != D {
            return Err(Error::checkpoint(&self.path, format!("`{key}` has shape {shape:?}, expected rank {D}")));
        }
        let stored = self.stored.borrow_mut().remove(key).ok_or_else(|| {
            Error::checkpoint(&self.path, format!("`{key}` was already handed out (each tensor is read once)"))
        })?;
        let values = match stored {
            // The values become the tensor's without a copy.
            Stored::F32(v) => v,
            Stored::F16(h) => h.into_iter().map(f16_to_f32).collect(),
            Stored::BF16(h) => h.into_iter().map(bf16_to_f32).collect(),
        };
        let data = TensorData::new(values, shape);
        self.used.borrow_mut().insert(key.to_string());
        Ok(Tensor::from_data(data, device))
    }
}

/// Float tensors by PyTorch state-dict key, written as one `.safetensors`
/// file (float32, little-endian), which `safetensors.torch.load_file` and
/// `transformers`' `from_pretrained` read. Keys are unique; values must be finite.
#[derive(Debug, Default)]
pub struct StateDictWriter {
    tensors: BTreeMap<String, (Dtype, Vec<usize>, Vec<u8>)>,
}

impl StateDictWriter {
    /// An empty state dict.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `tensor` under `key`; a second tensor under the same key or a
    /// non-finite value is an error naming the key.
    pub fn put<const D: usize>(&mut self, key: impl Into<String>, tensor: Tensor<D>) -> Result<()> {
        let key = key.into();
        if self.tensors.contains_key(&key) {
            return Err(Error::Invalid(format!("state dict: `{key}` is given twice")));
        }
        let shape = tensor.dims().to_vec();
        let values = crate::task::to_f32(tensor)?;
        if let Some((i, v)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(Error::Invalid(format!("state dict: `{key}` holds {v} at index {i}")));
        }
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.tensors.insert(key, (Dtype::F32, shape, bytes));
        Ok(())
    }

    /// Adds an integer tensor (`I64`, as PyTorch stores counters such as
    /// BatchNorm's `num_batches_tracked`, a 0-d tensor: `shape` `[]`).
    pub fn put_i64(&mut self, key: impl Into<String>, shape: &[usize], values: &[i64]) -> Result<()> {
        let key = key.into();
        if self.tensors.contains_key(&key) {
            return Err(Error::Invalid(format!("state dict: `{key}` is given twice")));
        }
        if shape.iter().product::<usize>() != values.len() {
            return Err(Error::shape(format!("state dict: `{key}`"), format!("{shape:?}"), values.len()));
        }
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.tensors.insert(key, (Dtype::I64, shape.to_vec(), bytes));
        Ok(())
    }

    /// A burn `BatchNorm` as `nn.BatchNorm2d` stores it: `{prefix}weight`,
    /// `bias`, `running_mean`, `running_var` and `num_batches_tracked` (0: it
    /// only matters with `momentum=None`, which this crate's models do not use).
    pub fn put_batch_norm(&mut self, prefix: &str, bn: &burn::nn::BatchNorm) -> Result<()> {
        self.put(format!("{prefix}weight"), bn.gamma.val())?;
        self.put(format!("{prefix}bias"), bn.beta.val())?;
        self.put(format!("{prefix}running_mean"), bn.running_mean.value())?;
        self.put(format!("{prefix}running_var"), bn.running_var.value())?;
        self.put_i64(format!("{prefix}num_batches_tracked"), &[], &[0])
    }

    /// A burn `Linear` as `nn.Linear` stores it: `weight_key` `[out, in]`
    /// (burn keeps `[in, out]`), `bias_key` `[out]` when the layer has a bias.
    pub fn put_linear(&mut self, weight_key: &str, bias_key: &str, l: &Linear) -> Result<()> {
        self.put(weight_key, l.weight.val().transpose())?;
        match &l.bias {
            Some(b) => self.put(bias_key, b.val()),
            None => Ok(()),
        }
    }

    /// A burn `Conv2d` as `nn.Conv2d` stores it (`{prefix}weight` `[out, in / groups, kh, kw]`,
    /// the same layout, and `{prefix}bias`).
    pub fn put_conv2d(&mut self, prefix: &str, c: &burn::nn::conv::Conv2d) -> Result<()> {
        self.put(format!("{prefix}weight"), c.weight.val())?;
        match &c.bias {
            Some(b) => self.put(format!("{prefix}bias"), b.val()),
            None => Ok(()),
        }
    }

    /// A burn `Conv1d` as `nn.Conv1d` stores it (`{prefix}weight` `[out, in / groups, k]`,
    /// the same layout, and `{prefix}bias`).
    pub fn put_conv1d(&mut self, prefix: &str, c: &burn::nn::conv::Conv1d) -> Result<()> {
        self.put(format!("{prefix}weight"), c.weight.val())?;
        match &c.bias {
            Some(b) => self.put(format!("{prefix}bias"), b.val()),
            None => Ok(()),
        }
    }

    /// A burn `ConvTranspose2d` as `nn.ConvTranspose2d` stores it
    /// (`{prefix}weight` `[in, out / groups, kh, kw]`, the same layout, and `{prefix}bias`).
    pub fn put_conv_transpose2d(&mut self, prefix: &str, c: &burn::nn::conv::ConvTranspose2d) -> Result<()> {
        self.put(format!("{prefix}weight"), c.weight.val())?;
        match &c.bias {
            Some(b) => self.put(format!("{prefix}bias"), b.val()),
            None => Ok(()),
        }
    }

    /// One recurrent layer's projections as PyTorch's `nn.RNN` / `nn.GRU` /
    /// `nn.LSTM` store them (the inverse of [`load_recurrent_pair`]).
    pub fn put_recurrent_pair(&mut self, prefix: &str, sfx: &str, input: &Linear, hidden: &Linear) -> Result<()> {
        self.put_linear(&format!("{prefix}weight_ih{sfx}"), &format!("{prefix}bias_ih{sfx}"), input)?;
        self.put_linear(&format!("{prefix}weight_hh{sfx}"), &format!("{prefix}bias_hh{sfx}"), hidden)
    }

    /// Keys added so far, sorted.
    pub fn keys(&self) -> Vec<&str> {
        self.tensors.keys().map(String::as_str).collect()
    }

    /// A state dict filled by `fill`, written to `path` (the `save_*` functions
    /// of the family crates: `fill` is their `put_*` with an empty prefix).
    pub fn save_to(path: impl AsRef<Path>, fill: impl FnOnce(&mut Self) -> Result<()>) -> Result<()> {
        let mut w = Self::new();
        fill(&mut w)?;
        w.write(path)
    }

    /// Writes the file (atomically: a kill leaves the old file or the new one).
    pub fn write(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let views = self
            .tensors
            .iter()
            .map(|(k, (dtype, shape, bytes))| {
                safetensors::tensor::TensorView::new(*dtype, shape.clone(), bytes).map(|v| (k.as_str(), v))
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::checkpoint(path, e))?;
        // The metadata `safetensors.torch.save_file` writes (transformers checks it).
        let metadata = std::collections::HashMap::from([("format".to_string(), "pt".to_string())]);
        let bytes = safetensors::serialize(views, Some(metadata)).map_err(|e| Error::checkpoint(path, e))?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| Error::io("creating", parent, e))?;
        }
        crate::train::checkpointer::write_atomically(path, &bytes)
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
    let [d_in, d_out] = layer.weight.lazy_shape().dims::<2>();
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
    fn half_precision_tensors_widen_on_demand_and_are_handed_out_once() {
        let path = temp_dir("dl-core", "half").join("model.safetensors");
        let bf16: Vec<u8> = [0x3f80u16, 0xc040].iter().flat_map(|h| h.to_le_bytes()).collect();
        let f16: Vec<u8> = [0x3c00u16, 0x3555].iter().flat_map(|h| h.to_le_bytes()).collect();
        let views = [
            ("b".to_string(), safetensors::tensor::TensorView::new(Dtype::BF16, vec![2], &bf16).unwrap()),
            ("h".to_string(), safetensors::tensor::TensorView::new(Dtype::F16, vec![1, 2], &f16).unwrap()),
        ];
        safetensors::serialize_to_file(views, None, &path).unwrap();
        let sd = StateDict::load(&path).unwrap();
        assert_eq!(sd.keys(), ["b", "h"]);
        let b: Tensor<1> = sd.tensor("b", &device()).unwrap();
        assert_eq!(crate::testing::values(b), [1.0, -3.0]);
        let h: Tensor<2> = sd.tensor("h", &device()).unwrap();
        assert_eq!(crate::testing::values(h), [1.0, 0.333_251_95]);
        assert!(sd.contains("b") && sd.shape_of("b").unwrap() == [2]);
        let e = sd.tensor::<1>("b", &device()).unwrap_err().to_string();
        assert!(e.contains("`b` was already handed out"), "{e}");
        sd.check_all_used(&[]).unwrap();
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
