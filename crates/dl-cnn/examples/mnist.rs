//! LeNet-5 (or a small-stem ResNet-18) on the full MNIST: 60,000 training and 10,000 test images.
//!
//! `cargo run -p dl-cnn --release --example mnist -- [--model lenet|resnet] [--epochs N] [--width W]`
//!
//! Writes `out/mnist-<model>/`: per-epoch checkpoint, `metrics.csv`, `loss.png`,
//! `accuracy.png`, `confusion.png` and the final model (`model/`).

use clap::Parser;
use dl_cnn::recipes::load_mnist;
use dl_cnn::{ImageBatcher, LeNet5Config, ResNetConfig};
use dl_core::cli::{CommonArgs, run_example};
use dl_core::train::{LrSchedule, fit};
use dl_core::{ModelConfig, Result};
use serde_json::json;

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// lenet (LeNet-5) or resnet (ResNet-18, small stem).
    #[arg(long, default_value = "lenet")]
    model: String,
    /// Channels of the ResNet's first stage.
    #[arg(long, default_value_t = 8)]
    width: usize,
    /// Mini-batch size.
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Peak learning rate (Adam, cosine decay).
    #[arg(long, default_value_t = 2e-3)]
    lr: f64,
}

fn main() {
    let args = Args::parse();
    run_example(|| run(&args));
}

fn run(args: &Args) -> Result<serde_json::Value> {
    let c = &args.common;
    let data = load_mnist(&c.data_dirs(), c.quick, (2_000, 1_000))?;
    let out = c.out_dir(&format!("mnist-{}", args.model))?;
    let mut cfg = c.train_config(if args.model == "resnet" { 3 } else { 12 }, Some(out.clone()));
    cfg.batch_size = args.batch_size;
    cfg.lr = args.lr;
    cfg.schedule = LrSchedule::Cosine { min_lr: args.lr / 100.0 };
    // The test split is only watched, never used to pick weights: the final epoch's model is reported.
    cfg.restore_best = false;
    let device = c.device()?.autodiff();
    device.seed(c.seed);
    let batcher = ImageBatcher::new(1, 28, 28);
    let start = std::time::Instant::now();
    let (eval, epochs, best) = match args.model.as_str() {
        "lenet" => {
            let config = LeNet5Config::new();
            let r = fit(config.init(&device)?, &data.train, Some(&data.test), &batcher, &cfg, &device)?;
            dl_core::checkpoint::save_model(&config, &r.model, out.join("model"))?;
            (r.valid, r.history.epochs.len(), r.best_epoch)
        }
        "resnet" => {
            let config = ResNetConfig::resnet18_small(1, 10, args.width);
            let r = fit(config.init(&device)?, &data.train, Some(&data.test), &batcher, &cfg, &device)?;
            dl_core::checkpoint::save_model(&config, &r.model, out.join("model"))?;
            (r.valid, r.history.epochs.len(), r.best_epoch)
        }
        other => {
            return Err(dl_core::Error::Unknown {
                kind: "model",
                value: other.into(),
                context: "--model (lenet or resnet)".into(),
            });
        }
    };
    let eval = eval.ok_or_else(|| dl_core::Error::Invalid("no test evaluation".into()))?;
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
        "example": "mnist",
        "model": args.model,
        "device": c.backend()?.name(),
        "train_examples": data.train.len(),
        "test_examples": data.test.len(),
        "test_accuracy": eval.accuracy(),
        "test_loss": eval.loss,
        "epochs": epochs,
        "best_epoch": best,
        "seconds": start.elapsed().as_secs_f64(),
        "out": out.display().to_string(),
    }))
}
