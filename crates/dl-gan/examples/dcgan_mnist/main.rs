//! DCGAN on the 60,000 MNIST training digits, judged by a LeNet-5 trained on MNIST.
//!
//! `cargo run -p dl-gan --release --example dcgan_mnist -- [--epochs N] [--loss hinge --spectral-norm] [--info-codes 10] [--truncation 0.5] [--keep-best 0.5] [--variants] [--quick]`
//!
//! `--info-codes K` makes it an InfoGAN: the same networks, the generator
//! conditioned on a categorical code of `K` values drawn uniformly, the
//! discriminator with a Q head that recovers the code (no label is read;
//! see `dl_gan::models::dcgan`). Samples are scored with the codes taken in
//! turn. Its files go to `out/dcgan_mnist_info/`.
//!
//! Reports, on 10,000 samples of the weight-averaged generator (its
//! batch-norm statistics measured again on its own samples): the fraction
//! the classifier labels with probability >= 0.9, the class histogram (are
//! all 10 digits there?), and the Fréchet distance between the classifier's
//! penultimate (84-d) features of the samples and of the 10,000 real test
//! digits, beside the same figures for real training digits (the floor).
//! `--truncation`, `--keep-best` and `--variants` add the measurements of
//! docs/gan.md (truncated codes, discriminator filtering, the generator as
//! trained and the average before its statistics were measured again).
//! Writes `out/dcgan_mnist/`: the trainer's checkpoint, `metrics.csv`,
//! `losses.png`, `samples/epoch_NNN.png` (64 fixed codes), `grid.png` (100
//! samples captioned with the classifier's label) and `model/` (the
//! generator used by the `inpaint` and `interpolate` examples).

#[path = "../common/mod.rs"]
mod common;
mod extras;

use burn::module::Module;
use burn::tensor::{Int, Tensor, TensorData};
use clap::Parser;
use common::{GanArgs, dcgan_model_dir, load_mnist, pixels, score, score_json, scorer, train_dcgan};
use dl_core::Result;
use dl_core::plot::image_grid_png;
use dl_examples::cli::{CommonArgs, run_example};
use dl_gan::DcganConfig;
use dl_gan::sampling::{latent_codes, sample_values};
use extras::Extras;
use serde_json::json;

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    gan: GanArgs,
    /// Generated samples scored.
    #[arg(long, default_value_t = 10_000)]
    samples: usize,
    /// Also score samples from codes scaled by this factor (< 1: the truncation
    /// trick, trading diversity for quality).
    #[arg(long)]
    truncation: Option<f32>,
    /// Also score samples filtered by the discriminator: draw `n / F` and keep
    /// the `n` it rates most real (discriminator rejection sampling, simplest form).
    #[arg(long)]
    keep_best: Option<f32>,
    /// Train an InfoGAN with a categorical code of this many values.
    #[arg(long)]
    info_codes: Option<usize>,
    /// Also score the generator as trained (no average) and the average before
    /// its batch-norm statistics were measured again.
    #[arg(long)]
    variants: bool,
}

fn main() {
    let args = Args::parse();
    run_example(|| run(&args));
}

fn run(args: &Args) -> Result<serde_json::Value> {
    let c = &args.common;
    extras::check(args)?;
    let data = load_mnist(c)?;
    let device = c.device()?;
    let (lenet, lenet_acc) = scorer(c, &data, &device)?;
    let name = match (args.info_codes.is_some(), c.quick) {
        (false, false) => "dcgan_mnist",
        (false, true) => "dcgan_mnist_quick",
        (true, false) => "dcgan_mnist_info",
        (true, true) => "dcgan_mnist_info_quick",
    };
    let out = c.out_dir(name)?;
    // The plain DCGAN's generator is the one `inpaint` and `interpolate` read.
    let model_dir = if args.info_codes.is_some() { out.join("model") } else { dcgan_model_dir(c) };

    let config = DcganConfig::new().with_spectral_norm(args.gan.spectral_norm).with_info_codes(args.info_codes);
    let trained = train_dcgan(c, &args.gan, &config, &data, &out, &model_dir, &device)?;
    let (report, g, train_secs) = (&trained.report, trained.generator.clone(), trained.seconds);
    let live = report.generator.valid();

    // Score generated digits against the real test digits; real training digits give the floor.
    let n = if c.quick { 1_000 } else { args.samples };
    let test_pixels = pixels(&data.test);
    let (_, real_feats) = common::classify(&lenet, &test_pixels, &device)?;
    let z_of = |n: usize| latent_codes(n, config.latent_dim, c.seed + 1, &device);
    let z = z_of(n);
    // InfoGAN codes taken in turn (sample i gets code i mod K).
    let codes_of = |n: usize| {
        config.info_codes.map(|k| {
            let ids: Vec<i64> = (0..n).map(|i| (i % k) as i64).collect();
            Tensor::<1, Int>::from_data(TensorData::new(ids, [n]), &device)
        })
    };
    let generated = sample_values(&g, z, codes_of(n), 500)?;
    let (gen_score, gen_fd) = score(&lenet, &generated, None, &real_feats, &device)?;
    let extras =
        Extras { args, lenet: &lenet, real_feats: &real_feats, n, z_of: &z_of, codes_of: &codes_of, device: &device };
    let (truncated, filtered, variants) = extras.measure(&g, report, &live, &trained.averaged)?;
    let real_n = n.min(data.train.len());
    let (real_score, real_fd) = score(&lenet, &pixels(&data.train[..real_n]), None, &real_feats, &device)?;

    let (probs, _) = common::classify(&lenet, &generated[..100 * 784], &device)?;
    let captions: Vec<String> = probs
        .chunks(10)
        .map(|p| {
            let (k, v) = p.iter().enumerate().fold((0, 0.0f32), |b, (k, &v)| if v > b.1 { (k, v) } else { b });
            format!("{k} {:.0}%", 100.0 * v)
        })
        .collect();
    let images: Vec<Vec<f32>> = generated[..100 * 784].chunks(784).map(<[f32]>::to_vec).collect();
    image_grid_png(&out.join("grid.png"), &images, 28, 28, 10, 2, Some(&captions))?;

    println!("scoring LeNet-5 test accuracy {:.2}%", 100.0 * lenet_acc);
    println!(
        "generated: {:.1}% confident, {} classes present, Frechet {:.2}  (real digits: {:.1}%, {}, {:.2})",
        100.0 * gen_score.confident,
        gen_score.classes_present,
        gen_fd,
        100.0 * real_score.confident,
        real_score.classes_present,
        real_fd
    );
    println!("histogram {:?}", gen_score.histogram);
    Ok(json!({
        "example": "dcgan_mnist",
        "data": data.source,
        "loss": args.gan.loss.name(),
        "info_codes": args.info_codes,
        "spectral_norm": args.gan.spectral_norm,
        "epochs": report.state.epoch,
        "generator_steps": report.state.g_step,
        "train_seconds": train_secs,
        "scorer_test_accuracy": lenet_acc,
        "generated": score_json(&gen_score, gen_fd),
        "truncated": truncated,
        "variants": variants,
        "discriminator_filtered": filtered,
        "real": score_json(&real_score, real_fd),
        "final_d_loss": report.state.epochs.last().map(|e| e.d_loss),
        "final_g_loss": report.state.epochs.last().map(|e| e.g_loss),
    }))
}
