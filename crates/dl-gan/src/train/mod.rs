//! The adversarial trainer: `d_steps` discriminator updates, then one
//! generator update, each network with its own optimizer; every step's
//! losses checked (NaN, a discriminator that has won) when they are read
//! back, every `log_every` steps; a checkpoint of both
//! networks, both optimizers and the weight average for exact resume, and a
//! fixed batch of latent codes rendered after every epoch. With an InfoGAN Q
//! head, the code's cross-entropy joins both losses (docs/gan.md).

mod config;
pub mod hooks;
mod state;
mod term;

pub use config::GanTrainConfig;
pub use hooks::{EpochEnd, GanHook, default_hooks};
pub use state::{GanEpoch, GanPoint, GanState};
pub use term::SampleTerm;

use std::ops::Range;
use std::path::Path;
use std::time::Instant;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Distribution, Int, Tensor};

use dl_core::checkpoint::{load_optimizer, load_weights, save_optimizer, save_weights};
use dl_core::data::split::shuffled_indices;
use dl_core::train::checkpointer::Checkpointer;
use dl_core::train::fit::epoch_seed;
use dl_core::train::parallel;
use dl_core::train::{OptimizerKind, progress};
use dl_core::{Error, Result};

use crate::augment::Draw;
use crate::data::GanData;
use crate::ema::update_average;
use crate::models::{Discriminator, Generator, Judgement};

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

struct Clip(f32);

impl ModuleMapper for Clip {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let c = f64::from(self.0);
        param.map(|t| t.clamp(-c, c))
    }
}

/// Initialises every parameter it visits.
struct Initialise;

impl ModuleVisitor for Initialise {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let _ = param.val();
    }
}

/// A copy of `m` with its weights frozen (no gradient is recorded for
/// them), sharing its running state. Parameters are initialised first: on a
/// parameter still lazily uninitialised, burn's `no_grad` would set the
/// lazy state that the copy shares with `m`, freezing `m` too.
fn frozen<M: Module>(m: &M) -> M {
    m.visit(&mut Initialise);
    m.clone().no_grad()
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

/// The two networks, their optimizers and the generator's weight average:
/// what a checkpoint holds.
struct Players<G, D> {
    g: G,
    d: D,
    g_opt: ModuleOptimizer,
    d_opt: ModuleOptimizer,
    average: Option<G>,
}

impl<G: Generator, D: Discriminator> Players<G, D> {
    fn save(&self, folder: &Path) -> Result<()> {
        save_weights(&self.g, folder.join("generator.bpk"))?;
        save_weights(&self.d, folder.join("discriminator.bpk"))?;
        save_optimizer(&self.g_opt, folder.join("g_optim.bpk"))?;
        save_optimizer(&self.d_opt, folder.join("d_optim.bpk"))?;
        if let Some(avg) = &self.average {
            save_weights(avg, folder.join("average.bpk"))?;
        }
        Ok(())
    }

    fn load(self, folder: &Path) -> Result<Self> {
        let (go, dop) = (folder.join("g_optim.bpk"), folder.join("d_optim.bpk"));
        Ok(Players {
            g: load_weights(self.g, folder.join("generator.bpk"))?,
            d: load_weights(self.d, folder.join("discriminator.bpk"))?,
            g_opt: load_optimizer(self.g_opt, &go)?,
            d_opt: load_optimizer(self.d_opt, &dop)?,
            average: match self.average {
                Some(avg) => Some(load_weights(avg, folder.join("average.bpk"))?),
                None => None,
            },
        })
    }
}

/// A step's figures still on the device: the discriminator's loss, D(real)
/// and D(fake), or the generator's loss, its code or class loss and its
/// sample term, each if any. They are read back every `log_every`
/// discriminator steps, all at once.
struct PendingStep {
    /// The discriminator step it belongs to (for a generator step: the one before it).
    d_step: usize,
    generator: bool,
    /// Whether a generator step's last figure is its sample term.
    term: bool,
    figures: Vec<Tensor<1>>,
}

/// Figures of one discriminator step.
struct DiscriminatorStep {
    loss: f64,
    real: f64,
    fake: f64,
}

/// Figures of one generator step.
struct GeneratorStep {
    loss: f64,
    info: Option<f64>,
    term: Option<f64>,
}

/// What every step of a run shares: the config, the devices (the first
/// holds the networks), the draw of InfoGAN categorical codes (`None` for
/// other GANs), the number of continuous codes and the generator's sample
/// term, if any.
struct Game<'a> {
    cfg: &'a GanTrainConfig,
    device: &'a Device,
    devices: &'a [Device],
    codes: &'a (dyn Fn(usize) -> Option<Tensor<1, Int>> + Sync),
    continuous: usize,
    term: Option<&'a dyn SampleTerm>,
}

