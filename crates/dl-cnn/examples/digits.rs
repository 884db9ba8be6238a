//! A LeNet-style CNN on the 8x8 digits (embedded; no download needed).
//!
//! `cargo run -p dl-cnn --release --example digits -- [--epochs N] [--device flex|ndarray|wgpu]`

use clap::Parser;
use dl_examples::cli::{CommonArgs, print_result};

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
}

fn main() {
    let args = Args::parse();
    let run = || -> dl_core::Result<serde_json::Value> {
        let c = &args.common;
        let out = c.out_dir("digits")?;
        let mut cfg = c.train_config(40, Some(out.clone()));
        cfg.schedule = dl_core::train::LrSchedule::Cosine { min_lr: 1e-5 };
        let report = dl_cnn::recipes::train_digits(&c.data_dirs(), &cfg, &c.device()?)?;
        let mut result = serde_json::to_value(&report).map_err(|e| dl_core::Error::Invalid(e.to_string()))?;
        result["device"] = c.device_spec()?.to_string().into();
        result["out"] = out.display().to_string().into();
        Ok(result)
    };
    match run() {
        Ok(r) => print_result(&r),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
