//! The adding problem (Hochreiter & Schmidhuber 1997): why LSTMs exist, measured.
//!
//! Each sequence has T steps of (value, marker); two steps are marked, one in
//! each half, and the target is the sum of the two marked values. The first
//! marked value must be carried across up to T steps. An Elman RNN, a GRU and
//! an LSTM with the same parameter budget and the same training budget are
//! trained at each length; the constant-mean baseline has MSE ~0.167.
//!
//! ```text
//! cargo run --release --example adding_problem -- [--lengths 50,100,200] [--models rnn,gru,lstm]
//! ```
//! Writes `out/adding_problem/T<T>_<model>/` (checkpoint, metrics.csv, curves),
//! `valid_mse_T<T>.png` per length, `test_mse.png`, the trained LSTM's gates on
//! one test sequence (`gates_T<T>_{input,forget,cell}.png`, units x steps, the
//! marked steps labelled `*`), and prints `result: {json}`.

use std::path::Path;

use burn::tensor::{Device, Tensor, TensorData};
use clap::Parser;
use dl_core::ModelConfig;
use dl_core::checkpoint::load_weights;
use dl_core::config::load_json;
use dl_core::data::synthetic::adding_problem;
use dl_core::plot::{Series, line_chart};
use dl_examples::cli::{CommonArgs, at_least, run_example};
use dl_families::recurrent::{Family, RegressorSetup, train_regressor};
use dl_lstm::LstmConfig;
use dl_lstm::gates::{forward_with_gates, gate_heatmaps};
use dl_seq::Pooling;
use dl_seq::{SequenceModelConfig, SeriesSequence};
use serde_json::json;

#[derive(Parser)]
#[command(about = "RNN vs GRU vs LSTM on the adding problem")]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Sequence lengths T, comma-separated (two marked steps need T >= 2).
    #[arg(long, value_delimiter = ',', default_value = "50,100,200", value_parser = at_least::<2>)]
    lengths: Vec<usize>,
    /// Models, comma-separated (rnn, gru, lstm).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "rnn,gru,lstm")]
    models: Vec<Family>,
    /// LSTM hidden width; the GRU and RNN widths are chosen to match its parameter count.
    #[arg(long, default_value_t = 32)]
    lstm_hidden: usize,
    /// Training sequences per length (a fixed set, seen once per epoch).
    #[arg(long, default_value_t = 20_000, value_parser = at_least::<1>)]
    train_size: usize,
    /// Test sequences per length (half as many validate).
    #[arg(long, default_value_t = 2_000, value_parser = at_least::<2>)]
    test_size: usize,
    /// Batch size.
    #[arg(long, default_value_t = 50)]
    batch_size: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 2e-3)]
    lr: f64,
}

/// Reloads the trained LSTM of `run_dir` and draws its input and forget gates
/// and cell state on one test sequence (the marked steps labelled `*`): the
/// forget gate stays near 1 in the units that carry the first marked value,
/// and the input gate opens at the marked steps.
fn gate_maps(run_dir: &Path, item: &SeriesSequence, prefix: &Path, device: &Device) -> dl_core::Result<()> {
    let config: SequenceModelConfig<LstmConfig> = load_json(run_dir.join("config.json"))?;
    let model = load_weights(config.init(device)?, run_dir.join("best").join("model.bpk"))?;
    let t = item.values.len() / 2;
    // [1, T, (value, marker)]
    let x = Tensor::<3>::from_data(TensorData::new(item.values.clone(), [1, t, 2]), device);
    let (_, gates) = forward_with_gates(&model.encoder, x, None, None)?;
    let marked: Vec<bool> = (0..t).map(|s| item.values[2 * s + 1] == 1.0).collect();
    gate_heatmaps(&gates, &marked, prefix)
}

fn main() {
    let args = Args::parse();
    run_example(|| {
        let c = &args.common;
        let out = c.out_dir("adding_problem")?;
        let device = c.device()?;
        let families = &args.models;
        let (train_n, test_n) = if c.quick { (1_000, 200) } else { (args.train_size, args.test_size) };
        let budget = Family::Lstm.layer_params(2, args.lstm_hidden);
        let mut rows = Vec::new();
        let mut test_series: Vec<Series> = families.iter().map(|f| Series::new(f.name(), vec![])).collect();
        for &t in &args.lengths {
            let train = adding_problem(train_n, t, c.seed.wrapping_add(t as u64))?;
            let valid = adding_problem(test_n / 2, t, c.seed.wrapping_add(1_000_003 + t as u64))?;
            let test = adding_problem(test_n, t, c.seed.wrapping_add(2_000_003 + t as u64))?;
            let mut curves = Vec::new();
            for (fi, &family) in families.iter().enumerate() {
                let hidden = family.hidden_for_budget(2, budget);
                eprintln!("[T={t}] {} with {hidden} hidden units ...", family.name());
                let mut cfg = c.train_config(20, Some(out.join(format!("T{t}_{}", family.name()))));
                cfg.batch_size = args.batch_size;
                cfg.lr = args.lr;
                cfg.grad_clip_norm = Some(1.0);
                cfg.restore_best = true;
                let setup = RegressorSetup { family, hidden, layers: 1, pooling: Pooling::Last, tolerance: 0.04 };
                let r = train_regressor(&setup, &train, &valid, &test, &cfg, &device)?;
                eprintln!(
                    "[T={t}] {}: test MSE {:.4}, |error| < 0.04 for {:.1}%, {} params, {:.0} s",
                    family.name(),
                    r.test_mse,
                    100.0 * r.within_tolerance,
                    r.params,
                    r.seconds
                );
                curves.push(Series::new(
                    family.name(),
                    r.valid_curve.iter().enumerate().map(|(i, v)| ((i + 1) as f64, *v)).collect(),
                ));
                test_series[fi].points.push((t as f64, r.test_mse));
                if family == Family::Lstm {
                    gate_maps(&out.join(format!("T{t}_lstm")), &test[0], &out.join(format!("gates_T{t}")), &device)?;
                }
                rows.push(json!({
                    "T": t, "model": family.name(), "hidden": r.hidden, "params": r.params,
                    "test_mse": r.test_mse, "within_0.04": r.within_tolerance, "seconds": r.seconds,
                }));
            }
            curves.push(Series::new("mean baseline", vec![(1.0, 1.0 / 6.0), (c.epochs(20) as f64, 1.0 / 6.0)]));
            line_chart(
                &out.join(format!("valid_mse_T{t}.png")),
                &format!("Adding problem, T = {t}: validation MSE"),
                "epoch",
                "MSE",
                &curves,
                true,
            )?;
        }
        if args.lengths.len() > 1 {
            line_chart(
                &out.join("test_mse.png"),
                "Adding problem: test MSE by length",
                "T",
                "MSE",
                &test_series,
                true,
            )?;
        }
        Ok(json!({ "example": "adding_problem", "baseline_mse": 1.0 / 6.0, "runs": rows }))
    });
}
