//! Vanishing gradients, measured: how much the loss at the last step depends on
//! each earlier input, for an Elman RNN, a GRU and an LSTM.
//!
//! On the adding problem (T steps), the norm of dLoss/dx_t is computed for every
//! step t and plotted against the distance T-1-t from the loss, at
//! initialisation and after training. In an RNN the gradient is a product of
//! one Jacobian per step and shrinks geometrically with distance; the LSTM's
//! additive cell path keeps it alive, which is why it can learn the task.
//!
//! ```text
//! cargo run --release --example vanishing_gradients -- [--length 100] [--epochs 8]
//! ```
//! Writes `out/vanishing_gradients/gradient_norms.png` and a checkpoint per model.

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use clap::Parser;
use dl_core::ModelConfig;
use dl_core::data::synthetic::adding_problem;
use dl_core::plot::{Series, line_chart};
use dl_core::task::{evaluate, to_f32};
use dl_core::train::fit;
use dl_examples::cli::{CommonArgs, at_least, run_example};
use dl_families::recurrent::Family;
use dl_lstm::LstmConfig;
use dl_rnn::{GruConfig, RnnConfig};
use dl_seq::SequenceEncoder;
use dl_seq::{
    HeadConfig, SequenceInput, SequenceModel, SequenceModelConfig, SequenceTask, SeriesBatcher, SeriesSequence,
};
use serde_json::{Value, json};

#[derive(Parser)]
#[command(about = "Gradient norm against distance from the loss, RNN vs GRU vs LSTM")]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Sequence length T (two marked steps need T >= 2).
    #[arg(long, default_value_t = 100, value_parser = at_least::<2>)]
    length: usize,
    /// LSTM hidden width (the others match its parameter count).
    #[arg(long, default_value_t = 32)]
    lstm_hidden: usize,
    /// Training sequences.
    #[arg(long, default_value_t = 20_000, value_parser = at_least::<1>)]
    train_size: usize,
    /// Models, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "rnn,gru,lstm")]
    models: Vec<Family>,
}

/// Mean over the batch of ||dLoss/dx_t|| for every step t.
fn gradient_norms<E: SequenceEncoder + Module>(
    model: &SequenceModel<E>,
    items: &[SeriesSequence],
    device: &Device,
) -> dl_core::Result<Vec<f64>> {
    let (b, width) = (items.len(), items[0].width);
    let t = items[0].values.len() / width;
    let x: Vec<f32> = items.iter().flat_map(|i| i.values.iter().copied()).collect();
    let y: Vec<f32> = items.iter().map(|i| i.target[0]).collect();
    let x = Tensor::<3>::from_data(TensorData::new(x, [b, t, width]), device).require_grad();
    let y = Tensor::<2>::from_data(TensorData::new(y, [b, 1]), device);
    let pred = model.forward(SequenceInput::Features(x.clone()), &vec![t; b])?;
    // Sum (not mean) of squared errors, so each sequence's gradient is its own.
    let loss = (pred - y).powf_scalar(2.0).sum();
    let grads = loss.backward();
    let g = x.grad(&grads).ok_or_else(|| dl_core::Error::Invalid("no gradient reached the input".into()))?;
    let g = to_f32(g)?;
    let mut norms = vec![0.0f64; t];
    for seq in g.chunks(t * width) {
        for (s, step) in seq.chunks(width).enumerate() {
            norms[s] += step.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt() / b as f64;
        }
    }
    Ok(norms)
}

fn study<C>(
    name: &str,
    config: SequenceModelConfig<C>,
    args: &Args,
    data: (&[SeriesSequence], &[SeriesSequence], &[SeriesSequence]),
    series: &mut Vec<Series>,
) -> dl_core::Result<Value>
where
    C: ModelConfig,
    C::Model: SequenceEncoder + Module + 'static,
{
    let c = &args.common;
    let device = c.device()?;
    let ad = device.clone().autodiff();
    let (train, valid, probe) = data;
    let model = config.init(&ad)?;
    let at_init = gradient_norms(&model, probe, &ad)?;
    let mut cfg = c.train_config(8, Some(c.out_dir("vanishing_gradients")?.join(name)));
    cfg.lr = 2e-3;
    cfg.batch_size = 50;
    cfg.grad_clip_norm = Some(1.0);
    let report = fit(model, train, Some(valid), &SeriesBatcher, &cfg, &ad)?;
    let trained = gradient_norms(&report.model, probe, &ad)?;
    let test_mse = evaluate(&report.model, probe, &SeriesBatcher, 256, &device)?.loss;
    let t = at_init.len();
    let curve =
        |v: &[f64]| -> Vec<(f64, f64)> { v.iter().enumerate().map(|(s, g)| ((t - 1 - s) as f64, *g)).collect() };
    series.push(Series::new(format!("{name} at init"), curve(&at_init)));
    series.push(Series::new(format!("{name} trained"), curve(&trained)));
    // How much weaker the gradient is at the far end than next to the loss.
    let ratio = |v: &[f64]| v[0] / v[t - 1].max(f64::MIN_POSITIVE);
    eprintln!(
        "{name}: |dL/dx| first/last step at init {:.2e}, trained {:.2e}; probe MSE {test_mse:.4}",
        ratio(&at_init),
        ratio(&trained)
    );
    Ok(json!({
        "model": name,
        "far_over_near_at_init": ratio(&at_init),
        "far_over_near_trained": ratio(&trained),
        "probe_mse_trained": test_mse,
        "norm_at_init": { "near": at_init[t - 1], "far": at_init[0] },
        "norm_trained": { "near": trained[t - 1], "far": trained[0] },
    }))
}

fn main() {
    let args = Args::parse();
    run_example(|| {
        let c = &args.common;
        let t = args.length;
        let n = if c.quick { 1_000 } else { args.train_size };
        let train = adding_problem(n, t, c.seed.wrapping_add(t as u64))?;
        let valid = adding_problem(500, t, c.seed.wrapping_add(1_000_003 + t as u64))?;
        let probe = adding_problem(256, t, c.seed.wrapping_add(2_000_003 + t as u64))?;
        let budget = Family::Lstm.layer_params(2, args.lstm_hidden);
        let head = HeadConfig::new(SequenceTask::Regress { outputs: 1 });
        let mut series = Vec::new();
        let mut rows = Vec::new();
        for &family in &args.models {
            let h = family.hidden_for_budget(2, budget);
            let data = (&train[..], &valid[..], &probe[..]);
            let head = head.clone();
            rows.push(match family {
                Family::Rnn => {
                    study("rnn", SequenceModelConfig { encoder: RnnConfig::new(2, h), head }, &args, data, &mut series)?
                }
                Family::Gru => {
                    study("gru", SequenceModelConfig { encoder: GruConfig::new(2, h), head }, &args, data, &mut series)?
                }
                Family::Lstm => study(
                    "lstm",
                    SequenceModelConfig { encoder: LstmConfig::new(2, h), head },
                    &args,
                    data,
                    &mut series,
                )?,
            });
        }
        let png = c.out_dir("vanishing_gradients")?.join("gradient_norms.png");
        line_chart(
            &png,
            &format!("Adding problem T = {t}: |dLoss/dx_t| by distance from the loss"),
            "steps between input and loss",
            "mean gradient norm",
            &series,
            true,
        )?;
        Ok(json!({ "example": "vanishing_gradients", "T": t, "png": png, "models": rows }))
    });
}
