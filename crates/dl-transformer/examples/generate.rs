//! Text generation with any Hugging Face GPT-2 or LLaMA checkpoint folder
//! (`config.json`, `model.safetensors` or its shards with
//! `model.safetensors.index.json`, `tokenizer.json`); float32, float16 and
//! bfloat16 weights; Llama 3 configurations (`rope_scaling` of type `llama3`,
//! tied embeddings, grouped-query attention).
//!
//! `cargo run -p dl-transformer --release --example generate -- --model-dir DIR --prompt TEXT
//!     [--max-new-tokens 50] [--temperature T] [--top-k K] [--top-p P] [--beam N] [--seed S]`
//!
//! Greedy unless a sampling or beam flag is given. Tokens are printed as they
//! are produced (beam search prints its result at the end); the closing
//! `result: {json}` line holds `new_ids` (the generated ids, prompt excluded)
//! and tokens per second. Generation stops at the config's `eos_token_id`.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use dl_core::device::select_device;
use dl_core::sampling::Sampling;
use dl_core::{Error, Result};
use dl_examples::cli::run_example;
use dl_transformer::generate::{GenerateConfig, generate_beam, generate_streaming};
use dl_transformer::hf::{causal_lm_from_dir, eos_token_id};
use dl_transformer::tokenizer::HfTokenizer;
use serde_json::json;

#[derive(Parser)]
#[command(about = "Generate text with a Hugging Face GPT-2 or LLaMA checkpoint folder")]
struct Args {
    /// Checkpoint folder: config.json, model.safetensors (or shards + index), tokenizer.json.
    #[arg(long)]
    model_dir: PathBuf,
    /// Text to continue.
    #[arg(long)]
    prompt: String,
    /// Tokens to generate at most.
    #[arg(long, default_value_t = 50)]
    max_new_tokens: usize,
    /// Sample with this temperature (greedy when no sampling flag is given).
    #[arg(long)]
    temperature: Option<f32>,
    /// Sample among the k most likely tokens.
    #[arg(long)]
    top_k: Option<usize>,
    /// Sample from the smallest set of tokens holding this probability.
    #[arg(long)]
    top_p: Option<f32>,
    /// Beam search with this many hypotheses (excludes the sampling flags).
    #[arg(long, conflicts_with_all = ["temperature", "top_k", "top_p"])]
    beam: Option<usize>,
    /// Seed of the sampler.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Backend: flex (default), ndarray or wgpu. Also `DL_DEVICE`.
    #[arg(long)]
    device: Option<String>,
}

impl Args {
    /// Greedy, or sampling at `--temperature` (1 when only top-k / top-p are given).
    fn sampling(&self) -> Sampling {
        let sampled = self.temperature.is_some() || self.top_k.is_some() || self.top_p.is_some();
        if !sampled {
            return Sampling::GREEDY;
        }
        Sampling { temperature: self.temperature.unwrap_or(1.0), top_k: self.top_k, top_p: self.top_p }
    }
}

fn main() {
    let args = Args::parse();
    run_example(|| run(&args));
}

fn run(args: &Args) -> Result<serde_json::Value> {
    let device = select_device(args.device.as_deref())?.device()?;
    let tokenizer = HfTokenizer::from_file(args.model_dir.join("tokenizer.json"), None)?;
    let start = Instant::now();
    let model = causal_lm_from_dir(&args.model_dir, &device)?;
    let load_seconds = start.elapsed().as_secs_f64();
    let eos = eos_token_id(&args.model_dir)?;
    // With the special tokens the tokenizer adds (LLaMA's `<s>` or `<|begin_of_text|>`), as `transformers` does.
    let prompt = tokenizer.encode(&args.prompt, true)?;
    if prompt.is_empty() {
        return Err(Error::empty("--prompt (it gives no tokens)"));
    }
    eprintln!("[generate] {} from {} loaded in {load_seconds:.2} s", model.model_type(), args.model_dir.display());
    print!("{}", args.prompt);
    std::io::stdout().flush().map_err(|e| Error::io("writing", "stdout", e))?;
    let start = Instant::now();
    let new_ids = match args.beam {
        Some(beam) => {
            let ids = generate_beam(&model, &prompt, beam, args.max_new_tokens, eos, &device)?;
            print!("{}", tokenizer.decode(&ids)?);
            ids
        }
        None => {
            let cfg = GenerateConfig {
                max_new_tokens: args.max_new_tokens,
                sampling: args.sampling(),
                stop_tokens: eos.into_iter().collect(),
                seed: args.seed,
                use_cache: true,
            };
            // Byte-level tokens can end inside a character: print what the
            // whole continuation decodes to beyond what is already shown.
            let (mut ids, mut shown) = (Vec::new(), String::new());
            let mut show = |ids: &[usize], last: bool| -> Result<()> {
                let text = tokenizer.decode(ids)?;
                if let Some(new) = text.strip_prefix(shown.as_str()).filter(|t| last || !t.ends_with('\u{fffd}')) {
                    print!("{new}");
                    std::io::stdout().flush().map_err(|e| Error::io("writing", "stdout", e))?;
                    shown = text;
                }
                Ok(())
            };
            generate_streaming(&model, &prompt, &cfg, &device, |id| {
                ids.push(id);
                show(&ids, false)
            })?;
            show(&ids, true)?;
            ids
        }
    };
    println!();
    let seconds = start.elapsed().as_secs_f64();
    Ok(json!({
        "example": "generate",
        "model_dir": args.model_dir.display().to_string(),
        "model_type": model.model_type(),
        "prompt_ids": prompt,
        "new_ids": new_ids,
        "text": tokenizer.decode(&new_ids)?,
        "tokens_per_s": new_ids.len() as f64 / seconds.max(1e-9),
        "load_seconds": load_seconds,
    }))
}
