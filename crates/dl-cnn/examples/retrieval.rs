//! Image retrieval: MNIST test images queried against the 60,000 training
//! images by cosine similarity of LeNet-5's penultimate-layer embedding.
//!
//! `cargo run -p dl-cnn --release --example retrieval -- [--model-dir out/mnist-lenet/model] [--queries N]`
//!
//! Uses the model saved by the `mnist` example when present, else trains
//! LeNet-5 for `--epochs` (default 3) first. Writes `out/retrieval/neighbours.png`
//! (each row: a query, then its 10 nearest training images).

use std::path::PathBuf;

use clap::Parser;
use dl_cnn::recipes::load_mnist;
use dl_cnn::retrieval::{CosineIndex, extract_features, precision_at_k};
use dl_cnn::{ImageBatcher, LeNet5Config};
use dl_core::train::{LrSchedule, fit};
use dl_core::{ModelConfig, Result};
use dl_examples::cli::{CommonArgs, run_example};
use serde_json::json;

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// A LeNet-5 saved by the `mnist` example.
    #[arg(long, default_value = "out/mnist-lenet/model")]
    model_dir: PathBuf,
    /// Number of test images used as queries (default: all 10,000).
    #[arg(long)]
    queries: Option<usize>,
    /// Neighbours per query.
    #[arg(long, default_value_t = 10)]
    k: usize,
}

fn main() {
    let args = Args::parse();
    run_example(|| run(&args));
}

fn run(args: &Args) -> Result<serde_json::Value> {
    let c = &args.common;
    let mut data = load_mnist(&c.data_dirs(), c.quick, (3_000, 300))?;
    if let Some(q) = args.queries {
        data.test.truncate(q);
    }
    let out = c.out_dir("retrieval")?;
    let device = c.device()?.autodiff();
    device.seed(c.seed);
    let start = std::time::Instant::now();
    let (model, source) = if args.model_dir.join(dl_core::checkpoint::WEIGHTS_FILE).is_file() && !c.quick {
        let (_, m) = dl_core::checkpoint::load_model::<LeNet5Config>(&args.model_dir, &device)?;
        (m, args.model_dir.display().to_string())
    } else {
        let mut cfg = c.train_config(3, Some(out.join("train")));
        cfg.lr = 2e-3;
        cfg.schedule = LrSchedule::Cosine { min_lr: 2e-5 };
        let r =
            fit(LeNet5Config::new().init(&device)?, &data.train, None, &ImageBatcher::new(1, 28, 28), &cfg, &device)?;
        (r.model, format!("trained here for {} epochs", r.history.epochs.len()))
    };
    let (index_feats, dim) = extract_features(&model, &data.train, 512, &device)?;
    let (query_feats, _) = extract_features(&model, &data.test, 512, &device)?;
    let index = CosineIndex::new(index_feats, dim, &c.device()?)?;
    let neighbours = index.search(&query_feats, args.k)?;
    let labels = |v: &[dl_cnn::ImageItem]| v.iter().map(|i| i.label).collect::<Vec<_>>();
    let p = precision_at_k(&neighbours, &labels(&data.test), &labels(&data.train))?;

    // A picture of the first 8 queries and their neighbours.
    let mut grid = Vec::new();
    for (q, nb) in data.test.iter().zip(&neighbours).take(8) {
        grid.push(q.pixels.clone());
        grid.extend(nb.iter().map(|n| data.train[n.index].pixels.clone()));
    }
    dl_core::plot::image_grid_png(&out.join("neighbours.png"), &grid, 28, 28, args.k + 1, 2, None)?;
    Ok(json!({
        "example": "retrieval",
        "model": source,
        "device": c.device_spec()?.to_string(),
        "index_size": data.train.len(),
        "queries": data.test.len(),
        "embedding_dim": dim,
        "k": args.k,
        "precision_at_k": p,
        "seconds": start.elapsed().as_secs_f64(),
        "out": out.display().to_string(),
    }))
}
