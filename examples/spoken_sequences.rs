//! Recognises connected spoken digits (utterances of 2 to 6 FSDD clips joined
//! by short silences, with noise; training utterances from training clips,
//! test utterances from test clips) with three CTC models on the same
//! budget: a BiLSTM, a Transformer encoder and a CNN + BiLSTM.
//! docs/lstm.md explains the models and the results.
//!
//! `cargo run --release --example spoken_sequences -- [--models bi-lstm,transformer,cnn-bi-lstm]`
//! writes `out/spoken_sequences/<model>/`: checkpoints, curves, the model,
//! and `readings.png`, `posteriors.png` in `out/spoken_sequences/`.

use burn::module::Module;
use clap::{Parser, ValueEnum};
use dl_cnn::audio::{Spectrogram, SpectrogramConfig};
use dl_cnn::utterances::{Clip, Utterance, UtteranceConfig, read_fsdd_split};
use dl_core::config::check;
use dl_core::metrics::error_rate;
use dl_core::task::to_f32;
use dl_core::train::{LrSchedule, fit};
use dl_core::{Batcher, ModelConfig, Result};
use dl_examples::choices::choice_name;
use dl_examples::cli::{CommonArgs, run_example};
use dl_families::speech::{SpeechBatcher, SpeechCtc, SpeechCtcConfig, SpeechEncoderKind};
use serde_json::json;

/// The encoders compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Model {
    /// 3 stacked frames per step into a 2-layer BiLSTM.
    BiLstm,
    /// 3 stacked frames per step into a 4-layer Transformer encoder.
    Transformer,
    /// Two conv stages (time pooled by 3) into a 2-layer BiLSTM.
    CnnBiLstm,
}

impl Model {
    fn config(self, mels: usize) -> SpeechCtcConfig {
        match self {
            Model::BiLstm => SpeechCtcConfig::new(mels, SpeechEncoderKind::BiLstm),
            Model::Transformer => SpeechCtcConfig::new(mels, SpeechEncoderKind::Transformer).with_layers(4),
            Model::CnnBiLstm => SpeechCtcConfig::new(mels, SpeechEncoderKind::CnnBiLstm),
        }
    }
}

#[derive(Parser)]
#[command(about = "BiLSTM, Transformer and CNN + BiLSTM with CTC read connected spoken digits")]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// The models to train, one after the other with the same budget.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Model::BiLstm, Model::CnnBiLstm, Model::Transformer])]
    models: Vec<Model>,
    /// Training utterances (composed once, rendered when batched).
    #[arg(long, default_value_t = 4_800)]
    train_utterances: usize,
    /// Test utterances, from FSDD's test clips.
    #[arg(long, default_value_t = 2_000)]
    test_utterances: usize,
    /// Beam of the prefix beam search compared with best-path decoding.
    #[arg(long, default_value_t = 8)]
    beam: usize,
    /// Mini-batch size.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Peak learning rate (Adam, warm-up then cosine decay).
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
}

fn main() {
    let args = Args::parse();
    run_example(|| run(&args));
}

/// 25 ms Hann windows every 10 ms, 40 mel bands, at 8 kHz (`frames` is set per utterance).
fn features() -> SpectrogramConfig {
    SpectrogramConfig { frame_len: 200, hop: 80, n_fft: 256, n_mels: 40, sample_rate: 8000, frames: 1 }
}

