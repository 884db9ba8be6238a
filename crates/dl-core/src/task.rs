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

impl MetricAccumulator {
    /// Adds one step's loss and outputs and returns the step's loss. Reads
    /// values back from the device. A non-finite loss is an error (which the
    /// training loop reports with its epoch and step).
    pub fn add(&mut self, out: &StepOutput) -> Result<f64> {
        let [n, k] = out.output.dims();
        let loss = out.loss.clone().into_scalar::<f32>() as f64;
        if !loss.is_finite() {
            return Err(Error::Training(format!("the loss became {loss}")));
        }
        self.loss_sum += loss * n as f64;
        self.examples += n;
        match &out.targets {
            Targets::Classes(t) => {
                let pred = argmax_rows(&out.output);
                let target: Vec<usize> = to_usize(t.clone())?;
                if pred.len() != target.len() {
                    return Err(Error::shape("step output", format!("{} rows", target.len()), pred.len()));
                }
                self.correct.0 += pred.iter().zip(&target).filter(|(p, t)| p == t).count() as u64;
                self.correct.1 += target.len() as u64;
                if k <= CONFUSION_MAX_CLASSES {
                    let cm = match &mut self.confusion {
                        Some(cm) => cm,
                        None => self.confusion.insert(ConfusionMatrix::new(k)?),
                    };
                    cm.add(&pred, &target)?;
                }
            }
            Targets::Values(t) => {
                let diff = (out.output.clone() - t.clone()).powf_scalar(2.0).sum();
                self.squared_error += diff.into_scalar::<f32>() as f64;
                self.values += n * k;
            }
            Targets::Sequences { read, truth } => {
                if read.len() != truth.len() {
                    return Err(Error::shape("step output", format!("{} sequences", truth.len()), read.len()));
                }
                self.correct.0 += read.iter().zip(truth).filter(|(r, t)| r == t).count() as u64;
                self.correct.1 += truth.len() as u64;
            }
            Targets::Unscored => {}
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
    for chunk in items.chunks(batch_size) {
        let refs: Vec<&I> = chunk.iter().collect();
        let batch = batcher.batch(&refs, &device)?;
        acc.add(&model.step(&batch)?)?;
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
