//! The CNN models with PyTorch's parameter names, for PyTorch to load.

use std::path::Path;

use crate::models::lenet::LeNet5;
use crate::models::resnet::ResNet;
use crate::models::textcnn::TextCnn;
use crate::models::vgg::Vgg;
use dl_core::weights::StateDictWriter;
use dl_core::{Error, Result};

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

/// Writes a ResNet under torchvision's `resnet18` names: `conv1` and `bn1`
/// (the stem), `layer{s}.{j}.conv1`, `.bn1`, `.conv2`, `.bn2` and
/// `.downsample.0` / `.downsample.1` (block `j` of stage `s`, counted from 1
/// and 0), and `fc`. `layers` holds the blocks per stage, as in the model's
/// config. The small stem is a 3x3 `conv1` with stride 1 and no max pool.
pub fn put_resnet(m: &ResNet, layers: &[usize], w: &mut StateDictWriter, prefix: &str) -> Result<()> {
    if layers.iter().sum::<usize>() != m.blocks.len() {
        return Err(Error::Invalid(format!(
            "put_resnet: layers {layers:?} hold {} blocks, the model has {}",
            layers.iter().sum::<usize>(),
            m.blocks.len()
        )));
    }
    w.put_conv2d(&format!("{prefix}conv1."), &m.stem_conv)?;
    w.put_batch_norm(&format!("{prefix}bn1."), &m.stem_bn)?;
    let mut blocks = m.blocks.iter();
    for (stage, &n) in layers.iter().enumerate() {
        for (j, b) in blocks.by_ref().take(n).enumerate() {
            let p = format!("{prefix}layer{}.{j}.", stage + 1);
            w.put_conv2d(&format!("{p}conv1."), &b.conv1)?;
            w.put_batch_norm(&format!("{p}bn1."), &b.bn1)?;
            w.put_conv2d(&format!("{p}conv2."), &b.conv2)?;
            w.put_batch_norm(&format!("{p}bn2."), &b.bn2)?;
            if let Some(d) = &b.downsample {
                w.put_conv2d(&format!("{p}downsample.0."), &d.conv)?;
                w.put_batch_norm(&format!("{p}downsample.1."), &d.bn)?;
            }
        }
    }
    w.put_linear(&format!("{prefix}fc.weight"), &format!("{prefix}fc.bias"), &m.fc)
}

/// Writes a VGG under torchvision's `nn.Sequential` indices: `features.{i}`
/// counts each convolution, its batch norm, its ReLU and each block's pool;
/// `classifier.{i}` counts Dropout, Linear and ReLU for each hidden layer,
/// then the final Dropout and Linear (the order the model applies them).
pub fn put_vgg(m: &Vgg, w: &mut StateDictWriter, prefix: &str) -> Result<()> {
    let mut i = 0;
    for (u, unit) in m.units.iter().enumerate() {
        w.put_conv2d(&format!("{prefix}features.{i}."), &unit.conv)?;
        i += 1;
        if let Some(bn) = &unit.bn {
            w.put_batch_norm(&format!("{prefix}features.{i}."), bn)?;
            i += 1;
        }
        i += 1 + usize::from(m.ends_block(u));
    }
    for (j, layer) in m.hidden.iter().chain([&m.classifier]).enumerate() {
        let k = 3 * j + 1;
        w.put_linear(&format!("{prefix}classifier.{k}.weight"), &format!("{prefix}classifier.{k}.bias"), layer)?;
    }
    Ok(())
}

/// Writes a TextCNN under the names of its PyTorch twin: `embedding`
/// (`nn.Embedding`), `convs.{i}` (`nn.Conv1d` per filter width) and `fc`.
pub fn put_textcnn(m: &TextCnn, w: &mut StateDictWriter, prefix: &str) -> Result<()> {
    w.put(format!("{prefix}embedding.weight"), m.embedding.weight.val())?;
    for (i, c) in m.convs.iter().enumerate() {
        w.put_conv1d(&format!("{prefix}convs.{i}."), c)?;
    }
    w.put_linear(&format!("{prefix}fc.weight"), &format!("{prefix}fc.bias"), &m.fc)
}

/// Saves a ResNet as [`put_resnet`] names it, for `load_state_dict`.
pub fn save_resnet(m: &ResNet, layers: &[usize], path: impl AsRef<Path>) -> Result<()> {
    StateDictWriter::save_to(path, |w| put_resnet(m, layers, w, ""))
}

/// Saves a VGG as [`put_vgg`] names it, for `load_state_dict`.
pub fn save_vgg(m: &Vgg, path: impl AsRef<Path>) -> Result<()> {
    StateDictWriter::save_to(path, |w| put_vgg(m, w, ""))
}

/// Saves a TextCNN as [`put_textcnn`] names it, for `load_state_dict`.
pub fn save_textcnn(m: &TextCnn, path: impl AsRef<Path>) -> Result<()> {
    StateDictWriter::save_to(path, |w| put_textcnn(m, w, ""))
}