/// The loss to differentiate and the figures of one shard of a step, each a
/// mean over the shard's rows.
struct ShardTerms {
    total: Tensor<1>,
    figures: Vec<Tensor<1>>,
}

/// A frozen network on `device` (itself where it lives there already).
fn on_device<M: Module>(still: M, device: &Device) -> M {
    if still.devices().first() == Some(device) { still } else { still.fork(device) }
}

/// Rows `rows` of `t` on `device` (`t` itself for the whole batch on its own device).
fn shard_rows<const N: usize, K: burn::tensor::kind::Basic>(
    t: &Tensor<N, K>,
    rows: &Range<usize>,
    device: &Device,
) -> Tensor<N, K> {
    if rows.start == 0 && rows.end == t.dims()[0] && t.device() == *device {
        return t.clone();
    }
    t.clone().narrow(0, rows.start, rows.len()).to_device(device)
}

impl Game<'_> {
    /// The gradients of `net` for a batch of `b` rows split across the
    /// devices ([`dl_core::train::parallel`]): `terms` computes one shard's
    /// loss with `net`'s replica and the frozen `other` network on its device;
    /// each shard's gradients and figures are weighted by its share of the
    /// rows and summed on the first device. With one device, `terms` runs once
    /// on the whole batch.
    fn sharded<M, O, F>(&self, net: &M, other: &O, b: usize, terms: F) -> Result<(GradientsParams, Vec<Tensor<1>>)>
    where
        M: Module,
        O: Module,
        F: Fn(M, O, &Range<usize>, &Device) -> Result<ShardTerms> + Sync,
    {
        let rows: Vec<usize> = (0..b).collect();
        let parts: Vec<Range<usize>> =
            parallel::shards(&rows, self.devices.len()).into_iter().map(|s| s[0]..s[0] + s.len()).collect();
        let run =
            |replica: M, other: O, part: &Range<usize>, device: &Device| -> Result<(GradientsParams, Vec<Tensor<1>>)> {
                let terms = terms(replica.clone(), other, part, device)?;
                let grads = GradientsParams::from_grads(terms.total.backward(), &replica);
                Ok((grads, terms.figures))
            };
        if parts.len() == 1 {
            return run(net.clone(), other.clone(), &parts[0], self.device);
        }
        let jobs: Vec<(M, O, &Range<usize>, &Device)> =
            parts.iter().zip(self.devices).map(|(part, device)| (net.clone(), other.clone(), part, device)).collect();
        let done = parallel::run_each(jobs, |(replica, other, part, device)| {
            run(replica.fork(device), on_device(other, device), part, device)
        })?;
        let mut figures: Vec<Tensor<1>> = Vec::new();
        let mut grads = Vec::with_capacity(done.len());
        for ((shard_grads, shard_figures), part) in done.into_iter().zip(&parts) {
            let share = part.len() as f64 / b as f64;
            let weighted = shard_figures.into_iter().map(|f| f.to_device(self.device).mul_scalar(share));
            figures = if figures.is_empty() {
                weighted.collect()
            } else {
                figures.into_iter().zip(weighted).map(|(a, x)| a + x).collect()
            };
            grads.push((shard_grads, share));
        }
        Ok((parallel::weighted_sum(net, self.device, grads), figures))
    }

    /// The augmentation draws of a batch of `b` on the first device (`None` without augmentation).
    fn augment_draw(&self, b: usize) -> Option<Draw> {
        Some(self.cfg.augment?.draw(b, self.cfg.image_shape?, self.device))
    }

    /// Samples `x` of rows `rows` augmented as `draw` says (`x` itself without augmentation).
    fn augment(&self, x: Tensor<2>, draw: &Option<Draw>, rows: &Range<usize>, device: &Device) -> Tensor<2> {
        match (self.cfg.augment, self.cfg.image_shape, draw) {
            (Some(a), Some(shape), Some(draw)) => a.apply(x, shape, &draw.rows(rows, device)),
            _ => x,
        }
    }

    /// Latent codes `[b, dim]`: the continuous codes uniform in [-1, 1], the rest N(0, 1).
    fn latent(&self, b: usize, dim: usize) -> Tensor<2> {
        let z = Tensor::<2>::random([b, dim - self.continuous], Distribution::Normal(0.0, 1.0), self.device);
        if self.continuous == 0 {
            return z;
        }
        let c = Tensor::<2>::random([b, self.continuous], Distribution::Uniform(-1.0, 1.0), self.device);
        Tensor::cat(vec![c, z], 1)
    }

    /// The InfoGAN terms of a judgement of samples drawn from `z` and `codes`:
    /// the categorical code's cross-entropy plus the continuous codes' squared error.
    fn info_loss(&self, j: &Judgement, z: &Tensor<2>, codes: Option<Tensor<1, Int>>) -> Option<Tensor<1>> {
        let categorical = match (&j.categories, codes) {
            (Some(q), Some(c)) => Some(code_loss(q.clone(), c)),
            _ => None,
        };
        let continuous =
            j.continuous.as_ref().map(|q| (q.clone() - z.clone().narrow(1, 0, self.continuous)).powi_scalar(2).mean());
        plus(categorical, continuous)
    }
}

