//! TextCNN (Kim 2014, "Convolutional Neural Networks for Sentence Classification").
//!
//! Words are embedded, 1-D convolutions of several widths (3, 4, 5 words)
//! act as n-gram detectors, max-over-time pooling keeps each detector's
//! strongest response anywhere in the sentence (so the length does not
//! matter), and dropout + a linear layer classify. This is the CNN-rand
//! variant: embeddings are learned from scratch.

use burn::config::Config;
use burn::module::Module;
use burn::nn::PaddingConfig1d;
use burn::nn::conv::{Conv1d, Conv1dConfig};
use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, Initializer, Linear, LinearConfig};
use burn::tensor::{Device, Int, Tensor};
use dl_kernels::relu;

use crate::data::TextBatch;
use dl_core::config::check;
use dl_core::data::sequence::check_ids_below;
use dl_core::{Error, ModelConfig, StepOutput, Supervised};

/// TextCNN hyper-parameters (defaults are Kim's).
#[derive(Config, Debug, PartialEq)]
pub struct TextCnnConfig {
    /// Vocabulary size (ids `0..vocab_size`).
    pub vocab_size: usize,
    /// Number of classes.
    pub num_classes: usize,
    /// Embedding width.
    #[config(default = 128)]
    pub embed_dim: usize,
    /// Filter widths in tokens.
    #[config(default = "vec![3, 4, 5]")]
    pub filter_widths: Vec<usize>,
    /// Filters per width.
    #[config(default = 100)]
    pub filters: usize,
    /// Dropout before the classifier.
    #[config(default = 0.5)]
    pub dropout: f64,
    /// Embeddings start uniform in `[-r, r]` (Kim used 0.25 for unknown words);
    /// `None` keeps burn's N(0, 1).
    #[config(default = "Some(0.25)")]
    pub embedding_init_range: Option<f64>,
    /// Kim's wide convolution: `w - 1` zero vectors on both edges of the
    /// sentence and padding tokens embedded as zero vectors, so that words at
    /// the edges fill every filter position and a sentence's features do not
    /// depend on how much padding its batch needs.
    #[config(default = false)]
    pub wide: bool,
    /// Padding id (embedded as zeros when `wide`).
    #[config(default = 0)]
    pub pad_id: usize,
    /// Kim's max-norm constraint: after each optimizer step, each class's
    /// classifier weight vector is rescaled to L2 norm `s` when longer.
    #[config(default = "None")]
    pub max_norm: Option<f64>,
}

/// The TextCNN model.
#[derive(Module, Debug)]
pub struct TextCnn {
    /// Token embedding.
    pub embedding: Embedding,
    /// One convolution per filter width.
    pub convs: Vec<Conv1d>,
    /// Dropout on the pooled features.
    pub dropout: Dropout,
    /// Classifier.
    pub fc: Linear,
    #[module(skip)]
    vocab_size: usize,
    #[module(skip)]
    min_len: usize,
    #[module(skip)]
    pad_id: Option<usize>,
    #[module(skip)]
    max_norm: Option<f64>,
}

impl ModelConfig for TextCnnConfig {
    type Model = TextCnn;

    fn validate(&self) -> dl_core::Result<()> {
        const C: &str = "TextCnnConfig";
        check::positive(C, "vocab_size", self.vocab_size)?;
        check::positive(C, "num_classes", self.num_classes)?;
        check::positive(C, "embed_dim", self.embed_dim)?;
        check::positive(C, "filters", self.filters)?;
        check::non_empty(C, "filter_widths", &self.filter_widths)?;
        for (i, &w) in self.filter_widths.iter().enumerate() {
            check::positive(C, &format!("filter_widths[{i}]"), w)?;
        }
        check::probability(C, "dropout", self.dropout)?;
        if let Some(r) = self.embedding_init_range {
            check::positive_f(C, "embedding_init_range", r)?;
        }
        if let Some(s) = self.max_norm {
            check::positive_f(C, "max_norm", s)?;
        }
        if self.wide && self.pad_id >= self.vocab_size {
            return Err(Error::config(
                C,
                "pad_id",
                format!("{} is not below vocab_size {}", self.pad_id, self.vocab_size),
            ));
        }
        Ok(())
    }

