//! Sequence heads: what a recurrent encoder is used *for*.
//!
//! One [`SequenceModel`] puts an optional token embedding in front of any
//! [`SequenceEncoder`] (an RNN, GRU or LSTM stack of either family crate) and
//! a linear head behind it:
//!
//! - many-to-one classification (sentiment, spam): the sequence is summarised
//!   by its final state, or the mean / max of its step outputs, then classified;
//! - many-to-one regression (forecasting, the adding problem): same summary,
//!   real-valued outputs, MSE;
//! - many-to-many tagging: every real step gets its own class.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use dl_core::Error;
use dl_core::config::{ModelConfig, check};
use dl_core::data::sequence::{SequenceBatch, SequenceInput, SequenceTarget, check_lengths};
use dl_core::task::{StepOutput, Supervised};

use crate::{SequenceEncoder, length_mask};

/// What the head predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SequenceTask {
    /// One class per sequence (cross-entropy).
    Classify {
        /// Number of classes.
        classes: usize,
    },
    /// Real values per sequence (MSE).
    Regress {
        /// Number of values.
        outputs: usize,
    },
    /// One class per step (cross-entropy over the real steps).
    Tag {
        /// Number of tag classes.
        classes: usize,
    },
}

impl SequenceTask {
    fn width(&self) -> usize {
        match *self {
            SequenceTask::Classify { classes } | SequenceTask::Tag { classes } => classes,
            SequenceTask::Regress { outputs } => outputs,
        }
    }
}

/// How a many-to-one head summarises the step outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Pooling {
    /// The final state of the top layer (both directions), the classic choice.
    #[default]
    Last,
    /// Mean of the outputs over each sequence's real steps.
    Mean,
    /// Maximum of the outputs over each sequence's real steps.
    Max,
}

/// Hyper-parameters of the head around an encoder.
#[derive(Config, Debug, PartialEq)]
pub struct HeadConfig {
    /// What to predict.
    pub task: SequenceTask,
    /// Token input: the vocabulary size (the embedding width is the encoder's input size).
    /// `None` for real-valued inputs.
    #[config(default = "None")]
    pub vocab_size: Option<usize>,
    /// Summary for many-to-one tasks (ignored by tagging).
    #[config(default = "Pooling::Last")]
    pub pooling: Pooling,
    /// Dropout on the embeddings and on the summary while training.
    #[config(default = 0.0)]
    pub dropout: f64,
}

impl HeadConfig {
    /// Checks every field.
    pub fn validate(&self) -> dl_core::Result<()> {
        let width = self.task.width();
        if width == 0 {
            return Err(Error::config("HeadConfig", "task", "needs at least 1 output / class"));
        }
        if matches!(self.task, SequenceTask::Classify { classes: 1 } | SequenceTask::Tag { classes: 1 }) {
            return Err(Error::config("HeadConfig", "task", "classification needs at least 2 classes"));
        }
        if let Some(v) = self.vocab_size {
            check::positive("HeadConfig", "vocab_size", v)?;
        }
        check::probability("HeadConfig", "dropout", self.dropout)
    }

    /// Puts this head around `encoder`.
    pub fn init<E: SequenceEncoder + Module>(&self, encoder: E, device: &Device) -> dl_core::Result<SequenceModel<E>> {
        self.validate()?;
        Ok(self.assemble(encoder, device))
    }

    /// Builds the embedding and output layer around `encoder` (config already validated).
    fn assemble<E: SequenceEncoder + Module>(&self, encoder: E, device: &Device) -> SequenceModel<E> {
        SequenceModel {
            embedding: self.vocab_size.map(|v| EmbeddingConfig::new(v, encoder.input_size()).init(device)),
            output: LinearConfig::new(encoder.output_size(), self.task.width()).init(device),
            encoder,
            dropout: DropoutConfig::new(self.dropout).init(),
            task: self.task,
            pooling: self.pooling,
        }
    }
}

/// An encoder config plus a head config: the config of a whole [`SequenceModel`],
/// saved with its checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SequenceModelConfig<C> {
    /// The recurrent encoder.
    pub encoder: C,
    /// The head.
    pub head: HeadConfig,
}

impl<C> ModelConfig for SequenceModelConfig<C>
where
    C: ModelConfig,
    C::Model: SequenceEncoder + Module,
{
    type Model = SequenceModel<C::Model>;

    fn validate(&self) -> dl_core::Result<()> {
        self.encoder.validate()?;
        self.head.validate()
    }

    fn build(&self, device: &Device) -> Self::Model {
        self.head.assemble(self.encoder.build(device), device)
    }
}

/// Embedding (optional) + recurrent encoder + linear head.
#[derive(Module, Debug)]
pub struct SequenceModel<E: SequenceEncoder + Module> {
    /// Token embedding, for token inputs.
    pub embedding: Option<Embedding>,
    /// The recurrent encoder.
    pub encoder: E,
    /// Dropout on embeddings and summaries.
    pub dropout: Dropout,
    /// The linear head.
    pub output: Linear,
    #[module(skip)]
    task: SequenceTask,
    #[module(skip)]
    pooling: Pooling,
}

impl<E: SequenceEncoder + Module> SequenceModel<E> {
    /// What the head predicts.
    pub fn task(&self) -> SequenceTask {
        self.task
    }

    /// Embeds token inputs (checking ids) or passes features through.
    pub fn embed(&self, input: SequenceInput) -> dl_core::Result<Tensor<3>> {
        self.embed_ids_below(input, None)
    }

