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
    layer.weight = Param::from_tensor(fx.param::<2>(&format!("{name}.weight"), device)?.transpose());
    layer.bias = Some(fx.param_p(&format!("{name}.bias"), device)?);
    Ok(layer)
}

fn run_lenet5(fx: &Fixture, device: &Device) -> Result<Vec<NamedOutput>> {
    let mut m = LeNet5Config::new().init(device)?;
    m.c1.weight = fx.param_p("c1.weight", device)?;
    m.c1.bias = Some(fx.param_p("c1.bias", device)?);
    m.c2.weight = fx.param_p("c2.weight", device)?;
    m.c2.bias = Some(fx.param_p("c2.bias", device)?);
    m.f1 = linear(fx, m.f1, "f1", device)?;
    m.f2 = linear(fx, m.f2, "f2", device)?;
    m.f3 = linear(fx, m.f3, "f3", device)?;
    let y = m.forward(fx.float::<4>("input", device)?);
    Ok(vec![output("output", y)?])
}
