//! dl-rnn tests: parity with PyTorch (`rnn`, `gru`), variable-length batches
//! against running each sequence alone, bidirectionality, state handling,
//! config and input errors, the sequence heads (learning, tagging), save/load
//! and backend conformance.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use dl_core::parity::{Registry, Verdict, check_one};
use dl_core::recurrent::heads::{
    HeadConfig, Pooling, SequenceBatch, SequenceInput, SequenceModelConfig, SequenceTarget, SequenceTask,
    SeriesBatcher, TokenSequence, TokenSequenceBatcher,
};
use dl_core::recurrent::{RecurrentState, SequenceEncoder};
use dl_core::task::{evaluate, to_f32};
use dl_core::train::{TrainConfig, fit};
use dl_core::{Backend, Batcher, Error, ModelConfig, Supervised};
use dl_rnn::*;

static RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// burn's device RNG is process-wide on flex: tests that draw random numbers hold this lock.
fn rng_lock() -> std::sync::MutexGuard<'static, ()> {
    RNG.lock().unwrap_or_else(|e| e.into_inner())
}

fn device() -> Device {
    Backend::Flex.device().expect("flex is the default backend")
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn registry() -> Registry {
    let mut r = Registry::new();
    dl_rnn::parity::register(&mut r);
    r
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    to_f32(t).unwrap()
}

fn random<const D: usize>(shape: [usize; D], d: &Device) -> Tensor<D> {
    Tensor::random(shape, Distribution::Normal(0.0, 1.0), d)
}

// ------------------------------------------------------------------ parity

fn check_kind_fixtures(kinds: &[&str], d: &Device) -> usize {
    let mut checked = 0;
    // Other backends check the committed fixtures only: on lavapipe every new shape
    // compiles kernels, which costs seconds per fixture.
    let dirs = if *d == device() {
        vec![root().join("fixtures/parity"), root().join("../shared/parity/samples")]
    } else {
        vec![root().join("fixtures/parity")]
    };
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            let hit = kinds.iter().any(|k| text.contains(&format!("\"module\": \"{k}\"")));
            if p.extension().is_some_and(|x| x == "json") && hit {
                match check_one(&registry(), &p, d) {
                    Verdict::Pass(diff) => assert!(diff <= 1e-5, "{} diff {diff}", p.display()),
                    other => panic!("{}: {other:?}", p.display()),
                }
                checked += 1;
            }
        }
    }
    checked
}

#[test]
fn rnn_and_gru_match_pytorch_fixtures() {
    // Committed: 2 rnn + 2 gru (tools/parity); the shared samples add more when present.
    assert!(check_kind_fixtures(&["rnn", "gru"], &device()) >= 4);
}

#[test]
fn loading_pytorch_weights_names_missing_and_misshaped_keys() {
    let d = device();
    let fx = dl_core::parity::Fixture::load(&root().join("fixtures/parity/p_gru_bidir.json")).unwrap();
    // A unidirectional GRU reads the forward keys but the model is smaller than the file.
    let small = GruConfig::new(4, 3).init(&d).unwrap();
    let err = dl_rnn::pytorch::load_gru(small, &fx, "", &d).unwrap_err();
    assert!(err.to_string().contains("weight_ih_l0"), "{err}");
    // A prefix that does not exist names the key it looked for.
    let gru = GruConfig::new(4, 5).init(&d).unwrap();
    let err = dl_rnn::pytorch::load_gru(gru, &fx, "encoder.", &d).unwrap_err();
    assert!(err.to_string().contains("encoder.weight_ih_l0"), "{err}");
}

// ------------------------------------------------------------------ masking