fn run(args: &Args) -> Result<serde_json::Value> {
    let c = &args.common;
    for (flag, v) in [("--beam", args.beam), ("--batch-size", args.batch_size)] {
        check::positive("spoken_sequences", flag, v)?;
    }
    check::non_empty("spoken_sequences", "--models", &args.models)?;
    let dir = c.data_dirs().find("fsdd", &["train.tar.gz", "test.tar.gz"])?;
    let (train_clips, test_clips) =
        (read_fsdd_split(dir.join("train.tar.gz"))?, read_fsdd_split(dir.join("test.tar.gz"))?);
    // Validation utterances come from takes 5-9 of the training split, which no training utterance uses.
    let (valid_pool, train_pool): (Vec<usize>, Vec<usize>) =
        (0..train_clips.len()).partition(|&i| train_clips[i].take < 10);
    let test_pool: Vec<usize> = (0..test_clips.len()).collect();
    let (n_train, n_test) = if c.quick { (400, 100) } else { (args.train_utterances, args.test_utterances) };
    check::positive("spoken_sequences", "--train-utterances", n_train)?;
    check::positive("spoken_sequences", "--test-utterances", n_test)?;
    let layout = UtteranceConfig::new();
    let plan = |pool: &[usize], clips: &[Clip], seed: u64, n: usize| -> Result<Vec<Utterance>> {
        (0..n).map(|i| layout.plan(pool, clips, seed, i)).collect()
    };
    let train = plan(&train_pool, &train_clips, c.seed, n_train)?;
    let valid = plan(&valid_pool, &train_clips, c.seed + 1, 1_000.min(n_test))?;
    let test = plan(&test_pool, &test_clips, c.seed + 2, n_test)?;
    let feats = Spectrogram::new(&features())?;
    let train_batcher = SpeechBatcher { layout: &layout, clips: &train_clips, features: &feats };
    let test_batcher = SpeechBatcher { layout: &layout, clips: &test_clips, features: &feats };
    let seconds = |u: &[Utterance]| u.iter().map(|u| u.len).sum::<usize>() as f64 / 8000.0;
    eprintln!(
        "{} training ({:.0} s), {} validation, {} test utterances of {}-{} clips",
        train.len(),
        seconds(&train),
        valid.len(),
        test.len(),
        layout.min_digits,
        layout.max_digits
    );

    let root = c.out_dir("spoken_sequences")?;
    let (mut runs, mut readings, mut posteriors) = (Vec::new(), Vec::new(), Vec::new());
    for &model in &args.models {
        let name = choice_name(&model);
        let out = root.join(&name);
        let mut cfg = c.train_config(8, Some(out.clone()));
        cfg.batch_size = args.batch_size;
        cfg.lr = args.lr;
        cfg.warmup_steps = 200;
        cfg.schedule = LrSchedule::Cosine { min_lr: args.lr / 100.0 };
        cfg.grad_clip_norm = Some(5.0);
        let device = c.device()?.autodiff();
        device.seed(c.seed);
        let config = model.config(feats.config().bins());
        let start = std::time::Instant::now();
        let report = fit(config.init(&device)?, &train, Some(&valid), &train_batcher, &cfg, &device)?;
        let train_seconds = start.elapsed().as_secs_f64();
        dl_core::checkpoint::save_model(&config, &report.model, out.join("model"))?;

        // Test: best path and prefix beam search on the same outputs.
        let net: SpeechCtc = report.model.valid();
        let eval_device = device.clone().without_autodiff();
        let (mut greedy, mut beamed, mut truth) = (Vec::new(), Vec::new(), Vec::new());
        for chunk in test.chunks(64) {
            let refs: Vec<&Utterance> = chunk.iter().collect();
            let batch = test_batcher.batch(&refs, &eval_device)?;
            let read = net.read(batch.features, &batch.frames, &[1, args.beam])?;
            for (all, r) in [&mut greedy, &mut beamed].into_iter().zip(read) {
                all.extend(r);
            }
            truth.extend(batch.labels);
        }
        let exact =
            |read: &[Vec<usize>]| read.iter().zip(&truth).filter(|(r, t)| r == t).count() as f64 / truth.len() as f64;
        let (greedy_der, beam_der) = (error_rate(&greedy, &truth)?, error_rate(&beamed, &truth)?);
        eprintln!(
            "{name}: test digit error rate {:.2}% (best path), {:.2}% (beam {}); utterances read exactly {:.2}%, {:.2}%",
            100.0 * greedy_der,
            100.0 * beam_der,
            args.beam,
            100.0 * exact(&greedy),
            100.0 * exact(&beamed)
        );
        // The first test utterance's per-step posteriors, for the figure.
        let first = test_batcher.batch(&[&test[0]], &eval_device)?;
        let (lp, steps) = net.forward(first.features, &first.frames)?;
        let probs: Vec<f32> = to_f32(lp)?.into_iter().map(f32::exp).collect();
        posteriors.push((name.clone(), probs, steps[0]));
        readings.push((name.clone(), beamed.clone()));
        runs.push(json!({
            "model": name,
            "parameters": net.num_params(),
            "test_digit_error_rate_best_path": greedy_der,
            "test_digit_error_rate_beam": beam_der,
            "test_utterance_accuracy_best_path": exact(&greedy),
            "test_utterance_accuracy_beam": exact(&beamed),
            "valid_utterance_accuracy": report.valid.as_ref().and_then(|v| v.accuracy()),
            "epochs": report.history.epochs.len(),
            "train_seconds": train_seconds,
        }));
    }
    figures(&root, &test, &test_batcher, &readings, &posteriors)?;
    Ok(json!({
        "example": "spoken_sequences",
        "composition": {
            "source": "fsdd", "clips": [layout.min_digits, layout.max_digits],
            "gap_s": [layout.min_gap, layout.max_gap], "edge_s": layout.max_edge,
            "snr_db": [layout.min_snr_db, layout.max_snr_db], "seed": c.seed,
        },
        "features": "log-mel 40, 25 ms / 10 ms, per-band normalised",
        "train_utterances": train.len(),
        "test_utterances": test.len(),
        "beam": args.beam,
        "runs": runs,
    }))
}

