//! Command-line options shared by every example and tool.
//!
//! Every example takes `--device`, `--data`, `--epochs`, `--seed`,
//! `--quick`, `--out` and `--resume`, and ends by printing one line
//! `result: {json}` with its headline figures, so scripts and docs can
//! collect results the same way for every family.

use std::path::PathBuf;

use burn::tensor::Device;

use dl_core::Result;
use dl_core::data::locate::DataDirs;
use dl_core::device::{DeviceSpec, select_device};
use dl_core::train::TrainConfig;

/// Options common to all examples (flatten into an example's own `clap::Parser`).
#[derive(Debug, Clone, clap::Args)]
pub struct CommonArgs {
    /// Device: flex (default), ndarray, wgpu, wgpu:N, cuda or cuda:N. Also `DL_DEVICE`.
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
    /// The selected device, as asked for (`flex`, `cuda:1`, ...).
    pub fn device_spec(&self) -> Result<DeviceSpec> {
        select_device(self.device.as_deref())
    }

    /// The selected device (without autodiff), seeded with `--seed`.
    pub fn device(&self) -> Result<Device> {
        let device = self.device_spec()?.device()?;
        device.seed(self.seed);
        Ok(device)
    }

    /// The training devices, with autodiff and seeded with `--seed`: `devices`
    /// when given (data-parallel; the first holds the model), else `--device`.
    pub fn training_devices(&self, devices: &[DeviceSpec]) -> Result<Vec<Device>> {
        if devices.is_empty() {
            return Ok(vec![self.device()?.autodiff()]);
        }
        devices
            .iter()
            .map(|spec| {
                let device = spec.device()?.autodiff();
                device.seed(self.seed);
                Ok(device)
            })
            .collect()
    }

    /// Where datasets are looked for.
    pub fn data_dirs(&self) -> DataDirs {
        DataDirs::resolve(self.data.as_deref())
    }

    /// The output folder (created).
    pub fn out_dir(&self, example: &str) -> Result<PathBuf> {
        let dir = self.out.clone().unwrap_or_else(|| PathBuf::from("out").join(example));
        std::fs::create_dir_all(&dir).map_err(|e| dl_core::Error::io("creating", &dir, e))?;
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
    let mut value = value.clone();
    // Which data the figures come from (absent for embedded or generated data).
    let used = dl_core::data::locate::data_folders_used();
    if let (Some(map), false) = (value.as_object_mut(), used.is_empty()) {
        map.entry("data_folders").or_insert_with(|| serde_json::json!(used));
    }
    println!("result: {value}");
}

/// A clap value parser for a count of at least `MIN`
/// (`#[arg(value_parser = at_least::<2>)]`): a smaller value is refused
/// with the flag's name before anything runs (exit status 2).
pub fn at_least<const MIN: usize>(text: &str) -> std::result::Result<usize, String> {
    let value: usize = text.parse().map_err(|e| format!("{e}"))?;
    if value < MIN {
        return Err(format!("must be at least {MIN}"));
    }
    Ok(value)
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

/// Runs `run` for every dataset and every model, datasets outer, and
/// gathers the results as `{"example": example, "runs": [...]}`.
pub fn run_each<D: Copy, M: Copy>(
    example: &str,
    datasets: &[D],
    models: &[M],
    mut run: impl FnMut(D, M) -> Result<serde_json::Value>,
) -> Result<serde_json::Value> {
    let mut runs = Vec::with_capacity(datasets.len() * models.len());
    for &d in datasets {
        for &m in models {
            runs.push(run(d, m)?);
        }
    }
    Ok(serde_json::json!({ "example": example, "runs": runs }))
}

/// The test confusion matrix of `eval`, written as `confusion.png` into
/// `out` with the class names of `labels`.
pub fn confusion_figure<'a>(
    out: &std::path::Path,
    eval: &'a dl_core::task::Evaluation,
    labels: &dl_core::data::LabelSet,
) -> Result<&'a dl_core::metrics::ConfusionMatrix> {
    let cm = eval.confusion.as_ref().ok_or_else(|| dl_core::Error::Invalid("no confusion matrix".into()))?;
    save_confusion_png(&out.join("confusion.png"), cm, labels.names())?;
    Ok(cm)
}

/// Writes a row-normalised confusion matrix as a labelled heatmap PNG.
pub fn save_confusion_png(
    path: &std::path::Path,
    cm: &dl_core::metrics::ConfusionMatrix,
    labels: &[String],
) -> Result<()> {
    let n = cm.classes();
    dl_core::plot::heatmap_png(path, &cm.normalized(), n, n, 40, Some(labels), Some(labels))
}
