//! dl-seq tests, on dl-rnn's GRU and Elman cells: the sequence heads learn
//! (classification, regression with every pooling, tagging), their errors
//! name the problem, and the attention encoder-decoder learns and decodes.

use burn::module::Module;
use burn::tensor::{Device, Int, Tensor, TensorData};
use dl_core::task::evaluate;
use dl_core::testing::{device, error_text, rng_lock, token_task, values};
use dl_core::train::{TrainConfig, fit};
use dl_core::{Batcher, ModelConfig, Supervised};
use dl_rnn::{GruConfig, RnnConfig};
use dl_seq::*;

#[test]
fn head_errors_name_the_problem() {
    let _rng = rng_lock();
    let d = device();
    let enc = GruConfig::new(4, 6).init(&d).unwrap();
    assert!(error_text(HeadConfig::new(SequenceTask::Classify { classes: 1 }).init(enc.clone(), &d)).contains("task"));
    let model = HeadConfig::new(SequenceTask::Classify { classes: 2 }).with_vocab_size(Some(10)).init(enc, &d).unwrap();
    // A token id outside the vocabulary.
    let ids = Tensor::<2, Int>::from_data(TensorData::new(vec![1i64, 2, 10], [1, 3]), &d);
    assert!(error_text(model.forward(SequenceInput::Tokens(ids), &[3])).contains("token id `10`"));
    // The same id in a batch a batcher wrote: checked on the host, same error.
    let item = dl_core::data::sequence::TokenSequence { ids: vec![1, 2, 10], label: 0 };
    let batch = TokenSequenceBatcher { pad_id: 0, max_len: 8 }.batch(&[&item], &d).unwrap();
    assert_eq!(batch.ids_below, Some(11));
    assert!(error_text(model.step(&batch)).contains("token id `10`"));
    // Within the vocabulary, the host-checked step computes what the checked forward does.
    let item = dl_core::data::sequence::TokenSequence { ids: vec![1, 2, 9], label: 1 };
    let batch = TokenSequenceBatcher { pad_id: 0, max_len: 8 }.batch(&[&item], &d).unwrap();
    let plain = SequenceBatch { ids_below: None, ..batch.clone() };
    assert_eq!(values(model.step(&batch).unwrap().output), values(model.step(&plain).unwrap().output));
    // Features given to a token model, then the wrong target kind.
    let feats = SequenceInput::Features(Tensor::zeros([1, 3, 4], &d));
    let batch = SequenceBatch::new(feats, vec![3], SequenceTarget::Values(Tensor::zeros([1, 1], &d))).unwrap();
    assert!(matches!(model.step(&batch), Err(dl_core::Error::WrongInput(_))));
    // A batch whose targets do not match its size.
    let feats = SequenceInput::Features(Tensor::zeros([2, 3, 4], &d));
    let t = SequenceTarget::Classes(Tensor::zeros([3], &d));
    assert!(SequenceBatch::new(feats, vec![3, 2], t).is_err());
}

// ------------------------------------------------------------------ heads learn

fn quick_cfg(epochs: usize, lr: f64) -> TrainConfig {
    TrainConfig { epochs, batch_size: 16, lr, progress: false, restore_best: false, ..TrainConfig::default() }
}

#[test]
fn a_gru_classifier_overfits_a_batch_and_the_loss_decreases() {
    let _rng = rng_lock();
    let d = device().autodiff();
    d.seed(4);
    let items = token_task(32, 9);
    let cfg = SequenceModelConfig {
        encoder: GruConfig::new(8, 16),
        head: HeadConfig::new(SequenceTask::Classify { classes: 2 }).with_vocab_size(Some(8)),
    };
    let model = cfg.init(&d).unwrap();
    let batcher = TokenSequenceBatcher { pad_id: 0, max_len: 16 };
    let r = fit(model, &items, None, &batcher, &TrainConfig { batch_size: 32, ..quick_cfg(60, 1e-2) }, &d).unwrap();
    let first = r.history.epochs[0].train_loss;
    let last = r.history.epochs.last().unwrap().train_loss;
    assert!(last < first * 0.2, "loss {first} -> {last}");
    let eval = evaluate(&r.model, &items, &batcher, 32, &device()).unwrap();
    assert_eq!(eval.accuracy(), Some(1.0), "one batch is memorised");
}

