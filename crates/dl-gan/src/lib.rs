#![doc = include_str!("../README.md")]
//! # dl-gan
//!
//! Generative adversarial networks: the MLP GAN, DCGAN, class-conditional
//! GANs, InfoGAN and SpecGAN for spectrograms ([`models`]), their losses ([`loss`]), spectral
//! normalisation ([`spectral`]), an adversarial trainer that detects collapse
//! and resumes exactly ([`train`]), the generator's weight average ([`ema`]),
//! its end-of-epoch hooks ([`train::hooks`]), drawing samples ([`sampling`]),
//! quality metrics ([`metrics`]), latent search and interpolation
//! ([`latent`]), style transfer through continuous codes ([`style`]) and
//! sample sets ([`data`]). docs/gan.md explains the choices
//! (why hinge + spectral norm rather than WGAN-GP) and the measured results.

/// The shared core (errors, configs, training loop), so one dependency is enough.
pub use dl_core;
/// burn, as this crate uses it.
pub use dl_core::burn;

pub mod augment;
pub mod data;
pub mod ema;
pub mod latent;
pub mod loss;
pub mod metrics;
pub mod models;
pub mod pretrained;
pub mod pytorch;
pub mod recipes;
pub mod sampling;
pub mod spectral;
pub mod style;
pub mod train;

pub use data::{GanData, Mixture};
pub use loss::GanLoss;
pub use models::dcgan::{DcDiscriminator, DcGenerator, Dcgan, DcganConfig};
pub use models::mlp::{MlpDiscriminator, MlpGan, MlpGanConfig, MlpGenerator};
pub use models::specgan::{SpecDiscriminator, SpecGan, SpecGanConfig, SpecGenerator};
pub use models::{Discriminator, Generator, Judgement, discriminate, generate};
pub use train::{
    EpochEnd, GanHook, GanReport, GanTrainConfig, SampleTerm, train_gan, train_gan_data_parallel, train_gan_with_hooks,
    train_gan_with_term,
};
