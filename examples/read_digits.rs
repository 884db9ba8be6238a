//! Reads strings of 4 to 8 handwritten digits (composed from MNIST: training
//! strings from training images, test strings from test images) with a
//! CRNN: CNN + BiLSTM + CTC. docs/lstm.md explains the model and the results.
//!
//! `cargo run --release --example read_digits -- [--train-strings N] [--beam K]`
//! writes `out/read_digits/`: checkpoints, curves, `readings.png`, the model.

use burn::module::Module;
use clap::Parser;
use dl_cnn::recipes::mnist_scene_pools;
use dl_cnn::scenes::{DigitString, DigitStringConfig};
use dl_core::metrics::error_rate;
use dl_core::train::{LrSchedule, fit};
use dl_core::{Batcher, ModelConfig, Result};
use dl_examples::cli::{CommonArgs, run_example};
use dl_families::crnn::{Crnn, CrnnConfig, StringBatcher};
use serde_json::json;

#[derive(Parser)]
#[command(about = "A CRNN (CNN + BiLSTM + CTC) reads strings of handwritten digits")]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Training strings (composed once, drawn when batched).
    #[arg(long, default_value_t = 40_000)]
    train_strings: usize,
    /// Test strings, from MNIST's test images.
    #[arg(long, default_value_t = 10_000)]
    test_strings: usize,
    /// Beam of the prefix beam search compared with best-path decoding.
    #[arg(long, default_value_t = 8)]
    beam: usize,
    /// LSTM width per direction.
    #[arg(long, default_value_t = 96)]
    hidden: usize,
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
    dl_core::config::check::positive("read_digits", "--beam", args.beam)?;
    dl_core::config::check::positive("read_digits", "--batch-size", args.batch_size)?;
    // Validation strings come from 5,000 training images that no training string uses.
    let layout = DigitStringConfig::new();
    let pools = mnist_scene_pools(&c.data_dirs(), 5_000, c.seed)?;
    let ((train_images, train_labels), (test_images, test_labels)) = (&pools.train, &pools.test);
    let (n_train, n_test) = if c.quick { (2_000, 500) } else { (args.train_strings, args.test_strings) };
    dl_core::config::check::positive("read_digits", "--train-strings", n_train)?;
    dl_core::config::check::positive("read_digits", "--test-strings", n_test)?;
    let plan = |pool: &[usize], labels: &[u8], seed: u64, n: usize| -> Result<Vec<DigitString>> {
        (0..n).map(|i| layout.plan(pool, labels, seed, i)).collect()
    };
    let train = plan(&pools.train_pool, train_labels, c.seed, n_train)?;
    let valid = plan(&pools.valid_pool, train_labels, c.seed + 1, 2_000.min(n_test))?;
    let test = plan(&pools.test_pool, test_labels, c.seed + 2, n_test)?;

    let out = c.out_dir("read_digits")?;
    let mut cfg = c.train_config(10, Some(out.clone()));
    cfg.batch_size = args.batch_size;
    cfg.lr = args.lr;
    cfg.schedule = LrSchedule::Cosine { min_lr: args.lr / 100.0 };
    cfg.grad_clip_norm = Some(5.0);
    let device = c.device()?.autodiff();
    let config = CrnnConfig::new(layout.height).with_hidden(args.hidden);
    let model = config.init(&device)?;
    let steps = config.steps(layout.width);
    eprintln!(
        "{} training, {} validation, {} test strings of {}-{} digits on {}x{} canvases; {steps} steps per string",
        train.len(),
        valid.len(),
        test.len(),
        layout.min_digits,
        layout.max_digits,
        layout.width,
        layout.height
    );
    let start = std::time::Instant::now();
    let report =
        fit(model, &train, Some(&valid), &StringBatcher { layout: &layout, images: train_images }, &cfg, &device)?;
    let train_seconds = start.elapsed().as_secs_f64();
    dl_core::checkpoint::save_model(&config, &report.model, out.join("model"))?;

    // Test: best path and prefix beam search on the same outputs.
    let model: Crnn = report.model.valid();
    let eval_device = device.clone().without_autodiff();
    let batcher = StringBatcher { layout: &layout, images: test_images };
    let (mut greedy, mut beamed, mut truth) = (Vec::new(), Vec::new(), Vec::new());
    let pb = dl_core::train::progress::bar(test.len().div_ceil(256) as u64, "test", !c.no_progress);
    for chunk in test.chunks(256) {
        let refs: Vec<&DigitString> = chunk.iter().collect();
        let batch = batcher.batch(&refs, &eval_device)?;
        for (readings, read) in [&mut greedy, &mut beamed].into_iter().zip(model.read(batch.images, &[1, args.beam])?) {
            readings.extend(read);
        }
        truth.extend(batch.labels);
        pb.inc(1);
    }
    pb.finish_and_clear();
    let exact =
        |read: &[Vec<usize>]| read.iter().zip(&truth).filter(|(r, t)| r == t).count() as f64 / truth.len() as f64;
    let (greedy_acc, beam_acc) = (exact(&greedy), exact(&beamed));
    let (greedy_cer, beam_cer) = (error_rate(&greedy, &truth)?, error_rate(&beamed, &truth)?);
    eprintln!(
        "test: sequence accuracy {:.2}% (best path), {:.2}% (beam {}); character error rate {:.3}%, {:.3}%",
        100.0 * greedy_acc,
        100.0 * beam_acc,
        args.beam,
        100.0 * greedy_cer,
        100.0 * beam_cer
    );

    // The first 24 test strings with what the model read (and the truth when it misread).
    let digits = |l: &[usize]| l.iter().map(|d| d.to_string()).collect::<String>();
    let shown: Vec<&DigitString> = test.iter().take(24).collect();
    let images: Vec<Vec<f32>> = shown.iter().map(|s| layout.render(s, test_images)).collect::<Result<_>>()?;
    let captions: Vec<String> = beamed
        .iter()
        .zip(&truth)
        .take(shown.len())
        .map(|(r, t)| if r == t { digits(r) } else { format!("{} (true {})", digits(r), digits(t)) })
        .collect();
    dl_core::plot::image_grid_png(
        &out.join("readings.png"),
        &images,
        layout.width,
        layout.height,
        3,
        2,
        Some(&captions),
    )?;

    Ok(json!({
        "example": "read_digits",
        "model": "crnn (cnn + bilstm + ctc)",
        "composition": {
            "source": "mnist", "canvas": [layout.height, layout.width],
            "digits": [layout.min_digits, layout.max_digits], "size": [layout.min_size, layout.max_size],
            "gap": [layout.min_gap, layout.max_gap], "seed": c.seed,
        },
        "train_strings": train.len(),
        "test_strings": test.len(),
        "test_sequence_accuracy_best_path": greedy_acc,
        "test_sequence_accuracy_beam": beam_acc,
        "beam": args.beam,
        "test_cer_best_path": greedy_cer,
        "test_cer_beam": beam_cer,
        "valid_sequence_accuracy": report.valid.as_ref().and_then(|v| v.accuracy()),
        "epochs": report.history.epochs.len(),
        "train_seconds": train_seconds,
    }))
}
