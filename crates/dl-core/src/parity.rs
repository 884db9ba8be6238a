//! PyTorch parity: reading the fixtures of `shared/parity/FORMAT.md` and checking modules against them.
//!
//! A fixture pins one PyTorch forward pass: config, parameters, inputs and
//! expected outputs. [`Registry`] maps a module kind to a runner that builds
//! the dl-families / burn module from the config alone, loads every
//! `param.*` tensor (a missing or unused parameter fails the fixture), runs
//! forward and returns the outputs. dl-core registers the single-layer kinds
//! (they are burn layers that every family uses); each family crate adds its
//! own kinds (`lenet5` in dl-cnn, recurrent kinds in dl-rnn/dl-lstm, ...), and
//! the root `parity` example checks folders with all of them.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use burn::module::Param;
use burn::module::RunningState;
use burn::nn::{
    BatchNormConfig, EmbeddingConfig, LayerNormConfig, LinearConfig, PaddingConfig1d, PaddingConfig2d,
    conv::{Conv1dConfig, Conv2dConfig, ConvTranspose2dConfig},
    pool::{AvgPool2dConfig, MaxPool2dConfig},
};
use burn::tensor::{Device, Int, Tensor, TensorData};
use safetensors::{Dtype, SafeTensors};
use serde_json::Value;

use crate::{Error, Result};

/// Writes a fixture of this format from the Rust side, so that PyTorch can
/// check a model exported from here (`tools/parity/check_exported.py` builds
/// the PyTorch module from `config`, loads the `param.*` tensors and compares
/// its outputs). `tensors` holds every input and output under its name and
/// the parameters under `param.<state_dict key>`, nothing else.
#[allow(clippy::too_many_arguments)]
pub fn write_fixture(
    dir: &Path,
    name: &str,
    module: &str,
    config: Value,
    inputs: &[&str],
    outputs: &[&str],
    tolerance: f64,
    notes: &str,
    tensors: &crate::weights::StateDictWriter,
) -> Result<()> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(Error::Invalid(format!("fixture name {name:?}: only [A-Za-z0-9_]")));
    }
    let keys = tensors.keys();
    for n in inputs.iter().chain(outputs) {
        if !keys.contains(n) {
            return Err(Error::Invalid(format!("fixture {name}: no tensor `{n}`")));
        }
    }
    if let Some(k) = keys.iter().find(|k| !k.starts_with("param.") && !inputs.contains(k) && !outputs.contains(k)) {
        return Err(Error::Invalid(format!("fixture {name}: `{k}` is neither an input, an output nor a param.*")));
    }
    tensors.write(dir.join(format!("{name}.safetensors")))?;
    let json = serde_json::json!({
        "module": module,
        "config": config,
        "inputs": inputs,
        "outputs": outputs,
        "tolerance": tolerance,
        "notes": notes,
    });
    crate::config::save_json(&json, dir.join(format!("{name}.json")))
}

/// Raw tensor data as stored in a fixture.
#[derive(Debug, Clone, PartialEq)]
pub enum RawData {
    /// Float tensors.
    F32(Vec<f32>),
    /// Token ids, indices and counters.
    I64(Vec<i64>),
}

/// One tensor of a fixture.
#[derive(Debug, Clone, PartialEq)]
pub struct RawTensor {
    /// PyTorch shape (`[]` for a scalar).
    pub shape: Vec<usize>,
    /// Values, row-major.
    pub data: RawData,
}

/// An output of a module run: name, shape and values.
#[derive(Debug, Clone)]
pub struct NamedOutput {
    /// Output name as in the fixture's `outputs`.
    pub name: String,
    /// Shape produced.
    pub shape: Vec<usize>,
    /// Values produced.
    pub values: Vec<f32>,
}

/// A loaded fixture.
#[derive(Debug)]
pub struct Fixture {
    /// File stem.
    pub name: String,
    /// Module kind.
    pub module: String,
    /// Constructor kwargs (or the HF config dict).
    pub config: serde_json::Map<String, Value>,
    /// Input names, in call order.
    pub inputs: Vec<String>,
    /// Expected output names.
    pub outputs: Vec<String>,
    /// Largest allowed max-abs difference.
    pub tolerance: f64,
    tensors: BTreeMap<String, RawTensor>,
    used: RefCell<BTreeSet<String>>,
    path: PathBuf,
}

