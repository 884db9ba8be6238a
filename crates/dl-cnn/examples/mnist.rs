//! LeNet-5 (or a small-stem ResNet-18) on the full MNIST: 60,000 training and 10,000 test images.
//!
//! `cargo run -p dl-cnn --release --example mnist -- [--model lenet|resnet] [--epochs N] [--width W]
//! [--devices cuda:0,cuda:1]`
//!
//! Writes `out/mnist-<model>/`: per-epoch checkpoint, `metrics.csv`, `loss.png`,
//! `accuracy.png`, `confusion.png` and the final model (`model/`).

use clap::Parser;
use dl_cnn::recipes::load_mnist;
use dl_cnn::{ImageBatcher, LeNet5Config, ResNetConfig};
use dl_core::train::{LrSchedule, fit_data_parallel};
use dl_core::{DeviceSpec, ModelConfig, Result};
use dl_examples::choices::choice_name;
use dl_examples::cli::{CommonArgs, run_example};
use serde_json::json;

/// The networks this example trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Model {
    /// LeNet-5.
    Lenet,
    /// ResNet-18 with the small stem.
    Resnet,
}

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// The network.
    #[arg(long, value_enum, default_value_t = Model::Lenet)]
    model: Model,
    /// Channels of the ResNet's first stage.
    #[arg(long, default_value_t = 8)]
    width: usize,
    /// Mini-batch size.
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Peak learning rate (Adam, cosine decay).
    #[arg(long, default_value_t = 2e-3)]
    lr: f64,
    /// Train data-parallel on these devices (`cuda:0,cuda:1`; the first holds the model).
    #[arg(long, value_delimiter = ',')]
    devices: Vec<DeviceSpec>,
}

fn main() {
    let args = Args::parse();
    run_example(|| run(&args));
}

fn run(args: &Args) -> Result<serde_json::Value> {
    let c = &args.common;
    let data = load_mnist(&c.data_dirs(), c.quick, (2_000, 1_000))?;
    let model_name = choice_name(&args.model);
    let out = c.out_dir(&format!("mnist-{model_name}"))?;
    let mut cfg = c.train_config(if args.model == Model::Resnet { 3 } else { 12 }, Some(out.clone()));
    cfg.batch_size = args.batch_size;
    cfg.lr = args.lr;
    cfg.schedule = LrSchedule::Cosine { min_lr: args.lr / 100.0 };
    // The test split is only watched, never used to pick weights: the final epoch's model is reported.
    cfg.restore_best = false;
    let devices = c.training_devices(&args.devices)?;
    let device = &devices[0];
    let batcher = ImageBatcher::new(1, 28, 28);
    let start = std::time::Instant::now();
    let (eval, epochs, best) = match args.model {
        Model::Lenet => {
            let config = LeNet5Config::new();
            let r = fit_data_parallel(config.init(device)?, &data.train, Some(&data.test), &batcher, &cfg, &devices)?;
            dl_core::checkpoint::save_model(&config, &r.model, out.join("model"))?;
            (r.valid, r.history.epochs.len(), r.best_epoch)
        }
        Model::Resnet => {
            let config = ResNetConfig::resnet18_small(1, 10, args.width);
            let r = fit_data_parallel(config.init(device)?, &data.train, Some(&data.test), &batcher, &cfg, &devices)?;
            dl_core::checkpoint::save_model(&config, &r.model, out.join("model"))?;
            (r.valid, r.history.epochs.len(), r.best_epoch)
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
        "model": model_name,
        "device": match args.devices.as_slice() {
            [] => c.device_spec()?.to_string(),
            list => list.iter().map(DeviceSpec::to_string).collect::<Vec<_>>().join(","),
        },
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
