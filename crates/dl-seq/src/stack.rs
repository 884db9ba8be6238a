//! Layers x directions of a recurrent cell, with lengths, initial states and dropout.

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig};
use burn::tensor::Tensor;

use dl_core::data::sequence::check_lengths;

use crate::{
    CellState, EncoderOutput, EncoderState, RecurrentCell, SequenceEncoder, length_mask, step_masks, unstack_steps,
};
use dl_core::{Error, Result};

/// Where a step happens: which layer, which direction, which time index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepPosition {
    /// Layer index, 0 at the input.
    pub layer: usize,
    /// True for the reverse direction of a bidirectional layer.
    pub reverse: bool,
    /// Time index in the input sequence.
    pub t: usize,
}

/// Called for every step instead of [`RecurrentCell::step`]; lets a family crate record
/// what happens inside its cell (the LSTM's gate read-out) without a second driver.
pub trait StepObserver<C> {
    /// Runs the step of `cell` at `pos` and returns the new state.
    fn step(&mut self, cell: &C, pos: StepPosition, x: Tensor<2>, state: CellState) -> CellState;
}

/// The observer that just steps: with [`RecurrentStack::forward_with`] it
/// runs the composition of standard ops, also where a fused kernel exists
/// (for comparisons and A/B runs).
#[derive(Debug, Clone, Copy, Default)]
pub struct PlainStep;

impl<C: RecurrentCell> StepObserver<C> for PlainStep {
    fn step(&mut self, cell: &C, _pos: StepPosition, x: Tensor<2>, state: CellState) -> CellState {
        cell.step(x, state)
    }
}

/// A stack of recurrent layers, optionally bidirectional.
///
/// Layer `k > 0` reads the concatenation `[forward, reverse]` of layer `k - 1`'s
/// outputs, with dropout in between while training (as PyTorch's `dropout`
/// argument). The reverse direction runs from the last real step of each
/// sequence back to the first.
#[derive(Module, Debug)]
pub struct RecurrentStack<C: RecurrentCell + Module> {
    /// Forward cells, one per layer.
    pub forward: Vec<C>,
    /// Reverse cells, one per layer (empty if unidirectional).
    pub reverse: Vec<C>,
    /// Dropout between layers.
    pub dropout: Dropout,
}

impl<C: RecurrentCell + Module> RecurrentStack<C> {
    /// Assembles a stack. `reverse` is empty or has one cell per layer; layer `k`'s input
    /// width must be `directions * hidden` of layer `k - 1`.
    pub fn new(forward: Vec<C>, reverse: Vec<C>, dropout: f64) -> Result<Self> {
        if forward.is_empty() {
            return Err(Error::config("RecurrentStack", "num_layers", "must be at least 1"));
        }
        if !reverse.is_empty() && reverse.len() != forward.len() {
            return Err(Error::config("RecurrentStack", "reverse", "needs one cell per layer"));
        }
        dl_core::config::check::probability("RecurrentStack", "dropout", dropout)?;
        let dirs = if reverse.is_empty() { 1 } else { 2 };
        for k in 1..forward.len() {
            let want = dirs * forward[k - 1].hidden_size();
            for cell in std::iter::once(&forward[k]).chain(reverse.get(k)) {
                if cell.input_size() != want {
                    return Err(Error::config(
                        "RecurrentStack",
                        format!("layer {k} input_size"),
                        format!("must be {want} (directions x hidden of layer {}), got {}", k - 1, cell.input_size()),
                    ));
                }
            }
        }
        for (k, (f, r)) in forward.iter().zip(&reverse).enumerate() {
            if f.input_size() != r.input_size() || f.hidden_size() != r.hidden_size() {
                return Err(Error::config("RecurrentStack", format!("layer {k}"), "forward and reverse cells differ"));
            }
        }
        Ok(Self::assemble(forward, reverse, dropout))
    }

