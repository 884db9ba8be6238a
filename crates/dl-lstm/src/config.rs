//! The validated LSTM configuration (PyTorch's arguments plus peepholes and forget bias).

use burn::config::Config;
use burn::tensor::Device;

use crate::Lstm;
use crate::cell::LstmCell;
use dl_core::config::check;
use dl_core::{Error, ModelConfig};
use dl_seq::RecurrentStack;

/// An LSTM stack, as `torch.nn.LSTM(input_size, hidden_size, num_layers, bias,
/// batch_first=True, dropout, bidirectional, proj_size)`, plus `peephole` and
/// `forget_bias`.
#[derive(Config, Debug, PartialEq)]
pub struct LstmConfig {
    /// Features per input step.
    pub input_size: usize,
    /// Cell state width `H`.
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
    /// Projected hidden width `P` (0: none). Must be below `hidden_size`.
    #[config(default = 0)]
    pub proj_size: usize,
    /// Peephole connections from the cell into the gates.
    #[config(default = false)]
    pub peephole: bool,
    /// Initial forget-gate bias (PyTorch: 0; 1.0 makes the untrained cell remember).
    #[config(default = 1.0)]
    pub forget_bias: f64,
}

impl LstmConfig {
    /// Width of `h` (the output of each direction): `proj_size` or `hidden_size`.
    pub fn state_size(&self) -> usize {
        if self.proj_size > 0 { self.proj_size } else { self.hidden_size }
    }
}

impl ModelConfig for LstmConfig {
    type Model = Lstm;

    fn validate(&self) -> dl_core::Result<()> {
        let c = "LstmConfig";
        check::positive(c, "input_size", self.input_size)?;
        check::positive(c, "hidden_size", self.hidden_size)?;
        check::positive(c, "num_layers", self.num_layers)?;
        check::probability(c, "dropout", self.dropout)?;
        if self.dropout > 0.0 && self.num_layers == 1 {
            return Err(Error::config(c, "dropout", "applies between layers: needs num_layers >= 2"));
        }
        if self.proj_size > 0 && self.proj_size >= self.hidden_size {
            return Err(Error::config(c, "proj_size", "must be smaller than hidden_size (0 for none)"));
        }
        if !self.forget_bias.is_finite() {
            return Err(Error::config(c, "forget_bias", "must be finite"));
        }
        if self.forget_bias != 0.0 && !self.bias {
            return Err(Error::config(c, "forget_bias", "needs bias = true (set forget_bias to 0)"));
        }
        Ok(())
    }

    fn build(&self, device: &Device) -> Lstm {
        let dirs = if self.bidirectional { 2 } else { 1 };
        let cell = |k: usize| {
            let d_in = if k == 0 { self.input_size } else { dirs * self.state_size() };
            LstmCell::new(d_in, self.hidden_size, self.proj_size, self.bias, self.peephole, self.forget_bias, device)
        };
        let forward = (0..self.num_layers).map(cell).collect();
        let reverse = if self.bidirectional { (0..self.num_layers).map(cell).collect() } else { Vec::new() };
        RecurrentStack::assemble(forward, reverse, self.dropout)
    }
}
