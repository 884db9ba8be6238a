//! Loading PyTorch `nn.LSTM` weights.
//!
//! PyTorch concatenates the four gate blocks in the order i, f, g, o:
//! `weight_ih_l{k}{sfx}` `[4H, in]`, `weight_hh_l{k}{sfx}` `[4H, P]`, biases
//! `[4H]`, and with `proj_size > 0` `weight_hr_l{k}{sfx}` `[P, H]`. The cell
//! keeps the same block order (transposed), so each matrix loads as is.
//! PyTorch has no peepholes: a model with `peephole = true` cannot be loaded.

use burn::tensor::Device;

use crate::Lstm;
use crate::cell::LstmCell;
use dl_core::Error;
use dl_core::weights::{TensorSource, expect, load_recurrent_pair};

/// Loads an `nn.LSTM`'s weights (keys under `prefix`) into `lstm`, which must have the
/// same sizes. Errors name the missing or mis-shaped key.
pub fn load_lstm<S: TensorSource>(lstm: Lstm, src: &S, prefix: &str, device: &Device) -> dl_core::Result<Lstm> {
    lstm.map_pytorch_cells(|mut cell: LstmCell, sfx| {
        if cell.peephole.is_some() {
            return Err(Error::Invalid(
                "PyTorch's nn.LSTM has no peepholes: build the LSTM with peephole = false".into(),
            ));
        }
        (cell.input, cell.hidden) = load_recurrent_pair(cell.input, cell.hidden, src, prefix, sfx, device)?;
        let key = format!("{prefix}weight_hr{sfx}");
        match cell.projection.take() {
            Some(mut p) => {
                let [h, proj] = p.weight.dims();
                p.weight = burn::module::Param::from_tensor(expect::<2, S>(src, &key, [proj, h], device)?.transpose());
                cell.projection = Some(p);
            }
            None if src.contains(&key) => {
                return Err(Error::Invalid(format!("`{key}` is given but the LSTM has proj_size = 0")));
            }
            None => {}
        }
        Ok(cell)
    })
}
