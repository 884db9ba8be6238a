//! Validated configurations of the Elman RNN and the GRU (PyTorch's arguments).

use burn::config::Config;
use burn::tensor::Device;

use crate::cell::{GruCell, Nonlinearity, RnnCell};
use crate::{Gru, Rnn};
use dl_core::config::check;
use dl_core::{Error, ModelConfig};
use dl_seq::RecurrentStack;

/// Checks the arguments shared by every recurrent config.
pub(crate) fn check_common(
    config: &'static str,
    input_size: usize,
    hidden_size: usize,
    num_layers: usize,
    dropout: f64,
) -> dl_core::Result<()> {
    check::positive(config, "input_size", input_size)?;
    check::positive(config, "hidden_size", hidden_size)?;
    check::positive(config, "num_layers", num_layers)?;
    check::probability(config, "dropout", dropout)?;
    if dropout > 0.0 && num_layers == 1 {
        return Err(Error::config(config, "dropout", "applies between layers: needs num_layers >= 2"));
    }
    Ok(())
}

/// An Elman RNN stack, as `torch.nn.RNN(input_size, hidden_size, num_layers, nonlinearity,
/// bias, batch_first=True, dropout, bidirectional)`.
#[derive(Config, Debug, PartialEq)]
pub struct RnnConfig {
    /// Features per input step.
    pub input_size: usize,
    /// Hidden state width.
    pub hidden_size: usize,
    /// Stacked layers.
    #[config(default = 1)]
    pub num_layers: usize,
    /// tanh or relu.
    #[config(default = "Nonlinearity::Tanh")]
    pub nonlinearity: Nonlinearity,
    /// Biases `b_ih`, `b_hh`.
    #[config(default = true)]
    pub bias: bool,
    /// Dropout on the outputs of every layer but the last, while training.
    #[config(default = 0.0)]
    pub dropout: f64,
    /// Also run each layer backwards and concatenate.
    #[config(default = false)]
    pub bidirectional: bool,
}

impl ModelConfig for RnnConfig {
    type Model = Rnn;

    fn validate(&self) -> dl_core::Result<()> {
        check_common("RnnConfig", self.input_size, self.hidden_size, self.num_layers, self.dropout)
    }

    fn build(&self, device: &Device) -> Rnn {
        let dirs = if self.bidirectional { 2 } else { 1 };
        let cell = |k: usize| {
            let d_in = if k == 0 { self.input_size } else { dirs * self.hidden_size };
            RnnCell::new(d_in, self.hidden_size, self.bias, self.nonlinearity, device)
        };
        let forward = (0..self.num_layers).map(cell).collect();
        let reverse = if self.bidirectional { (0..self.num_layers).map(cell).collect() } else { Vec::new() };
        RecurrentStack::assemble(forward, reverse, self.dropout)
    }
}

/// A GRU stack, as `torch.nn.GRU(input_size, hidden_size, num_layers, bias,
/// batch_first=True, dropout, bidirectional)`.
#[derive(Config, Debug, PartialEq)]
pub struct GruConfig {
    /// Features per input step.
    pub input_size: usize,
    /// Hidden state width.
    pub hidden_size: usize,
    /// Stacked layers.
    #[config(default = 1)]
    pub num_layers: usize,
    /// Biases.
    #[config(default = true)]
    pub bias: bool,
    /// Dropout on the outputs of every layer but the last, while training.
    #[config(default = 0.0)]
    pub dropout: f64,
    /// Also run each layer backwards and concatenate.
    #[config(default = false)]
    pub bidirectional: bool,
}

impl ModelConfig for GruConfig {
    type Model = Gru;

    fn validate(&self) -> dl_core::Result<()> {
        check_common("GruConfig", self.input_size, self.hidden_size, self.num_layers, self.dropout)
    }

    fn build(&self, device: &Device) -> Gru {
        let dirs = if self.bidirectional { 2 } else { 1 };
        let cell = |k: usize| {
            let d_in = if k == 0 { self.input_size } else { dirs * self.hidden_size };
            GruCell::new(d_in, self.hidden_size, self.bias, device)
        };
        let forward = (0..self.num_layers).map(cell).collect();
        let reverse = if self.bidirectional { (0..self.num_layers).map(cell).collect() } else { Vec::new() };
        RecurrentStack::assemble(forward, reverse, self.dropout)
    }
}
