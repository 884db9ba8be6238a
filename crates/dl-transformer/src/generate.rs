//! Text generation for decoder-only language models: greedy, temperature,
//! top-k, top-p, stop tokens, a token budget, a seed, and incremental decoding
//! with a KV cache (each new token costs one position, not the whole prefix).

use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::attention::KvCache;
use dl_core::data::split::SplitRng;
use dl_core::sampling::Sampling;
use dl_core::task::to_f32;
use dl_core::{Error, Result, StepOutput};
use dl_seq::{SequenceBatch, SequenceInput, SequenceTarget, check_ids_below};

/// A decoder-only language model that can run incrementally.
pub trait CausalLm {
    /// Vocabulary size (width of the logits).
    fn vocab_size(&self) -> usize;
    /// Longest context the model accepts (`None`: no limit, e.g. rotary positions).
    fn max_len(&self) -> Option<usize>;
    /// An empty cache with one entry per layer.
    fn new_cache(&self) -> KvCache;
    /// Logits `[B, T, V]` of `ids` `[B, T]`, which follow the steps held in
    /// `cache` (extended with them); without a cache, `ids` is the whole prefix.
    fn forward_cached(&self, ids: Tensor<2, Int>, cache: Option<&mut KvCache>) -> Result<Tensor<3>>;
    /// [`forward_cached`](Self::forward_cached) for ids the caller has
    /// checked on the host to lie below [`vocab_size`](Self::vocab_size)
    /// (a batcher, a prompt checked once, tokens the model picked): they are
    /// not read back from the device to be checked again.
    fn forward_checked(&self, ids: Tensor<2, Int>, cache: Option<&mut KvCache>) -> Result<Tensor<3>>;
}

/// Logits `[B, T, V]` of hidden states `[B, T, d]`: an untied `head`, or the
/// transposed token `embedding` matrix when the weights are tied.
pub fn output_logits(h: Tensor<3>, head: Option<&burn::nn::Linear>, embedding: &burn::nn::Embedding) -> Tensor<3> {
    match head {
        Some(head) => dl_kernels::linear(head, h),
        None => {
            let [b, t, d] = h.dims();
            let w = embedding.weight.val(); // [V, d]
            let v = w.dims()[0];
            h.reshape([b * t, d]).matmul(w.transpose()).reshape([b, t, v])
        }
    }
}

/// Checks that every id of `ids` is below `vocab` (an embedding lookup out of
/// range would panic on CPU and read garbage on a GPU).
pub fn check_ids(model: &str, ids: &Tensor<2, Int>, vocab: usize) -> Result<()> {
    check_id_shape(model, ids)?;
    let max = ids.clone().max().into_scalar::<i64>();
    let min = ids.clone().min().into_scalar::<i64>();
    if min < 0 || max >= vocab as i64 {
        return Err(Error::Unknown {
            kind: "token id",
            value: if min < 0 { min.to_string() } else { max.to_string() },
            context: format!("{model} with a vocabulary of {vocab}"),
        });
    }
    Ok(())
}

/// The part of [`check_ids`] that needs no device read: at least one id.
pub fn check_id_shape(model: &str, ids: &Tensor<2, Int>) -> Result<()> {
    let [b, t] = ids.dims();
    if b == 0 || t == 0 {
        return Err(Error::shape(format!("{model} input ids"), "[B >= 1, T >= 1]", format!("[{b}, {t}]")));
    }
    Ok(())
}

/// A model's check of its input ids: only their shape when they were
/// checked on the host (`host_checked`, [`CausalLm::forward_checked`]), else
/// [`check_ids`].
pub fn check_input_ids(model: &str, ids: &Tensor<2, Int>, vocab: usize, host_checked: bool) -> Result<()> {
    if host_checked { check_id_shape(model, ids) } else { check_ids(model, ids, vocab) }
}

/// Next-token cross-entropy of a language model on a batch of `Tokens` inputs
/// with `Tags` targets (the next token at every position; padded steps, past
/// each sequence's length, are left out).
pub fn lm_step<M: CausalLm>(model: &M, batch: &SequenceBatch) -> Result<StepOutput> {
    let (SequenceInput::Tokens(ids), SequenceTarget::Tags(tags)) = (&batch.input, &batch.target) else {
        return Err(Error::WrongInput(
            "a language model learns from token inputs with next-token (tag) targets".into(),
        ));
    };
    // Ids a batcher wrote are checked against the vocabulary on the host.
    let logits = match batch.ids_below {
        Some(below) => {
            let vocab = model.vocab_size();
            check_ids_below(below, vocab, || format!("a language model with a vocabulary of {vocab}"))?;
            model.forward_checked(ids.clone(), None)?
        }
        None => model.forward_cached(ids.clone(), None)?,
    };
    let [b, t, v] = logits.dims();
    let logits = logits.reshape([b * t, v]);
    let tags = tags.clone().reshape([b * t]);
    if batch.lengths.iter().all(|&l| l == t) {
        return Ok(StepOutput::classification(logits, tags));
    }
    let idx: Vec<i64> =
        batch.lengths.iter().enumerate().flat_map(|(i, &l)| (0..l).map(move |s| (i * t + s) as i64)).collect();
    let n = idx.len();
    let idx = Tensor::<1, Int>::from_data(TensorData::new(idx, [n]), &logits.device());
    Ok(StepOutput::classification(logits.select(0, idx.clone()), tags.select(0, idx)))
}

