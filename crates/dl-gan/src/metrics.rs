//! How good is a generator? Mode coverage on mixtures, classifier-based
//! scores and the Fréchet distance.
//!
//! A GAN's losses say little about its samples (the two losses chase each
//! other), so quality is measured on the samples themselves:
//! - [`mode_coverage`]: on a Gaussian mixture with known modes, how many
//!   modes the samples reach and how many samples are "high quality"
//!   (within 3 σ of a mode), as in VEEGAN (Srivastava et al. 2017);
//! - [`classifier_score`]: a classifier trained on the real data labels the
//!   samples: the fraction it is confident about, whether every class
//!   appears, and for a conditional GAN how often it agrees with the asked class;
//! - [`frechet_distance`]: the Fréchet distance between Gaussians fitted to
//!   a network's features of real and generated samples (the FID of Heusel
//!   et al. 2017, here with the scoring classifier's penultimate features).

use serde::Serialize;

use crate::data::Mixture;
use dl_core::{Error, Result};

/// Mode coverage of 2-D samples on a [`Mixture`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModeCoverage {
    /// Modes with at least `min_per_mode` high-quality samples.
    pub modes_covered: usize,
    /// Modes of the mixture.
    pub modes_total: usize,
    /// Fraction of samples within 3 σ of their nearest mode.
    pub high_quality: f64,
    /// High-quality samples per mode.
    pub per_mode: Vec<usize>,
    /// Samples scored.
    pub samples: usize,
}

/// Scores `samples` (`[n * 2]`) against `mixture`: a sample is high quality
/// when it lies within 3 σ of its nearest mode; a mode is covered when at
/// least `min_per_mode` high-quality samples are nearest to it.
pub fn mode_coverage(samples: &[f32], mixture: &Mixture, min_per_mode: usize) -> Result<ModeCoverage> {
    if samples.is_empty() || !samples.len().is_multiple_of(2) {
        return Err(Error::shape("mode_coverage samples", "a non-empty [n * 2]", samples.len()));
    }
    let mut per_mode = vec![0usize; mixture.modes.len()];
    let mut good = 0usize;
    let limit = 3.0 * mixture.std;
    for p in samples.chunks(2) {
        let nearest = mixture
            .modes
            .iter()
            .enumerate()
            .map(|(k, m)| (k, ((p[0] - m[0]).powi(2) + (p[1] - m[1]).powi(2)).sqrt()))
            .min_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((k, dist)) = nearest
            && dist <= limit
        {
            per_mode[k] += 1;
            good += 1;
        }
    }
    let n = samples.len() / 2;
    Ok(ModeCoverage {
        modes_covered: per_mode.iter().filter(|&&c| c >= min_per_mode.max(1)).count(),
        modes_total: mixture.modes.len(),
        high_quality: good as f64 / n as f64,
        per_mode,
        samples: n,
    })
}

/// What a classifier says about generated samples.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassifierScore {
    /// Fraction of samples whose top class has probability >= the threshold.
    pub confident: f64,
    /// Samples per predicted class.
    pub histogram: Vec<usize>,
    /// Classes predicted for at least 1 % of the samples.
    pub classes_present: usize,
    /// For conditional samples: fraction whose predicted class is the one asked for.
    pub agreement: Option<f64>,
    /// For conditional samples: fraction predicted as the class asked for
    /// with probability >= the threshold.
    pub confident_agreement: Option<f64>,
    /// Samples scored.
    pub samples: usize,
}

/// Scores class probabilities `probs` (`[n * classes]`, rows summing to 1).
/// `asked` holds the requested class of each sample for a conditional GAN.
pub fn classifier_score(
    probs: &[f32],
    classes: usize,
    threshold: f32,
    asked: Option<&[usize]>,
) -> Result<ClassifierScore> {
    if classes == 0 || probs.is_empty() || !probs.len().is_multiple_of(classes) {
        return Err(Error::shape("classifier_score probabilities", format!("[n * {classes}]"), probs.len()));
    }
    let n = probs.len() / classes;
    if let Some(a) = asked
        && a.len() != n
    {
        return Err(Error::shape("classifier_score asked classes", n, a.len()));
    }
    let mut histogram = vec![0usize; classes];
    let (mut confident, mut agree, mut confident_agree) = (0usize, 0usize, 0usize);
    for (i, row) in probs.chunks(classes).enumerate() {
        let (top, p) = row.iter().copied().enumerate().max_by(|a, b| a.1.total_cmp(&b.1)).unwrap_or((0, 0.0));
        histogram[top] += 1;
        if p >= threshold {
            confident += 1;
        }
        if asked.is_some_and(|a| a[i] == top) {
            agree += 1;
            if p >= threshold {
                confident_agree += 1;
            }
        }
    }
    let min_count = (n as f64 * 0.01).ceil().max(1.0) as usize;
    Ok(ClassifierScore {
        confident: confident as f64 / n as f64,
        classes_present: histogram.iter().filter(|&&c| c >= min_count).count(),
        histogram,
        agreement: asked.map(|_| agree as f64 / n as f64),
        confident_agreement: asked.map(|_| confident_agree as f64 / n as f64),
        samples: n,
    })
}

