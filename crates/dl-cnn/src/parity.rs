//! The `lenet5` parity kind: LeNet-5 against PyTorch's reference model.

use burn::module::Param;
use burn::nn::Linear;
use burn::tensor::Device;

use crate::models::ImageClassifier;
use crate::models::lenet::LeNet5Config;
use dl_core::ModelConfig;
use dl_core::Result;
use dl_core::parity::{Fixture, NamedOutput, Registry, output};

/// Adds the kinds of this crate to `registry`.
pub fn register(registry: &mut Registry) {
    registry.register("lenet5", run_lenet5);
}

fn linear(fx: &Fixture, mut layer: Linear, name: &str, device: &Device) -> Result<Linear> {
    // PyTorch [out, in] -> burn [in, out].
    let [d_in, d_out] = layer.weight.dims();
    fx.check_shape(&format!("{name}.weight"), &[d_out, d_in])?;
    layer.weight = Param::from_tensor(fx.param::<2>(&format!("{name}.weight"), device)?.transpose());
    let bias = layer.bias.take().ok_or_else(|| dl_core::Error::Internal(format!("`{name}` has no bias")))?;
    layer.bias = Some(fx.param_like(&format!("{name}.bias"), &bias, device)?);
    Ok(layer)
}

fn run_lenet5(fx: &Fixture, device: &Device) -> Result<Vec<NamedOutput>> {
    let mut m = LeNet5Config::new().init(device)?;
    for (conv, name) in [(&mut m.c1, "c1"), (&mut m.c2, "c2")] {
        conv.weight = fx.param_like(&format!("{name}.weight"), &conv.weight, device)?;
        let bias = conv.bias.take().ok_or_else(|| dl_core::Error::Internal(format!("`{name}` has no bias")))?;
        conv.bias = Some(fx.param_like(&format!("{name}.bias"), &bias, device)?);
    }
    m.f1 = linear(fx, m.f1, "f1", device)?;
    m.f2 = linear(fx, m.f2, "f2", device)?;
    m.f3 = linear(fx, m.f3, "f3", device)?;
    let y = m.forward(fx.float::<4>("input", device)?);
    Ok(vec![output("output", y)?])
}
