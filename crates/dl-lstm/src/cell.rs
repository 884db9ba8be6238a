//! The LSTM cell (one time step), with optional peepholes and projection.
//!
//! All four gates of a layer live in one input `Linear` `[in, 4H]` and one
//! hidden `Linear` `[P, 4H]` in PyTorch's block order i, f, g, o, so one
//! matrix product per step computes every gate. burn's `Lstm` has one `Linear`
//! pair per gate and no projection, peepholes or gate read-out, which is why
//! this cell exists.

use burn::module::{Module, Param};
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor, TensorData};

use dl_seq::{CellState, RecurrentCell};

/// What the gates did at one step, for a batch: each `[B, H]`.
#[derive(Debug, Clone)]
pub struct GateValues {
    /// Input gate `i`: how much of the candidate is written.
    pub input: Tensor<2>,
    /// Forget gate `f`: how much of the old cell is kept.
    pub forget: Tensor<2>,
    /// Output gate `o`: how much of the cell is shown.
    pub output: Tensor<2>,
    /// The new cell state `c'`.
    pub cell: Tensor<2>,
}

/// One step of an LSTM.
#[derive(Module, Debug)]
pub struct LstmCell {
    /// `W_i{i,f,g,o} x + b_i*`, `[in, 4H]`.
    pub input: Linear,
    /// `W_h{i,f,g,o} h + b_h*`, `[P, 4H]`.
    pub hidden: Linear,
    /// Peephole weights `[3, H]` (rows: input, forget, output gate), diagonal
    /// connections from the cell state into the gates.
    pub peephole: Option<Param<Tensor<2>>>,
    /// Projection `W_hr` `[H, P]` (no bias): the projected `h` is both the output
    /// and the recurrent state, shrinking the recurrent matrix.
    pub projection: Option<Linear>,
}

impl LstmCell {
    /// A cell with PyTorch's initialisation `U(-1/sqrt(H), 1/sqrt(H))`; the forget gate's
    /// bias starts at `forget_bias` (0 is PyTorch's default; 1 helps remembering early on).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        input: usize,
        hidden: usize,
        proj: usize,
        bias: bool,
        peephole: bool,
        forget_bias: f64,
        device: &Device,
    ) -> Self {
        let k = 1.0 / (hidden as f64).sqrt();
        let init = Initializer::Uniform { min: -k, max: k };
        let state = if proj > 0 { proj } else { hidden };
        let mut input_l =
            LinearConfig::new(input, 4 * hidden).with_bias(bias).with_initializer(init.clone()).init(device);
        let mut hidden_l =
            LinearConfig::new(state, 4 * hidden).with_bias(bias).with_initializer(init.clone()).init(device);
        if forget_bias != 0.0 {
            // The two biases add up: put the whole value on b_if and zero b_hf.
            // (Built on the host: an in-place edit of an initialised parameter would be a
            // tracked operation on an autodiff device, not a leaf.)
            let fill = |b: Param<Tensor<1>>, v: f32| -> Param<Tensor<1>> {
                let t = b.val();
                let device = t.device();
                let mut values = t.into_data().convert::<f32>().try_into_vec::<f32>().unwrap_or_default();
                values.iter_mut().skip(hidden).take(hidden).for_each(|x| *x = v);
                Param::from_tensor(Tensor::from_data(TensorData::new(values, [4 * hidden]), &device))
            };
            input_l.bias = input_l.bias.map(|b| fill(b, forget_bias as f32));
            hidden_l.bias = hidden_l.bias.map(|b| fill(b, 0.0));
        }
        Self {
            input: input_l,
            hidden: hidden_l,
            peephole: peephole.then(|| Param::from_tensor(Tensor::zeros([3, hidden], device))),
            projection: (proj > 0)
                .then(|| LinearConfig::new(hidden, proj).with_bias(false).with_initializer(init).init(device)),
        }
    }

    /// Width of the cell state `H`.
    pub fn cell_width(&self) -> usize {
        self.input.weight.dims()[1] / 4
    }

    /// One step that also returns the gate activations.
    pub fn step_gates(&self, x: Tensor<2>, state: CellState) -> (CellState, GateValues) {
        let [b, h] = [x.dims()[0], self.cell_width()];
        let c = state.c.unwrap_or_else(|| Tensor::zeros([b, h], &x.device()));
        let g = self.input.forward(x) + self.hidden.forward(state.h);
        let blocks = g.chunk(4, 1);
        let (mut pi, mut pf, pg, mut po) = (blocks[0].clone(), blocks[1].clone(), blocks[2].clone(), blocks[3].clone());
        let peep = self.peephole.as_ref().map(|p| {
            let p = p.val();
            (p.clone().slice([0..1, 0..h]), p.clone().slice([1..2, 0..h]), p.slice([2..3, 0..h]))
        });
        if let Some((wi, wf, _)) = &peep {
            pi = pi + c.clone() * wi.clone();
            pf = pf + c.clone() * wf.clone();
        }
        let i = sigmoid(pi);
        let f = sigmoid(pf);
        let cand = pg.tanh();
        let c_new = f.clone() * c + i.clone() * cand;
        if let Some((_, _, wo)) = &peep {
            po = po + c_new.clone() * wo.clone();
        }
        let o = sigmoid(po);
        let mut h_new = o.clone() * c_new.clone().tanh();
        if let Some(p) = &self.projection {
            h_new = p.forward(h_new);
        }
        let gates = GateValues { input: i, forget: f, output: o, cell: c_new.clone() };
        (CellState { h: h_new, c: Some(c_new) }, gates)
    }
}

impl RecurrentCell for LstmCell {
    fn input_size(&self) -> usize {
        self.input.weight.dims()[0]
    }
    fn hidden_size(&self) -> usize {
        self.hidden.weight.dims()[0]
    }
    fn cell_size(&self) -> Option<usize> {
        Some(self.cell_width())
    }
    fn step(&self, x: Tensor<2>, state: CellState) -> CellState {
        self.step_gates(x, state).0
    }
    /// Cells without peepholes or projection have the fused layer.
    fn fusable(&self) -> bool {
        self.peephole.is_none() && self.projection.is_none()
    }
    fn run_sequence(&self, x: Tensor<3>, init: CellState, mask: Tensor<2>, reverse: bool) -> (Tensor<3>, CellState) {
        if !self.fusable() {
            return dl_seq::step_sequence(self, x, init, mask, reverse);
        }
        let [b, h] = [x.dims()[0], self.cell_width()];
        let c0 = init.c.unwrap_or_else(|| Tensor::zeros([b, h], &x.device()));
        // [B, T, 4H]: the input projection of every step, both biases, in one product.
        let gx = dl_kernels::affine(x, self.input.weight.val(), dl_seq::summed_bias(&self.input, &self.hidden));
        let run = dl_kernels::lstm_layer(gx, self.hidden.weight.val(), init.h, c0, mask, reverse);
        (run.outputs, CellState { h: run.h, c: Some(run.c) })
    }
}
