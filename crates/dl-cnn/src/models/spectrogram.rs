//! A CNN for spoken-word classification on log-mel spectrograms.
//!
//! A spectrogram is an image whose axes are frequency and time, so the
//! image machinery applies: 3x3 conv + BN + ReLU + 2x2 max-pool blocks find
//! local time-frequency patterns (formant transitions, onsets), global
//! average pooling makes the result independent of where in the clip the
//! word sits, and a linear layer classifies. Built on [`super::vgg`].

use burn::config::Config;
use burn::tensor::Device;

use super::vgg::{Vgg, VggBlock, VggConfig};
use crate::pool::PoolKind;
use dl_core::ModelConfig;
use dl_core::config::check;

/// Spectrogram CNN hyper-parameters.
#[derive(Config, Debug, PartialEq)]
pub struct SpectrogramCnnConfig {
    /// Frequency bins (mel bands).
    pub n_mels: usize,
    /// Time frames.
    pub frames: usize,
    /// Number of classes.
    pub num_classes: usize,
    /// Channels of each conv block (each block halves both axes).
    #[config(default = "vec![16, 32, 64]")]
    pub channels: Vec<usize>,
    /// Dropout before the classifier.
    #[config(default = 0.3)]
    pub dropout: f64,
}

impl SpectrogramCnnConfig {
    /// The equivalent VGG-style config.
    pub fn to_vgg(&self) -> VggConfig {
        VggConfig::new(
            1,
            [self.n_mels, self.frames],
            self.channels.iter().map(|&c| VggBlock { channels: c, convs: 1, pool: PoolKind::MAX2 }).collect(),
            self.num_classes,
        )
        .with_hidden(vec![])
        .with_dropout(self.dropout)
        .with_head_pool(PoolKind::GlobalAvg)
    }
}

impl ModelConfig for SpectrogramCnnConfig {
    type Model = Vgg;

    fn validate(&self) -> dl_core::Result<()> {
        check::non_empty("SpectrogramCnnConfig", "channels", &self.channels)?;
        self.to_vgg().validate()
    }

    fn build(&self, device: &Device) -> Vgg {
        self.to_vgg().build(device)
    }
}
