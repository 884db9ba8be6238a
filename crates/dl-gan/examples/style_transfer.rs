//! Style transfer on MNIST: a class-conditional DCGAN with continuous InfoGAN
//! codes, codes 0 and 1 anchored to measured slant and stroke width (a style
//! term makes the generator draw them); a real test digit's codes (measured,
//! Q head, or latent search) redraw it as each of 0-9. Measures, outputs and
//! results: docs/gan.md, "Style transfer through continuous codes".
//!
//! `cargo run -p dl-gan --release --example style_transfer -- [--epochs 10] [--latent 8] [--codes 8] [--guide-ranks all|class] [--style-weight 1] [--unguided] [--sources N] [--quick]`

mod common;

use burn::module::Module;
use burn::tensor::{Tensor, TensorData};
use clap::Parser;
use common::{GanArgs, classify, load_mnist, pixels, scorer, train_dcgan_on};
use dl_core::checkpoint::load_model;
use dl_core::config::check;
use dl_core::metrics::pearson;
use dl_core::task::to_f32;
use dl_core::{Error, Result};
use dl_examples::cli::{CommonArgs, run_example};
use dl_gan::latent::{InpaintConfig, search_latent};
use dl_gan::sampling::save_sample_grid;
use dl_gan::style::{RankScale, StyleTerm, estimate_codes, restyle, slant, stroke_width};
use dl_gan::{Dcgan, DcganConfig};
use serde_json::json;

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    gan: GanArgs,
    /// Continuous codes (the first latent values).
    #[arg(long, default_value_t = 8)]
    codes: usize,
    /// Latent values in all (codes included; more than `--codes` leaves noise
    /// beside them, which takes the style away from the codes: docs/gan.md).
    #[arg(long, default_value_t = 8)]
    latent: usize,
    /// Real test digits restyled as each of the ten digits.
    #[arg(long, default_value_t = 300)]
    sources: usize,
    /// Starts of the latent search that inverts the generator, per source.
    #[arg(long, default_value_t = 4)]
    restarts: usize,
    /// Adam steps of the latent search.
    #[arg(long, default_value_t = 200)]
    steps: usize,
    /// Leave every code free (plain InfoGAN codes): codes 0 and 1 are not
    /// anchored to slant and stroke width, and no style term is trained.
    #[arg(long, conflicts_with_all = ["guide_ranks", "style_weight"])]
    unguided: bool,
    /// Codes 0 and 1 are anchored to the measured slant and stroke width of
    /// the training digits, ranked among all training digits or among the
    /// digits of each one's class, scaled to [-1, 1]; the Q head also learns
    /// to read them on real digits (a semi-supervised InfoGAN).
    #[arg(long, value_enum, default_value_t = GuideRanks::All)]
    guide_ranks: GuideRanks,
    /// Weight of a generator loss that makes the slant and stroke width
    /// measured on each generated digit the values its codes 0 and 1 stand
    /// for (`dl_gan::style::StyleTerm`; 0 = none).
    #[arg(long, default_value_t = 1.0)]
    style_weight: f64,
}

/// What the anchored codes rank a digit's slant and stroke width among.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
enum GuideRanks {
    /// All training digits.
    All,
    /// The training digits of the same class.
    Class,
}

fn main() {
    let args = Args::parse();
    run_example(|| run(&args));
}

/// The most likely class of each row of `probs` (10 per row).
fn argmax(probs: &[f32]) -> Vec<usize> {
    probs.chunks(10).map(|p| p.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |m| m.0)).collect()
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

