//! Recurrent machinery shared by the RNN, GRU and LSTM families.
//!
//! A recurrent network is a *cell* (one time step: input and previous state in,
//! new state out) run along a sequence, stacked in layers and optionally in
//! both directions. Only the cell differs between an Elman RNN, a GRU and an
//! LSTM, so the family crates implement [`RecurrentCell`] and everything else
//! is written once here:
//!
//! - [`RecurrentStack`]: layers x directions, dropout between layers, initial
//!   states, and variable-length batches (padded steps never change outputs or
//!   states; each sequence's final state is taken at its own last step).
//! - [`heads`]: many-to-one classifier and regressor, many-to-many tagger,
//!   usable with any [`SequenceEncoder`].
//! - [`seq2seq`]: an encoder-decoder with additive or multiplicative
//!   attention, teacher forcing, greedy and beam-search decoding.
//!
//! burn's own `Rnn`/`Gru`/`Lstm` are single-layer cells with one pair of
//! `Linear` per gate and no sequence lengths, projection, peepholes or gate
//! read-out; the cells of this project keep all gates of a layer in one
//! `Linear` pair (PyTorch's layout, one matrix product per step instead of
//! one per gate) and add what burn lacks.

pub mod heads;
pub mod seq2seq;
mod stack;
pub mod translation;

use burn::module::{Module, ModuleDisplay};
use burn::tensor::{Device, Tensor, TensorData};

pub use stack::{RecurrentStack, StepObserver, StepPosition};

use crate::{Error, Result};

/// State of one cell for a batch: `h` `[B, hidden]` and, for LSTMs, `c` `[B, cell]`.
#[derive(Debug, Clone)]
pub struct CellState {
    /// Hidden state (what the cell outputs).
    pub h: Tensor<2>,
    /// Cell state (LSTM only).
    pub c: Option<Tensor<2>>,
}

/// State of a whole stack in PyTorch's layout: `h` `[layers * directions, B, hidden]`,
/// rows ordered layer 0 forward, layer 0 reverse, layer 1 forward, ...
#[derive(Debug, Clone)]
pub struct RecurrentState {
    /// Hidden states.
    pub h: Tensor<3>,
    /// Cell states (LSTM only), `[layers * directions, B, cell]`.
    pub c: Option<Tensor<3>>,
}

/// Outputs of a stack over a batch of sequences.
#[derive(Debug, Clone)]
pub struct RecurrentOutput {
    /// Every step's output of the top layer, `[B, T, directions * hidden]`
    /// (zeros at padded steps).
    pub output: Tensor<3>,
    /// Final state of every layer and direction (at each sequence's own last step).
    pub state: RecurrentState,
    /// The top layer's final hidden state, forward and reverse concatenated:
    /// `[B, directions * hidden]`, the usual summary of a whole sequence.
    pub last: Tensor<2>,
}

/// One time step of a recurrent network. The family crates implement this;
/// [`RecurrentStack`] runs it along sequences.
pub trait RecurrentCell: Module + ModuleDisplay {
    /// Width of the input vector.
    fn input_size(&self) -> usize;
    /// Width of the hidden state `h` (the output).
    fn hidden_size(&self) -> usize;
    /// Width of the cell state `c`, for cells that have one.
    fn cell_size(&self) -> Option<usize>;
    /// Computes the next state from input `x` `[B, input]` and `state`.
    fn step(&self, x: Tensor<2>, state: CellState) -> CellState;
}

/// Anything that turns a batch of sequences into per-step outputs and a summary:
/// a [`RecurrentStack`] of any cell. The heads are generic over this.
pub trait SequenceEncoder: Module + ModuleDisplay {
    /// Width of each step's input.
    fn input_size(&self) -> usize;
    /// Width of each step's output (`directions * hidden`).
    fn output_size(&self) -> usize;
    /// Width of the summary `last` (equal to `output_size`).
    fn summary_size(&self) -> usize {
        self.output_size()
    }
    /// Runs the encoder; `lengths` (one per sequence, `1..=T`) mark padding.
    fn encode(
        &self,
        input: Tensor<3>,
        lengths: Option<&[usize]>,
        state: Option<RecurrentState>,
    ) -> Result<RecurrentOutput>;
}

/// Checks that `lengths` has one entry per sequence, each in `1..=t`.
pub fn check_lengths(context: &str, lengths: &[usize], batch: usize, t: usize) -> Result<()> {
    if lengths.len() != batch {
        return Err(Error::shape(context, format!("{batch} sequence lengths"), format!("{}", lengths.len())));
    }
    if let Some((i, &l)) = lengths.iter().enumerate().find(|(_, l)| **l == 0 || **l > t) {
        return Err(Error::shape(
            format!("{context}: length of sequence {i}"),
            format!("1..={t} (the padded length)"),
            l.to_string(),
        ));
    }
    Ok(())
}

/// Per-step masks `[B, 1]` (1 where step `t` is inside the sequence, else 0) for the
/// steps where some sequence is padded; `None` for steps where every sequence is real.
pub fn step_masks(lengths: &[usize], t: usize, device: &Device) -> Vec<Option<Tensor<2>>> {
    let b = lengths.len();
    (0..t)
        .map(|step| {
            if lengths.iter().all(|&l| step < l) {
                return None;
            }
            let m: Vec<f32> = lengths.iter().map(|&l| if step < l { 1.0 } else { 0.0 }).collect();
            Some(Tensor::from_data(TensorData::new(m, [b, 1]), device))
        })
        .collect()
}

/// Mask `[B, T]` with 1 at real steps and 0 at padding.
pub fn length_mask(lengths: &[usize], t: usize, device: &Device) -> Tensor<2> {
    let b = lengths.len();
    let m: Vec<f32> = lengths.iter().flat_map(|&l| (0..t).map(move |s| if s < l { 1.0 } else { 0.0 })).collect();
    Tensor::from_data(TensorData::new(m, [b, t]), device)
}

/// Splits `[B, T, F]` into `T` tensors `[B, F]`.
pub fn unstack_steps(x: Tensor<3>) -> Vec<Tensor<2>> {
    let [b, t, f] = x.dims();
    if t == 0 {
        return Vec::new();
    }
    x.chunk(t, 1).into_iter().map(|s| s.reshape([b, f])).collect()
}
