//! `.safetensors` checkpoints into modules through burn-store: the file is
//! memory-mapped and each tensor read when the module takes it, keys are
//! renamed by regular expressions, PyTorch layouts converted by burn-store's
//! adapter, F16/BF16 widened to `f32`. What the mapping cannot express
//! (fused projections to split, tied copies to compare) the family crates
//! read with [`SafetensorsFiles::tensor`] from the same store.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use burn::module::{Module, ModuleVisitor, Param};
use burn::store::{
    FloatCastAdapter, KeyRemapper, ModuleAdapter, ModuleSnapshot, ModuleStore, PyTorchToBurnAdapter, SafetensorsStore,
    bridge,
};
use burn::tensor::{DType, Device, Tensor};

use crate::{Error, Result};

/// How stored keys and layouts become a module's.
#[derive(Debug, Clone, Default)]
pub struct KeyMap {
    /// `(regex, replacement)` applied in order to every stored key
    /// (`replace_all`, `$1` for groups).
    pub renames: Vec<(String, String)>,
    /// PyTorch layouts: `nn.Linear` weights `[out, in]` transposed, norm
    /// `weight`/`bias` taken as `gamma`/`beta`.
    pub pytorch: bool,
    /// Renamed keys that hold no weight of the module and are accepted
    /// unused (matched as substrings).
    pub ignored: Vec<String>,
}

impl KeyMap {
    /// A map with PyTorch layouts and the renames `pairs`.
    pub fn pytorch(pairs: &[(&str, &str)]) -> Self {
        Self {
            renames: pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect(),
            pytorch: true,
            ignored: vec![],
        }
    }

    /// Adds keys accepted unused.
    pub fn ignoring(mut self, keys: &[&str]) -> Self {
        self.ignored.extend(keys.iter().map(|k| k.to_string()));
        self
    }

    fn remapper(&self) -> Result<KeyRemapper> {
        self.renames.iter().try_fold(KeyRemapper::new(), |r, (from, to)| {
            r.add_pattern(from, to.clone()).map_err(|e| Error::Invalid(format!("key rename `{from}`: {e}")))
        })
    }

    fn adapter(&self) -> Box<dyn ModuleAdapter> {
        let widen = FloatCastAdapter::to(DType::F32);
        if self.pytorch { Box::new(PyTorchToBurnAdapter.chain(widen)) } else { Box::new(widen) }
    }
}

/// The files of one checkpoint (one `.safetensors`, or the shards of an
/// index), each opened as a burn-store `SafetensorsStore`.
pub struct SafetensorsFiles {
    stores: Vec<(PathBuf, SafetensorsStore)>,
}

impl std::fmt::Debug for SafetensorsFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.stores.iter().map(|(p, _)| p)).finish()
    }
}

fn store_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::checkpoint(path, e)
}

impl SafetensorsFiles {
    /// Opens `files` (the header of each is read and checked; the values are
    /// read when a module takes them), renaming keys and converting layouts
    /// as `map` says.
    pub fn open(files: &[PathBuf], map: &KeyMap) -> Result<Self> {
        let remapper = map.remapper()?;
        let mut stores = Vec::with_capacity(files.len());
        for path in files {
            if !path.is_file() {
                return Err(Error::io("reading", path, std::io::Error::from(std::io::ErrorKind::NotFound)));
            }
            let mut store = SafetensorsStore::from_file(path.clone())
                .remap(remapper.clone())
                .with_from_adapter(AdapterBox(map.adapter()))
                .allow_partial(true)
                .validate(true);
            // Parse the header now, so that a broken file is an error naming it.
            store.keys().map_err(|e| store_error(path, e))?;
            stores.push((path.clone(), store));
        }
        Ok(Self { stores })
    }

