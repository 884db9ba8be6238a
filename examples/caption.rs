//! Captions scenes of two or three handwritten digits and clothing items in a
//! 2x2 grid ("a sneaker to the left of a 7 , a bag below the 7") with a CNN
//! encoder and two decoders side by side: an LSTM with soft attention and a
//! Transformer decoder. docs/lstm.md explains the models and the results.
//!
//! `cargo run --release --example caption -- [--decoders lstm,transformer] [--train-scenes N]`
//! writes `out/caption/<decoder>/`: checkpoints, curves, the model, and
//! `attention.png` (each word of a test caption with where the decoder looked).

use burn::module::Module;
use clap::{Parser, ValueEnum};
use dl_cnn::captioned::{GridScene, GridSceneConfig, ItemPool, vocabulary};
use dl_cnn::recipes::{IDX_FILES, mnist_scene_pools, read_idx_split};
use dl_core::config::check;
use dl_core::data::split::train_valid_split;
use dl_core::metrics::bleu;
use dl_core::train::{LrSchedule, fit};
use dl_core::{Batcher, ModelConfig, Result};
use dl_examples::choices::choice_name;
use dl_examples::cli::{CommonArgs, run_example};
use dl_families::caption::{CaptionBatcher, CaptionDecoderKind, Captioner, CaptionerConfig};
use serde_json::json;

/// The decoders compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Decoder {
    /// LSTM with additive soft attention over the regions (Show, Attend and Tell).
    Lstm,
    /// 2 pre-norm Transformer decoder layers with cross-attention over the regions.
    Transformer,
}

#[derive(Parser)]
#[command(about = "A CNN encoder with an LSTM or a Transformer decoder captions composed scenes")]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// The decoders to train, one after the other with the same budget.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Decoder::Lstm, Decoder::Transformer])]
    decoders: Vec<Decoder>,
    /// Training scenes (composed once, drawn when batched).
    #[arg(long, default_value_t = 16_000)]
    train_scenes: usize,
    /// Test scenes, from MNIST's test digits and the held-out clothing images.
    #[arg(long, default_value_t = 2_000)]
    test_scenes: usize,
    /// Mini-batch size.
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Peak learning rate (Adam, warm-up then cosine decay).
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
}

fn main() {
    let args = Args::parse();
    run_example(|| run(&args));
}

/// Fashion-MNIST here holds only its official test split: its 10,000 images
/// are split once (a fixed seed, whatever `--seed`) into 7,000 for training
/// scenes, 1,000 for validation scenes and 2,000 for test scenes.
const CLOTHING_SPLIT_SEED: u64 = 2017;

