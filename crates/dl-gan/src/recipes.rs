//! Ready-made runs shared by the examples and the workspace tour.

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use serde::Serialize;

use crate::data::Mixture;
use crate::loss::GanLoss;
use crate::metrics::{ModeCoverage, mode_coverage};
use crate::models::mlp::MlpGanConfig;
use crate::sampling::{latent_codes, sample_values};
use crate::train::{GanTrainConfig, train_gan};
#[cfg(feature = "plot")]
use dl_core::plot::{Series, line_chart};
use dl_core::{ModelConfig, Result};

/// The two recipes compared on the toy mixtures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ToyGan {
    /// Goodfellow et al.: cross-entropy with the non-saturating generator loss,
    /// one discriminator step per generator step, plain discriminator.
    Plain,
    /// Hinge loss, spectrally normalised discriminator, `d_steps`
    /// discriminator steps per generator step (SN-GAN's recipe).
    Stabilised,
}

impl ToyGan {
    /// "plain" or "stabilised".
    pub fn name(self) -> &'static str {
        match self {
            ToyGan::Plain => "plain",
            ToyGan::Stabilised => "stabilised",
        }
    }
}

/// Settings of a toy run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToyOptions {
    /// Generator steps.
    pub steps: usize,
    /// Mini-batch size.
    pub batch_size: usize,
    /// Learning rate of both networks (Adam, betas 0.5, 0.999).
    pub lr: f64,
    /// Discriminator steps per generator step of the stabilised GAN.
    pub stabilised_d_steps: usize,
    /// Decay of the generator's weight average used for sampling (`None` = none).
    pub ema_decay: Option<f64>,
    /// Samples scored.
    pub samples: usize,
    /// Seed of initialisation, data and latent codes.
    pub seed: u64,
    /// Show a progress bar.
    pub progress: bool,
    /// Continue from a checkpoint in the run folder.
    pub resume: bool,
}

impl Default for ToyOptions {
    fn default() -> Self {
        ToyOptions {
            steps: 20_000,
            batch_size: 256,
            lr: 2e-4,
            stabilised_d_steps: 5,
            ema_decay: Some(0.999),
            samples: 2_500,
            seed: 42,
            progress: true,
            resume: false,
        }
    }
}

/// The outcome of a toy run.
#[derive(Debug, Clone, Serialize)]
pub struct ToyRun {
    /// Mixture name.
    pub mixture: String,
    /// Which recipe.
    pub gan: ToyGan,
    /// Mode coverage of the scored samples.
    pub coverage: ModeCoverage,
    /// Generator steps taken.
    pub generator_steps: usize,
    /// Training seconds.
    pub seconds: f64,
    /// Where the run wrote its files, if anywhere.
    pub out_dir: Option<PathBuf>,
}

/// Writes generated 2-D points (up to 1,000) over the mixture's modes.
#[cfg(feature = "plot")]
pub fn scatter_png(path: &Path, title: &str, samples: &[f32], mix: &Mixture) -> Result<()> {
    // Isolated points (separated by NaN) are drawn as dots.
    let dots = |pts: &mut dyn Iterator<Item = (f64, f64)>| -> Vec<(f64, f64)> {
        pts.flat_map(|p| [p, (f64::NAN, f64::NAN)]).collect()
    };
    let gen_pts = dots(&mut samples.chunks(2).take(1000).map(|p| (f64::from(p[0]), f64::from(p[1]))));
    let mode_pts = dots(&mut mix.modes.iter().map(|m| (f64::from(m[0]), f64::from(m[1]))));
    line_chart(path, title, "x", "y", &[Series::new("generated", gen_pts), Series::new("modes", mode_pts)], false)
}

/// Trains the default MLP GAN ([`MlpGanConfig`]) on `mix` with `recipe` and
/// scores `samples` generated points (a mode is covered by >= 20 high-quality
/// samples per 2,500). With `out_dir`, writes the trainer's files and `samples.png`.
pub fn train_toy(
    mix: &Mixture,
    recipe: ToyGan,
    opts: &ToyOptions,
    out_dir: Option<&Path>,
    device: &Device,
) -> Result<ToyRun> {
    let per_epoch = 100;
    let data = mix.data(per_epoch * opts.batch_size, opts.seed)?;
    let (loss, sn, d_steps) = match recipe {
        ToyGan::Plain => (GanLoss::NonSaturating, false, 1),
        ToyGan::Stabilised => (GanLoss::Hinge, true, opts.stabilised_d_steps.max(1)),
    };
    let ad = device.clone().autodiff();
    ad.seed(opts.seed);
    let config = MlpGanConfig::new().with_spectral_norm(sn);
    let gan = config.init(&ad)?;
    let cfg = GanTrainConfig {
        epochs: (opts.steps * d_steps).div_ceil(per_epoch).max(1),
        batch_size: opts.batch_size,
        loss,
        d_steps,
        g_lr: opts.lr,
        d_lr: opts.lr,
        ema_decay: opts.ema_decay,
        seed: opts.seed,
        out_dir: out_dir.map(Path::to_path_buf),
        resume: opts.resume,
        progress: opts.progress,
        log_every: 25,
        ..GanTrainConfig::default()
    };
    let start = std::time::Instant::now();
    let report = train_gan(gan.generator, gan.discriminator, &data, &cfg, &ad)?;
    let seconds = start.elapsed().as_secs_f64();
    let g = report.sampler();
    let z = latent_codes(opts.samples, config.latent_dim, opts.seed + 1, device);
    let samples = sample_values(&g, z, None, 2500)?;
    let min_per_mode = (20 * opts.samples).div_ceil(2500);
    let coverage = mode_coverage(&samples, mix, min_per_mode)?;
    #[cfg(feature = "plot")]
    if let Some(dir) = out_dir {
        let title =
            format!("{} {}: {}/{} modes", mix.name, recipe.name(), coverage.modes_covered, coverage.modes_total);
        scatter_png(&dir.join("samples.png"), &title, &samples, mix)?;
    }
    Ok(ToyRun {
        mixture: mix.name.clone(),
        gan: recipe,
        coverage,
        generator_steps: report.state.g_step,
        seconds,
        out_dir: out_dir.map(Path::to_path_buf),
    })
}
