//! PyTorch `nn.RNN` and `nn.GRU` weights in and out.
//!
//! PyTorch stores, per layer `k` and direction suffix `""` / `"_reverse"`,
//! `weight_ih_l{k}` `[G*H, in]`, `weight_hh_l{k}` `[G*H, H]` and the biases
//! `[G*H]`, with `G` = 1 (RNN) or 3 gate blocks in the order reset, update,
//! new (GRU). The cells here keep the same blocks in the same order,
//! transposed, so loading (and writing back) is a transpose per matrix.

use burn::nn::Linear;
use burn::tensor::Device;

use crate::cell::{GruCell, RnnCell};
use crate::{Gru, RecurrentCell, RecurrentStack, Rnn};
use dl_core::weights::{StateDictWriter, TensorSource, load_recurrent_pair};

/// Loads the weights of an `nn.RNN` whose state-dict keys start with `prefix`
/// (`""` for the module itself, `"encoder."` inside a larger model) into `rnn`,
/// which must have the same sizes. Errors name the missing or mis-shaped key.
pub fn load_rnn<S: TensorSource>(rnn: Rnn, src: &S, prefix: &str, device: &Device) -> dl_core::Result<Rnn> {
    rnn.map_pytorch_cells(|mut cell: RnnCell, sfx| {
        (cell.input, cell.hidden) = load_recurrent_pair(cell.input, cell.hidden, src, prefix, sfx, device)?;
        Ok(cell)
    })
}

/// Loads the weights of an `nn.GRU` (keys under `prefix`) into `gru`.
pub fn load_gru<S: TensorSource>(gru: Gru, src: &S, prefix: &str, device: &Device) -> dl_core::Result<Gru> {
    gru.map_pytorch_cells(|mut cell: GruCell, sfx| {
        (cell.input, cell.hidden) = load_recurrent_pair(cell.input, cell.hidden, src, prefix, sfx, device)?;
        Ok(cell)
    })
}

/// Writes each cell's input and hidden projections (`pair`) under PyTorch's
/// recurrent names, each key after `prefix`.
fn put_cells<C: RecurrentCell>(
    stack: &RecurrentStack<C>,
    w: &mut StateDictWriter,
    prefix: &str,
    pair: impl Fn(&C) -> (&Linear, &Linear),
) -> dl_core::Result<()> {
    stack.clone().map_pytorch_cells(|cell, sfx| {
        let (input, hidden) = pair(&cell);
        w.put_recurrent_pair(prefix, sfx, input, hidden)?;
        Ok(cell)
    })?;
    Ok(())
}

/// Writes `rnn`'s weights under `nn.RNN`'s `state_dict()` names, each key after `prefix`.
pub fn put_rnn(rnn: &Rnn, w: &mut StateDictWriter, prefix: &str) -> dl_core::Result<()> {
    put_cells(rnn, w, prefix, |c: &RnnCell| (&c.input, &c.hidden))
}

/// Writes `gru`'s weights under `nn.GRU`'s `state_dict()` names, each key after `prefix`.
pub fn put_gru(gru: &Gru, w: &mut StateDictWriter, prefix: &str) -> dl_core::Result<()> {
    put_cells(gru, w, prefix, |c: &GruCell| (&c.input, &c.hidden))
}

/// Saves `rnn` as the `.safetensors` state dict of the matching `nn.RNN`.
pub fn save_rnn(rnn: &Rnn, path: impl AsRef<std::path::Path>) -> dl_core::Result<()> {
    StateDictWriter::save_to(path, |w| put_rnn(rnn, w, ""))
}

/// Saves `gru` as the `.safetensors` state dict of the matching `nn.GRU`.
pub fn save_gru(gru: &Gru, path: impl AsRef<std::path::Path>) -> dl_core::Result<()> {
    StateDictWriter::save_to(path, |w| put_gru(gru, w, ""))
}
