//! SpecGAN (Donahue et al. 2019) at 8 kHz: a class-conditional DCGAN for
//! rectangular spectrogram images (frequency rows x time columns), several
//! up-sampling steps deep, with a projection discriminator and optionally an
//! auxiliary classifier (AC-GAN, Odena et al. 2017). Layer shapes are on each
//! `forward`; docs/gan.md has the speech-generation section.

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

/// SpecGAN hyper-parameters; the defaults are the `speech_gan` example's.
#[derive(Config, Debug, PartialEq)]
pub struct SpecGanConfig {
    /// Width of the latent code.
    #[config(default = 100)]
    pub latent_dim: usize,
    /// Frequency rows of an image (a multiple of `2^channels.len()`).
    #[config(default = 128)]
    pub bins: usize,
    /// Time columns of an image (a multiple of `2^channels.len()`).
    #[config(default = 64)]
    pub frames: usize,
    /// Channels of the generator's feature maps, smallest maps first; each
    /// entry is one step that doubles both axes (the last step makes the
    /// one-channel image). The discriminator mirrors them.
    #[config(default = "vec![128, 64, 32, 16]")]
    pub channels: Vec<usize>,
    /// Number of classes (words) the generator is asked for; `None` = unconditional.
    #[config(default = "Some(10)")]
    pub num_classes: Option<usize>,
    /// Spectrally normalise the discriminator (and drop its batch norms).
    #[config(default = false)]
    pub spectral_norm: bool,
    /// Give the discriminator a second head that names the class (AC-GAN):
    /// it learns to classify real and generated images, and the generator to
    /// make images it classifies as asked. Conditional models only.
    #[config(default = false)]
    pub auxiliary_classifier: bool,
}

impl SpecGanConfig {
    /// `[1, bins, frames]`.
    pub fn image_shape(&self) -> [usize; 3] {
        [1, self.bins, self.frames]
    }

    /// `[rows, columns]` of the smallest feature maps.
    fn smallest(&self) -> [usize; 2] {
        let f = 1usize << self.channels.len();
        [self.bins / f, self.frames / f]
    }
}

/// The SpecGAN generator.
#[derive(Module, Debug)]
pub struct SpecGenerator {
    /// Latent code (and class embedding) to the smallest feature maps.
    pub fc: Linear,
    /// Batch norm of the smallest maps and after each up-sampling but the last.
    pub norms: Vec<BatchNorm>,
    /// The up-sampling steps (4x4 transposed convolutions, stride 2).
    pub ups: Vec<ConvTranspose2d>,
    /// Class embeddings (conditional only).
    pub embed: Option<Embedding>,
    #[module(skip)]
    latent_dim: usize,
    #[module(skip)]
    shape: [usize; 3],
}

/// The SpecGAN discriminator (projection discriminator when conditional).
#[derive(Module, Debug)]
pub struct SpecDiscriminator {
    /// The down-sampling steps (4x4 convolutions, stride 2).
    pub convs: Vec<DiscConv2d>,
    /// Batch norms after each step but the first (none with spectral normalisation).
    pub norms: Vec<BatchNorm>,
    /// Features to one logit.
    pub fc: DiscLinear,
    /// Projection embeddings (conditional only).
    pub embed: Option<Embedding>,
    /// Features to class logits (with `auxiliary_classifier`).
    pub classify: Option<DiscLinear>,
    #[module(skip)]
    shape: [usize; 3],
}

/// Both networks, as built by [`SpecGanConfig`].
#[derive(Module, Debug)]
pub struct SpecGan {
    /// The generator.
    pub generator: SpecGenerator,
    /// The discriminator.
    pub discriminator: SpecDiscriminator,
}

impl ModelConfig for SpecGanConfig {
    type Model = SpecGan;

    fn validate(&self) -> dl_core::Result<()> {
        let c = "SpecGanConfig";
        check::positive(c, "latent_dim", self.latent_dim)?;
        check::non_empty(c, "channels", &self.channels)?;
        if let Some(i) = self.channels.iter().position(|&ch| ch == 0) {
            return Err(Error::config(c, "channels", format!("entry {i} is 0")));
        }
        if self.channels.len() > 8 {
            return Err(Error::config(c, "channels", format!("at most 8 steps, got {}", self.channels.len())));
        }
        let f = 1usize << self.channels.len();
        for (field, v) in [("bins", self.bins), ("frames", self.frames)] {
            if v == 0 || !v.is_multiple_of(f) {
                return Err(Error::config(
                    c,
                    field,
                    format!(
                        "must be a positive multiple of 2^{} = {f} (one halving per channels entry), got {v}",
                        self.channels.len()
                    ),
                ));
            }
        }
        if let Some(n) = self.num_classes
            && n < 2
        {
            return Err(Error::config(c, "num_classes", format!("a conditional GAN needs >= 2 classes, got {n}")));
        }
        if self.auxiliary_classifier && self.num_classes.is_none() {
            return Err(Error::config(c, "auxiliary_classifier", "needs classes to name: num_classes is None"));
        }
        Ok(())
    }

