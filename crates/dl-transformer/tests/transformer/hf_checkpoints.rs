//! Hugging Face checkpoint folders written by `transformers` itself
//! (`tools/hf_tiny/make_checkpoints.py`: random GPT-2 and Llama-3-style
//! models, float32, bfloat16 and sharded): greedy generation gives
//! `transformers`' tokens and logits, broken folders are errors, and
//! exported folders hold what `transformers` wrote and load back.

use std::path::{Path, PathBuf};

use burn::tensor::{Int, Tensor, TensorData};
use dl_core::sampling::Sampling;
use dl_core::testing::{device, rng_lock, temp_dir, workspace_root};
use dl_transformer::export::{save_bert_dir, save_gpt2_dir, save_llama_dir};
use dl_transformer::generate::{CausalLm, GenerateConfig, generate, generate_beam};
use dl_transformer::hf::{PretrainedLm, causal_lm_from_dir, eos_token_id};
use dl_transformer::position::Rope;
use dl_transformer::tokenizer::HfTokenizer;
use dl_transformer::{GptConfig, LlamaConfig};
use serde_json::Value;

const FOLDERS: [&str; 6] = ["gpt2-f32", "gpt2-bf16", "gpt2-sharded", "llama-f32", "llama-bf16", "llama-sharded"];

fn root() -> PathBuf {
    workspace_root().join("fixtures/hf_tiny")
}

fn expected() -> Value {
    let text = std::fs::read_to_string(root().join("expected.json")).expect("fixtures/hf_tiny/expected.json");
    serde_json::from_str(&text).expect("expected.json is JSON")
}

fn ids_of(v: &Value) -> Vec<usize> {
    v.as_array().expect("an id list").iter().map(|x| x.as_u64().expect("an id") as usize).collect()
}

#[test]
fn greedy_generation_matches_transformers_for_every_checkpoint_format() {
    let _guard = rng_lock();
    let d = device();
    let expected = expected();
    let prompt_text = expected["prompt"].as_str().expect("prompt");
    for folder in FOLDERS {
        let case = &expected["cases"][folder];
        let dir = root().join(folder);
        let model = causal_lm_from_dir(&dir, &d).unwrap_or_else(|e| panic!("{folder}: {e}"));
        let tokenizer = HfTokenizer::from_file(dir.join("tokenizer.json"), None).expect("tokenizer");
        let prompt = tokenizer.encode(prompt_text, true).expect("prompt ids");
        assert_eq!(prompt, ids_of(&case["prompt_ids"]), "{folder}: prompt ids");
        let want = ids_of(&case["new_ids"]);
        // The smallest gap between the two best logits `transformers` saw:
        // the tolerance below must stay well under it for the tokens to be a test.
        let min_gap = case["min_gap"].as_f64().expect("min_gap");
        assert!(min_gap > 1e-3, "{folder}: the fixture's choices are too close ({min_gap})");
        for use_cache in [true, false] {
            let cfg = GenerateConfig {
                max_new_tokens: want.len(),
                sampling: Sampling::GREEDY,
                stop_tokens: Vec::new(),
                seed: 0,
                use_cache,
            };
            let got = generate(&model, &prompt, &cfg, &d).expect("generate");
            assert_eq!(got, want, "{folder}: greedy tokens (cache {use_cache})");
        }
        // Logits of the last positions of prompt + generated tokens, one pass without a cache.
        let all: Vec<i64> = prompt.iter().chain(&want).map(|&i| i as i64).collect();
        let t = all.len();
        let logits = model.forward_cached(Tensor::<2, Int>::from_data(TensorData::new(all, [1, t]), &d), None).unwrap();
        let v = model.vocab_size();
        let rows = case["last_logits"].as_array().expect("last_logits");
        let got = logits.slice([0..1, t - rows.len()..t, 0..v]).into_data().try_to_vec::<f32>().unwrap();
        let want_logits: Vec<f64> =
            rows.iter().flat_map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap())).collect();
        assert_eq!(got.len(), want_logits.len());
        let diff = got.iter().zip(&want_logits).map(|(a, b)| (*a as f64 - b).abs()).fold(0.0, f64::max);
        let scale = want_logits.iter().map(|x| x.abs()).fold(0.0, f64::max);
        assert!(diff < 1e-4 * scale.max(1.0), "{folder}: logits differ by {diff} (largest {scale})");
        assert!(diff < min_gap / 10.0, "{folder}: logit error {diff} against the closest choice {min_gap}");
    }
}

