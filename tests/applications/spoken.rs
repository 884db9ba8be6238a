//! The CTC speech models of `spoken_sequences` on utterances composed from
//! ten synthetic "words" (a tone per digit): each encoder learns to read a
//! handful exactly, a saved model reads as before, and inputs it cannot
//! read are errors.

use burn::module::Module;
use dl_cnn::audio::{Spectrogram, SpectrogramConfig, Wav};
use dl_cnn::utterances::{Clip, Utterance, UtteranceConfig};
use dl_core::testing::{device, max_diff, rng_lock, temp_dir, values};
use dl_core::train::{TrainConfig, fit};
use dl_core::{Batcher, Error, ModelConfig, Supervised};
use dl_families::speech::{SpeechBatch, SpeechBatcher, SpeechCtc, SpeechCtcConfig, SpeechEncoderKind};

/// Ten 0.2 s clips at 8 kHz: digit `d` is a tone at 400 + 300 d Hz.
fn clips() -> Vec<Clip> {
    (0..10)
        .map(|d| {
            let f = 400.0 + 300.0 * d as f32;
            let samples = (0..1600).map(|i| 0.5 * (std::f32::consts::TAU * f * i as f32 / 8000.0).sin()).collect();
            Clip { wav: Wav { sample_rate: 8000, samples }, digit: d, speaker: "tone".into(), take: 0 }
        })
        .collect()
}

fn layout() -> UtteranceConfig {
    UtteranceConfig::new().with_min_digits(2).with_max_digits(4).with_max_gap(0.1).with_max_edge(0.05)
}

fn features() -> Spectrogram {
    Spectrogram::new(&SpectrogramConfig {
        frame_len: 200,
        hop: 80,
        n_fft: 256,
        n_mels: 16,
        sample_rate: 8000,
        frames: 1,
    })
    .unwrap()
}

fn small(kind: SpeechEncoderKind) -> SpeechCtcConfig {
    SpeechCtcConfig::new(16, kind).with_width(32).with_layers(1).with_channels(vec![8, 8]).with_dropout(0.0)
}

const KINDS: [SpeechEncoderKind; 3] =
    [SpeechEncoderKind::BiLstm, SpeechEncoderKind::Transformer, SpeechEncoderKind::CnnBiLstm];

#[test]
fn each_encoder_learns_to_read_a_handful_of_utterances() {
    let _rng = rng_lock();
    let (clips, layout, feats) = (clips(), layout(), features());
    let pool: Vec<usize> = (0..10).collect();
    let utterances: Vec<Utterance> = (0..12).map(|i| layout.plan(&pool, &clips, 5, i).unwrap()).collect();
    let batcher = SpeechBatcher { layout: &layout, clips: &clips, features: &feats };
    for kind in KINDS {
        let d = device().autodiff();
        d.seed(3);
        let cfg = TrainConfig {
            epochs: 150,
            batch_size: 4,
            lr: 1e-2,
            progress: false,
            restore_best: false,
            ..Default::default()
        };
        let report = fit(small(kind).init(&d).unwrap(), &utterances, None, &batcher, &cfg, &d).unwrap();
        let first = report.history.epochs[0].train_loss;
        let last = report.history.epochs.last().unwrap().train_loss;
        assert!(last < 0.05 * first, "{kind:?}: the CTC loss fell from {first} to {last} only");
        let model = report.model.valid();
        let plain = d.clone().without_autodiff();
        let all: Vec<&Utterance> = utterances.iter().collect();
        let batch = batcher.batch(&all, &plain).unwrap();
        let read = model.read(batch.features, &batch.frames, &[1, 4]).unwrap();
        assert_eq!(read, vec![batch.labels.clone(), batch.labels], "{kind:?}");
    }
}

