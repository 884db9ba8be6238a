//! The supervised training loop.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::checkpointer::{Checkpointer, RunState, copy_atomically, link_or_copy};
use super::config::TrainConfig;
use super::grads::{clip_grad_norm_global, vector_param_ids};
use super::log::{EpochRecord, History};
use super::parallel::sharded_grads;
use super::progress;
use crate::checkpoint::{detached_copy, load_optimizer, load_weights, save_optimizer, save_weights};
use crate::data::split::shuffled_indices;
use crate::task::{Batcher, Evaluation, MetricAccumulator, PendingStep, Supervised, evaluate};
use crate::{Error, Result};

/// What is saved beside the weights each epoch, so that `--resume` continues exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Last completed epoch (1-based; 0 = none).
    pub epoch: usize,
    /// Optimizer steps taken.
    pub step: usize,
    /// The run's seed (shuffling and dropout of epoch `e` derive from it).
    pub seed: u64,
    /// Best validation score so far (accuracy, or minus the loss).
    pub best_score: Option<f64>,
    /// Epoch of the best score.
    pub best_epoch: usize,
    /// Epochs since the best score.
    pub stale_epochs: usize,
    /// Figures of every completed epoch.
    pub history: History,
}

impl RunState for TrainState {
    fn epoch(&self) -> usize {
        self.epoch
    }
    fn seed(&self) -> u64 {
        self.seed
    }
}

/// The outcome of [`fit`].
#[derive(Debug)]
pub struct FitReport<M> {
    /// The trained model (the best validation epoch's weights if `restore_best`).
    pub model: M,
    /// Per-epoch figures.
    pub history: History,
    /// Epoch whose weights `model` holds.
    pub best_epoch: usize,
    /// Whether early stopping ended the run.
    pub stopped_early: bool,
    /// The epoch a resumed run started after, if it resumed.
    pub resumed_from: Option<usize>,
    /// Evaluation of the returned model on the validation set, if one was given.
    pub valid: Option<Evaluation>,
}

const MODEL_FILE: &str = "model.bpk";
const OPTIM_FILE: &str = "optim.bpk";
const BEST_FILE: &str = "best.bpk";

/// `<out>/best/model.bpk`: the best epoch's weights, for users of the run.
fn best_copy(out: &Path) -> PathBuf {
    out.join("best").join(MODEL_FILE)
}

/// Seed of epoch `epoch`'s shuffling and dropout: a function of the run seed only, so a
/// resumed run draws exactly what the uninterrupted run would have drawn.
pub fn epoch_seed(seed: u64, epoch: usize) -> u64 {
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(epoch as u64)
}

/// Trains `model` on `train`, validating on `valid` after each epoch.
///
/// `device` must have autodiff enabled (`device.autodiff()`) and the model must
/// live on it. Writes into `cfg.out_dir` when set: `checkpoint/` (a
/// [`Checkpointer`]: weights, optimizer, the best epoch's weights and the run
/// state of the last epoch), `best/model.bpk`, `metrics.csv`, and with the
/// `plot` feature `loss.png` and the metric curve. The loop runs on the
/// compute threads ([`super::checkpointer::on_compute_threads`]).
pub fn fit<M, I, B, Bt>(
    model: M,
    train: &[I],
    valid: Option<&[I]>,
    batcher: &Bt,
    cfg: &TrainConfig,
    device: &Device,
) -> Result<FitReport<M>>
where
    M: Supervised<B> + 'static,
    I: Sync,
    Bt: Batcher<I, B> + Sync,
{
    fit_data_parallel(model, train, valid, batcher, cfg, std::slice::from_ref(device))
}

/// [`fit`] with each batch split across `devices` ([`super::parallel`]):
/// the model lives on `devices[0]`, which validates, steps the optimizer and
/// writes the checkpoints; every device must have autodiff. With k devices a
/// step takes the gradients of the whole batch, as one device would (up to
/// rounding; dropout draws differ), so results and checkpoints do not depend
/// on k. Docs: docs/distributed.md.
pub fn fit_data_parallel<M, I, B, Bt>(
    model: M,
    train: &[I],
    valid: Option<&[I]>,
    batcher: &Bt,
    cfg: &TrainConfig,
    devices: &[Device],
) -> Result<FitReport<M>>
where
    M: Supervised<B> + 'static,
    I: Sync,
    Bt: Batcher<I, B> + Sync,
{
    super::checkpointer::on_compute_threads(|| fit_here(model, train, valid, batcher, cfg, devices))
}