impl Fixture {
    /// Loads `<name>.json` and its `<name>.safetensors`.
    pub fn load(json_path: &Path) -> Result<Fixture> {
        let name = json_path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        let text = std::fs::read_to_string(json_path).map_err(|e| Error::io("reading", json_path, e))?;
        let v: Value =
            serde_json::from_str(&text).map_err(|e| Error::Json { path: json_path.to_path_buf(), source: e })?;
        let field = |k: &str| v.get(k).ok_or_else(|| Error::data(json_path, format!("key `{k}`"), "missing"));
        let strings = |k: &str| -> Result<Vec<String>> {
            field(k)?
                .as_array()
                .ok_or_else(|| Error::data(json_path, format!("key `{k}`"), "not an array"))?
                .iter()
                .map(|s| {
                    s.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| Error::data(json_path, format!("key `{k}`"), "not a string"))
                })
                .collect()
        };
        let module = field("module")?
            .as_str()
            .ok_or_else(|| Error::data(json_path, "key `module`", "not a string"))?
            .to_string();
        let config = field("config")?
            .as_object()
            .ok_or_else(|| Error::data(json_path, "key `config`", "not an object"))?
            .clone();
        let tolerance =
            field("tolerance")?.as_f64().ok_or_else(|| Error::data(json_path, "key `tolerance`", "not a number"))?;
        let st_path = json_path.with_extension("safetensors");
        let bytes = std::fs::read(&st_path).map_err(|e| Error::io("reading", &st_path, e))?;
        let st = SafeTensors::deserialize(&bytes).map_err(|e| Error::data(&st_path, "header", e))?;
        let mut tensors = BTreeMap::new();
        for (key, view) in st.tensors() {
            let shape = view.shape().to_vec();
            let raw = view.data();
            let data = match view.dtype() {
                Dtype::F32 => {
                    RawData::F32(raw.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
                }
                Dtype::I64 => RawData::I64(
                    raw.chunks_exact(8)
                        .map(|b| i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
                        .collect(),
                ),
                other => {
                    return Err(Error::data(
                        &st_path,
                        format!("tensor `{key}`"),
                        format!("unsupported dtype {other:?}"),
                    ));
                }
            };
            tensors.insert(key, RawTensor { shape, data });
        }
        let (inputs, outputs) = (strings("inputs")?, strings("outputs")?);
        for (what, names) in [("input", &inputs), ("output", &outputs)] {
            if let Some(missing) = names.iter().find(|n| !tensors.contains_key(n.as_str())) {
                return Err(Error::data(
                    &st_path,
                    format!("{what} `{missing}`"),
                    format!("listed in {} but not in the tensors", json_path.display()),
                ));
            }
        }
        if outputs.is_empty() {
            return Err(Error::data(json_path, "key `outputs`", "empty: nothing to compare"));
        }
        Ok(Fixture {
            name,
            module,
            config,
            inputs,
            outputs,
            tolerance,
            tensors,
            used: RefCell::new(BTreeSet::new()),
            path: json_path.to_path_buf(),
        })
    }

    fn err(&self, what: impl ToString, msg: impl ToString) -> Error {
        Error::data(&self.path, what, msg)
    }

    /// A raw tensor by its full key, marking it used.
    pub fn raw(&self, key: &str) -> Result<&RawTensor> {
        let t = self.tensors.get(key).ok_or_else(|| self.err(format!("tensor `{key}`"), "missing"))?;
        self.used.borrow_mut().insert(key.to_string());
        Ok(t)
    }

    /// Whether the fixture holds `param.<key>`.
    pub fn has_param(&self, key: &str) -> bool {
        self.tensors.contains_key(&format!("param.{key}"))
    }

    /// Whether an optional input was given.
    pub fn has_input(&self, name: &str) -> bool {
        self.inputs.iter().any(|i| i == name)
    }

    /// `param.<key>` as a float tensor of rank `D`.
    pub fn param<const D: usize>(&self, key: &str, device: &Device) -> Result<Tensor<D>> {
        self.float(&format!("param.{key}"), device)
    }

    /// Like [`Fixture::param`], wrapped as a trainable parameter.
    pub fn param_p<const D: usize>(&self, key: &str, device: &Device) -> Result<Param<Tensor<D>>> {
        Ok(Param::from_tensor(self.param(key, device)?))
    }

    /// `param.<key>` in place of `current`, the parameter the fixture's config
    /// built: a tensor of another shape (a config that contradicts the
    /// weights) is an error, never silently substituted.
    pub fn param_like<const D: usize>(
        &self,
        key: &str,
        current: &Param<Tensor<D>>,
        device: &Device,
    ) -> Result<Param<Tensor<D>>> {
        self.check_shape(key, &current.dims())?;
        self.param_p(key, device)
    }

    /// An error unless `param.<key>` has shape `want` (what the config builds).
    pub fn check_shape(&self, key: &str, want: &[usize]) -> Result<()> {
        let got = self.shape(&format!("param.{key}"))?;
        if got != want {
            return Err(
                self.err(format!("tensor `param.{key}`"), format!("has shape {got:?}, the config builds {want:?}"))
            );
        }
        Ok(())
    }

    /// An input or expected output as a float tensor of rank `D`.
    pub fn float<const D: usize>(&self, key: &str, device: &Device) -> Result<Tensor<D>> {
        let t = self.raw(key)?;
        if t.shape.len() != D {
            return Err(self.err(format!("tensor `{key}`"), format!("expected rank {D}, found shape {:?}", t.shape)));
        }
        match &t.data {
            RawData::F32(v) => Ok(Tensor::from_data(TensorData::new(v.clone(), t.shape.clone()), device)),
            RawData::I64(_) => Err(self.err(format!("tensor `{key}`"), "expected F32, found I64")),
        }
    }

    /// An I64 tensor of rank `D` as an int tensor.
    pub fn int<const D: usize>(&self, key: &str, device: &Device) -> Result<Tensor<D, Int>> {
        let t = self.raw(key)?;
        if t.shape.len() != D {
            return Err(self.err(format!("tensor `{key}`"), format!("expected rank {D}, found shape {:?}", t.shape)));
        }
        match &t.data {
            RawData::I64(v) => Ok(Tensor::from_data(TensorData::new(v.clone(), t.shape.clone()), device)),
            RawData::F32(_) => Err(self.err(format!("tensor `{key}`"), "expected I64, found F32")),
        }
    }

    /// Shape of a tensor (without marking it used).
    pub fn shape(&self, key: &str) -> Result<Vec<usize>> {
        self.tensors.get(key).map(|t| t.shape.clone()).ok_or_else(|| self.err(format!("tensor `{key}`"), "missing"))
    }

    /// Parameters and inputs present in the file that the runner never read
    /// (expected outputs are read by the comparison).
    pub fn unused_params(&self) -> Vec<String> {
        let used = self.used.borrow();
        self.tensors.keys().filter(|k| !used.contains(*k) && !self.outputs.contains(k)).cloned().collect()
    }

    /// Marks `param.<key>` as read although it has no effect on the forward pass
    /// (BatchNorm's `num_batches_tracked` in eval mode).
    pub fn ignore_param(&self, key: &str) -> Result<()> {
        self.raw(&format!("param.{key}")).map(|_| ())
    }

    // ----- config accessors (absent kwargs take PyTorch's defaults) -----

    fn cfg(&self, key: &str) -> Option<&Value> {
        self.config.get(key).filter(|v| !v.is_null())
    }

    /// A required integer kwarg.
    pub fn usize_req(&self, key: &str) -> Result<usize> {
        self.cfg(key)
            .and_then(as_single)
            .ok_or_else(|| self.err(format!("config `{key}`"), "missing or not a non-negative integer"))
    }

    /// An integer kwarg with a default (an int or a 1-array).
    pub fn usize_or(&self, key: &str, default: usize) -> Result<usize> {
        match self.cfg(key) {
            None => Ok(default),
            Some(v) => as_single(v).ok_or_else(|| self.err(format!("config `{key}`"), format!("not an integer: {v}"))),
        }
    }

    /// A 2-D kwarg (`int` or `[h, w]`) with a default.
    pub fn pair_or(&self, key: &str, default: [usize; 2]) -> Result<[usize; 2]> {
        match self.cfg(key) {
            None => Ok(default),
            Some(v) => {
                as_pair(v).ok_or_else(|| self.err(format!("config `{key}`"), format!("not an int or [h, w]: {v}")))
            }
        }
    }

    /// A float kwarg with a default.
    pub fn f64_or(&self, key: &str, default: f64) -> Result<f64> {
        match self.cfg(key) {
            None => Ok(default),
            Some(v) => v.as_f64().ok_or_else(|| self.err(format!("config `{key}`"), format!("not a number: {v}"))),
        }
    }

    /// A bool kwarg with a default.
    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool> {
        match self.cfg(key) {
            None => Ok(default),
            Some(v) => v.as_bool().ok_or_else(|| self.err(format!("config `{key}`"), format!("not a bool: {v}"))),
        }
    }

    /// A string kwarg with a default.
    pub fn str_or<'a>(&'a self, key: &str, default: &'a str) -> Result<&'a str> {
        match self.cfg(key) {
            None => Ok(default),
            Some(v) => v.as_str().ok_or_else(|| self.err(format!("config `{key}`"), format!("not a string: {v}"))),
        }
    }

    /// Any kwarg, raw.
    pub fn value(&self, key: &str) -> Option<&Value> {
        self.cfg(key)
    }
}

fn as_single(v: &Value) -> Option<usize> {
    match v {
        Value::Number(n) => n.as_u64().map(|n| n as usize),
        Value::Array(a) if a.len() == 1 => a[0].as_u64().map(|n| n as usize),
        _ => None,
    }
}

fn as_pair(v: &Value) -> Option<[usize; 2]> {
    match v {
        Value::Number(n) => n.as_u64().map(|n| [n as usize; 2]),
        Value::Array(a) if a.len() == 2 => Some([a[0].as_u64()? as usize, a[1].as_u64()? as usize]),
        Value::Array(a) if a.len() == 1 => a[0].as_u64().map(|n| [n as usize; 2]),
        _ => None,
    }
}

/// A named output from a tensor of any rank.
pub fn output<const D: usize>(name: &str, t: Tensor<D>) -> Result<NamedOutput> {
    let shape = t.dims().to_vec();
    let values = crate::task::to_f32(t)?;
    Ok(NamedOutput { name: name.to_string(), shape, values })
}

/// Builds the module of one fixture kind, runs it and returns its outputs.
pub type Runner = fn(&Fixture, &Device) -> Result<Vec<NamedOutput>>;

/// Module kinds and their runners.
#[derive(Clone, Default)]
pub struct Registry {
    runners: BTreeMap<String, Runner>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The single-layer kinds that dl-core provides.
    pub fn with_layers() -> Self {
        let mut r = Self::new();
        r.register("linear", run_linear);
        r.register("conv1d", run_conv1d);
        r.register("conv2d", run_conv2d);
        r.register("conv_transpose2d", run_conv_transpose2d);
        r.register("max_pool2d", run_max_pool2d);
        r.register("avg_pool2d", run_avg_pool2d);
        r.register("batch_norm2d", run_batch_norm2d);
        r.register("layer_norm", run_layer_norm);
        r.register("embedding", run_embedding);
        r
    }

