//! What `char_gpt` and `llama_tiny` share: the options of nanoGPT's CPU run
//! and the whole run (train, save, sample, attention map, `result` JSON); each
//! example only builds its model.

use burn::tensor::{Device, Int, Tensor, TensorData};
use dl_core::data::text::read_text;
use dl_core::{ModelConfig, Result, Supervised};
use dl_examples::cli::CommonArgs;
use dl_seq::SequenceBatch;
use dl_transformer::CausalLm;
use dl_transformer::lm::{CharCorpus, CharLmSetup, sample_text, save_attention_png, train_char_lm};
use serde_json::{Value, json};

/// Options of a character-level language-model run (defaults: nanoGPT's CPU run).
#[derive(Debug, Clone, clap::Args)]
pub struct CharLmArgs {
    /// Optimiser steps.
    #[arg(long, default_value_t = 2000)]
    pub iters: usize,
    /// Blocks.
    #[arg(long, default_value_t = 4)]
    pub layers: usize,
    /// Attention (query) heads.
    #[arg(long, default_value_t = 4)]
    pub heads: usize,
    /// Model width.
    #[arg(long, default_value_t = 128)]
    pub width: usize,
    /// Characters of context.
    #[arg(long, default_value_t = 64)]
    pub context: usize,
    /// Windows per step.
    #[arg(long, default_value_t = 12)]
    pub batch_size: usize,
    /// Peak learning rate.
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// Sampling temperature.
    #[arg(long, default_value_t = 0.8)]
    pub temperature: f32,
    /// Characters to generate.
    #[arg(long, default_value_t = 500)]
    pub sample_len: usize,
    /// Text the sample starts from.
    #[arg(long, default_value = "ROMEO:\n")]
    pub prompt: String,
}

/// Trains the model that `config` builds for the tinyshakespeare vocabulary
/// size, then saves it, prints a sample and the last layer's attention over
/// its start; returns the `result` JSON. `attention` gives a model's
/// per-layer attention weights for a prompt.
pub fn run_char_lm<C, M>(
    name: &str,
    c: &CommonArgs,
    args: &CharLmArgs,
    config: impl FnOnce(usize) -> C,
    attention: impl Fn(&M, Tensor<2, Int>) -> Result<Vec<Tensor<4>>>,
) -> Result<Value>
where
    C: ModelConfig<Model = M>,
    M: Supervised<SequenceBatch> + CausalLm + 'static,
{
    // These examples train by iterations from step 0 and keep no resumable
    // state: a flag that would be ignored is an error, not a silent restart
    // that overwrites the checkpoint.
    if c.resume {
        return Err(dl_core::Error::config(
            "char LM example",
            "--resume",
            format!("{name} trains from step 0 (by --iters) and cannot resume; run without --resume"),
        ));
    }
    if let Some(epochs) = c.epochs {
        return Err(dl_core::Error::config(
            "char LM example",
            "--epochs",
            format!("{name} trains by iterations: use --iters instead of --epochs {epochs}"),
        ));
    }
    let dir = c.data_dirs().find("tinyshakespeare", &["input.txt"])?;
    let corpus = CharCorpus::new(&read_text(dir.join("input.txt"))?)?;
    // The sampling flags are checked now, not after minutes of training.
    let flag = |f: &str, m: String| dl_core::Error::config("char LM example", f, m);
    if args.iters == 0 && !c.quick {
        return Err(flag("--iters", "must be at least 1".into()));
    }
    if !args.temperature.is_finite() || args.temperature < 0.0 {
        return Err(flag("--temperature", format!("must be a finite number >= 0, got {}", args.temperature)));
    }
    if args.prompt.is_empty() {
        return Err(flag("--prompt", "must not be empty (the sample continues it)".into()));
    }
    corpus.tokenizer.encode_strict(&args.prompt).map_err(|e| flag("--prompt", e.to_string()))?;
    let out = c.out_dir(name)?;
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
    let config = config(corpus.tokenizer.vocab_size());
    let device: Device = c.device()?;
    let ad = device.clone().autodiff();
    let model = config.init(&ad)?;
    eprintln!(
        "{name}: {} parameters, vocabulary {}, {} train / {} valid characters",
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
    let ids =
        Tensor::<2, Int>::from_data(TensorData::new(ids.iter().map(|&i| i as i64).collect(), [1, ids.len()]), &device);
    let weights = attention(&model, ids)?;
    let last = weights.len();
    if let Some(w) = weights.into_iter().last() {
        save_attention_png(&out.join(format!("attention_layer{last}_head0.png")), w, 0, &shown)?;
    }
    Ok(json!({
        "example": name,
        "valid_loss_nats_per_char": report.valid_loss,
        "iters": setup.iters,
        "batch_size": setup.batch_size,
        "context": setup.context,
        "params": model.num_params(),
        "seconds": report.seconds,
        "curve": report.curve,
        "sample_head": sample.chars().take(200).collect::<String>(),
    }))
}