impl<G: Generator, D: Discriminator> Players<G, D> {
    /// One discriminator update on a real batch `[b, sample_dim]` and a
    /// detached generated batch.
    fn discriminator_step(
        self,
        game: &Game,
        real: Tensor<2>,
        labels: Option<Tensor<1, Int>>,
        targets: Option<Tensor<2>>,
    ) -> Result<(Self, Vec<Tensor<1>>)> {
        let Players { g, d, g_opt, mut d_opt, average } = self;
        let cfg = game.cfg;
        let b = real.dims()[0];
        // Drawn for the whole batch on the first device, then cut into shards,
        // so that the draws do not depend on the number of devices.
        let z = game.latent(b, g.latent_dim());
        let codes = (game.codes)(b);
        let (real_draw, fake_draw) = (game.augment_draw(b), game.augment_draw(b));
        // The generator with its weights frozen (nothing is recorded for a
        // backward pass): this step trains the discriminator only. Its running
        // state (batch-norm statistics) is shared with `g`.
        let (grads, figures) = game.sharded(&d, &frozen(&g), b, |d, still, rows, device| {
            let part = |t: &Tensor<2>| shard_rows(t, rows, device);
            let ints = |t: &Option<Tensor<1, Int>>| t.as_ref().map(|t| shard_rows(t, rows, device));
            let (real, z, labels, codes) = (part(&real), part(&z), ints(&labels), ints(&codes));
            let real = game.augment(real, &real_draw, rows, device);
            // [b, sample_dim]
            let fake =
                game.augment(still.forward(z.clone(), labels.clone().or(codes.clone())), &fake_draw, rows, device);
            // With code targets the Q head also learns to read them on real
            // samples; an auxiliary classifier learns to name their class.
            let (real_scores, real_terms) = if targets.is_some() || d.classifies() {
                let j = d.forward_info(real, labels.clone());
                let err = match (targets.as_ref().map(part), &j.continuous) {
                    (Some(t), Some(q)) => {
                        let k = t.dims()[1];
                        Some((q.clone().narrow(1, 0, k) - t).powi_scalar(2).mean())
                    }
                    _ => None,
                };
                (j.scores.clone(), plus(err, class_loss(&j, labels.clone())))
            } else {
                (d.forward(real, labels.clone()), None)
            };
            let judged = d.forward_info(fake, labels.clone());
            let fake_scores = judged.scores.clone();
            let d_loss = cfg.loss.discriminator(real_scores.clone(), fake_scores.clone(), cfg.label_smoothing);
            let classes = class_loss(&judged, labels).filter(|_| cfg.classify_generated);
            let fake_terms = plus(game.info_loss(&judged, &z, codes), classes);
            let total = match plus(fake_terms, real_terms) {
                Some(info) => d_loss.clone() + info.mul_scalar(cfg.info_weight),
                None => d_loss.clone(),
            };
            let figures = vec![d_loss.detach(), real_scores.detach().mean(), fake_scores.detach().mean()];
            Ok(ShardTerms { total, figures })
        })?;
        let mut d = d_opt.step(cfg.d_lr, d, grads);
        if let Some(c) = cfg.weight_clip {
            d = d.map(&mut Clip(c));
        }
        Ok((Players { g, d, g_opt, d_opt, average }, figures))
    }