    /// Assembles a stack without the checks of [`RecurrentStack::new`]; for configs whose
    /// `validate()` already guarantees consistent layers and a dropout in `[0, 1)`.
    pub fn assemble(forward: Vec<C>, reverse: Vec<C>, dropout: f64) -> Self {
        Self { forward, reverse, dropout: DropoutConfig::new(dropout.clamp(0.0, 0.999)).init() }
    }

    /// Number of layers.
    pub fn num_layers(&self) -> usize {
        self.forward.len()
    }

    /// 2 if bidirectional, else 1.
    pub fn directions(&self) -> usize {
        if self.reverse.is_empty() { 1 } else { 2 }
    }

    /// Hidden width of the top layer.
    pub fn hidden_size(&self) -> usize {
        self.forward.last().map(|c| c.hidden_size()).unwrap_or(0)
    }

    /// Runs the stack over `input` `[B, T, input]`.
    ///
    /// `lengths`: one per sequence in `1..=T`; steps at or past a sequence's length
    /// leave its state unchanged and output zeros. `state`: initial states in PyTorch's
    /// layout (zeros when `None`); LSTM stacks need both `h` and `c`.
    pub fn forward(
        &self,
        input: Tensor<3>,
        lengths: Option<&[usize]>,
        state: Option<EncoderState>,
    ) -> Result<EncoderOutput> {
        let fuse = dl_kernels::fused_on(&input.device())
            && self.forward.iter().chain(&self.reverse).all(RecurrentCell::fusable);
        if fuse {
            return self.forward_layers(input, lengths, state);
        }
        self.forward_with(input, lengths, state, &mut PlainStep)
    }

    /// [`RecurrentStack::forward`] one whole layer and direction at a time
    /// ([`RecurrentCell::run_sequence`]): the path of cells with a fused kernel.
    fn forward_layers(
        &self,
        input: Tensor<3>,
        lengths: Option<&[usize]>,
        state: Option<EncoderState>,
    ) -> Result<EncoderOutput> {
        let [b, t, _] = self.check_input(&input, lengths)?;
        let device = input.device();
        let rows = self.num_layers() * self.directions();
        let mut initial = self.initial_states(state, b, rows, &device)?.into_iter();
        // [B, T]: 1 at real steps, 0 at padding.
        let mask = lengths.map_or_else(|| Tensor::ones([b, t], &device), |l| length_mask(l, t, &device));
        let mut finals: Vec<CellState> = Vec::with_capacity(rows);
        let mut x = input;
        for layer in 0..self.num_layers() {
            if layer > 0 {
                x = self.dropout.forward(x);
            }
            let init = initial.next().ok_or_else(|| Error::Internal("missing initial state".into()))?;
            // [B, T, hidden] per direction.
            let (fwd, fwd_final) = self.forward[layer].run_sequence(x.clone(), init, mask.clone(), false);
            finals.push(fwd_final);
            x = match self.reverse.get(layer) {
                Some(cell) => {
                    let init = initial.next().ok_or_else(|| Error::Internal("missing initial state".into()))?;
                    let (rev, rev_final) = cell.run_sequence(x, init, mask.clone(), true);
                    finals.push(rev_final);
                    Tensor::cat(vec![fwd, rev], 2)
                }
                None => fwd,
            };
        }
        Ok(self.collect(x, finals))
    }

    /// Checks the input `[B, T, input]` and the lengths; returns `[B, T, input]`.
    fn check_input(&self, input: &Tensor<3>, lengths: Option<&[usize]>) -> Result<[usize; 3]> {
        let [b, t, f] = input.dims();
        let ctx = "recurrent input";
        let in_size = self.forward[0].input_size();
        if f != in_size || t == 0 || b == 0 {
            return Err(Error::shape(ctx, format!("[batch >= 1, steps >= 1, {in_size}]"), format!("{:?}", [b, t, f])));
        }
        if let Some(l) = lengths {
            check_lengths(ctx, l, b, t)?;
        }
        Ok([b, t, f])
    }

