//! The DCGAN generator with PyTorch's parameter names, for PyTorch to load.
//!
//! The matching PyTorch module (`DcGenerator` in
//! `tools/parity/check_exported.py`): `fc` `nn.Linear(latent + classes, 2b·(s/4)²)`,
//! `bn0` `nn.BatchNorm2d(2b)`, `up1` `nn.ConvTranspose2d(2b, b, 4, 2, 1)`,
//! `bn1` `nn.BatchNorm2d(b)`, `up2` `nn.ConvTranspose2d(b, channels, 4, 2, 1)`,
//! `embed` `nn.Embedding(classes, classes)` when conditional;
//! `tanh(up2(relu(bn1(up1(relu(bn0(fc([z, embed(y)]).view(B, 2b, s/4, s/4))))))))`.

use std::path::Path;

use crate::models::dcgan::DcGenerator;
use dl_core::Result;
use dl_core::weights::StateDictWriter;

/// Writes `g`'s weights and batch-norm statistics under the PyTorch
/// module's `state_dict()` names, each key after `prefix`.
pub fn put_dcgan_generator(g: &DcGenerator, w: &mut StateDictWriter, prefix: &str) -> Result<()> {
    w.put_linear(&format!("{prefix}fc.weight"), &format!("{prefix}fc.bias"), &g.fc)?;
    w.put_batch_norm(&format!("{prefix}bn0."), &g.bn0)?;
    w.put_conv_transpose2d(&format!("{prefix}up1."), &g.up1)?;
    w.put_batch_norm(&format!("{prefix}bn1."), &g.bn1)?;
    w.put_conv_transpose2d(&format!("{prefix}up2."), &g.up2)?;
    if let Some(e) = &g.embed {
        w.put(format!("{prefix}embed.weight"), e.weight.val())?;
    }
    Ok(())
}

/// Saves `g` as a `.safetensors` state dict that the PyTorch module above loads.
pub fn save_dcgan_generator(g: &DcGenerator, path: impl AsRef<Path>) -> Result<()> {
    StateDictWriter::save_to(path, |w| put_dcgan_generator(g, w, ""))
}