/// Runs each sequence alone (unpadded) and compares with the padded batch.
fn check_lengths_against_single<E: SequenceEncoder>(enc: &E, width: usize, d: &Device) {
    let lengths = [5usize, 3, 1, 4];
    let (b, t) = (lengths.len(), 5);
    let x = random([b, t, width], d);
    let batch = enc.encode(x.clone(), Some(&lengths), None).unwrap();
    let out = values(batch.output.clone());
    let out_w = enc.output_size();
    for (i, &len) in lengths.iter().enumerate() {
        let xi = x.clone().slice([i..i + 1, 0..len, 0..width]);
        let alone = enc.encode(xi, None, None).unwrap();
        let alone_out = values(alone.output);
        // Real steps equal the unpadded run; padded steps are zero.
        let got: Vec<f32> = out[i * t * out_w..(i * t + len) * out_w].to_vec();
        assert!(max_diff(&got, &alone_out) < 1e-5, "sequence {i}: outputs differ");
        let pad = &out[(i * t + len) * out_w..(i + 1) * t * out_w];
        assert!(pad.iter().all(|v| *v == 0.0), "sequence {i}: padded outputs are not zero");
        // Final states: every layer and direction.
        let rows = batch.state.h.dims()[0];
        let hid = batch.state.h.dims()[2];
        let h_batch = values(batch.state.h.clone().slice([0..rows, i..i + 1, 0..hid]));
        assert!(max_diff(&h_batch, &values(alone.state.h)) < 1e-5, "sequence {i}: final states differ");
        let last = values(batch.last.clone().slice([i..i + 1, 0..out_w]));
        assert!(max_diff(&last, &values(alone.last)) < 1e-5, "sequence {i}: summaries differ");
    }
}

#[test]
fn padded_steps_never_change_outputs_or_final_states() {
    let _rng = rng_lock();
    let d = device();
    d.seed(1);
    let rnn = RnnConfig::new(3, 4).with_num_layers(2).with_bidirectional(true).init(&d).unwrap();
    check_lengths_against_single(&rnn, 3, &d);
    let relu = RnnConfig::new(3, 4).with_nonlinearity(Nonlinearity::Relu).init(&d).unwrap();
    check_lengths_against_single(&relu, 3, &d);
    let gru = GruConfig::new(3, 5).with_num_layers(3).with_bidirectional(true).init(&d).unwrap();
    check_lengths_against_single(&gru, 3, &d);
}

// ------------------------------------------------------------------ directions and state

#[test]
fn the_reverse_direction_reads_the_sequence_backwards() {
    let _rng = rng_lock();
    let d = device();
    d.seed(2);
    let bi = GruConfig::new(3, 4).with_bidirectional(true).init(&d).unwrap();
    // A forward-only GRU with the reverse cell's weights, fed the time-reversed input.
    let mut uni = GruConfig::new(3, 4).init(&d).unwrap();
    uni.forward[0] = bi.reverse[0].clone();
    let x = random([2, 6, 3], &d);
    let rev_x = x.clone().flip([1]);
    let a = bi.forward(x, None, None).unwrap();
    let b = uni.forward(rev_x, None, None).unwrap();
    let rev_half = a.output.slice([0..2, 0..6, 4..8]).flip([1]);
    assert!(max_diff(&values(rev_half), &values(b.output)) < 1e-5);
    // h_n rows: forward then reverse; the reverse row is the state after t = 0.
    let h_rev = a.state.h.slice([1..2, 0..2, 0..4]);
    assert!(max_diff(&values(h_rev), &values(b.state.h)) < 1e-5);
}

#[test]
fn a_sequence_split_in_two_continues_from_the_carried_state() {
    let _rng = rng_lock();
    let d = device();
    d.seed(3);
    let rnn = RnnConfig::new(2, 6).with_num_layers(2).init(&d).unwrap();
    let x = random([3, 8, 2], &d);
    let whole = rnn.forward(x.clone(), None, None).unwrap();
    let first = rnn.forward(x.clone().slice([0..3, 0..5, 0..2]), None, None).unwrap();
    let second = rnn.forward(x.slice([0..3, 5..8, 0..2]), None, Some(first.state)).unwrap();
    assert!(max_diff(&values(whole.state.h), &values(second.state.h)) < 1e-5);
    let tail = whole.output.slice([0..3, 5..8, 0..6]);
    assert!(max_diff(&values(tail), &values(second.output)) < 1e-5);
    // A non-zero initial state changes the result.
    let h0 = RecurrentState { h: Tensor::ones([2, 3, 6], &d), c: None };
    let x = random([3, 8, 2], &d);
    let from_ones = rnn.forward(x.clone(), None, Some(h0)).unwrap();
    let from_zeros = rnn.forward(x, None, None).unwrap();
    assert!(max_diff(&values(from_ones.output), &values(from_zeros.output)) > 1e-4);
}

