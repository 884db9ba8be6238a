//! Time-series forecasting with an Elman RNN and an LSTM against the classic
//! baselines, on the airline passengers and yearly sunspots; each network with
//! several seeds. Method, baselines and results: docs/rnn.md, "Forecasting".
//!
//! `cargo run --release --example forecast -- [--seeds 3]`

use clap::Parser;
use dl_core::data::timeseries::read_complete_series_csv;
use dl_core::plot::{Series, line_chart};
use dl_examples::cli::{CommonArgs, run_example};
use dl_families::recurrent::{Family, RegressorSetup, train_regressor};
use dl_seq::{Pooling, SeriesSequence};
use serde_json::{Value, json};

#[derive(Parser)]
#[command(about = "RNN and LSTM forecasts of airline passengers and sunspots")]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Seeds per model (results are averaged).
    #[arg(long, default_value_t = 3)]
    seeds: u64,
    /// Hidden width of both networks.
    #[arg(long, default_value_t = 32)]
    hidden: usize,
}

/// Windows of `window` standardised values, each followed by its target.
fn windows(z: &[f64], window: usize, range: std::ops::Range<usize>, mean: f64, std: f64) -> Vec<SeriesSequence> {
    range
        .map(|t| SeriesSequence {
            values: z[t - window..t].iter().map(|v| ((v - mean) / std) as f32).collect(),
            width: 1,
            target: vec![((z[t] - mean) / std) as f32],
        })
        .collect()
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let m = v.iter().sum::<f64>() / v.len() as f64;
    let s = (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64).sqrt();
    (m, s.max(1e-9))
}

struct Task<'a> {
    name: &'a str,
    /// Series the networks model (z for the airline, the raw values for sunspots).
    z: Vec<f64>,
    window: usize,
    /// First test index into `z`; the test runs to the end.
    test_start: usize,
    /// Maps a predicted z at index t back to the original scale.
    to_original: Box<dyn Fn(usize, f64) -> f64 + 'a>,
    /// Original-scale truth at index t of z.
    truth: Box<dyn Fn(usize) -> f64 + 'a>,
    epochs: usize,
}

fn run_task(task: &Task, args: &Args) -> dl_core::Result<(Value, Vec<Series>)> {
    let c = &args.common;
    let device = c.device()?;
    let w = task.window;
    // Standardise with training statistics only.
    let (mean, std) = mean_std(&task.z[..task.test_start]);
    let all_train = windows(&task.z, w, w..task.test_start, mean, std);
    // The last 10% of training windows pick the epoch to keep.
    let n_valid = (all_train.len() / 10).max(4);
    let (train, valid) = all_train.split_at(all_train.len() - n_valid);
    let test = windows(&task.z, w, task.test_start..task.z.len(), mean, std);
    let truth: Vec<f64> = (task.test_start..task.z.len()).map(|t| (task.truth)(t)).collect();
    let mut rows = Vec::new();
    let mut curves = vec![Series::new("actual", truth.iter().enumerate().map(|(i, v)| (i as f64, *v)).collect())];
    for family in [Family::Rnn, Family::Lstm] {
        let mut scores = Vec::new();
        let mut first_forecast = None;
        for s in 0..args.seeds {
            let seed = c.seed + s;
            let mut cfg = c.train_config(
                task.epochs,
                Some(c.out_dir("forecast")?.join(format!("{}_{}_{seed}", task.name, family.name()))),
            );
            cfg.seed = seed;
            device.seed(seed);
            cfg.batch_size = 16;
            cfg.lr = 3e-3;
            cfg.restore_best = true;
            cfg.max_batches_per_epoch = None;
            if c.quick {
                cfg.epochs = 3;
            }
            let setup =
                RegressorSetup { family, hidden: args.hidden, layers: 1, pooling: Pooling::Last, tolerance: 0.0 };
            let r = train_regressor(&setup, train, valid, &test, &cfg, &device)?;
            let pred: Vec<f64> = r
                .predictions
                .iter()
                .enumerate()
                .map(|(i, p)| (task.to_original)(task.test_start + i, p[0] as f64 * std + mean))
                .collect();
            let mse = pred.iter().zip(&truth).map(|(p, t)| (p - t).powi(2)).sum::<f64>() / truth.len() as f64;
            scores.push(mse);
            first_forecast.get_or_insert(pred);
        }
        let (m, sd) = mean_std(&scores);
        let rmses: Vec<f64> = scores.iter().map(|s| s.sqrt()).collect();
        let (rm, rsd) = mean_std(&rmses);
        eprintln!(
            "[{}] {}: MSE {m:.1} (sd {sd:.1}), RMSE {rm:.2} (sd {rsd:.2}) over {} seeds",
            task.name,
            family.name(),
            args.seeds
        );
        rows.push(json!({"model": family.name(), "mse_mean": m, "mse_sd": sd, "rmse_mean": rm, "rmse_sd": rsd, "per_seed_mse": scores}));
        if let Some(p) = first_forecast {
            curves.push(Series::new(
                format!("{} (seed {})", family.name(), c.seed),
                p.iter().enumerate().map(|(i, v)| (i as f64, *v)).collect(),
            ));
        }
    }
    Ok((json!(rows), curves))
}

