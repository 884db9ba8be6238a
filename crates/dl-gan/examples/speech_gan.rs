//! Speech generation: a conditional SpecGAN asked for a spoken digit, its
//! spectrograms turned into 8 kHz audio by Griffin-Lim and scored by the
//! `spoken_digits` CNN. Images, scoring, outputs and results: docs/gan.md,
//! "Spoken digits from a conditional SpecGAN".
//!
//! `cargo run -p dl-gan --release --example speech_gan -- [--epochs N] [--aux-classifier [--aux-real-only]] [--augment-shift 8 --augment-cutout 0.25] [--truncation 0.5] [--quick]`

mod common;

use std::path::PathBuf;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use clap::Parser;
use common::GanArgs;
use dl_cnn::audio::{Spectrogram, SpectrogramConfig, Wav, normalize_per_utterance, write_wav};
use dl_cnn::utterances::{Clip, read_fsdd_split};
use dl_cnn::vocoder::{BinScaler, GriffinLimConfig, LogMagnitude, StftConfig};
use dl_cnn::{ImageClassifier, SpectrogramCnnConfig, Vgg};
use dl_core::checkpoint::{load_model, save_model};
use dl_core::task::to_f32;
use dl_core::{Error, ModelConfig, Result};
use dl_examples::cli::{CommonArgs, run_example};
use dl_gan::augment::Augment;
use dl_gan::metrics::{ClassifierScore, classifier_score, frechet_distance};
use dl_gan::sampling::{grid_labels, latent_codes, sample_values};
use dl_gan::{SpecGan, SpecGanConfig};
use serde_json::json;

const RATE: u32 = 8000;
const FRAMES: usize = 64;

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    gan: GanArgs,
    /// Channels of the largest generator feature maps; the smaller have 2, 4 and 8 times as many.
    #[arg(long, default_value_t = 16)]
    base_channels: usize,
    /// Generated clips per digit scored.
    #[arg(long, default_value_t = 100)]
    per_class: usize,
    /// Griffin-Lim iterations per clip.
    #[arg(long, default_value_t = 64)]
    griffin_lim: usize,
    /// Give the discriminator an auxiliary classifier (AC-GAN) that names the digit.
    #[arg(long)]
    aux_classifier: bool,
    /// The auxiliary classifier learns from real clips only (not from generated ones).
    #[arg(long, requires = "aux_classifier")]
    aux_real_only: bool,
    /// Move each clip the discriminator judges, real and generated, by up to
    /// this many frames in time (DiffAugment; 0 = no move).
    #[arg(long, default_value_t = 0)]
    augment_shift: usize,
    /// Zero a rectangle of this fraction of the bins and frames in each clip
    /// the discriminator judges (DiffAugment's cutout; 0 = none).
    #[arg(long, default_value_t = 0.0)]
    augment_cutout: f32,
    /// Scale the scored clips' latent codes by this factor (< 1: the
    /// truncation trick, clearer clips for less variety; 1 = none).
    #[arg(long, default_value_t = 1.0)]
    truncation: f32,
}

fn main() {
    let args = Args::parse();
    run_example(|| run(&args));
}

/// The framing of the GAN's images.
fn stft_config() -> StftConfig {
    StftConfig { frame_len: 256, hop: 96, n_fft: 256 }
}

/// The scoring CNN's features: `spoken_digits`' 40 x 96 log-mel spectrogram.
fn scorer_features() -> SpectrogramConfig {
    SpectrogramConfig { frame_len: 256, hop: 64, n_fft: 256, n_mels: 40, sample_rate: RATE, frames: 96 }
}

/// Where `spoken_digits` keeps its model.
fn scorer_dir(c: &CommonArgs) -> PathBuf {
    common::out_base(c).join("spoken_digits").join("model")
}