/// Pearson correlations of source and output slant and stroke width over
/// the pairs where both are defined; output `i` was drawn from source
/// `i / 10` as digit `i % 10`. `raw`: the values as measured; `within`: each
/// value minus the mean of its class (the source's label, the output's
/// digit), so that the slant a 7 has as a 7 does not count as style.
fn style_correlations(sources: &[Style], labels: &[usize], outputs: &[Style]) -> Result<serde_json::Value> {
    let r = |pick: fn(&Style) -> Option<f64>, within: bool| -> Result<f64> {
        let class_means = |values: &mut dyn Iterator<Item = (usize, Option<f64>)>| {
            let mut sums = [(0.0, 0usize); 10];
            for (k, v) in values {
                if let Some(v) = v {
                    sums[k].0 += v;
                    sums[k].1 += 1;
                }
            }
            sums.map(|(s, n)| if within && n > 0 { s / n as f64 } else { 0.0 })
        };
        let src_mean = class_means(&mut sources.iter().zip(labels).map(|(s, &k)| (k, pick(s))));
        let out_mean = class_means(&mut outputs.iter().enumerate().map(|(i, o)| (i % 10, pick(o))));
        let (a, b): (Vec<f64>, Vec<f64>) = outputs
            .iter()
            .enumerate()
            .filter_map(|(i, o)| {
                let (k, d) = (labels[i / 10], i % 10);
                pick(&sources[i / 10]).zip(pick(o)).map(|(x, y)| (x - src_mean[k], y - out_mean[d]))
            })
            .unzip();
        pearson(&a, &b)
    };
    Ok(json!({
        "slant": r(|s| s.slant, false)?, "stroke_width": r(|s| s.width, false)?,
        "slant_within_class": r(|s| s.slant, true)?, "stroke_width_within_class": r(|s| s.width, true)?,
    }))
}

/// Ranks of slant and stroke width, among all digits or among each class's.
struct StyleScales {
    slants: Vec<RankScale>,
    widths: Vec<RankScale>,
}

impl StyleScales {
    /// The scales of `styles` (labelled `labels`): one, or one per class.
    fn new(styles: &[Style], labels: &[usize], ranks: GuideRanks) -> Result<Self> {
        let groups = (ranks == GuideRanks::Class).then_some((labels, 10));
        let scale = |pick: fn(&Style) -> Option<f64>| {
            RankScale::per_group(&styles.iter().map(pick).collect::<Vec<_>>(), groups)
        };
        Ok(StyleScales { slants: scale(|s| s.slant)?, widths: scale(|s| s.width)? })
    }

    /// The scale of class `k`.
    fn of(scales: &[RankScale], k: usize) -> &RankScale {
        &scales[k.min(scales.len() - 1)]
    }

    /// Codes 0 and 1 of each style: its slant's and stroke width's ranks, scaled to [-1, 1].
    fn codes(&self, styles: &[Style], labels: &[usize]) -> Vec<f32> {
        styles
            .iter()
            .zip(labels)
            .flat_map(|(s, &k)| [Self::of(&self.slants, k).code(s.slant), Self::of(&self.widths, k).code(s.width)])
            .collect()
    }
}

/// What a perfect transfer would score with real digits: for each source
/// and each digit k, the slant and the stroke width that digit k's real
/// digits (`pool`) have at the source's rank within its own class: what
/// the raw figures of a transfer that keeps style come to while each class
/// keeps its own typical slant and width.
fn rank_matched(sources: &[Style], labels: &[usize], pool: &[Style], pool_labels: &[usize]) -> Result<Vec<Style>> {
    let scales = StyleScales::new(pool, pool_labels, GuideRanks::Class)?;
    let at =
        |scales: &[RankScale], v: Option<f64>, c: usize, k: usize| v.map(|v| scales[k].value(scales[c].code(Some(v))));
    Ok(sources
        .iter()
        .zip(labels)
        .flat_map(|(s, &c)| {
            let scales = &scales;
            (0..10).map(move |k| Style {
                slant: at(&scales.slants, s.slant, c, k),
                width: at(&scales.widths, s.width, c, k),
            })
        })
        .collect())
}