// ------------------------------------------------------------------ errors

fn err_text<T: std::fmt::Debug>(r: dl_core::Result<T>) -> String {
    r.expect_err("expected an error").to_string()
}

#[test]
fn invalid_configs_and_inputs_are_errors() {
    let d = device();
    assert!(err_text(RnnConfig::new(0, 4).init(&d)).contains("input_size"));
    assert!(err_text(GruConfig::new(3, 0).init(&d)).contains("hidden_size"));
    assert!(err_text(GruConfig::new(3, 4).with_num_layers(0).init(&d)).contains("num_layers"));
    assert!(err_text(RnnConfig::new(3, 4).with_dropout(0.5).init(&d)).contains("dropout"));
    assert!(err_text(RnnConfig::new(3, 4).with_num_layers(2).with_dropout(1.5).init(&d)).contains("dropout"));
    let rnn = RnnConfig::new(3, 4).with_num_layers(2).init(&d).unwrap();
    // Wrong feature width, empty sequence.
    assert!(err_text(rnn.forward(Tensor::zeros([2, 5, 4], &d), None, None)).contains("[batch >= 1, steps >= 1, 3]"));
    assert!(rnn.forward(Tensor::zeros([2, 0, 3], &d), None, None).is_err());
    // Lengths: wrong count, zero, longer than the batch.
    let x = Tensor::<3>::zeros([2, 5, 3], &d);
    assert!(err_text(rnn.forward(x.clone(), Some(&[5]), None)).contains("2 sequence lengths"));
    assert!(err_text(rnn.forward(x.clone(), Some(&[5, 0]), None)).contains("sequence 1"));
    assert!(err_text(rnn.forward(x.clone(), Some(&[6, 1]), None)).contains("1..=5"));
    // Initial states: wrong shape, or a cell state given to a network without one.
    let bad = RecurrentState { h: Tensor::zeros([1, 2, 4], &d), c: None };
    assert!(err_text(rnn.forward(x.clone(), None, Some(bad))).contains("h0"));
    let with_c = RecurrentState { h: Tensor::zeros([2, 2, 4], &d), c: Some(Tensor::zeros([2, 2, 4], &d)) };
    assert!(err_text(rnn.forward(x, None, Some(with_c))).contains("c0"));
}

#[test]
fn head_errors_name_the_problem() {
    let d = device();
    let enc = GruConfig::new(4, 6).init(&d).unwrap();
    assert!(err_text(HeadConfig::new(SequenceTask::Classify { classes: 1 }).init(enc.clone(), &d)).contains("task"));
    let model = HeadConfig::new(SequenceTask::Classify { classes: 2 }).with_vocab_size(Some(10)).init(enc, &d).unwrap();
    // A token id outside the vocabulary.
    let ids = Tensor::<2, Int>::from_data(TensorData::new(vec![1i64, 2, 10], [1, 3]), &d);
    assert!(err_text(model.forward(SequenceInput::Tokens(ids), &[3])).contains("token id `10`"));
    // Features given to a token model, then the wrong target kind.
    let feats = SequenceInput::Features(Tensor::zeros([1, 3, 4], &d));
    let batch = SequenceBatch::new(feats, vec![3], SequenceTarget::Values(Tensor::zeros([1, 1], &d))).unwrap();
    assert!(model.step(&batch).is_err());
    // A batch whose targets do not match its size.
    let feats = SequenceInput::Features(Tensor::zeros([2, 3, 4], &d));
    let t = SequenceTarget::Classes(Tensor::zeros([3], &d));
    assert!(SequenceBatch::new(feats, vec![3, 2], t).is_err());
}

// ------------------------------------------------------------------ heads learn

fn quick_cfg(epochs: usize, lr: f64) -> TrainConfig {
    TrainConfig { epochs, batch_size: 16, lr, progress: false, restore_best: false, ..TrainConfig::default() }
}