    /// Adds (or replaces) the runner of `kind`.
    pub fn register(&mut self, kind: &str, runner: Runner) {
        self.runners.insert(kind.to_string(), runner);
    }

    /// Kinds known, sorted.
    pub fn kinds(&self) -> Vec<String> {
        self.runners.keys().cloned().collect()
    }

    /// Runs one fixture and compares; `Ok(max_abs_diff)` when it ran, with `inf` for a shape
    /// mismatch or NaN.
    pub fn run(&self, fx: &Fixture, device: &Device) -> Result<Option<f64>> {
        let Some(runner) = self.runners.get(&fx.module) else {
            return Ok(None);
        };
        let outputs = runner(fx, device)?;
        let unused = fx.unused_params();
        if !unused.is_empty() {
            return Err(Error::Invalid(format!("tensors not used by the module: {}", unused.join(", "))));
        }
        let mut max = 0.0f64;
        for name in &fx.outputs {
            let got = outputs
                .iter()
                .find(|o| &o.name == name)
                .ok_or_else(|| Error::Invalid(format!("the module produced no output `{name}`")))?;
            let expected = fx.raw(name)?;
            let RawData::F32(exp) = &expected.data else {
                return Err(Error::Invalid(format!("expected output `{name}` is not F32")));
            };
            if got.shape != expected.shape {
                return Err(Error::shape(
                    format!("output `{name}`"),
                    format!("{:?}", expected.shape),
                    format!("{:?}", got.shape),
                ));
            }
            for (g, e) in got.values.iter().zip(exp) {
                let d = (*g as f64 - *e as f64).abs();
                if d.is_nan() {
                    return Ok(Some(f64::INFINITY));
                }
                max = max.max(d);
            }
        }
        Ok(Some(max))
    }
}

/// Outcome of checking one fixture.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Within tolerance.
    Pass(f64),
    /// Over tolerance, or failed to load or run (message).
    Fail(f64, String),
    /// No runner for the module kind (named).
    Unsupported(String),
}