    /// One generator update of a batch of `b` through the (fixed)
    /// discriminator; the weight average follows it.
    fn generator_step(self, game: &Game, b: usize, labels: Option<Tensor<1, Int>>) -> Result<(Self, Vec<Tensor<1>>)> {
        let Players { g, d, mut g_opt, d_opt, average } = self;
        let cfg = game.cfg;
        let z = game.latent(b, g.latent_dim());
        let codes = (game.codes)(b);
        let draw = game.augment_draw(b);
        // The discriminator's weights get no gradient here (only the
        // generator's are stepped), so their products are skipped; its running
        // state (batch-norm statistics, spectral-norm estimates) is shared
        // with `d` and updates as before.
        let (grads, figures) = game.sharded(&g, &frozen(&d), b, |g, still, rows, device| {
            let part = |t: &Tensor<2>| shard_rows(t, rows, device);
            let ints = |t: &Option<Tensor<1, Int>>| t.as_ref().map(|t| shard_rows(t, rows, device));
            let (z, labels, codes) = (part(&z), ints(&labels), ints(&codes));
            // [b, sample_dim]
            let fake = g.forward(z.clone(), labels.clone().or(codes.clone()));
            // The sample term measures the samples as drawn, before any augmentation.
            let term = game.term.map(|t| t.loss(fake.clone(), z.clone(), labels.clone()));
            let fake = game.augment(fake, &draw, rows, device);
            let judged = still.forward_info(fake, labels.clone());
            let g_loss = cfg.loss.generator(judged.scores.clone());
            let (mut total, mut figures) = match plus(game.info_loss(&judged, &z, codes), class_loss(&judged, labels)) {
                Some(info) => (g_loss.clone() + info.clone().mul_scalar(cfg.info_weight), vec![info.detach()]),
                None => (g_loss.clone(), Vec::new()),
            };
            figures.insert(0, g_loss.detach());
            if let Some(term) = term {
                figures.push(term.clone().detach());
                total = total + term;
            }
            Ok(ShardTerms { total, figures })
        })?;
        let g = g_opt.step(cfg.g_lr, g, grads);
        let average = match (average, cfg.ema_decay) {
            (Some(avg), Some(decay)) => Some(update_average(avg, &g, decay)),
            (avg, _) => avg,
        };
        Ok((Players { g, d, g_opt, d_opt, average }, figures))
    }
}

/// Watches the losses for divergence (a value that is not finite) and
/// collapse (a discriminator loss pinned near 0: the discriminator has won).
#[derive(Default)]
struct Monitor {
    floor_run: usize,
}

