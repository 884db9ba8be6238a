//! Learning (GPT, LLaMA, BERT heads, the encoder-decoder, the encoder, ViT)
//! and bit-exact save/load.

use super::*;

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
