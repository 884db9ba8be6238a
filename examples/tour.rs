//! A tour of the families: trains and evaluates one model of each family on
//! data that ships with the library (or the data folder when present), in a
//! few minutes on a CPU, and prints a summary table. Today: a CNN on the 8x8
//! digits, and an Elman RNN, an LSTM and a Transformer encoder on the adding
//! problem (the RNN stays near the 0.167 baseline, the LSTM remembers through
//! its gates, the Transformer attends to the two marked steps directly), and
//! a GAN on the 8-Gaussians ring (how many of the 8 modes it covers).
//!
//! `cargo run --release --example tour -- [--device flex|ndarray|wgpu] [--quick]`

use clap::Parser;
use dl_core::ModelConfig;
use dl_core::data::synthetic::adding_problem;
use dl_core::task::evaluate;
use dl_core::train::fit;
use dl_examples::cli::{CommonArgs, print_result};
use dl_families::recurrent::{Family, RegressorSetup, train_regressor};
use dl_seq::{HeadConfig, Pooling, SequenceModelConfig, SequenceTask, SeriesBatcher};
use dl_transformer::TransformerEncoderConfig;
use serde_json::json;

/// Generator steps of the tour's GAN.
const TOUR_GAN_STEPS: usize = 10_000;

#[derive(Parser)]
#[command(about = "Train and evaluate one model of each family")]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
}

/// One row of the summary table.
struct Row {
    family: &'static str,
    task: &'static str,
    model: String,
    data: String,
    metric: &'static str,
    value: f64,
    seconds: f64,
}

fn main() {
    let args = Args::parse();
    let run = || -> dl_core::Result<Vec<Row>> {
        let c = &args.common;
        let out = c.out_dir("tour")?;
        let device = c.device()?;
        let mut rows = Vec::new();

        // CNN: a LeNet-style network on the 8x8 handwritten digits.
        eprintln!("[cnn] training a VGG-style CNN on the 8x8 digits ...");
        let mut cfg = c.train_config(40, Some(out.join("cnn-digits")));
        cfg.schedule = dl_core::train::LrSchedule::Cosine { min_lr: 1e-5 };
        let r = dl_cnn::recipes::train_digits(&c.data_dirs(), &cfg, &device)?;
        rows.push(Row {
            family: "CNN",
            task: "image classification",
            model: r.model,
            data: format!("digits 8x8 ({})", r.data),
            metric: "test accuracy",
            value: r.test_accuracy.unwrap_or(f64::NAN),
            seconds: r.seconds,
        });

        // RNN and LSTM: the adding problem at T = 50 (synthetic data), same parameter and
        // training budget; the constant-mean baseline has MSE 0.167.
        let t = 50;
        let n = if c.quick { 1_000 } else { 10_000 };
        let train = adding_problem(n, t, c.seed)?;
        let valid = adding_problem(500, t, c.seed + 1)?;
        let test = adding_problem(1_000, t, c.seed + 2)?;
        let budget = Family::Lstm.layer_params(2, 32);
        for (family, label) in [(Family::Rnn, "RNN"), (Family::Lstm, "LSTM")] {
            eprintln!("[{}] training on the adding problem (T = {t}) ...", family.name());
            let hidden = family.hidden_for_budget(2, budget);
            let mut cfg = c.train_config(10, Some(out.join(format!("{}-adding", family.name()))));
            cfg.batch_size = 50;
            cfg.lr = 2e-3;
            cfg.grad_clip_norm = Some(1.0);
            let setup = RegressorSetup { family, hidden, layers: 1, pooling: Pooling::Last, tolerance: 0.04 };
            let r = train_regressor(&setup, &train, &valid, &test, &cfg, &device)?;
            rows.push(Row {
                family: label,
                task: "sequence memory",
                model: format!("{} h={hidden}", family.name()),
                data: format!("adding problem T={t}"),
                metric: "test MSE",
                value: r.test_mse,
                seconds: r.seconds,
            });
        }

        // Transformer: the same task and budget of epochs; attention reaches the
        // two marked steps in one hop instead of carrying them through 50 steps.
        eprintln!("[transformer] training on the adding problem (T = {t}) ...");
        let config = SequenceModelConfig {
            encoder: TransformerEncoderConfig::new(2, 32).with_n_heads(4).with_layers(2).with_max_len(t),
            head: HeadConfig::new(SequenceTask::Regress { outputs: 1 }).with_pooling(Pooling::Mean),
        };
        let mut cfg = c.train_config(10, Some(out.join("transformer-adding")));
        cfg.batch_size = 50;
        cfg.lr = 1e-3;
        cfg.grad_clip_norm = Some(1.0);
        cfg.warmup_steps = 100;
        let ad = device.clone().autodiff();
        let start = std::time::Instant::now();
        let report = fit(config.init(&ad)?, &train, Some(&valid), &SeriesBatcher, &cfg, &ad)?;
        let seconds = start.elapsed().as_secs_f64();
        let eval = evaluate(&report.model, &test, &SeriesBatcher, 256, &device)?;
        rows.push(Row {
            family: "Transf.",
            task: "sequence memory",
            model: "encoder d=32 2L".into(),
            data: format!("adding problem T={t}"),
            metric: "test MSE",
            value: eval.loss,
            seconds,
        });

        // GAN: the 8-Gaussians ring (generated, no dataset needed); coverage
        // of the 8 modes by high-quality samples, the measure of mode collapse.
        eprintln!("[gan] training a GAN on the 8-Gaussians ring ...");
        let opts = dl_gan::recipes::ToyOptions {
            steps: if c.quick { 200 } else { TOUR_GAN_STEPS },
            seed: c.seed,
            progress: !c.no_progress,
            ..Default::default()
        };
        let recipe = dl_gan::recipes::ToyGan::Stabilised;
        let r =
            dl_gan::recipes::train_toy(&dl_gan::Mixture::ring8(), recipe, &opts, Some(&out.join("gan-ring")), &device)?;
        rows.push(Row {
            family: "GAN",
            task: "generation",
            model: format!("MLP {}", recipe.name()),
            data: "8-Gaussians ring".into(),
            metric: "modes of 8",
            value: r.coverage.modes_covered as f64,
            seconds: r.seconds,
        });
        rows.push(Row {
            family: "GAN",
            task: "generation",
            model: format!("MLP {}", recipe.name()),
            data: "8-Gaussians ring".into(),
            metric: "high quality",
            value: r.coverage.high_quality,
            seconds: r.seconds,
        });
        Ok(rows)
    };
    match run() {
        Ok(rows) => {
            println!(
                "\n{:<8} {:<22} {:<16} {:<28} {:<14} {:>8} {:>8}",
                "family", "task", "model", "data", "metric", "value", "seconds"
            );
            for r in &rows {
                // Small errors (the solved adding problem) in scientific notation.
                let value = if r.value != 0.0 && r.value.abs() < 1e-3 {
                    format!("{:.1e}", r.value)
                } else {
                    format!("{:.4}", r.value)
                };
                println!(
                    "{:<8} {:<22} {:<16} {:<28} {:<14} {:>8} {:>8.1}",
                    r.family, r.task, r.model, r.data, r.metric, value, r.seconds
                );
            }
            let results: Vec<_> = rows
                .iter()
                .map(|r| json!({"family": r.family, "model": r.model, "metric": r.metric, "value": r.value, "seconds": r.seconds}))
                .collect();
            print_result(&json!({"tour": results}));
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
