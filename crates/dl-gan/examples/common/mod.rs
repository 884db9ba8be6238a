//! What the MNIST GAN examples share: the data scaled to the generator's
//! `[-1, 1]`, and the scoring classifier (dl-cnn's LeNet-5) that judges
//! generated digits.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor, TensorData};
use dl_cnn::recipes::{IDX_FILES, load_idx_dataset};
use dl_cnn::{ImageBatcher, ImageClassifier, ImageItem, LeNet5, LeNet5Config};
use dl_core::checkpoint::{load_model, save_model};
use dl_core::task::{evaluate, to_f32};
use dl_core::train::{LrSchedule, TrainConfig, fit};
use dl_core::{ModelConfig, Result};
use dl_examples::cli::CommonArgs;
use dl_gan::metrics::{ClassifierScore, classifier_score, frechet_distance};
use serde_json::json;

/// MNIST train and test images with pixels scaled to `[-1, 1]` (`(p / 255 - 0.5) / 0.5`).
pub struct Mnist {
    pub train: Vec<ImageItem>,
    pub test: Vec<ImageItem>,
    pub source: String,
}

/// Loads MNIST from the data folders; `--quick` keeps 2,048 training and 1,000 test images.
pub fn load_mnist(c: &CommonArgs) -> Result<Mnist> {
    let dir = c.data_dirs().find("mnist", &IDX_FILES)?;
    let mut d = load_idx_dataset(&dir, 255.0, 0.5, 0.5)?;
    if c.quick {
        d.train.truncate(2_048);
        d.test.truncate(1_000);
    }
    Ok(Mnist { train: d.train, test: d.test, source: d.source })
}

/// The folder beside an example's output (`--out`'s parent, else `out`), where
/// other examples keep what they made.
pub fn out_base(c: &CommonArgs) -> PathBuf {
    c.out.as_ref().and_then(|o| o.parent().map(Path::to_path_buf)).unwrap_or_else(|| PathBuf::from("out"))
}

/// Where the scoring classifier is kept, shared by every MNIST GAN example.
pub fn scorer_dir(c: &CommonArgs) -> PathBuf {
    out_base(c).join(if c.quick { "mnist_scorer_quick" } else { "mnist_scorer" })
}

/// The scoring LeNet-5: loaded from [`scorer_dir`] if trained before, else
/// trained on the `[-1, 1]` MNIST (3 epochs, Adam 2e-3 cosine) and saved.
/// Returns the model (plain device) and its test accuracy.
pub fn scorer(c: &CommonArgs, data: &Mnist, device: &Device) -> Result<(LeNet5, f64)> {
    let dir = scorer_dir(c);
    let batcher = ImageBatcher::new(1, 28, 28);
    let model = if dir.join("model.bpk").is_file() {
        let (_, m): (LeNet5Config, LeNet5) = load_model(&dir, device)?;
        m
    } else {
        eprintln!("training the scoring LeNet-5 on MNIST (once; kept in {})", dir.display());
        let ad = device.clone().autodiff();
        ad.seed(c.seed);
        let config = LeNet5Config::new();
        let cfg = TrainConfig {
            epochs: if c.quick { 1 } else { 3 },
            lr: 2e-3,
            schedule: LrSchedule::Cosine { min_lr: 2e-5 },
            seed: c.seed,
            progress: !c.no_progress,
            restore_best: false,
            ..TrainConfig::default()
        };
        let r = fit(config.init(&ad)?, &data.train, None, &batcher, &cfg, &ad)?;
        let m = r.model.valid();
        save_model(&config, &m, &dir)?;
        m
    };
    let eval = evaluate(&model, &data.test, &batcher, 256, device)?;
    Ok((model, eval.accuracy().unwrap_or(0.0)))
}

/// Class probabilities `[n * 10]` and penultimate features `[n * 84]` of flat 28x28 images.
pub fn classify(model: &LeNet5, images: &[f32], device: &Device) -> Result<(Vec<f32>, Vec<f32>)> {
    let n = images.len() / 784;
    let (mut probs, mut feats) = (Vec::with_capacity(n * 10), Vec::with_capacity(n * 84));
    for chunk in images.chunks(784 * 500) {
        let b = chunk.len() / 784;
        let x = Tensor::<4>::from_data(TensorData::new(chunk.to_vec(), [b, 1, 28, 28]), device);
        let f = model.embed(x);
        probs.extend(to_f32(softmax(model.f3.forward(f.clone()), 1))?);
        feats.extend(to_f32(f)?);
    }
    Ok((probs, feats))
}