    fn build(&self, device: &Device) -> SpecGan {
        let init = Initializer::Normal { mean: 0.0, std: 0.02 };
        let [h, w] = self.smallest();
        let ch = &self.channels;
        let n = self.num_classes;
        let flat = ch[0] * h * w;
        let convt = |i: usize, o: usize| {
            ConvTranspose2dConfig::new([i, o], [4, 4])
                .with_stride([2, 2])
                .with_padding([1, 1])
                .with_initializer(init.clone())
                .init(device)
        };
        // Generator channels: ch[0] -> ch[1] -> ... -> ch[L-1] -> 1.
        let outs: Vec<usize> = ch[1..].iter().copied().chain([1]).collect();
        let sn = self.spectral_norm;
        // Discriminator channels: 1 -> ch[L-1] -> ... -> ch[0].
        let down: Vec<usize> = ch.iter().rev().copied().collect();
        let ins: Vec<usize> = [1].into_iter().chain(down.iter().copied()).collect();
        SpecGan {
            generator: SpecGenerator {
                fc: LinearConfig::new(self.latent_dim + n.unwrap_or(0), flat)
                    .with_initializer(init.clone())
                    .init(device),
                norms: ch.iter().map(|&c| BatchNormConfig::new(c).init(device)).collect(),
                ups: ch.iter().zip(&outs).map(|(&i, &o)| convt(i, o)).collect(),
                embed: n.map(|n| EmbeddingConfig::new(n, n).init(device)),
                latent_dim: self.latent_dim,
                shape: self.image_shape(),
            },
            discriminator: SpecDiscriminator {
                convs: ins
                    .iter()
                    .zip(&down)
                    .map(|(&i, &o)| DiscConv2d::new([i, o], 4, 2, 1, sn, Some(init.clone()), device))
                    .collect(),
                norms: if sn {
                    vec![]
                } else {
                    down[1..].iter().map(|&c| BatchNormConfig::new(c).init(device)).collect()
                },
                fc: DiscLinear::new(flat, 1, sn, Some(init.clone()), device),
                embed: n.map(|n| projection_embedding(n, flat, device)),
                classify: n
                    .filter(|_| self.auxiliary_classifier)
                    .map(|n| DiscLinear::new(flat, n, sn, Some(init.clone()), device)),
                shape: self.image_shape(),
            },
        }
    }
}

impl SpecGenerator {
    /// `[1, bins, frames]` of the generated images.
    pub fn image_shape(&self) -> [usize; 3] {
        self.shape
    }
}

impl Generator for SpecGenerator {
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
        // [B, latent] ++ [B, classes] -> [B, latent + classes]
        let z = with_class(self.embed.as_ref(), z, labels);
        let [batch, _] = z.dims();
        let [_, bins, frames] = self.shape;
        let f = 1usize << self.ups.len();
        let c0 = self.norms[0].gamma.dims()[0];
        // [B, c0 * h * w] -> [B, c0, bins / 2^L, frames / 2^L]
        let mut x: Tensor<4> = dl_kernels::linear(&self.fc, z).reshape([batch, c0, bins / f, frames / f]);
        x = relu(dl_kernels::batch_norm_2d(&self.norms[0], x));
        let last = self.ups.len() - 1;
        for (i, up) in self.ups.iter().enumerate() {
            // [B, c_i, h, w] -> [B, c_{i+1}, 2h, 2w]
            x = dl_kernels::conv_transpose2d(up, x);
            if i < last {
                x = relu(dl_kernels::batch_norm_2d(&self.norms[i + 1], x));
            }
        }
        // [B, 1, bins, frames] -> [B, bins * frames], in [-1, 1]
        dl_kernels::tanh(x).reshape([batch, self.sample_dim()])
    }
}

impl SpecDiscriminator {
    /// `[B, c * h * w]` images to `[B, c0 * h0 * w0]` features.
    fn features(&self, x: Tensor<2>) -> Tensor<2> {
        let [batch, _] = x.dims();
        let [c, h, w] = self.shape;
        let mut x: Tensor<4> = x.reshape([batch, c, h, w]);
        for (i, conv) in self.convs.iter().enumerate() {
            // [B, c_in, h, w] -> [B, c_out, h / 2, w / 2]
            x = conv.forward(x);
            if i > 0
                && let Some(bn) = self.norms.get(i - 1)
            {
                x = dl_kernels::batch_norm_2d(bn, x);
            }
            x = leaky_relu(x, 0.2);
        }
        // [B, c0, h0, w0] -> [B, c0 * h0 * w0]
        x.flatten(1, 3)
    }
}

impl Discriminator for SpecDiscriminator {
    fn sample_dim(&self) -> usize {
        self.shape.iter().product()
    }

    fn num_classes(&self) -> Option<usize> {
        self.embed.as_ref().map(|e| e.weight.dims()[0])
    }

    fn classifies(&self) -> bool {
        self.classify.is_some()
    }

    fn forward(&self, x: Tensor<2>, labels: Option<Tensor<1, Int>>) -> Tensor<2> {
        let h = self.features(x);
        // [B, features] -> [B, 1], plus <embed(label), features>
        project(self.embed.as_ref(), self.fc.forward(h.clone()), h, labels)
    }

    fn forward_info(&self, x: Tensor<2>, labels: Option<Tensor<1, Int>>) -> Judgement {
        let h = self.features(x);
        // [B, features] -> [B, classes]
        let classes = self.classify.as_ref().map(|head| head.forward(h.clone()));
        let scores = project(self.embed.as_ref(), self.fc.forward(h.clone()), h, labels);
        Judgement { scores, categories: None, continuous: None, classes }
    }
}
