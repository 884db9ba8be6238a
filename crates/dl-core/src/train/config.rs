//! Training hyper-parameters, validated like model configs.

use std::path::PathBuf;

use burn::module::{ParamGroup, ParamId};
use burn::optim::{
    ModuleOptimizer, SgdConfig, decay::WeightDecayConfig, grad_clipping::GradientClippingConfig,
    momentum::MomentumConfig,
};
use serde::{Deserialize, Serialize};

use super::adadelta::Adadelta;
use super::adam::FusedAdam;
use crate::config::check;
use crate::{Error, Result};

/// Which optimizer to use (burn-optim's implementations).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum OptimizerKind {
    /// Adam with PyTorch's defaults (betas 0.9, 0.999; eps 1e-8).
    Adam {
        /// beta1, beta2.
        betas: (f32, f32),
    },
    /// AdamW (decoupled weight decay).
    AdamW {
        /// beta1, beta2.
        betas: (f32, f32),
        /// Decoupled weight-decay factor.
        weight_decay: f32,
    },
    /// Adadelta (Zeiler 2012; Kim's TextCNN used rho 0.95, epsilon 1e-6, lr 1).
    Adadelta {
        /// Decay of the running averages.
        rho: f32,
        /// Added inside the square roots.
        epsilon: f32,
    },
    /// Stochastic gradient descent with optional momentum.
    Sgd {
        /// Momentum factor (0 = none).
        momentum: f64,
        /// L2 penalty (0 = none).
        weight_decay: f32,
    },
}

/// Adam's and AdamW's epsilon (PyTorch's default).
const EPSILON: f32 = 1e-8;

fn with_clipping(optim: ModuleOptimizer, clip: Option<GradientClippingConfig>) -> ModuleOptimizer {
    match clip {
        Some(c) => optim.with_grad_clipping(c.init()),
        None => optim,
    }
}

fn sgd(momentum: f64, weight_decay: f32) -> SgdConfig {
    SgdConfig::new()
        .with_momentum((momentum > 0.0).then(|| MomentumConfig::new().with_momentum(momentum).with_dampening(0.0)))
        .with_weight_decay((weight_decay > 0.0).then(|| WeightDecayConfig::new(weight_decay)))
}

impl OptimizerKind {
    /// Adam with betas (0.9, 0.999).
    pub fn adam() -> Self {
        OptimizerKind::Adam { betas: (0.9, 0.999) }
    }

    /// Builds the optimizer, with gradient clipping by norm if `clip` is set.
    pub fn init(&self, clip: Option<f32>) -> ModuleOptimizer {
        self.init_with_exempt(clip, Vec::new())
    }

    /// Like [`init`](Self::init), but the parameters in `no_decay` get no
    /// weight decay (an optimizer group of their own with the same settings
    /// otherwise). See [`crate::train::grads::vector_param_ids`].
    pub fn init_with_exempt(&self, clip: Option<f32>, no_decay: Vec<ParamId>) -> ModuleOptimizer {
        let clip = clip.map(GradientClippingConfig::Norm);
        let base = self.build(clip.clone());
        if no_decay.is_empty() {
            return base;
        }
        let group = ParamGroup::from_ids(no_decay);
        let clipping = clip.map(|c| c.init());
        match *self {
            OptimizerKind::AdamW { betas, .. } => {
                base.with_group(group, FusedAdam::adamw(betas, EPSILON, 0.0), clipping)
            }
            OptimizerKind::Sgd { momentum, .. } => base.with_group(group, sgd(momentum, 0.0).build(), clipping),
            OptimizerKind::Adam { .. } | OptimizerKind::Adadelta { .. } => base,
        }
    }

    fn build(&self, clip: Option<GradientClippingConfig>) -> ModuleOptimizer {
        match self {
            OptimizerKind::Adam { betas } => {
                with_clipping(ModuleOptimizer::from(FusedAdam::adam(*betas, EPSILON)), clip)
            }
            OptimizerKind::AdamW { betas, weight_decay } => {
                with_clipping(ModuleOptimizer::from(FusedAdam::adamw(*betas, EPSILON, *weight_decay)), clip)
            }
            OptimizerKind::Sgd { momentum, weight_decay } => {
                sgd(*momentum, *weight_decay).with_gradient_clipping(clip).init()
            }
            OptimizerKind::Adadelta { rho, epsilon } => {
                let optim = ModuleOptimizer::from(Adadelta { rho: *rho, epsilon: *epsilon });
                match clip {
                    Some(c) => optim.with_grad_clipping(c.init()),
                    None => optim,
                }
            }
        }
    }

