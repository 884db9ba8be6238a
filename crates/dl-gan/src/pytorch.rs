//! The generators with PyTorch's parameter names, for PyTorch to load (the
//! matching modules are `DcGenerator`, `MlpGenerator` and `SpecGenerator` in
//! `tools/parity/check_exported.py`).
//!
//! DCGAN: `fc` `nn.Linear(latent + classes, 2b·(s/4)²)`,
//! `bn0` `nn.BatchNorm2d(2b)`, `up1` `nn.ConvTranspose2d(2b, b, 4, 2, 1)`,
//! `bn1` `nn.BatchNorm2d(b)`, `up2` `nn.ConvTranspose2d(b, channels, 4, 2, 1)`,
//! `embed` `nn.Embedding(classes, classes)` when conditional;
//! `tanh(up2(relu(bn1(up1(relu(bn0(fc([z, embed(y)]).view(B, 2b, s/4, s/4))))))))`.

use std::path::Path;

use crate::models::dcgan::DcGenerator;
use crate::models::mlp::MlpGenerator;
use crate::models::specgan::SpecGenerator;
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

/// Writes an MLP generator: `hidden.{i}` (`nn.Linear`, ReLU after each),
/// `out` (`nn.Linear`, tanh after it when the model was built with
/// `tanh_output`), `embed` (`nn.Embedding(classes, classes)`, concatenated
/// to `z`) when conditional.
pub fn put_mlp_generator(g: &MlpGenerator, w: &mut StateDictWriter, prefix: &str) -> Result<()> {
    for (i, l) in g.hidden.iter().enumerate() {
        w.put_linear(&format!("{prefix}hidden.{i}.weight"), &format!("{prefix}hidden.{i}.bias"), l)?;
    }
    w.put_linear(&format!("{prefix}out.weight"), &format!("{prefix}out.bias"), &g.out)?;
    if let Some(e) = &g.embed {
        w.put(format!("{prefix}embed.weight"), e.weight.val())?;
    }
    Ok(())
}

/// Saves an MLP generator as a `.safetensors` state dict (names of [`put_mlp_generator`]).
pub fn save_mlp_generator(g: &MlpGenerator, path: impl AsRef<Path>) -> Result<()> {
    StateDictWriter::save_to(path, |w| put_mlp_generator(g, w, ""))
}

/// Writes a SpecGAN generator: `fc` (`nn.Linear`), `norms.{i}`
/// (`nn.BatchNorm2d`, the first on the smallest maps), `ups.{i}`
/// (`nn.ConvTranspose2d(c_i, c_{i+1}, 4, 2, 1)`), `embed` when conditional.
pub fn put_spec_generator(g: &SpecGenerator, w: &mut StateDictWriter, prefix: &str) -> Result<()> {
    w.put_linear(&format!("{prefix}fc.weight"), &format!("{prefix}fc.bias"), &g.fc)?;
    for (i, bn) in g.norms.iter().enumerate() {
        w.put_batch_norm(&format!("{prefix}norms.{i}."), bn)?;
    }
    for (i, up) in g.ups.iter().enumerate() {
        w.put_conv_transpose2d(&format!("{prefix}ups.{i}."), up)?;
    }
    if let Some(e) = &g.embed {
        w.put(format!("{prefix}embed.weight"), e.weight.val())?;
    }
    Ok(())
}

/// Saves a SpecGAN generator as a `.safetensors` state dict (names of [`put_spec_generator`]).
pub fn save_spec_generator(g: &SpecGenerator, path: impl AsRef<Path>) -> Result<()> {
    StateDictWriter::save_to(path, |w| put_spec_generator(g, w, ""))
}
