//! Command-line options shared by every example and tool.
//!
//! Every example takes `--device`, `--data`, `--epochs`, `--seed`,
//! `--quick`, `--out` and `--resume`, and ends by printing one line
//! `result: {json}` with its headline figures, so scripts and docs can
//! collect results the same way for every family.

use std::path::PathBuf;

use burn::tensor::Device;

use crate::Result;
use crate::data::locate::DataDirs;
use crate::device::{Backend, select_backend};
use crate::train::TrainConfig;

/// Options common to all examples (flatten into an example's own `clap::Parser`).
#[derive(Debug, Clone, clap::Args)]
pub struct CommonArgs {
    /// Backend: flex (default), ndarray or wgpu. Also `DL_DEVICE`.
    #[arg(long)]
    pub device: Option<String>,
    /// Datasets folder (default: `$DL_DATA_DIR`, else `../shared/data`).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Training epochs (default: the example's own).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Random seed for initialisation, shuffling and dropout.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// A short smoke run: few batches, one epoch, small data.
    #[arg(long)]
    pub quick: bool,
    /// Output folder for checkpoints, CSV logs and PNGs (default: `out/<example>`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue from the checkpoint in the output folder.
    #[arg(long)]
    pub resume: bool,
    /// Hide progress bars.
    #[arg(long)]
    pub no_progress: bool,
}

impl CommonArgs {
    /// The selected backend.
    pub fn backend(&self) -> Result<Backend> {
        select_backend(self.device.as_deref())
    }

    /// The selected device (without autodiff), seeded with `--seed`.
    pub fn device(&self) -> Result<Device> {
        let device = self.backend()?.device()?;
        device.seed(self.seed);
        Ok(device)
    }

    /// Where datasets are looked for.
    pub fn data_dirs(&self) -> DataDirs {
        DataDirs::resolve(self.data.as_deref())
    }

    /// The output folder (created).
    pub fn out_dir(&self, example: &str) -> Result<PathBuf> {
        let dir = self.out.clone().unwrap_or_else(|| PathBuf::from("out").join(example));
        std::fs::create_dir_all(&dir).map_err(|e| crate::Error::io("creating", &dir, e))?;
        Ok(dir)
    }

    /// Epochs: `--epochs`, else 1 with `--quick`, else `default`.
    pub fn epochs(&self, default: usize) -> usize {
        self.epochs.unwrap_or(if self.quick { 1 } else { default })
    }

    /// A training config with the common options applied.
    pub fn train_config(&self, default_epochs: usize, out_dir: Option<PathBuf>) -> TrainConfig {
        TrainConfig {
            epochs: self.epochs(default_epochs),
            seed: self.seed,
            out_dir,
            resume: self.resume,
            max_batches_per_epoch: self.quick.then_some(20),
            progress: !self.no_progress,
            ..TrainConfig::default()
        }
    }
}

/// Prints the closing `result: {json}` line.
pub fn print_result(value: &serde_json::Value) {
    println!("result: {value}");
}

/// Runs an example's body: prints its `result: {json}` line, or the error and exits with 1.
pub fn run_example(body: impl FnOnce() -> Result<serde_json::Value>) {
    match body() {
        Ok(r) => print_result(&r),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}

/// Writes a row-normalised confusion matrix as a labelled heatmap PNG.
pub fn save_confusion_png(
    path: &std::path::Path,
    cm: &crate::metrics::ConfusionMatrix,
    labels: &[String],
) -> Result<()> {
    let n = cm.classes();
    crate::plot::heatmap_png(path, &cm.normalized(), n, n, 40, Some(labels), Some(labels))
}
