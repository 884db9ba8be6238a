//! Generators trained by this crate's examples, shipped inside it: one line
//! loads each, already trained, with the figure it reached (docs/gan.md).

use burn::tensor::Device;
use dl_core::pretrained::Pretrained;
use dl_core::{ModelConfig, Result};

use crate::models::dcgan::{DcGenerator, DcganConfig};

/// The conditional DCGAN generator of the `cgan_mnist` example (3 epochs on
/// MNIST; weight-averaged, batch-norm statistics measured again): asked for
/// digit `k` with a latent code of [`DcganConfig::latent_dim`] standard
/// normal values, it draws a 28x28 digit `k` with pixels in `[-1, 1]`.
pub const DCGAN_MNIST_CONDITIONAL: Pretrained = Pretrained {
    name: "dcgan-mnist-conditional",
    config: include_str!("../pretrained/dcgan-mnist-conditional/config.json"),
    weights: include_bytes!("../pretrained/dcgan-mnist-conditional/generator.bpk"),
    figure: "asked digit k, the example's LeNet-5 scorer agrees on 98.7% of 10,000 samples (97.6% confident, Frechet distance 8.18)",
    command: "cargo run -p dl-gan --release --example cgan_mnist -- --epochs 3",
};

/// [`DCGAN_MNIST_CONDITIONAL`]'s generator on `device`, with its config
/// (for the latent width and the classes).
pub fn dcgan_mnist_conditional(device: &Device) -> Result<(DcganConfig, DcGenerator)> {
    let config: DcganConfig = DCGAN_MNIST_CONDITIONAL.load_config()?;
    let generator = DCGAN_MNIST_CONDITIONAL.weights_into(config.init(device)?.generator)?;
    Ok((config, generator))
}
