//! Decoding: the KV cache against recomputation, seeded generation.

use super::*;

fn small_gpt(d: &Device) -> Gpt {
    GptConfig::new(23, 16, 12, 2, 3).init(d).unwrap()
}

fn small_llama(d: &Device) -> Llama {
    LlamaConfig::new(23, 16, 24, 2, 4).with_num_key_value_heads(Some(2)).init(d).unwrap()
}

/// Logits of the last position, computed incrementally with the cache, equal a
/// full recomputation of the prefix at every step.
fn kv_cache_matches_recompute<M: CausalLm>(model: &M, d: &Device) {
    let seq = [3usize, 7, 1, 0, 22, 5, 9, 9, 14, 2];
    let full = values(model.forward_cached(ids(&seq, d), None).unwrap());
    let v = model.vocab_size();
    let mut cache = model.new_cache();
    // A prefix of 4 in one call, then one token at a time.
    let first = values(model.forward_cached(ids(&seq[..4], d), Some(&mut cache)).unwrap());
    assert!(max_diff(&first, &full[..4 * v]) < 1e-5);
    for t in 4..seq.len() {
        let step = values(model.forward_cached(ids(&seq[t..t + 1], d), Some(&mut cache)).unwrap());
        let diff = max_diff(&step, &full[t * v..(t + 1) * v]);
        assert!(diff < 1e-5, "step {t}: diff {diff}");
    }
    assert_eq!(cache.len(), seq.len());
}

#[test]
fn kv_cache_decoding_equals_recomputing_the_prefix() {
    let _rng = rng_lock();
    let d = device();
    d.seed(3);
    kv_cache_matches_recompute(&small_gpt(&d), &d);
    kv_cache_matches_recompute(&small_llama(&d), &d);
}

#[test]
fn kv_cache_matches_with_pretrained_shaped_hf_weights() {
    let _rng = rng_lock();
    // The same property on the committed Hugging Face fixtures' weights.
    let d = device();
    let fx = dl_core::parity::Fixture::load(&workspace_root().join("fixtures/parity/p_hf_llama_gqa3.json")).unwrap();
    let cfg = hf::llama_config(&fx.config).unwrap();
    let llama = hf::load_llama(cfg.init(&d).unwrap(), &fx, &d).unwrap();
    kv_cache_matches_recompute(&llama, &d);
    let fx =
        dl_core::parity::Fixture::load(&workspace_root().join("fixtures/parity/p_hf_gpt2_odd_heads.json")).unwrap();
    let cfg = hf::gpt2_config(&fx.config).unwrap();
    let gpt = hf::load_gpt2(cfg.init(&d).unwrap(), &fx, &d).unwrap();
    kv_cache_matches_recompute(&gpt, &d);
}

#[test]
fn generation_is_seeded_and_the_cache_changes_nothing() {
    let _rng = rng_lock();
    let d = device();
    d.seed(4);
    let gpt = small_gpt(&d);
    let sampled = GenerateConfig {
        max_new_tokens: 30,
        sampling: Sampling { temperature: 0.9, top_k: Some(10), top_p: Some(0.95) },
        stop_tokens: vec![],
        seed: 7,
        use_cache: true,
    };
    // 30 new tokens after a 2-token prompt run past the context of 16: the window slides.
    let a = generate(&gpt, &[1, 2], &sampled, &d).unwrap();
    let b = generate(&gpt, &[1, 2], &GenerateConfig { use_cache: false, ..sampled.clone() }, &d).unwrap();
    assert_eq!(a.len(), 30);
    assert_eq!(a, b, "cached and uncached decoding differ");
    assert_eq!(a, generate(&gpt, &[1, 2], &sampled, &d).unwrap(), "same seed, different tokens");
    let other = generate(&gpt, &[1, 2], &GenerateConfig { seed: 8, ..sampled.clone() }, &d).unwrap();
    assert_ne!(a, other);
    // Greedy stops at the first stop token, which it includes.
    let greedy = GenerateConfig { max_new_tokens: 12, ..GenerateConfig::default() };
    let g = generate(&gpt, &[5], &greedy, &d).unwrap();
    let stop = g[3];
    let cut = generate(&gpt, &[5], &GenerateConfig { stop_tokens: vec![stop], ..greedy }, &d).unwrap();
    let first = g.iter().position(|&t| t == stop).unwrap();
    assert_eq!(cut, g[..=first].to_vec());
    // Errors, not panics.
    assert!(generate(&gpt, &[], &sampled, &d).is_err());
    assert!(generate(&gpt, &[23], &sampled, &d).unwrap_err().to_string().contains("23"));
    let bad = GenerateConfig { sampling: Sampling { top_p: Some(1.5), ..Sampling::GREEDY }, ..sampled };
    assert!(generate(&gpt, &[1], &bad, &d).unwrap_err().to_string().contains("top_p"));
}
