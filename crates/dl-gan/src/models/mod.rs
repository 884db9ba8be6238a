//! The generator/discriminator architectures and the traits the trainer uses.
//!
//! Every sample is a flat vector `[D]`: a 2-D point for the toy mixtures, a
//! `C*H*W` image (row-major, values in `[-1, 1]`) for the image GANs, which
//! reshape internally. One sample type lets one trainer, one set of metrics
//! and one latent-space toolkit serve every architecture.

pub mod dcgan;
pub mod mlp;
pub mod specgan;

use burn::module::Module;
use burn::tensor::{Int, Tensor};

use dl_core::{Error, Result};

/// A generator: latent codes (and class labels, if conditional) to samples.
pub trait Generator: Module {
    /// Width of a latent code.
    fn latent_dim(&self) -> usize;
    /// Width of a (flattened) sample.
    fn sample_dim(&self) -> usize;
    /// Number of classes if class-conditioned.
    fn num_classes(&self) -> Option<usize>;
    /// `[B, latent_dim]` (+ labels `[B]`) to `[B, sample_dim]`. Inputs are
    /// assumed checked (see [`generate`]).
    fn forward(&self, z: Tensor<2>, labels: Option<Tensor<1, Int>>) -> Tensor<2>;
}

/// A discriminator (critic): samples (and labels, if conditional) to one real-valued score each.
pub trait Discriminator: Module {
    /// Width of a (flattened) sample.
    fn sample_dim(&self) -> usize;
    /// Number of classes if class-conditioned.
    fn num_classes(&self) -> Option<usize>;
    /// `[B, sample_dim]` (+ labels `[B]`) to logits `[B, 1]`. Inputs are
    /// assumed checked (see [`discriminate`]).
    fn forward(&self, x: Tensor<2>, labels: Option<Tensor<1, Int>>) -> Tensor<2>;
    /// Number of categories of the InfoGAN code the discriminator's Q head
    /// recovers from a sample, if it has one (the generator is then
    /// conditioned on that code and the data are unlabelled).
    fn info_codes(&self) -> Option<usize> {
        None
    }
    /// Number of continuous InfoGAN codes the Q head estimates from a sample:
    /// the first that many latent values, drawn uniformly from [-1, 1]
    /// (0: none). They work with or without class labels.
    fn continuous_codes(&self) -> usize {
        0
    }
    /// Whether the discriminator also names the class of what it judges
    /// (an auxiliary classifier, AC-GAN): [`forward_info`](Discriminator::forward_info)
    /// then returns class logits, and their cross-entropy against the labels
    /// joins both networks' losses.
    fn classifies(&self) -> bool {
        false
    }
    /// [`forward`](Discriminator::forward) plus, with Q heads, the
    /// categorical code logits and the continuous code estimates from the
    /// same features.
    fn forward_info(&self, x: Tensor<2>, labels: Option<Tensor<1, Int>>) -> Judgement {
        Judgement { scores: self.forward(x, labels), categories: None, continuous: None, classes: None }
    }
}

/// What a discriminator with InfoGAN heads says about a batch.
#[derive(Debug, Clone)]
pub struct Judgement {
    /// Real/fake logits `[B, 1]`.
    pub scores: Tensor<2>,
    /// Logits of the categorical code `[B, info_codes]`, with that head.
    pub categories: Option<Tensor<2>>,
    /// Estimates of the continuous codes `[B, continuous_codes]`, with that head.
    pub continuous: Option<Tensor<2>>,
    /// Class logits `[B, num_classes]`, with an auxiliary classifier.
    pub classes: Option<Tensor<2>>,
}

fn check_labels(
    context: &str,
    num_classes: Option<usize>,
    batch: usize,
    labels: Option<&Tensor<1, Int>>,
) -> Result<()> {
    match (num_classes, labels) {
        (Some(_), None) => Err(Error::WrongInput(format!("{context}: the model is class-conditional; pass labels"))),
        (None, Some(_)) => Err(Error::WrongInput(format!("{context}: the model is unconditional; labels were given"))),
        (Some(n), Some(l)) => {
            let [b] = l.dims();
            if b != batch {
                return Err(Error::shape(format!("{context} labels"), format!("[{batch}]"), format!("[{b}]")));
            }
            let max = l.clone().max().into_scalar::<i64>();
            let min = l.clone().min().into_scalar::<i64>();
            if min < 0 || max >= n as i64 {
                return Err(Error::out_of_range(
                    format!("{context}: labels"),
                    format!("{min}..={max}"),
                    format!("0..{n}"),
                ));
            }
            Ok(())
        }
        (None, None) => Ok(()),
    }
}

/// Checked [`Generator::forward`]: the latent width and the labels are verified.
pub fn generate<G: Generator>(g: &G, z: Tensor<2>, labels: Option<Tensor<1, Int>>) -> Result<Tensor<2>> {
    let [b, d] = z.dims();
    if d != g.latent_dim() {
        return Err(Error::shape("generator latent codes", format!("[B, {}]", g.latent_dim()), format!("[{b}, {d}]")));
    }
    check_labels("generator", g.num_classes(), b, labels.as_ref())?;
    Ok(g.forward(z, labels))
}

/// Checked [`Discriminator::forward`]: the sample width and the labels are verified.
pub fn discriminate<D: Discriminator>(d: &D, x: Tensor<2>, labels: Option<Tensor<1, Int>>) -> Result<Tensor<2>> {
    let [b, w] = x.dims();
    if w != d.sample_dim() {
        return Err(Error::shape("discriminator samples", format!("[B, {}]", d.sample_dim()), format!("[{b}, {w}]")));
    }
    check_labels("discriminator", d.num_classes(), b, labels.as_ref())?;
    Ok(d.forward(x, labels))
}
