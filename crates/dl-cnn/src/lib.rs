#![doc = include_str!("../README.md")]
//! # dl-cnn: convolutional networks
//!
//! A convolution slides small learned filters over an image, so the same
//! local feature (an edge, a stroke, a phoneme's formant) is detected
//! wherever it appears, with few parameters. Pooling compresses the feature
//! maps; stacks of conv + pool see ever larger regions, and fully connected
//! layers classify what they found.
//!
//! Models (each with a validated `#[derive(Config)]`):
//! [`LeNet5`], [`Vgg`] (from a list of blocks), [`ResNet`] (basic blocks,
//! ResNet-18 with ImageNet or small stem), [`TextCnn`] (Kim 2014), a
//! spectrogram CNN ([`SpectrogramCnnConfig`]) and a CenterNet-style
//! detector ([`CenterNet`]). Tools: penultimate-layer
//! embeddings and a cosine nearest-neighbour index ([`retrieval`]), saliency
//! maps ([`saliency`]), pooling variants ([`PoolKind`]), strings and scenes of digits
//! composed from MNIST-layout images ([`scenes`]), boxes, non-maximum
//! suppression and VOC/COCO mean average precision ([`detection`]). Inputs: WAV files
//! as log-mel spectrograms ([`audio`]), and back from magnitudes to audio
//! by Griffin-Lim ([`vocoder`]) and the 8x8 digits compiled into the
//! crate ([`embedded`]).

/// The shared core (errors, configs, training loop), so one dependency is enough.
pub use dl_core;
/// burn, as this crate uses it.
pub use dl_core::burn;

pub mod audio;
pub mod captioned;
pub mod data;
pub mod detection;
pub mod embedded;
pub mod models;
#[cfg(feature = "parity")]
pub mod parity;
pub mod pool;
pub mod pretrained;
pub mod pytorch;
pub mod recipes;
pub mod retrieval;
pub mod saliency;
pub mod scenes;
pub mod utterances;
pub mod vocoder;

pub use data::{ImageBatch, ImageBatcher, ImageItem, TextBatch, TextBatcher, TextItem};
pub use models::ImageClassifier;
pub use models::centernet::{CenterNet, CenterNetConfig};
pub use models::lenet::{LeNet5, LeNet5Config};
pub use models::resnet::{ResNet, ResNetConfig, Stem};
pub use models::spectrogram::SpectrogramCnnConfig;
pub use models::textcnn::{TextCnn, TextCnnConfig};
pub use models::vgg::{Vgg, VggBlock, VggConfig};
pub use pool::PoolKind;