impl Monitor {
    /// Reads the `pending` steps' figures back (one read), checks each step
    /// in order and adds it to `sums`.
    fn read(
        &mut self,
        pending: Vec<PendingStep>,
        sums: &mut Sums,
        cfg: &GanTrainConfig,
        state: &GanState,
        epoch: usize,
    ) -> Result<()> {
        let Some(first) = pending.iter().find_map(|p| p.figures.first()) else {
            return Ok(());
        };
        let device = first.device();
        let all = pending.iter().flat_map(|p| p.figures.iter().map(|f| f.clone().to_device(&device))).collect();
        let mut values = dl_core::task::to_f32(Tensor::cat(all, 0))?.into_iter().map(f64::from);
        for p in &pending {
            let mut next = || values.next().ok_or_else(|| Error::Device("a GAN step's figures are missing".into()));
            if p.generator {
                let loss = next()?;
                let info = if p.figures.len() > 1 + usize::from(p.term) { Some(next()?) } else { None };
                let term = if p.term { Some(next()?) } else { None };
                let s = GeneratorStep { loss, info, term };
                self.generator(&s, cfg, state, p.d_step, epoch)?;
                sums.add_generator(&s);
            } else {
                let s = DiscriminatorStep { loss: next()?, real: next()?, fake: next()? };
                self.discriminator(&s, cfg, state, p.d_step, epoch)?;
                sums.add_discriminator(&s);
            }
        }
        Ok(())
    }

    fn discriminator(
        &mut self,
        s: &DiscriminatorStep,
        cfg: &GanTrainConfig,
        state: &GanState,
        step: usize,
        epoch: usize,
    ) -> Result<()> {
        if !s.loss.is_finite() || !s.real.is_finite() || !s.fake.is_finite() {
            let what = format!("the discriminator loss became {} at step {step} of epoch {epoch} (divergence)", s.loss);
            return Err(failure(cfg, state, what));
        }
        let collapsing = cfg.loss.zero_means_collapse() && s.loss < cfg.collapse_floor;
        self.floor_run = if collapsing { self.floor_run + 1 } else { 0 };
        if self.floor_run >= cfg.collapse_patience {
            let what = format!(
                "the discriminator loss stayed below {} for {} steps (step {step} of epoch {epoch}): the \
                 discriminator has won and the generator gets no gradient (collapse); lower the \
                 discriminator's learning rate, use label smoothing or the hinge loss with spectral norm",
                cfg.collapse_floor, cfg.collapse_patience
            );
            return Err(failure(cfg, state, what));
        }
        Ok(())
    }

    fn generator(
        &self,
        s: &GeneratorStep,
        cfg: &GanTrainConfig,
        state: &GanState,
        step: usize,
        epoch: usize,
    ) -> Result<()> {
        if !s.loss.is_finite() {
            let what = format!("the generator loss became {} at step {step} of epoch {epoch} (divergence)", s.loss);
            return Err(failure(cfg, state, what));
        }
        if let Some(t) = s.term.filter(|t| !t.is_finite()) {
            let what = format!("the generator's sample term became {t} at step {step} of epoch {epoch} (divergence)");
            return Err(failure(cfg, state, what));
        }
        Ok(())
    }
}

/// Sums over an epoch and over the current window of the loss curve.
#[derive(Default)]
struct Sums {
    d: f64,
    g: f64,
    real: f64,
    fake: f64,
    info: f64,
    term: f64,
    n_d: usize,
    n_g: usize,
    window_d: f64,
    window_g: f64,
    window_nd: usize,
    window_ng: usize,
}

impl Sums {
    fn add_discriminator(&mut self, s: &DiscriminatorStep) {
        self.d += s.loss;
        self.real += s.real;
        self.fake += s.fake;
        self.n_d += 1;
        self.window_d += s.loss;
        self.window_nd += 1;
    }

    fn add_generator(&mut self, s: &GeneratorStep) {
        self.g += s.loss;
        self.info += s.info.unwrap_or(0.0);
        self.term += s.term.unwrap_or(0.0);
        self.n_g += 1;
        self.window_g += s.loss;
        self.window_ng += 1;
    }

