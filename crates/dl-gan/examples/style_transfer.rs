//! Style transfer on MNIST: a class-conditional DCGAN with continuous InfoGAN
//! codes learns to draw a digit's class from its label and its style from
//! the codes; the discriminator's Q head reads the codes of a real test
//! digit, and the generator draws all ten digits with them.
//!
//! `cargo run -p dl-gan --release --example style_transfer -- [--epochs N] [--codes K] [--sources N] [--quick]`
//!
//! Measures, on `--sources` real test digits restyled as each of 0-9: how
//! often the scoring LeNet-5 reads the digit asked for, and how well the
//! style carries over: the correlation between source and output of the
//! slant (image moments) and of the stroke width (ink area over outline),
//! beside the same correlations for random codes (the floor). Writes
//! `out/style_transfer/`: the trainer's files, `model/`, and `transfer.png`
//! (each row: a real digit, then its style on 0-9).

mod common;

use burn::module::Module;
use burn::tensor::{Tensor, TensorData};
use clap::Parser;
use common::{GanArgs, classify, load_mnist, pixels, scorer, train_dcgan};
use dl_core::config::check;
use dl_core::metrics::pearson;
use dl_core::task::to_f32;
use dl_core::{Error, Result};
use dl_examples::cli::{CommonArgs, run_example};
use dl_gan::DcganConfig;
use dl_gan::sampling::save_sample_grid;
use dl_gan::style::{estimate_codes, restyle, slant, stroke_width};
use serde_json::json;

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    gan: GanArgs,
    /// Continuous codes (the first latent values).
    #[arg(long, default_value_t = 4)]
    codes: usize,
    /// Latent values in all (codes included).
    #[arg(long, default_value_t = 32)]
    latent: usize,
    /// Real test digits restyled as each of the ten digits.
    #[arg(long, default_value_t = 1_000)]
    sources: usize,
}

fn main() {
    let args = Args::parse();
    run_example(|| run(&args));
}

/// Slant and stroke width of an image (`None` where undefined).
#[derive(Debug, Clone, Copy)]
struct Style {
    slant: Option<f64>,
    width: Option<f64>,
}

/// The style of each 28x28 image of `values`.
fn styles(values: &[f32]) -> Result<Vec<Style>> {
    values.chunks(784).map(|img| Ok(Style { slant: slant(img, 28)?, width: stroke_width(img, 28)? })).collect()
}

/// Pearson correlation of source and output slant and stroke width over the
/// pairs where both are defined; each output `i` was drawn from source `i / per`.
fn style_correlations(sources: &[Style], outputs: &[Style], per: usize) -> Result<(f64, f64)> {
    let pairs = |pick: fn(&Style) -> Option<f64>| -> Result<f64> {
        let (a, b): (Vec<f64>, Vec<f64>) =
            outputs.iter().enumerate().filter_map(|(i, o)| pick(&sources[i / per]).zip(pick(o))).unzip();
        pearson(&a, &b)
    };
    Ok((pairs(|s| s.slant)?, pairs(|s| s.width)?))
}

