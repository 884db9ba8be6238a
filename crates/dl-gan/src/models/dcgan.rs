//! DCGAN (Radford et al. 2016) at the size of the `gan` benchmark workload:
//! optionally class-conditional, with a spectrally normalised discriminator
//! (which then drops its batch norm), or an InfoGAN with one categorical code
//! and a Q head (`info_codes`), and continuous InfoGAN codes with their own Q
//! head (`continuous_codes`, with or without classes). Layer shapes are on each `forward`; docs/gan.md
//! has the architecture table.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Embedding, EmbeddingConfig, Initializer, Linear, LinearConfig};
use burn::tensor::{Device, Int, Tensor};
use dl_kernels::{leaky_relu, relu};

use super::mlp::{project, projection_embedding, with_class};
use super::{Discriminator, Generator, Judgement};
use crate::spectral::{DiscConv2d, DiscLinear};
use dl_core::config::check;
use dl_core::{Error, ModelConfig};

/// DCGAN hyper-parameters; the defaults are the benchmark's 28x28 MNIST shapes.
#[derive(Config, Debug, PartialEq)]
pub struct DcganConfig {
    /// Width of the latent code.
    #[config(default = 100)]
    pub latent_dim: usize,
    /// Image channels.
    #[config(default = 1)]
    pub channels: usize,
    /// Image height and width (a multiple of 4).
    #[config(default = 28)]
    pub image_size: usize,
    /// Channels of the larger feature maps (the smaller have twice as many).
    #[config(default = 64)]
    pub base_channels: usize,
    /// Number of classes for a conditional GAN.
    #[config(default = "None")]
    pub num_classes: Option<usize>,
    /// Categories of an InfoGAN code (unsupervised; excludes `num_classes`).
    #[config(default = "None")]
    pub info_codes: Option<usize>,
    /// Continuous InfoGAN codes: the first latent values, estimated back by a Q head.
    #[config(default = 0)]
    pub continuous_codes: usize,
    /// Spectrally normalise the discriminator (and drop its batch norm).
    #[config(default = false)]
    pub spectral_norm: bool,
    /// Initialise weights from N(0, 0.02) as in the DCGAN paper (else burn's defaults).
    #[config(default = true)]
    pub dcgan_init: bool,
}

/// The DCGAN generator.
#[derive(Module, Debug)]
pub struct DcGenerator {
    /// Latent code to the smallest feature maps.
    pub fc: Linear,
    /// Batch norm of the smallest maps.
    pub bn0: BatchNorm,
    /// First up-sampling.
    pub up1: ConvTranspose2d,
    /// Batch norm after `up1`.
    pub bn1: BatchNorm,
    /// Up-sampling to the image.
    pub up2: ConvTranspose2d,
    /// Class embeddings (conditional only).
    pub embed: Option<Embedding>,
    #[module(skip)]
    latent_dim: usize,
    #[module(skip)]
    shape: [usize; 3],
}

/// The DCGAN discriminator.
#[derive(Module, Debug)]
pub struct DcDiscriminator {
    /// First down-sampling.
    pub c1: DiscConv2d,
    /// Second down-sampling.
    pub c2: DiscConv2d,
    /// Batch norm after `c2` (absent with spectral normalisation).
    pub bn2: Option<BatchNorm>,
    /// Features to one logit.
    pub fc: DiscLinear,
    /// Projection embeddings (conditional only).
    pub embed: Option<Embedding>,
    /// The InfoGAN Q head: features to code logits (InfoGAN only).
    pub info: Option<Linear>,
    /// The Q head of the continuous codes: features to code estimates.
    pub info_continuous: Option<Linear>,
    #[module(skip)]
    shape: [usize; 3],
}

/// Both networks, as built by [`DcganConfig`].
#[derive(Module, Debug)]
pub struct Dcgan {
    /// The generator.
    pub generator: DcGenerator,
    /// The discriminator.
    pub discriminator: DcDiscriminator,
}

impl DcganConfig {
    /// `[channels, image_size, image_size]`.
    pub fn image_shape(&self) -> [usize; 3] {
        [self.channels, self.image_size, self.image_size]
    }
}

impl ModelConfig for DcganConfig {
    type Model = Dcgan;

    fn validate(&self) -> dl_core::Result<()> {
        let c = "DcganConfig";
        check::positive(c, "latent_dim", self.latent_dim)?;
        check::positive(c, "channels", self.channels)?;
        check::positive(c, "base_channels", self.base_channels)?;
        if self.image_size < 4 || !self.image_size.is_multiple_of(4) {
            return Err(Error::config(c, "image_size", format!("must be a multiple of 4, got {}", self.image_size)));
        }
        if let Some(n) = self.num_classes
            && n < 2
        {
            return Err(Error::config(c, "num_classes", format!("a conditional GAN needs >= 2 classes, got {n}")));
        }
        if self.continuous_codes > self.latent_dim {
            return Err(Error::config(
                c,
                "continuous_codes",
                format!("must be at most latent_dim = {}, got {}", self.latent_dim, self.continuous_codes),
            ));
        }
        match (self.info_codes, self.num_classes) {
            (Some(k), _) if k < 2 => {
                Err(Error::config(c, "info_codes", format!("an InfoGAN code needs >= 2 categories, got {k}")))
            }
            (Some(_), Some(_)) => Err(Error::config(
                c,
                "info_codes",
                "an InfoGAN learns its categories without labels; it cannot also be class-conditional (num_classes)",
            )),
            _ => Ok(()),
        }
    }

