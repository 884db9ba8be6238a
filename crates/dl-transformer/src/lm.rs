//! The character-level language-model recipe shared by the `char_gpt` and
//! `llama_tiny` examples: nanoGPT's `shakespeare_char` setup (90/10 split,
//! random windows, AdamW with warm-up and cosine decay and no decay on
//! biases or norm gains, clipping of the gradients' joint norm),
//! validation loss in nats per character, and a generated sample.

use std::path::Path;
use std::time::Instant;

use burn::tensor::Device;

use crate::generate::{CausalLm, GenerateConfig, generate};
use dl_core::data::split::SplitRng;
use dl_core::data::tokenizer::CharTokenizer;
use dl_core::sampling::Sampling;
use dl_core::task::evaluate;
use dl_core::train::{LrSchedule, OptimizerKind, TrainConfig, fit};
use dl_core::{Error, Result, Supervised};
use dl_seq::{NextTokenBatcher, SequenceBatch};

/// Training budget and optimiser settings (defaults: nanoGPT's CPU run).
#[derive(Debug, Clone)]
pub struct CharLmSetup {
    /// Optimiser steps.
    pub iters: usize,
    /// Windows per step.
    pub batch_size: usize,
    /// Characters of context.
    pub context: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// Final learning rate of the cosine decay.
    pub min_lr: f64,
    /// Linear warm-up steps.
    pub warmup: usize,
    /// AdamW decoupled weight decay (matrices and embeddings only).
    pub weight_decay: f32,
    /// Clipping of the joint norm of all gradients (PyTorch's `clip_grad_norm_`).
    pub grad_clip: f32,
    /// Validations during training (the curve's points).
    pub evals: usize,
    /// Validation windows (random, fixed by the seed).
    pub valid_windows: usize,
    /// Seed of the windows, initialisation order and sampling.
    pub seed: u64,
    /// Show progress bars.
    pub progress: bool,
}

impl Default for CharLmSetup {
    fn default() -> Self {
        Self {
            iters: 2000,
            batch_size: 12,
            context: 64,
            lr: 1e-3,
            min_lr: 1e-4,
            warmup: 100,
            weight_decay: 0.1,
            grad_clip: 1.0,
            evals: 8,
            valid_windows: 2400,
            seed: 42,
            progress: true,
        }
    }
}

/// The text, tokenised and split 90% / 10%.
#[derive(Debug)]
pub struct CharCorpus {
    /// Character vocabulary (fitted on the training part).
    pub tokenizer: CharTokenizer,
    /// Training ids.
    pub train: Vec<usize>,
    /// Validation ids.
    pub valid: Vec<usize>,
}

impl CharCorpus {
    /// Splits `text` at 90% of its characters (as nanoGPT) and tokenises both parts.
    pub fn new(text: &str) -> Result<Self> {
        let chars: Vec<char> = text.chars().collect();
        if chars.len() < 1000 {
            return Err(Error::Invalid(format!("the corpus has {} characters; at least 1000 are needed", chars.len())));
        }
        let split = chars.len() * 9 / 10;
        let train_text: String = chars[..split].iter().collect();
        let valid_text: String = chars[split..].iter().collect();
        let tokenizer = CharTokenizer::fit([train_text.as_str()], 1, 10_000)?;
        Ok(Self { train: tokenizer.encode(&train_text), valid: tokenizer.encode(&valid_text), tokenizer })
    }
}

/// `n` windows of `len + 1` ids at random offsets of `ids`.
pub fn random_windows(ids: &[usize], len: usize, n: usize, seed: u64) -> Result<Vec<Vec<usize>>> {
    if ids.len() <= len + 1 {
        return Err(Error::Invalid(format!("{} ids are too few for windows of {}", ids.len(), len + 1)));
    }
    let mut rng = SplitRng::new(seed);
    Ok((0..n)
        .map(|_| {
            let start = rng.below(ids.len() - len - 1);
            ids[start..start + len + 1].to_vec()
        })
        .collect())
}

