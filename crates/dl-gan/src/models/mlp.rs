//! The MLP GAN of Goodfellow et al. (2014), optionally class-conditional and
//! with a spectrally normalised discriminator.
//!
//! Generator: `z -> [Linear, ReLU] x layers -> Linear (-> tanh)`.
//! Discriminator: `x -> [Linear, LeakyReLU 0.2] x layers -> Linear -> 1`.
//! Conditioning (Mirza & Osindero 2014, with Miyato & Koyama's 2018
//! projection discriminator): the generator reads `[z, e_g(y)]`, the
//! discriminator adds `<e_d(y), h>` to its output, `h` being its last hidden
//! features. Projection is used rather than concatenation because it gives
//! the discriminator a direct per-class test, which is what makes the
//! generator honour the label.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::tensor::{Device, Int, Tensor};
use dl_kernels::{leaky_relu, relu};

use super::{Discriminator, Generator};
use crate::spectral::DiscLinear;
use dl_core::config::check;
use dl_core::{Error, ModelConfig};

/// Hyper-parameters of an MLP generator/discriminator pair.
#[derive(Config, Debug, PartialEq)]
pub struct MlpGanConfig {
    /// Width of a sample (2 for the toy mixtures).
    #[config(default = 2)]
    pub data_dim: usize,
    /// Width of the latent code.
    #[config(default = 16)]
    pub latent_dim: usize,
    /// Width of every hidden layer.
    #[config(default = 128)]
    pub hidden: usize,
    /// Hidden layers in each network.
    #[config(default = 3)]
    pub layers: usize,
    /// Number of classes for a conditional GAN.
    #[config(default = "None")]
    pub num_classes: Option<usize>,
    /// Spectrally normalise every discriminator layer (the stabilised GAN).
    #[config(default = false)]
    pub spectral_norm: bool,
    /// End the generator with tanh (for data scaled to `[-1, 1]`).
    #[config(default = false)]
    pub tanh_output: bool,
}

/// An MLP generator.
#[derive(Module, Debug)]
pub struct MlpGenerator {
    /// Hidden layers.
    pub hidden: Vec<Linear>,
    /// Output layer.
    pub out: Linear,
    /// Class embeddings (conditional only).
    pub embed: Option<Embedding>,
    #[module(skip)]
    latent_dim: usize,
    #[module(skip)]
    tanh: bool,
}

/// An MLP discriminator.
#[derive(Module, Debug)]
pub struct MlpDiscriminator {
    /// Hidden layers.
    pub hidden: Vec<DiscLinear>,
    /// Output layer (one logit).
    pub out: DiscLinear,
    /// Projection embeddings (conditional only).
    pub embed: Option<Embedding>,
    #[module(skip)]
    data_dim: usize,
}

/// Both networks, as built by [`MlpGanConfig`].
#[derive(Module, Debug)]
pub struct MlpGan {
    /// The generator.
    pub generator: MlpGenerator,
    /// The discriminator.
    pub discriminator: MlpDiscriminator,
}

impl ModelConfig for MlpGanConfig {
    type Model = MlpGan;

    fn validate(&self) -> dl_core::Result<()> {
        let c = "MlpGanConfig";
        check::positive(c, "data_dim", self.data_dim)?;
        check::positive(c, "latent_dim", self.latent_dim)?;
        check::positive(c, "hidden", self.hidden)?;
        check::positive(c, "layers", self.layers)?;
        if let Some(n) = self.num_classes
            && n < 2
        {
            return Err(Error::config(c, "num_classes", format!("a conditional GAN needs >= 2 classes, got {n}")));
        }
        Ok(())
    }

