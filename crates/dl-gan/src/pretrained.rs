//! Generators trained by this crate's examples, shipped inside it: one line
//! loads each, already trained, with the figure it reached (docs/gan.md):
//! the conditional DCGAN and the InfoGAN on MNIST.

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

/// The InfoGAN generator of the `dcgan_mnist` example (18 epochs on MNIST,
/// no labels read; weight-averaged, batch-norm statistics measured again):
/// its categorical code (10 values, passed where a conditional generator
/// takes its label) selects a kind of digit the training found on its own,
/// with a latent code of [`DcganConfig::latent_dim`] standard normal values.
pub const INFOGAN_MNIST: Pretrained = Pretrained {
    name: "infogan-mnist",
    config: include_str!("../pretrained/infogan-mnist/config.json"),
    weights: include_bytes!("../pretrained/infogan-mnist/generator.bpk"),
    figure: "84.9% of 10,000 samples confidently classified by the example's LeNet-5, all ten digits present, Frechet distance 20.96 (codes scaled by 0.5: 90.1%)",
    command: "cargo run -p dl-gan --release --example dcgan_mnist -- --info-codes 10 --epochs 18 --truncation 0.5 --keep-best 0.5",
};

/// [`INFOGAN_MNIST`]'s generator on `device`, with its config (for the latent
/// width and the number of code values).
pub fn infogan_mnist(device: &Device) -> Result<(DcganConfig, DcGenerator)> {
    let config: DcganConfig = INFOGAN_MNIST.load_config()?;
    let generator = INFOGAN_MNIST.weights_into(config.init(device)?.generator)?;
    Ok((config, generator))
}
