//! The adversarial trainer: two networks, two optimizers, one loop.
//!
//! `dl_core::train::fit` is built for one model and one loss; a GAN
//! alternates `d_steps` discriminator updates (on real data and detached
//! generated samples) with one generator update, each network with its own
//! Adam. The loop reuses dl-core's pieces: the optimizers, the per-epoch
//! seeds that make a resumed run identical, the progress bar, checkpoints,
//! JSON state and PNG charts.
//!
//! What makes it dependable:
//! - every step's losses are checked: a NaN/inf, or a discriminator loss
//!   pinned at 0 (the discriminator has won and the generator's gradient
//!   vanished) for `collapse_patience` steps, stops the run with
//!   [`dl_core::Error::Training`] naming the step, the reason and the last
//!   good checkpoint, which is never overwritten by a failing epoch;
//! - the checkpoint holds both networks, both optimizers, the weight
//!   average and the history, so `resume` continues exactly;
//! - a fixed batch of latent codes is drawn once from the seed and rendered
//!   after every epoch, so successive sample grids are comparable.
//!
//! With a discriminator that has an InfoGAN Q head ([`Discriminator::info_codes`]),
//! every generated batch gets a categorical code drawn uniformly, the generator
//! is conditioned on it, and `info_weight` times the cross-entropy of the Q
//! head's guess of the code is added to both networks' losses (Chen et al.
//! 2016: a lower bound of the mutual information between code and sample).

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::{ModuleMapper, Param};
use burn::optim::GradientsParams;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use dl_core::task::to_f32;
use serde::{Deserialize, Serialize};

use crate::data::GanData;
use crate::ema::update_average;
use crate::loss::GanLoss;
use crate::models::{Discriminator, Generator};
use dl_core::checkpoint::{load_weights, save_weights};
use dl_core::config::{check, load_json, save_json};
use dl_core::data::split::shuffled_indices;
use dl_core::plot::{Series, image_grid_png, line_chart};
use dl_core::train::fit::epoch_seed;
use dl_core::train::{OptimizerKind, progress};
use dl_core::{Error, Result};

/// Hyper-parameters of adversarial training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GanTrainConfig {
    /// Passes over the real data.
    pub epochs: usize,
    /// Real samples per discriminator step (and generated samples per step).
    pub batch_size: usize,
    /// Cap on discriminator steps per epoch (quick runs and tests); `None` = all full batches.
    pub max_steps_per_epoch: Option<usize>,
    /// Discriminator steps per generator step (`k` of Goodfellow et al.).
    pub d_steps: usize,
    /// The objective.
    pub loss: GanLoss,
    /// Generator learning rate.
    pub g_lr: f64,
    /// Discriminator learning rate.
    pub d_lr: f64,
    /// Adam's (beta1, beta2) for both networks; DCGAN's (0.5, 0.999) by default.
    pub betas: (f32, f32),
    /// One-sided label smoothing of the real target (0 = none; cross-entropy only).
    pub label_smoothing: f32,
    /// Decay of the generator's exponential moving average (`None` = no average).
    pub ema_decay: Option<f64>,
    /// Clip every discriminator weight to `[-c, c]` after each step (the original WGAN).
    pub weight_clip: Option<f32>,
    /// Steps of a discriminator loss below `collapse_floor` that count as a collapse.
    pub collapse_patience: usize,
    /// Discriminator loss under which the discriminator is considered to have won.
    pub collapse_floor: f64,
    /// Seed of initialisation (set on the device by the caller), latent codes and shuffling.
    pub seed: u64,
    /// Folder for checkpoints, CSV, curves and sample grids.
    pub out_dir: Option<PathBuf>,
    /// Continue from the checkpoint in `out_dir` if one exists.
    pub resume: bool,
    /// Show a progress bar.
    pub progress: bool,
    /// `[C, H, W]` of image samples: a grid of the fixed latent codes is written each epoch.
    pub image_shape: Option<[usize; 3]>,
    /// Number of fixed latent codes rendered each epoch (a square number reads best;
    /// conditional models get `per_class` codes per class instead).
    pub fixed_samples: usize,
    /// Points of the loss curve: one every `log_every` discriminator steps.
    pub log_every: usize,
    /// Weight of the InfoGAN code's cross-entropy (used only with a Q head).
    pub info_weight: f64,
}

