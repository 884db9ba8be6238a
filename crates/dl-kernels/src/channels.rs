//! Batch normalisation in training on `[N, C, S]` layouts (S the flattened
//! spatial size): per-channel statistics over N x S, the normalised values
//! saved for the backward pass, no transposed copies.

use rayon::prelude::*;

/// Sums `f(value, channel)` over every value of each channel, channels on
/// rayon's threads.
fn per_channel(x: &[f32], c: usize, s: usize, f: impl Fn(f32, usize) -> f32 + Sync + Send) -> Vec<f32> {
    let n = x.len() / (c * s).max(1);
    (0..c)
        .into_par_iter()
        .map(|ch| {
            (0..n).map(|i| x[(i * c + ch) * s..(i * c + ch + 1) * s].iter().map(|&v| f(v, ch)).sum::<f32>()).sum()
        })
        .collect()
}

/// Each channel's batch mean and biased variance of `x` (`[N, C, S]`).
pub fn batch_stats(x: &[f32], c: usize, s: usize) -> (Vec<f32>, Vec<f32>) {
    let m = (x.len() / c.max(1)).max(1) as f32;
    let mean: Vec<f32> = per_channel(x, c, s, |v, _| v).into_iter().map(|t| t / m).collect();
    let var: Vec<f32> =
        per_channel(x, c, s, |v, ch| (v - mean[ch]) * (v - mean[ch])).into_iter().map(|t| t / m).collect();
    (mean, var)
}

/// What [`batch_norm`] returns: the output, and what the backward pass needs.
#[derive(Debug, Clone)]
pub struct Normalised {
    /// `normalised · gamma + beta`, `[N, C, S]`.
    pub output: Vec<f32>,
    /// `(x - mean) / √(var + eps)`, `[N, C, S]`.
    pub normalised: Vec<f32>,
    /// `1 / √(var + eps)` per channel.
    pub rstd: Vec<f32>,
}

/// Normalises `x` (`[N, C, S]`) with the batch statistics `mean`, `var`
/// (from [`batch_stats`]), then scales by `gamma` and shifts by `beta`.
pub fn batch_norm(
    x: &[f32],
    c: usize,
    s: usize,
    stats: (&[f32], &[f32]),
    affine: (&[f32], &[f32]),
    eps: f32,
) -> Normalised {
    let ((mean, var), (gamma, beta)) = (stats, affine);
    let rstd: Vec<f32> = var.iter().map(|v| 1.0 / (v + eps).sqrt()).collect();
    let (mut output, mut normalised) = (vec![0.0; x.len()], vec![0.0; x.len()]);
    if c * s > 0 {
        let blocks = output.par_chunks_mut(c * s).zip(normalised.par_chunks_mut(c * s)).zip(x.par_chunks(c * s));
        blocks.for_each(|((y, h), x)| {
            for ch in 0..c {
                let (mu, r, g, b) = (mean[ch], rstd[ch], gamma[ch], beta[ch]);
                let range = ch * s..(ch + 1) * s;
                for ((y, h), &v) in y[range.clone()].iter_mut().zip(&mut h[range.clone()]).zip(&x[range]) {
                    *h = (v - mu) * r;
                    *y = *h * g + b;
                }
            }
        });
    }
    Normalised { output, normalised, rstd }
}

/// The gradients of [`batch_norm`]: `dy` becomes the input gradient;
/// returns the gradients of `gamma` and `beta`.
pub fn batch_norm_backward(
    dy: &mut [f32],
    normalised: &[f32],
    rstd: &[f32],
    gamma: &[f32],
    c: usize,
    s: usize,
) -> (Vec<f32>, Vec<f32>) {
    let m = (dy.len() / c.max(1)).max(1) as f32;
    let n = dy.len() / (c * s).max(1);
    let sums: Vec<(f32, f32)> = (0..c)
        .into_par_iter()
        .map(|ch| {
            let (mut sum, mut dot) = (0.0f32, 0.0f32);
            for i in 0..n {
                let range = (i * c + ch) * s..(i * c + ch + 1) * s;
                for (d, h) in dy[range.clone()].iter().zip(&normalised[range]) {
                    sum += d;
                    dot += d * h;
                }
            }
            (sum, dot)
        })
        .collect();
    if c * s > 0 {
        dy.par_chunks_mut(c * s).zip(normalised.par_chunks(c * s)).for_each(|(d, h)| {
            for ch in 0..c {
                let (sum, dot) = sums[ch];
                let (k, mean_d, mean_dh) = (gamma[ch] * rstd[ch], sum / m, dot / m);
                for (d, h) in d[ch * s..(ch + 1) * s].iter_mut().zip(&h[ch * s..(ch + 1) * s]) {
                    *d = k * (*d - mean_d - h * mean_dh);
                }
            }
        });
    }
    (sums.iter().map(|p| p.1).collect(), sums.iter().map(|p| p.0).collect())
}
