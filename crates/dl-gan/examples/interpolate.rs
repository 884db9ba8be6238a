//! A walk through the DCGAN's latent space: spherical interpolation between
//! pairs of random codes, rendered as rows of digits.
//!
//! `cargo run -p dl-gan --release --example interpolate -- [--pairs N] [--steps N] [--quick]`
//! (needs the generator of `dcgan_mnist`, in `out/dcgan_mnist/model/`).
//!
//! Writes `out/interpolate/walk.png` (one row per pair, from the first code
//! to the second). A generator that learnt a smooth map turns one digit into
//! another through plausible shapes; the result line reports the mean pixel
//! change between neighbouring frames against the change between the ends.

mod common;

use burn::tensor::{Tensor, TensorData};
use clap::Parser;
use common::trained_dcgan;
use dl_core::Result;
use dl_core::task::to_f32;
use dl_examples::cli::{CommonArgs, run_example};
use dl_gan::latent::slerp;
use dl_gan::sampling::{latent_codes, sample_values};
use serde_json::json;

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Pairs of codes (rows).
    #[arg(long, default_value_t = 8)]
    pairs: usize,
    /// Frames per row, ends included.
    #[arg(long, default_value_t = 10)]
    steps: usize,
}

fn main() {
    let args = Args::parse();
    run_example(|| run(&args));
}

fn run(args: &Args) -> Result<serde_json::Value> {
    let c = &args.common;
    let device = c.device()?;
    let (config, gan) = trained_dcgan(c, &device)?;
    let out = c.out_dir("interpolate")?;
    if args.pairs == 0 || args.steps < 2 {
        return Err(dl_core::Error::Invalid("--pairs must be >= 1 and --steps >= 2".into()));
    }
    let dim = config.latent_dim;
    let ends = to_f32(latent_codes(2 * args.pairs, dim, c.seed, &device))?;
    let mut codes = Vec::with_capacity(args.pairs * args.steps * dim);
    for p in 0..args.pairs {
        let a = &ends[2 * p * dim..(2 * p + 1) * dim];
        let b = &ends[(2 * p + 1) * dim..(2 * p + 2) * dim];
        codes.extend(slerp(a, b, args.steps)?.into_iter().flatten());
    }
    let z = Tensor::<2>::from_data(TensorData::new(codes, [args.pairs * args.steps, dim]), &device);
    let frames = sample_values(&gan.generator, z, None, 256)?;
    let images: Vec<Vec<f32>> = frames.chunks(784).map(<[f32]>::to_vec).collect();
    dl_core::plot::image_grid_png(&out.join("walk.png"), &images, 28, 28, args.steps, 2, None)?;
    let dist = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| f64::from((x - y).abs()) / 2.0).sum::<f64>() / 784.0;
    let (mut step_sum, mut end_sum) = (0.0, 0.0);
    for row in images.chunks(args.steps) {
        step_sum += row.windows(2).map(|w| dist(&w[0], &w[1])).sum::<f64>() / (args.steps - 1) as f64;
        end_sum += dist(&row[0], &row[args.steps - 1]);
    }
    let (step, end) = (step_sum / args.pairs as f64, end_sum / args.pairs as f64);
    println!("mean pixel change: {step:.4} between neighbouring frames, {end:.4} between the ends");
    Ok(json!({
        "example": "interpolate", "pairs": args.pairs, "steps": args.steps,
        "neighbour_change": step, "end_change": end, "png": out.join("walk.png"),
    }))
}