/// [`fit_data_parallel`] on the calling thread.
fn fit_here<M, I, B, Bt>(
    model: M,
    train: &[I],
    valid: Option<&[I]>,
    batcher: &Bt,
    cfg: &TrainConfig,
    devices: &[Device],
) -> Result<FitReport<M>>
where
    M: Supervised<B> + 'static,
    I: Sync,
    Bt: Batcher<I, B> + Sync,
{
    cfg.validate()?;
    let Some(device) = devices.first() else {
        return Err(Error::empty("fit: the list of devices"));
    };
    if devices.iter().any(|d| !d.is_autodiff()) {
        return Err(Error::NeedsAutodiff { what: "fit" });
    }
    if train.is_empty() {
        return Err(Error::empty("fit: the training set"));
    }
    let mut model = model;
    let clip_each = cfg.grad_clip_norm.filter(|_| !cfg.clip_global);
    let clip_all = cfg.grad_clip_norm.filter(|_| cfg.clip_global);
    let no_decay = if cfg.decay_matrices_only { vector_param_ids(&model) } else { Vec::new() };
    let mut optim = cfg.optimizer.init_with_exempt(clip_each, no_decay);
    let full_batches = train.len().div_ceil(cfg.batch_size);
    let steps_per_epoch = cfg.max_batches_per_epoch.map_or(full_batches, |m| m.min(full_batches));
    let total_steps = steps_per_epoch * cfg.epochs;

    let mut state = TrainState {
        epoch: 0,
        step: 0,
        seed: cfg.seed,
        best_score: None,
        best_epoch: 0,
        stale_epochs: 0,
        history: History::default(),
    };
    let mut best: Option<M> = None;
    // The best weights inside the latest checkpoint folder, carried into the next one.
    let mut best_file: Option<PathBuf> = None;
    let mut resumed_from = None;
    let checkpointer = cfg.out_dir.as_deref().map(Checkpointer::new).transpose()?;
    if let (Some(ck), true) = (&checkpointer, cfg.resume)
        && let Some(saved) = ck.resume::<TrainState>(cfg.seed)?
    {
        let out = cfg.out_dir.as_deref().unwrap_or(Path::new("."));
        model = load_weights(model, saved.dir.join(MODEL_FILE))?;
        optim = load_optimizer(optim, saved.dir.join(OPTIM_FILE))?;
        // The flat layout of earlier versions kept the best weights in `best/`.
        let b_path = [saved.dir.join(BEST_FILE), best_copy(out)].into_iter().find(|p| p.is_file());
        if let Some(b_path) = b_path {
            best = Some(load_weights(detached_copy(&model), &b_path)?);
            if b_path != best_copy(out) {
                copy_atomically(&b_path, &best_copy(out))?;
            }
            best_file = Some(b_path);
        }
        resumed_from = Some(saved.state.epoch);
        state = saved.state;
        state.history.write_csv(&out.join("metrics.csv"))?;
    }

    let mut stopped_early = false;
    let mut watch = Divergence::default();
    for epoch in state.epoch + 1..=cfg.epochs {
        let start = Instant::now();
        let seed = epoch_seed(cfg.seed, epoch);
        devices.iter().for_each(|d| d.seed(seed));
        let order = shuffled_indices(train.len(), seed);
        let pb = progress::bar(steps_per_epoch as u64, &format!("epoch {epoch}/{}", cfg.epochs), cfg.progress);
        let mut acc = MetricAccumulator::default();
        // Each shard's figures with the step they belong to, read every `read_every` steps.
        let mut pending: Vec<(usize, PendingStep)> = Vec::new();
        let mut lr = cfg.lr;
        for idx in order.chunks(cfg.batch_size).take(steps_per_epoch) {
            let items: Vec<&I> = idx.iter().map(|&i| &train[i]).collect();
            let step = sharded_grads(&model, &items, batcher, devices)?;
            for out in &step.outputs {
                pending.push((state.step + 1, MetricAccumulator::defer(out)?));
            }
            let mut grads = step.grads;
            if let Some(max) = clip_all {
                grads = clip_grad_norm_global(&model, grads, max).0;
            }
            lr = cfg.schedule.lr(cfg.lr, state.step, total_steps, steps_per_epoch, cfg.warmup_steps);
            model = optim.step(lr, model, grads).after_step();
            state.step += 1;
            if state.step.is_multiple_of(cfg.read_every) {
                watch.read(&mut acc, std::mem::take(&mut pending), epoch)?;
            }
            pb.inc(1);
        }
        watch.read(&mut acc, pending, epoch)?;
        pb.finish_and_clear();
        let tr = acc.finish();
        let va = match valid {
            Some(v) if !v.is_empty() => Some(evaluate(&model, v, batcher, cfg.batch_size, device)?),
            _ => None,
        };
        let metric = |e: &Evaluation| e.accuracy().or(e.rmse());
        if state.history.metric_name.is_empty() {
            state.history.metric_name = match (tr.accuracy(), tr.rmse()) {
                (Some(_), _) => "accuracy".into(),
                (None, Some(_)) => "rmse".into(),
                (None, None) => "metric".into(),
            };
        }
        let record = EpochRecord {
            epoch,
            train_loss: tr.loss,
            train_metric: metric(&tr),
            valid_loss: va.as_ref().map(|v| v.loss),
            valid_metric: va.as_ref().and_then(metric),
            lr,
            seconds: start.elapsed().as_secs_f64(),
        };
        if cfg.progress {
            // The metric is left out when the loss is the only figure.
            let name = &state.history.metric_name;
            let metric = |v: Option<f64>| {
                if record.train_metric.is_some() { format!(" {name} {}", fmt_opt(v)) } else { String::new() }
            };
            eprintln!(
                "epoch {epoch:>3}: train loss {:.4}{}  valid loss {}{}  ({:.1}s)",
                record.train_loss,
                metric(record.train_metric),
                fmt_opt(record.valid_loss),
                metric(record.valid_metric),
                record.seconds
            );
        }
        state.history.epochs.push(record);
        state.epoch = epoch;

        let score = va.as_ref().map_or(-tr.loss, |v| v.score());
        let min_delta = cfg.early_stopping.as_ref().map_or(0.0, |e| e.min_delta);
        let improved = state.best_score.is_none_or(|b| score > b + min_delta);
        if improved {
            state.best_score = Some(score);
            state.best_epoch = epoch;
            state.stale_epochs = 0;
            best = Some(detached_copy(&model));
        } else {
            state.stale_epochs += 1;
        }

        if let (Some(ck), Some(dir)) = (&checkpointer, &cfg.out_dir) {
            let folder = ck.save(epoch, &state, |folder| {
                save_weights(&model, folder.join(MODEL_FILE))?;
                save_optimizer(&optim, folder.join(OPTIM_FILE))?;
                match (&best_file, improved) {
                    (_, true) => save_weights(&model, folder.join(BEST_FILE)),
                    (Some(previous), false) => link_or_copy(previous, &folder.join(BEST_FILE)),
                    (None, false) => Ok(()),
                }
            })?;
            if folder.join(BEST_FILE).is_file() {
                best_file = Some(folder.join(BEST_FILE));
            }
            if improved {
                copy_atomically(&folder.join(BEST_FILE), &best_copy(dir))?;
            }
            state.history.write_csv(&dir.join("metrics.csv"))?;
            #[cfg(feature = "plot")]
            state.history.write_curves(dir, "training")?;
        }
        if let Some(es) = &cfg.early_stopping
            && state.stale_epochs >= es.patience
        {
            stopped_early = true;
            break;
        }
    }

    let (model, best_epoch) = match (cfg.restore_best, best) {
        (true, Some(b)) => (b, state.best_epoch),
        _ => (model, state.epoch),
    };
    let valid_eval = match valid {
        Some(v) if !v.is_empty() => Some(evaluate(&model, v, batcher, cfg.batch_size, device)?),
        _ => None,
    };
    Ok(FitReport { model, history: state.history, best_epoch, stopped_early, resumed_from, valid: valid_eval })
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.4}"))
}

