//! Saving and loading weights, configs and training state.
//!
//! Weights and optimizer states are burnpack files (`.bpk`, burn's native
//! record format) written atomically and sealed with a CRC-32 of their
//! tensors; configs are JSON beside them. Loading checks the checksum, refuses
//! non-finite values, and applies the record with `try_load_record`, so
//! corrupted files and weights of another architecture or size give an
//! [`Error::Checkpoint`] naming the file and the problem instead of a panic
//! or a silently different model.

use std::path::Path;

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::tensor::{Bytes, DType, Device};

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

/// Metadata key of the CRC-32 that every weights and optimizer file written here carries.
const CHECKSUM_KEY: &str = "dl.crc32";

/// Writes a module's weights to a burnpack file (see [`load_weights`]).
pub fn save_weights<M: Module>(model: &M, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let bytes = model.clone().into_record().into_bytes().map_err(|e| Error::checkpoint(path, e))?;
    write_sealed(bytes, path)
}

/// Writes an optimizer's state to a burnpack file (see [`load_optimizer`]).
pub fn save_optimizer(optim: &ModuleOptimizer, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    write_sealed(optim.into_bytes().map_err(|e| Error::checkpoint(path, e))?, path)
}

/// Loads weights into `model`. A file whose checksum does not match its
/// tensors, a non-finite value, and any missing, extra or differently shaped
/// tensor are errors naming the file.
pub fn load_weights<M: Module>(model: M, path: impl AsRef<Path>) -> Result<M> {
    let path = path.as_ref();
    let record = burn::store::ModuleRecord::from_bytes(read_checked(path)?).map_err(|e| Error::checkpoint(path, e))?;
    model.try_load_record(record).map_err(|e| Error::checkpoint(path, e))
}

/// Loads an optimizer's state saved with [`save_optimizer`] (or burn's
/// `ModuleOptimizer::save`), checked as in [`load_weights`].
pub fn load_optimizer(optim: ModuleOptimizer, path: impl AsRef<Path>) -> Result<ModuleOptimizer> {
    let path = path.as_ref();
    optim.from_bytes(read_checked(path)?).map_err(|e| Error::checkpoint(path, e))
}

/// The typed scalars of a pack (an optimizer's step count, for one).
type Scalars = std::collections::BTreeMap<String, burn_pack::Scalar>;

/// CRC-32 of the scalars of a pack and its tensors in name order: each
/// tensor's name, dtype, shape and bytes. `each` sees every tensor's bytes
/// too (one read of each tensor for both).
fn checksum(
    tensors: &[burn_pack::Tensor],
    scalars: &Scalars,
    mut each: impl FnMut(&burn_pack::Tensor, &[u8]) -> Result<()>,
) -> Result<u32> {
    let mut order: Vec<&burn_pack::Tensor> = tensors.iter().collect();
    order.sort_by(|a, b| a.name.cmp(&b.name));
    let mut h = crc32fast::Hasher::new();
    for (k, v) in scalars {
        h.update(format!("{k}={v:?};").as_bytes());
    }
    for t in order {
        let bytes = t.to_bytes().map_err(|e| Error::Invalid(format!("reading tensor `{}`: {e}", t.name)))?;
        h.update(t.name.as_bytes());
        h.update(format!("{:?}{:?}", t.dtype, t.shape.as_slice()).as_bytes());
        h.update(&bytes);
        each(t, &bytes)?;
    }
    Ok(h.finalize())
}

/// Writes burnpack `bytes` to `path`, with the CRC-32 of its tensors in its
/// metadata, through a synced temporary file and a rename (burn-pack's
/// atomic write): `path` holds the old file or the new one, never a part.
fn write_sealed(bytes: Bytes, path: &Path) -> Result<()> {
    ensure_parent(path)?;
    let fail = |e: burn_pack::Error| Error::checkpoint(path, e);
    let reader = burn_pack::Reader::from_bytes(bytes).map_err(fail)?;
    let metadata = reader.metadata().clone();
    let scalars = reader.scalars().clone();
    let tensors = reader.into_tensors().map_err(fail)?;
    let sum = checksum(&tensors, &scalars, |_, _| Ok(()))?;
    let mut writer = burn_pack::Writer::new(tensors).auto_extension(false);
    for (k, v) in &metadata {
        writer = writer.with_metadata(k, v);
    }
    for (k, v) in scalars {
        writer = writer.with_scalar(&k, v);
    }
    writer.with_metadata(CHECKSUM_KEY, &format!("{sum:08x}")).write_to_file(path).map_err(fail)
}