/// A `--truncation` factor: latent codes are scaled by it, so it lies in (0, 1].
pub fn check_truncation(t: f32) -> Result<()> {
    if t > 0.0 && t <= 1.0 { Ok(()) } else { Err(dl_core::Error::out_of_range("--truncation", t, "(0, 1]")) }
}

/// Flat pixels of `items`.
pub fn pixels(items: &[ImageItem]) -> Vec<f32> {
    items.iter().flat_map(|i| i.pixels.iter().copied()).collect()
}

/// Scores generated images: confident fraction (p >= 0.9), class histogram,
/// agreement with `asked`, and the Fréchet distance of LeNet features to the
/// real test images.
pub fn score(
    model: &LeNet5,
    generated: &[f32],
    asked: Option<&[usize]>,
    real_features: &[f32],
    device: &Device,
) -> Result<(ClassifierScore, f64)> {
    let (probs, feats) = classify(model, generated, device)?;
    let s = classifier_score(&probs, 10, 0.9, asked)?;
    let fd = frechet_distance(&feats, real_features, 84)?;
    Ok((s, fd))
}

/// A score in one line: "63.4% confident, 10 classes present, Frechet 62.80".
pub fn score_line(s: &ClassifierScore, fd: f64) -> String {
    format!("{:.1}% confident, {} classes present, Frechet {fd:.2}", 100.0 * s.confident, s.classes_present)
}

/// Writes the first 100 of `images` (flat 28x28) as a 10x10 grid, each
/// captioned with the classifier's label and its probability.
pub fn captioned_grid(model: &LeNet5, images: &[f32], path: &std::path::Path, device: &Device) -> Result<()> {
    let images = &images[..images.len().min(100 * 784)];
    let (probs, _) = classify(model, images, device)?;
    let captions: Vec<String> = probs
        .chunks(10)
        .map(|p| {
            let (k, v) = p.iter().enumerate().fold((0, 0.0f32), |b, (k, &v)| if v > b.1 { (k, v) } else { b });
            format!("{k} {:.0}%", 100.0 * v)
        })
        .collect();
    let tiles: Vec<Vec<f32>> = images.chunks(784).map(<[f32]>::to_vec).collect();
    dl_core::plot::image_grid_png(path, &tiles, 28, 28, 10, 2, Some(&captions))
}

/// The JSON of a score.
pub fn score_json(s: &ClassifierScore, fd: f64) -> serde_json::Value {
    json!({
        "confident": s.confident, "classes_present": s.classes_present, "histogram": s.histogram,
        "agreement": s.agreement, "frechet_lenet": fd, "samples": s.samples,
    })
}

/// The losses the MNIST GANs train with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LossArg {
    /// The non-saturating cross-entropy game (DCGAN).
    #[value(name = "non_saturating", alias = "ns")]
    NonSaturating,
    /// Hinge loss.
    Hinge,
}

impl LossArg {
    /// The loss's name in results.
    pub fn name(self) -> String {
        dl_examples::choices::choice_name(&self)
    }
}

/// Options of the MNIST GAN training runs.
#[derive(Debug, Clone, clap::Args)]
pub struct GanArgs {
    /// Mini-batch size.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Adam learning rate of both networks (betas 0.5, 0.999).
    #[arg(long, default_value_t = 2e-4)]
    pub lr: f64,
    /// The adversarial loss.
    #[arg(long, value_enum, default_value_t = LossArg::NonSaturating)]
    pub loss: LossArg,
    /// Spectrally normalise the discriminator.
    #[arg(long)]
    pub spectral_norm: bool,
    /// Decay of the generator's weight average (0 = none).
    #[arg(long, default_value_t = 0.999)]
    pub ema: f64,
    /// One-sided label smoothing of real targets.
    #[arg(long, default_value_t = 0.0)]
    pub label_smoothing: f32,
    /// Weight of the auxiliary losses (InfoGAN codes, an auxiliary classifier).
    #[arg(long, default_value_t = 1.0)]
    pub info_weight: f64,
}

impl GanArgs {
    /// The loss named by `--loss`.
    pub fn loss(&self) -> dl_gan::GanLoss {
        match self.loss {
            LossArg::NonSaturating => dl_gan::GanLoss::NonSaturating,
            LossArg::Hinge => dl_gan::GanLoss::Hinge,
        }
    }

