//! Hugging Face and PyTorch: the parity fixtures, the real all-MiniLM-L6-v2
//! embeddings, config and tokenizer readers, byte-level BPE.

use super::*;

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