/// Checks every fixture (`*.json`) in `dirs`, in name order, printing one line per fixture
/// and the closing `<p> passed, <f> failed` line to `out`. Returns (passed, failed).
pub fn check_dirs(
    registry: &Registry,
    dirs: &[PathBuf],
    device: &Device,
    out: &mut dyn Write,
) -> Result<(usize, usize)> {
    let mut passed = 0;
    let mut failed = 0;
    for dir in dirs {
        let mut jsons: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| Error::io("reading folder", dir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        jsons.sort();
        if jsons.is_empty() {
            return Err(Error::data(dir, "folder", "holds no fixtures (`*.json` beside `*.safetensors`)"));
        }
        for path in jsons {
            let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("?").to_string();
            let verdict = check_one(registry, &path, device);
            let line = match &verdict {
                Verdict::Pass(d) => format!("PASS {name} max_abs_diff={d:.3e}"),
                Verdict::Fail(d, msg) => format!("FAIL {name} max_abs_diff={} {msg}", fmt_diff(*d)),
                Verdict::Unsupported(kind) => format!("UNSUPPORTED {name} (no runner for kind `{kind}`)"),
            };
            writeln!(out, "{line}").map_err(|e| Error::io("writing", "stdout", e))?;
            match verdict {
                Verdict::Pass(_) => passed += 1,
                _ => failed += 1,
            }
        }
    }
    writeln!(out, "{passed} passed, {failed} failed").map_err(|e| Error::io("writing", "stdout", e))?;
    Ok((passed, failed))
}

fn fmt_diff(d: f64) -> String {
    if d.is_finite() { format!("{d:.3e}") } else { "inf".into() }
}

/// Checks one fixture file; load and run errors (and panics inside the backend) become a FAIL.
pub fn check_one(registry: &Registry, json: &Path, device: &Device) -> Verdict {
    let fx = match Fixture::load(json) {
        Ok(f) => f,
        Err(e) => return Verdict::Fail(f64::INFINITY, e.to_string()),
    };
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| registry.run(&fx, device)));
    match run {
        Ok(Ok(None)) => Verdict::Unsupported(fx.module.clone()),
        Ok(Ok(Some(d))) if d <= fx.tolerance => Verdict::Pass(d),
        Ok(Ok(Some(d))) => Verdict::Fail(d, format!("(tolerance {:.0e})", fx.tolerance)),
        Ok(Err(e)) => Verdict::Fail(f64::INFINITY, e.to_string()),
        Err(p) => {
            let msg = p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()));
            Verdict::Fail(f64::INFINITY, format!("panicked: {}", msg.unwrap_or_default()))
        }
    }
}

