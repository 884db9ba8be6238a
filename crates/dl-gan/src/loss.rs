//! The adversarial objectives.
//!
//! All three take the discriminator's raw scores (logits) of a real and a
//! generated batch, `[B, 1]`, and return a scalar `[1]`.

use burn::tensor::Tensor;
use burn::tensor::activation::{log_sigmoid, relu};
use serde::{Deserialize, Serialize};

/// Which game the two networks play.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GanLoss {
    /// Goodfellow et al.'s cross-entropy game with the non-saturating generator
    /// loss `-log D(G(z))` (the minimax `log(1 - D(G(z)))` has vanishing
    /// gradients exactly when the generator is bad).
    NonSaturating,
    /// Hinge loss (Lim & Ye 2017; Miyato et al. 2018): the discriminator only
    /// pushes real scores above +1 and fake scores below -1, the generator
    /// raises the fake scores. With spectral normalisation: the stabilised GAN.
    Hinge,
    /// Wasserstein critic loss (Arjovsky et al. 2017). Only meaningful with a
    /// Lipschitz critic: use it with weight clipping or spectral normalisation
    /// (the gradient penalty needs second-order gradients; see `docs/gan.md`).
    Wasserstein,
}

impl GanLoss {
    /// The discriminator's loss. `smoothing` (one-sided label smoothing,
    /// Salimans et al. 2016) lowers the real target of the cross-entropy to
    /// `1 - smoothing`; it does not apply to the other losses.
    pub fn discriminator(self, real: Tensor<2>, fake: Tensor<2>, smoothing: f32) -> Tensor<1> {
        match self {
            GanLoss::NonSaturating => {
                let t = 1.0 - f64::from(smoothing);
                // BCE-with-logits: -(t log s(x) + (1 - t) log s(-x)).
                let real_loss = log_sigmoid(real.clone()).mul_scalar(-t) - log_sigmoid(real.neg()).mul_scalar(1.0 - t);
                let fake_loss = log_sigmoid(fake.neg()).neg();
                real_loss.mean() + fake_loss.mean()
            }
            GanLoss::Hinge => relu(real.neg().add_scalar(1.0)).mean() + relu(fake.add_scalar(1.0)).mean(),
            GanLoss::Wasserstein => fake.mean() - real.mean(),
        }
    }

    /// The generator's loss on the scores of its samples.
    pub fn generator(self, fake: Tensor<2>) -> Tensor<1> {
        match self {
            GanLoss::NonSaturating => log_sigmoid(fake).neg().mean(),
            GanLoss::Hinge | GanLoss::Wasserstein => fake.mean().neg(),
        }
    }

    /// Whether a discriminator loss near 0 means the discriminator has won
    /// outright (true for cross-entropy and hinge; a Wasserstein critic's
    /// loss is unbounded and crosses 0 routinely).
    pub fn zero_means_collapse(self) -> bool {
        !matches!(self, GanLoss::Wasserstein)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    fn t(v: &[f32]) -> Tensor<2> {
        let device = dl_core::Backend::Flex.device().unwrap();
        Tensor::from_data(TensorData::new(v.to_vec(), [v.len(), 1]), &device)
    }

    #[test]
    fn losses_match_their_formulas() {
        let (real, fake) = ([2.0f32, -0.5], [0.3f32, -1.5]);
        let sp = |x: f32| (1.0 + x.exp()).ln();
        // BCE real target 1, fake target 0: softplus(-x) and softplus(x).
        let ns = (sp(-2.0) + sp(0.5)) / 2.0 + (sp(0.3) + sp(-1.5)) / 2.0;
        let got = GanLoss::NonSaturating.discriminator(t(&real), t(&fake), 0.0).into_scalar::<f32>();
        assert!((got - ns).abs() < 1e-6, "{got} vs {ns}");
        // Smoothing 0.1: real target 0.9.
        let bce = |x: f32, y: f32| y * sp(-x) + (1.0 - y) * sp(x);
        let sm = (bce(2.0, 0.9) + bce(-0.5, 0.9)) / 2.0 + (sp(0.3) + sp(-1.5)) / 2.0;
        let got = GanLoss::NonSaturating.discriminator(t(&real), t(&fake), 0.1).into_scalar::<f32>();
        assert!((got - sm).abs() < 1e-6, "{got} vs {sm}");
        let hinge = (0.0 + 1.5) / 2.0 + (1.3 + 0.0) / 2.0;
        let got = GanLoss::Hinge.discriminator(t(&real), t(&fake), 0.0).into_scalar::<f32>();
        assert!((got - hinge).abs() < 1e-6);
        let w = (0.3 - 1.5) / 2.0 - (2.0 - 0.5) / 2.0;
        let got = GanLoss::Wasserstein.discriminator(t(&real), t(&fake), 0.0).into_scalar::<f32>();
        assert!((got - w).abs() < 1e-6);
        let g = (sp(-0.3) + sp(1.5)) / 2.0;
        assert!((GanLoss::NonSaturating.generator(t(&fake)).into_scalar::<f32>() - g).abs() < 1e-6);
        assert!((GanLoss::Hinge.generator(t(&fake)).into_scalar::<f32>() - 0.6).abs() < 1e-6);
    }
}