    /// The stack's output from the top layer's outputs `[B, T, D * hidden]`
    /// and every row's final state.
    fn collect(&self, output: Tensor<3>, finals: Vec<CellState>) -> EncoderOutput {
        let top = &finals[finals.len() - self.directions()..];
        let last = Tensor::cat(top.iter().map(|s| s.h.clone()).collect(), 1);
        let h = Tensor::stack::<3>(finals.iter().map(|s| s.h.clone()).collect(), 0);
        let c = if finals.iter().all(|s| s.c.is_some()) {
            Some(Tensor::stack::<3>(finals.into_iter().filter_map(|s| s.c).collect(), 0))
        } else {
            None
        };
        EncoderOutput { output, state: EncoderState { h, c }, last }
    }

    /// [`RecurrentStack::forward`] with every step run through `observer`.
    pub fn forward_with<O: StepObserver<C>>(
        &self,
        input: Tensor<3>,
        lengths: Option<&[usize]>,
        state: Option<EncoderState>,
        observer: &mut O,
    ) -> Result<EncoderOutput> {
        let [b, t, _] = self.check_input(&input, lengths)?;
        let device = input.device();
        let rows = self.num_layers() * self.directions();
        let initial = self.initial_states(state, b, rows, &device)?;
        let masks = match lengths {
            Some(l) => step_masks(l, t, &device),
            None => vec![None; t],
        };

        let mut steps = unstack_steps(input);
        let mut finals: Vec<CellState> = Vec::with_capacity(rows);
        let mut initial = initial.into_iter();
        for layer in 0..self.num_layers() {
            if layer > 0 {
                steps = steps.into_iter().map(|s| self.dropout.forward(s)).collect();
            }
            let fwd_init = initial.next().ok_or_else(|| Error::Internal("missing initial state".into()))?;
            let (fwd_out, fwd_final) =
                run_direction(&self.forward[layer], layer, false, &steps, &masks, fwd_init, observer);
            finals.push(fwd_final);
            steps = if let Some(cell) = self.reverse.get(layer) {
                let rev_init = initial.next().ok_or_else(|| Error::Internal("missing initial state".into()))?;
                let (rev_out, rev_final) = run_direction(cell, layer, true, &steps, &masks, rev_init, observer);
                finals.push(rev_final);
                fwd_out.into_iter().zip(rev_out).map(|(a, r)| Tensor::cat(vec![a, r], 1)).collect()
            } else {
                fwd_out
            };
        }

        Ok(self.collect(Tensor::stack::<3>(steps, 1), finals))
    }

    /// Splits (or creates zero) initial states into one [`CellState`] per row.
    fn initial_states(
        &self,
        state: Option<EncoderState>,
        b: usize,
        rows: usize,
        device: &burn::tensor::Device,
    ) -> Result<Vec<CellState>> {
        let cells: Vec<&C> =
            (0..self.num_layers()).flat_map(|k| std::iter::once(&self.forward[k]).chain(self.reverse.get(k))).collect();
        let has_c = cells[0].cell_size().is_some();
        let Some(state) = state else {
            return Ok(cells
                .iter()
                .map(|c| CellState {
                    h: Tensor::zeros([b, c.hidden_size()], device),
                    c: c.cell_size().map(|n| Tensor::zeros([b, n], device)),
                })
                .collect());
        };
        let hidden = self.forward[0].hidden_size();
        let uniform = cells.iter().all(|c| c.hidden_size() == hidden);
        let check = |name: &str, t: &Tensor<3>, width: usize| -> Result<()> {
            let d = t.dims();
            if d != [rows, b, width] || !uniform {
                return Err(Error::shape(
                    format!("initial state `{name}`"),
                    format!("[{rows} (layers x directions), {b} (batch), {width}]"),
                    format!("{d:?}"),
                ));
            }
            Ok(())
        };
        check("h0", &state.h, hidden)?;
        let c_rows = match (has_c, state.c) {
            (true, Some(c)) => {
                let width = cells[0].cell_size().unwrap_or(0);
                check("c0", &c, width)?;
                Some(c.chunk(rows, 0).into_iter().map(|r| r.reshape([b, width])).collect::<Vec<_>>())
            }
            (true, None) => {
                return Err(Error::WrongInput("this recurrent network has a cell state: give both h0 and c0".into()));
            }
            (false, Some(_)) => {
                return Err(Error::WrongInput("this recurrent network has no cell state: c0 must be None".into()));
            }
            (false, None) => None,
        };
        let h_rows: Vec<Tensor<2>> = state.h.chunk(rows, 0).into_iter().map(|r| r.reshape([b, hidden])).collect();
        Ok(match c_rows {
            Some(c) => h_rows.into_iter().zip(c).map(|(h, c)| CellState { h, c: Some(c) }).collect(),
            None => h_rows.into_iter().map(|h| CellState { h, c: None }).collect(),
        })
    }
}

