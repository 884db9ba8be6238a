//! Saving and loading weights, configs and training state.
//!
//! Weights are burnpack files (`.bpk`, burn's native record format); configs
//! are JSON beside them. Loading goes through `try_load_file`, so weights of
//! another architecture or size give an [`Error::Checkpoint`] that names the
//! file and the first mismatch instead of a panic.

use std::path::Path;

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::tensor::Device;

use crate::config::{ModelConfig, load_json, save_json};
use crate::{Error, Result};

/// File name of the weights inside a model folder.
pub const WEIGHTS_FILE: &str = "model.bpk";
/// File name of the config inside a model folder.
pub const CONFIG_FILE: &str = "config.json";

fn ensure_parent(path: &Path) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::io("creating", parent, e))?;
    }
    Ok(())
}

/// Writes a module's weights to a burnpack file.
pub fn save_weights<M: Module>(model: &M, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    ensure_parent(path)?;
    model.clone().save_file(path).map_err(|e| Error::checkpoint(path, e))
}

/// The whole content of a weights file, read now. burn's file reader hands
/// out tensors that read the file when they are first used, so a model
/// loaded from a checkpoint that is later deleted or rewritten would break or
/// silently change; reading eagerly makes the loaded values final.
fn read_whole(path: &Path) -> Result<burn::tensor::Bytes> {
    if !path.is_file() {
        return Err(Error::checkpoint(path, "file not found"));
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io("reading", path, e))?;
    Ok(burn::tensor::Bytes::from_bytes_vec(bytes))
}

/// Loads weights into `model`; any missing, extra or differently shaped tensor is an error.
pub fn load_weights<M: Module>(model: M, path: impl AsRef<Path>) -> Result<M> {
    let path = path.as_ref();
    let record = burn::store::ModuleRecord::from_bytes(read_whole(path)?).map_err(|e| Error::checkpoint(path, e))?;
    model.try_load_record(record).map_err(|e| Error::checkpoint(path, e))
}

/// Loads an optimizer's state saved with `ModuleOptimizer::save`, read whole (see [`load_weights`]).
pub fn load_optimizer(optim: ModuleOptimizer, path: impl AsRef<Path>) -> Result<ModuleOptimizer> {
    let path = path.as_ref();
    optim.from_bytes(read_whole(path)?).map_err(|e| Error::checkpoint(path, e))
}

/// A copy of a training `model` (on an autodiff device) that shares no state with it.
///
/// `Clone` on a burn module shares batch normalisation's running statistics
/// (they sit behind one reference-counted lock), so training the original, or
/// loading weights into the clone, changes both. This copy has its own.
pub fn detached_copy<M: Module>(model: &M) -> M {
    model.valid().train()
}

/// Saves `model` and its `config` into folder `dir` (`model.bpk` + `config.json`).
pub fn save_model<C: ModelConfig>(config: &C, model: &C::Model, dir: impl AsRef<Path>) -> Result<()> {
    let dir = dir.as_ref();
    save_json(config, dir.join(CONFIG_FILE))?;
    save_weights(model, dir.join(WEIGHTS_FILE))
}

/// Loads a model saved by [`save_model`]: the config is validated, the model
/// built on `device`, then the weights applied.
pub fn load_model<C: ModelConfig>(dir: impl AsRef<Path>, device: &Device) -> Result<(C, C::Model)> {
    let dir = dir.as_ref();
    let config: C = load_json(dir.join(CONFIG_FILE))?;
    let model = config.init(device)?;
    let model = load_weights(model, dir.join(WEIGHTS_FILE))?;
    Ok((config, model))
}