/// The trained `spoken_digits` CNN, or an error naming the command that makes it.
fn scorer(c: &CommonArgs, device: &Device) -> Result<Vgg> {
    let dir = scorer_dir(c);
    if !dir.join("model.bpk").is_file() {
        return Err(Error::Invalid(format!(
            "no spoken-digit classifier in `{}`: run `cargo run -p dl-cnn --release --example spoken_digits` first",
            dir.display()
        )));
    }
    let (_, model): (SpectrogramCnnConfig, Vgg) = load_model(&dir, device)?;
    Ok(model)
}

/// Class probabilities `[n * 10]` and pooled features `[n * 64]` of waveforms.
fn classify(model: &Vgg, clips: &[Vec<f32>], device: &Device) -> Result<(Vec<f32>, Vec<f32>)> {
    let spectrogram = Spectrogram::new(&scorer_features())?;
    let (mut probs, mut feats) = (Vec::new(), Vec::new());
    for chunk in clips.chunks(256) {
        let mut x = Vec::with_capacity(chunk.len() * 40 * 96);
        for samples in chunk {
            let mut f = spectrogram.compute(&Wav { sample_rate: RATE, samples: samples.clone() })?;
            normalize_per_utterance(&mut f);
            x.extend(f);
        }
        let x = Tensor::<4>::from_data(TensorData::new(x, [chunk.len(), 1, 40, 96]), device);
        probs.extend(to_f32(burn::tensor::activation::softmax(model.forward(x.clone()), 1))?);
        feats.extend(to_f32(model.embed(x))?);
    }
    Ok((probs, feats))
}

/// Waveforms of scaled images by Griffin-Lim, on both cores.
fn waveforms(images: &[Vec<f32>], repr: &LogMagnitude, scaler: &BinScaler, iterations: usize) -> Result<Vec<Vec<f32>>> {
    let one = |(i, image): (usize, &Vec<f32>)| {
        let mut log = image.clone();
        scaler.unscale(&mut log)?;
        repr.waveform(&log, &GriffinLimConfig { iterations, seed: i as u64, ..GriffinLimConfig::default() })
    };
    let half = images.len().div_ceil(2);
    std::thread::scope(|s| {
        let second = s.spawn(|| images.iter().enumerate().skip(half).map(one).collect::<Result<Vec<_>>>());
        let mut out = images.iter().enumerate().take(half).map(one).collect::<Result<Vec<_>>>()?;
        out.extend(second.join().map_err(|_| Error::Invalid("Griffin-Lim thread panicked".into()))??);
        Ok(out)
    })
}

/// An 8 kHz clip scaled to a peak of 0.9, so that the 16-bit file does not clip.
fn wav_file(samples: &[f32]) -> Wav {
    let peak = samples.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-6);
    Wav { sample_rate: RATE, samples: samples.iter().map(|v| v * 0.9 / peak).collect() }
}

fn score_json(s: &ClassifierScore, fd: f64) -> serde_json::Value {
    json!({
        "asked_and_p_ge_0_9": s.confident_agreement, "asked": s.agreement, "confident": s.confident,
        "classes_present": s.classes_present, "frechet_cnn": fd, "clips": s.samples,
    })
}

