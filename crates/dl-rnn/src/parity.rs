//! The parity kinds `rnn` and `gru`: PyTorch's `nn.RNN` / `nn.GRU` with
//! `batch_first=True`, any number of layers, either direction, optional `h0`.

use burn::tensor::Device;

use crate::cell::Nonlinearity;
use crate::config::{GruConfig, RnnConfig};
use crate::pytorch::{load_gru, load_rnn};
use dl_core::parity::{Fixture, NamedOutput, Registry, output};
use dl_core::{Error, ModelConfig};
use dl_seq::{EncoderOutput, EncoderState};

/// Adds the kinds of this crate to `registry`.
pub fn register(registry: &mut Registry) {
    registry.register("rnn", run_rnn);
    registry.register("gru", run_gru);
}

/// Rejects configurations the fixture format rules out (`batch_first` must be true).
pub fn check_batch_first(fx: &Fixture) -> dl_core::Result<()> {
    if !fx.bool_or("batch_first", false)? {
        return Err(Error::Unsupported("only batch_first=True fixtures are defined by the format".into()));
    }
    Ok(())
}

fn initial(fx: &Fixture, device: &Device) -> dl_core::Result<Option<EncoderState>> {
    Ok(if fx.has_input("h0") { Some(EncoderState { h: fx.float::<3>("h0", device)?, c: None }) } else { None })
}

fn outputs(out: EncoderOutput) -> dl_core::Result<Vec<NamedOutput>> {
    Ok(vec![output("output", out.output)?, output("h_n", out.state.h)?])
}

fn run_rnn(fx: &Fixture, device: &Device) -> dl_core::Result<Vec<NamedOutput>> {
    check_batch_first(fx)?;
    let nonlinearity = match fx.str_or("nonlinearity", "tanh")? {
        "tanh" => Nonlinearity::Tanh,
        "relu" => Nonlinearity::Relu,
        other => return Err(Error::Unsupported(format!("unknown nonlinearity `{other}`"))),
    };
    let cfg = RnnConfig::new(fx.usize_req("input_size")?, fx.usize_req("hidden_size")?)
        .with_num_layers(fx.usize_or("num_layers", 1)?)
        .with_nonlinearity(nonlinearity)
        .with_bias(fx.bool_or("bias", true)?)
        .with_bidirectional(fx.bool_or("bidirectional", false)?);
    let rnn = load_rnn(cfg.init(device)?, fx, "", device)?;
    outputs(rnn.forward(fx.float::<3>("input", device)?, None, initial(fx, device)?)?)
}

fn run_gru(fx: &Fixture, device: &Device) -> dl_core::Result<Vec<NamedOutput>> {
    check_batch_first(fx)?;
    let cfg = GruConfig::new(fx.usize_req("input_size")?, fx.usize_req("hidden_size")?)
        .with_num_layers(fx.usize_or("num_layers", 1)?)
        .with_bias(fx.bool_or("bias", true)?)
        .with_bidirectional(fx.bool_or("bidirectional", false)?);
    let gru = load_gru(cfg.init(device)?, fx, "", device)?;
    outputs(gru.forward(fx.float::<3>("input", device)?, None, initial(fx, device)?)?)
}
