//! A term of the generator's loss on its own samples, beside the adversarial
//! and InfoGAN terms: a differentiable measure of each sample against what
//! its latent code asks for (the style of `style_transfer`:
//! [`crate::style::StyleTerm`]).

use burn::tensor::{Int, Tensor};
use dl_core::Result;

/// A loss the generator adds for the samples it draws in its steps.
pub trait SampleTerm: Sync {
    /// The term `[1]`, a mean over the batch weighted as it should count, for
    /// `samples` `[b, sample_dim]` drawn from the latent codes `z`
    /// `[b, latent_dim]` as `labels` (the classes of a conditional
    /// generator, else `None`).
    fn loss(&self, samples: Tensor<2>, z: Tensor<2>, labels: Option<Tensor<1, Int>>) -> Tensor<1>;

    /// Checks, before training, that the term fits a generator of samples of
    /// `sample_dim` values from `latent_dim` latent values, trained on data of
    /// `classes` classes (`None`: unlabelled).
    ///
    /// # Errors
    /// An error naming what does not fit.
    fn check(&self, sample_dim: usize, latent_dim: usize, classes: Option<usize>) -> Result<()>;
}
