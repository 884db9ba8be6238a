//! Inpainting MNIST test digits by searching the DCGAN's latent space.
//!
//! `cargo run -p dl-gan --release --example inpaint -- [--images N] [--quick]`
//! (needs the generator of `dcgan_mnist`, in `out/dcgan_mnist/model/`).
//!
//! For two masks (the bottom half hidden, a centred 12x12 square hidden),
//! the hidden pixels of `--images` test digits are filled by the generator
//! from the latent code that best explains the visible pixels (Adam on the
//! codes, Gaussian prior, `--restarts` codes per digit), and by the baseline
//! that fills each hidden pixel with its mean over the training digits.
//! Reports the mean squared and absolute error on the hidden pixels (pixel
//! values in [0, 1]) of both, and writes `out/inpaint/<mask>.png`: rows of
//! original, masked, GAN fill, mean fill for 10 digits.

mod common;

use clap::Parser;
use common::{load_mnist, trained_dcgan};
use dl_core::Result;
use dl_core::plot::image_grid_png;
use dl_examples::cli::{CommonArgs, run_example};
use dl_gan::latent::{InpaintConfig, inpaint};
use serde_json::json;

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Test digits inpainted per mask.
    #[arg(long, default_value_t = 100)]
    images: usize,
    /// Latent codes tried per digit.
    #[arg(long, default_value_t = 4)]
    restarts: usize,
    /// Adam steps on the codes.
    #[arg(long, default_value_t = 200)]
    steps: usize,
    /// Weight of the Gaussian prior on the codes.
    #[arg(long, default_value_t = 0.01)]
    prior_weight: f64,
}

fn main() {
    let args = Args::parse();
    run_example(|| run(&args));
}

/// Mean squared and absolute error on the hidden pixels, in [0, 1] pixel units.
fn hidden_error(filled: &[Vec<f32>], truth: &[Vec<f32>], known: &[bool]) -> (f64, f64) {
    let (mut se, mut ae, mut n) = (0.0f64, 0.0f64, 0usize);
    for (f, t) in filled.iter().zip(truth) {
        for ((a, b), k) in f.iter().zip(t).zip(known) {
            if !k {
                let d = f64::from(a - b) / 2.0;
                se += d * d;
                ae += d.abs();
                n += 1;
            }
        }
    }
    (se / n.max(1) as f64, ae / n.max(1) as f64)
}

fn run(args: &Args) -> Result<serde_json::Value> {
    let c = &args.common;
    let data = load_mnist(c)?;
    let ad = c.device()?.autodiff();
    let (_, gan) = trained_dcgan(c, &ad)?;
    let out = c.out_dir("inpaint")?;
    let n = if c.quick { 10 } else { args.images };
    let truth: Vec<Vec<f32>> = data.test.iter().take(n).map(|i| i.pixels.clone()).collect();
    let mut mean = vec![0.0f32; 784];
    for it in &data.train {
        for (m, p) in mean.iter_mut().zip(&it.pixels) {
            *m += p / data.train.len() as f32;
        }
    }
    let cfg = InpaintConfig {
        restarts: args.restarts,
        steps: if c.quick { 20 } else { args.steps },
        prior_weight: args.prior_weight,
        seed: c.seed,
        ..InpaintConfig::default()
    };
    // Visible pixels of each mask (row, column).
    let bottom_half = |r: usize, _c: usize| r < 14;
    let centre_square = |r: usize, c: usize| !((8..20).contains(&r) && (8..20).contains(&c));
    let masks: [(&str, Vec<bool>); 2] = [
        ("bottom_half", (0..784).map(|i| bottom_half(i / 28, i % 28)).collect()),
        ("centre_square", (0..784).map(|i| centre_square(i / 28, i % 28)).collect()),
    ];
    let mut results = Vec::new();
    for (name, known) in masks {
        let start = std::time::Instant::now();
        let filled = inpaint(&gan.generator, &truth, &known, None, &cfg, &ad)?;
        let secs = start.elapsed().as_secs_f64();
        let mean_filled: Vec<Vec<f32>> = truth
            .iter()
            .map(|t| t.iter().zip(&mean).zip(&known).map(|((&x, &m), &k)| if k { x } else { m }).collect())
            .collect();
        let (gan_mse, gan_mae) = hidden_error(&filled, &truth, &known);
        let (mean_mse, mean_mae) = hidden_error(&mean_filled, &truth, &known);
        // Rows: original, masked (hidden pixels at mid-gray), GAN fill, mean fill.
        let shown = n.min(10);
        let mut tiles = Vec::new();
        for row in 0..4 {
            for i in 0..shown {
                tiles.push(match row {
                    0 => truth[i].clone(),
                    1 => truth[i].iter().zip(&known).map(|(&x, &k)| if k { x } else { 0.0 }).collect(),
                    2 => filled[i].clone(),
                    _ => mean_filled[i].clone(),
                });
            }
        }
        image_grid_png(&out.join(format!("{name}.png")), &tiles, 28, 28, shown, 2, None)?;
        println!(
            "{name:<14} hidden-pixel MSE: GAN {gan_mse:.4} vs mean fill {mean_mse:.4}; MAE {gan_mae:.4} vs {mean_mae:.4} ({secs:.0}s)"
        );
        results.push(json!({
            "mask": name, "images": n, "gan_mse": gan_mse, "mean_fill_mse": mean_mse,
            "gan_mae": gan_mae, "mean_fill_mae": mean_mae, "seconds": secs,
        }));
    }
    Ok(json!({ "example": "inpaint", "config": cfg, "results": results }))
}