#[test]
fn a_saved_speech_model_reads_exactly_as_before() {
    let _rng = rng_lock();
    let d = device();
    let (clips, layout, feats) = (clips(), layout(), features());
    let pool: Vec<usize> = (0..10).collect();
    let u: Vec<Utterance> = (0..3).map(|i| layout.plan(&pool, &clips, 1, i).unwrap()).collect();
    let batch = SpeechBatcher { layout: &layout, clips: &clips, features: &feats }
        .batch(&u.iter().collect::<Vec<_>>(), &d)
        .unwrap();
    for kind in KINDS {
        let model = small(kind).init(&d).unwrap();
        let dir = temp_dir("dl-families", &format!("speech_save_{kind:?}"));
        dl_core::checkpoint::save_model(&small(kind), &model, &dir).unwrap();
        let (_, loaded): (SpeechCtcConfig, SpeechCtc) = dl_core::checkpoint::load_model(&dir, &d).unwrap();
        let (a, steps_a) = model.forward(batch.features.clone(), &batch.frames).unwrap();
        let (b, steps_b) = loaded.forward(batch.features.clone(), &batch.frames).unwrap();
        assert_eq!(steps_a, steps_b);
        assert_eq!(max_diff(&values(a), &values(b)), 0.0, "{kind:?}");
    }
}

#[test]
fn padding_does_not_change_a_reading() {
    let _rng = rng_lock();
    let d = device();
    let (clips, layout, feats) = (clips(), layout(), features());
    let pool: Vec<usize> = (0..10).collect();
    let batcher = SpeechBatcher { layout: &layout, clips: &clips, features: &feats };
    // Find a short and a long utterance: the short one is padded in a batch with the long one.
    let u: Vec<Utterance> = (0..20).map(|i| layout.plan(&pool, &clips, 2, i).unwrap()).collect();
    let short = u.iter().min_by_key(|u| u.len).unwrap();
    let long = u.iter().max_by_key(|u| u.len).unwrap();
    assert!(long.len > short.len + 2_000);
    for kind in [SpeechEncoderKind::BiLstm, SpeechEncoderKind::Transformer] {
        let model = small(kind).init(&d).unwrap();
        let alone = batcher.batch(&[short], &d).unwrap();
        let padded = batcher.batch(&[short, long], &d).unwrap();
        let (a, steps) = model.forward(alone.features, &alone.frames).unwrap();
        let (b, _) = model.forward(padded.features, &padded.frames).unwrap();
        let t = steps[0];
        let a = values(a.narrow(1, 0, t));
        let b = values(b.narrow(0, 0, 1).narrow(1, 0, t));
        assert!(max_diff(&a, &b) < 1e-5, "{kind:?}: {}", max_diff(&a, &b));
    }
}

#[test]
fn what_a_speech_model_cannot_read_is_an_error() {
    let _rng = rng_lock();
    let d = device();
    let model = small(SpeechEncoderKind::BiLstm).init(&d).unwrap();
    let zeros = |n, t, m| burn::tensor::Tensor::<3>::zeros([n, t, m], &d);
    // Another number of mel bands, fewer frames than a step, lengths that do not fit.
    assert!(matches!(model.forward(zeros(1, 30, 20), &[30]), Err(Error::Shape { .. })));
    assert!(matches!(model.forward(zeros(1, 2, 16), &[2]), Err(Error::Shape { .. })));
    assert!(matches!(model.forward(zeros(2, 30, 16), &[30]), Err(Error::Shape { .. })));
    assert!(matches!(model.forward(zeros(1, 30, 16), &[31]), Err(Error::Shape { .. })));
    // A label past the classes, and more labels than 10 steps can emit.
    let batch = SpeechBatch { features: zeros(1, 30, 16), frames: vec![30], labels: vec![vec![10]] };
    assert!(model.step(&batch).unwrap_err().to_string().contains("targets[0]"));
    let batch = SpeechBatch { features: zeros(1, 30, 16), frames: vec![30], labels: vec![vec![1; 6]] };
    assert!(model.step(&batch).unwrap_err().to_string().contains("at least 11 steps"));
    // Configs that cannot be built.
    let cnn = SpeechEncoderKind::CnnBiLstm;
    assert!(SpeechCtcConfig::new(2, cnn).with_channels(vec![4, 4]).validate().is_err());
    assert!(SpeechCtcConfig::new(16, cnn).with_channels(vec![]).validate().is_err());
    assert!(SpeechCtcConfig::new(16, SpeechEncoderKind::Transformer).with_width(30).validate().is_err());
    assert!(small(SpeechEncoderKind::BiLstm).with_stack(0).validate().is_err());
    assert!(small(SpeechEncoderKind::BiLstm).with_dropout(1.5).validate().is_err());
}