    fn validate(&self) -> Result<()> {
        let betas_ok = |b: &(f32, f32)| (0.0..1.0).contains(&b.0) && (0.0..1.0).contains(&b.1);
        match self {
            OptimizerKind::Adam { betas } | OptimizerKind::AdamW { betas, .. } if !betas_ok(betas) => {
                Err(Error::config("TrainConfig", "optimizer.betas", format!("must be in [0, 1), got {betas:?}")))
            }
            OptimizerKind::AdamW { weight_decay, .. } if weight_decay.is_nan() || *weight_decay < 0.0 => {
                Err(Error::config("TrainConfig", "optimizer.weight_decay", "must be >= 0"))
            }
            OptimizerKind::Sgd { momentum, weight_decay }
                if !(0.0..1.0).contains(momentum) || weight_decay.is_nan() || *weight_decay < 0.0 =>
            {
                Err(Error::config("TrainConfig", "optimizer", "SGD momentum must be in [0, 1) and weight_decay >= 0"))
            }
            OptimizerKind::Adadelta { rho, epsilon }
                if !(0.0..1.0).contains(rho) || epsilon.is_nan() || *epsilon <= 0.0 =>
            {
                Err(Error::config("TrainConfig", "optimizer", "Adadelta rho must be in [0, 1) and epsilon > 0"))
            }
            _ => Ok(()),
        }
    }
}

/// The learning rate as a function of the optimizer step.
///
/// A pure function of the step (not a stateful scheduler) so that a run
/// resumed from a checkpoint continues with exactly the rates it would have
/// had, with nothing else to save.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum LrSchedule {
    /// The base rate throughout.
    Constant,
    /// Multiply by `gamma` every `every_epochs` epochs.
    Step {
        /// Epochs between decays.
        every_epochs: usize,
        /// Decay factor.
        gamma: f64,
    },
    /// Cosine annealing from the base rate to `min_lr` over the whole run.
    Cosine {
        /// Final learning rate.
        min_lr: f64,
    },
}

impl LrSchedule {
    /// The rate at `step` (0-based) of `total_steps`, with `steps_per_epoch` steps per epoch
    /// and a linear warm-up over the first `warmup` steps.
    pub fn lr(&self, base: f64, step: usize, total_steps: usize, steps_per_epoch: usize, warmup: usize) -> f64 {
        let warm = if warmup > 0 && step < warmup { (step + 1) as f64 / warmup as f64 } else { 1.0 };
        let lr = match self {
            LrSchedule::Constant => base,
            LrSchedule::Step { every_epochs, gamma } => {
                let epoch = step / steps_per_epoch.max(1);
                base * gamma.powi((epoch / (*every_epochs).max(1)) as i32)
            }
            LrSchedule::Cosine { min_lr } => {
                let t = step as f64 / total_steps.max(1) as f64;
                min_lr + 0.5 * (base - min_lr) * (1.0 + (std::f64::consts::PI * t.min(1.0)).cos())
            }
        };
        lr * warm
    }
}

/// Stop when the monitored validation metric has not improved for `patience` epochs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EarlyStopping {
    /// Epochs without improvement before stopping.
    pub patience: usize,
    /// Smallest change that counts as an improvement.
    pub min_delta: f64,
}

/// Everything [`crate::train::fit()`] needs besides the model and data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Passes over the training set.
    pub epochs: usize,
    /// Examples per optimizer step.
    pub batch_size: usize,
    /// Base learning rate.
    pub lr: f64,
    /// Optimizer.
    pub optimizer: OptimizerKind,
    /// Learning-rate schedule.
    pub schedule: LrSchedule,
    /// Linear warm-up steps.
    pub warmup_steps: usize,
    /// Clip gradients to this L2 norm: each parameter's gradient alone
    /// (burn's clipping), or all together when `clip_global` is set.
    pub grad_clip_norm: Option<f32>,
    /// Clip the joint norm of all gradients, as PyTorch's `clip_grad_norm_`
    /// (GPT-2, nanoGPT, BERT), instead of each parameter's.
    #[serde(default)]
    pub clip_global: bool,
    /// Weight decay on matrices and embeddings only: biases and norm gains
    /// (one-dimensional parameters) are exempt, as in nanoGPT and BERT.
    #[serde(default)]
    pub decay_matrices_only: bool,
    /// Early stopping on the validation score (accuracy, or loss for regression).
    pub early_stopping: Option<EarlyStopping>,
    /// Seed for initialisation, shuffling and dropout.
    pub seed: u64,
    /// Folder for checkpoints, `metrics.csv` and curves; `None` keeps nothing on disk.
    pub out_dir: Option<PathBuf>,
    /// Continue from the checkpoint in `out_dir` if one exists.
    pub resume: bool,
    /// Cap on batches per epoch (quick runs and tests); `None` = all.
    pub max_batches_per_epoch: Option<usize>,
    /// Show a progress bar.
    pub progress: bool,
    /// Restore the weights of the best validation epoch at the end.
    pub restore_best: bool,
    /// Steps between reads of the training figures (loss, accuracy) from
    /// the device: each read waits for the device, so a GPU is not stopped
    /// every step. The divergence check runs on every step's loss at these
    /// reads (and at the end of each epoch) and names the step it failed at.
    #[serde(default = "default_read_every")]
    pub read_every: usize,
}