// ---------------------------------------------------------------- layer kinds

fn run_linear(fx: &Fixture, device: &Device) -> Result<Vec<NamedOutput>> {
    let d_in = fx.usize_req("in_features")?;
    let d_out = fx.usize_req("out_features")?;
    let bias = fx.bool_or("bias", true)?;
    let mut layer = LinearConfig::new(d_in, d_out).with_bias(bias).init(device);
    // PyTorch stores [out, in]; burn's Linear computes x W with W [in, out].
    fx.check_shape("weight", &[d_out, d_in])?;
    layer.weight = Param::from_tensor(fx.param::<2>("weight", device)?.transpose());
    layer.bias = match &layer.bias {
        Some(b) => Some(fx.param_like("bias", b, device)?),
        None => None,
    };
    let shape = fx.shape("input")?;
    let x = fx.raw("input")?;
    let RawData::F32(v) = &x.data else { return Err(fx.err("input", "not F32")) };
    let rows = shape[..shape.len() - 1].iter().product::<usize>();
    let x2 = Tensor::<2>::from_data(TensorData::new(v.clone(), [rows, d_in]), device);
    let y = layer.forward(x2);
    let mut out_shape = shape.clone();
    *out_shape.last_mut().unwrap_or(&mut 0) = d_out;
    Ok(vec![NamedOutput { name: "output".into(), shape: out_shape, values: crate::task::to_f32(y)? }])
}

/// PyTorch's `padding="same"`: total `dilation * (k - 1)`, the odd element on the right.
/// Computed here because it must account for dilation.
fn same_padding(kernel: usize, dilation: usize) -> (usize, usize) {
    let total = dilation * kernel.saturating_sub(1);
    (total / 2, total - total / 2)
}

fn padding_1d(fx: &Fixture) -> Result<PaddingConfig1d> {
    match fx.value("padding") {
        Some(Value::String(s)) if s == "same" => {
            let (l, r) = same_padding(fx.usize_req("kernel_size")?, fx.usize_or("dilation", 1)?);
            Ok(PaddingConfig1d::Explicit(l, r))
        }
        Some(Value::String(s)) if s == "valid" => Ok(PaddingConfig1d::Valid),
        _ => {
            let p = fx.usize_or("padding", 0)?;
            Ok(PaddingConfig1d::Explicit(p, p))
        }
    }
}