/// `readings.png`: the first 6 test utterances' log-mel frames, captioned with
/// the truth and each model's reading; `posteriors.png`: each model's
/// per-step probabilities (rows: digits then blank) for the first one.
fn figures(
    root: &std::path::Path,
    test: &[Utterance],
    batcher: &SpeechBatcher,
    readings: &[(String, Vec<Vec<usize>>)],
    posteriors: &[(String, Vec<f32>, usize)],
) -> Result<()> {
    let digits = |l: &[usize]| l.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(" ");
    let shown = &test[..test.len().min(6)];
    let frames: Vec<(Vec<f32>, usize)> = shown.iter().map(|u| batcher.frames(u)).collect::<Result<_>>()?;
    let (m, width) = (batcher.features.config().bins(), frames.iter().map(|f| f.1).max().unwrap_or(1));
    // Each image: mel bands bottom (low) to top (high), time left to right, padded with black.
    let images: Vec<Vec<f32>> = frames
        .iter()
        .map(|(v, t)| {
            let mut img = vec![0.0f32; m * width];
            for x in 0..*t {
                for b in 0..m {
                    img[(m - 1 - b) * width + x] = ((v[x * m + b] + 3.0) / 6.0).clamp(0.0, 1.0);
                }
            }
            img
        })
        .collect();
    let captions: Vec<String> = shown
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let read: Vec<String> = readings.iter().map(|(name, r)| format!("{name}: {}", digits(&r[i]))).collect();
            format!("true {} | {}", digits(&u.labels), read.join(" | "))
        })
        .collect();
    dl_core::plot::image_grid_png(&root.join("readings.png"), &images, width, m, 1, 2, Some(&captions))?;
    let classes = 11;
    let mut rows = Vec::new();
    let mut labels = Vec::new();
    let steps = posteriors.iter().map(|p| p.2).max().unwrap_or(1);
    for (name, probs, t) in posteriors {
        for k in 0..classes {
            labels.push(if k < 10 { format!("{name} {k}") } else { format!("{name} blank") });
            rows.extend((0..steps).map(|s| if s < *t { probs[s * classes + k] } else { 0.0 }));
        }
    }
    dl_core::plot::heatmap_png(&root.join("posteriors.png"), &rows, labels.len(), steps, 6, Some(&labels), None)
}