impl Default for GanTrainConfig {
    fn default() -> Self {
        GanTrainConfig {
            epochs: 5,
            batch_size: 64,
            max_steps_per_epoch: None,
            d_steps: 1,
            loss: GanLoss::NonSaturating,
            g_lr: 2e-4,
            d_lr: 2e-4,
            betas: (0.5, 0.999),
            label_smoothing: 0.0,
            ema_decay: None,
            weight_clip: None,
            collapse_patience: 200,
            collapse_floor: 1e-4,
            seed: 42,
            out_dir: None,
            resume: false,
            progress: true,
            image_shape: None,
            fixed_samples: 64,
            log_every: 50,
            info_weight: 1.0,
        }
    }
}

impl GanTrainConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        let c = "GanTrainConfig";
        check::positive(c, "epochs", self.epochs)?;
        check::positive(c, "batch_size", self.batch_size)?;
        check::positive(c, "d_steps", self.d_steps)?;
        check::positive(c, "collapse_patience", self.collapse_patience)?;
        check::positive(c, "fixed_samples", self.fixed_samples)?;
        check::positive(c, "log_every", self.log_every)?;
        check::positive_f(c, "g_lr", self.g_lr)?;
        check::positive_f(c, "d_lr", self.d_lr)?;
        if !self.info_weight.is_finite() || self.info_weight < 0.0 {
            return Err(Error::config(c, "info_weight", format!("must be finite and >= 0, got {}", self.info_weight)));
        }
        if let Some(m) = self.max_steps_per_epoch {
            check::positive(c, "max_steps_per_epoch", m)?;
        }
        let (b1, b2) = self.betas;
        if !(0.0..1.0).contains(&b1) || !(0.0..1.0).contains(&b2) {
            return Err(Error::config(c, "betas", format!("must be in [0, 1), got {:?}", self.betas)));
        }
        if !(0.0..1.0).contains(&self.label_smoothing) {
            return Err(Error::config(c, "label_smoothing", "must be in [0, 1)"));
        }
        if self.label_smoothing > 0.0 && self.loss != GanLoss::NonSaturating {
            return Err(Error::config(c, "label_smoothing", "applies to the cross-entropy (non_saturating) loss only"));
        }
        if let Some(d) = self.ema_decay
            && !(0.0..1.0).contains(&d)
        {
            return Err(Error::config(c, "ema_decay", format!("must be in [0, 1), got {d}")));
        }
        if let Some(w) = self.weight_clip {
            check::positive_f(c, "weight_clip", f64::from(w))?;
        }
        if self.collapse_floor.is_nan() || self.collapse_floor < 0.0 {
            return Err(Error::config(c, "collapse_floor", "must be >= 0"));
        }
        if self.resume && self.out_dir.is_none() {
            return Err(Error::config(c, "resume", "needs out_dir (where the checkpoint is)"));
        }
        Ok(())
    }
}

/// One epoch's means.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GanEpoch {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean discriminator loss.
    pub d_loss: f64,
    /// Mean generator loss.
    pub g_loss: f64,
    /// Mean discriminator score (logit) of real samples.
    pub d_real: f64,
    /// Mean discriminator score (logit) of generated samples.
    pub d_fake: f64,
    /// Mean cross-entropy of the InfoGAN code in the generator steps (InfoGAN only).
    #[serde(default)]
    pub info_loss: Option<f64>,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// A point of the loss curve: means over `log_every` discriminator steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GanPoint {
    /// Discriminator steps so far.
    pub step: usize,
    /// Mean discriminator loss.
    pub d_loss: f64,
    /// Mean generator loss.
    pub g_loss: f64,
}

/// Everything saved beside the weights, so that `resume` continues exactly.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GanState {
    /// Last completed epoch (0 = none).
    pub epoch: usize,
    /// Discriminator steps taken.
    pub d_step: usize,
    /// Generator steps taken.
    pub g_step: usize,
    /// The run's seed.
    pub seed: u64,
    /// Per-epoch means.
    pub epochs: Vec<GanEpoch>,
    /// The loss curve.
    pub curve: Vec<GanPoint>,
}