/// A burnpack file read whole and checked: the CRC-32 written by
/// [`write_sealed`] must match its tensors (a file burn wrote itself has
/// none and is accepted), and every floating-point value must be finite.
///
/// Reading eagerly also makes the loaded values final: burn's file reader
/// hands out tensors that read the file when first used, so a model loaded
/// from a checkpoint that is later rewritten would silently change.
fn read_checked(path: &Path) -> Result<Bytes> {
    if !path.is_file() {
        return Err(Error::checkpoint(path, "file not found"));
    }
    let raw = std::fs::read(path).map_err(|e| Error::io("reading", path, e))?;
    check_bytes(raw, path)
}

/// [`read_checked`]'s checks on a burnpack file already in memory; errors
/// name `path` (where the bytes came from).
fn check_bytes(raw: Vec<u8>, path: &Path) -> Result<Bytes> {
    let bytes = Bytes::from_bytes_vec(raw);
    let fail = |e: burn_pack::Error| Error::checkpoint(path, e);
    let reader = burn_pack::Reader::from_bytes(bytes.clone()).map_err(fail)?;
    let stored = reader.metadata().get(CHECKSUM_KEY).cloned();
    let scalars = reader.scalars().clone();
    let tensors = reader.into_tensors().map_err(fail)?;
    let finite = |t: &burn_pack::Tensor, data: &[u8]| match first_non_finite(t.dtype, data) {
        Some((i, v)) => {
            Err(Error::checkpoint(path, format!("tensor `{}` holds {v} at index {i}: values must be finite", t.name)))
        }
        None => Ok(()),
    };
    let sum = format!("{:08x}", checksum(&tensors, &scalars, finite)?);
    // A file burn wrote itself has no checksum to compare.
    if let Some(stored) = stored.filter(|stored| *stored != sum) {
        return Err(Error::checkpoint(
            path,
            format!("corrupted: its tensors give checksum {sum}, it was written with {stored}"),
        ));
    }
    Ok(bytes)
}

/// The first non-finite value of little-endian floats `data` of `dtype`
/// (other dtypes have none): its index and the value.
pub(crate) fn first_non_finite(dtype: DType, data: &[u8]) -> Option<(usize, f64)> {
    let bad = |(i, v): (usize, f64)| (!v.is_finite()).then_some((i, v));
    match dtype {
        DType::F32 | DType::Flex32 => {
            data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64).enumerate().find_map(bad)
        }
        DType::F64 => data
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
            .enumerate()
            .find_map(bad),
        DType::F16 | DType::BF16 => {
            let widen = if dtype == DType::F16 { crate::weights::f16_to_f32 } else { crate::weights::bf16_to_f32 };
            data.chunks_exact(2).map(|b| widen(u16::from_le_bytes([b[0], b[1]])) as f64).enumerate().find_map(bad)
        }
        _ => None,
    }
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

/// Builds a model from a config (JSON text) and burnpack weights held in
/// memory, as [`load_model`] does from a folder: for checkpoints shipped
/// inside a crate (`include_bytes!`). `origin` names them in errors.
pub fn load_model_from_bytes<C: ModelConfig>(
    origin: &str,
    config_json: &str,
    weights: &[u8],
    device: &Device,
) -> Result<(C, C::Model)> {
    let path = Path::new(origin);
    let config: C =
        serde_json::from_str(config_json).map_err(|e| Error::Json { path: path.join(CONFIG_FILE), source: e })?;
    let model = load_weights_from_bytes(config.init(device)?, origin, weights)?;
    Ok((config, model))
}