fn run(args: &Args) -> Result<serde_json::Value> {
    let c = &args.common;
    let start = std::time::Instant::now();
    dl_core::config::check::positive("speech_gan", "--per-class", args.per_class)?;
    dl_core::config::check::positive("speech_gan", "--base-channels", args.base_channels)?;
    GriffinLimConfig { iterations: args.griffin_lim, ..GriffinLimConfig::default() }.validate()?;
    common::check_truncation(args.truncation)?;
    let augment = (args.augment_shift > 0 || args.augment_cutout != 0.0)
        .then_some(Augment { shift: args.augment_shift, cutout: args.augment_cutout });
    if let Some(a) = &augment {
        a.validate([1, stft_config().n_fft / 2, FRAMES])?;
    }
    let dir = c.data_dirs().find("fsdd", &["train.tar.gz", "test.tar.gz"])?;
    let mut train = read_fsdd_split(dir.join("train.tar.gz"))?;
    let test = read_fsdd_split(dir.join("test.tar.gz"))?;
    if c.quick {
        train.truncate(640);
    }
    let device = c.device()?;
    let classifier = scorer(c, &device)?;
    let out = c.out_dir(if c.quick { "speech_gan_quick" } else { "speech_gan" })?;

    // Images: log-magnitudes, each frequency row standardised into [-1, 1].
    let repr = LogMagnitude::new(&stft_config(), FRAMES)?;
    let (bins, dim) = (repr.bins(), repr.bins() * FRAMES);
    let image = |clip: &Clip| repr.image(&clip.wav.samples);
    let train_images: Vec<Vec<f32>> = train.iter().map(image).collect();
    let scaler = BinScaler::fit(&train_images, bins, FRAMES, 3.0)?;
    let scaled = |mut v: Vec<f32>| scaler.scale(&mut v).map(|_| v);
    let train_images: Vec<Vec<f32>> = train_images.into_iter().map(scaled).collect::<Result<_>>()?;
    let test_images: Vec<Vec<f32>> = test.iter().map(|clip| scaled(image(clip))).collect::<Result<_>>()?;
    let data =
        dl_gan::GanData::new(train_images.concat(), dim, Some((train.iter().map(|clip| clip.digit).collect(), 10)))?;

    // Train.
    let b = args.base_channels;
    let config = SpecGanConfig::new()
        .with_bins(bins)
        .with_frames(FRAMES)
        .with_channels(vec![8 * b, 4 * b, 2 * b, b])
        .with_spectral_norm(args.gan.spectral_norm)
        .with_auxiliary_classifier(args.aux_classifier);
    let ad = device.clone().autodiff();
    ad.seed(c.seed);
    let model = config.init(&ad)?;
    let mut cfg = args.gan.train_config(c, c.epochs(100), &out)?;
    cfg.image_shape = Some([1, bins, FRAMES]);
    cfg.fixed_samples = 10;
    cfg.classify_generated = !args.aux_real_only;
    cfg.augment = augment;
    let trained_at = std::time::Instant::now();
    let report = dl_gan::train_gan(model.generator, model.discriminator, &data, &cfg, &ad)?;
    let train_secs = trained_at.elapsed().as_secs_f64();
    let g = dl_gan::ema::recalibrate_batch_norm(&report.sampler(), 50, 256, c.seed + 7, &device)?;
    let model_dir = out.join("model");
    save_model(&config, &SpecGan { generator: g.clone(), discriminator: report.discriminator.valid() }, &model_dir)?;
    dl_core::config::save_json(&scaler, model_dir.join("scaler.json"))?;

    // Score audio: real test clips, the same through images + Griffin-Lim, generated clips.
    let gl = args.griffin_lim;
    let per = if c.quick { 20 } else { args.per_class };
    let test_digits: Vec<usize> = test.iter().map(|clip| clip.digit).collect();
    let test_wavs: Vec<Vec<f32>> = test.iter().map(|clip| clip.wav.samples.clone()).collect();
    let train_wavs: Vec<Vec<f32>> = train.iter().map(|clip| clip.wav.samples.clone()).collect();
    let (real_probs, real_feats) = classify(&classifier, &test_wavs, &device)?;
    let (_, train_feats) = classify(&classifier, &train_wavs, &device)?;
    let real = classifier_score(&real_probs, 10, 0.9, Some(&test_digits))?;
    let vocoded_wavs = waveforms(&test_images, &repr, &scaler, gl)?;
    let (voc_probs, voc_feats) = classify(&classifier, &vocoded_wavs, &device)?;
    let vocoded = classifier_score(&voc_probs, 10, 0.9, Some(&test_digits))?;

    let asked: Vec<usize> = (0..10 * per).map(|i| i / per).collect();
    let z = latent_codes(10 * per, config.latent_dim, c.seed + 1, &device) * args.truncation;
    let generated = sample_values(&g, z, Some(grid_labels(10, per, &device)), 250)?;
    let generated: Vec<Vec<f32>> = generated.chunks(dim).map(<[f32]>::to_vec).collect();
    let gen_wavs = waveforms(&generated, &repr, &scaler, gl)?;
    let (gen_probs, gen_feats) = classify(&classifier, &gen_wavs, &device)?;
    let generated_score = classifier_score(&gen_probs, 10, 0.9, Some(&asked))?;
    let per_class: Vec<f64> = (0..10)
        .map(|k| {
            let hit = (k * per..(k + 1) * per)
                .filter(|&i| {
                    let row = &gen_probs[i * 10..(i + 1) * 10];
                    row[k] >= 0.9
                })
                .count();
            hit as f64 / per as f64
        })
        .collect();
    let fd = |f: &[f32]| frechet_distance(f, &real_feats, 64);
    let (fd_train, fd_voc, fd_gen) = (fd(&train_feats)?, fd(&voc_feats)?, fd(&gen_feats)?);

    // Listen and look: two generated WAVs per digit and one real test clip
    // through Griffin-Lim (each scaled to a peak of 0.9); spectrograms with
    // low frequencies at the bottom.
    let wav_dir = out.join("wav");
    std::fs::create_dir_all(&wav_dir).map_err(|e| Error::io("create", &wav_dir, e))?;
    let flip = |v: &[f32]| v.chunks(FRAMES).rev().flatten().copied().collect::<Vec<f32>>();
    let mut tiles = Vec::new();
    for k in 0..10 {
        let r =
            test_digits.iter().position(|&d| d == k).ok_or_else(|| Error::Invalid(format!("no test clip of {k}")))?;
        write_wav(wav_dir.join(format!("real_{k}_griffin_lim.wav")), &wav_file(&vocoded_wavs[r]))?;
        tiles.push(flip(&test_images[r]));
        for j in 0..per.min(5) {
            let i = k * per + j;
            if j < 2 {
                write_wav(wav_dir.join(format!("generated_{k}_{j}.wav")), &wav_file(&gen_wavs[i]))?;
            }
            tiles.push(flip(&generated[i]));
        }
    }
    dl_core::plot::image_grid_png(&out.join("spectrograms.png"), &tiles, FRAMES, bins, 1 + per.min(5), 2, None)?;

    println!(
        "generated clips named as asked with p >= 0.9: {:.1}% (per digit {})",
        100.0 * generated_score.confident_agreement.unwrap_or(0.0),
        per_class.iter().map(|a| format!("{:.0}%", 100.0 * a)).collect::<Vec<_>>().join(" ")
    );
    println!(
        "real test clips: {:.1}%; through images + Griffin-Lim: {:.1}%",
        100.0 * real.confident_agreement.unwrap_or(0.0),
        100.0 * vocoded.confident_agreement.unwrap_or(0.0)
    );
    println!(
        "Frechet distance to the real test clips: generated {fd_gen:.2}, Griffin-Lim {fd_voc:.2}, real training clips {fd_train:.2}"
    );
    Ok(json!({
        "example": "speech_gan",
        "train_clips": train.len(),
        "test_clips": test.len(),
        "image": format!("{bins}x{FRAMES} log-magnitude, frame 256, hop 96, rows standardised, clip 3 std"),
        "base_channels": b,
        "loss": args.gan.loss.name(),
        "spectral_norm": args.gan.spectral_norm,
        "auxiliary_classifier": args.aux_classifier,
        "auxiliary_classifier_real_only": args.aux_real_only,
        "augment": augment,
        "epochs": report.state.epoch,
        "generator_steps": report.state.g_step,
        "train_seconds": train_secs,
        "griffin_lim_iterations": gl,
        "truncation": args.truncation,
        "generated": score_json(&generated_score, fd_gen),
        "generated_per_digit_asked_and_p_ge_0_9": per_class,
        "real_test": score_json(&real, 0.0),
        "real_test_through_griffin_lim": score_json(&vocoded, fd_voc),
        "frechet_real_train_to_test": fd_train,
        "seconds": start.elapsed().as_secs_f64(),
        "out": out.display().to_string(),
    }))
}
