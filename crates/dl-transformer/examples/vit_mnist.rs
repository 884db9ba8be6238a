//! A Vision Transformer on MNIST: 7x7 patches (16 tokens + `[CLS]`), 4 pre-norm
//! layers of width 64, trained from scratch; test accuracy on the 10,000 test
//! images.
//!
//! `cargo run -p dl-transformer --release --example vit_mnist -- [--epochs 10] [--quick]`
//!
//! Writes `out/vit_mnist/`: checkpoint, `metrics.csv`, `loss.png`, the confusion
//! matrix and `attention_cls.png` (what the `[CLS]` token of the last layer
//! attends to, per patch, for the first test digits).

use burn::module::Module;
use clap::Parser;
use dl_core::ModelConfig;
use dl_core::data::idx::{check_labels, read_idx_images, read_idx_labels};
use dl_core::data::image::{ImageBatcher, image_items};
use dl_core::task::{evaluate, to_f32};
use dl_core::train::{LrSchedule, OptimizerKind, fit};
use dl_examples::cli::{CommonArgs, run_example, save_confusion_png};
use dl_transformer::VitConfig;
use serde_json::json;

#[derive(Parser)]
#[command(about = "Vision Transformer on MNIST")]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Patch side (divides 28).
    #[arg(long, default_value_t = 7)]
    patch: usize,
    /// Model width.
    #[arg(long, default_value_t = 64)]
    d_model: usize,
    /// Encoder layers.
    #[arg(long, default_value_t = 4)]
    layers: usize,
    /// Attention heads.
    #[arg(long, default_value_t = 4)]
    heads: usize,
    /// Batch size.
    #[arg(long, default_value_t = 128)]
    batch_size: usize,
    /// Peak learning rate.
    #[arg(long, default_value_t = 2e-3)]
    lr: f64,
}

fn main() {
    let args = Args::parse();
    run_example(|| {
        let c = &args.common;
        let dir = c.data_dirs().find(
            "mnist",
            &[
                "train-images-idx3-ubyte.gz",
                "train-labels-idx1-ubyte.gz",
                "t10k-images-idx3-ubyte.gz",
                "t10k-labels-idx1-ubyte.gz",
            ],
        )?;
        let load = |images: &str, labels: &str| {
            let set = read_idx_images(dir.join(images))?;
            let path = dir.join(labels);
            let labels = read_idx_labels(&path)?;
            check_labels(&labels, 10, &path)?;
            image_items(&set, &labels, 255.0, 0.1307, 0.3081)
        };
        let mut train = load("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")?;
        let mut test = load("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")?;
        let valid = train.split_off(55_000);
        if c.quick {
            train.truncate(2_000);
            test.truncate(1_000);
        }
        let out = c.out_dir("vit_mnist")?;
        let config = VitConfig::new(1, 28, args.patch, 10)
            .with_d_model(args.d_model)
            .with_layers(args.layers)
            .with_heads(args.heads)
            .with_d_ff(2 * args.d_model);
        let device = c.device()?;
        let ad = device.clone().autodiff();
        let model = config.init(&ad)?;
        let mut cfg = c.train_config(10, Some(out.clone()));
        cfg.batch_size = args.batch_size;
        cfg.lr = args.lr;
        cfg.optimizer = OptimizerKind::AdamW { betas: (0.9, 0.999), weight_decay: 0.05 };
        cfg.schedule = LrSchedule::Cosine { min_lr: args.lr / 50.0 };
        cfg.warmup_steps = 300;
        cfg.grad_clip_norm = Some(1.0);
        eprintln!(
            "ViT: {} parameters; {} train / {} valid / {} test images",
            model.num_params(),
            train.len(),
            valid.len(),
            test.len()
        );
        let batcher = ImageBatcher::new(1, 28, 28);
        let start = std::time::Instant::now();
        let report = fit(model, &train, Some(&valid), &batcher, &cfg, &ad)?;
        let seconds = start.elapsed().as_secs_f64();
        let model = report.model.valid().to_device(&device);
        dl_core::checkpoint::save_model(&config, &model, out.join("model"))?;
        let eval = evaluate(&model, &test, &batcher, 256, &device)?;
        let accuracy = eval.accuracy().unwrap_or(0.0);
        if let Some(cm) = &eval.confusion {
            let labels: Vec<String> = (0..10).map(|d| d.to_string()).collect();
            save_confusion_png(&out.join("confusion.png"), cm, &labels)?;
        }
        // [CLS] attention of the last layer (mean over heads) for 8 test digits, one row each.
        let firsts: Vec<&_> = test.iter().take(8).collect();
        let images = batcher.images(&firsts, &device)?;
        let (_, attentions) = model.forward_with_attention(images)?;
        if let Some(last) = attentions.last() {
            let [b, h, t, s] = last.dims();
            let cls = last.clone().slice([0..b, 0..h, 0..1, 1..s]).mean_dim(1).reshape([b, s - 1]);
            let side = (s - 1).isqrt();
            let _ = t;
            let rows = to_f32(cls)?;
            dl_core::plot::heatmap_png(&out.join("attention_cls.png"), &rows, b, side * side, 18, None, None)?;
        }
        eprintln!("test accuracy {:.2}%", 100.0 * accuracy);
        Ok(json!({
            "example": "vit_mnist",
            "test_accuracy": accuracy,
            "test_images": test.len(),
            "epochs": report.history.epochs.len(),
            "params": model.num_params(),
            "train_seconds": seconds,
        }))
    });
}
