//! Conditional DCGAN on MNIST: ask for digit k, get digit k.
//!
//! `cargo run -p dl-gan --release --example cgan_mnist -- [--epochs N] [--quick]`
//!
//! The generator reads a learned class embedding beside its latent code;
//! the discriminator is a projection discriminator. Reports, on 1,000
//! samples per class from the weight-averaged generator, how often the
//! scoring LeNet-5 agrees with the class asked for (per class and overall),
//! the confident fraction and the Fréchet distance to the real test digits.
//! Writes `out/cgan_mnist/`: checkpoint, `metrics.csv`, `losses.png`,
//! `samples/epoch_NNN.png`, `grid.png` (10x10, row k = digit k) and `model/`
//! (both networks, and `generator.bpk`: the sampler alone).

mod common;

use clap::Parser;
use common::{GanArgs, load_mnist, pixels, score, score_json, scorer, train_dcgan};
use dl_core::Result;
use dl_examples::cli::{CommonArgs, run_example};
use dl_gan::DcganConfig;
use dl_gan::sampling::{grid_labels, latent_codes, sample_values, save_sample_grid};
use serde_json::json;

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    gan: GanArgs,
    /// Generated samples per class scored.
    #[arg(long, default_value_t = 1_000)]
    per_class: usize,
}

fn main() {
    let args = Args::parse();
    run_example(|| run(&args));
}

fn run(args: &Args) -> Result<serde_json::Value> {
    let c = &args.common;
    let data = load_mnist(c)?;
    let device = c.device()?;
    let (lenet, lenet_acc) = scorer(c, &data, &device)?;
    let out = c.out_dir(if c.quick { "cgan_mnist_quick" } else { "cgan_mnist" })?;

    let config = DcganConfig::new().with_num_classes(Some(10)).with_spectral_norm(args.gan.spectral_norm);
    let trained = train_dcgan(c, &args.gan, &config, &data, &out, &out.join("model"), &device)?;
    let (report, g, train_secs) = (&trained.report, trained.generator.clone(), trained.seconds);

    // Ask for each digit `per` times.
    let per = if c.quick { 100 } else { args.per_class };
    let asked: Vec<usize> = (0..10 * per).map(|i| i / per).collect();
    let z = latent_codes(10 * per, config.latent_dim, c.seed + 1, &device);
    let generated = sample_values(&g, z, Some(grid_labels(10, per, &device)), 500)?;
    let (_, real_feats) = common::classify(&lenet, &pixels(&data.test), &device)?;
    let (s, fd) = score(&lenet, &generated, Some(&asked), &real_feats, &device)?;
    let (probs, _) = common::classify(&lenet, &generated, &device)?;
    let per_class: Vec<f64> = (0..10)
        .map(|k| {
            let agree = (k * per..(k + 1) * per)
                .filter(|&i| {
                    let row = &probs[i * 10..(i + 1) * 10];
                    row.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|m| m.0) == Some(k)
                })
                .count();
            agree as f64 / per as f64
        })
        .collect();

    // 10x10 grid: row k = ten samples asked to be digit k.
    let z = latent_codes(100, config.latent_dim, c.seed + 2, &device);
    let grid = sample_values(&g, z, Some(grid_labels(10, 10, &device)), 100)?;
    save_sample_grid(&out.join("grid.png"), &grid, [1, 28, 28], 10)?;

    println!("scoring LeNet-5 test accuracy {:.2}%", 100.0 * lenet_acc);
    println!(
        "asked digit k, classifier agrees: {:.1}% (per class {})",
        100.0 * s.agreement.unwrap_or(0.0),
        per_class.iter().map(|a| format!("{:.0}%", 100.0 * a)).collect::<Vec<_>>().join(" ")
    );
    println!("confident {:.1}%, Frechet {:.2}", 100.0 * s.confident, fd);
    Ok(json!({
        "example": "cgan_mnist",
        "data": data.source,
        "loss": args.gan.loss.name(),
        "spectral_norm": args.gan.spectral_norm,
        "epochs": report.state.epoch,
        "generator_steps": report.state.g_step,
        "train_seconds": train_secs,
        "scorer_test_accuracy": lenet_acc,
        "agreement": s.agreement,
        "agreement_per_class": per_class,
        "generated": score_json(&s, fd),
    }))
}
