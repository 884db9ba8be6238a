//! Position-wise feed-forward layers: ReLU / GELU MLPs and SwiGLU.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Initializer, Linear, SwiGlu, SwiGluConfig};

use crate::attention::normal_linear;
use burn::tensor::Tensor;
use burn::tensor::activation::{gelu_approximate, relu};
use serde::{Deserialize, Serialize};

use dl_core::config::check;
use dl_core::{Error, ModelConfig};

/// The non-linearity of a feed-forward layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Activation {
    /// `max(0, x)`: the original Transformer.
    Relu,
    /// Exact GELU `x Φ(x)` (erf): BERT, PyTorch's `activation="gelu"`.
    Gelu,
    /// GELU's tanh approximation (`gelu_new`): GPT-2.
    GeluTanh,
    /// `down(silu(gate(x)) ⊙ up(x))`: LLaMA.
    SwiGlu,
}

impl Activation {
    /// Parses the names used by PyTorch and Hugging Face configs.
    pub fn parse(name: &str) -> dl_core::Result<Self> {
        match name {
            "relu" => Ok(Self::Relu),
            "gelu" => Ok(Self::Gelu),
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Ok(Self::GeluTanh),
            "silu" | "swiglu" => Ok(Self::SwiGlu),
            other => Err(Error::Unknown {
                kind: "activation",
                value: other.into(),
                context: "expected relu, gelu, gelu_new or silu".into(),
            }),
        }
    }
}

/// Hyper-parameters of [`FeedForward`].
#[derive(Config, Debug)]
pub struct FeedForwardConfig {
    /// Input and output width.
    pub d_model: usize,
    /// Hidden width.
    pub d_ff: usize,
    /// Non-linearity.
    #[config(default = "Activation::Gelu")]
    pub activation: Activation,
    /// Biases on the linear layers.
    #[config(default = true)]
    pub bias: bool,
    /// Dropout after the activation (training only).
    #[config(default = 0.0)]
    pub dropout: f64,
    /// Normal initialisation of the input projection(s); `None`: burn's default.
    #[config(default = "None")]
    pub init_std: Option<f64>,
    /// Normal initialisation of the output projection; `None`: `init_std`.
    #[config(default = "None")]
    pub out_init_std: Option<f64>,
}

impl ModelConfig for FeedForwardConfig {
    type Model = FeedForward;

    fn validate(&self) -> dl_core::Result<()> {
        check::positive("FeedForwardConfig", "d_model", self.d_model)?;
        check::positive("FeedForwardConfig", "d_ff", self.d_ff)?;
        check::probability("FeedForwardConfig", "dropout", self.dropout)
    }

    fn build(&self, device: &burn::tensor::Device) -> FeedForward {
        let (inner, swiglu) = match self.activation {
            Activation::SwiGlu => {
                let mut cfg = SwiGluConfig::new(self.d_model, self.d_ff).with_bias(self.bias);
                if let Some(std) = self.init_std {
                    cfg = cfg.with_initializer(Initializer::Normal { mean: 0.0, std });
                }
                (None, Some(cfg.init(device)))
            }
            _ => (Some(normal_linear(self.d_model, self.d_ff, self.bias, self.init_std, device)), None),
        };
        FeedForward {
            inner,
            swiglu,
            down: normal_linear(self.d_ff, self.d_model, self.bias, self.out_init_std.or(self.init_std), device),
            dropout: DropoutConfig::new(self.dropout).init(),
            activation: self.activation,
        }
    }
}

/// `down(act(inner(x)))`, or burn's [`SwiGlu`] (`silu(linear_inner x) ⊙ linear_outer x`,
/// i.e. LLaMA's gate and up projections) followed by `down`.
#[derive(Module, Debug)]
pub struct FeedForward {
    /// First projection of the MLP variants.
    pub inner: Option<Linear>,
    /// Gate (`linear_inner`) and up (`linear_outer`) projections of the SwiGLU variant.
    pub swiglu: Option<SwiGlu>,
    /// Projection back to `d_model`.
    pub down: Linear,
    dropout: Dropout,
    #[module(skip)]
    activation: Activation,
}

impl FeedForward {
    /// The non-linearity.
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// Applies the layer to the last dimension of `x`.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let h = match &self.swiglu {
            Some(swiglu) => swiglu.forward(x),
            None => {
                let h = match &self.inner {
                    Some(inner) => dl_kernels::linear(inner, x),
                    None => x,
                };
                match self.activation {
                    Activation::Relu => relu(h),
                    Activation::Gelu => dl_kernels::gelu(h),
                    Activation::GeluTanh | Activation::SwiGlu => gelu_approximate(h),
                }
            }
        };
        dl_kernels::linear(&self.down, self.dropout.forward(h))
    }
}