fn main() {
    let args = Args::parse();
    run_example(|| {
        let c = &args.common;
        let dir = c.data_dirs().find("timeseries", &["airline_passengers.csv", "sunspots_yearly.csv"])?;
        let out = c.out_dir("forecast")?;

        // --- airline passengers
        let air = read_complete_series_csv(dir.join("airline_passengers.csv"))?.values;
        if air.len() != 144 {
            return Err(dl_core::Error::data(dir.join("airline_passengers.csv"), "rows", "expected 144 months"));
        }
        // Both series are checked before either is trained on.
        let spots_path = dir.join("sunspots_yearly.csv");
        let spots = read_complete_series_csv(&spots_path)?.values;
        let n = spots.len();
        // 67 test years, and before them at least one window of 20 and as
        // many training targets.
        let needed = 67 + 2 * 20;
        if n < needed {
            return Err(dl_core::Error::data(
                &spots_path,
                "rows",
                format!("expected at least {needed} years, found {n}"),
            ));
        }
        let rmse = |f: &dyn Fn(usize) -> f64| ((96..144).map(|t| (air[t] - f(t)).powi(2)).sum::<f64>() / 48.0).sqrt();
        let persistence = rmse(&|t| air[t - 1]);
        let seasonal = rmse(&|t| air[t - 12]);
        let ratio_persistence = rmse(&|t| air[t - 12] * air[t - 1] / air[t - 13]);
        // z[i] is the log-ratio of month i + 12.
        let z: Vec<f64> = (12..144).map(|t| (air[t] / air[t - 12]).ln()).collect();
        let airline = Task {
            name: "airline",
            z,
            window: 12,
            test_start: 96 - 12,
            to_original: Box::new(|i, zp| air[i] * zp.exp()),
            truth: Box::new(|i| air[i + 12]),
            epochs: 300,
        };
        let (air_rows, air_curves) = run_task(&airline, &args)?;
        line_chart(
            &out.join("airline.png"),
            "Airline passengers, test months (one step ahead)",
            "test month",
            "thousands",
            &air_curves,
            false,
        )?;

        // --- yearly sunspots
        let spot_persistence = (n - 67..n).map(|t| (spots[t] - spots[t - 1]).powi(2)).sum::<f64>() / 67.0;
        let sunspots = Task {
            name: "sunspots",
            z: spots.clone(),
            window: 20,
            test_start: n - 67,
            to_original: Box::new(|_, v| v),
            truth: Box::new(|i| spots[i]),
            epochs: 200,
        };
        let (spot_rows, spot_curves) = run_task(&sunspots, &args)?;
        line_chart(
            &out.join("sunspots.png"),
            "Yearly sunspots, last 67 years (one step ahead)",
            "test year",
            "sunspot number",
            &spot_curves,
            false,
        )?;

        Ok(json!({
            "example": "forecast",
            "airline": {
                "metric": "test RMSE (thousands), last 48 months",
                "baselines": {"persistence": persistence, "seasonal_naive": seasonal,
                              "seasonal_ratio_persistence": ratio_persistence, "sarima_reference": 13.8},
                "models": air_rows,
            },
            "sunspots": {
                "metric": "test MSE, last 67 years",
                "baselines": {"persistence": spot_persistence, "ar9_reference": 309.0},
                "models": spot_rows,
            },
        }))
    });
}