    /// The trainer config for `epochs` epochs writing into `out`.
    pub fn train_config(&self, c: &CommonArgs, epochs: usize, out: &Path) -> Result<dl_gan::GanTrainConfig> {
        Ok(dl_gan::GanTrainConfig {
            epochs,
            batch_size: self.batch_size,
            max_steps_per_epoch: c.quick.then_some(30),
            loss: self.loss(),
            g_lr: self.lr,
            d_lr: self.lr,
            label_smoothing: self.label_smoothing,
            ema_decay: (self.ema > 0.0).then_some(self.ema),
            seed: c.seed,
            out_dir: Some(out.to_path_buf()),
            resume: c.resume,
            progress: !c.no_progress,
            image_shape: Some([1, 28, 28]),
            fixed_samples: 64,
            info_weight: self.info_weight,
            ..dl_gan::GanTrainConfig::default()
        })
    }
}

/// Where `dcgan_mnist` keeps its trained generator (used by `inpaint` and `interpolate`).
pub fn dcgan_model_dir(c: &CommonArgs) -> PathBuf {
    out_base(c).join(if c.quick { "dcgan_mnist_quick" } else { "dcgan_mnist" }).join("model")
}

/// The trained DCGAN of `dcgan_mnist` (weight-averaged generator), or an
/// error that says which command makes it.
pub fn trained_dcgan(c: &CommonArgs, device: &Device) -> Result<(dl_gan::DcganConfig, dl_gan::Dcgan)> {
    let dir = dcgan_model_dir(c);
    if !dir.join("model.bpk").is_file() {
        let quick = if c.quick { " -- --quick" } else { "" };
        return Err(dl_core::Error::Invalid(format!(
            "no trained DCGAN in `{}`: run `cargo run -p dl-gan --release --example dcgan_mnist{quick}` first",
            dir.display()
        )));
    }
    load_model(&dir, device)
}

/// A trained MNIST DCGAN: the run's report, its sampling generator (the
/// weight average with batch-norm statistics measured again), the same before
/// that measurement, and the training seconds.
pub struct TrainedDcgan {
    pub report: dl_gan::GanReport<dl_gan::DcGenerator, dl_gan::DcDiscriminator>,
    pub generator: dl_gan::DcGenerator,
    pub averaged: dl_gan::DcGenerator,
    pub seconds: f64,
}

/// Batches of 256 codes that re-measure the sampling generator's batch-norm statistics.
pub const RECALIBRATION_BATCHES: usize = 50;

/// Trains `config` on the MNIST training digits (labelled when the config is
/// conditional) with the options of `gan`, writing the trainer's files into
/// `out`, and saves the weight-averaged generator (batch-norm statistics
/// measured again, see [`dl_gan::ema::recalibrate_batch_norm`]) with the
/// discriminator into `model_dir`.
pub fn train_dcgan(
    c: &CommonArgs,
    gan: &GanArgs,
    config: &dl_gan::DcganConfig,
    data: &Mnist,
    out: &Path,
    model_dir: &Path,
    device: &Device,
) -> Result<TrainedDcgan> {
    let train = dl_gan::GanData::from_images(&data.train, config.num_classes)?;
    train_dcgan_on(c, gan, config, &train, None, c.epochs(4), out, model_dir, device)
}

/// [`train_dcgan`] on prepared training data (with code targets, for
/// example) for `epochs` epochs, with `term` added to the generator's loss
/// if given.
#[allow(clippy::too_many_arguments)]
pub fn train_dcgan_on(
    c: &CommonArgs,
    gan: &GanArgs,
    config: &dl_gan::DcganConfig,
    train: &dl_gan::GanData,
    term: Option<&dyn dl_gan::SampleTerm>,
    epochs: usize,
    out: &Path,
    model_dir: &Path,
    device: &Device,
) -> Result<TrainedDcgan> {
    let ad = device.clone().autodiff();
    ad.seed(c.seed);
    let model = config.init(&ad)?;
    let cfg = gan.train_config(c, epochs, out)?;
    let start = std::time::Instant::now();
    let report = match term {
        Some(term) => dl_gan::train_gan_with_term(model.generator, model.discriminator, train, &cfg, &ad, term)?,
        None => dl_gan::train_gan(model.generator, model.discriminator, train, &cfg, &ad)?,
    };
    let seconds = start.elapsed().as_secs_f64();
    let averaged = report.sampler();
    let generator = dl_gan::ema::recalibrate_batch_norm(&averaged, RECALIBRATION_BATCHES, 256, c.seed + 7, device)?;
    let both = dl_gan::Dcgan { generator: generator.clone(), discriminator: report.discriminator.valid() };
    save_model(config, &both, model_dir)?;
    // The sampler alone, for those who only generate (dl_gan::pretrained ships one).
    dl_core::checkpoint::save_weights(&generator, model_dir.join("generator.bpk"))?;
    Ok(TrainedDcgan { report, generator, averaged, seconds })
}
