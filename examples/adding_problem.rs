//! The adding problem (Hochreiter & Schmidhuber 1997): an Elman RNN, a GRU
//! and an LSTM with the same parameter and training budgets must carry a
//! marked value across T steps. Task, outputs and results: docs/rnn.md.
//!
//! `cargo run --release --example adding_problem -- [--lengths 50,100,200] [--models rnn,gru,lstm]`

use clap::Parser;
use dl_core::data::synthetic::adding_problem;
use dl_core::plot::{Series, line_chart};
use dl_core::train::TrainConfig;
use dl_examples::cli::{CommonArgs, at_least, run_example};
use dl_families::recurrent::{Family, RegressorSetup, lstm_gate_maps, train_regressor};
use dl_seq::Pooling;
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
                let run_dir = out.join(format!("T{t}_{}", family.name()));
                let cfg = c.train_config(20, Some(run_dir.clone()));
                let cfg = TrainConfig { batch_size: args.batch_size, lr: args.lr, grad_clip_norm: Some(1.0), ..cfg };
                let setup = RegressorSetup { family, hidden, layers: 1, pooling: Pooling::Last, tolerance: 0.04 };
                let r = train_regressor(&setup, &train, &valid, &test, &cfg, &device)?;
                eprintln!("[T={t}] {}", r.summary());
                curves.push(Series::new(
                    family.name(),
                    r.valid_curve.iter().enumerate().map(|(i, v)| ((i + 1) as f64, *v)).collect(),
                ));
                test_series[fi].points.push((t as f64, r.test_mse));
                if family == Family::Lstm {
                    lstm_gate_maps(&run_dir, &test[0], &out.join(format!("gates_T{t}")), &device)?;
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
