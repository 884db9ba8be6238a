//! PyTorch `nn.LSTM` weights in and out, and the LSTM attention
//! encoder-decoder written under the names of its PyTorch twin
//! (`LstmSeq2Seq` in `tools/parity/check_exported.py`).
//!
//! PyTorch concatenates the four gate blocks in the order i, f, g, o:
//! `weight_ih_l{k}{sfx}` `[4H, in]`, `weight_hh_l{k}{sfx}` `[4H, P]`, biases
//! `[4H]`, and with `proj_size > 0` `weight_hr_l{k}{sfx}` `[P, H]`. The cell
//! keeps the same block order (transposed), so each matrix loads as is.
//! PyTorch has no peepholes: a model with `peephole = true` cannot be loaded.

use burn::tensor::Device;

use crate::cell::LstmCell;
use crate::{Lstm, Seq2Seq};
use dl_core::Error;
use dl_core::weights::{StateDictWriter, TensorSource, expect, load_recurrent_pair};

/// Loads an `nn.LSTM`'s weights (keys under `prefix`) into `lstm`, which must have the
/// same sizes. Errors name the missing or mis-shaped key.
pub fn load_lstm<S: TensorSource>(lstm: Lstm, src: &S, prefix: &str, device: &Device) -> dl_core::Result<Lstm> {
    lstm.map_pytorch_cells(|mut cell: LstmCell, sfx| {
        if cell.peephole.is_some() {
            return Err(Error::Unsupported(
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

/// Writes `lstm`'s weights under `nn.LSTM`'s `state_dict()` names, each key
/// after `prefix` (`weight_ih_l0`, `weight_hh_l0_reverse`, `weight_hr_l1`, ...):
/// the inverse of [`load_lstm`]. Peepholes have no PyTorch form and are an error.
pub fn put_lstm(lstm: &Lstm, w: &mut StateDictWriter, prefix: &str) -> dl_core::Result<()> {
    lstm.clone().map_pytorch_cells(|cell: LstmCell, sfx| {
        if cell.peephole.is_some() {
            return Err(Error::Unsupported("PyTorch's nn.LSTM has no peepholes: this LSTM cannot be exported".into()));
        }
        w.put_recurrent_pair(prefix, sfx, &cell.input, &cell.hidden)?;
        if let Some(p) = &cell.projection {
            // [H, P] here, [P, H] in PyTorch.
            w.put(format!("{prefix}weight_hr{sfx}"), p.weight.val().transpose())?;
        }
        Ok(cell)
    })?;
    Ok(())
}

/// Saves `lstm` as the `.safetensors` state dict of the matching `nn.LSTM`
/// (`lstm.load_state_dict(safetensors.torch.load_file(path))` in PyTorch).
pub fn save_lstm(lstm: &Lstm, path: impl AsRef<std::path::Path>) -> dl_core::Result<()> {
    StateDictWriter::save_to(path, |w| put_lstm(lstm, w, ""))
}

/// Writes the attention encoder-decoder of an LSTM encoder and an LSTM
/// decoder: `src_embedding`, `tgt_embedding` (`nn.Embedding`), `encoder.*`
/// and `decoder.*` (`nn.LSTM` names; the decoder is stepped one token at a
/// time), `bridge`, `attn_key`, `attn_query` and `attn_v` (additive
/// attention only), `combine`, `output` (`nn.Linear`).
pub fn put_seq2seq(m: &Seq2Seq<Lstm, LstmCell>, w: &mut StateDictWriter, prefix: &str) -> dl_core::Result<()> {
    w.put(format!("{prefix}src_embedding.weight"), m.src_embedding.weight.val())?;
    w.put(format!("{prefix}tgt_embedding.weight"), m.tgt_embedding.weight.val())?;
    put_lstm(&m.encoder, w, &format!("{prefix}encoder."))?;
    put_lstm(&m.decoder, w, &format!("{prefix}decoder."))?;
    let linears = [
        ("bridge", Some(&m.bridge)),
        ("attn_key", Some(&m.attn_key)),
        ("attn_query", m.attn_query.as_ref()),
        ("attn_v", m.attn_v.as_ref()),
        ("combine", Some(&m.combine)),
        ("output", Some(&m.output)),
    ];
    for (name, l) in linears {
        if let Some(l) = l {
            w.put_linear(&format!("{prefix}{name}.weight"), &format!("{prefix}{name}.bias"), l)?;
        }
    }
    Ok(())
}

/// Saves the LSTM encoder-decoder as a `.safetensors` state dict (names of [`put_seq2seq`]).
pub fn save_seq2seq(m: &Seq2Seq<Lstm, LstmCell>, path: impl AsRef<std::path::Path>) -> dl_core::Result<()> {
    StateDictWriter::save_to(path, |w| put_seq2seq(m, w, ""))
}
