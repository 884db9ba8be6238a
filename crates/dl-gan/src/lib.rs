//! # dl-gan
//!
//! Generative adversarial networks (Goodfellow et al. 2014): a generator
//! maps random codes to samples, a discriminator tells them from real data,
//! and each learns from the other. GANs learn to generate without labels or
//! an explicit likelihood, but the game is delicate: the discriminator can
//! win outright and leave the generator without gradient, the generator can
//! collapse onto a few modes, and losses do not say how good the samples are.
//! This crate makes that training dependable and its quality measurable:
//!
//! - [`models`]: the MLP GAN, DCGAN, their class-conditional forms
//!   (projection discriminator) and InfoGAN, behind the [`models::Generator`] and
//!   [`models::Discriminator`] traits;
//! - [`loss`]: non-saturating cross-entropy, hinge and Wasserstein objectives;
//! - [`spectral`]: spectral normalisation (burn has none), which with the
//!   hinge loss is the stabilised GAN of this crate;
//! - [`train`]: the adversarial trainer (two optimizers, k discriminator steps,
//!   label smoothing, weight averaging, sample grids, checkpoints with exact
//!   resume, collapse and divergence detection);
//! - [`ema`]: the generator's weight average, and the re-measurement of its
//!   batch-norm statistics on its own samples;
//! - [`metrics`]: mode coverage on Gaussian mixtures, classifier-based scores
//!   and the Fréchet distance;
//! - [`latent`]: inpainting by latent search, spherical interpolation;
//! - [`data`]: sample sets and the 8-Gaussians ring and 25-Gaussians grid.
//!
//! Why not WGAN-GP: its gradient penalty differentiates the norm of a
//! gradient, which needs second-order automatic differentiation; burn 0.22's
//! gradients carry no autodiff graph (`Tensor::grad` returns a plain tensor),
//! so the penalty cannot be trained. Hinge loss with spectral normalisation
//! (Miyato et al. 2018) constrains the discriminator without it.

pub mod data;
pub mod ema;
pub mod latent;
pub mod loss;
pub mod metrics;
pub mod models;
pub mod recipes;
pub mod spectral;
pub mod train;

pub use data::{GanData, Mixture};
pub use loss::GanLoss;
pub use models::dcgan::{DcDiscriminator, DcGenerator, Dcgan, DcganConfig};
pub use models::mlp::{MlpDiscriminator, MlpGan, MlpGanConfig, MlpGenerator};
pub use models::{Discriminator, Generator, discriminate, generate};
pub use train::{GanReport, GanTrainConfig, train_gan};