/// [`load_weights`] from burnpack bytes held in memory; errors name
/// `origin`'s weights file.
pub fn load_weights_from_bytes<M: Module>(model: M, origin: &str, weights: &[u8]) -> Result<M> {
    let path = Path::new(origin).join(WEIGHTS_FILE);
    let record = burn::store::ModuleRecord::from_bytes(check_bytes(weights.to_vec(), &path)?)
        .map_err(|e| Error::checkpoint(&path, e))?;
    model.try_load_record(record).map_err(|e| Error::checkpoint(&path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{device, temp_dir, values};
    use burn::nn::{Linear, LinearConfig};

    fn weights(l: &Linear) -> Vec<f32> {
        values(l.weight.val())
    }

    /// The byte offset of the first occurrence of `value`'s bytes in `file`.
    fn offset_of(file: &[u8], value: f32) -> usize {
        let needle = value.to_le_bytes();
        file.windows(4).position(|w| w == needle).expect("value in file")
    }

    #[test]
    fn a_flipped_bit_in_a_tensor_is_refused() {
        let d = device();
        let model = LinearConfig::new(3, 2).init(&d);
        let dir = temp_dir("dl-core", "sealed");
        let path = dir.join("model.bpk");
        save_weights(&model, &path).unwrap();
        let back = load_weights(LinearConfig::new(3, 2).init(&d), &path).unwrap();
        assert_eq!(weights(&model), weights(&back));
        // One bit of one weight: still a finite float, a plausible model.
        let mut bytes = std::fs::read(&path).unwrap();
        let at = offset_of(&bytes, weights(&model)[4]);
        bytes[at] ^= 0x01;
        std::fs::write(&path, &bytes).unwrap();
        let e = load_weights(LinearConfig::new(3, 2).init(&d), &path).unwrap_err().to_string();
        assert!(e.contains("model.bpk") && e.contains("corrupted"), "{e}");
    }

    #[test]
    fn non_finite_weights_are_refused_and_burns_own_files_load() {
        let d = device();
        let dir = temp_dir("dl-core", "non-finite");
        let mut model = LinearConfig::new(2, 2).init(&d);
        let mut w = weights(&model);
        w[3] = f32::NAN;
        model.weight = burn::module::Param::from_tensor(burn::tensor::Tensor::from_data(
            burn::tensor::TensorData::new(w, [2, 2]),
            &d,
        ));
        save_weights(&model, dir.join("nan.bpk")).unwrap();
        let e = load_weights(LinearConfig::new(2, 2).init(&d), dir.join("nan.bpk")).unwrap_err().to_string();
        assert!(e.contains("nan.bpk") && e.contains("`weight`") && e.contains("NaN at index 3"), "{e}");
        // A file burn wrote itself carries no checksum and loads.
        let plain = LinearConfig::new(2, 2).init(&d);
        plain.clone().save_file(dir.join("plain.bpk")).unwrap();
        let back = load_weights(LinearConfig::new(2, 2).init(&d), dir.join("plain.bpk")).unwrap();
        assert_eq!(weights(&plain), weights(&back));
    }

    #[test]
    fn sealing_keeps_every_scalar_and_tensor_of_the_pack() {
        // An optimizer state keeps its step count as a scalar: losing it
        // changes Adam's bias correction after a resume.
        let raw: Vec<u8> = [1.5f32, -2.0].iter().flat_map(|v| v.to_le_bytes()).collect();
        let t = burn_pack::Tensor::new("m".into(), DType::F32, vec![2usize], Some(3), Bytes::from_bytes_vec(raw));
        let pack = burn_pack::Writer::new(vec![t])
            .with_scalar("time", burn_pack::Scalar::UInt(7))
            .with_metadata("producer", "test")
            .into_bytes()
            .unwrap();
        let path = temp_dir("dl-core", "scalars").join("optim.bpk");
        write_sealed(pack, &path).unwrap();
        let back = burn_pack::Reader::from_bytes(read_checked(&path).unwrap()).unwrap();
        assert_eq!(format!("{:?}", back.scalars().get("time")), format!("{:?}", Some(burn_pack::Scalar::UInt(7))));
        assert_eq!(back.metadata()["producer"], "test");
        let t = back.into_tensors().unwrap().remove(0);
        assert_eq!((t.name.as_str(), t.param_id), ("m", Some(3)));
        assert_eq!(
            &t.to_bytes().unwrap()[..],
            &[1.5f32, -2.0].iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<_>>()[..]
        );
    }

    #[test]
    fn non_finite_half_precision_values_are_found() {
        let f16 = [0x3c00u16, 0xfc00, 0x7e00].iter().flat_map(|h| h.to_le_bytes()).collect::<Vec<_>>();
        assert_eq!(first_non_finite(DType::F16, &f16[..2]), None);
        assert_eq!(first_non_finite(DType::F16, &f16), Some((1, f64::NEG_INFINITY)));
        assert!(first_non_finite(DType::F16, &f16[4..]).is_some_and(|(i, v)| i == 0 && v.is_nan()));
        let bf16 = [0x3f80u16, 0x7f80].iter().flat_map(|h| h.to_le_bytes()).collect::<Vec<_>>();
        assert_eq!(first_non_finite(DType::BF16, &bf16), Some((1, f64::INFINITY)));
        assert_eq!(first_non_finite(DType::F32, &1e30f32.to_le_bytes()), None);
        assert_eq!(first_non_finite(DType::I32, &[0xff; 8]), None);
    }
}