    /// Opens the shards of a sharded checkpoint's index
    /// (`model.safetensors.index.json`): each shard must hold exactly the
    /// tensors the index's `weight_map` places in it.
    pub fn open_sharded(index: &Path, map: &KeyMap) -> Result<Self> {
        let by_file = super::shard_map(index)?;
        let dir = index.parent().unwrap_or(Path::new("."));
        let mut files = Vec::with_capacity(by_file.len());
        for (file, keys) in by_file {
            let path = dir.join(file);
            if !path.is_file() {
                return Err(Error::io("reading", &path, std::io::Error::from(std::io::ErrorKind::NotFound)));
            }
            let held: BTreeSet<String> = SafetensorsStore::from_file(path.clone())
                .keys()
                .map_err(|e| store_error(&path, e))?
                .into_iter()
                .collect();
            if let Some(k) = keys.difference(&held).next() {
                return Err(Error::checkpoint(
                    &path,
                    format!("no tensor `{k}`, which {} places here", index.display()),
                ));
            }
            if let Some(k) = held.difference(&keys).next() {
                return Err(Error::checkpoint(
                    &path,
                    format!("tensor `{k}` is not in the weight_map of {}", index.display()),
                ));
            }
            files.push(path);
        }
        Self::open(&files, map)
    }

    /// Every stored key, after renaming.
    pub fn keys(&mut self) -> Result<Vec<String>> {
        let mut all = Vec::new();
        for (path, store) in &mut self.stores {
            all.extend(store.keys().map_err(|e| store_error(path, e))?);
        }
        Ok(all)
    }

    /// Whether a tensor is stored under `key` (after renaming).
    pub fn contains(&mut self, key: &str) -> Result<bool> {
        Ok(self.keys()?.iter().any(|k| k == key))
    }

    /// The tensor stored under `key` (after renaming), widened to `f32`, of rank `D` and shape `shape`.
    pub fn tensor<const D: usize>(&mut self, key: &str, shape: [usize; D], device: &Device) -> Result<Tensor<D>> {
        for (path, store) in &mut self.stores {
            let Some(t) = store.get_tensor(key).map_err(|e| store_error(path, e))? else { continue };
            if t.shape.as_slice() != shape.as_slice() {
                return Err(Error::checkpoint(path, format!("`{key}` has shape {:?}, expected {shape:?}", t.shape)));
            }
            let data = bridge::into_data(t.clone()).map_err(|e| store_error(path, format!("`{key}`: {e:?}")))?;
            let tensor = Tensor::<D>::from_data(data.convert_dtype(DType::F32), device);
            return finite(tensor, key).map_err(|m| Error::checkpoint(path, m));
        }
        Err(Error::checkpoint(&self.stores[0].0, format!("no tensor `{key}`")))
    }

    /// Loads every parameter of `model` from the files: each must be stored
    /// (under its module path, after renaming) with its shape, finite; every
    /// stored key must be taken, except `map.ignored` and `also_used` (the
    /// keys read with [`Self::tensor`]).
    ///
    /// The parameters are applied a group at a time (the embeddings, then
    /// each numbered layer, ...), each group from a fresh mapping of the
    /// files, so that the mapped pages of the groups already loaded leave
    /// the process's resident memory: it holds the model plus one group,
    /// not the model plus the file.
    pub fn load_into<M: Module>(&mut self, mut model: M, map: &KeyMap, also_used: &[&str]) -> Result<M> {
        let mut params = ParamPaths::default();
        model.visit(&mut params);
        let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for p in &params.paths {
            groups.entry(group_of(p)).or_default().push(p.clone());
        }
        let remapper = map.remapper()?;
        let mut applied = BTreeSet::new();
        // A stored key is unused when no group took it.
        let mut unused: Option<BTreeSet<String>> = None;
        for paths in groups.values() {
            let mut group_unused = BTreeSet::new();
            for (path, _) in &self.stores {
                let mut store = SafetensorsStore::from_file(path.clone())
                    .remap(remapper.clone())
                    .with_from_adapter(AdapterBox(map.adapter()))
                    .with_full_paths(paths.iter().cloned())
                    .allow_partial(true)
                    .validate(true);
                let result = model.load_from(&mut store).map_err(|e| store_error(path, e))?;
                applied.extend(result.applied);
                group_unused.extend(result.unused);
            }
            unused = Some(match unused {
                None => group_unused,
                Some(u) => u.intersection(&group_unused).cloned().collect(),
            });
        }
        let first = self.stores.first().map(|(p, _)| p.clone()).unwrap_or_default();
        let missing: Vec<&String> = params.paths.iter().filter(|p| !applied.contains(*p)).collect();
        if !missing.is_empty() {
            return Err(Error::checkpoint(
                &first,
                format!("{} weight(s) of the model are not stored: {}", missing.len(), list(&missing)),
            ));
        }
        let unused = unused.unwrap_or_default();
        let extra: Vec<&String> = unused
            .iter()
            .filter(|k| !also_used.contains(&k.as_str()) && !map.ignored.iter().any(|i| k.contains(i.as_str())))
            .collect();
        if !extra.is_empty() {
            return Err(Error::checkpoint(
                &first,
                format!("{} stored tensor(s) not used by the model: {}", extra.len(), list(&extra)),
            ));
        }
        let mut check = Finite::default();
        model.visit(&mut check);
        match check.bad {
            Some(p) => Err(Error::checkpoint(&first, format!("`{p}` holds a non-finite value: values must be finite"))),
            None => Ok(model),
        }
    }
}