fn padding_2d(fx: &Fixture) -> Result<PaddingConfig2d> {
    match fx.value("padding") {
        Some(Value::String(s)) if s == "same" => {
            let [kh, kw] = fx.pair_or("kernel_size", [1, 1])?;
            let [dh, dw] = fx.pair_or("dilation", [1, 1])?;
            let ((t, b), (l, r)) = (same_padding(kh, dh), same_padding(kw, dw));
            Ok(PaddingConfig2d::Explicit(t, l, b, r))
        }
        Some(Value::String(s)) if s == "valid" => Ok(PaddingConfig2d::Valid),
        _ => {
            let [h, w] = fx.pair_or("padding", [0, 0])?;
            Ok(PaddingConfig2d::Explicit(h, w, h, w))
        }
    }
}

fn run_conv1d(fx: &Fixture, device: &Device) -> Result<Vec<NamedOutput>> {
    let bias = fx.bool_or("bias", true)?;
    let mut conv =
        Conv1dConfig::new(fx.usize_req("in_channels")?, fx.usize_req("out_channels")?, fx.usize_req("kernel_size")?)
            .with_stride(fx.usize_or("stride", 1)?)
            .with_dilation(fx.usize_or("dilation", 1)?)
            .with_groups(fx.usize_or("groups", 1)?)
            .with_padding(padding_1d(fx)?)
            .with_bias(bias)
            .init(device);
    conv.weight = fx.param_like("weight", &conv.weight, device)?;
    conv.bias = match &conv.bias {
        Some(b) => Some(fx.param_like("bias", b, device)?),
        None => None,
    };
    let y = conv.forward(fx.float::<3>("input", device)?);
    Ok(vec![output("output", y)?])
}

fn run_conv2d(fx: &Fixture, device: &Device) -> Result<Vec<NamedOutput>> {
    let bias = fx.bool_or("bias", true)?;
    let mut conv = Conv2dConfig::new(
        [fx.usize_req("in_channels")?, fx.usize_req("out_channels")?],
        fx.pair_or("kernel_size", [0, 0])?,
    )
    .with_stride(fx.pair_or("stride", [1, 1])?)
    .with_dilation(fx.pair_or("dilation", [1, 1])?)
    .with_groups(fx.usize_or("groups", 1)?)
    .with_padding(padding_2d(fx)?)
    .with_bias(bias)
    .init(device);
    conv.weight = fx.param_like("weight", &conv.weight, device)?;
    conv.bias = match &conv.bias {
        Some(b) => Some(fx.param_like("bias", b, device)?),
        None => None,
    };
    let y = conv.forward(fx.float::<4>("input", device)?);
    Ok(vec![output("output", y)?])
}

fn run_conv_transpose2d(fx: &Fixture, device: &Device) -> Result<Vec<NamedOutput>> {
    let bias = fx.bool_or("bias", true)?;
    let mut conv = ConvTranspose2dConfig::new(
        [fx.usize_req("in_channels")?, fx.usize_req("out_channels")?],
        fx.pair_or("kernel_size", [0, 0])?,
    )
    .with_stride(fx.pair_or("stride", [1, 1])?)
    .with_dilation(fx.pair_or("dilation", [1, 1])?)
    .with_groups(fx.usize_or("groups", 1)?)
    .with_padding(fx.pair_or("padding", [0, 0])?)
    .with_padding_out(fx.pair_or("output_padding", [0, 0])?)
    .with_bias(bias)
    .init(device);
    // Both PyTorch and burn store [C_in, C_out / groups, kH, kW].
    conv.weight = fx.param_like("weight", &conv.weight, device)?;
    conv.bias = match &conv.bias {
        Some(b) => Some(fx.param_like("bias", b, device)?),
        None => None,
    };
    let y = conv.forward(fx.float::<4>("input", device)?);
    Ok(vec![output("output", y)?])
}

/// Kernel, stride, padding and ceil_mode of a pooling fixture.
type PoolArgs = ([usize; 2], [usize; 2], [usize; 2], bool);

fn pool_common(fx: &Fixture) -> Result<PoolArgs> {
    let k = fx.pair_or("kernel_size", [0, 0])?;
    if k.contains(&0) {
        return Err(fx.err("config `kernel_size`", "missing or zero"));
    }
    let s = fx.pair_or("stride", k)?;
    let p = fx.pair_or("padding", [0, 0])?;
    Ok((k, s, p, fx.bool_or("ceil_mode", false)?))
}