    /// The point of the loss curve at discriminator step `step`; starts a new window.
    fn curve_point(&mut self, step: usize) -> GanPoint {
        let point = GanPoint {
            step,
            d_loss: self.window_d / self.window_nd.max(1) as f64,
            g_loss: if self.window_ng > 0 { self.window_g / self.window_ng as f64 } else { f64::NAN },
        };
        (self.window_d, self.window_g, self.window_nd, self.window_ng) = (0.0, 0.0, 0, 0);
        point
    }

    fn epoch(&self, epoch: usize, info: bool, term: bool, seconds: f64) -> GanEpoch {
        GanEpoch {
            epoch,
            d_loss: self.d / self.n_d.max(1) as f64,
            g_loss: if self.n_g > 0 { self.g / self.n_g as f64 } else { f64::NAN },
            d_real: self.real / self.n_d.max(1) as f64,
            d_fake: self.fake / self.n_d.max(1) as f64,
            info_loss: (info && self.n_g > 0).then(|| self.info / self.n_g as f64),
            term_loss: (term && self.n_g > 0).then(|| self.term / self.n_g as f64),
            seconds,
        }
    }
}

/// Checks that the networks, the data and the config agree.
fn check_game<G: Generator, D: Discriminator>(g: &G, d: &D, data: &GanData, cfg: &GanTrainConfig) -> Result<()> {
    if g.sample_dim() != data.dim() || d.sample_dim() != data.dim() {
        return Err(Error::shape(
            "train_gan sample width (generator, discriminator)",
            format!("{} (the data's)", data.dim()),
            format!("({}, {})", g.sample_dim(), d.sample_dim()),
        ));
    }
    if let Some(k) = d.info_codes() {
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
    if d.classifies() && (d.num_classes().is_none() || data.num_classes().is_none()) {
        return Err(Error::Invalid(
            "train_gan: an auxiliary classifier names the class of samples: it needs a class-conditional \
             discriminator and labelled data"
                .into(),
        ));
    }
    if d.continuous_codes() > g.latent_dim() {
        return Err(Error::Invalid(format!(
            "train_gan: the discriminator estimates {} continuous codes, more than the generator's {} latent values",
            d.continuous_codes(),
            g.latent_dim()
        )));
    }
    if data.code_targets() > d.continuous_codes() {
        return Err(Error::Invalid(format!(
            "train_gan: the data carry targets for {} continuous codes, the discriminator estimates {}",
            data.code_targets(),
            d.continuous_codes()
        )));
    }
    if let Some(s) = cfg.image_shape
        && s.iter().product::<usize>() != data.dim()
    {
        return Err(Error::shape("GanTrainConfig.image_shape", format!("{} values", data.dim()), format!("{s:?}")));
    }
    if data.len() < cfg.batch_size {
        return Err(Error::Invalid(format!(
            "train_gan: {} samples are fewer than one batch of {}",
            data.len(),
            cfg.batch_size
        )));
    }
    Ok(())
}

/// Trains `g` against `d` on `data`, with the end-of-epoch hooks of
/// [`default_hooks`]: `metrics.csv` and `losses.png`, and with `image_shape`
/// `samples.png` plus `samples/epoch_NNN.png`.
///
/// `device` must have autodiff enabled and both networks must live on it;
/// seed it (`device.seed`) before building them for reproducible weights.
/// The networks must agree with the data on the sample width and on
/// conditioning. Writes the checkpoint into `cfg.out_dir`: both networks,
/// both optimizers, the average and the state (a [`Checkpointer`]).
pub fn train_gan<G, D>(g: G, d: D, data: &GanData, cfg: &GanTrainConfig, device: &Device) -> Result<GanReport<G, D>>
where
    G: Generator + 'static,
    D: Discriminator + 'static,
{
    // On the compute threads, as dl-core's `fit`.
    dl_core::train::checkpointer::on_compute_threads(|| {
        let mut hooks = default_hooks(&g, cfg, device);
        train_gan_with_hooks(g, d, data, cfg, device, &mut hooks)
    })
}

/// [`train_gan`] with each batch split across `devices`: the networks live
/// on `devices[0]`, which steps both optimizers and writes the checkpoints;
/// every device must have autodiff. Each step draws its latent codes for the
/// whole batch on the first device, so without batch normalisation k devices
/// take the steps one device takes (docs/distributed.md).
pub fn train_gan_data_parallel<G, D>(
    g: G,
    d: D,
    data: &GanData,
    cfg: &GanTrainConfig,
    devices: &[Device],
) -> Result<GanReport<G, D>>
where
    G: Generator + 'static,
    D: Discriminator + 'static,
{
    let Some(device) = devices.first() else {
        return Err(Error::empty("train_gan: the list of devices"));
    };
    dl_core::train::checkpointer::on_compute_threads(|| {
        let mut hooks = default_hooks(&g, cfg, device);
        play(g, d, data, cfg, devices, &mut hooks, None)
    })
}

/// [`train_gan`] with the caller's end-of-epoch hooks, called in order after
/// each epoch's checkpoint is written.
pub fn train_gan_with_hooks<G, D>(
    g: G,
    d: D,
    data: &GanData,
    cfg: &GanTrainConfig,
    device: &Device,
    hooks: &mut [Box<dyn GanHook<G>>],
) -> Result<GanReport<G, D>>
where
    G: Generator + 'static,
    D: Discriminator + 'static,
{
    play(g, d, data, cfg, std::slice::from_ref(device), hooks, None)
}

/// [`train_gan`] with `term` added to the generator's loss in every
/// generator step ([`SampleTerm`]; checked against the networks and the data
/// first). Its epoch mean is [`GanEpoch::term_loss`].
pub fn train_gan_with_term<G, D>(
    g: G,
    d: D,
    data: &GanData,
    cfg: &GanTrainConfig,
    device: &Device,
    term: &dyn SampleTerm,
) -> Result<GanReport<G, D>>
where
    G: Generator + 'static,
    D: Discriminator + 'static,
{
    dl_core::train::checkpointer::on_compute_threads(|| {
        let mut hooks = default_hooks(&g, cfg, device);
        play(g, d, data, cfg, std::slice::from_ref(device), &mut hooks, Some(term))
    })
}

/// The training loop of [`train_gan_data_parallel`], [`train_gan_with_hooks`]
/// and [`train_gan_with_term`].
fn play<G, D>(
    g: G,
    d: D,
    data: &GanData,
    cfg: &GanTrainConfig,
    devices: &[Device],
    hooks: &mut [Box<dyn GanHook<G>>],
    term: Option<&dyn SampleTerm>,
) -> Result<GanReport<G, D>>
where
    G: Generator + 'static,
    D: Discriminator + 'static,
{
    cfg.validate()?;
    let Some(device) = devices.first() else {
        return Err(Error::empty("train_gan: the list of devices"));
    };
    if devices.iter().any(|d| !d.is_autodiff()) {
        return Err(Error::NeedsAutodiff { what: "train_gan" });
    }
    check_game(&g, &d, data, cfg)?;
    if let Some(t) = term {
        t.check(g.sample_dim(), g.latent_dim(), data.num_classes())?;
    }
    let info = d.info_codes();
    let d_continuous = d.continuous_codes();
    // A uniform draw of InfoGAN codes for a batch of `b`.
    let draw_codes = |b: usize| {
        info.map(|k| {
            Tensor::<1>::random([b], Distribution::Uniform(0.0, k as f64), device).floor().int().clamp(0, k as i64 - 1)
        })
    };
    let full = data.len() / cfg.batch_size;
    let steps_per_epoch = cfg.max_steps_per_epoch.map_or(full, |m| m.min(full));
    let adam = OptimizerKind::Adam { betas: cfg.betas };
    let average = cfg.ema_decay.map(|_| g.valid());
    let mut p = Players { g, d, g_opt: adam.init(None), d_opt: adam.init(None), average };
    let mut state = GanState { seed: cfg.seed, ..GanState::default() };
    let mut resumed_from = None;
    let checkpointer = cfg.out_dir.as_deref().map(Checkpointer::new).transpose()?;
    if let (Some(ck), true) = (&checkpointer, cfg.resume)
        && let Some(saved) = ck.resume::<GanState>(cfg.seed)?
    {
        p = p.load(&saved.dir)?;
        resumed_from = Some(saved.state.epoch);
        state = saved.state;
    }

    let game = Game { cfg, device, devices, codes: &draw_codes, continuous: d_continuous, term };
    let mut monitor = Monitor::default();
    for epoch in state.epoch + 1..=cfg.epochs {
        let start = Instant::now();
        let seed = epoch_seed(cfg.seed, epoch);
        devices.iter().for_each(|d| d.seed(seed));
        let order = shuffled_indices(data.len(), seed);
        let pb = progress::bar(steps_per_epoch as u64, &format!("epoch {epoch}/{}", cfg.epochs), cfg.progress);
        let mut sums = Sums::default();
        let mut pending = Vec::new();
        for idx in order.chunks_exact(cfg.batch_size).take(steps_per_epoch) {
            let (real, labels) = data.batch(idx, device)?;
            let targets = data.code_target_batch(idx, device)?;
            let (next, figures) = p.discriminator_step(&game, real, labels.clone(), targets)?;
            p = next;
            state.d_step += 1;
            pending.push(PendingStep { d_step: state.d_step, generator: false, term: false, figures });
            if state.d_step.is_multiple_of(cfg.d_steps) {
                let (next, figures) = p.generator_step(&game, idx.len(), labels)?;
                p = next;
                state.g_step += 1;
                pending.push(PendingStep { d_step: state.d_step, generator: true, term: term.is_some(), figures });
            }
            if state.d_step.is_multiple_of(cfg.log_every) {
                monitor.read(std::mem::take(&mut pending), &mut sums, cfg, &state, epoch)?;
                state.curve.push(sums.curve_point(state.d_step));
            }
            pb.inc(1);
        }
        monitor.read(pending, &mut sums, cfg, &state, epoch)?;
        pb.finish_and_clear();
        let auxiliary = info.is_some() || d_continuous > 0 || p.d.classifies();
        let record = sums.epoch(epoch, auxiliary, term.is_some(), start.elapsed().as_secs_f64());
        if cfg.progress {
            let info = record
                .info_loss
                .map(|l| format!("  {} loss {l:.4}", if p.d.classifies() { "class" } else { "code" }))
                .unwrap_or_default();
            eprintln!(
                "epoch {epoch:>3}: D loss {:.4}  G loss {:.4}  D(real) {:+.3}  D(fake) {:+.3}{info}  ({:.1}s)",
                record.d_loss, record.g_loss, record.d_real, record.d_fake, record.seconds
            );
        }
        state.epochs.push(record);
        state.epoch = epoch;
        if let Some(ck) = &checkpointer {
            ck.save(epoch, &state, |folder| p.save(folder))?;
        }
        let end = EpochEnd {
            epoch,
            state: &state,
            generator: &p.g,
            average: p.average.as_ref(),
            out_dir: cfg.out_dir.as_deref(),
        };
        for hook in hooks.iter_mut() {
            hook.end_of_epoch(&end)?;
        }
    }
    Ok(GanReport { generator: p.g, discriminator: p.d, average: p.average, state, resumed_from })
}

/// The auxiliary classifier's cross-entropy against the labels, where the
/// judgement has class logits.
fn class_loss(j: &Judgement, labels: Option<Tensor<1, Int>>) -> Option<Tensor<1>> {
    Some(code_loss(j.classes.clone()?, labels?))
}

/// The sum of two optional loss terms.
fn plus(a: Option<Tensor<1>>, b: Option<Tensor<1>>) -> Option<Tensor<1>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    }
}

/// Mean cross-entropy of code logits `[B, k]` against the drawn codes `[B]`.
fn code_loss(logits: Tensor<2>, codes: Tensor<1, Int>) -> Tensor<1> {
    let [b, _] = logits.dims();
    let picked = log_softmax(logits, 1).gather(1, codes.reshape([b, 1]));
    picked.mean().neg()
}
