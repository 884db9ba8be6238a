//! The traits that make every family usable the same way.
//!
//! A model implements [`Supervised`] for the batch type it learns from: one
//! forward pass that returns the loss together with the outputs the metrics
//! need. A [`Batcher`] turns dataset items into that batch on a device. With
//! those two, [`crate::train::fit()`] trains any model of any family,
//! [`evaluate`] scores it and [`predict_classes`] uses it, so a CNN, an LSTM
//! and a Transformer are fitted, evaluated and saved by the same code.

use burn::module::Module;
use burn::tensor::{Device, Int, Tensor};

use crate::metrics::ConfusionMatrix;
use crate::{Error, Result};

/// What a training or evaluation step is compared against.
#[derive(Debug, Clone)]
pub enum Targets {
    /// Class ids, one per row of the output: `[N]`.
    Classes(Tensor<1, Int>),
    /// Real-valued targets with the shape of the output: `[N, K]`.
    Values(Tensor<2>),
    /// Label sequences, scored by exact match: what the model read (for
    /// example CTC's best path) and the truth, one per example.
    Sequences {
        /// The sequences the model read.
        read: Vec<Vec<usize>>,
        /// The true sequences.
        truth: Vec<Vec<usize>>,
    },
    /// Nothing to score step by step but the loss (a detector, whose
    /// mean average precision is measured over a whole set once trained).
    Unscored,
}

/// The result of one forward pass with its loss.
#[derive(Debug, Clone)]
pub struct StepOutput {
    /// The scalar loss (`[1]`), differentiable when the model is on an autodiff device.
    pub loss: Tensor<1>,
    /// Logits `[N, classes]` for classification, predictions `[N, K]` for regression,
    /// any `[N, K]` view of the outputs for sequences (N counts the examples).
    pub output: Tensor<2>,
    /// The targets of this batch.
    pub targets: Targets,
}

/// A model that learns from batches of type `B` with a supervised loss.
pub trait Supervised<B>: Module {
    /// Forward pass and loss on one batch. A batch that does not fit the model
    /// (wrong width, bad lengths) is an error, never a panic.
    fn step(&self, batch: &B) -> Result<StepOutput>;

    /// Applied to the model after every optimizer step of [`crate::train::fit()`]:
    /// the place for a weight constraint (e.g. TextCNN's max-norm), which
    /// burn's optimizers do not have. The default changes nothing.
    fn after_step(self) -> Self
    where
        Self: Sized,
    {
        self
    }
}

/// Builds a batch of type `B` on a device from dataset items.
pub trait Batcher<I, B> {
    /// Stacks `items` into one batch. Items of inconsistent shape are an error.
    fn batch(&self, items: &[&I], device: &Device) -> Result<B>;
}

/// Totals of an evaluation pass.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// Mean loss over examples.
    pub loss: f64,
    /// Examples seen.
    pub examples: usize,
    /// Confusion matrix, for classification targets with at most
    /// [`CONFUSION_MAX_CLASSES`] classes (a language model's vocabulary is not tabulated).
    pub confusion: Option<ConfusionMatrix>,
    /// Correct and total predictions, for classification targets.
    pub correct: (u64, u64),
    /// Sum of squared errors and number of values, for regression targets.
    pub squared_error: f64,
    /// Number of regression values.
    pub values: usize,
}

impl Evaluation {
    /// Accuracy for classification (exact matches for sequences), `None` for regression.
    pub fn accuracy(&self) -> Option<f64> {
        (self.correct.1 > 0).then(|| self.correct.0 as f64 / self.correct.1 as f64)
    }

    /// Root mean squared error for regression, `None` for classification.
    pub fn rmse(&self) -> Option<f64> {
        (self.values > 0).then(|| (self.squared_error / self.values as f64).sqrt())
    }

    /// The metric that says how good the model is: accuracy, or minus the loss.
    pub fn score(&self) -> f64 {
        self.accuracy().unwrap_or(-self.loss)
    }
}

/// Accumulates losses and metrics over batches; shared by training and evaluation.
#[derive(Debug, Clone, Default)]
pub struct MetricAccumulator {
    loss_sum: f64,
    examples: usize,
    confusion: Option<ConfusionMatrix>,
    correct: (u64, u64),
    squared_error: f64,
    values: usize,
}

/// Classification with more classes than this keeps only the accuracy, not a confusion matrix.
pub const CONFUSION_MAX_CLASSES: usize = 1024;

/// One step's figures reduced on the device and not read back yet
/// ([`MetricAccumulator::defer`]).
#[derive(Debug, Clone)]
pub struct PendingStep {
    loss: Tensor<1>,
    rows: usize,
    scored: Pending,
}