/// Mean and covariance (unbiased) of `n` rows of width `dim`, in f64.
pub fn mean_covariance(rows: &[f32], dim: usize) -> Result<(Vec<f64>, Vec<f64>)> {
    if dim == 0 || !rows.len().is_multiple_of(dim) || rows.len() / dim < 2 {
        return Err(Error::shape("mean_covariance", format!("at least 2 rows of width {dim}"), rows.len()));
    }
    let n = rows.len() / dim;
    let mut mean = vec![0.0f64; dim];
    for r in rows.chunks(dim) {
        for (m, &v) in mean.iter_mut().zip(r) {
            *m += f64::from(v);
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let mut cov = vec![0.0f64; dim * dim];
    let mut centred = vec![0.0f64; dim];
    for r in rows.chunks(dim) {
        for k in 0..dim {
            centred[k] = f64::from(r[k]) - mean[k];
        }
        for i in 0..dim {
            let ci = centred[i];
            for j in i..dim {
                cov[i * dim + j] += ci * centred[j];
            }
        }
    }
    for i in 0..dim {
        for j in i..dim {
            let v = cov[i * dim + j] / (n - 1) as f64;
            cov[i * dim + j] = v;
            cov[j * dim + i] = v;
        }
    }
    Ok((mean, cov))
}

/// Eigenvalues and eigenvectors (columns of the returned `n x n` matrix) of a
/// symmetric matrix, by cyclic Jacobi rotations (exact to rounding for the
/// feature sizes used here, a few hundred at most).
pub fn symmetric_eigen(a: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut a = a.to_vec();
    let mut v = vec![0.0f64; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j].powi(2))
            .sum();
        let scale: f64 = a.iter().map(|x| x * x).sum::<f64>().max(f64::MIN_POSITIVE);
        if off <= 1e-30 * scale {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (a[k * n + p], a[k * n + q]);
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p * n + k], a[q * n + k]);
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v[k * n + p], v[k * n + q]);
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..n).map(|i| a[i * n + i]).collect(), v)
}

fn matmul(a: &[f64], b: &[f64], n: usize) -> Vec<f64> {
    let mut c = vec![0.0; n * n];
    for i in 0..n {
        for k in 0..n {
            let aik = a[i * n + k];
            if aik == 0.0 {
                continue;
            }
            for j in 0..n {
                c[i * n + j] += aik * b[k * n + j];
            }
        }
    }
    c
}

/// The square root of a symmetric positive semi-definite matrix (negative
/// eigenvalues from rounding are clamped to 0).
pub fn sqrt_psd(a: &[f64], n: usize) -> Vec<f64> {
    let (vals, vecs) = symmetric_eigen(a, n);
    let mut out = vec![0.0; n * n];
    for (k, &l) in vals.iter().enumerate() {
        let s = l.max(0.0).sqrt();
        for i in 0..n {
            let vik = vecs[i * n + k] * s;
            for j in 0..n {
                out[i * n + j] += vik * vecs[j * n + k];
            }
        }
    }
    out
}