/// What a run measured.
#[derive(Debug, Clone)]
pub struct CharLmReport<M> {
    /// The trained model.
    pub model: M,
    /// Validation loss (nats per character) at the end.
    pub valid_loss: f64,
    /// `(iteration, train loss, validation loss)` at each validation.
    pub curve: Vec<(usize, f64, f64)>,
    /// Training time in seconds (validations included).
    pub seconds: f64,
}

/// Trains `model` (on an autodiff device) with nanoGPT's recipe; writes
/// `metrics.csv`, `loss.png` and checkpoints into `out`.
pub fn train_char_lm<M>(
    model: M,
    corpus: &CharCorpus,
    setup: &CharLmSetup,
    out: &Path,
    device: &Device,
) -> Result<CharLmReport<M>>
where
    M: Supervised<SequenceBatch> + 'static,
{
    let evals = setup.evals.max(1);
    let per_eval = setup.iters.div_ceil(evals);
    let train = random_windows(&corpus.train, setup.context, per_eval * evals * setup.batch_size, setup.seed)?;
    let valid = random_windows(&corpus.valid, setup.context, setup.valid_windows, setup.seed ^ 0x5eed)?;
    let cfg = TrainConfig {
        epochs: evals,
        batch_size: setup.batch_size,
        lr: setup.lr,
        optimizer: OptimizerKind::AdamW { betas: (0.9, 0.99), weight_decay: setup.weight_decay },
        schedule: LrSchedule::Cosine { min_lr: setup.min_lr },
        warmup_steps: setup.warmup,
        grad_clip_norm: Some(setup.grad_clip),
        clip_global: true,
        decay_matrices_only: true,
        seed: setup.seed,
        out_dir: Some(out.to_path_buf()),
        max_batches_per_epoch: Some(per_eval),
        progress: setup.progress,
        restore_best: false,
        ..TrainConfig::default()
    };
    let start = Instant::now();
    let report = fit(model, &train, Some(&valid), &NextTokenBatcher, &cfg, device)?;
    let seconds = start.elapsed().as_secs_f64();
    let curve = report
        .history
        .epochs
        .iter()
        .map(|e| (e.epoch * per_eval, e.train_loss, e.valid_loss.unwrap_or(f64::NAN)))
        .collect();
    let valid_loss = match &report.valid {
        Some(v) => v.loss,
        None => evaluate(&report.model, &valid, &NextTokenBatcher, 64, device)?.loss,
    };
    Ok(CharLmReport { model: report.model, valid_loss, curve, seconds })
}

/// Generates `len` characters after `prompt` (temperature sampling, seeded).
pub fn sample_text<M: CausalLm>(
    model: &M,
    tokenizer: &CharTokenizer,
    prompt: &str,
    len: usize,
    temperature: f32,
    seed: u64,
    device: &Device,
) -> Result<String> {
    let prompt_ids = tokenizer.encode_strict(prompt)?;
    let cfg = GenerateConfig {
        max_new_tokens: len,
        sampling: Sampling::temperature(temperature),
        stop_tokens: Vec::new(),
        seed,
        use_cache: true,
    };
    let new = generate(model, &prompt_ids, &cfg, device)?;
    Ok(format!("{prompt}{}", tokenizer.decode(&new)?))
}

/// Writes head `head` of `weights` `[1, H, T, T]` as a heatmap with the
/// characters of `text` as row (query) and column (key) labels.
#[cfg(feature = "plot")]
pub fn save_attention_png(path: &Path, weights: burn::tensor::Tensor<4>, head: usize, text: &str) -> Result<()> {
    let [_, h, t, s] = weights.dims();
    if head >= h {
        return Err(Error::shape("attention head", format!("< {h}"), head));
    }
    let w = dl_core::task::to_f32(weights.slice([0..1, head..head + 1, 0..t, 0..s]))?;
    let labels: Vec<String> = text
        .chars()
        .map(|c| match c {
            '\n' => "\\n".to_string(),
            ' ' => "_".to_string(),
            c => c.to_string(),
        })
        .collect();
    if labels.len() != t || t != s {
        return Err(Error::shape("attention labels", format!("{t} characters"), labels.len()));
    }
    dl_core::plot::heatmap_png(path, &w, t, s, 14, Some(&labels), Some(&labels))
}
