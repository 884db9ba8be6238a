//! Saliency maps: which pixels of a test digit the classifier's decision depends on.
//!
//! `cargo run -p dl-cnn --release --example saliency -- [--model-dir out/mnist-lenet/model] [--count 8]`
//!
//! Explains the LeNet-5 of `--model-dir` (an error if it holds none); without
//! the flag, the `mnist` example's `out/mnist-lenet/model` when present, else
//! one trained here for `--epochs` (default 2), said on stderr and in the
//! result. Writes `out/saliency/saliency_<i>_<digit>.png`:
//! the input on the left, |d score / d pixel| over it on the right.

use std::path::PathBuf;

use clap::Parser;
use dl_cnn::recipes::load_mnist;
use dl_cnn::saliency::saliency_map;
use dl_cnn::{ImageBatcher, LeNet5Config};
use dl_core::task::predict_classes;
use dl_core::train::fit;
use dl_core::{ModelConfig, Result};
use dl_examples::cli::{CommonArgs, run_example};
use serde_json::json;

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// A LeNet-5 saved by the `mnist` example (default: `out/mnist-lenet/model`
    /// if it exists, else one trained here).
    #[arg(long)]
    model_dir: Option<PathBuf>,
    /// Number of test digits to explain.
    #[arg(long, default_value_t = 8)]
    count: usize,
}

fn main() {
    let args = Args::parse();
    run_example(|| run(&args));
}

fn run(args: &Args) -> Result<serde_json::Value> {
    let c = &args.common;
    let data = load_mnist(&c.data_dirs(), c.quick, (3_000, 10_000))?;
    let out = c.out_dir("saliency")?;
    let device = c.device()?.autodiff();
    device.seed(c.seed);
    let batcher = ImageBatcher::new(1, 28, 28);
    let default = PathBuf::from("out/mnist-lenet/model");
    let saved = match &args.model_dir {
        Some(dir) => Some(dir.clone()),
        None => (default.join(dl_core::checkpoint::WEIGHTS_FILE).is_file() && !c.quick).then_some(default),
    };
    let model = match &saved {
        Some(dir) => dl_core::checkpoint::load_model::<LeNet5Config>(dir, &device)?.1,
        None => {
            eprintln!("no saved LeNet-5 (out/mnist-lenet/model): training one here");
            let cfg = c.train_config(2, Some(out.join("train")));
            fit(LeNet5Config::new().init(&device)?, &data.train, None, &batcher, &cfg, &device)?.model
        }
    };
    let items = &data.test[..args.count.min(data.test.len())];
    let preds = predict_classes(&model, items, &batcher, 64, &device)?;
    let mut files_out = Vec::new();
    let mut concentration = Vec::new();
    for (i, (item, &pred)) in items.iter().zip(&preds).enumerate() {
        let s = saliency_map(&model, &item.pixels, pred, &device)?;
        // Share of the saliency that falls on ink (pixels brighter than the background).
        let total: f32 = s.iter().sum();
        let on_ink: f32 = s.iter().zip(&item.pixels).filter(|(_, p)| **p > 0.0).map(|(v, _)| v).sum();
        concentration.push(if total > 0.0 { on_ink / total } else { 0.0 });
        let path = out.join(format!("saliency_{i}_{}.png", item.label));
        dl_core::plot::saliency_overlay_png(&path, &item.pixels, &s, 28, 28, 8)?;
        files_out.push(path.display().to_string());
    }
    let mean_conc = concentration.iter().sum::<f32>() / concentration.len().max(1) as f32;
    Ok(json!({
        "example": "saliency",
        "device": c.device_spec()?.to_string(),
        "model": saved.map_or("trained here".to_string(), |d| d.display().to_string()),
        "digits": items.len(),
        "predicted": preds,
        "labels": items.iter().map(|i| i.label).collect::<Vec<_>>(),
        "saliency_share_on_ink": mean_conc,
        "files": files_out,
    }))
}