fn run_max_pool2d(fx: &Fixture, device: &Device) -> Result<Vec<NamedOutput>> {
    let (k, s, p, ceil) = pool_common(fx)?;
    let pool = MaxPool2dConfig::new(k)
        .with_strides(s)
        .with_padding(PaddingConfig2d::Explicit(p[0], p[1], p[0], p[1]))
        .with_dilation(fx.pair_or("dilation", [1, 1])?)
        .with_ceil_mode(ceil)
        .init();
    Ok(vec![output("output", pool.forward(fx.float::<4>("input", device)?))?])
}

fn run_avg_pool2d(fx: &Fixture, device: &Device) -> Result<Vec<NamedOutput>> {
    let (k, s, p, ceil) = pool_common(fx)?;
    let pool = AvgPool2dConfig::new(k)
        .with_strides(s)
        .with_padding(PaddingConfig2d::Explicit(p[0], p[1], p[0], p[1]))
        .with_count_include_pad(fx.bool_or("count_include_pad", true)?)
        .with_ceil_mode(ceil)
        .init();
    Ok(vec![output("output", pool.forward(fx.float::<4>("input", device)?))?])
}

fn run_batch_norm2d(fx: &Fixture, device: &Device) -> Result<Vec<NamedOutput>> {
    let c = fx.usize_req("num_features")?;
    let mut bn = BatchNormConfig::new(c)
        .with_epsilon(fx.f64_or("eps", 1e-5)?)
        .with_momentum(fx.f64_or("momentum", 0.1)?)
        .init(device);
    if fx.bool_or("affine", true)? {
        bn.gamma = fx.param_like("weight", &bn.gamma, device)?;
        bn.beta = fx.param_like("bias", &bn.beta, device)?;
    }
    if fx.bool_or("track_running_stats", true)? {
        fx.check_shape("running_mean", &[c])?;
        fx.check_shape("running_var", &[c])?;
        bn.running_mean = RunningState::new(fx.param::<1>("running_mean", device)?);
        bn.running_var = RunningState::new(fx.param::<1>("running_var", device)?);
        if fx.has_param("num_batches_tracked") {
            fx.ignore_param("num_batches_tracked")?;
        }
    }
    let bn = burn::module::Module::valid(&bn);
    Ok(vec![output("output", bn.forward(fx.float::<4>("input", device)?))?])
}

fn run_layer_norm(fx: &Fixture, device: &Device) -> Result<Vec<NamedOutput>> {
    let norm_shape: Vec<usize> = match fx.value("normalized_shape") {
        Some(Value::Array(a)) => a.iter().filter_map(|v| v.as_u64().map(|n| n as usize)).collect(),
        Some(v) => vec![as_single(v).ok_or_else(|| fx.err("config `normalized_shape`", "not an int or array"))?],
        None => return Err(fx.err("config `normalized_shape`", "missing")),
    };
    let d: usize = norm_shape.iter().product();
    let affine = fx.bool_or("elementwise_affine", true)?;
    let bias = affine && fx.bool_or("bias", true)?;
    let mut ln = LayerNormConfig::new(d).with_epsilon(fx.f64_or("eps", 1e-5)?).with_bias(bias).init(device);
    // burn normalises the last dim; PyTorch's trailing dims are flattened into one, and the
    // gain/bias of shape `normalized_shape` flattened alike.
    if affine {
        fx.check_shape("weight", &norm_shape)?;
        if bias {
            fx.check_shape("bias", &norm_shape)?;
        }
        ln.gamma = Param::from_tensor(flatten_param(fx, "weight", device)?);
        ln.beta = if bias { Some(Param::from_tensor(flatten_param(fx, "bias", device)?)) } else { None };
    }
    let shape = fx.shape("input")?;
    if shape.len() < norm_shape.len() || shape[shape.len() - norm_shape.len()..] != norm_shape[..] {
        return Err(Error::shape("layer_norm input", format!("[*, {norm_shape:?}]"), format!("{shape:?}")));
    }
    let RawData::F32(v) = &fx.raw("input")?.data else { return Err(fx.err("input", "not F32")) };
    let rows = v.len() / d.max(1);
    let x = Tensor::<2>::from_data(TensorData::new(v.clone(), [rows, d]), device);
    let y = ln.forward(x);
    Ok(vec![NamedOutput { name: "output".into(), shape, values: crate::task::to_f32(y)? }])
}