/// The outcome of [`train_gan`].
#[derive(Debug)]
pub struct GanReport<G, D> {
    /// The trained generator (on the training device).
    pub generator: G,
    /// The trained discriminator (on the training device).
    pub discriminator: D,
    /// The generator's weight average (on the plain device), if enabled.
    pub average: Option<G>,
    /// History of the run.
    pub state: GanState,
    /// The epoch a resumed run started after.
    pub resumed_from: Option<usize>,
}

impl<G: Generator, D> GanReport<G, D> {
    /// The generator to sample from, on the plain device: the weight average if
    /// there is one, else the trained generator in inference mode.
    pub fn sampler(&self) -> G {
        self.average.clone().unwrap_or_else(|| self.generator.valid())
    }
}

struct Paths {
    dir: PathBuf,
}

impl Paths {
    fn ckpt(&self, name: &str) -> PathBuf {
        self.dir.join("checkpoint").join(name)
    }
}

/// Latent codes `[n, dim]` from N(0, 1) drawn with `seed` on `device`, so
/// that the same seed gives the same codes on every run and after a resume.
pub fn latent_codes(n: usize, dim: usize, seed: u64, device: &Device) -> Tensor<2> {
    let mut rng = dl_core::data::split::SplitRng::new(seed);
    let values: Vec<f32> = (0..n * dim).map(|_| rng.normal()).collect();
    Tensor::from_data(TensorData::new(values, [n, dim]), device)
}

/// The fixed labels of the per-epoch grid: `per_row` codes for each class, in class order.
pub fn grid_labels(num_classes: usize, per_row: usize, device: &Device) -> Tensor<1, Int> {
    let ids: Vec<i64> = (0..num_classes * per_row).map(|i| (i / per_row) as i64).collect();
    Tensor::from_data(TensorData::new(ids, [num_classes * per_row]), device)
}

/// Runs a generator in batches on its own device and returns `[n * sample_dim]` values.
pub fn sample_values<G: Generator>(
    g: &G,
    z: Tensor<2>,
    labels: Option<Tensor<1, Int>>,
    batch: usize,
) -> Result<Vec<f32>> {
    let [n, _] = z.dims();
    let mut out = Vec::with_capacity(n * g.sample_dim());
    let mut start = 0;
    while start < n {
        let end = (start + batch.max(1)).min(n);
        let zb = z.clone().narrow(0, start, end - start);
        let lb = labels.as_ref().map(|l| l.clone().narrow(0, start, end - start));
        let x = crate::models::generate(g, zb, lb)?;
        out.extend(to_f32(x)?);
        start = end;
    }
    Ok(out)
}

/// Draws the samples of `z` (and `labels`) in batches, rates each with the
/// discriminator `d`, and returns the `keep` it rates most real, in the
/// order drawn, with their row indices in `z`.
///
/// Why: a discriminator trained with the cross-entropy loss estimates
/// `log p_data(x) / p_g(x)` by its logit, so the samples it rates lowest are
/// where the generator puts mass the data lack (on MNIST, strokes between
/// two digits). Keeping the best-rated fraction is the simplest form of
/// discriminator rejection sampling (Azadi et al. 2019): better samples for
/// `1 / fraction` times the draws, from a distribution that is no longer the
/// generator's own, so it is reported beside the plain samples, not instead.
/// The discriminator gets the labels only if it is class-conditional (an
/// InfoGAN's is not: its codes go to the generator alone).
pub fn best_rated_samples<G: Generator, D: Discriminator>(
    g: &G,
    d: &D,
    z: Tensor<2>,
    labels: Option<Tensor<1, Int>>,
    keep: usize,
    batch: usize,
) -> Result<(Vec<f32>, Vec<usize>)> {
    let [n, _] = z.dims();
    if keep == 0 || keep > n {
        return Err(Error::Invalid(format!(
            "best_rated_samples: keep must be in 1..={n} (the codes drawn), got {keep}"
        )));
    }
    let width = g.sample_dim();
    let (mut values, mut rating) = (Vec::with_capacity(n * width), Vec::with_capacity(n));
    let mut start = 0;
    while start < n {
        let end = (start + batch.max(1)).min(n);
        let zb = z.clone().narrow(0, start, end - start);
        let lb = labels.as_ref().map(|l| l.clone().narrow(0, start, end - start));
        let x = crate::models::generate(g, zb, lb.clone())?;
        let dl = if d.num_classes().is_some() { lb } else { None };
        rating.extend(to_f32(crate::models::discriminate(d, x.clone(), dl)?)?);
        values.extend(to_f32(x)?);
        start = end;
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| rating[b].total_cmp(&rating[a]));
    let mut kept = order[..keep].to_vec();
    kept.sort_unstable();
    let out = kept.iter().flat_map(|&i| values[i * width..(i + 1) * width].iter().copied()).collect();
    Ok((out, kept))
}