    fn build(&self, device: &Device) -> MlpGan {
        let n = self.num_classes;
        let g_in = self.latent_dim + n.unwrap_or(0);
        let mut g_hidden = Vec::with_capacity(self.layers);
        let mut d_hidden = Vec::with_capacity(self.layers);
        for i in 0..self.layers {
            let (gi, di) = if i == 0 { (g_in, self.data_dim) } else { (self.hidden, self.hidden) };
            g_hidden.push(LinearConfig::new(gi, self.hidden).init(device));
            d_hidden.push(DiscLinear::new(di, self.hidden, self.spectral_norm, None, device));
        }
        MlpGan {
            generator: MlpGenerator {
                hidden: g_hidden,
                out: LinearConfig::new(self.hidden, self.data_dim).init(device),
                embed: n.map(|n| EmbeddingConfig::new(n, n).init(device)),
                latent_dim: self.latent_dim,
                tanh: self.tanh_output,
            },
            discriminator: MlpDiscriminator {
                hidden: d_hidden,
                out: DiscLinear::new(self.hidden, 1, self.spectral_norm, None, device),
                embed: n.map(|n| projection_embedding(n, self.hidden, device)),
                data_dim: self.data_dim,
            },
        }
    }
}

/// The class embeddings of a projection discriminator, `N(0, 1/dim)`: the
/// projection `<e(y), h>` then starts on the scale of the linear output
/// (burn's `N(0, 1)` default makes it `sqrt(dim)` times larger, and the
/// first steps swing the scores by tens).
pub(crate) fn projection_embedding(classes: usize, dim: usize, device: &Device) -> Embedding {
    EmbeddingConfig::new(classes, dim)
        .with_initializer(burn::nn::Initializer::Normal { mean: 0.0, std: 1.0 / (dim as f64).sqrt() })
        .init(device)
}

/// Rows of an embedding table for `labels` (`[B]` -> `[B, D]`).
pub(crate) fn lookup(embed: &Embedding, labels: Tensor<1, Int>) -> Tensor<2> {
    embed.weight.val().select(0, labels)
}

/// A conditional generator's input: `[z, e(labels)]` (`[B, latent + classes]`),
/// or `z` itself without an embedding or labels.
pub(crate) fn with_class(embed: Option<&Embedding>, z: Tensor<2>, labels: Option<Tensor<1, Int>>) -> Tensor<2> {
    match (embed, labels) {
        (Some(e), Some(l)) => Tensor::cat(vec![z, lookup(e, l)], 1),
        _ => z,
    }
}

/// A projection discriminator's score: `out + <e(labels), h>` (`[B, 1]`), or
/// `out` itself without an embedding or labels.
pub(crate) fn project(
    embed: Option<&Embedding>,
    out: Tensor<2>,
    h: Tensor<2>,
    labels: Option<Tensor<1, Int>>,
) -> Tensor<2> {
    match (embed, labels) {
        (Some(e), Some(l)) => out + (lookup(e, l) * h).sum_dim(1),
        _ => out,
    }
}

impl Generator for MlpGenerator {
    fn latent_dim(&self) -> usize {
        self.latent_dim
    }

    fn sample_dim(&self) -> usize {
        self.out.weight.dims()[1]
    }

    fn num_classes(&self) -> Option<usize> {
        self.embed.as_ref().map(|e| e.weight.dims()[0])
    }

    fn forward(&self, z: Tensor<2>, labels: Option<Tensor<1, Int>>) -> Tensor<2> {
        let mut x = with_class(self.embed.as_ref(), z, labels);
        for l in &self.hidden {
            x = relu(dl_kernels::linear(l, x));
        }
        let x = dl_kernels::linear(&self.out, x);
        if self.tanh { dl_kernels::tanh(x) } else { x }
    }
}

impl Discriminator for MlpDiscriminator {
    fn sample_dim(&self) -> usize {
        self.data_dim
    }

    fn num_classes(&self) -> Option<usize> {
        self.embed.as_ref().map(|e| e.weight.dims()[0])
    }

    fn forward(&self, x: Tensor<2>, labels: Option<Tensor<1, Int>>) -> Tensor<2> {
        let mut h = x;
        for l in &self.hidden {
            h = leaky_relu(l.forward(h), 0.2);
        }
        let out = self.out.forward(h.clone());
        project(self.embed.as_ref(), out, h, labels)
    }
}
