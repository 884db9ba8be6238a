//! Finds and classifies the 1 to 5 handwritten digits scattered on each
//! 80x80 canvas (composed from MNIST: training scenes from training images,
//! test scenes from test images) with a CenterNet-style detector, scored by
//! VOC mAP@0.5 and COCO mAP@[.5:.95]. docs/cnn.md explains the model and the results.
//!
//! `cargo run -p dl-cnn --release --example detect_digits -- [--train-scenes N]`
//! writes `out/detect_digits/`: checkpoints, curves, `detections.png`, the model.

use burn::module::Module;
use clap::Parser;
use dl_cnn::detection::{Interpolation, coco_map, mean_average_precision};
use dl_cnn::models::centernet::SceneBatcher;
use dl_cnn::recipes::mnist_scene_pools;
use dl_cnn::scenes::{DigitScene, DigitSceneConfig};
use dl_cnn::{CenterNet, CenterNetConfig};
use dl_core::data::idx::ImageSet;
use dl_core::plot::{MarkedBox, PALETTE, boxes_grid_png};
use dl_core::train::{LrSchedule, fit};
use dl_core::{Batcher, Error, ModelConfig, Result};
use dl_examples::cli::{CommonArgs, run_example};
use serde_json::json;

#[derive(Parser)]
#[command(about = "A CenterNet-style detector finds handwritten digits on composed canvases")]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Training scenes (composed once, drawn when batched).
    #[arg(long, default_value_t = 16_000)]
    train_scenes: usize,
    /// Test scenes, from MNIST's test images.
    #[arg(long, default_value_t = 5_000)]
    test_scenes: usize,
    /// Detections scoring below this are dropped (low: mAP ranks them all).
    #[arg(long, default_value_t = 0.05)]
    threshold: f32,
    /// Mini-batch size.
    #[arg(long, default_value_t = 32)]
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
    if !(0.0..1.0).contains(&args.threshold) {
        return Err(Error::config(
            "detect_digits",
            "--threshold",
            format!("must be in [0, 1), got {}", args.threshold),
        ));
    }
    dl_core::config::check::positive("detect_digits", "--batch-size", args.batch_size)?;
    let (n_train, n_test) = if c.quick { (1_000, 200) } else { (args.train_scenes, args.test_scenes) };
    dl_core::config::check::positive("detect_digits", "--train-scenes", n_train)?;
    dl_core::config::check::positive("detect_digits", "--test-scenes", n_test)?;
    // Validation scenes come from 5,000 training images that no training scene uses.
    let layout = DigitSceneConfig::new();
    let pools = mnist_scene_pools(&c.data_dirs(), 5_000, c.seed)?;
    let ((train_images, train_labels), (test_images, test_labels)) = (&pools.train, &pools.test);
    let plan = |pool: &[usize], set: &ImageSet, labels: &[u8], seed: u64, n: usize| -> Result<Vec<DigitScene>> {
        (0..n).map(|i| layout.plan(pool, set, labels, seed, i)).collect()
    };
    let train = plan(&pools.train_pool, train_images, train_labels, c.seed, n_train)?;
    let valid = plan(&pools.valid_pool, train_images, train_labels, c.seed + 1, 1_000.min(n_test))?;
    let test = plan(&pools.test_pool, test_images, test_labels, c.seed + 2, n_test)?;
    let objects = |s: &[DigitScene]| s.iter().map(|s| s.boxes.len()).sum::<usize>();

    let out = c.out_dir("detect_digits")?;
    let mut cfg = c.train_config(8, Some(out.clone()));
    cfg.batch_size = args.batch_size;
    cfg.lr = args.lr;
    cfg.schedule = LrSchedule::Cosine { min_lr: args.lr / 100.0 };
    cfg.grad_clip_norm = Some(10.0);
    let device = c.device()?.autodiff();
    let config = CenterNetConfig::new(layout.size);
    let model = config.init(&device)?;
    eprintln!(
        "{} training scenes ({} digits), {} validation, {} test ({} digits) on {}x{} canvases",
        train.len(),
        objects(&train),
        valid.len(),
        test.len(),
        objects(&test),
        layout.size,
        layout.size
    );
    let batcher = SceneBatcher { layout: &layout, images: train_images, classes: config.classes };
    let start = std::time::Instant::now();
    let report = fit(model, &train, Some(&valid), &batcher, &cfg, &device)?;
    let train_seconds = start.elapsed().as_secs_f64();
    dl_core::checkpoint::save_model(&config, &report.model, out.join("model"))?;

    let model: CenterNet = report.model.valid();
    let eval_device = device.clone().without_autodiff();
    let batcher = SceneBatcher { layout: &layout, images: test_images, classes: config.classes };
    let (mut found, mut truths) = (Vec::new(), Vec::new());
    let pb = dl_core::train::progress::bar(test.len().div_ceil(256) as u64, "test", !c.no_progress);
    for chunk in test.chunks(256) {
        let refs: Vec<&DigitScene> = chunk.iter().collect();
        let batch = batcher.batch(&refs, &eval_device)?;
        found.extend(model.detect(batch.images, args.threshold, 20)?);
        truths.extend(batch.truths);
        pb.inc(1);
    }
    pb.finish_and_clear();
    let voc = mean_average_precision(&found, &truths, config.classes, 0.5, Interpolation::EveryPoint)?;
    let coco = coco_map(&found, &truths, config.classes)?;
    let voc75 = mean_average_precision(&found, &truths, config.classes, 0.75, Interpolation::EveryPoint)?;
    eprintln!("test: mAP@0.5 {voc:.4} (VOC), mAP@0.75 {voc75:.4}, mAP@[.5:.95] {coco:.4} (COCO)");

    // The first 12 test scenes with the detections scoring 0.3 or more.
    let shown = 12.min(test.len());
    let images: Vec<Vec<f32>> = test[..shown].iter().map(|s| layout.render(s, test_images)).collect::<Result<_>>()?;
    let marks: Vec<Vec<MarkedBox>> = found[..shown]
        .iter()
        .map(|ds| {
            ds.iter()
                .filter(|d| d.score >= 0.3)
                .map(|d| MarkedBox {
                    corners: [d.bbox.x0, d.bbox.y0, d.bbox.x1, d.bbox.y1],
                    label: format!("{} {:.2}", d.class, d.score),
                    color: PALETTE[d.class % PALETTE.len()],
                })
                .collect()
        })
        .collect();
    boxes_grid_png(&out.join("detections.png"), &images, layout.size, layout.size, 4, 4, &marks)?;

    Ok(json!({
        "example": "detect_digits",
        "model": "centernet-style (stride 4, focal heatmap + size + offset)",
        "composition": {
            "source": "mnist", "canvas": layout.size, "digits": [layout.min_digits, layout.max_digits],
            "side": [layout.min_side, layout.max_side], "margin": layout.margin, "seed": c.seed,
        },
        "train_scenes": train.len(),
        "test_scenes": test.len(),
        "test_digits": objects(&test),
        "test_map50_voc": voc,
        "test_map75_voc": voc75,
        "test_map_coco": coco,
        "threshold": args.threshold,
        "valid_loss": report.valid.as_ref().map(|v| v.loss),
        "epochs": report.history.epochs.len(),
        "train_seconds": train_seconds,
    }))
}
