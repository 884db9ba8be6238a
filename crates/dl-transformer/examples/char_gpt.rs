//! A character-level GPT on tinyshakespeare, with nanoGPT's CPU configuration
//! (4 layers, 4 heads, width 128, context 64, batch 12, 2,000 iterations, no
//! dropout; nanoGPT reports a validation loss of about 1.88 for it).
//!
//! `cargo run -p dl-transformer --release --example char_gpt -- [--iters 2000] [--quick]`
//!
//! Writes `out/char_gpt/`: checkpoint, `metrics.csv`, `loss.png`, `sample.txt`,
//! `attention_layer{N}_head0.png` (the last layer's causal attention over the prompt).

use burn::module::Module;
use burn::tensor::{Int, Tensor, TensorData};
use clap::Parser;
use dl_core::ModelConfig;
use dl_core::cli::{CommonArgs, run_example};
use dl_core::data::text::read_text;
use dl_transformer::GptConfig;
use dl_transformer::lm::{CharCorpus, CharLmSetup, sample_text, save_attention_png, train_char_lm};
use serde_json::json;

#[derive(Parser)]
#[command(about = "Character-level GPT on tinyshakespeare (nanoGPT's CPU configuration)")]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Optimiser steps.
    #[arg(long, default_value_t = 2000)]
    iters: usize,
    /// Blocks.
    #[arg(long, default_value_t = 4)]
    layers: usize,
    /// Attention heads.
    #[arg(long, default_value_t = 4)]
    heads: usize,
    /// Model width.
    #[arg(long, default_value_t = 128)]
    width: usize,
    /// Characters of context.
    #[arg(long, default_value_t = 64)]
    context: usize,
    /// Windows per step.
    #[arg(long, default_value_t = 12)]
    batch_size: usize,
    /// Peak learning rate.
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Dropout.
    #[arg(long, default_value_t = 0.0)]
    dropout: f64,
    /// Sampling temperature.
    #[arg(long, default_value_t = 0.8)]
    temperature: f32,
    /// Characters to generate.
    #[arg(long, default_value_t = 500)]
    sample_len: usize,
    /// Text the sample starts from.
    #[arg(long, default_value = "ROMEO:\n")]
    prompt: String,
}

fn main() {
    let args = Args::parse();
    run_example(|| {
        let c = &args.common;
        let dir = c.data_dirs().find("tinyshakespeare", &["input.txt"])?;
        let corpus = CharCorpus::new(&read_text(dir.join("input.txt"))?)?;
        let out = c.out_dir("char_gpt")?;
        corpus.tokenizer.save(out.join("vocab.json"))?;
        let setup = CharLmSetup {
            iters: if c.quick { 40 } else { args.iters },
            batch_size: args.batch_size,
            context: args.context,
            lr: args.lr,
            evals: if c.quick { 2 } else { 8 },
            valid_windows: if c.quick { 96 } else { 2400 },
            seed: c.seed,
            progress: !c.no_progress,
            ..CharLmSetup::default()
        };
        let config = GptConfig::new(corpus.tokenizer.vocab_size(), args.context, args.width, args.layers, args.heads)
            .with_dropout(args.dropout)
            .with_bias(false);
        let device = c.device()?;
        let ad = device.clone().autodiff();
        let model = config.init(&ad)?;
        eprintln!(
            "GPT: {} parameters, vocabulary {}, {} train / {} valid characters",
            model.num_params(),
            corpus.tokenizer.vocab_size(),
            corpus.train.len(),
            corpus.valid.len()
        );
        let report = train_char_lm(model, &corpus, &setup, &out, &ad)?;
        let model = report.model.valid().to_device(&device);
        dl_core::checkpoint::save_model(&config, &model, out.join("model"))?;

        let sample =
            sample_text(&model, &corpus.tokenizer, &args.prompt, args.sample_len, args.temperature, c.seed, &device)?;
        std::fs::write(out.join("sample.txt"), &sample)
            .map_err(|e| dl_core::Error::io("writing", out.join("sample.txt"), e))?;
        eprintln!("--- sample (temperature {}) ---\n{sample}\n---", args.temperature);

        // The last layer's attention over the first characters of the sample.
        let shown: String = sample.chars().take(args.context.min(40)).collect();
        let ids = corpus.tokenizer.encode_strict(&shown)?;
        let ids = Tensor::<2, Int>::from_data(
            TensorData::new(ids.iter().map(|&i| i as i64).collect(), [1, ids.len()]),
            &device,
        );
        let (_, weights) = model.hidden(ids, None)?;
        let last = weights.len();
        if let Some(w) = weights.into_iter().last() {
            save_attention_png(&out.join(format!("attention_layer{last}_head0.png")), w, 0, &shown)?;
        }
        Ok(json!({
            "example": "char_gpt",
            "valid_loss_nats_per_char": report.valid_loss,
            "iters": setup.iters,
            "batch_size": setup.batch_size,
            "context": setup.context,
            "params": model.num_params(),
            "seconds": report.seconds,
            "curve": report.curve,
            "sample_head": sample.chars().take(200).collect::<String>(),
        }))
    });
}