#[test]
fn llama3_configs_are_read_with_their_rope_scaling_tied_embeddings_and_grouped_queries() {
    let _guard = rng_lock();
    let d = device();
    let PretrainedLm::Llama { config, model } = causal_lm_from_dir(&root().join("llama-f32"), &d).unwrap() else {
        panic!("llama-f32 is a LLaMA");
    };
    let scaling = config.rope_scaling.expect("rope_scaling of type llama3");
    assert_eq!((scaling.factor, scaling.original_max_position_embeddings), (8.0, 512));
    assert!(config.tie_word_embeddings && model.lm_head.is_none());
    assert_eq!((config.num_attention_heads, config.num_key_value_heads), (4, Some(2)));
    assert_eq!(config.rope_theta, 500_000.0);
    // transformers' `_compute_llama3_parameters` for this config (head_dim 8):
    // one frequency kept, one interpolated, two divided by the factor.
    let hf = [1.0, 0.027_344_133_704_900_74, 0.000_176_776_680_746_115_74, 6.647_869_668_086_059e-6];
    let rope = Rope::new(config.rope_theta, 8).unwrap().with_llama3_scaling(scaling).unwrap();
    for (ours, theirs) in rope.inverse_frequencies().iter().zip(hf) {
        assert!((ours - theirs).abs() <= 1e-6 * theirs, "{ours} vs {theirs}");
    }
    assert_eq!(eos_token_id(&root().join("llama-f32")).unwrap(), Some(0));

    // transformers 4 writes `rope_theta` at the top level and the rest as
    // `rope_scaling`: the same model, the same tokens.
    let dir = temp_dir("dl-transformer", "hf_llama3_v4_config");
    copy_folder(&root().join("llama-f32"), &dir);
    let mut c: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    let mut rope = c["rope_parameters"].take();
    c.as_object_mut().unwrap().remove("rope_parameters");
    c["rope_theta"] = rope["rope_theta"].take();
    rope.as_object_mut().unwrap().remove("rope_theta");
    c["rope_scaling"] = rope;
    std::fs::write(dir.join("config.json"), c.to_string()).unwrap();
    let PretrainedLm::Llama { config: v4, .. } = causal_lm_from_dir(&dir, &d).unwrap() else { panic!("a LLaMA") };
    assert_eq!((v4.rope_theta, v4.rope_scaling), (config.rope_theta, config.rope_scaling));
    // Without the rescaling the same weights give other logits: the scaling is exercised.
    c.as_object_mut().unwrap().remove("rope_scaling");
    std::fs::write(dir.join("config.json"), c.to_string()).unwrap();
    let plain = causal_lm_from_dir(&dir, &d).unwrap();
    let all = Tensor::<2, Int>::from_data(TensorData::new((0..40i64).collect::<Vec<_>>(), [1, 40]), &d);
    let a = model.forward(all.clone()).unwrap().into_data().try_to_vec::<f32>().unwrap();
    let b = plain.forward_cached(all, None).unwrap().into_data().try_to_vec::<f32>().unwrap();
    let diff = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max);
    assert!(diff > 1e-2, "llama3 rope scaling changes nothing ({diff})");
}

#[test]
fn beam_search_of_width_one_is_greedy() {
    let _guard = rng_lock();
    let d = device();
    let expected = expected();
    for folder in ["gpt2-f32", "llama-f32"] {
        let case = &expected["cases"][folder];
        let model = causal_lm_from_dir(&root().join(folder), &d).unwrap();
        let prompt = ids_of(&case["prompt_ids"]);
        let want = ids_of(&case["new_ids"]);
        let got = generate_beam(&model, &prompt, 1, 12, None, &d).unwrap();
        assert_eq!(got, want[..12], "{folder}");
        // A wider beam finds a continuation at least as likely as greedy's.
        let score = |ids: &[usize]| -> f64 {
            let all: Vec<i64> = prompt.iter().chain(ids).map(|&i| i as i64).collect();
            let t = all.len();
            let logits =
                model.forward_cached(Tensor::<2, Int>::from_data(TensorData::new(all.clone(), [1, t]), &d), None);
            let lp = burn::tensor::activation::log_softmax(logits.unwrap(), 2).into_data().try_to_vec::<f32>().unwrap();
            let v = model.vocab_size();
            (prompt.len()..t).map(|p| lp[(p - 1) * v + all[p] as usize] as f64).sum()
        };
        let wide = generate_beam(&model, &prompt, 4, 12, None, &d).unwrap();
        assert_eq!(wide.len(), 12);
        assert!(score(&wide) >= score(&want[..12]) - 1e-4, "{folder}: beam 4 below greedy");
    }
}

