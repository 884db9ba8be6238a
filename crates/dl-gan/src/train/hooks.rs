//! What the GAN trainer does at the end of an epoch, once the checkpoint is
//! written: the history as CSV and a loss curve, a grid of the fixed latent
//! codes. A run adds its own with [`super::train_gan_with_hooks`].

use std::path::Path;

use burn::tensor::Device;
#[cfg(feature = "plot")]
use burn::tensor::{Int, Tensor};
use dl_core::Result;

use super::config::GanTrainConfig;
use super::state::GanState;
use crate::models::Generator;
#[cfg(feature = "plot")]
use crate::sampling::{grid_labels, latent_codes};

/// What a hook sees at the end of an epoch.
pub struct EpochEnd<'a, G> {
    /// The epoch just completed (1-based).
    pub epoch: usize,
    /// The run's history so far.
    pub state: &'a GanState,
    /// The generator as trained (on the training device).
    pub generator: &'a G,
    /// The generator's weight average (on the plain device), if the run keeps one.
    pub average: Option<&'a G>,
    /// The run's output folder, if it writes one.
    pub out_dir: Option<&'a Path>,
}

impl<G: Generator> EpochEnd<'_, G> {
    /// The generator to sample from, on the plain device: the average if
    /// there is one, else the trained generator in inference mode.
    pub fn sampler(&self) -> G {
        self.average.cloned().unwrap_or_else(|| self.generator.valid())
    }
}

/// Called by the trainer after every epoch.
pub trait GanHook<G> {
    /// Runs at the end of an epoch; an error stops training (the epoch's checkpoint is kept).
    fn end_of_epoch(&mut self, end: &EpochEnd<'_, G>) -> Result<()>;
}

/// The hooks of [`super::train_gan`]: with an output folder, the
/// history ([`HistoryWriter`]) and, for images, the sample grid ([`SampleGrid`],
/// feature `plot`).
pub fn default_hooks<G: Generator + 'static>(g: &G, cfg: &GanTrainConfig, device: &Device) -> Vec<Box<dyn GanHook<G>>> {
    let mut hooks: Vec<Box<dyn GanHook<G>>> = Vec::new();
    if cfg.out_dir.is_some() {
        hooks.push(Box::new(HistoryWriter));
        #[cfg(feature = "plot")]
        if let Some(shape) = cfg.image_shape {
            hooks.push(Box::new(SampleGrid::new(g, cfg, shape, device)));
        }
    }
    #[cfg(not(feature = "plot"))]
    let _ = (g, device);
    hooks
}

/// Writes `metrics.csv` and, with the `plot` feature, `losses.png`.
pub struct HistoryWriter;

impl<G> GanHook<G> for HistoryWriter {
    fn end_of_epoch(&mut self, end: &EpochEnd<'_, G>) -> Result<()> {
        match end.out_dir {
            Some(dir) => write_history(end.state, dir),
            None => Ok(()),
        }
    }
}

/// Renders the same latent codes after every epoch as `samples.png` and
/// `samples/epoch_NNN.png`, so that successive grids are comparable. The codes
/// are drawn once from the run's seed; a conditional generator gets a row of
/// codes per class. (Feature `plot`.)
#[cfg(feature = "plot")]
pub struct SampleGrid {
    z: Tensor<2>,
    labels: Option<Tensor<1, Int>>,
    shape: [usize; 3],
    cols: usize,
}

#[cfg(feature = "plot")]
impl SampleGrid {
    /// The grid of `cfg.fixed_samples` codes of images of `shape` for generator `g`.
    pub fn new<G: Generator>(g: &G, cfg: &GanTrainConfig, shape: [usize; 3], device: &Device) -> Self {
        let plain = device.clone().without_autodiff();
        let per_class = (cfg.fixed_samples as f64).sqrt().round().max(1.0) as usize;
        let seed = cfg.seed ^ 0x5EED_F1ED;
        let (z, labels) = match g.num_classes() {
            Some(n) => {
                (latent_codes(n * per_class, g.latent_dim(), seed, &plain), Some(grid_labels(n, per_class, &plain)))
            }
            None => (latent_codes(cfg.fixed_samples, g.latent_dim(), seed, &plain), None),
        };
        SampleGrid { z, labels, shape, cols: per_class }
    }
}

#[cfg(feature = "plot")]
impl<G: Generator> GanHook<G> for SampleGrid {
    fn end_of_epoch(&mut self, end: &EpochEnd<'_, G>) -> Result<()> {
        let Some(out) = end.out_dir else { return Ok(()) };
        let values = crate::sampling::sample_values(&end.sampler(), self.z.clone(), self.labels.clone(), 256)?;
        let dir = out.join("samples");
        std::fs::create_dir_all(&dir).map_err(|e| dl_core::Error::io("creating", &dir, e))?;
        let save = crate::sampling::save_sample_grid;
        save(&dir.join(format!("epoch_{:03}.png", end.epoch)), &values, self.shape, self.cols)?;
        save(&out.join("samples.png"), &values, self.shape, self.cols)
    }
}

/// Writes `metrics.csv` (per epoch) and, with the `plot` feature, `losses.png` (the loss curve).
pub fn write_history(state: &GanState, dir: &Path) -> Result<()> {
    let mut csv = String::from("epoch,d_loss,g_loss,d_real,d_fake,info_loss,term_loss,seconds\n");
    for e in &state.epochs {
        let info = e.info_loss.map(|l| format!("{l:.6}")).unwrap_or_default();
        let term = e.term_loss.map(|l| format!("{l:.6}")).unwrap_or_default();
        csv.push_str(&format!(
            "{},{:.6},{:.6},{:.6},{:.6},{info},{term},{:.2}\n",
            e.epoch, e.d_loss, e.g_loss, e.d_real, e.d_fake, e.seconds
        ));
    }
    dl_core::train::checkpointer::write_atomically(&dir.join("metrics.csv"), csv.as_bytes())?;
    #[cfg(feature = "plot")]
    write_loss_curve(state, dir)?;
    Ok(())
}

/// Writes `losses.png`: the discriminator's and the generator's loss per step
/// (per epoch for short runs).
#[cfg(feature = "plot")]
fn write_loss_curve(state: &GanState, dir: &Path) -> Result<()> {
    use dl_core::plot::{Series, line_chart};
    let mut points: Vec<(usize, f64, f64)> = state.curve.iter().map(|p| (p.step, p.d_loss, p.g_loss)).collect();
    if points.len() < 2 {
        // Short runs: plot the epoch means instead.
        points = state.epochs.iter().map(|e| (e.epoch, e.d_loss, e.g_loss)).collect();
    }
    let series = vec![
        Series::new("discriminator", points.iter().map(|p| (p.0 as f64, p.1)).collect()),
        Series::new("generator", points.iter().map(|p| (p.0 as f64, p.2)).collect()),
    ];
    let x_label = if state.curve.len() < 2 { "epoch" } else { "discriminator step" };
    line_chart(&dir.join("losses.png"), "GAN losses", x_label, "loss", &series, false)
}