/// The group a parameter is loaded with: its path up to the first index
/// (`layers.3`), else its first segment (`embeddings_norm`).
fn group_of(path: &str) -> String {
    let parts: Vec<&str> = path.split('.').collect();
    match parts.iter().position(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())) {
        Some(i) => parts[..=i].join("."),
        None => parts[0].to_string(),
    }
}

fn list(keys: &[&String]) -> String {
    let shown: Vec<&str> = keys.iter().take(5).map(|k| k.as_str()).collect();
    format!("{}{}", shown.join(", "), if keys.len() > 5 { ", ..." } else { "" })
}

/// burn-store takes adapters by value; the boxed one is forwarded.
struct AdapterBox(Box<dyn ModuleAdapter>);

impl ModuleAdapter for AdapterBox {
    fn adapt(
        &self,
        tensor: burn::store::burn_pack::Tensor,
        ctx: burn::store::ModuleContext<'_>,
    ) -> burn::store::burn_pack::Tensor {
        self.0.adapt(tensor, ctx)
    }
    fn get_alternative_param_name(&self, name: &str, module_type: &str) -> Option<String> {
        self.0.get_alternative_param_name(name, module_type)
    }
    fn clone_box(&self) -> Box<dyn ModuleAdapter> {
        Box::new(AdapterBox(self.0.clone_box()))
    }
}

/// `t` if every value is finite (`0 · x` is NaN exactly for infinite and NaN `x`).
fn finite<const D: usize>(t: Tensor<D>, key: &str) -> std::result::Result<Tensor<D>, String> {
    let probe: f32 = t.clone().mul_scalar(0.0).sum().into_scalar();
    if probe.is_finite() { Ok(t) } else { Err(format!("`{key}` holds a non-finite value: values must be finite")) }
}

/// The module path of every float parameter (`layers.0.self_attn.query.weight`).
#[derive(Default)]
struct ParamPaths {
    stack: Vec<String>,
    paths: Vec<String>,
}

impl ModuleVisitor for ParamPaths {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.stack.push(name.to_string());
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.stack.pop();
    }
    fn visit_float<const D: usize>(&mut self, _: &Param<Tensor<D>>) {
        self.paths.push(self.stack.join("."));
    }
}

/// The first float parameter holding a NaN or an infinity.
#[derive(Default)]
struct Finite {
    stack: Vec<String>,
    bad: Option<String>,
}

impl ModuleVisitor for Finite {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.stack.push(name.to_string());
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.stack.pop();
    }
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
        if self.bad.is_none() && finite(p.val(), "").is_err() {
            self.bad = Some(self.stack.join("."));
        }
    }
}