fn run(args: &Args) -> Result<serde_json::Value> {
    let c = &args.common;
    check::positive("style_transfer", "--codes", args.codes)?;
    check::positive("style_transfer", "--sources", args.sources)?;
    if !args.style_weight.is_finite() || args.style_weight < 0.0 {
        return Err(Error::config(
            "style_transfer",
            "--style-weight",
            format!("must be >= 0, got {}", args.style_weight),
        ));
    }
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
    let guided = !args.unguided;
    if guided && args.codes < 2 {
        return Err(Error::config(
            "style_transfer",
            "--codes",
            "codes 0 and 1 are anchored to slant and stroke width: needs --codes >= 2 (or --unguided)",
        ));
    }
    // Guided: each training digit's slant and stroke width as codes 0 and 1.
    let train_pixels = pixels(&data.train);
    let train_styles = styles(&train_pixels)?;
    let train_labels: Vec<usize> = data.train.iter().map(|item| item.label).collect();
    let scales = StyleScales::new(&train_styles, &train_labels, args.guide_ranks)?;
    let mut train = dl_gan::GanData::from_images(&data.train, config.num_classes)?;
    if guided {
        train = train.with_code_targets(scales.codes(&train_styles, &train_labels), 2)?;
    }
    let n = args.sources.min(data.test.len());
    let source_values = pixels(&data.test[..n]);
    let source_styles = styles(&source_values)?;
    let source_labels: Vec<usize> = data.test[..n].iter().map(|item| item.label).collect();
    // A perfect transfer's figures: each source's within-class rank carried to real digits of 0-9.
    let test_labels: Vec<usize> = data.test.iter().map(|item| item.label).collect();
    let ceiling = rank_matched(&source_styles, &source_labels, &styles(&pixels(&data.test))?, &test_labels)?;
    let ceiling = style_correlations(&source_styles, &source_labels, &ceiling)?;
    eprintln!(
        "a perfect transfer (real digits of each class at the source's within-class rank): slant {:.3}, stroke width {:.3}",
        ceiling["slant"].as_f64().unwrap_or(f64::NAN),
        ceiling["stroke_width"].as_f64().unwrap_or(f64::NAN),
    );
    // The generator drawn to the slant and width its codes stand for.
    let term = if guided && args.style_weight > 0.0 {
        let classes = (args.guide_ranks == GuideRanks::Class).then_some((&train_labels[..], 10));
        Some(StyleTerm::new(&train_pixels, 784, 28, classes, args.style_weight)?)
    } else {
        None
    };
    let term = term.as_ref().map(|t| t as &dyn dl_gan::SampleTerm);
    let trained = train_dcgan_on(c, &args.gan, &config, &train, term, c.epochs(10), &out, &out.join("model"), &device)?;
    let (g, d) = (&trained.generator, trained.report.discriminator.valid());

    // Each source's codes, by the Q head and by a latent search that redraws the
    // source (as the class LeNet reads in it); each source drawn as 0-9 with them.
    let digits: Vec<usize> = (0..10).collect();
    let q_codes = {
        let images = Tensor::<2>::from_data(TensorData::new(source_values.clone(), [n, 784]), &device);
        to_f32(estimate_codes(&d, images)?)?
    };
    let ad = device.clone().autodiff();
    let (_, on_ad): (DcganConfig, Dcgan) = load_model(out.join("model"), &ad)?;
    let read_sources = argmax(&classify(&lenet, &source_values, &device)?.0);
    let search = InpaintConfig {
        restarts: args.restarts,
        steps: if c.quick { 20 } else { args.steps },
        seed: c.seed + 5,
        ..InpaintConfig::default()
    };
    let images: Vec<Vec<f32>> = source_values.chunks(784).map(<[f32]>::to_vec).collect();
    let fit = search_latent(&on_ad.generator, &images, &[true; 784], Some(&read_sources), &search, &ad)?;
    let searched: Vec<f32> =
        fit.codes.iter().flat_map(|z| z[..args.codes].iter().map(|v| v.clamp(-1.0, 1.0))).collect();
    // The floor: codes drawn at random.
    let mut rng = dl_core::data::split::SplitRng::new(c.seed + 3);
    let random: Vec<f32> = (0..n * args.codes).map(|_| 2.0 * rng.next_f32() - 1.0).collect();
    // Guided: the source's measured slant and width as codes 0 and 1, the rest from the search.
    let anchored: Vec<f32> = {
        let m = scales.codes(&source_styles, &read_sources);
        searched
            .chunks(args.codes)
            .zip(m.chunks(2))
            .flat_map(|(z, m)| m.iter().chain(&z[2.min(z.len())..]).copied())
            .collect()
    };
    // Guided: the measured slant and width alone, the other codes at their mean (0).
    let anchored_alone: Vec<f32> = {
        let m = scales.codes(&source_styles, &read_sources);
        m.chunks(2)
            .flat_map(|m| m.iter().copied().chain(std::iter::repeat_n(0.0, args.codes.saturating_sub(2))))
            .collect()
    };
    let mut ways = vec![("latent_search", &searched), ("q_head", &q_codes), ("random_codes", &random)];
    if guided {
        ways.insert(0, ("measured_style", &anchored));
        ways.insert(1, ("measured_style_rest_at_mean", &anchored_alone));
    }
    let mut measured = serde_json::Map::new();
    let mut outputs = Vec::new();
    for (name, codes) in ways {
        let mut drawn = Vec::with_capacity(n * 10 * 784);
        for chunk in codes.chunks(args.codes * 250) {
            let rows = chunk.len() / args.codes;
            let t = Tensor::<2>::from_data(TensorData::new(chunk.to_vec(), [rows, args.codes]), &device);
            drawn.extend(to_f32(restyle(g, t, &digits)?)?);
        }
        // Does LeNet read the digit asked for? Is the style kept?
        let read = argmax(&classify(&lenet, &drawn, &device)?.0);
        let asked: Vec<usize> = (0..n * 10).map(|i| i % 10).collect();
        let agreement = dl_core::metrics::accuracy(&read, &asked)?;
        let per_digit: Vec<f64> =
            (0..10).map(|k| (0..n).filter(|i| read[i * 10 + k] == k).count() as f64 / n as f64).collect();
        let r = style_correlations(&source_styles, &source_labels, &styles(&drawn)?)?;
        eprintln!(
            "{name}: LeNet reads the digit asked for in {:.2}% of {} restyled digits; correlation of source and \
             output: slant {:.3} (within classes {:.3}), stroke width {:.3} (within classes {:.3})",
            100.0 * agreement,
            n * 10,
            r["slant"].as_f64().unwrap_or(f64::NAN),
            r["slant_within_class"].as_f64().unwrap_or(f64::NAN),
            r["stroke_width"].as_f64().unwrap_or(f64::NAN),
            r["stroke_width_within_class"].as_f64().unwrap_or(f64::NAN),
        );
        measured.insert(
            name.to_string(),
            json!({ "lenet_agreement": agreement, "lenet_agreement_per_digit": per_digit, "correlation": r }),
        );
        if outputs.is_empty() {
            outputs = drawn;
        }
    }

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
    let mean_error = fit.errors.iter().sum::<f32>() / fit.errors.len() as f32;
    Ok(json!({
        "example": "style_transfer",
        "data": data.source,
        "codes": args.codes,
        "latent": args.latent,
        "guided": guided,
        "guide_ranks": guided.then_some(args.guide_ranks),
        "style_weight": if guided { args.style_weight } else { 0.0 },
        "epochs": trained.report.state.epoch,
        "generator_steps": trained.report.state.g_step,
        "train_seconds": trained.seconds,
        "scorer_test_accuracy": lenet_acc,
        "sources": n,
        "search": { "restarts": search.restarts, "steps": search.steps, "mean_squared_error": mean_error },
        "transfer": measured,
        "perfect_transfer_correlation": ceiling,
        "final_code_loss": trained.report.state.epochs.last().and_then(|e| e.info_loss),
        "final_style_loss": trained.report.state.epochs.last().and_then(|e| e.term_loss),
        "generator_parameters": g.num_params(),
    }))
}