#[derive(Debug, Clone)]
enum Pending {
    /// The predicted and the true classes, `[N]` each (tensors boxed: a
    /// tensor handle is large).
    Classes {
        pred: Box<Tensor<1, Int>>,
        target: Box<Tensor<1, Int>>,
        classes: usize,
    },
    Values {
        squared_error: Box<Tensor<1>>,
        values: usize,
    },
    Sequences {
        correct: u64,
        total: u64,
    },
    Unscored,
}

/// One step's figures on the host ([`MetricAccumulator::read`]).
#[derive(Debug, Clone)]
pub struct ReadStep {
    loss: f64,
    rows: usize,
    scored: Read,
}

#[derive(Debug, Clone)]
enum Read {
    Classes { pred: Vec<usize>, target: Vec<usize>, classes: usize },
    Values { squared_error: f64, values: usize },
    Sequences { correct: u64, total: u64 },
    Unscored,
}

impl ReadStep {
    /// The step's loss.
    pub fn loss(&self) -> f64 {
        self.loss
    }

    /// The rows of the step's output (its weight in the epoch's loss).
    pub fn rows(&self) -> usize {
        self.rows
    }
}

impl MetricAccumulator {
    /// Adds one step's loss and outputs and returns the step's loss. Reads
    /// values back from the device. A non-finite loss is an error (which the
    /// training loop reports with its epoch and step).
    pub fn add(&mut self, out: &StepOutput) -> Result<f64> {
        let read = Self::read(vec![Self::defer(out)?])?;
        match read.first() {
            Some(r) => self.add_read(r),
            None => Err(Error::Device("a step's figures did not come back".into())),
        }
    }

    /// The figures of one step reduced on its device (argmax, squared error),
    /// without reading anything back: [`MetricAccumulator::read`] reads many
    /// steps at once, one device synchronisation instead of one per step.
    pub fn defer(out: &StepOutput) -> Result<PendingStep> {
        let [n, k] = out.output.dims();
        let scored = match &out.targets {
            Targets::Classes(t) => {
                if t.dims()[0] != n {
                    return Err(Error::shape("step output", format!("{} rows", t.dims()[0]), n));
                }
                let pred = out.output.clone().detach().argmax(1).flatten::<1>(0, 1);
                Pending::Classes { pred: Box::new(pred), target: Box::new(t.clone()), classes: k }
            }
            Targets::Values(t) => {
                let squared_error = (out.output.clone().detach() - t.clone()).powf_scalar(2.0).sum();
                Pending::Values { squared_error: Box::new(squared_error), values: n * k }
            }
            Targets::Sequences { read, truth } => {
                if read.len() != truth.len() {
                    return Err(Error::shape("step output", format!("{} sequences", truth.len()), read.len()));
                }
                let correct = read.iter().zip(truth).filter(|(r, t)| r == t).count() as u64;
                Pending::Sequences { correct, total: truth.len() as u64 }
            }
            Targets::Unscored => Pending::Unscored,
        };
        Ok(PendingStep { loss: out.loss.clone().detach(), rows: n, scored })
    }

    /// Reads pending steps back, in order: one read for all losses, one for
    /// all predicted and one for all true classes, one for all squared errors.
    pub fn read(steps: Vec<PendingStep>) -> Result<Vec<ReadStep>> {
        let Some(device) = steps.first().map(|s| s.loss.device()) else {
            return Ok(Vec::new());
        };
        let here = |t: &Tensor<1>| t.clone().to_device(&device);
        let losses = to_f32(Tensor::cat(steps.iter().map(|s| here(&s.loss)).collect(), 0))?;
        let (mut preds, mut targets, mut errors) = (Vec::new(), Vec::new(), Vec::new());
        for s in &steps {
            match &s.scored {
                Pending::Classes { pred, target, .. } => {
                    preds.push(pred.as_ref().clone());
                    targets.push(target.as_ref().clone());
                }
                Pending::Values { squared_error, .. } => errors.push(here(squared_error)),
                Pending::Sequences { .. } | Pending::Unscored => {}
            }
        }
        let (mut preds, mut targets) = (read_ints(preds)?.into_iter(), read_ints(targets)?.into_iter());
        let errors = if errors.is_empty() { Vec::new() } else { to_f32(Tensor::cat(errors, 0))? };
        let mut e = errors.into_iter();
        steps
            .into_iter()
            .zip(losses)
            .map(|(s, loss)| {
                let scored = match s.scored {
                    Pending::Classes { classes, .. } => {
                        let missing = || Error::Device("classes are missing".into());
                        let (pred, target) = (preds.next().ok_or_else(missing)?, targets.next().ok_or_else(missing)?);
                        Read::Classes { pred, target, classes }
                    }
                    Pending::Values { values, .. } => {
                        let squared_error =
                            e.next().ok_or_else(|| Error::Device("a squared error is missing".into()))?;
                        Read::Values { squared_error: f64::from(squared_error), values }
                    }
                    Pending::Sequences { correct, total } => Read::Sequences { correct, total },
                    Pending::Unscored => Read::Unscored,
                };
                Ok(ReadStep { loss: f64::from(loss), rows: s.rows, scored })
            })
            .collect()
    }