#[test]
fn every_pooling_and_the_regressor_learn_a_sum() {
    let _rng = rng_lock();
    let d = device().autodiff();
    // Target: the mean of the first feature over the real steps.
    let mut rng = dl_core::data::split::SplitRng::new(5);
    let items: Vec<_> = (0..256)
        .map(|_| {
            let len = 1 + rng.below(6);
            let values: Vec<f32> = (0..len).flat_map(|_| [rng.next_f32(), 0.5]).collect();
            let mean = values.iter().step_by(2).sum::<f32>() / len as f32;
            SeriesSequence { values, width: 2, target: vec![mean] }
        })
        .collect();
    for pooling in [Pooling::Last, Pooling::Mean, Pooling::Max] {
        d.seed(6);
        let cfg = SequenceModelConfig {
            encoder: RnnConfig::new(2, 12),
            head: HeadConfig::new(SequenceTask::Regress { outputs: 1 }).with_pooling(pooling),
        };
        let r = fit(cfg.init(&d).unwrap(), &items, None, &SeriesBatcher, &quick_cfg(8, 1e-2), &d).unwrap();
        let first = r.history.epochs[0].train_loss;
        let last = r.history.epochs.last().unwrap().train_loss;
        assert!(last < first * 0.5 && last < 0.02, "{pooling:?}: loss {first} -> {last}");
    }
}

#[test]
fn a_tagger_labels_every_real_step() {
    let _rng = rng_lock();
    let d = device().autodiff();
    d.seed(7);
    // Tag of a step = 1 if its token equals the previous token (needs one step of memory).
    let mut rng = dl_core::data::split::SplitRng::new(8);
    let seqs: Vec<Vec<usize>> = (0..64).map(|_| (0..2 + rng.below(6)).map(|_| 1 + rng.below(3)).collect()).collect();
    struct TagBatcher;
    impl Batcher<Vec<usize>, SequenceBatch> for TagBatcher {
        fn batch(&self, items: &[&Vec<usize>], d: &Device) -> dl_core::Result<SequenceBatch> {
            let owned: Vec<Vec<usize>> = items.iter().map(|v| (*v).clone()).collect();
            let t = owned.iter().map(Vec::len).max().unwrap_or(1);
            let (mut ids, mut tags) = (Vec::new(), Vec::new());
            for s in &owned {
                for i in 0..t {
                    ids.push(*s.get(i).unwrap_or(&0) as i64);
                    tags.push(i64::from(i > 0 && i < s.len() && s[i] == s[i - 1]));
                }
            }
            let b = owned.len();
            SequenceBatch::new(
                SequenceInput::Tokens(Tensor::from_data(TensorData::new(ids, [b, t]), d)),
                owned.iter().map(Vec::len).collect(),
                SequenceTarget::Tags(Tensor::from_data(TensorData::new(tags, [b, t]), d)),
            )
        }
    }
    let cfg = SequenceModelConfig {
        encoder: GruConfig::new(8, 16),
        head: HeadConfig::new(SequenceTask::Tag { classes: 2 }).with_vocab_size(Some(4)),
    };
    let r = fit(cfg.init(&d).unwrap(), &seqs, None, &TagBatcher, &quick_cfg(40, 1e-2), &d).unwrap();
    let plain = device();
    let refs: Vec<&Vec<usize>> = seqs.iter().collect();
    let out = r.model.valid().step(&TagBatcher.batch(&refs, &plain).unwrap()).unwrap();
    // One logit row per real step, and the rule is learned.
    assert_eq!(out.output.dims()[0], seqs.iter().map(Vec::len).sum::<usize>());
    let eval = evaluate(&r.model, &seqs, &TagBatcher, 64, &plain).unwrap();
    assert!(eval.accuracy().unwrap() > 0.97, "{:?}", eval.accuracy());
}

// ------------------------------------------------------------------ seq2seq

mod seq2seq {
    use super::*;
    use dl_seq::{AttentionKind, PairBatcher, PairItem, Seq2SeqConfig, Seq2SeqHeadConfig, Translator};