    fn build(&self, device: &Device) -> TextCnn {
        TextCnn {
            embedding: match self.embedding_init_range {
                Some(r) => EmbeddingConfig::new(self.vocab_size, self.embed_dim)
                    .with_initializer(Initializer::Uniform { min: -r, max: r })
                    .init(device),
                None => EmbeddingConfig::new(self.vocab_size, self.embed_dim).init(device),
            },
            convs: self
                .filter_widths
                .iter()
                .map(|&w| {
                    let pad = if self.wide { w - 1 } else { 0 };
                    Conv1dConfig::new(self.embed_dim, self.filters, w)
                        .with_padding(PaddingConfig1d::Explicit(pad, pad))
                        .init(device)
                })
                .collect(),
            dropout: DropoutConfig::new(self.dropout).init(),
            fc: LinearConfig::new(self.filters * self.filter_widths.len(), self.num_classes).init(device),
            vocab_size: self.vocab_size,
            min_len: if self.wide { 1 } else { self.filter_widths.iter().copied().max().unwrap_or(1) },
            pad_id: self.wide.then_some(self.pad_id),
            max_norm: self.max_norm,
        }
    }
}

impl TextCnn {
    /// Shortest sequence the widest filter accepts; batchers pad to at least this.
    pub fn min_len(&self) -> usize {
        self.min_len
    }

    /// Checks ids and length before a forward pass on user input.
    pub fn check_tokens(&self, ids: &[usize]) -> dl_core::Result<()> {
        if let Some(bad) = ids.iter().find(|&&i| i >= self.vocab_size) {
            return Err(Error::Unknown {
                kind: "token id",
                value: bad.to_string(),
                context: format!("TextCnn with vocab_size {}", self.vocab_size),
            });
        }
        Ok(())
    }

    /// Penultimate features: concatenated max-over-time responses `[B, filters * widths]`.
    pub fn embed(&self, tokens: Tensor<2, Int>) -> Tensor<2> {
        let x = self.embedding.forward(tokens.clone()); // [B, T, E]
        let Some(pad) = self.pad_id else {
            let x = x.swap_dims(1, 2); // [B, E, T]
            let pooled: Vec<Tensor<2>> =
                self.convs.iter().map(|conv| relu(conv.forward(x.clone())).max_dim(2).squeeze_dim::<2>(2)).collect();
            return Tensor::cat(pooled, 1);
        };
        // Wide: padding embeds as zeros, and windows that hold no real token
        // (only padding) are left out of the max, so the features are those of
        // the sentence alone, whatever padding its batch needs.
        let [b, t] = tokens.dims();
        let real = tokens.not_equal_elem(pad as i64).float(); // [B, T]
        let x = (x * real.clone().unsqueeze_dim::<3>(2)).swap_dims(1, 2); // [B, E, T]
        let pooled: Vec<Tensor<2>> = self
            .convs
            .iter()
            .map(|conv| {
                let out = relu(conv.forward(x.clone())); // [B, F, T + w - 1]
                let w = out.dims()[2] + 1 - t;
                let zeros = Tensor::<2>::zeros([b, w - 1], &real.device());
                let padded = Tensor::cat(vec![zeros.clone(), real.clone(), zeros], 1);
                let any_real = (0..w)
                    .map(|k| padded.clone().narrow(1, k, t + w - 1))
                    .reduce(|a, c| a.max_pair(c))
                    .unwrap_or_else(|| real.clone());
                // Responses are >= 0 after the ReLU, so zeroing the empty windows never raises the max.
                (out * any_real.unsqueeze_dim::<3>(1)).max_dim(2).squeeze_dim::<2>(2)
            })
            .collect();
        Tensor::cat(pooled, 1)
    }

    /// Logits `[B, classes]` for token ids `[B, T]` (T >= [`TextCnn::min_len`]).
    pub fn forward(&self, tokens: Tensor<2, Int>) -> Tensor<2> {
        self.fc.forward(self.dropout.forward(self.embed(tokens)))
    }
}

impl Supervised<TextBatch> for TextCnn {
    fn step(&self, batch: &TextBatch) -> dl_core::Result<StepOutput> {
        // An id past the vocabulary would make the embedding lookup panic
        // (CPU) or read other memory (GPU): refused here, from the batcher's count.
        let vocab = self.vocab_size;
        check_ids_below(batch.ids_below, vocab, || format!("TextCnn with vocab_size {vocab}"))?;
        Ok(StepOutput::classification(self.forward(batch.tokens.clone()), batch.targets.clone()))
    }

    /// Kim's max-norm constraint on the classifier (when configured).
    fn after_step(mut self) -> Self {
        if let Some(s) = self.max_norm {
            self.fc.weight = self.fc.weight.map(|w| {
                let tracked = w.is_require_grad();
                let w = if w.is_autodiff() { w.inner() } else { w };
                // burn's Linear weight is [in, out]: one column per class.
                let norms = w.clone().square().sum_dim(0).sqrt();
                let w = w * norms.clamp_min(s).recip().mul_scalar(s);
                if tracked { Tensor::from_inner(w).require_grad() } else { w }
            });
        }
        self
    }
}
