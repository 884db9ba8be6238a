//! `dcgan_mnist`'s optional measurements (`--truncation`, `--keep-best`,
//! `--variants`) and the checks of its sampling options.

use burn::module::Module;
use burn::tensor::{Int, Tensor};
use dl_cnn::LeNet5;
use dl_core::Result;
use dl_gan::sampling::{best_rated_samples, sample_values};
use dl_gan::{DcDiscriminator, DcGenerator, GanReport};
use serde_json::json;

use crate::Args;
use crate::common::{check_truncation, score, score_json, score_line};

/// The optional measurements' flags.
#[derive(clap::Args)]
pub struct ExtraArgs {
    /// Also score samples from codes scaled by this factor (< 1: the truncation
    /// trick, trading diversity for quality).
    #[arg(long)]
    truncation: Option<f32>,
    /// Also score samples filtered by the discriminator: draw `n / F` and keep
    /// the `n` it rates most real (discriminator rejection sampling, simplest form).
    #[arg(long)]
    keep_best: Option<f32>,
    /// Also score the generator as trained (no average) and the average before
    /// its batch-norm statistics were measured again.
    #[arg(long)]
    variants: bool,
}

/// The sampling options, checked before hours of training, not after.
pub fn check(args: &Args) -> Result<()> {
    if !args.common.quick && args.samples < 100 {
        return Err(dl_core::Error::out_of_range("--samples", args.samples, ">= 100 (the grid)"));
    }
    if let Some(t) = args.extra.truncation {
        check_truncation(t)?;
    }
    if let Some(f) = args.extra.keep_best
        && !(f > 0.0 && f < 1.0)
    {
        return Err(dl_core::Error::out_of_range("--keep-best", f, "(0, 1)"));
    }
    Ok(())
}

/// The optional measurements: truncated codes, discriminator filtering, and
/// the generator as trained and before re-measurement (`--variants`).
pub struct Extras<'a> {
    pub args: &'a Args,
    pub lenet: &'a LeNet5,
    pub real_feats: &'a [f32],
    pub n: usize,
    pub z_of: &'a dyn Fn(usize) -> Tensor<2>,
    pub codes_of: &'a dyn Fn(usize) -> Option<Tensor<1, Int>>,
    pub device: &'a burn::tensor::Device,
}

pub type Scores = (Option<serde_json::Value>, Option<serde_json::Value>, serde_json::Map<String, serde_json::Value>);

impl Extras<'_> {
    pub fn measure(
        &self,
        g: &DcGenerator,
        report: &GanReport<DcGenerator, DcDiscriminator>,
        live: &DcGenerator,
        averaged: &DcGenerator,
    ) -> Result<Scores> {
        let truncated = match self.args.extra.truncation {
            Some(t) if t > 0.0 && t < 1.0 => {
                let z = (self.z_of)(self.n).mul_scalar(t);
                let (s, fd) = score(
                    self.lenet,
                    &sample_values(g, z, (self.codes_of)(self.n), 500)?,
                    None,
                    self.real_feats,
                    self.device,
                )?;
                println!("truncation {t}: {}", score_line(&s, fd));
                Some(json!({ "truncation": t, "score": score_json(&s, fd) }))
            }
            _ => None,
        };
        let filtered = match self.args.extra.keep_best {
            Some(f) if f > 0.0 && f < 1.0 => {
                let m = (self.n as f64 / f64::from(f)).ceil() as usize;
                let d = report.discriminator.valid();
                let (kept, _) = best_rated_samples(g, &d, (self.z_of)(m), (self.codes_of)(m), self.n, 500)?;
                let (s, fd) = score(self.lenet, &kept, None, self.real_feats, self.device)?;
                println!("discriminator keeps the best {f} of {m}: {}", score_line(&s, fd));
                println!("histogram {:?}", s.histogram);
                Some(json!({ "keep_best": f, "drawn": m, "score": score_json(&s, fd) }))
            }
            _ => None,
        };
        // The same codes through the generator as trained (no average) and through
        // the average before its batch-norm statistics were measured again.
        let mut variants = serde_json::Map::new();
        for (name, v) in [("live", live), ("averaged_before_recalibration", averaged)]
            .into_iter()
            .filter(|_| self.args.extra.variants)
        {
            let (s, fd) = score(
                self.lenet,
                &sample_values(v, (self.z_of)(self.n), (self.codes_of)(self.n), 500)?,
                None,
                self.real_feats,
                self.device,
            )?;
            println!("{name}: {}", score_line(&s, fd));
            variants.insert(name.to_string(), score_json(&s, fd));
        }
        Ok((truncated, filtered, variants))
    }
}