    fn build(&self, device: &Device) -> Dcgan {
        let init = self.dcgan_init.then_some(Initializer::Normal { mean: 0.0, std: 0.02 });
        let b = self.base_channels;
        let q = self.image_size / 4;
        // The generator is conditioned on a class or on an InfoGAN code alike.
        let n = self.num_classes.or(self.info_codes);
        let lin = |i: usize, o: usize| match &init {
            Some(init) => LinearConfig::new(i, o).with_initializer(init.clone()).init(device),
            None => LinearConfig::new(i, o).init(device),
        };
        let convt = |i: usize, o: usize| {
            let c = ConvTranspose2dConfig::new([i, o], [4, 4]).with_stride([2, 2]).with_padding([1, 1]);
            match &init {
                Some(init) => c.with_initializer(init.clone()).init(device),
                None => c.init(device),
            }
        };
        let sn = self.spectral_norm;
        Dcgan {
            generator: DcGenerator {
                fc: lin(self.latent_dim + n.unwrap_or(0), 2 * b * q * q),
                bn0: BatchNormConfig::new(2 * b).init(device),
                up1: convt(2 * b, b),
                bn1: BatchNormConfig::new(b).init(device),
                up2: convt(b, self.channels),
                embed: n.map(|n| EmbeddingConfig::new(n, n).init(device)),
                latent_dim: self.latent_dim,
                shape: self.image_shape(),
            },
            discriminator: DcDiscriminator {
                c1: DiscConv2d::new([self.channels, b], 4, 2, 1, sn, init.clone(), device),
                c2: DiscConv2d::new([b, 2 * b], 4, 2, 1, sn, init.clone(), device),
                bn2: (!sn).then(|| BatchNormConfig::new(2 * b).init(device)),
                fc: DiscLinear::new(2 * b * q * q, 1, sn, init.clone(), device),
                embed: self.num_classes.map(|n| projection_embedding(n, 2 * b * q * q, device)),
                info: self.info_codes.map(|k| lin(2 * b * q * q, k)),
                info_continuous: (self.continuous_codes > 0).then(|| lin(2 * b * q * q, self.continuous_codes)),
                shape: self.image_shape(),
            },
        }
    }
}

impl DcGenerator {
    /// `[C, H, W]` of the generated images.
    pub fn image_shape(&self) -> [usize; 3] {
        self.shape
    }
}

impl Generator for DcGenerator {
    fn latent_dim(&self) -> usize {
        self.latent_dim
    }

    fn sample_dim(&self) -> usize {
        self.shape.iter().product()
    }

    fn num_classes(&self) -> Option<usize> {
        self.embed.as_ref().map(|e| e.weight.dims()[0])
    }

    fn forward(&self, z: Tensor<2>, labels: Option<Tensor<1, Int>>) -> Tensor<2> {
        let z = with_class(self.embed.as_ref(), z, labels);
        let [batch, _] = z.dims();
        let [_, s, _] = self.shape;
        let c0 = self.bn0.gamma.dims()[0];
        let x: Tensor<4> = dl_kernels::linear(&self.fc, z).reshape([batch, c0, s / 4, s / 4]);
        let x = relu(dl_kernels::batch_norm_2d(&self.bn0, x));
        let x = relu(dl_kernels::batch_norm_2d(&self.bn1, dl_kernels::conv_transpose2d(&self.up1, x)));
        dl_kernels::tanh(dl_kernels::conv_transpose2d(&self.up2, x)).reshape([batch, self.sample_dim()])
    }
}

impl Discriminator for DcDiscriminator {
    fn sample_dim(&self) -> usize {
        self.shape.iter().product()
    }

    fn num_classes(&self) -> Option<usize> {
        self.embed.as_ref().map(|e| e.weight.dims()[0])
    }

    fn forward(&self, x: Tensor<2>, labels: Option<Tensor<1, Int>>) -> Tensor<2> {
        self.forward_info(x, labels).scores
    }

    fn info_codes(&self) -> Option<usize> {
        self.info.as_ref().map(|q| q.weight.dims()[1])
    }

    fn continuous_codes(&self) -> usize {
        self.info_continuous.as_ref().map_or(0, |q| q.weight.dims()[1])
    }

    fn forward_info(&self, x: Tensor<2>, labels: Option<Tensor<1, Int>>) -> Judgement {
        let [batch, _] = x.dims();
        let [c, h, w] = self.shape;
        let x = leaky_relu(self.c1.forward(x.reshape([batch, c, h, w])), 0.2);
        let x = self.c2.forward(x);
        let x = match &self.bn2 {
            Some(bn) => dl_kernels::batch_norm_2d(bn, x),
            None => x,
        };
        let h: Tensor<2> = leaky_relu(x, 0.2).flatten(1, 3);
        let out = self.fc.forward(h.clone());
        let categories = self.info.as_ref().map(|q| q.forward(h.clone()));
        let continuous = self.info_continuous.as_ref().map(|q| q.forward(h.clone()));
        let scores = project(self.embed.as_ref(), out, h, labels);
        Judgement { scores, categories, continuous, classes: None }
    }
}