fn flatten_param(fx: &Fixture, key: &str, device: &Device) -> Result<Tensor<1>> {
    let raw = fx.raw(&format!("param.{key}"))?;
    let RawData::F32(v) = &raw.data else { return Err(fx.err(key, "not F32")) };
    Ok(Tensor::from_data(TensorData::new(v.clone(), [v.len()]), device))
}

fn run_embedding(fx: &Fixture, device: &Device) -> Result<Vec<NamedOutput>> {
    let n = fx.usize_req("num_embeddings")?;
    let d = fx.usize_req("embedding_dim")?;
    let mut emb = EmbeddingConfig::new(n, d).init(device);
    emb.weight = fx.param_like("weight", &emb.weight, device)?;
    let shape = fx.shape("input")?;
    let RawData::I64(ids) = &fx.raw("input")?.data else { return Err(fx.err("input", "not I64")) };
    if let Some(bad) = ids.iter().find(|&&i| i < 0 || i as usize >= n) {
        return Err(Error::Unknown {
            kind: "token id",
            value: bad.to_string(),
            context: format!("embedding of {n} rows"),
        });
    }
    let x = Tensor::<2, Int>::from_data(TensorData::new(ids.clone(), [1, ids.len()]), device);
    let y = emb.forward(x);
    let mut out_shape = shape;
    out_shape.push(d);
    Ok(vec![NamedOutput { name: "output".into(), shape: out_shape, values: crate::task::to_f32(y)? }])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{device, temp_dir, workspace_root};

    /// A copy of the committed `p_conv2d_asym` fixture, its JSON edited by `edit`.
    fn variant(dir: &Path, name: &str, edit: impl Fn(&mut Value)) -> PathBuf {
        let src = workspace_root().join("fixtures/parity/p_conv2d_asym");
        let mut v: Value = serde_json::from_str(&std::fs::read_to_string(src.with_extension("json")).unwrap()).unwrap();
        edit(&mut v);
        let json = dir.join(format!("{name}.json"));
        std::fs::write(&json, serde_json::to_string(&v).unwrap()).unwrap();
        std::fs::copy(src.with_extension("safetensors"), json.with_extension("safetensors")).unwrap();
        json
    }

    fn fail_message(v: Verdict) -> String {
        match v {
            Verdict::Fail(_, m) => m,
            other => panic!("expected FAIL, got {other:?}"),
        }
    }

    #[test]
    fn configs_that_contradict_their_tensors_fail_and_the_run_goes_on() {
        let dir = temp_dir("dl-core", "parity-variants");
        let (r, d) = (Registry::with_layers(), device());
        assert!(matches!(check_one(&r, &variant(&dir, "same", |_| {}), &d), Verdict::Pass(_)));
        let kernel = variant(&dir, "kernel", |v| v["config"]["kernel_size"] = serde_json::json!([3, 4]));
        let e = fail_message(check_one(&r, &kernel, &d));
        assert!(e.contains("param.weight") && e.contains("[6, 4, 3, 5]") && e.contains("[6, 4, 3, 4]"), "{e}");
        let zero = variant(&dir, "zero", |v| v["config"]["in_channels"] = 0.into());
        assert!(fail_message(check_one(&r, &zero, &d)).contains("config builds [6, 0, 3, 5]"));
        let groups = variant(&dir, "groups", |v| v["config"]["groups"] = 2.into());
        assert!(fail_message(check_one(&r, &groups, &d)).contains("config builds [6, 2, 3, 5]"));
        let missing = variant(&dir, "missing", |v| v["inputs"] = serde_json::json!(["input", "mask"]));
        let e = fail_message(check_one(&r, &missing, &d));
        assert!(e.contains("input `mask`") && e.contains("not in the tensors"), "{e}");
        variant(&dir, "unknown", |v| v["module"] = "conv9d".into());
        let mut out = Vec::new();
        let (passed, failed) = check_dirs(&r, std::slice::from_ref(&dir), &d, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!((passed, failed), (1, 5), "{text}");
        assert!(text.contains("UNSUPPORTED unknown (no runner for kind `conv9d`)"), "{text}");
        // A folder without fixtures is an error, not "0 passed, 0 failed".
        let empty = temp_dir("dl-core", "parity-empty");
        let e = check_dirs(&r, &[empty], &d, &mut Vec::new()).unwrap_err().to_string();
        assert!(e.contains("holds no fixtures"), "{e}");
    }
}