fn run(args: &Args) -> Result<serde_json::Value> {
    let c = &args.common;
    check::positive("style_transfer", "--codes", args.codes)?;
    check::positive("style_transfer", "--sources", args.sources)?;
    let config = DcganConfig::new()
        .with_num_classes(Some(10))
        .with_continuous_codes(args.codes)
        .with_latent_dim(args.latent)
        .with_spectral_norm(args.gan.spectral_norm);
    // A bad --codes / --latent pair is refused before any data is read.
    dl_core::ModelConfig::validate(&config)?;
    let data = load_mnist(c)?;
    let device = c.device()?;
    let (lenet, lenet_acc) = scorer(c, &data, &device)?;
    let out = c.out_dir(if c.quick { "style_transfer_quick" } else { "style_transfer" })?;
    let trained = train_dcgan(c, &args.gan, &config, &data, &out, &out.join("model"), &device)?;
    let (g, d) = (&trained.generator, trained.report.discriminator.valid());

    // Each source's codes, read by the Q head; each source drawn as 0-9 with them.
    let n = args.sources.min(data.test.len());
    let source_values = pixels(&data.test[..n]);
    let digits: Vec<usize> = (0..10).collect();
    let (mut outputs, mut codes_all) = (Vec::with_capacity(n * 10 * 784), Vec::new());
    for chunk in source_values.chunks(784 * 250) {
        let b = chunk.len() / 784;
        let images = Tensor::<2>::from_data(TensorData::new(chunk.to_vec(), [b, 784]), &device);
        let codes = estimate_codes(&d, images)?;
        codes_all.extend(to_f32(codes.clone())?);
        outputs.extend(to_f32(restyle(g, codes, &digits)?)?);
    }
    // The floor: the same outputs from codes drawn at random.
    let mut rng = dl_core::data::split::SplitRng::new(c.seed + 3);
    let random: Vec<f32> = (0..n * args.codes).map(|_| 2.0 * rng.next_f32() - 1.0).collect();
    let mut random_outputs = Vec::with_capacity(n * 10 * 784);
    for chunk in random.chunks(args.codes * 250) {
        let codes =
            Tensor::<2>::from_data(TensorData::new(chunk.to_vec(), [chunk.len() / args.codes, args.codes]), &device);
        random_outputs.extend(to_f32(restyle(g, codes, &digits)?)?);
    }

    // Does LeNet read the digit asked for?
    let (probs, _) = classify(&lenet, &outputs, &device)?;
    let asked: Vec<usize> = (0..n * 10).map(|i| i % 10).collect();
    let read: Vec<usize> =
        probs.chunks(10).map(|p| p.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |m| m.0)).collect();
    let agreement = dl_core::metrics::accuracy(&read, &asked)?;
    let per_digit: Vec<f64> = (0..10)
        .map(|k| {
            let hits = (0..n).filter(|i| read[i * 10 + k] == k).count();
            hits as f64 / n as f64
        })
        .collect();
    // Is the style kept?
    let source_styles = styles(&source_values)?;
    let (slant_r, width_r) = style_correlations(&source_styles, &styles(&outputs)?, 10)?;
    let (slant_floor, width_floor) = style_correlations(&source_styles, &styles(&random_outputs)?, 10)?;
    eprintln!(
        "LeNet reads the digit asked for in {:.2}% of {} restyled digits; slant r = {slant_r:.3} (random codes \
         {slant_floor:.3}), stroke width r = {width_r:.3} (random codes {width_floor:.3})",
        100.0 * agreement,
        n * 10
    );

    // One source of each digit (the first in the test set), then its style on 0-9.
    let mut grid = Vec::with_capacity(10 * 11 * 784);
    for k in 0..10 {
        let i = data.test[..n].iter().position(|item| item.label == k).ok_or_else(|| {
            Error::Invalid(format!("style_transfer: no {k} among the first {n} test digits (raise --sources)"))
        })?;
        grid.extend_from_slice(&source_values[i * 784..(i + 1) * 784]);
        grid.extend_from_slice(&outputs[i * 10 * 784..(i + 1) * 10 * 784]);
    }
    save_sample_grid(&out.join("transfer.png"), &grid, [1, 28, 28], 11)?;
    let spread = |j: usize| {
        let v: Vec<f32> = codes_all.chunks(args.codes).map(|c| c[j]).collect();
        let m = v.iter().sum::<f32>() / v.len() as f32;
        (v.iter().map(|x| (x - m) * (x - m)).sum::<f32>() / v.len() as f32).sqrt()
    };
    Ok(json!({
        "example": "style_transfer",
        "data": data.source,
        "codes": args.codes,
        "latent": args.latent,
        "epochs": trained.report.state.epoch,
        "generator_steps": trained.report.state.g_step,
        "train_seconds": trained.seconds,
        "scorer_test_accuracy": lenet_acc,
        "sources": n,
        "lenet_agreement": agreement,
        "lenet_agreement_per_digit": per_digit,
        "slant_correlation": slant_r,
        "stroke_width_correlation": width_r,
        "random_codes_slant_correlation": slant_floor,
        "random_codes_stroke_width_correlation": width_floor,
        "code_spread_on_real_digits": (0..args.codes).map(spread).collect::<Vec<_>>(),
        "final_code_loss": trained.report.state.epochs.last().and_then(|e| e.info_loss),
        "generator_parameters": g.num_params(),
    }))
}