    /// [`embed`](Self::embed) with the ids known on the host to lie below
    /// `ids_below` (a batcher's [`SequenceBatch::ids_below`]): checked
    /// against the vocabulary without reading the device.
    fn embed_ids_below(&self, input: SequenceInput, ids_below: Option<usize>) -> dl_core::Result<Tensor<3>> {
        match input {
            SequenceInput::Features(x) => Ok(x),
            SequenceInput::Tokens(ids) => {
                let emb = self.embedding.as_ref().ok_or_else(|| {
                    Error::WrongInput("this sequence model takes real-valued features, not token ids".into())
                })?;
                let vocab = emb.weight.dims()[0];
                let (min, max) = match ids_below {
                    Some(below) => (0, below as i64 - 1),
                    None => (ids.clone().min().into_scalar::<i64>(), ids.clone().max().into_scalar::<i64>()),
                };
                if min < 0 || max >= vocab as i64 {
                    return Err(Error::Unknown {
                        kind: "token id",
                        value: if min < 0 { min.to_string() } else { max.to_string() },
                        context: format!("a model with a vocabulary of {vocab}"),
                    });
                }
                Ok(self.dropout.forward(emb.forward(ids)))
            }
        }
    }

    /// Model outputs: `[B, K]` for many-to-one tasks, `[B, T, K]` flattened to
    /// `[B * T, K]` for tagging.
    pub fn forward(&self, input: SequenceInput, lengths: &[usize]) -> dl_core::Result<Tensor<2>> {
        self.forward_ids_below(input, lengths, None)
    }

    fn forward_ids_below(
        &self,
        input: SequenceInput,
        lengths: &[usize],
        ids_below: Option<usize>,
    ) -> dl_core::Result<Tensor<2>> {
        let [b, t] = input.dims();
        check_lengths("SequenceModel", lengths, b, t)?;
        let x = self.embed_ids_below(input, ids_below)?;
        let device = x.device();
        let enc = self.encoder.encode(x, Some(lengths), None)?;
        if let SequenceTask::Tag { .. } = self.task {
            let [b, t, f] = enc.output.dims();
            return Ok(dl_kernels::linear(&self.output, self.dropout.forward(enc.output.reshape([b * t, f]))));
        }
        let summary = match self.pooling {
            Pooling::Last => enc.last,
            Pooling::Mean => {
                let lens: Vec<f32> = lengths.iter().map(|&l| l as f32).collect();
                let lens = Tensor::<2>::from_data(TensorData::new(lens, [b, 1]), &device);
                enc.output.sum_dim(1).reshape([b, self.encoder.output_size()]) / lens
            }
            Pooling::Max => {
                let mask = length_mask(lengths, t, &device).reshape([b, t, 1]);
                let shifted = enc.output + (mask - 1.0) * 1e9;
                shifted.max_dim(1).reshape([b, self.encoder.output_size()])
            }
        };
        Ok(dl_kernels::linear(&self.output, self.dropout.forward(summary)))
    }
}

impl<E: SequenceEncoder + Module> SequenceModel<E> {
    /// Runs token ids `[B, T]` from `state` and returns every step's head output
    /// `[B, T, K]` and the state after the last step: the building block of
    /// generation (feed one token at a time, carrying the state) for tagging /
    /// language-model heads.
    pub fn step_tokens(
        &self,
        ids: Tensor<2, Int>,
        state: Option<super::EncoderState>,
    ) -> dl_core::Result<(Tensor<3>, super::EncoderState)> {
        let [b, t] = ids.dims();
        let x = self.embed(SequenceInput::Tokens(ids))?;
        let enc = self.encoder.encode(x, None, state)?;
        let f = self.encoder.output_size();
        let k = self.task.width();
        let y = dl_kernels::linear(&self.output, enc.output.reshape([b * t, f])).reshape([b, t, k]);
        Ok((y, enc.state))
    }
}

impl<E: SequenceEncoder + Module> Supervised<SequenceBatch> for SequenceModel<E> {
    fn step(&self, batch: &SequenceBatch) -> dl_core::Result<StepOutput> {
        let out = self.forward_ids_below(batch.input.clone(), &batch.lengths, batch.ids_below)?;
        match (&self.task, &batch.target) {
            (SequenceTask::Classify { .. }, SequenceTarget::Classes(c)) => {
                Ok(StepOutput::classification(out, c.clone()))
            }
            (SequenceTask::Regress { outputs }, SequenceTarget::Values(v)) => {
                if v.dims()[1] != *outputs {
                    return Err(Error::shape(
                        "regression targets",
                        format!("[B, {outputs}]"),
                        format!("{:?}", v.dims()),
                    ));
                }
                Ok(StepOutput::regression(out, v.clone()))
            }
            (SequenceTask::Tag { .. }, SequenceTarget::Tags(g)) => {
                // Keep only the real steps of each sequence.
                let [b, t] = g.dims();
                let idx: Vec<i64> = batch
                    .lengths
                    .iter()
                    .enumerate()
                    .flat_map(|(i, &l)| (0..l).map(move |s| (i * t + s) as i64))
                    .collect();
                let n = idx.len();
                let idx = Tensor::<1, Int>::from_data(TensorData::new(idx, [n]), &out.device());
                let logits = out.select(0, idx.clone());
                let tags = g.clone().reshape([b * t]).select(0, idx);
                Ok(StepOutput::classification(logits, tags))
            }
            (task, _) => {
                Err(Error::WrongInput(format!("a batch with {:?} targets given to a {task:?} model", batch.target)))
            }
        }
    }
}