/// Class = whether token 3 occurs anywhere in the sequence (needs memory across steps).
fn token_task(n: usize, seed: u64) -> Vec<TokenSequence> {
    let mut rng = dl_core::data::split::SplitRng::new(seed);
    (0..n)
        .map(|_| {
            let len = 2 + rng.below(7);
            let ids: Vec<usize> = (0..len).map(|_| 2 + rng.below(6)).collect();
            let label = usize::from(ids.contains(&3));
            TokenSequence { ids, label }
        })
        .collect()
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
            dl_core::recurrent::heads::SeriesSequence { values, width: 2, target: vec![mean] }
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

// ------------------------------------------------------------------ save / load, backends

#[test]
fn save_load_is_bit_exact_and_rejects_other_configs() {
    let _rng = rng_lock();
    let d = device();
    d.seed(9);
    let config = SequenceModelConfig {
        encoder: GruConfig::new(3, 5).with_num_layers(2).with_bidirectional(true),
        head: HeadConfig::new(SequenceTask::Regress { outputs: 2 }),
    };
    let model = config.init(&d).unwrap();
    let dir = std::env::temp_dir().join(format!("dl-rnn-test-{}-save", std::process::id()));
    dl_core::checkpoint::save_model(&config, &model, &dir).unwrap();
    let (cfg2, loaded) = dl_core::checkpoint::load_model::<SequenceModelConfig<GruConfig>>(&dir, &d).unwrap();
    assert_eq!(cfg2, config);
    let x = random([2, 4, 3], &d);
    let a = values(model.forward(SequenceInput::Features(x.clone()), &[4, 2]).unwrap());
    let b = values(loaded.forward(SequenceInput::Features(x), &[4, 2]).unwrap());
    assert_eq!(a, b, "bit-exact");
    let other = SequenceModelConfig { encoder: GruConfig::new(3, 6), head: config.head.clone() }.init(&d).unwrap();
    let err = dl_core::checkpoint::load_weights(other, dir.join("model.bpk")).unwrap_err();
    assert!(matches!(err, Error::Checkpoint { .. }), "{err}");
}

#[test]
fn backend_conformance() {
    let _rng = rng_lock();
    let flex = device();
    flex.seed(10);
    let gru = GruConfig::new(3, 4).with_num_layers(2).with_bidirectional(true).init(&flex).unwrap();
    let x = random([2, 5, 3], &flex);
    let lengths = [5, 3];
    let reference = values(gru.forward(x.clone(), Some(&lengths), None).unwrap().output);
    for backend in Backend::compiled() {
        let d = backend.device().unwrap();
        let g = gru.clone().to_device(&d);
        let got = values(g.forward(x.clone().to_device(&d), Some(&lengths), None).unwrap().output);
        assert!(max_diff(&reference, &got) < 1e-5, "{backend}");
        assert!(check_kind_fixtures(&["rnn", "gru"], &d) >= 4, "{backend}");
        // Training on this backend lowers the loss.
        let ad = d.clone().autodiff();
        let items = token_task(64, 11);
        let cfg = SequenceModelConfig {
            encoder: RnnConfig::new(8, 12),
            head: HeadConfig::new(SequenceTask::Classify { classes: 2 }).with_vocab_size(Some(8)),
        };
        let batcher = TokenSequenceBatcher { pad_id: 0, max_len: 16 };
        let r = fit(cfg.init(&ad).unwrap(), &items, None, &batcher, &quick_cfg(3, 1e-2), &ad).unwrap();
        assert!(r.history.epochs[2].train_loss < r.history.epochs[0].train_loss, "{backend}");
    }
}

// ------------------------------------------------------------------ seq2seq

mod seq2seq {
    use super::*;
    use dl_core::recurrent::seq2seq::{
        AttentionKind, PairBatcher, PairItem, Seq2SeqConfig, Seq2SeqHeadConfig, Translator,
    };

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
        assert!(err_text(model.encode(bad, &[2]).map(|_| ())).contains("token id `12`"));
        let mut c = config(AttentionKind::Additive);
        c.decoder = GruConfig::new(32, 32);
        assert!(err_text(c.init(&d)).contains("decoder.input_size"));
        let mut c = config(AttentionKind::Additive);
        c.decoder = GruConfig::new(48, 32).with_bidirectional(true);
        assert!(err_text(c.init(&d)).contains("unidirectional"));
        let mut c = config(AttentionKind::Additive);
        c.head.teacher_forcing = 1.5;
        assert!(err_text(c.init(&d)).contains("teacher_forcing"));
        assert!(model.beam_search(&[], BOS, EOS, 3, 5, 0.0, &d).is_err());
    }
}