/// Fréchet distance between Gaussians fitted to two feature sets (`[n * dim]` each):
/// `|μ₁ - μ₂|² + tr(Σ₁ + Σ₂ - 2 (Σ₁^½ Σ₂ Σ₁^½)^½)`.
///
/// The trace of the cross term is computed from the eigenvalues of the
/// symmetric `Σ₁^½ Σ₂ Σ₁^½`, which equals `tr((Σ₁Σ₂)^½)` without needing a
/// non-symmetric matrix square root.
pub fn frechet_distance(a: &[f32], b: &[f32], dim: usize) -> Result<f64> {
    let (m1, s1) = mean_covariance(a, dim)?;
    let (m2, s2) = mean_covariance(b, dim)?;
    let mean_term: f64 = m1.iter().zip(&m2).map(|(x, y)| (x - y).powi(2)).sum();
    let r1 = sqrt_psd(&s1, dim);
    let m = matmul(&matmul(&r1, &s2, dim), &r1, dim);
    // Symmetrise against rounding before the eigen-decomposition.
    let m: Vec<f64> = (0..dim * dim).map(|k| 0.5 * (m[k] + m[(k % dim) * dim + k / dim])).collect();
    let (vals, _) = symmetric_eigen(&m, dim);
    let cross: f64 = vals.iter().map(|l| l.max(0.0).sqrt()).sum();
    let trace: f64 = (0..dim).map(|i| s1[i * dim + i] + s2[i * dim + i]).sum();
    Ok((mean_term + trace - 2.0 * cross).max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dl_core::data::split::SplitRng;

    #[test]
    fn eigen_and_sqrt_reconstruct() {
        let a = [4.0, 1.0, 0.5, 1.0, 3.0, 0.2, 0.5, 0.2, 2.0];
        let r = sqrt_psd(&a, 3);
        let back = matmul(&r, &r, 3);
        for (x, y) in back.iter().zip(&a) {
            assert!((x - y).abs() < 1e-10, "{back:?}");
        }
        let (vals, _) = symmetric_eigen(&[2.0, 0.0, 0.0, 5.0], 2);
        let mut vals = vals;
        vals.sort_by(f64::total_cmp);
        assert!((vals[0] - 2.0).abs() < 1e-12 && (vals[1] - 5.0).abs() < 1e-12);
    }

    #[test]
    fn frechet_distance_of_known_gaussians() {
        // Identical sets: 0. Shifted by (1, 2): |μ₁-μ₂|² = 5 exactly (same covariance).
        let mut rng = SplitRng::new(1);
        let a: Vec<f32> = (0..4000).map(|_| rng.normal()).collect();
        assert!(frechet_distance(&a, &a, 2).unwrap() < 1e-9);
        let b: Vec<f32> = a.chunks(2).flat_map(|p| [p[0] + 1.0, p[1] + 2.0]).collect();
        assert!((frechet_distance(&a, &b, 2).unwrap() - 5.0).abs() < 1e-6);
        // Scaled by 2: Σ and 4Σ give tr(Σ) (+ the small mean shift of the sample).
        let c: Vec<f32> = a.iter().map(|x| 2.0 * x).collect();
        let (m, s) = mean_covariance(&a, 2).unwrap();
        let expected = m[0] * m[0] + m[1] * m[1] + s[0] + s[3]; // |2μ - μ|² + tr(S + 4S - 2*2S)
        assert!((frechet_distance(&a, &c, 2).unwrap() - expected).abs() < 1e-6);
        assert!(frechet_distance(&a, &b[..3], 2).is_err());
    }

    #[test]
    fn mode_coverage_counts_modes_and_quality() {
        let ring = Mixture::ring8();
        let real = ring.sample(2000, 7);
        let cov = mode_coverage(&real, &ring, 20).unwrap();
        assert_eq!(cov.modes_covered, 8);
        assert!(cov.high_quality > 0.98, "{cov:?}");
        // Everything on one mode: 1 mode covered; points at the origin: none high quality.
        let one: Vec<f32> = (0..100).flat_map(|_| [2.0f32, 0.0]).collect();
        assert_eq!(mode_coverage(&one, &ring, 20).unwrap().modes_covered, 1);
        let zero = vec![0.0f32; 200];
        let c = mode_coverage(&zero, &ring, 20).unwrap();
        assert_eq!((c.modes_covered, c.high_quality), (0, 0.0));
        assert!(mode_coverage(&[1.0], &ring, 20).is_err());
    }

    #[test]
    fn classifier_scores() {
        let probs = [0.95, 0.05, 0.6, 0.4, 0.02, 0.98, 0.3, 0.7];
        let s = classifier_score(&probs, 2, 0.9, Some(&[0, 1, 1, 1])).unwrap();
        assert_eq!(s.histogram, vec![2, 2]);
        assert!((s.confident - 0.5).abs() < 1e-12);
        assert_eq!(s.classes_present, 2);
        assert!((s.agreement.unwrap() - 0.75).abs() < 1e-12);
        // Right and sure: rows 0 and 2 (row 3 is right at p = 0.7).
        assert!((s.confident_agreement.unwrap() - 0.5).abs() < 1e-12);
        assert_eq!(classifier_score(&probs, 2, 0.9, None).unwrap().confident_agreement, None);
        assert!(classifier_score(&probs[..3], 2, 0.9, None).is_err());
    }
}