    /// Adds one step read back by [`MetricAccumulator::read`] and returns its
    /// loss. A non-finite loss is an error (which the training loop reports
    /// with its epoch and step).
    pub fn add_read(&mut self, step: &ReadStep) -> Result<f64> {
        let loss = step.loss;
        if !loss.is_finite() {
            return Err(Error::Training(format!("the loss became {loss}")));
        }
        self.loss_sum += loss * step.rows as f64;
        self.examples += step.rows;
        match &step.scored {
            Read::Classes { pred, target, classes } => {
                if pred.len() != target.len() {
                    return Err(Error::shape("step output", format!("{} rows", target.len()), pred.len()));
                }
                self.correct.0 += pred.iter().zip(target).filter(|(p, t)| p == t).count() as u64;
                self.correct.1 += target.len() as u64;
                if *classes <= CONFUSION_MAX_CLASSES {
                    let cm = match &mut self.confusion {
                        Some(cm) => cm,
                        None => self.confusion.insert(ConfusionMatrix::new(*classes)?),
                    };
                    cm.add(pred, target)?;
                }
            }
            Read::Values { squared_error, values } => {
                self.squared_error += squared_error;
                self.values += values;
            }
            Read::Sequences { correct, total } => {
                self.correct.0 += correct;
                self.correct.1 += total;
            }
            Read::Unscored => {}
        }
        Ok(loss)
    }

    /// The totals so far.
    pub fn finish(self) -> Evaluation {
        Evaluation {
            loss: if self.examples == 0 { f64::NAN } else { self.loss_sum / self.examples as f64 },
            examples: self.examples,
            confusion: self.confusion,
            correct: self.correct,
            squared_error: self.squared_error,
            values: self.values,
        }
    }
}

/// Reads int tensors back, one read per device: tensors on different
/// backends may hold different int types, which cannot be concatenated.
fn read_ints(tensors: Vec<Tensor<1, Int>>) -> Result<Vec<Vec<usize>>> {
    let mut groups: Vec<(Device, Vec<usize>)> = Vec::new();
    for (i, t) in tensors.iter().enumerate() {
        let device = t.device();
        match groups.iter_mut().find(|(d, _)| *d == device) {
            Some((_, members)) => members.push(i),
            None => groups.push((device, vec![i])),
        }
    }
    let mut out = vec![Vec::new(); tensors.len()];
    for (_, members) in groups {
        let values = to_usize(Tensor::cat(members.iter().map(|&i| tensors[i].clone()).collect(), 0))?;
        let mut values = values.into_iter();
        for i in members {
            out[i] = values.by_ref().take(tensors[i].dims()[0]).collect();
        }
    }
    Ok(out)
}

/// Row-wise argmax of `[N, K]` logits, read back to the host.
pub fn argmax_rows(logits: &Tensor<2>) -> Vec<usize> {
    let idx = logits.clone().argmax(1).flatten::<1>(0, 1);
    to_usize(idx).unwrap_or_default()
}

/// Reads an int tensor back as `usize` values (negative values are an error).
pub fn to_usize<const D: usize>(t: Tensor<D, Int>) -> Result<Vec<usize>> {
    let data = t.into_data();
    let values: Vec<i64> = data
        .convert::<i64>()
        .try_into_vec::<i64>()
        .map_err(|e| Error::Device(format!("reading class ids back: {e:?}")))?;
    values.into_iter().map(|v| usize::try_from(v).map_err(|_| Error::out_of_range("class id", v, ">= 0"))).collect()
}

/// Reads a float tensor back as `f32` values.
pub fn to_f32<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| Error::Device(format!("reading values back: {e:?}")))
}

/// Batches whose figures [`evaluate`] reads back together.
const READ_EVERY: usize = 16;

