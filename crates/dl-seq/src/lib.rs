#![doc = include_str!("../README.md")]
//! # dl-seq
//!
//! What the sequence families share: the recurrent machinery of the RNN, GRU
//! and LSTM crates, and the sequence heads, encoder-decoder and beam search
//! that the Transformer uses as well. The batches these models train on are
//! dl-core's [`dl_core::data::sequence`].
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
//! - [`beam`]: beam search over any decoder, recurrent or Transformer.
//! - [`ctc`]: the CTC loss with its checks, best-path and prefix beam decoding.
//!
//! burn's own `Rnn`/`Gru`/`Lstm` are single-layer cells with one pair of
//! `Linear` per gate and no sequence lengths, projection, peepholes or gate
//! read-out; the cells of this project keep all gates of a layer in one
//! `Linear` pair (PyTorch's layout, one matrix product per step instead of
//! one per gate) and add what burn lacks.

/// The shared core (errors, configs, training loop), so one dependency is enough.
pub use dl_core;
/// burn, as this crate uses it.
pub use dl_core::burn;

pub mod beam;
pub mod ctc;
pub mod heads;
pub mod seq2seq;
mod stack;

use burn::module::{Module, ModuleDisplay};
use burn::tensor::{Device, Tensor, TensorData};

pub use beam::{Decoded, beam_search};
pub use dl_core::data::sequence::{
    NextTokenBatcher, PairBatcher, PairItem, Seq2SeqBatch, SequenceBatch, SequenceInput, SequenceTarget, SeriesBatcher,
    SeriesSequence, TokenSequence, TokenSequenceBatcher, check_ids_below, check_lengths, ids_below,
};
pub use heads::{HeadConfig, Pooling, SequenceModel, SequenceModelConfig, SequenceTask};
pub use seq2seq::{
    AttentionKind, DecoderState, Encoded, Seq2Seq, Seq2SeqConfig, Seq2SeqHeadConfig, Translator, target_step_output,
};
pub use stack::{PlainStep, RecurrentStack, StepObserver, StepPosition};

/// State of one cell for a batch: `h` `[B, hidden]` and, for LSTMs, `c` `[B, cell]`.
#[derive(Debug, Clone)]
pub struct CellState {
    /// Hidden state (what the cell outputs).
    pub h: Tensor<2>,
    /// Cell state (LSTM only).
    pub c: Option<Tensor<2>>,
}

/// The state a sequence encoder starts from and ends with. For a recurrent
/// stack, PyTorch's layout: `h` `[layers * directions, B, hidden]`, rows
/// ordered layer 0 forward, layer 0 reverse, layer 1 forward, ...; an
/// attention encoder carries none between calls and reports its summary as a
/// one-layer `h`.
#[derive(Debug, Clone)]
pub struct EncoderState {
    /// Hidden states.
    pub h: Tensor<3>,
    /// Cell states (LSTM only), `[layers * directions, B, cell]`.
    pub c: Option<Tensor<3>>,
}

/// Outputs of a sequence encoder over a batch of sequences.
#[derive(Debug, Clone)]
pub struct EncoderOutput {
    /// Every step's output of the top layer, `[B, T, directions * hidden]`
    /// (zeros at padded steps).
    pub output: Tensor<3>,
    /// Final state of every layer and direction (at each sequence's own last step).
    pub state: EncoderState,
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

    /// Whether [`RecurrentCell::run_sequence`] is a fused kernel for this
    /// cell (dl-kernels), so that the stack runs whole layers at once on
    /// devices that have it.
    fn fusable(&self) -> bool {
        false
    }

    /// Runs the cell along a whole sequence `x` `[B, T, input]` from `init`,
    /// `mask` `[B, T]` marking real steps (1) and padding (0: the state is
    /// kept, the output is 0), in reverse order with `reverse`. Returns every
    /// step's output `[B, T, hidden]` and the final state. This default steps
    /// through [`RecurrentCell::step`]; cells with a fused kernel override it.
    fn run_sequence(&self, x: Tensor<3>, init: CellState, mask: Tensor<2>, reverse: bool) -> (Tensor<3>, CellState) {
        step_sequence(self, x, init, mask, reverse)
    }
}

/// The bias of a recurrent cell's whole-sequence input projection: the
/// input and the hidden layer's biases summed (PyTorch keeps both), either
/// alone, or none.
pub fn summed_bias(input: &burn::nn::Linear, hidden: &burn::nn::Linear) -> Option<Tensor<1>> {
    match (&input.bias, &hidden.bias) {
        (Some(a), Some(b)) => Some(a.val() + b.val()),
        (Some(a), None) => Some(a.val()),
        (None, Some(b)) => Some(b.val()),
        (None, None) => None,
    }
}

/// [`RecurrentCell::run_sequence`] by stepping through [`RecurrentCell::step`]:
/// the composition every fused kernel must equal.
pub fn step_sequence<C: RecurrentCell>(
    cell: &C,
    x: Tensor<3>,
    init: CellState,
    mask: Tensor<2>,
    reverse: bool,
) -> (Tensor<3>, CellState) {
    let [b, t, _] = x.dims();
    let steps = unstack_steps(x);
    let mut out: Vec<Option<Tensor<2>>> = vec![None; t];
    let mut state = init;
    for i in 0..t {
        let k = if reverse { t - 1 - i } else { i };
        // [B, 1]
        let m = mask.clone().slice([0..b, k..k + 1]);
        let new = cell.step(steps[k].clone(), state.clone());
        let keep = |old: Tensor<2>, new: Tensor<2>| old.clone() + (new - old) * m.clone();
        out[k] = Some(new.h.clone() * m.clone());
        state = CellState {
            h: keep(state.h, new.h),
            c: match (state.c, new.c) {
                (Some(o), Some(n)) => Some(keep(o, n)),
                (_, n) => n,
            },
        };
    }
    // [B, T, hidden]
    (Tensor::stack(out.into_iter().flatten().collect(), 1), state)
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
        state: Option<EncoderState>,
    ) -> dl_core::Result<EncoderOutput>;
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