fn copy_folder(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

fn error_of(dir: &Path) -> String {
    let _guard = rng_lock();
    causal_lm_from_dir(dir, &device()).err().map(|e| e.to_string()).unwrap_or_else(|| "no error".into())
}

#[test]
fn broken_checkpoint_folders_are_errors_naming_what_is_wrong() {
    let base = temp_dir("dl-transformer", "hf_broken");
    let sharded = root().join("llama-sharded");
    let index: Value =
        serde_json::from_str(&std::fs::read_to_string(sharded.join("model.safetensors.index.json")).unwrap()).unwrap();
    let shards: std::collections::BTreeSet<String> =
        index["weight_map"].as_object().unwrap().values().map(|v| v.as_str().unwrap().to_string()).collect();
    assert!(shards.len() >= 2, "the sharded fixture has {} shard(s)", shards.len());
    let first = shards.iter().next().unwrap().clone();

    // A shard the index names is missing.
    let dir = base.join("missing_shard");
    copy_folder(&sharded, &dir);
    std::fs::remove_file(dir.join(&first)).unwrap();
    assert!(error_of(&dir).contains(&first), "{}", error_of(&dir));

    // The index places a tensor in a shard that does not hold it.
    let dir = base.join("misplaced");
    copy_folder(&sharded, &dir);
    let mut moved = index.clone();
    let (key, _) = index["weight_map"].as_object().unwrap().iter().find(|(_, f)| f.as_str() != Some(&first)).unwrap();
    moved["weight_map"][key] = Value::String(first.clone());
    std::fs::write(dir.join("model.safetensors.index.json"), moved.to_string()).unwrap();
    let e = error_of(&dir);
    assert!(e.contains(key.as_str()), "{e}");

    // A shard name that leaves the folder.
    let dir = base.join("escape");
    copy_folder(&sharded, &dir);
    let mut escape = index.clone();
    escape["weight_map"][key] = Value::String("../model.safetensors".into());
    std::fs::write(dir.join("model.safetensors.index.json"), escape.to_string()).unwrap();
    assert!(error_of(&dir).contains("not a file name"), "{}", error_of(&dir));

    // No weights at all.
    let dir = base.join("no_weights");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(sharded.join("config.json"), dir.join("config.json")).unwrap();
    assert!(error_of(&dir).contains("model.safetensors"), "{}", error_of(&dir));

    // Configurations this crate does not implement are refused, not approximated.
    let config: Value = serde_json::from_str(&std::fs::read_to_string(sharded.join("config.json")).unwrap()).unwrap();
    type Edit<'a> = &'a dyn Fn(&mut Value);
    let cases: [(&str, Edit, &str); 3] = [
        ("unknown_type", &|c| c["model_type"] = "mistral".into(), "model_type"),
        ("yarn", &|c| c["rope_parameters"]["rope_type"] = "yarn".into(), "yarn"),
        ("bad_factor", &|c| c["rope_parameters"]["high_freq_factor"] = 0.5.into(), "high_freq_factor"),
    ];
    for (name, edit, needle) in cases {
        let dir = base.join(name);
        copy_folder(&sharded, &dir);
        let mut c = config.clone();
        edit(&mut c);
        std::fs::write(dir.join("config.json"), c.to_string()).unwrap();
        let e = error_of(&dir);
        assert!(e.contains(needle), "{name}: {e}");
    }
}

/// Every tensor of two state dicts, by key: equal keys, shapes and bits.
fn assert_same_tensors(a: &Path, b: &Path) {
    use dl_core::weights::{StateDict, TensorSource};
    let (a, b) = (StateDict::load(a).unwrap(), StateDict::load(b).unwrap());
    assert_eq!(a.keys(), b.keys());
    let d = device();
    for key in a.keys() {
        let shape = a.shape_of(key).unwrap();
        assert_eq!(shape, b.shape_of(key).unwrap(), "{key}");
        let flat = |s: &StateDict| -> Vec<u32> {
            let t: Tensor<1> = match shape.len() {
                1 => s.tensor::<1>(key, &d).unwrap(),
                _ => s.tensor::<2>(key, &d).unwrap().flatten(0, 1),
            };
            t.into_data().try_to_vec::<f32>().unwrap().iter().map(|v| v.to_bits()).collect()
        };
        assert!(flat(&a) == flat(&b), "{key} differs");
    }
}

#[test]
fn exported_folders_hold_the_tensors_transformers_wrote() {
    let _guard = rng_lock();
    let d = device();
    for folder in ["gpt2-f32", "llama-f32"] {
        let out = temp_dir("dl-transformer", &format!("export_{folder}"));
        match causal_lm_from_dir(&root().join(folder), &d).unwrap() {
            PretrainedLm::Gpt2 { config, model } => save_gpt2_dir(&config, &model, &out).unwrap(),
            PretrainedLm::Llama { config, model } => save_llama_dir(&config, &model, &out).unwrap(),
        }
        // Key for key and bit for bit the file `save_pretrained` wrote.
        assert_same_tensors(&out.join("model.safetensors"), &root().join(folder).join("model.safetensors"));
        // And it loads back as the same model.
        let back = causal_lm_from_dir(&out, &d).unwrap();
        let prompt = ids_of(&expected()["cases"][folder]["prompt_ids"]);
        let cfg = GenerateConfig { max_new_tokens: 20, ..GenerateConfig::default() };
        let want = ids_of(&expected()["cases"][folder]["new_ids"]);
        assert_eq!(generate(&back, &prompt, &cfg, &d).unwrap(), want[..20], "{folder}");
    }
}

/// Logits of `model` for ids 0..t, as a flat vector.
fn logits_of(model: &impl CausalLm, t: usize) -> Vec<f32> {
    let d = device();
    let ids = Tensor::<2, Int>::from_data(TensorData::new((0..t as i64).collect::<Vec<_>>(), [1, t]), &d);
    model.forward_cached(ids, None).unwrap().into_data().try_to_vec::<f32>().unwrap()
}

/// Writes `ids 0..t` and the logits into `dir/reference.json` for
/// `tools/hf_tiny/check_export.py`, which runs `transformers` on the folder.
fn write_reference(dir: &Path, t: usize, logits: &[f32]) {
    let v = serde_json::json!({ "ids": (0..t).collect::<Vec<_>>(), "logits": logits });
    std::fs::write(dir.join("reference.json"), v.to_string()).unwrap();
}

#[test]
fn models_trained_here_export_to_folders_that_load_back_with_the_same_logits() {
    use dl_core::ModelConfig;
    use dl_transformer::position::Llama3RopeScaling;
    let _guard = rng_lock();
    let d = device();
    d.seed(7);
    // nanoGPT's choices (no biases, exact GELU, untied head): GPT-2 holds zero biases.
    let gpt_config = GptConfig::new(50, 24, 16, 2, 4)
        .with_bias(false)
        .with_activation(dl_transformer::ffn::Activation::Gelu)
        .with_tie_word_embeddings(false)
        .with_initializer_range(0.3);
    let gpt = gpt_config.init(&d).unwrap();
    let dir = temp_dir("dl-transformer", "export_gpt_nobias");
    save_gpt2_dir(&gpt_config, &gpt, &dir).unwrap();
    let (want, got) = (logits_of(&gpt, 24), logits_of(&causal_lm_from_dir(&dir, &d).unwrap(), 24));
    assert_eq!(want, got, "GPT without biases");
    write_reference(&dir, 24, &want);

    let llama_config = LlamaConfig::new(50, 16, 40, 2, 4)
        .with_num_key_value_heads(Some(1))
        .with_rope_theta(500_000.0)
        .with_rope_scaling(Some(Llama3RopeScaling::new(4.0, 1.0, 4.0, 64)))
        .with_initializer_range(0.3);
    let llama = llama_config.init(&d).unwrap();
    let dir = temp_dir("dl-transformer", "export_llama_gqa");
    save_llama_dir(&llama_config, &llama, &dir).unwrap();
    let (want, got) = (logits_of(&llama, 24), logits_of(&causal_lm_from_dir(&dir, &d).unwrap(), 24));
    assert_eq!(want, got, "LLaMA with one key/value head and llama3 rope scaling");
    write_reference(&dir, 24, &want);

    // A config that is not the model's is refused.
    let other = GptConfig::new(50, 24, 16, 3, 4);
    let e = save_gpt2_dir(&other, &gpt, temp_dir("dl-transformer", "export_wrong_config")).unwrap_err();
    assert!(e.to_string().contains("n_layer"), "{e}");
}

#[test]
fn bert_exports_as_the_file_transformers_wrote_and_embeds_the_same() {
    let _guard = rng_lock();
    let d = device();
    let dir = workspace_root().join("../shared/models/all-MiniLM-L6-v2");
    if !dir.join("model.safetensors").is_file() {
        eprintln!("skipped: ../shared/models/all-MiniLM-L6-v2 is not present");
        return;
    }
    let (config, bert) = dl_transformer::hf::bert_from_dir(&dir, &d).unwrap();
    let out = temp_dir("dl-transformer", "export_minilm");
    save_bert_dir(&config, &bert, &out).unwrap();
    // The real checkpoint's float tensors, key for key and bit for bit.
    assert_same_tensors(&out.join("model.safetensors"), &dir.join("model.safetensors"));
    // With the tokenizer and sentence-transformers' files beside it, the
    // export embeds the reference sentences as sentence-transformers does.
    for entry in std::fs::read_dir(&dir).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_name().unwrap().to_owned();
        if p.is_file() && name != "model.safetensors" && name != "config.json" {
            std::fs::copy(&p, out.join(name)).unwrap();
        }
    }
    let encoder = dl_transformer::embed::SentenceEncoder::from_dir(&out, &d).unwrap();
    let r = encoder.check_reference(&dir.join("reference.json"), 0.9999, &d).unwrap();
    assert!(r.sentences == 8 && r.min_cosine > 0.9999, "{r:?}");
}
