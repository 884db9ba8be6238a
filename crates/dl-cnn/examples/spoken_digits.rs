//! Spoken-digit recognition: a CNN on log-mel spectrograms of the Free Spoken
//! Digit Dataset (2,700 training / 300 test recordings, 6 speakers, 8 kHz).
//!
//! `cargo run -p dl-cnn --release --example spoken_digits -- [--epochs N]`
//!
//! Each clip becomes a 40-band log-mel spectrogram (32 ms Hann windows every
//! 8 ms, 96 frames = 0.77 s, cropped or zero-padded), normalised per clip.
//! Writes `out/spoken_digits/`: checkpoint, `metrics.csv`, curves,
//! `confusion.png` and `spectrograms.png` (one example per digit).

use std::path::Path;

use burn::tensor::Device;
use clap::Parser;
use dl_cnn::audio::{Spectrogram, SpectrogramConfig, normalize_per_utterance, read_wav_tar_gz};
use dl_cnn::{ImageBatcher, ImageItem, SpectrogramCnnConfig, Vgg};
use dl_core::task::predict_outputs;
use dl_core::train::{LrSchedule, fit};
use dl_core::{Error, ModelConfig, Result};
use dl_examples::cli::{CommonArgs, run_example};
use serde_json::json;

const N_MELS: usize = 40;
const FRAMES: usize = 96;

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
}

fn main() {
    let args = Args::parse();
    run_example(|| run(&args));
}

fn spec_config() -> SpectrogramConfig {
    SpectrogramConfig { frame_len: 256, hop: 64, n_fft: 256, n_mels: N_MELS, sample_rate: 8000, frames: FRAMES }
}

/// Reads one split: the digit is the first field of `<split>/<digit>_<speaker>_<index>.wav`.
fn load_split(path: &Path) -> Result<Vec<ImageItem>> {
    // Window, FFT plan and mel filterbank are built once for all clips.
    let spectrogram = Spectrogram::new(&spec_config())?;
    let mut items = Vec::new();
    for (name, wav) in read_wav_tar_gz(path)? {
        let file = name.rsplit('/').next().unwrap_or(&name);
        let label = file
            .split('_')
            .next()
            .and_then(|d| d.parse::<usize>().ok())
            .filter(|d| *d < 10)
            .ok_or_else(|| Error::data(path, &name, "member name does not start with a digit 0-9"))?;
        // A clip at another sample rate names its member.
        let mut pixels = spectrogram.compute(&wav).map_err(|e| Error::data(path, format!("member `{name}`"), e))?;
        normalize_per_utterance(&mut pixels);
        items.push(ImageItem { pixels, label });
    }
    Ok(items)
}

/// Share of `items` named right with a probability of at least `p` (how sure
/// the classifier is of what it knows; `speech_gan` scores with p >= 0.9).
fn sure_and_right(model: &Vgg, items: &[ImageItem], p: f32, device: &Device) -> Result<f64> {
    let batcher = ImageBatcher::new(1, N_MELS, FRAMES);
    let mut probs = predict_outputs(model, items, &batcher, 256, device)?.concat();
    dl_kernels::rows::softmax(&mut probs, 10);
    let hits = probs.chunks(10).zip(items).filter(|(row, item)| row[item.label] >= p).count();
    Ok(hits as f64 / items.len().max(1) as f64)
}

fn run(args: &Args) -> Result<serde_json::Value> {
    let c = &args.common;
    let dir = c.data_dirs().find("fsdd", &["train.tar.gz", "test.tar.gz"])?;
    let start = std::time::Instant::now();
    let mut train = load_split(&dir.join("train.tar.gz"))?;
    let test = load_split(&dir.join("test.tar.gz"))?;
    if c.quick {
        train.truncate(600);
    }
    let out = c.out_dir("spoken_digits")?;
    let mut shown = Vec::new();
    for d in 0..10 {
        if let Some(item) = test.iter().find(|i| i.label == d) {
            shown.push(item.pixels.clone());
        }
    }
    dl_core::plot::image_grid_png(&out.join("spectrograms.png"), &shown, FRAMES, N_MELS, 5, 3, None)?;

    let mut cfg = c.train_config(100, Some(out.clone()));
    cfg.batch_size = 32;
    cfg.lr = 2e-3;
    cfg.schedule = LrSchedule::Cosine { min_lr: 2e-5 };
    // The test split is watched, never used to pick weights: the final epoch's model is reported.
    cfg.restore_best = false;
    let device = c.device()?.autodiff();
    device.seed(c.seed);
    let config = SpectrogramCnnConfig::new(N_MELS, FRAMES, 10);
    let report = fit(config.init(&device)?, &train, Some(&test), &ImageBatcher::new(1, N_MELS, FRAMES), &cfg, &device)?;
    dl_core::checkpoint::save_model(&config, &report.model, out.join("model"))?;
    let sure = sure_and_right(&report.model, &test, 0.9, &device)?;
    let eval = report.valid.ok_or_else(|| Error::Invalid("no test evaluation".into()))?;
    if let Some(cm) = &eval.confusion {
        let labels: Vec<String> = (0..10).map(|d| d.to_string()).collect();
        dl_core::plot::heatmap_png(
            &out.join("confusion.png"),
            &cm.normalized(),
            10,
            10,
            40,
            Some(&labels),
            Some(&labels),
        )?;
    }
    Ok(json!({
        "example": "spoken_digits",
        "device": c.device_spec()?.to_string(),
        "train_clips": train.len(),
        "test_clips": test.len(),
        "features": format!("log-mel {N_MELS}x{FRAMES}"),
        "test_accuracy": eval.accuracy(),
        "test_macro_f1": eval.confusion.as_ref().map(|c| c.macro_f1()),
        "test_right_with_p_ge_0_9": sure,
        "epochs": report.history.epochs.len(),
        "best_epoch": report.best_epoch,
        "seconds": start.elapsed().as_secs_f64(),
        "out": out.display().to_string(),
    }))
}
