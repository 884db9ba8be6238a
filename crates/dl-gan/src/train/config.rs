//! The trainer's hyper-parameters, validated like model configs.

use std::path::PathBuf;

use dl_core::config::check;
use dl_core::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::augment::Augment;
use crate::loss::GanLoss;

/// Hyper-parameters of adversarial training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GanTrainConfig {
    /// Passes over the real data.
    pub epochs: usize,
    /// Real samples per discriminator step (and generated samples per step).
    pub batch_size: usize,
    /// Cap on discriminator steps per epoch (quick runs and tests); `None` = all full batches.
    pub max_steps_per_epoch: Option<usize>,
    /// Discriminator steps per generator step (`k` of Goodfellow et al.).
    pub d_steps: usize,
    /// The objective.
    pub loss: GanLoss,
    /// Generator learning rate.
    pub g_lr: f64,
    /// Discriminator learning rate.
    pub d_lr: f64,
    /// Adam's (beta1, beta2) for both networks; DCGAN's (0.5, 0.999) by default.
    pub betas: (f32, f32),
    /// One-sided label smoothing of the real target (0 = none; cross-entropy only).
    pub label_smoothing: f32,
    /// Decay of the generator's exponential moving average (`None` = no average).
    pub ema_decay: Option<f64>,
    /// Clip every discriminator weight to `[-c, c]` after each step (the original WGAN).
    pub weight_clip: Option<f32>,
    /// Steps of a discriminator loss below `collapse_floor` that count as a collapse.
    pub collapse_patience: usize,
    /// Discriminator loss under which the discriminator is considered to have won.
    pub collapse_floor: f64,
    /// Seed of initialisation (set on the device by the caller), latent codes and shuffling.
    pub seed: u64,
    /// Folder for checkpoints, CSV, curves and sample grids.
    pub out_dir: Option<PathBuf>,
    /// Continue from the checkpoint in `out_dir` if one exists.
    pub resume: bool,
    /// Show a progress bar.
    pub progress: bool,
    /// `[C, H, W]` of image samples: a grid of the fixed latent codes is written each epoch.
    pub image_shape: Option<[usize; 3]>,
    /// Number of fixed latent codes rendered each epoch (a square number reads best;
    /// conditional models get `per_class` codes per class instead).
    pub fixed_samples: usize,
    /// Points of the loss curve: one every `log_every` discriminator steps.
    /// The steps' figures are read back from the device (and checked) then,
    /// so that a GPU is not stopped at every step.
    pub log_every: usize,
    /// Weight of the auxiliary losses (used only with a Q head or an
    /// auxiliary classifier): the InfoGAN categorical code's cross-entropy,
    /// the continuous codes' squared error, with code targets in the data
    /// their squared error on real samples; an auxiliary classifier's
    /// cross-entropy on real and generated samples.
    pub info_weight: f64,
    /// Whether an auxiliary classifier also learns to name the class of
    /// generated samples (AC-GAN as published) or of real ones only; the
    /// generator is trained against it either way.
    #[serde(default = "yes")]
    pub classify_generated: bool,
    /// Differentiable augmentation of every sample the discriminator judges,
    /// real and generated alike (needs `image_shape`; `None` = none).
    #[serde(default)]
    pub augment: Option<Augment>,
}

fn yes() -> bool {
    true
}

impl Default for GanTrainConfig {
    fn default() -> Self {
        GanTrainConfig {
            epochs: 5,
            batch_size: 64,
            max_steps_per_epoch: None,
            d_steps: 1,
            loss: GanLoss::NonSaturating,
            g_lr: 2e-4,
            d_lr: 2e-4,
            betas: (0.5, 0.999),
            label_smoothing: 0.0,
            ema_decay: None,
            weight_clip: None,
            collapse_patience: 200,
            collapse_floor: 1e-4,
            seed: 42,
            out_dir: None,
            resume: false,
            progress: true,
            image_shape: None,
            fixed_samples: 64,
            log_every: 50,
            info_weight: 1.0,
            classify_generated: true,
            augment: None,
        }
    }
}

impl GanTrainConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        let c = "GanTrainConfig";
        check::positive(c, "epochs", self.epochs)?;
        check::positive(c, "batch_size", self.batch_size)?;
        check::positive(c, "d_steps", self.d_steps)?;
        check::positive(c, "collapse_patience", self.collapse_patience)?;
        check::positive(c, "fixed_samples", self.fixed_samples)?;
        check::positive(c, "log_every", self.log_every)?;
        check::positive_f(c, "g_lr", self.g_lr)?;
        check::positive_f(c, "d_lr", self.d_lr)?;
        if !self.info_weight.is_finite() || self.info_weight < 0.0 {
            return Err(Error::config(c, "info_weight", format!("must be finite and >= 0, got {}", self.info_weight)));
        }
        if let Some(m) = self.max_steps_per_epoch {
            check::positive(c, "max_steps_per_epoch", m)?;
        }
        let (b1, b2) = self.betas;
        if !(0.0..1.0).contains(&b1) || !(0.0..1.0).contains(&b2) {
            return Err(Error::config(c, "betas", format!("must be in [0, 1), got {:?}", self.betas)));
        }
        if !(0.0..1.0).contains(&self.label_smoothing) {
            return Err(Error::config(c, "label_smoothing", "must be in [0, 1)"));
        }
        if self.label_smoothing > 0.0 && self.loss != GanLoss::NonSaturating {
            return Err(Error::config(c, "label_smoothing", "applies to the cross-entropy (non_saturating) loss only"));
        }
        if let Some(d) = self.ema_decay
            && !(0.0..1.0).contains(&d)
        {
            return Err(Error::config(c, "ema_decay", format!("must be in [0, 1), got {d}")));
        }
        if let Some(w) = self.weight_clip {
            check::positive_f(c, "weight_clip", f64::from(w))?;
        }
        if self.collapse_floor.is_nan() || self.collapse_floor < 0.0 {
            return Err(Error::config(c, "collapse_floor", "must be >= 0"));
        }
        if let Some(a) = &self.augment {
            let shape = self.image_shape.ok_or_else(|| Error::config(c, "augment", "needs image_shape"))?;
            a.validate(shape)?;
        }
        if self.resume && self.out_dir.is_none() {
            return Err(Error::config(c, "resume", "needs out_dir (where the checkpoint is)"));
        }
        Ok(())
    }
}
