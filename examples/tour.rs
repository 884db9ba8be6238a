//! A tour of the families: trains and evaluates one model of each family on
//! data that ships with the library (or the data folder when present), in a
//! few minutes on a CPU, and prints a summary table.
//!
//! `cargo run --release --example tour -- [--device flex|ndarray|wgpu] [--quick]`

use clap::Parser;
use dl_core::cli::{CommonArgs, print_result};
use serde_json::json;

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
            model: r["model"].as_str().unwrap_or("").into(),
            data: format!("digits 8x8 ({})", r["data"].as_str().unwrap_or("")),
            metric: "test accuracy",
            value: r["test_accuracy"].as_f64().unwrap_or(f64::NAN),
            seconds: r["seconds"].as_f64().unwrap_or(f64::NAN),
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
                println!(
                    "{:<8} {:<22} {:<16} {:<28} {:<14} {:>8.4} {:>8.1}",
                    r.family, r.task, r.model, r.data, r.metric, r.value, r.seconds
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
