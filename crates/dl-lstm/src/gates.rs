//! Gate introspection: what an LSTM remembers, step by step.
//!
//! [`forward_with_gates`] runs the stack like `forward` and also returns, for
//! every layer, direction, sequence and step, the input, forget and output
//! gate activations and the cell state. A forget gate near 1 over a span
//! means the cell carries information across it; an input gate spiking at one
//! step shows where the network decided to write. None of burn, PyTorch or
//! the usual Rust crates expose this.

use burn::tensor::Tensor;

use crate::Lstm;
use crate::cell::{GateValues, LstmCell};
use dl_core::{Error, Result};
use dl_seq::{CellState, EncoderOutput, EncoderState, StepObserver, StepPosition};

/// Every gate of every step: each tensor is `[layers * directions, B, T, H]`, rows in
/// PyTorch's state order (layer 0 forward, layer 0 reverse, layer 1 forward, ...).
/// At padded steps the values are those computed but discarded (the state did not change).
#[derive(Debug, Clone)]
pub struct GateReadout {
    /// Input gates.
    pub input: Tensor<4>,
    /// Forget gates.
    pub forget: Tensor<4>,
    /// Output gates.
    pub output: Tensor<4>,
    /// Cell states after each step.
    pub cell: Tensor<4>,
}

struct Recorder {
    steps: Vec<(StepPosition, GateValues)>,
}

impl StepObserver<LstmCell> for Recorder {
    fn step(&mut self, cell: &LstmCell, pos: StepPosition, x: Tensor<2>, state: CellState) -> CellState {
        let (next, gates) = cell.step_gates(x, state);
        self.steps.push((pos, gates));
        next
    }
}

/// Runs `lstm` (see `RecurrentStack::forward`) and records every gate.
pub fn forward_with_gates(
    lstm: &Lstm,
    input: Tensor<3>,
    lengths: Option<&[usize]>,
    state: Option<EncoderState>,
) -> Result<(EncoderOutput, GateReadout)> {
    let mut rec = Recorder { steps: Vec::new() };
    let out = lstm.forward_with(input, lengths, state, &mut rec)?;
    let dirs = lstm.directions();
    let rows = lstm.num_layers() * dirs;
    let mut steps = rec.steps;
    steps.sort_by_key(|(p, _)| ((p.layer * dirs + usize::from(p.reverse)), p.t));
    let t_len = steps.len() / rows.max(1);
    if t_len * rows != steps.len() {
        return Err(Error::Invalid("gate read-out: uneven number of steps".into()));
    }
    let mut per_row: [Vec<Tensor<3>>; 4] = Default::default();
    for row in steps.chunks(t_len) {
        let pick = |f: fn(&GateValues) -> &Tensor<2>| -> Tensor<3> {
            Tensor::stack::<3>(row.iter().map(|(_, g)| f(g).clone()).collect(), 1)
        };
        per_row[0].push(pick(|g| &g.input));
        per_row[1].push(pick(|g| &g.forget));
        per_row[2].push(pick(|g| &g.output));
        per_row[3].push(pick(|g| &g.cell));
    }
    let [i, f, o, c] = per_row.map(|v| Tensor::stack::<4>(v, 0));
    Ok((out, GateReadout { input: i, forget: f, output: o, cell: c }))
}

/// Heatmaps of what the first layer's first direction did on the first
/// sequence of `readout`: its input gates, forget gates and cell state
/// (rows = units, columns = steps; the cell state scaled into `[0, 1]` by
/// its largest magnitude), written as `<prefix>_input.png`,
/// `<prefix>_forget.png` and `<prefix>_cell.png`. Steps whose flag in
/// `marked` is set are labelled `*`. (Feature `plot`.)
#[cfg(feature = "plot")]
pub fn gate_heatmaps(readout: &GateReadout, marked: &[bool], prefix: &std::path::Path) -> Result<()> {
    let [_, _, t, h] = readout.input.dims();
    if marked.len() != t {
        return Err(Error::shape("gate_heatmaps: step marks", format!("{t} (the steps read out)"), marked.len()));
    }
    let labels: Vec<String> = marked.iter().map(|&m| if m { "*".into() } else { String::new() }).collect();
    let stem = prefix.file_name().and_then(|f| f.to_str()).unwrap_or("gates");
    for (name, g) in [("input", &readout.input), ("forget", &readout.forget), ("cell", &readout.cell)] {
        // [L * D, B, T, H] -> [T, H] of row 0, sequence 0 -> units x steps.
        let first = g.clone().narrow(0, 0, 1).narrow(1, 0, 1).reshape([t, h]);
        let mut v = dl_core::task::to_f32(first.transpose())?;
        if name == "cell" {
            let m = v.iter().fold(1e-6f32, |a, b| a.max(b.abs()));
            v.iter_mut().for_each(|x| *x = 0.5 + 0.5 * *x / m);
        }
        let path = prefix.with_file_name(format!("{stem}_{name}.png"));
        dl_core::plot::heatmap_png(&path, &v, h, t, 8, None, Some(&labels))?;
    }
    Ok(())
}