/// Evaluates `model` on `items` in batches of `batch_size` (no gradients).
pub fn evaluate<M, I, B, Bt>(
    model: &M,
    items: &[I],
    batcher: &Bt,
    batch_size: usize,
    device: &Device,
) -> Result<Evaluation>
where
    M: Supervised<B>,
    Bt: Batcher<I, B>,
{
    crate::config::check::positive("evaluate", "batch_size", batch_size)?;
    let model = model.valid();
    let device = device.clone().without_autodiff();
    let mut acc = MetricAccumulator::default();
    // Figures are read back a few batches at a time, not after every batch.
    for group in items.chunks(batch_size * READ_EVERY) {
        let mut pending = Vec::with_capacity(READ_EVERY);
        for chunk in group.chunks(batch_size) {
            let refs: Vec<&I> = chunk.iter().collect();
            let batch = batcher.batch(&refs, &device)?;
            pending.push(MetricAccumulator::defer(&model.step(&batch)?)?);
        }
        for step in MetricAccumulator::read(pending)? {
            acc.add_read(&step)?;
        }
    }
    Ok(acc.finish())
}

/// Runs `model` over `items` and returns the predicted class of each.
pub fn predict_classes<M, I, B, Bt>(
    model: &M,
    items: &[I],
    batcher: &Bt,
    batch_size: usize,
    device: &Device,
) -> Result<Vec<usize>>
where
    M: Supervised<B>,
    Bt: Batcher<I, B>,
{
    let rows = predict_outputs(model, items, batcher, batch_size, device)?;
    Ok(rows.iter().map(|r| r.iter().enumerate().fold(0, |b, (j, x)| if *x > r[b] { j } else { b })).collect())
}

/// Runs `model` over `items` and returns each example's output row (logits or predictions).
pub fn predict_outputs<M, I, B, Bt>(
    model: &M,
    items: &[I],
    batcher: &Bt,
    batch_size: usize,
    device: &Device,
) -> Result<Vec<Vec<f32>>>
where
    M: Supervised<B>,
    Bt: Batcher<I, B>,
{
    crate::config::check::positive("predict_outputs", "batch_size", batch_size)?;
    let model = model.valid();
    let device = device.clone().without_autodiff();
    let mut out = Vec::with_capacity(items.len());
    for chunk in items.chunks(batch_size) {
        let refs: Vec<&I> = chunk.iter().collect();
        let batch = batcher.batch(&refs, &device)?;
        let y = model.step(&batch)?.output;
        let [_, k] = y.dims();
        out.extend(to_f32(y)?.chunks(k.max(1)).map(<[f32]>::to_vec));
    }
    Ok(out)
}

impl StepOutput {
    /// Cross-entropy on `[N, C]` logits against class ids `[N]`.
    pub fn classification(logits: Tensor<2>, targets: Tensor<1, Int>) -> StepOutput {
        let loss =
            burn::nn::loss::CrossEntropyLoss::new(None, &logits.device()).forward(logits.clone(), targets.clone());
        StepOutput { loss, output: logits, targets: Targets::Classes(targets) }
    }

    /// Mean squared error of `[N, K]` predictions against `[N, K]` targets.
    pub fn regression(pred: Tensor<2>, targets: Tensor<2>) -> StepOutput {
        let loss = (pred.clone() - targets.clone()).powf_scalar(2.0).mean();
        StepOutput { loss, output: pred, targets: Targets::Values(targets) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{device, random};

    fn classification(n: usize, seed: u64) -> StepOutput {
        let d = device();
        d.seed(seed);
        let labels: Vec<i64> = (0..n as i64).map(|i| (i * 7 + seed as i64) % 3).collect();
        let targets = Tensor::<1, Int>::from_data(burn::tensor::TensorData::new(labels, [n]), &d);
        StepOutput::classification(random([n, 3], &d), targets)
    }

    #[test]
    fn figures_read_together_are_the_figures_read_one_by_one() {
        let d = device();
        let steps = [
            classification(5, 1),
            classification(4, 2),
            StepOutput::regression(random([3, 2], &d), random([3, 2], &d)),
            classification(6, 3),
        ];
        let (mut alone, mut together) = (MetricAccumulator::default(), MetricAccumulator::default());
        let losses: Vec<f64> = steps.iter().map(|s| alone.add(s).unwrap()).collect();
        let pending = steps.iter().map(|s| MetricAccumulator::defer(s).unwrap()).collect();
        let read = MetricAccumulator::read(pending).unwrap();
        let read_losses: Vec<f64> = read.iter().map(|r| together.add_read(r).unwrap()).collect();
        assert_eq!(losses, read_losses);
        let (a, b) = (alone.finish(), together.finish());
        assert_eq!((a.loss, a.examples, a.correct, a.values), (b.loss, b.examples, b.correct, b.values));
        assert_eq!(a.squared_error, b.squared_error);
        assert_eq!(a.confusion.unwrap().normalized(), b.confusion.unwrap().normalized());
        assert_eq!(a.examples, 18);
    }
}
