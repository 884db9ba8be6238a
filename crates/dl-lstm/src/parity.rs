//! The parity kind `lstm`: PyTorch's `nn.LSTM` with `batch_first=True`, any number of
//! layers, either direction, `proj_size`, optional `h0`/`c0`.

use burn::tensor::Device;

use crate::config::LstmConfig;
use crate::pytorch::load_lstm;
use dl_core::parity::{Fixture, NamedOutput, Registry, output};
use dl_core::{Error, ModelConfig};
use dl_seq::EncoderState;

/// Adds the kinds of this crate to `registry`.
pub fn register(registry: &mut Registry) {
    registry.register("lstm", run_lstm);
}

fn run_lstm(fx: &Fixture, device: &Device) -> dl_core::Result<Vec<NamedOutput>> {
    if !fx.bool_or("batch_first", false)? {
        return Err(Error::Unsupported("only batch_first=True fixtures are defined by the format".into()));
    }
    let cfg = LstmConfig::new(fx.usize_req("input_size")?, fx.usize_req("hidden_size")?)
        .with_num_layers(fx.usize_or("num_layers", 1)?)
        .with_bias(fx.bool_or("bias", true)?)
        .with_bidirectional(fx.bool_or("bidirectional", false)?)
        .with_proj_size(fx.usize_or("proj_size", 0)?)
        .with_forget_bias(0.0);
    let lstm = load_lstm(cfg.init(device)?, fx, "", device)?;
    let state = match (fx.has_input("h0"), fx.has_input("c0")) {
        (true, true) => Some(EncoderState { h: fx.float::<3>("h0", device)?, c: Some(fx.float::<3>("c0", device)?) }),
        (false, false) => None,
        _ => return Err(Error::Invalid("an LSTM fixture gives both h0 and c0 or neither".into())),
    };
    let out = lstm.forward(fx.float::<3>("input", device)?, None, state)?;
    let c = out.state.c.ok_or_else(|| Error::Internal("the LSTM returned no cell state".into()))?;
    Ok(vec![output("output", out.output)?, output("h_n", out.state.h)?, output("c_n", c)?])
}
