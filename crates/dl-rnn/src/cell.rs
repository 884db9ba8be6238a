//! The Elman and GRU cells (one time step).
//!
//! Each cell keeps all its gates in one input `Linear` and one hidden
//! `Linear` (`[in, G * H]`, `[H, G * H]`), the layout of PyTorch's
//! `weight_ih` / `weight_hh` transposed. burn's `Rnn`/`Gru` use one `Linear`
//! pair per gate and run a whole single-layer sequence themselves, without
//! lengths or initial states per layer; these cells are driven by
//! [`dl_seq::RecurrentStack`], which adds those.

use burn::module::Module;
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::Tensor;
use burn::tensor::activation::{relu, sigmoid};
use serde::{Deserialize, Serialize};

use dl_seq::{CellState, RecurrentCell};

/// The Elman RNN's activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Nonlinearity {
    /// `tanh` (PyTorch's default): bounded, so states cannot blow up.
    #[default]
    Tanh,
    /// `relu`: unbounded; with identity-like recurrent weights it can carry
    /// information further, at the risk of exploding activations.
    Relu,
}

/// PyTorch's initialisation of recurrent weights: `U(-1/sqrt(H), 1/sqrt(H))`.
pub(crate) fn pytorch_init(hidden: usize) -> Initializer {
    let k = 1.0 / (hidden as f64).sqrt();
    Initializer::Uniform { min: -k, max: k }
}

/// A `[d_in, d_out]` linear layer with PyTorch's recurrent initialisation.
pub(crate) fn gate_linear(
    d_in: usize,
    d_out: usize,
    hidden: usize,
    bias: bool,
    device: &burn::tensor::Device,
) -> Linear {
    LinearConfig::new(d_in, d_out).with_bias(bias).with_initializer(pytorch_init(hidden)).init(device)
}

/// One step of an Elman RNN.
#[derive(Module, Debug)]
pub struct RnnCell {
    /// `W_ih x + b_ih`, `[in, H]`.
    pub input: Linear,
    /// `W_hh h + b_hh`, `[H, H]`.
    pub hidden: Linear,
    #[module(skip)]
    nonlinearity: Nonlinearity,
}

impl RnnCell {
    /// A cell with PyTorch's initialisation.
    pub fn new(
        input: usize,
        hidden: usize,
        bias: bool,
        nonlinearity: Nonlinearity,
        device: &burn::tensor::Device,
    ) -> Self {
        Self {
            input: gate_linear(input, hidden, hidden, bias, device),
            hidden: gate_linear(hidden, hidden, hidden, bias, device),
            nonlinearity,
        }
    }

    /// The activation.
    pub fn nonlinearity(&self) -> Nonlinearity {
        self.nonlinearity
    }
}

impl RecurrentCell for RnnCell {
    fn input_size(&self) -> usize {
        self.input.weight.dims()[0]
    }
    fn hidden_size(&self) -> usize {
        self.hidden.weight.dims()[0]
    }
    fn cell_size(&self) -> Option<usize> {
        None
    }
    fn step(&self, x: Tensor<2>, state: CellState) -> CellState {
        let pre = self.input.forward(x) + self.hidden.forward(state.h);
        let h = match self.nonlinearity {
            Nonlinearity::Tanh => pre.tanh(),
            Nonlinearity::Relu => relu(pre),
        };
        CellState { h, c: None }
    }
    fn fusable(&self) -> bool {
        true
    }
    fn run_sequence(&self, x: Tensor<3>, init: CellState, mask: Tensor<2>, reverse: bool) -> (Tensor<3>, CellState) {
        // [B, T, H]: the input projection of every step, both biases, in one product.
        let gx = dl_kernels::affine(x, self.input.weight.val(), dl_seq::summed_bias(&self.input, &self.hidden));
        let relu = self.nonlinearity == Nonlinearity::Relu;
        let (out, h) = dl_kernels::elman_layer(gx, self.hidden.weight.val(), init.h, mask, reverse, relu);
        (out, CellState { h, c: None })
    }
}

/// One step of a GRU. Gate blocks in PyTorch's order: reset, update, new.
#[derive(Module, Debug)]
pub struct GruCell {
    /// `W_i{r,z,n} x + b_i{r,z,n}`, `[in, 3H]`.
    pub input: Linear,
    /// `W_h{r,z,n} h + b_h{r,z,n}`, `[H, 3H]`.
    pub hidden: Linear,
}

impl GruCell {
    /// A cell with PyTorch's initialisation.
    pub fn new(input: usize, hidden: usize, bias: bool, device: &burn::tensor::Device) -> Self {
        Self {
            input: gate_linear(input, 3 * hidden, hidden, bias, device),
            hidden: gate_linear(hidden, 3 * hidden, hidden, bias, device),
        }
    }
}

impl RecurrentCell for GruCell {
    fn input_size(&self) -> usize {
        self.input.weight.dims()[0]
    }
    fn hidden_size(&self) -> usize {
        self.hidden.weight.dims()[0]
    }
    fn cell_size(&self) -> Option<usize> {
        None
    }
    fn step(&self, x: Tensor<2>, state: CellState) -> CellState {
        let gi = self.input.forward(x).chunk(3, 1);
        let gh = self.hidden.forward(state.h.clone()).chunk(3, 1);
        let [ir, iz, inn] = [gi[0].clone(), gi[1].clone(), gi[2].clone()];
        let [hr, hz, hn] = [gh[0].clone(), gh[1].clone(), gh[2].clone()];
        let r = sigmoid(ir + hr);
        let z = sigmoid(iz + hz);
        // The reset gate scales the hidden projection *including* its bias (PyTorch, cuDNN).
        let n = (inn + r * hn).tanh();
        let h = n.clone() + z * (state.h - n);
        CellState { h, c: None }
    }
}