fn run(args: &Args) -> Result<serde_json::Value> {
    let c = &args.common;
    check::positive("caption", "--batch-size", args.batch_size)?;
    check::non_empty("caption", "--decoders", &args.decoders)?;
    let (n_train, n_test) = if c.quick { (512, 128) } else { (args.train_scenes, args.test_scenes) };
    check::positive("caption", "--train-scenes", n_train)?;
    check::positive("caption", "--test-scenes", n_test)?;
    let digits = mnist_scene_pools(&c.data_dirs(), 5_000, c.seed)?;
    let fashion_dir = c.data_dirs().find("fashion-mnist", &IDX_FILES[2..])?;
    let (clothing, clothing_labels) = read_idx_split(&fashion_dir, IDX_FILES[2], IDX_FILES[3])?;
    let (rest, clothing_test) = train_valid_split(clothing.n, 0.2, CLOTHING_SPLIT_SEED)?;
    let (clothing_train, clothing_valid): (Vec<usize>, Vec<usize>) = (rest[1_000..].to_vec(), rest[..1_000].to_vec());
    let layout = GridSceneConfig::new();
    let pool = |labels: &[u8], members: &[usize]| ItemPool::new(labels, members);
    let (train_labels, test_labels) = (&digits.train.1, &digits.test.1);
    let plan = |d: &ItemPool, f: &ItemPool, seed: u64, n: usize| -> Result<Vec<GridScene>> {
        (0..n).map(|i| layout.plan(d, f, seed, i)).collect()
    };
    let train =
        plan(&pool(train_labels, &digits.train_pool)?, &pool(&clothing_labels, &clothing_train)?, c.seed, n_train)?;
    let valid = plan(
        &pool(train_labels, &digits.valid_pool)?,
        &pool(&clothing_labels, &clothing_valid)?,
        c.seed + 1,
        1_000.min(n_test),
    )?;
    let test =
        plan(&pool(test_labels, &digits.test_pool)?, &pool(&clothing_labels, &clothing_test)?, c.seed + 2, n_test)?;
    // Validation scenes draw digits from the held-out training digits: same image sets as training.
    let train_batcher = CaptionBatcher { layout: &layout, digits: &digits.train.0, clothing: &clothing };
    let test_batcher = CaptionBatcher { layout: &layout, digits: &digits.test.0, clothing: &clothing };
    let vocab = vocabulary();
    eprintln!(
        "{} training, {} validation, {} test scenes of {}-{} items on {}x{} canvases; {} words",
        train.len(),
        valid.len(),
        test.len(),
        layout.min_items,
        layout.max_items,
        layout.side(),
        layout.side(),
        vocab.len()
    );

    let root = c.out_dir("caption")?;
    let mut runs = Vec::new();
    for &decoder in &args.decoders {
        let name = choice_name(&decoder);
        let out = root.join(&name);
        let mut cfg = c.train_config(6, Some(out.clone()));
        cfg.batch_size = args.batch_size;
        cfg.lr = args.lr;
        cfg.warmup_steps = 200;
        cfg.schedule = LrSchedule::Cosine { min_lr: args.lr / 100.0 };
        cfg.grad_clip_norm = Some(5.0);
        let device = c.device()?.autodiff();
        device.seed(c.seed);
        let kind = match decoder {
            Decoder::Lstm => CaptionDecoderKind::Lstm,
            Decoder::Transformer => CaptionDecoderKind::Transformer,
        };
        let config = CaptionerConfig::new(layout.side(), vocab.len(), kind);
        let start = std::time::Instant::now();
        let report = fit(config.init(&device)?, &train, Some(&valid), &train_batcher, &cfg, &device)?;
        let train_seconds = start.elapsed().as_secs_f64();
        dl_core::checkpoint::save_model(&config, &report.model, out.join("model"))?;

        // Test: greedy captions.
        let model: Captioner = report.model.valid();
        let eval_device = device.clone().without_autodiff();
        let (mut written, mut truth, mut maps) = (Vec::new(), Vec::new(), Vec::new());
        for chunk in test.chunks(250) {
            let refs: Vec<&GridScene> = chunk.iter().collect();
            let batch = test_batcher.batch(&refs, &eval_device)?;
            for caption in model.caption(batch.images)? {
                written.push(caption.words);
                maps.push(caption.attention);
            }
            truth.extend(batch.captions);
        }
        let exact = written.iter().zip(&truth).filter(|(w, t)| w == t).count() as f64 / truth.len() as f64;
        let words = |ids: &[Vec<usize>]| -> Vec<Vec<&str>> {
            ids.iter().map(|s| s.iter().map(|&i| vocab.get(i).copied().unwrap_or("?")).collect()).collect()
        };
        let bleu4 = bleu(&words(&written), &words(&truth))?;
        eprintln!("{name}: test captions exactly right {:.2}%, BLEU-4 {:.4}", 100.0 * exact, bleu4);
        attention_png(
            &out.join("attention.png"),
            &layout,
            &test_batcher,
            &test[..3.min(test.len())],
            &written,
            &maps,
            &vocab,
        )?;
        runs.push(json!({
            "decoder": name,
            "parameters": model.num_params(),
            "test_exact_caption": exact,
            "test_bleu4": bleu4,
            "valid_token_accuracy": report.valid.as_ref().and_then(|v| v.accuracy()),
            "epochs": report.history.epochs.len(),
            "train_seconds": train_seconds,
            "first_test_captions": words(&written[..3.min(written.len())]).iter().map(|w| w.join(" ")).collect::<Vec<_>>(),
        }));
    }
    Ok(json!({
        "example": "caption",
        "composition": {
            "digits": "mnist", "clothing": "fashion-mnist t10k (7,000 / 1,000 / 2,000)",
            "grid": [layout.cells, layout.cells], "cell": layout.cell,
            "items": [layout.min_items, layout.max_items], "seed": c.seed,
        },
        "train_scenes": train.len(),
        "test_scenes": test.len(),
        "runs": runs,
    }))
}

/// Each word of the first test captions beside where the decoder looked for
/// it: the scene dimmed, the attention over the regions (scaled to its
/// maximum) brightened on top, one image per word, a row per scene.
fn attention_png(
    path: &std::path::Path,
    layout: &GridSceneConfig,
    batcher: &CaptionBatcher,
    scenes: &[GridScene],
    written: &[Vec<usize>],
    maps: &[Vec<Vec<f32>>],
    vocab: &[&str],
) -> Result<()> {
    let side = layout.side();
    let cols = written.iter().take(scenes.len()).map(Vec::len).max().unwrap_or(1) + 1;
    let (mut images, mut captions) = (Vec::new(), Vec::new());
    for (k, scene) in scenes.iter().enumerate() {
        let pixels = layout.render(scene, batcher.digits, batcher.clothing)?;
        images.push(pixels.clone());
        captions.push("scene".to_string());
        for j in 0..cols - 1 {
            let (Some(&word), Some(map)) = (written[k].get(j), maps[k].get(j)) else {
                images.push(vec![0.0; side * side]);
                captions.push(String::new());
                continue;
            };
            let grid = (map.len() as f64).sqrt() as usize;
            let max = map.iter().copied().fold(f32::MIN_POSITIVE, f32::max);
            let image = (0..side * side)
                .map(|p| {
                    let (y, x) = (p / side * grid / side, p % side * grid / side);
                    0.35 * pixels[p] + 0.65 * map[y * grid + x] / max
                })
                .collect();
            images.push(image);
            captions.push(vocab.get(word).copied().unwrap_or("?").to_string());
        }
    }
    dl_core::plot::image_grid_png(path, &images, side, side, cols, 2, Some(&captions))
}
