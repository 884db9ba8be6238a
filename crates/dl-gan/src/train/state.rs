//! What a run records: per-epoch means, the loss curve, and the counters
//! that a checkpoint saves so that `resume` continues exactly.

use dl_core::train::checkpointer::RunState;
use serde::{Deserialize, Serialize};

/// One epoch's means.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GanEpoch {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean discriminator loss.
    pub d_loss: f64,
    /// Mean generator loss.
    pub g_loss: f64,
    /// Mean discriminator score (logit) of real samples.
    pub d_real: f64,
    /// Mean discriminator score (logit) of generated samples.
    pub d_fake: f64,
    /// Mean auxiliary loss in the generator steps (InfoGAN or AC-GAN only):
    /// the categorical code's cross-entropy plus the continuous codes' mean
    /// squared error, or the auxiliary classifier's cross-entropy.
    #[serde(default)]
    pub info_loss: Option<f64>,
    /// Mean of the generator's sample term ([`super::SampleTerm`]), if it has one.
    #[serde(default)]
    pub term_loss: Option<f64>,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// A point of the loss curve: means over `log_every` discriminator steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GanPoint {
    /// Discriminator steps so far.
    pub step: usize,
    /// Mean discriminator loss.
    pub d_loss: f64,
    /// Mean generator loss.
    pub g_loss: f64,
}

/// Everything saved beside the weights, so that `resume` continues exactly.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GanState {
    /// Last completed epoch (0 = none).
    pub epoch: usize,
    /// Discriminator steps taken.
    pub d_step: usize,
    /// Generator steps taken.
    pub g_step: usize,
    /// The run's seed.
    pub seed: u64,
    /// Per-epoch means.
    pub epochs: Vec<GanEpoch>,
    /// The loss curve.
    pub curve: Vec<GanPoint>,
}

impl RunState for GanState {
    fn epoch(&self) -> usize {
        self.epoch
    }
    fn seed(&self) -> u64 {
        self.seed
    }
}
