//! DCGAN (or, with `--info-codes K`, InfoGAN) on the 60,000 MNIST training
//! digits, scored by a LeNet-5: confident share, classes present, Fréchet
//! distance, beside real digits. Flags, outputs and results: docs/gan.md.
//!
//! `cargo run -p dl-gan --release --example dcgan_mnist -- [--epochs N] [--loss hinge --spectral-norm] [--info-codes 10] [--truncation 0.5] [--keep-best 0.5] [--variants] [--quick]`

#[path = "../common/mod.rs"]
mod common;
mod extras;

use burn::module::Module;
use burn::tensor::{Int, Tensor, TensorData};
use clap::Parser;
use common::{GanArgs, captioned_grid, dcgan_model_dir, load_mnist, pixels, score, score_json, score_line, scorer};
use dl_core::Result;
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
    /// Train an InfoGAN with a categorical code of this many values.
    #[arg(long)]
    info_codes: Option<usize>,
    #[command(flatten)]
    extra: extras::ExtraArgs,
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
    let trained = common::train_dcgan(c, &args.gan, &config, &data, &out, &model_dir, &device)?;
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

    captioned_grid(&lenet, &generated, &out.join("grid.png"), &device)?;

    println!("scoring LeNet-5 test accuracy {:.2}%", 100.0 * lenet_acc);
    println!("generated: {}  (real digits: {})", score_line(&gen_score, gen_fd), score_line(&real_score, real_fd));
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