/// How to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateConfig {
    /// Tokens to generate at most.
    pub max_new_tokens: usize,
    /// Greedy / temperature / top-k / top-p.
    pub sampling: Sampling,
    /// Generation stops after emitting one of these (it is included in the output).
    pub stop_tokens: Vec<usize>,
    /// Seed of the sampler.
    pub seed: u64,
    /// Decode incrementally with a KV cache (same tokens, much less work).
    pub use_cache: bool,
}

impl Default for GenerateConfig {
    fn default() -> Self {
        Self { max_new_tokens: 100, sampling: Sampling::GREEDY, stop_tokens: Vec::new(), seed: 0, use_cache: true }
    }
}

fn ids_tensor(ids: &[usize], device: &Device) -> Tensor<2, Int> {
    Tensor::from_data(TensorData::new(ids.iter().map(|&i| i as i64).collect::<Vec<_>>(), [1, ids.len()]), device)
}

fn last_logits(logits: Tensor<3>) -> Result<Vec<f32>> {
    let [_, t, v] = logits.dims();
    to_f32(logits.slice([0..1, t - 1..t, 0..v]))
}

/// Continues `prompt`; returns the generated tokens (not the prompt). When the
/// context would exceed the model's `max_len`, the oldest tokens are dropped
/// (a sliding window), as nanoGPT does.
pub fn generate<M: CausalLm>(model: &M, prompt: &[usize], cfg: &GenerateConfig, device: &Device) -> Result<Vec<usize>> {
    generate_streaming(model, prompt, cfg, device, |_| Ok(()))
}

fn check_prompt<M: CausalLm>(model: &M, prompt: &[usize]) -> Result<()> {
    if prompt.is_empty() {
        return Err(Error::empty("generate: the prompt"));
    }
    if let Some(&bad) = prompt.iter().find(|&&i| i >= model.vocab_size()) {
        return Err(Error::Unknown {
            kind: "token id",
            value: bad.to_string(),
            context: format!("prompt for a vocabulary of {}", model.vocab_size()),
        });
    }
    Ok(())
}

/// [`generate`], handing each token to `on_token` as soon as it is chosen
/// (to print it while the next one is computed); an error from `on_token`
/// stops generation and is returned.
pub fn generate_streaming<M: CausalLm>(
    model: &M,
    prompt: &[usize],
    cfg: &GenerateConfig,
    device: &Device,
    mut on_token: impl FnMut(usize) -> Result<()>,
) -> Result<Vec<usize>> {
    cfg.sampling.validate()?;
    check_prompt(model, prompt)?;
    let window = model.max_len().unwrap_or(usize::MAX);
    let mut rng = SplitRng::new(cfg.seed);
    let mut tokens = prompt.to_vec();
    let mut out = Vec::with_capacity(cfg.max_new_tokens);
    let mut cache = model.new_cache();
    let mut pending: Vec<usize> = Vec::new(); // tokens not yet in the cache
    for step in 0..cfg.max_new_tokens {
        let logits = if cfg.use_cache {
            if step == 0 || cache.len() + pending.len() > window {
                // (Re)fill the cache from the last `window` tokens.
                cache = model.new_cache();
                let start = tokens.len().saturating_sub(window);
                model.forward_checked(ids_tensor(&tokens[start..], device), Some(&mut cache))?
            } else {
                model.forward_checked(ids_tensor(&pending, device), Some(&mut cache))?
            }
        } else {
            let start = tokens.len().saturating_sub(window);
            model.forward_checked(ids_tensor(&tokens[start..], device), None)?
        };
        let next = cfg.sampling.pick(&last_logits(logits)?, &mut rng)?;
        tokens.push(next);
        out.push(next);
        on_token(next)?;
        pending = vec![next];
        if cfg.stop_tokens.contains(&next) {
            break;
        }
    }
    Ok(out)
}

/// Beam search: the continuation of `prompt` with the highest total
/// log-probability among `beam` hypotheses kept per step (no length
/// penalty), ending at `eos` (not included) or after `max_new_tokens`. Each
/// step rereads every hypothesis' whole context (at most the model's
/// `max_len` tokens, batched), so it suits short continuations.
pub fn generate_beam<M: CausalLm>(
    model: &M,
    prompt: &[usize],
    beam: usize,
    max_new_tokens: usize,
    eos: Option<usize>,
    device: &Device,
) -> Result<Vec<usize>> {
    check_prompt(model, prompt)?;
    let window = model.max_len().unwrap_or(usize::MAX);
    let vocab = model.vocab_size();
    // beam_search prepends a start token to each hypothesis: it stands for the prompt.
    let start = usize::MAX;
    let decoded =
        dl_seq::beam::beam_search(start, eos.unwrap_or(usize::MAX - 1), beam, max_new_tokens, 0.0, |live, _| {
            let rows: Vec<Vec<usize>> =
                live.iter().map(|h| prompt.iter().chain(&h.tokens[1..]).copied().collect()).collect();
            let t = rows[0].len().min(window);
            let ids: Vec<i64> = rows.iter().flat_map(|r| r[r.len() - t..].iter().map(|&i| i as i64)).collect();
            let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, [rows.len(), t]), device);
            let logits = model.forward_checked(ids, None)?;
            let last = logits.slice([0..rows.len(), t - 1..t, 0..vocab]).reshape([rows.len(), vocab]);
            Ok((to_f32(burn::tensor::activation::log_softmax(last, 1))?, Vec::new()))
        })?;
    Ok(decoded.tokens)
}
