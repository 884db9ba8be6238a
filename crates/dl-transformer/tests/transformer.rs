//! dl-transformer tests: parity with PyTorch and Hugging Face (attention,
//! encoder/decoder layers, GPT-2, LLaMA, BERT), the real all-MiniLM-L6-v2
//! sentence embeddings, KV-cache decoding against full recomputation, masks,
//! generation, learning (GPT, LLaMA, BERT heads), save/load and input errors.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use dl_core::parity::{Registry, Verdict, check_one};
use dl_core::sampling::Sampling;
use dl_core::task::evaluate;
use dl_core::testing::{device, max_diff, rng_lock, values, workspace_root};
use dl_core::train::{TrainConfig, fit};
use dl_core::{Batcher, ModelConfig, Supervised};
use dl_seq::Translator;
use dl_seq::{NextTokenBatcher, TokenSequence, TokenSequenceBatcher};
use dl_transformer::attention::{causal_mask, lengths_mask};
use dl_transformer::embed::SentenceEncoder;
use dl_transformer::hf::{CHECKPOINT_FILES, checkpoint_dir, cosine};
use dl_transformer::models::bert::{BertPooling, MlmBatcher};
use dl_transformer::*;

fn ids(v: &[usize], d: &Device) -> Tensor<2, Int> {
    Tensor::from_data(TensorData::new(v.iter().map(|&i| i as i64).collect::<Vec<_>>(), [1, v.len()]), d)
}

const KINDS: [&str; 6] =
    ["multihead_attention", "transformer_encoder_layer", "transformer_decoder_layer", "hf_gpt2", "hf_llama", "hf_bert"];

/// Checks every fixture of this crate's kinds; returns how many per kind.
fn check_fixtures(d: &Device, dirs: &[PathBuf]) -> Vec<(String, usize)> {
    let mut registry = Registry::new();
    dl_transformer::parity::register(&mut registry);
    let mut counts: Vec<(String, usize)> = KINDS.iter().map(|k| (k.to_string(), 0)).collect();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else { continue };
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            if p.extension().is_none_or(|x| x != "json") {
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            let Some(kind) = KINDS.iter().position(|k| text.contains(&format!("\"module\": \"{k}\""))) else {
                continue;
            };
            match check_one(&registry, &p, d) {
                Verdict::Pass(diff) => assert!(diff <= 1e-4, "{} diff {diff}", p.display()),
                other => panic!("{}: {other:?}", p.display()),
            }
            counts[kind].1 += 1;
        }
    }
    counts
}