    const BOS: usize = 2;
    const EOS: usize = 3;

    /// Reverse a sequence of 2..6 tokens from {4..9}: needs attention to the right source position.
    fn reversal(n: usize, seed: u64) -> Vec<PairItem> {
        let mut rng = dl_core::data::split::SplitRng::new(seed);
        (0..n)
            .map(|_| {
                let src: Vec<usize> = (0..2 + rng.below(5)).map(|_| 4 + rng.below(6)).collect();
                PairItem { tgt: src.iter().rev().copied().collect(), src }
            })
            .collect()
    }

    fn config(attention: AttentionKind) -> Seq2SeqConfig<GruConfig, GruConfig> {
        Seq2SeqConfig {
            encoder: GruConfig::new(16, 24).with_bidirectional(true),
            decoder: GruConfig::new(16 + 32, 32),
            head: Seq2SeqHeadConfig::new(10, 10).with_attention(attention).with_attention_dim(32),
        }
    }

    #[test]
    fn attention_models_learn_to_reverse_and_beam_search_is_at_least_as_likely() {
        let _rng = rng_lock();
        let ad = device().autodiff();
        let plain = device();
        let train = reversal(512, 1);
        let batcher = PairBatcher { pad: 0, bos: BOS, eos: EOS };
        for attention in [AttentionKind::Additive, AttentionKind::Multiplicative] {
            ad.seed(12);
            let model = config(attention).init(&ad).unwrap();
            let tc = TrainConfig { epochs: 30, batch_size: 32, lr: 1e-2, progress: false, ..TrainConfig::default() };
            let r = fit(model, &train, None, &batcher, &tc, &ad).unwrap();
            let model = r.model.valid();
            let test = reversal(50, 2);
            let sources: Vec<Vec<usize>> = test.iter().map(|p| p.src.clone()).collect();
            let greedy = model.greedy(&sources, BOS, EOS, 10, &plain).unwrap();
            let exact = greedy.iter().zip(&test).filter(|(d, p)| d.tokens == p.tgt).count();
            assert!(exact >= 45, "{attention:?}: {exact}/50 reversed exactly");
            for (d, p) in greedy.iter().zip(&test).take(10) {
                // One attention row per output step (tokens + <eos>), each a distribution over the source.
                assert_eq!(d.attention.len(), d.tokens.len() + 1);
                for row in &d.attention {
                    assert_eq!(row.len(), p.src.len());
                    assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-4);
                }
                let beam1 = model.beam_search(&p.src, BOS, EOS, 1, 10, 0.0, &plain).unwrap();
                assert_eq!(beam1.tokens, d.tokens, "beam 1 is greedy");
                let beam4 = model.beam_search(&p.src, BOS, EOS, 4, 10, 0.0, &plain).unwrap();
                assert!(beam4.log_prob >= d.log_prob - 1e-4, "beam {} < greedy {}", beam4.log_prob, d.log_prob);
            }
        }
    }

    #[test]
    fn scheduled_sampling_trains_and_evaluation_is_deterministic() {
        let _rng = rng_lock();
        let ad = device().autodiff();
        ad.seed(14);
        let mut c = config(AttentionKind::Multiplicative);
        c.head.teacher_forcing = 0.5;
        let train = reversal(128, 3);
        let batcher = PairBatcher { pad: 0, bos: BOS, eos: EOS };
        let tc = TrainConfig { epochs: 6, batch_size: 32, lr: 1e-2, progress: false, ..TrainConfig::default() };
        let r = fit(c.init(&ad).unwrap(), &train, None, &batcher, &tc, &ad).unwrap();
        assert!(r.history.epochs[5].train_loss < r.history.epochs[0].train_loss);
        let a = evaluate(&r.model, &train, &batcher, 64, &device()).unwrap().loss;
        let b = evaluate(&r.model, &train, &batcher, 64, &device()).unwrap().loss;
        assert_eq!(a, b);
    }

    #[test]
    fn padded_sources_get_no_attention_and_bad_configs_are_errors() {
        let _rng = rng_lock();
        let d = device();
        d.seed(13);
        let model = config(AttentionKind::Additive).init(&d).unwrap();
        let batcher = PairBatcher { pad: 0, bos: BOS, eos: EOS };
        let items = [PairItem { src: vec![4, 5, 6, 7], tgt: vec![7] }, PairItem { src: vec![4], tgt: vec![4] }];
        let batch = batcher.batch(&items.iter().collect::<Vec<_>>(), &d).unwrap();
        let (enc, state) = model.encode(batch.src.clone(), &batch.src_lengths).unwrap();
        let prev = Tensor::<1, Int>::from_data(TensorData::new(vec![BOS as i64; 2], [2]), &d);
        let (_, attn, _) = model.decode_step(prev, state, &enc);
        let a = values(attn);
        assert!(a[5..8].iter().all(|w| *w < 1e-6), "padding attended: {a:?}");
        assert!((a[4] - 1.0).abs() < 1e-5);
        // A source longer than the padded batch, an id outside the vocabulary, bad configs.
        assert!(model.encode(batch.src.clone(), &[5, 1]).is_err());
        let bad = Tensor::<2, Int>::from_data(TensorData::new(vec![4i64, 12], [1, 2]), &d);
        assert!(error_text(model.encode(bad, &[2]).map(|_| ())).contains("token id `12`"));
        let mut c = config(AttentionKind::Additive);
        c.decoder = GruConfig::new(32, 32);
        assert!(error_text(c.init(&d)).contains("decoder.input_size"));
        let mut c = config(AttentionKind::Additive);
        c.decoder = GruConfig::new(48, 32).with_bidirectional(true);
        assert!(error_text(c.init(&d)).contains("unidirectional"));
        let mut c = config(AttentionKind::Additive);
        c.head.teacher_forcing = 1.5;
        assert!(error_text(c.init(&d)).contains("teacher_forcing"));
        assert!(model.beam_search(&[], BOS, EOS, 3, 5, 0.0, &d).is_err());
    }

    #[test]
    fn ids_a_batcher_wrote_are_checked_on_the_host_with_the_device_checks_error_and_output() {
        let _rng = rng_lock();
        let d = device();
        d.seed(15);
        let model = config(AttentionKind::Additive).init(&d).unwrap();
        let batcher = PairBatcher { pad: 0, bos: BOS, eos: EOS };
        let items = [PairItem { src: vec![4, 5, 9], tgt: vec![9, 5] }, PairItem { src: vec![6], tgt: vec![6, 7, 8] }];
        let batch = batcher.batch(&items.iter().collect::<Vec<_>>(), &d).unwrap();
        assert_eq!(batch.ids_below, Some([10, 10]));
        let unchecked = Seq2SeqBatch { ids_below: None, ..batch.clone() };
        assert_eq!(values(model.forward(&batch).unwrap()), values(model.forward(&unchecked).unwrap()));
        // A source id, a target id, and an end marker past the vocabulary of 10.
        for (src, tgt, eos, id, side) in [
            (vec![4, 10], vec![5], EOS, 10, "source"),
            (vec![4], vec![5, 11], EOS, 11, "target"),
            (vec![4], vec![5], 12, 12, "target"),
        ] {
            let item = PairItem { src, tgt };
            let batch = PairBatcher { pad: 0, bos: BOS, eos }.batch(&[&item], &d).unwrap();
            let unchecked = Seq2SeqBatch { ids_below: None, ..batch.clone() };
            let (host, dev) = (error_text(model.forward(&batch)), error_text(model.forward(&unchecked)));
            assert!(host.contains(&format!("token id `{id}`")) && host.contains(side), "{host}");
            assert_eq!(host, dev);
        }
        // Decoding checks its sources and start marker before the first step.
        assert!(error_text(model.greedy(&[vec![4, 10]], BOS, EOS, 5, &d)).contains("token id `10`"));
        assert!(error_text(model.greedy(&[vec![4]], 10, EOS, 5, &d)).contains("token id `10`"));
        assert!(error_text(model.beam_search(&[4, 10], BOS, EOS, 2, 5, 0.0, &d)).contains("token id `10`"));
        assert!(error_text(model.beam_search(&[4], 10, EOS, 2, 5, 0.0, &d)).contains("token id `10`"));
    }
}
