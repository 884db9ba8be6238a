//! Models trained by this crate's examples, shipped inside it: one line loads
//! each, already trained, with the figure it reached (docs/cnn.md).

use burn::tensor::Device;
use dl_core::Result;
use dl_core::pretrained::Pretrained;

use crate::models::lenet::{LeNet5, LeNet5Config};

/// LeNet-5 trained on MNIST's 60,000 training images by the `mnist` example.
/// Inputs are `[batch, 1, 28, 28]` pixels scaled to `[0, 1]` and standardised
/// with [`crate::recipes::MNIST_MEAN_STD`] (what [`crate::recipes::load_mnist`]
/// returns); outputs are the logits of the digits 0-9.
pub const LENET5_MNIST: Pretrained = Pretrained {
    name: "lenet5-mnist",
    config: include_str!("../pretrained/lenet5-mnist/config.json"),
    weights: include_bytes!("../pretrained/lenet5-mnist/model.bpk"),
    figure: "99.25% accuracy on MNIST's 10,000 test images",
    command: "cargo run -p dl-cnn --release --example mnist -- --model lenet",
};

/// [`LENET5_MNIST`] on `device`.
pub fn lenet5_mnist(device: &Device) -> Result<LeNet5> {
    Ok(LENET5_MNIST.load::<LeNet5Config>(device)?.1)
}