#[test]
fn checkpoint_dir_follows_the_data_folders() {
    let base = std::env::temp_dir().join(format!("dl-transformer-ckpt-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let (data, model) = (base.join("data"), base.join("models/tiny-bert"));
    std::fs::create_dir_all(&data).unwrap();
    std::fs::create_dir_all(&model).unwrap();
    let dirs = dl_core::data::DataDirs::from_dirs(vec![base.join("elsewhere"), data.clone()]);
    // Incomplete folder: an error naming the checkpoint, the folders tried and the flag.
    std::fs::write(model.join("config.json"), "{}").unwrap();
    let err = checkpoint_dir(None, &dirs, "tiny-bert").unwrap_err().to_string();
    assert!(err.contains("tiny-bert") && err.contains("elsewhere") && err.contains("--model-dir"), "{err}");
    for f in CHECKPOINT_FILES {
        std::fs::write(model.join(f), "x").unwrap();
    }
    let found = checkpoint_dir(None, &dirs, "tiny-bert").unwrap();
    assert_eq!(found, data.join("../models/tiny-bert"));
    // An explicit folder wins without being checked here (the readers check it).
    assert_eq!(checkpoint_dir(Some(Path::new("/x")), &dirs, "tiny-bert").unwrap(), PathBuf::from("/x"));
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn attention_layers_and_hf_models_match_pytorch_fixtures() {
    let _rng = rng_lock();
    let counts = check_fixtures(
        &device(),
        &[workspace_root().join("fixtures/parity"), workspace_root().join("../shared/parity/samples")],
    );
    // Committed (tools/parity): 2 per layer kind, 2 GPT-2, 2 LLaMA, 1 BERT.
    for (kind, n) in &counts {
        assert!(*n >= 1, "no fixture of kind {kind}: {counts:?}");
    }
    assert!(counts.iter().map(|c| c.1).sum::<usize>() >= 11, "{counts:?}");
}

/// The shared all-MiniLM-L6-v2 folder, or `None` after saying the test is skipped.
fn minilm() -> Option<PathBuf> {
    let dir = workspace_root().join("../shared/models/all-MiniLM-L6-v2");
    let found = dir.join("model.safetensors").is_file().then_some(dir);
    if found.is_none() {
        eprintln!("skipped: ../shared/models/all-MiniLM-L6-v2 is not present");
    }
    found
}

fn check_reference(encoder: &SentenceEncoder, path: &Path, d: &Device) -> usize {
    let reference: serde_json::Value = dl_core::config::load_json(path).unwrap();
    let sentences: Vec<&str> = reference["sentences"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    let expected_ids: Vec<Vec<usize>> = serde_json::from_value(reference["input_ids"].clone()).unwrap();
    let expected: Vec<Vec<f32>> = serde_json::from_value(reference["embeddings"].clone()).unwrap();
    assert_eq!(encoder.encode(&sentences).unwrap(), expected_ids, "WordPiece ids differ ({})", path.display());
    let got = encoder.embed(&sentences, 32, d).unwrap();
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        let cos = cosine(g, e);
        assert!(cos >= 0.9999, "{}: sentence {i} cosine {cos}", path.display());
        assert!(max_diff(g, e) <= 1e-4, "{}: sentence {i} max diff {}", path.display(), max_diff(g, e));
    }
    sentences.len()
}

#[test]
fn minilm_sentence_embeddings_match_sentence_transformers() {
    let _rng = rng_lock();
    let Some(dir) = minilm() else { return };
    let d = device();
    let encoder = SentenceEncoder::from_dir(&dir, &d).unwrap();
    assert_eq!(encoder.max_len, 256);
    // The shared reference, and our own sentences (accents, CJK, empty, truncated at 256).
    assert_eq!(check_reference(&encoder, &dir.join("reference.json"), &d), 8);
    assert_eq!(check_reference(&encoder, &workspace_root().join("fixtures/minilm/extra_reference.json"), &d), 8);
    // The library's reference check passes on the real file and fails on a
    // wrong one (components reversed, or zero vectors: cosine far below 1) or
    // with another count.
    let r = encoder.check_reference(&dir.join("reference.json"), 0.9999, &d).unwrap();
    assert!(r.sentences == 8 && r.min_cosine > 0.9999, "{r:?}");
    let tmp = dl_core::testing::temp_dir("dl-transformer", "reference");
    let mut bad: serde_json::Value = dl_core::config::load_json(dir.join("reference.json")).unwrap();
    for e in bad["embeddings"].as_array_mut().unwrap() {
        e.as_array_mut().unwrap().reverse();
    }
    dl_core::config::save_json(&bad, tmp.join("reversed.json")).unwrap();
    let e = encoder.check_reference(&tmp.join("reversed.json"), 0.9999, &d).unwrap_err().to_string();
    assert!(e.contains("reversed.json") && e.contains("differ from the reference"), "{e}");
    bad["embeddings"] = serde_json::json!(vec![vec![0.0f32; 384]; 8]);
    dl_core::config::save_json(&bad, tmp.join("zeros.json")).unwrap();
    let e = encoder.check_reference(&tmp.join("zeros.json"), 0.9999, &d).unwrap_err().to_string();
    assert!(e.contains("differ from the reference"), "{e}");
    bad["embeddings"] = serde_json::json!(vec![vec![0.5f32; 384]; 7]);
    dl_core::config::save_json(&bad, tmp.join("seven.json")).unwrap();
    let e = encoder.check_reference(&tmp.join("seven.json"), 0.9999, &d).unwrap_err().to_string();
    assert!(e.contains("7 embeddings") && e.contains("for 8 sentences"), "{e}");
    // Batched (padded) and one-at-a-time encodings agree.
    let texts = ["a b", "a much longer sentence with many more tokens than the first"];
    let together = encoder.embed(&texts, 2, &d).unwrap();
    let alone = encoder.embed(&texts, 1, &d).unwrap();
    assert!(max_diff(&together[0], &alone[0]) < 1e-5);
}

/// A checkpoint holding more than its config describes is refused: the
/// real all-MiniLM-L6-v2 weights (6 layers) under a config of 5 layers.
#[test]
fn a_config_with_fewer_layers_than_the_checkpoint_is_refused() {
    let _rng = rng_lock();
    let Some(dir) = minilm() else { return };
    let short = dl_core::testing::temp_dir("dl-transformer", "five-layers");
    let mut config: serde_json::Value = dl_core::config::load_json(dir.join("config.json")).unwrap();
    assert_eq!(config["num_hidden_layers"], 6);
    config["num_hidden_layers"] = 5.into();
    dl_core::config::save_json(&config, short.join("config.json")).unwrap();
    std::os::unix::fs::symlink(dir.join("model.safetensors"), short.join("model.safetensors")).unwrap();
    let e = hf::bert_from_dir(&short, &device()).unwrap_err().to_string();
    assert!(e.contains("model.safetensors") && e.contains("`encoder.layer.5.") && e.contains("no place for"), "{e}");
    // A vocabulary of 10^12 in config.json is refused before the model is built.
    config["vocab_size"] = 1_000_000_000_000u64.into();
    dl_core::config::save_json(&config, short.join("config.json")).unwrap();
    let e = hf::bert_from_dir(&short, &device()).unwrap_err().to_string();
    assert!(e.contains("BertConfig") && e.contains("vocab_size") && e.contains("more than the"), "{e}");
}

/// Corrupted Hugging Face `config.json` and `tokenizer.json` files (variants
/// of all-MiniLM-L6-v2's) are errors, never panics; configs that parse are
/// only built after validation, so none allocates what the machine lacks.
#[test]
fn hf_config_and_tokenizer_readers_never_panic() {
    let Some(dir) = minilm() else { return };
    let tmp = dl_core::testing::temp_dir("dl-transformer", "fuzz-hf");
    let config = std::fs::read(dir.join("config.json")).unwrap();
    for bytes in dl_core::testing::mutations(&config, 600, 50) {
        std::fs::write(tmp.join("config.json"), &bytes).unwrap();
        if let Ok(cfg) = hf::read_config(&tmp) {
            let _ = hf::bert_config(&cfg).and_then(|c| c.validate());
            let _ = hf::gpt2_config(&cfg).and_then(|c| c.validate());
            let _ = hf::llama_config(&cfg).and_then(|c| c.validate());
        }
    }
    let tokenizer = std::fs::read(dir.join("tokenizer.json")).unwrap();
    let path = tmp.join("tokenizer.json");
    for bytes in dl_core::testing::mutations(&tokenizer, 60, 51) {
        std::fs::write(&path, &bytes).unwrap();
        if let Ok(t) = dl_transformer::tokenizer::HfTokenizer::from_file(&path, Some(16)) {
            let _ = t.encode("A sentence, with \u{e9}t\u{e9} and \u{4e2d}\u{6587}.", true);
        }
    }
}

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

#[test]
fn masks_hide_what_they_should() {
    let _rng = rng_lock();
    let d = device();
    d.seed(5);
    let attn = AttentionConfig::new(8, 2).init(&d).unwrap();
    let x: Tensor<3> = Tensor::random([2, 5, 8], Distribution::Normal(0.0, 1.0), &d);
    // Causal: changing a later step leaves earlier outputs unchanged.
    let mask = causal_mask(5, 5, &d).unwrap();
    let a = values(attn.forward(x.clone(), x.clone(), Some(mask.clone())).unwrap().context);
    let mut changed = values(x.clone());
    for v in &mut changed[4 * 8..5 * 8] {
        *v += 3.0;
    }
    let x2 = Tensor::<3>::from_data(TensorData::new(changed, [2, 5, 8]), &d);
    let b = values(attn.forward(x2.clone(), x2, Some(mask)).unwrap().context);
    assert!(max_diff(&a[..4 * 8], &b[..4 * 8]) < 1e-6);
    assert!(max_diff(&a[4 * 8..5 * 8], &b[4 * 8..5 * 8]) > 1e-3);
    // Padding: keys past a length get zero weight.
    let out = attn.forward(x.clone(), x.clone(), Some(lengths_mask(&[5, 3], 5, &d).unwrap())).unwrap();
    let w = values(out.weights);
    for (i, v) in w.iter().enumerate() {
        let (b, key) = (i / (2 * 5 * 5), i % 5);
        if b == 1 && key >= 3 {
            assert_eq!(*v, 0.0);
        }
    }
    // A mask of the wrong shape is an error.
    let bad = causal_mask(4, 4, &d).unwrap();
    assert!(attn.forward(x.clone(), x, Some(bad)).unwrap_err().to_string().contains("mask"));
}

#[test]
fn configs_and_inputs_are_checked() {
    let _rng = rng_lock();
    let d = device();
    let err = |e: dl_core::Error| e.to_string();
    assert!(err(AttentionConfig::new(10, 3).init(&d).unwrap_err()).contains("n_heads"));
    assert!(err(AttentionConfig::new(12, 4).with_n_kv_heads(Some(3)).init(&d).unwrap_err()).contains("n_kv_heads"));
    assert!(err(LlamaConfig::new(10, 12, 8, 1, 4).with_head_dim(Some(3)).init(&d).unwrap_err()).contains("head_dim"));
    // Sizes no machine holds are refused before anything is allocated.
    for e in [
        err(GptConfig::new(100, 64, 1_000_000, 2, 4).init(&d).unwrap_err()),
        err(LlamaConfig::new(1_000_000_000_000, 16, 24, 2, 4).init(&d).unwrap_err()),
        err(BertConfig::new(1_000_000_000_000, 16, 2, 4, 32).init(&d).unwrap_err()),
    ] {
        assert!(e.contains("parameters needs") && e.contains("more than the"), "{e}");
    }
    assert!(err(GptConfig::new(10, 8, 8, 0, 2).init(&d).unwrap_err()).contains("n_layer"));
    assert!(err(BertConfig::new(10, 8, 1, 2, 16).with_pad_token_id(10).init(&d).unwrap_err()).contains("pad_token_id"));
    let gpt = GptConfig::new(10, 8, 8, 1, 2).init(&d).unwrap();
    assert!(err(gpt.forward(ids(&[1, 2, 10], &d)).unwrap_err()).contains("token id"));
    assert!(err(gpt.forward(ids(&[1; 9], &d)).unwrap_err()).contains("8 positions"));
    let bert = BertConfig::new(10, 8, 1, 2, 16).with_max_position_embeddings(6).init(&d).unwrap();
    assert!(err(bert.forward(ids(&[1; 7], &d), None, None).unwrap_err()).contains("6 tokens"));
    let mask = Tensor::<2, Int>::ones([1, 3], &d);
    assert!(err(bert.forward(ids(&[1, 2], &d), Some(mask), None).unwrap_err()).contains("attention_mask"));
    // A Hugging Face config with an unsupported option names it.
    let mut cfg = serde_json::Map::new();
    for (k, v) in [("vocab_size", 10), ("hidden_size", 8), ("intermediate_size", 8), ("num_hidden_layers", 1)] {
        cfg.insert(k.into(), v.into());
    }
    cfg.insert("num_attention_heads".into(), 2.into());
    cfg.insert("hidden_act".into(), "gelu".into());
    assert!(err(hf::llama_config(&cfg).unwrap_err()).contains("hidden_act"));
    assert!(hf::bert_from_dir(Path::new("/nonexistent"), &d).unwrap_err().to_string().contains("config.json"));
}

fn lm_windows(n: usize, len: usize) -> Vec<Vec<usize>> {
    // A deterministic "language": each token is (previous + 3) mod 11, from varied starts.
    (0..n).map(|s| (0..len).map(|i| (s * 5 + 3 * i) % 11).collect()).collect()
}

fn learns_language<M: Supervised<dl_seq::SequenceBatch> + 'static>(model: M, d: &Device) -> f64 {
    let data = lm_windows(48, 9);
    let cfg = TrainConfig { epochs: 15, batch_size: 8, lr: 1e-2, progress: false, ..Default::default() };
    let report = fit(model, &data, None, &NextTokenBatcher, &cfg, &d.clone().autodiff()).unwrap();
    let first = report.history.epochs.first().unwrap().train_loss;
    let eval = evaluate(&report.model, &data, &NextTokenBatcher, 16, d).unwrap();
    assert!(eval.loss < first / 5.0, "loss {first} -> {}", eval.loss);
    eval.accuracy().unwrap()
}

#[test]
fn gpt_and_llama_learn_a_deterministic_language() {
    let _rng = rng_lock();
    let d = device();
    d.seed(6);
    let ad = d.clone().autodiff();
    let gpt = GptConfig::new(11, 16, 16, 1, 2).init(&ad).unwrap();
    assert!(learns_language(gpt, &d) > 0.95);
    let llama = LlamaConfig::new(11, 16, 32, 1, 2).with_num_key_value_heads(Some(1)).init(&ad).unwrap();
    assert!(learns_language(llama, &d) > 0.95);
}

#[test]
fn bert_classifier_and_masked_lm_learn() {
    let _rng = rng_lock();
    let d = device();
    d.seed(7);
    let ad = d.clone().autodiff();
    // Class = whether token 3 occurs, anywhere in a padded sequence.
    let items: Vec<TokenSequence> = (0..64)
        .map(|i| {
            let len = 3 + i % 5;
            let mut ids: Vec<usize> = (0..len).map(|j| 4 + (i * 7 + j * 3) % 6).collect();
            if i % 2 == 0 {
                ids[(i / 2) % len] = 3;
            }
            TokenSequence { ids, label: usize::from(i % 2 == 0) }
        })
        .collect();
    let bert = BertConfig::new(10, 16, 1, 2, 32).with_dropout(0.0).with_max_position_embeddings(16);
    let cfg = BertClassifierConfig::new(bert.clone(), 2).with_pooling(BertPooling::Mean).with_classifier_dropout(0.0);
    let model = cfg.init(&ad).unwrap();
    let batcher = TokenSequenceBatcher { pad_id: 0, max_len: 16 };
    let tc = TrainConfig { epochs: 20, batch_size: 16, lr: 3e-3, progress: false, ..Default::default() };
    let report = fit(model, &items, None, &batcher, &tc, &ad).unwrap();
    let eval = evaluate(&report.model, &items, &batcher, 16, &d).unwrap();
    assert!(eval.accuracy().unwrap() >= 0.95, "accuracy {:?}", eval.accuracy());

    // Masked LM on the deterministic language: the loss at masked positions falls.
    let mut mlm_bert = bert;
    mlm_bert.vocab_size = 12;
    let mlm = BertMlmConfig::new(mlm_bert).init(&ad).unwrap();
    let data: Vec<Vec<usize>> =
        lm_windows(64, 10).into_iter().map(|w| w.into_iter().map(|t| t + 1).collect()).collect();
    let batcher = MlmBatcher::new(0, 0, 12, vec![], 1);
    let tc = TrainConfig { epochs: 12, batch_size: 16, lr: 5e-3, progress: false, ..Default::default() };
    let report = fit(mlm, &data, None, &batcher, &tc, &ad).unwrap();
    let h = &report.history.epochs;
    assert!(
        h.last().unwrap().train_loss < h[0].train_loss / 2.0,
        "{} -> {}",
        h[0].train_loss,
        h.last().unwrap().train_loss
    );
    let b = batcher.batch(&data.iter().take(4).collect::<Vec<_>>(), &d).unwrap();
    assert!(b.labels.dims()[0] >= 1);
}

#[test]
fn save_and_load_are_bit_exact() {
    let _rng = rng_lock();
    let d = device();
    d.seed(8);
    let dir = std::env::temp_dir().join(format!("dl-transformer-save-{}", std::process::id()));
    let cfg = LlamaConfig::new(13, 16, 24, 2, 4).with_num_key_value_heads(Some(2));
    let model = cfg.init(&d).unwrap();
    dl_core::checkpoint::save_model(&cfg, &model, &dir).unwrap();
    let (cfg2, loaded): (LlamaConfig, Llama) = dl_core::checkpoint::load_model(&dir, &d).unwrap();
    assert_eq!(cfg2.num_key_value_heads, Some(2));
    let x = ids(&[1, 5, 12, 0], &d);
    assert_eq!(values(model.forward(x.clone()).unwrap()), values(loaded.forward(x).unwrap()));
    // A checkpoint of another shape is an error.
    let other = GptConfig::new(13, 8, 8, 1, 2).init(&d).unwrap();
    assert!(dl_core::checkpoint::load_weights(other, dir.join("model.bpk")).is_err());
    let _ = std::fs::remove_dir_all(dir);
    assert_eq!(model.num_params(), loaded.num_params());
}

#[test]
fn encoder_decoder_learns_to_reverse_and_beam_search_agrees() {
    let _rng = rng_lock();
    use dl_seq::{PairBatcher, PairItem};
    let d = device();
    d.seed(9);
    let ad = d.clone().autodiff();
    // Tokens 3..9 (0 pad, 1 bos, 2 eos); target = reversed source.
    let pairs: Vec<PairItem> = (0..96)
        .map(|i| {
            let len = 2 + i % 4;
            let src: Vec<usize> = (0..len).map(|j| 3 + (i * 5 + j * 3) % 7).collect();
            PairItem { tgt: src.iter().rev().copied().collect(), src }
        })
        .collect();
    let cfg = TransformerSeq2SeqConfig::new(10, 10)
        .with_d_model(32)
        .with_n_heads(4)
        .with_d_ff(64)
        .with_encoder_layers(2)
        .with_decoder_layers(2)
        .with_dropout(0.0)
        .with_max_len(12);
    let batcher = PairBatcher { pad: 0, bos: 1, eos: 2 };
    let tc = TrainConfig { epochs: 40, batch_size: 16, lr: 3e-3, progress: false, ..Default::default() };
    let model = fit(cfg.init(&ad).unwrap(), &pairs, None, &batcher, &tc, &ad).unwrap().model;
    let model = model.valid().to_device(&d);
    let sources: Vec<Vec<usize>> = pairs.iter().take(24).map(|p| p.src.clone()).collect();
    let greedy = model.greedy(&sources, 1, 2, 8, &d).unwrap();
    let correct = greedy.iter().zip(&pairs).filter(|(g, p)| g.tokens == p.tgt).count();
    assert!(correct >= 22, "{correct}/24 reversed");
    for (i, g) in greedy.iter().enumerate().take(6) {
        let b1 = model.beam_search(&sources[i], 1, 2, 1, 8, 0.0, &d).unwrap();
        assert_eq!(b1.tokens, g.tokens, "beam 1 differs from greedy");
        assert!((b1.log_prob - g.log_prob).abs() < 1e-3);
        let b4 = model.beam_search(&sources[i], 1, 2, 4, 8, 0.0, &d).unwrap();
        assert!(b4.log_prob >= g.log_prob - 1e-4, "beam 4 {} < greedy {}", b4.log_prob, g.log_prob);
        // One attention row per emitted token (and <eos>), one column per source token.
        assert_eq!(g.attention.len(), g.tokens.len() + 1);
        assert!(g.attention.iter().all(|r| r.len() == sources[i].len()));
    }
    assert!(model.greedy(&[vec![]], 1, 2, 8, &d).is_err());
    assert!(model.beam_search(&[3, 4], 1, 2, 0, 8, 0.0, &d).unwrap_err().to_string().contains("beam"));
}

#[test]
fn transformer_encoder_ignores_padding_and_serves_the_sequence_heads() {
    let _rng = rng_lock();
    use dl_seq::SequenceEncoder;
    use dl_seq::{HeadConfig, SequenceInput, SequenceModelConfig, SequenceTask};
    let d = device();
    d.seed(10);
    let enc = TransformerEncoderConfig::new(3, 16).with_max_len(8).init(&d).unwrap();
    let x: Tensor<3> = Tensor::random([2, 6, 3], Distribution::Normal(0.0, 1.0), &d);
    let batch = enc.encode(x.clone(), Some(&[6, 4]), None).unwrap();
    let alone = enc.encode(x.clone().slice([1..2, 0..4, 0..3]), None, None).unwrap();
    let out = values(batch.output.clone());
    assert!(max_diff(&out[6 * 16..6 * 16 + 4 * 16], &values(alone.output)) < 1e-5);
    assert!(out[6 * 16 + 4 * 16..].iter().all(|v| *v == 0.0), "padded steps are not zero");
    assert!(max_diff(&values(batch.last).split_off(16), &values(alone.last)) < 1e-5);
    assert!(enc.encode(x.clone(), Some(&[7, 1]), None).is_err());
    assert!(enc.encode(Tensor::zeros([1, 9, 3], &d), None, None).unwrap_err().to_string().contains("8 steps"));
    // The same head builder as the recurrent encoders.
    let model = SequenceModelConfig {
        encoder: TransformerEncoderConfig::new(3, 16).with_max_len(8),
        head: HeadConfig::new(SequenceTask::Classify { classes: 4 }),
    }
    .init(&d)
    .unwrap();
    assert_eq!(model.forward(SequenceInput::Features(x), &[6, 4]).unwrap().dims(), [2, 4]);
}

#[test]
fn vit_fits_a_small_batch_and_checks_image_shapes() {
    let _rng = rng_lock();
    use dl_core::data::image::{ImageBatcher, ImageItem};
    let d = device();
    d.seed(11);
    let ad = d.clone().autodiff();
    // Four 8x8 "images": a bright quadrant per class.
    let items: Vec<ImageItem> = (0..32)
        .map(|i| {
            let class = i % 4;
            let pixels = (0..64)
                .map(|p| {
                    let (r, c) = (p / 8, p % 8);
                    let q = usize::from(r >= 4) * 2 + usize::from(c >= 4);
                    if q == class { 1.0 } else { ((i * 7 + p) % 5) as f32 * 0.05 }
                })
                .collect();
            ImageItem { pixels, label: class }
        })
        .collect();
    let cfg = VitConfig::new(1, 8, 4, 4).with_d_model(16).with_layers(1).with_heads(2).with_d_ff(32);
    let tc = TrainConfig { epochs: 60, batch_size: 8, lr: 1e-3, progress: false, ..Default::default() };
    let batcher = ImageBatcher::new(1, 8, 8);
    let report = fit(cfg.init(&ad).unwrap(), &items, None, &batcher, &tc, &ad).unwrap();
    let eval = evaluate(&report.model, &items, &batcher, 32, &d).unwrap();
    assert!(eval.accuracy().unwrap() >= 0.97, "{:?}", eval.accuracy());
    let vit = cfg.init(&d).unwrap();
    assert!(vit.forward(Tensor::zeros([1, 1, 9, 9], &d)).unwrap_err().to_string().contains("[B, 1, 8, 8]"));
    assert!(VitConfig::new(1, 8, 3, 4).init(&d).unwrap_err().to_string().contains("patch_size"));
}

#[test]
fn byte_level_bpe_tokenizer_matches_hugging_face() {
    use dl_transformer::tokenizer::HfTokenizer;
    let dir = workspace_root().join("fixtures/tokenizers");
    let tok = HfTokenizer::from_file(dir.join("bpe_shakespeare.json"), None).unwrap();
    assert_eq!(tok.vocab_size(), 400);
    let reference: serde_json::Value = dl_core::config::load_json(dir.join("bpe_reference.json")).unwrap();
    let cases = reference["cases"].as_array().unwrap();
    for case in cases {
        let text = case["text"].as_str().unwrap();
        let expected: Vec<usize> = serde_json::from_value(case["ids"].clone()).unwrap();
        assert_eq!(tok.encode(text, true).unwrap(), expected, "{text:?}");
        assert_eq!(tok.decode(&expected).unwrap(), case["decoded"].as_str().unwrap());
    }
    // Truncation counts ids; a missing file or an unknown token is an error.
    let short = HfTokenizer::from_file(dir.join("bpe_shakespeare.json"), Some(5)).unwrap();
    assert_eq!(short.encode(cases[0]["text"].as_str().unwrap(), true).unwrap().len(), 5);
    assert!(HfTokenizer::from_file(dir.join("missing.json"), None).is_err());
    assert!(tok.token_id("[NOT A TOKEN]").unwrap_err().to_string().contains("NOT A TOKEN"));
}

// ------------------------------------------------------------------ pretrained

/// The shipped character GPT reproduces its documented validation loss
/// (1.797 on the 2,400 validation windows of its training run), its
/// vocabulary is the corpus's, and greedy continuation is deterministic.
#[test]
fn the_shipped_char_gpt_reaches_its_loss_on_tinyshakespeare() {
    use dl_transformer::lm::{CharCorpus, random_windows};
    use dl_transformer::pretrained::char_gpt_shakespeare;
    let d = device();
    let gpt = char_gpt_shakespeare(&d).unwrap();
    let a = gpt.continue_text("ROMEO:", 40, 0.0, 1, &d).unwrap();
    assert!(a.starts_with("ROMEO:") && a.chars().count() == 46, "{a:?}");
    assert_eq!(a, gpt.continue_text("ROMEO:", 40, 0.0, 2, &d).unwrap(), "greedy ignores the seed");
    assert!(gpt.continue_text("ROMEO€", 4, 0.0, 1, &d).is_err(), "a character outside the vocabulary");
    let Some(file) = dl_core::testing::data_file("tinyshakespeare", "input.txt") else { return };
    let corpus = CharCorpus::new(&dl_core::data::read_text(&file).unwrap()).unwrap();
    let text = corpus.tokenizer.decode(&corpus.valid[..5_000]).unwrap();
    assert_eq!(gpt.tokenizer.encode(&text), corpus.valid[..5_000]);
    // The windows of train_char_lm's validation (seed 42, context 64).
    let windows = random_windows(&corpus.valid, 64, 2_400, 42 ^ 0x5eed).unwrap();
    let loss = evaluate(&gpt.model, &windows, &NextTokenBatcher, 64, &d).unwrap().loss;
    // The training run's closing validation (`valid_loss_nats_per_char`).
    assert!((loss - 1.796_712_888).abs() < 1e-6, "validation loss {loss}");
}