/// Runs one direction of one layer; returns outputs in time order and the final state.
fn run_direction<C: RecurrentCell, O: StepObserver<C>>(
    cell: &C,
    layer: usize,
    reverse: bool,
    steps: &[Tensor<2>],
    masks: &[Option<Tensor<2>>],
    init: CellState,
    observer: &mut O,
) -> (Vec<Tensor<2>>, CellState) {
    let t_len = steps.len();
    let mut out: Vec<Option<Tensor<2>>> = vec![None; t_len];
    let mut state = init;
    for i in 0..t_len {
        let t = if reverse { t_len - 1 - i } else { i };
        let pos = StepPosition { layer, reverse, t };
        let new = observer.step(cell, pos, steps[t].clone(), state.clone());
        state = match &masks[t] {
            None => {
                out[t] = Some(new.h.clone());
                new
            }
            Some(m) => {
                // Padded rows keep their old state and output zeros.
                let keep = |old: Tensor<2>, new: Tensor<2>| old.clone() + (new - old) * m.clone();
                out[t] = Some(new.h.clone() * m.clone());
                CellState {
                    h: keep(state.h, new.h),
                    c: match (state.c, new.c) {
                        (Some(o), Some(n)) => Some(keep(o, n)),
                        (_, n) => n,
                    },
                }
            }
        };
    }
    (out.into_iter().flatten().collect(), state)
}

impl<C: RecurrentCell + Module> SequenceEncoder for RecurrentStack<C> {
    fn input_size(&self) -> usize {
        self.forward[0].input_size()
    }

    fn output_size(&self) -> usize {
        self.directions() * self.hidden_size()
    }

    fn encode(
        &self,
        input: Tensor<3>,
        lengths: Option<&[usize]>,
        state: Option<EncoderState>,
    ) -> Result<EncoderOutput> {
        self.forward(input, lengths, state)
    }
}

impl<C: RecurrentCell + Module> RecurrentStack<C> {
    /// Replaces every cell by `load(cell, suffix)`, where `suffix` is PyTorch's
    /// per-layer key suffix: `_l{k}` forward, `_l{k}_reverse` reverse
    /// (`weight_ih_l0_reverse`). The family crates use this to read `nn.RNN`,
    /// `nn.GRU` and `nn.LSTM` state dicts.
    pub fn map_pytorch_cells(self, mut load: impl FnMut(C, &str) -> Result<C>) -> Result<Self> {
        let forward =
            self.forward.into_iter().enumerate().map(|(k, c)| load(c, &format!("_l{k}"))).collect::<Result<_>>()?;
        let reverse = self
            .reverse
            .into_iter()
            .enumerate()
            .map(|(k, c)| load(c, &format!("_l{k}_reverse")))
            .collect::<Result<_>>()?;
        Ok(Self { forward, reverse, dropout: self.dropout })
    }
}