/// Writes a grid of image samples (values in `[-1, 1]`).
pub fn save_sample_grid(path: &Path, values: &[f32], shape: [usize; 3], cols: usize) -> Result<()> {
    let [c, h, w] = shape;
    let n = c * h * w;
    if c != 1 {
        return Err(Error::Invalid(format!("save_sample_grid: grayscale images only, got {c} channels")));
    }
    let images: Vec<Vec<f32>> = values.chunks(n).map(|img| img.to_vec()).collect();
    image_grid_png(path, &images, w, h, cols, 2, None)
}

struct Clip(f32);

impl ModuleMapper for Clip {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let c = f64::from(self.0);
        param.map(|t| t.clamp(-c, c))
    }
}

fn failure(cfg: &GanTrainConfig, state: &GanState, what: String) -> Error {
    let ckpt = match (&cfg.out_dir, state.epoch) {
        (Some(dir), e) if e > 0 => {
            format!("the last good checkpoint is `{}` (epoch {e})", dir.join("checkpoint").display())
        }
        _ => "no checkpoint was written yet".to_string(),
    };
    Error::Training(format!("{what}; {ckpt}"))
}

/// Trains `g` against `d` on `data`.
///
/// `device` must have autodiff enabled and both networks must live on it;
/// seed it (`device.seed`) before building them for reproducible weights.
/// The networks must agree with the data on the sample width and on
/// conditioning. Writes into `cfg.out_dir`: `checkpoint/` (both networks,
/// both optimizers, the average, `state.json`), `metrics.csv`, `losses.png`,
/// and with `image_shape` `samples.png` plus `samples/epoch_NNN.png`.
pub fn train_gan<G, D>(g: G, d: D, data: &GanData, cfg: &GanTrainConfig, device: &Device) -> Result<GanReport<G, D>>
where
    G: Generator + 'static,
    D: Discriminator + 'static,
{
    cfg.validate()?;
    if !device.is_autodiff() {
        return Err(Error::Invalid("train_gan needs an autodiff device: pass `device.autodiff()`".into()));
    }
    if g.sample_dim() != data.dim() || d.sample_dim() != data.dim() {
        return Err(Error::shape(
            "train_gan sample width (generator, discriminator)",
            format!("{} (the data's)", data.dim()),
            format!("({}, {})", g.sample_dim(), d.sample_dim()),
        ));
    }
    let info = d.info_codes();
    if let Some(k) = info {
        if data.num_classes().is_some() || d.num_classes().is_some() || g.num_classes() != Some(k) {
            return Err(Error::Invalid(format!(
                "train_gan: an InfoGAN needs unlabelled data, an unconditional discriminator and a generator \
                 conditioned on its {k} code categories; data has {:?} classes, the generator {:?}, the \
                 discriminator {:?}",
                data.num_classes(),
                g.num_classes(),
                d.num_classes()
            )));
        }
    } else if g.num_classes() != data.num_classes() || d.num_classes() != data.num_classes() {
        return Err(Error::Invalid(format!(
            "train_gan: data has {:?} classes, the generator {:?}, the discriminator {:?}",
            data.num_classes(),
            g.num_classes(),
            d.num_classes()
        )));
    }
    // A uniform draw of InfoGAN codes for a batch of `b`.
    let draw_codes = |b: usize| {
        info.map(|k| {
            Tensor::<1>::random([b], Distribution::Uniform(0.0, k as f64), device).floor().int().clamp(0, k as i64 - 1)
        })
    };
    if let Some(s) = cfg.image_shape
        && s.iter().product::<usize>() != data.dim()
    {
        return Err(Error::shape("GanTrainConfig.image_shape", format!("{} values", data.dim()), format!("{s:?}")));
    }
    let full = data.len() / cfg.batch_size;
    if full == 0 {
        return Err(Error::Invalid(format!(
            "train_gan: {} samples are fewer than one batch of {}",
            data.len(),
            cfg.batch_size
        )));
    }
    let steps_per_epoch = cfg.max_steps_per_epoch.map_or(full, |m| m.min(full));
    let adam = OptimizerKind::Adam { betas: cfg.betas };
    let (mut g_opt, mut d_opt) = (adam.init(None), adam.init(None));
    let (mut g, mut d) = (g, d);
    let mut average = cfg.ema_decay.map(|_| g.valid());
    let mut state = GanState { seed: cfg.seed, ..GanState::default() };
    let mut resumed_from = None;
    let paths = cfg.out_dir.as_ref().map(|dir| Paths { dir: dir.clone() });

    if let Some(p) = &paths {
        std::fs::create_dir_all(p.dir.join("checkpoint")).map_err(|e| Error::io("creating", &p.dir, e))?;
        let s_path = p.ckpt("state.json");
        if cfg.resume && s_path.is_file() {
            let saved: GanState = load_json(&s_path)?;
            if saved.seed != cfg.seed {
                return Err(Error::checkpoint(
                    &s_path,
                    format!("was trained with seed {}, this run has seed {}", saved.seed, cfg.seed),
                ));
            }
            g = load_weights(g, p.ckpt("generator.bpk"))?;
            d = load_weights(d, p.ckpt("discriminator.bpk"))?;
            let (go, dop) = (p.ckpt("g_optim.bpk"), p.ckpt("d_optim.bpk"));
            g_opt = g_opt.load(&go).map_err(|e| Error::checkpoint(&go, e))?;
            d_opt = d_opt.load(&dop).map_err(|e| Error::checkpoint(&dop, e))?;
            if let Some(avg) = average.take() {
                average = Some(load_weights(avg, p.ckpt("average.bpk"))?);
            }
            resumed_from = Some(saved.epoch);
            state = saved;
        }
    }

    // The fixed latent codes of the per-epoch grid, on the plain device.
    let plain = device.clone().without_autodiff();
    let per_class = (cfg.fixed_samples as f64).sqrt().round().max(1.0) as usize;
    let (fixed_z, fixed_labels, grid_cols) = match g.num_classes() {
        Some(n) => (
            latent_codes(n * per_class, g.latent_dim(), cfg.seed ^ 0x5EED_F1ED, &plain),
            Some(grid_labels(n, per_class, &plain)),
            per_class,
        ),
        None => (latent_codes(cfg.fixed_samples, g.latent_dim(), cfg.seed ^ 0x5EED_F1ED, &plain), None, per_class),
    };

    let mut floor_run = 0usize;
    for epoch in state.epoch + 1..=cfg.epochs {
        let start = Instant::now();
        let seed = epoch_seed(cfg.seed, epoch);
        device.seed(seed);
        let order = shuffled_indices(data.len(), seed);
        let pb = progress::bar(steps_per_epoch as u64, &format!("epoch {epoch}/{}", cfg.epochs), cfg.progress);
        let (mut sum_d, mut sum_g, mut sum_real, mut sum_fake, mut n_d, mut n_g) = (0.0, 0.0, 0.0, 0.0, 0usize, 0usize);
        let (mut win_d, mut win_g, mut win_nd, mut win_ng) = (0.0, 0.0, 0usize, 0usize);
        let mut sum_info = 0.0;
        for idx in order.chunks_exact(cfg.batch_size).take(steps_per_epoch) {
            let (real, labels) = data.batch(idx, device)?;
            let b = idx.len();

            // Discriminator step: real batch and a detached generated batch.
            let z = Tensor::<2>::random([b, g.latent_dim()], Distribution::Normal(0.0, 1.0), device);
            let codes = draw_codes(b);
            let fake = g.forward(z, labels.clone().or(codes.clone())).detach();
            let real_scores = d.forward(real, labels.clone());
            let (fake_scores, fake_codes) = d.forward_info(fake, labels.clone());
            let d_loss = cfg.loss.discriminator(real_scores.clone(), fake_scores.clone(), cfg.label_smoothing);
            let d_total = match (fake_codes, codes) {
                (Some(q), Some(c)) => d_loss.clone() + code_loss(q, c).mul_scalar(cfg.info_weight),
                _ => d_loss.clone(),
            };
            let grads = GradientsParams::from_grads(d_total.backward(), &d);
            d = d_opt.step(cfg.d_lr, d, grads);
            if let Some(c) = cfg.weight_clip {
                d = d.map(&mut Clip(c));
            }
            state.d_step += 1;
            let dl = f64::from(d_loss.into_scalar::<f32>());
            let (rs, fs) = (
                f64::from(real_scores.detach().mean().into_scalar::<f32>()),
                f64::from(fake_scores.detach().mean().into_scalar::<f32>()),
            );
            if !dl.is_finite() || !rs.is_finite() || !fs.is_finite() {
                return Err(failure(
                    cfg,
                    &state,
                    format!(
                        "the discriminator loss became {dl} at step {} of epoch {epoch} (divergence)",
                        state.d_step
                    ),
                ));
            }
            floor_run = if cfg.loss.zero_means_collapse() && dl < cfg.collapse_floor { floor_run + 1 } else { 0 };
            if floor_run >= cfg.collapse_patience {
                return Err(failure(
                    cfg,
                    &state,
                    format!(
                        "the discriminator loss stayed below {} for {} steps (step {} of epoch {epoch}): the \
                         discriminator has won and the generator gets no gradient (collapse); lower the \
                         discriminator's learning rate, use label smoothing or the hinge loss with spectral norm",
                        cfg.collapse_floor, cfg.collapse_patience, state.d_step
                    ),
                ));
            }
            sum_d += dl;
            sum_real += rs;
            sum_fake += fs;
            n_d += 1;
            win_d += dl;
            win_nd += 1;

            // Generator step every d_steps discriminator steps.
            if state.d_step.is_multiple_of(cfg.d_steps) {
                let z = Tensor::<2>::random([b, g.latent_dim()], Distribution::Normal(0.0, 1.0), device);
                let codes = draw_codes(b);
                let fake = g.forward(z, labels.clone().or(codes.clone()));
                let (scores, fake_codes) = d.forward_info(fake, labels);
                let g_loss = cfg.loss.generator(scores);
                let (g_total, info_loss) = match (fake_codes, codes) {
                    (Some(q), Some(c)) => {
                        let ce = code_loss(q, c);
                        (g_loss.clone() + ce.clone().mul_scalar(cfg.info_weight), Some(ce))
                    }
                    _ => (g_loss.clone(), None),
                };
                let grads = GradientsParams::from_grads(g_total.backward(), &g);
                g = g_opt.step(cfg.g_lr, g, grads);
                state.g_step += 1;
                let gl = f64::from(g_loss.into_scalar::<f32>());
                if !gl.is_finite() {
                    return Err(failure(
                        cfg,
                        &state,
                        format!(
                            "the generator loss became {gl} at step {} of epoch {epoch} (divergence)",
                            state.d_step
                        ),
                    ));
                }
                if let (Some(avg), Some(decay)) = (average.take(), cfg.ema_decay) {
                    average = Some(update_average(avg, &g, decay));
                }
                if let Some(ce) = info_loss {
                    sum_info += f64::from(ce.into_scalar::<f32>());
                }
                sum_g += gl;
                n_g += 1;
                win_g += gl;
                win_ng += 1;
            }
            if state.d_step.is_multiple_of(cfg.log_every) {
                state.curve.push(GanPoint {
                    step: state.d_step,
                    d_loss: win_d / win_nd.max(1) as f64,
                    g_loss: if win_ng > 0 { win_g / win_ng as f64 } else { f64::NAN },
                });
                (win_d, win_g, win_nd, win_ng) = (0.0, 0.0, 0, 0);
            }
            pb.inc(1);
        }
        pb.finish_and_clear();
        let record = GanEpoch {
            epoch,
            d_loss: sum_d / n_d.max(1) as f64,
            g_loss: if n_g > 0 { sum_g / n_g as f64 } else { f64::NAN },
            d_real: sum_real / n_d.max(1) as f64,
            d_fake: sum_fake / n_d.max(1) as f64,
            info_loss: (info.is_some() && n_g > 0).then(|| sum_info / n_g as f64),
            seconds: start.elapsed().as_secs_f64(),
        };
        if cfg.progress {
            let info = record.info_loss.map(|l| format!("  code CE {l:.4}")).unwrap_or_default();
            eprintln!(
                "epoch {epoch:>3}: D loss {:.4}  G loss {:.4}  D(real) {:+.3}  D(fake) {:+.3}{info}  ({:.1}s)",
                record.d_loss, record.g_loss, record.d_real, record.d_fake, record.seconds
            );
        }
        state.epochs.push(record);
        state.epoch = epoch;

        if let Some(p) = &paths {
            save_weights(&g, p.ckpt("generator.bpk"))?;
            save_weights(&d, p.ckpt("discriminator.bpk"))?;
            let (go, dop) = (p.ckpt("g_optim.bpk"), p.ckpt("d_optim.bpk"));
            g_opt.save(&go).map_err(|e| Error::checkpoint(&go, e))?;
            d_opt.save(&dop).map_err(|e| Error::checkpoint(&dop, e))?;
            if let Some(avg) = &average {
                save_weights(avg, p.ckpt("average.bpk"))?;
            }
            save_json(&state, p.ckpt("state.json"))?;
            write_history(&state, &p.dir)?;
            if let Some(shape) = cfg.image_shape {
                let sampler = average.clone().unwrap_or_else(|| g.valid());
                let values = sample_values(&sampler, fixed_z.clone(), fixed_labels.clone(), 256)?;
                let dir = p.dir.join("samples");
                std::fs::create_dir_all(&dir).map_err(|e| Error::io("creating", &dir, e))?;
                save_sample_grid(&dir.join(format!("epoch_{epoch:03}.png")), &values, shape, grid_cols)?;
                save_sample_grid(&p.dir.join("samples.png"), &values, shape, grid_cols)?;
            }
        }
    }
    Ok(GanReport { generator: g, discriminator: d, average, state, resumed_from })
}