/// Watches the training loss: a non-finite loss, or one far above the loss
/// of the run's first step, stops training with the epoch and step.
#[derive(Debug, Default)]
struct Divergence {
    first: Option<f64>,
}

impl Divergence {
    /// How far above the first step's loss (taken as at least 0.01) a loss may go.
    const FACTOR: f64 = 100.0;

    /// Reads the figures of the `pending` steps back (shards of one step are
    /// adjacent), adds them to `acc` and checks each step's loss, its shards'
    /// losses weighted by their rows.
    fn read(&mut self, acc: &mut MetricAccumulator, pending: Vec<(usize, PendingStep)>, epoch: usize) -> Result<()> {
        let (steps, figures): (Vec<usize>, Vec<PendingStep>) = pending.into_iter().unzip();
        let read = MetricAccumulator::read(figures)?;
        let mut i = 0;
        while i < read.len() {
            let step = steps[i];
            let (mut loss, mut rows) = (0.0, 0);
            while i < read.len() && steps[i] == step {
                loss += acc.add_read(&read[i]).map_err(|e| self.describe(e, epoch, step))? * read[i].rows() as f64;
                rows += read[i].rows();
                i += 1;
            }
            self.check(loss / rows.max(1) as f64, epoch, step)?;
        }
        Ok(())
    }

    fn check(&mut self, loss: f64, epoch: usize, step: usize) -> Result<()> {
        let start = *self.first.get_or_insert(loss);
        if loss > Self::FACTOR * start.max(0.01) {
            return Err(Error::Training(format!(
                "training diverged at epoch {epoch}, step {step}: the loss is {loss:.4e}, {:.0} times that of \
                 the first step ({start:.4}); lower the learning rate, clip gradients, or check the data",
                loss / start.max(0.01)
            )));
        }
        Ok(())
    }

    /// `e` (a step's error) with the epoch and step it happened at.
    fn describe(&self, e: Error, epoch: usize, step: usize) -> Error {
        match e {
            Error::Training(m) => Error::Training(format!(
                "{m} at epoch {epoch}, step {step}: training diverged (lower the learning rate or clip \
                 gradients) or the data holds non-finite values"
            )),
            other => other,
        }
    }
}
