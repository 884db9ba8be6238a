//! A Transformer encoder over real-valued or embedded sequences that plugs
//! into dl-core's sequence heads (classifier, regressor, tagger) like any
//! recurrent encoder: a linear input projection, learned positions, pre-norm
//! layers with padding masks. Every step reads every other step directly,
//! so a dependency 50 steps back is one attention hop away.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::{Int, Tensor, TensorData};

use crate::attention::lengths_mask;
use crate::ffn::Activation;
use crate::layer::{EncoderLayer, TransformerLayerConfig};
use dl_core::config::check;
use dl_core::{Error, ModelConfig};
use dl_seq::{EncoderOutput, EncoderState, SequenceEncoder, check_lengths};

/// Hyper-parameters of [`TransformerEncoder`].
#[derive(Config, Debug)]
pub struct TransformerEncoderConfig {
    /// Width of each input step.
    pub input_size: usize,
    /// Model width.
    pub d_model: usize,
    /// Attention heads.
    #[config(default = 4)]
    pub n_heads: usize,
    /// Feed-forward width; `None` means `4 · d_model`.
    #[config(default = "None")]
    pub d_ff: Option<usize>,
    /// Layers.
    #[config(default = 2)]
    pub layers: usize,
    /// Longest sequence (learned positions).
    #[config(default = 512)]
    pub max_len: usize,
    /// Dropout (training only).
    #[config(default = 0.0)]
    pub dropout: f64,
}

impl TransformerEncoderConfig {
    fn layer(&self) -> TransformerLayerConfig {
        TransformerLayerConfig::new(self.d_model, self.n_heads, self.d_ff.unwrap_or(4 * self.d_model))
            .with_activation(Activation::Gelu)
            .with_norm_first(true)
            .with_dropout(self.dropout)
    }
}

impl ModelConfig for TransformerEncoderConfig {
    type Model = TransformerEncoder;

    fn validate(&self) -> dl_core::Result<()> {
        check::positive("TransformerEncoderConfig", "input_size", self.input_size)?;
        check::positive("TransformerEncoderConfig", "layers", self.layers)?;
        check::positive("TransformerEncoderConfig", "max_len", self.max_len)?;
        self.layer().validate()
    }

    fn build(&self, device: &burn::tensor::Device) -> TransformerEncoder {
        TransformerEncoder {
            input: LinearConfig::new(self.input_size, self.d_model).init(device),
            positions: EmbeddingConfig::new(self.max_len, self.d_model)
                .with_initializer(burn::nn::Initializer::Normal { mean: 0.0, std: 0.02 })
                .init(device),
            layers: (0..self.layers).map(|_| self.layer().build(device)).collect(),
            norm: LayerNormConfig::new(self.d_model).init(device),
            max_len: self.max_len,
        }
    }
}

/// A pre-norm Transformer encoder usable wherever dl-core expects a [`SequenceEncoder`].
#[derive(Module, Debug)]
pub struct TransformerEncoder {
    /// Input projection.
    pub input: Linear,
    /// Learned positions.
    pub positions: Embedding,
    /// Layers.
    pub layers: Vec<EncoderLayer>,
    /// Final norm.
    pub norm: LayerNorm,
    #[module(skip)]
    max_len: usize,
}

impl SequenceEncoder for TransformerEncoder {
    fn input_size(&self) -> usize {
        self.input.weight.dims()[0]
    }

    fn output_size(&self) -> usize {
        self.input.weight.dims()[1]
    }

    /// Outputs of every step (zeros at padded steps); `last` is each
    /// sequence's state at its own last step; `state.h` holds `last` as a
    /// one-layer state (a Transformer carries no recurrent state, so an
    /// initial `state` is an error).
    fn encode(
        &self,
        input: Tensor<3>,
        lengths: Option<&[usize]>,
        state: Option<EncoderState>,
    ) -> dl_core::Result<EncoderOutput> {
        if state.is_some() {
            return Err(Error::WrongInput("a Transformer encoder has no recurrent state to start from".into()));
        }
        let [b, t, f] = input.dims();
        if f != self.input_size() {
            return Err(Error::shape("TransformerEncoder input", format!("[B, T, {}]", self.input_size()), f));
        }
        if t > self.max_len {
            return Err(Error::shape("TransformerEncoder input", format!("at most {} steps", self.max_len), t));
        }
        let device = input.device();
        let full = vec![t; b];
        let lengths = lengths.unwrap_or(&full);
        check_lengths("TransformerEncoder", lengths, b, t)?;
        let mask = lengths_mask(lengths, t, &device)?;
        let pos = Tensor::<1, Int>::arange(0..t as i64, &device).reshape([1, t]).repeat_dim(0, b);
        let mut x = self.input.forward(input) + self.positions.forward(pos);
        for layer in &self.layers {
            x = layer.forward(x, Some(mask.clone()))?.0;
        }
        let x = self.norm.forward(x);
        let d = self.output_size();
        let keep: Vec<f32> = lengths.iter().flat_map(|&n| (0..t).map(move |j| f32::from(u8::from(j < n)))).collect();
        let keep = Tensor::<3>::from_data(TensorData::new(keep, [b, t, 1]), &device);
        let output = x * keep.expand([b, t, d]);
        let idx: Vec<i64> = lengths.iter().enumerate().map(|(i, &n)| (i * t + n - 1) as i64).collect();
        let idx = Tensor::<1, Int>::from_data(TensorData::new(idx, [b]), &device);
        let last = output.clone().reshape([b * t, d]).select(0, idx);
        Ok(EncoderOutput { output, state: EncoderState { h: last.clone().unsqueeze::<3>(), c: None }, last })
    }
}
