//! Masks, and configs and inputs that are refused.

use super::*;

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
    // A batcher's batch is checked on the host: the same error, and the same
    // logits as the device-checked forward for ids in range.
    let window = |w: &[usize]| dl_core::data::sequence::NextTokenBatcher.batch(&[&w.to_vec()], &d).unwrap();
    assert!(err(gpt.step(&window(&[1, 2, 10, 3])).unwrap_err()).contains("token id `10`"));
    let batch = window(&[1, 2, 9, 3]);
    assert_eq!(batch.ids_below, Some(10));
    let unchecked = dl_core::data::sequence::SequenceBatch { ids_below: None, ..batch.clone() };
    assert_eq!(
        gpt.step(&batch).unwrap().output.into_data().try_to_vec::<f32>().unwrap(),
        gpt.step(&unchecked).unwrap().output.into_data().try_to_vec::<f32>().unwrap()
    );
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

#[test]
fn encoder_decoder_ids_a_batcher_wrote_are_checked_on_the_host_with_the_device_checks_error_and_output() {
    use dl_seq::{PairBatcher, PairItem, Seq2SeqBatch};
    let _rng = rng_lock();
    let d = device();
    d.seed(16);
    let cfg = TransformerSeq2SeqConfig::new(10, 10).with_d_model(16).with_n_heads(2).with_d_ff(32).with_max_len(8);
    let model = cfg.init(&d).unwrap();
    let err = |e: dl_core::Result<Tensor<3>>| e.unwrap_err().to_string();
    let items = [PairItem { src: vec![4, 5, 9], tgt: vec![9, 5] }, PairItem { src: vec![6], tgt: vec![6, 7, 8] }];
    let batch = PairBatcher { pad: 0, bos: 1, eos: 2 }.batch(&items.iter().collect::<Vec<_>>(), &d).unwrap();
    assert_eq!(batch.ids_below, Some([10, 10]));
    let unchecked = Seq2SeqBatch { ids_below: None, ..batch.clone() };
    assert_eq!(values(model.forward(&batch).unwrap()), values(model.forward(&unchecked).unwrap()));
    // A source id, a target id, and an end marker past the vocabulary of 10.
    for (src, tgt, eos, id, side) in [
        (vec![4, 10], vec![5], 2, 10, "source"),
        (vec![4], vec![5, 11], 2, 11, "target"),
        (vec![4], vec![5], 12, 12, "target"),
    ] {
        let item = PairItem { src, tgt };
        let batch = PairBatcher { pad: 0, bos: 1, eos }.batch(&[&item], &d).unwrap();
        let unchecked = Seq2SeqBatch { ids_below: None, ..batch.clone() };
        let (host, dev) = (err(model.forward(&batch)), err(model.forward(&unchecked)));
        assert!(host.contains(&format!("token id `{id}`")) && host.contains(side), "{host}");
        assert_eq!(host, dev);
    }
    // Decoding checks its sources and start marker before the first step.
    let text = |e: dl_core::Error| e.to_string();
    assert!(text(model.greedy(&[vec![4, 10]], 1, 2, 5, &d).unwrap_err()).contains("token id `10`"));
    assert!(text(model.greedy(&[vec![4]], 10, 2, 5, &d).unwrap_err()).contains("token id `10`"));
    assert!(text(model.beam_search(&[4, 10], 1, 2, 2, 5, 0.0, &d).unwrap_err()).contains("token id `10`"));
    assert!(text(model.beam_search(&[4], 10, 2, 2, 5, 0.0, &d).unwrap_err()).contains("token id `10`"));
}