fn default_read_every() -> usize {
    20
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 10,
            batch_size: 64,
            lr: 1e-3,
            optimizer: OptimizerKind::adam(),
            schedule: LrSchedule::Constant,
            warmup_steps: 0,
            grad_clip_norm: None,
            clip_global: false,
            decay_matrices_only: false,
            early_stopping: None,
            seed: 42,
            out_dir: None,
            resume: false,
            max_batches_per_epoch: None,
            progress: true,
            restore_best: true,
            read_every: default_read_every(),
        }
    }
}

impl TrainConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        check::positive("TrainConfig", "epochs", self.epochs)?;
        check::positive("TrainConfig", "batch_size", self.batch_size)?;
        check::positive("TrainConfig", "read_every", self.read_every)?;
        check::positive_f("TrainConfig", "lr", self.lr)?;
        self.optimizer.validate()?;
        if let Some(c) = self.grad_clip_norm {
            check::positive_f("TrainConfig", "grad_clip_norm", c as f64)?;
        }
        if let Some(m) = self.max_batches_per_epoch {
            check::positive("TrainConfig", "max_batches_per_epoch", m)?;
        }
        match &self.schedule {
            LrSchedule::Step { every_epochs, gamma } => {
                check::positive("TrainConfig", "schedule.every_epochs", *every_epochs)?;
                check::positive_f("TrainConfig", "schedule.gamma", *gamma)?;
            }
            LrSchedule::Cosine { min_lr } if !(*min_lr >= 0.0 && *min_lr <= self.lr) => {
                return Err(Error::config("TrainConfig", "schedule.min_lr", "must be in [0, lr]"));
            }
            _ => {}
        }
        if self.clip_global && self.grad_clip_norm.is_none() {
            return Err(Error::config("TrainConfig", "clip_global", "needs grad_clip_norm (the norm to clip to)"));
        }
        if self.resume && self.out_dir.is_none() {
            return Err(Error::config("TrainConfig", "resume", "needs out_dir (where the checkpoint is)"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules() {
        let c = LrSchedule::Cosine { min_lr: 0.0 };
        assert!((c.lr(1.0, 0, 100, 10, 0) - 1.0).abs() < 1e-12);
        assert!((c.lr(1.0, 50, 100, 10, 0) - 0.5).abs() < 1e-12);
        assert!(c.lr(1.0, 100, 100, 10, 0).abs() < 1e-12);
        let s = LrSchedule::Step { every_epochs: 2, gamma: 0.1 };
        assert!((s.lr(1.0, 39, 100, 10, 0) - 0.1).abs() < 1e-12);
        assert!((LrSchedule::Constant.lr(1.0, 0, 100, 10, 4) - 0.25).abs() < 1e-12);
    }

    #[test]
    fn validation_names_the_field() {
        let cfg = TrainConfig { batch_size: 0, ..TrainConfig::default() };
        let msg = cfg.validate().unwrap_err().to_string();
        assert!(msg.contains("batch_size"), "{msg}");
        let cfg = TrainConfig { lr: -1.0, ..TrainConfig::default() };
        assert!(cfg.validate().unwrap_err().to_string().contains("lr"));
        let cfg = TrainConfig { resume: true, ..TrainConfig::default() };
        assert!(cfg.validate().is_err());
        assert!(TrainConfig::default().validate().is_ok());
        let cfg = TrainConfig { clip_global: true, ..TrainConfig::default() };
        assert!(cfg.validate().unwrap_err().to_string().contains("clip_global"));
        assert!(TrainConfig { grad_clip_norm: Some(1.0), ..cfg }.validate().is_ok());
        let adadelta = |rho, epsilon| TrainConfig {
            optimizer: OptimizerKind::Adadelta { rho, epsilon },
            ..TrainConfig::default()
        };
        assert!(adadelta(0.95, 1e-6).validate().is_ok());
        assert!(adadelta(1.0, 1e-6).validate().unwrap_err().to_string().contains("Adadelta"));
        assert!(adadelta(0.95, 0.0).validate().is_err());
    }
}
