//! The CNN models with PyTorch's parameter names, for PyTorch to load.

use std::path::Path;

use crate::models::lenet::LeNet5;
use dl_core::Result;
use dl_core::weights::StateDictWriter;

/// Writes `m`'s weights under the `state_dict()` names of the PyTorch LeNet-5
/// of `tools/parity/make_fixtures.py` (`c1`, `c2`: `nn.Conv2d`; `f1`..`f3`:
/// `nn.Linear`), each key after `prefix`.
pub fn put_lenet5(m: &LeNet5, w: &mut StateDictWriter, prefix: &str) -> Result<()> {
    w.put_conv2d(&format!("{prefix}c1."), &m.c1)?;
    w.put_conv2d(&format!("{prefix}c2."), &m.c2)?;
    for (name, l) in [("f1", &m.f1), ("f2", &m.f2), ("f3", &m.f3)] {
        w.put_linear(&format!("{prefix}{name}.weight"), &format!("{prefix}{name}.bias"), l)?;
    }
    Ok(())
}

/// Saves `m` as a `.safetensors` state dict that PyTorch's LeNet-5 loads
/// (`model.load_state_dict(safetensors.torch.load_file(path))`).
pub fn save_lenet5(m: &LeNet5, path: impl AsRef<Path>) -> Result<()> {
    StateDictWriter::save_to(path, |w| put_lenet5(m, w, ""))
}