/// Mean cross-entropy of code logits `[B, k]` against the drawn codes `[B]`.
fn code_loss(logits: Tensor<2>, codes: Tensor<1, Int>) -> Tensor<1> {
    let [b, _] = logits.dims();
    let picked = log_softmax(logits, 1).gather(1, codes.reshape([b, 1]));
    picked.mean().neg()
}

/// Writes `metrics.csv` (per epoch) and `losses.png` (the loss curve).
pub fn write_history(state: &GanState, dir: &Path) -> Result<()> {
    let mut csv = String::from("epoch,d_loss,g_loss,d_real,d_fake,info_loss,seconds\n");
    for e in &state.epochs {
        let info = e.info_loss.map(|l| format!("{l:.6}")).unwrap_or_default();
        csv.push_str(&format!(
            "{},{:.6},{:.6},{:.6},{:.6},{info},{:.2}\n",
            e.epoch, e.d_loss, e.g_loss, e.d_real, e.d_fake, e.seconds
        ));
    }
    let path = dir.join("metrics.csv");
    std::fs::write(&path, csv).map_err(|e| Error::io("writing", &path, e))?;
    let mut points: Vec<(usize, f64, f64)> = state.curve.iter().map(|p| (p.step, p.d_loss, p.g_loss)).collect();
    if points.len() < 2 {
        // Short runs: plot the epoch means instead.
        points = state.epochs.iter().map(|e| (e.epoch, e.d_loss, e.g_loss)).collect();
    }
    let series = vec![
        Series::new("discriminator", points.iter().map(|p| (p.0 as f64, p.1)).collect()),
        Series::new("generator", points.iter().map(|p| (p.0 as f64, p.2)).collect()),
    ];
    let x_label = if state.curve.len() < 2 { "epoch" } else { "discriminator step" };
    line_chart(&dir.join("losses.png"), "GAN losses", x_label, "loss", &series, false)
}
