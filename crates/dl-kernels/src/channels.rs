//! Batch normalisation in training on `[N, C, S]` layouts (S the flattened
//! spatial size): per-channel statistics over N x S, the normalised values
//! saved for the backward pass, no transposed copies.

use rayon::prelude::*;

/// What the forward pass returns and saves.
#[derive(Debug, Clone)]
pub struct BatchStats {
    /// Each channel's mean `[C]`.
    pub mean: Vec<f32>,
    /// Each channel's biased variance `[C]`.
    pub var: Vec<f32>,
    /// `1 / √(var + eps)` per channel.
    pub rstd: Vec<f32>,
}

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

/// Normalises `x` (`[N, C, S]`) in place with its batch statistics, then
/// scales by `gamma` and shifts by `beta`; returns the statistics and the
/// normalised values before `gamma` and `beta`.
pub fn batch_norm(x: &mut [f32], c: usize, s: usize, gamma: &[f32], beta: &[f32], eps: f32) -> (BatchStats, Vec<f32>) {
    let m = (x.len() / c.max(1)).max(1) as f32;
    let mean: Vec<f32> = per_channel(x, c, s, |v, _| v).into_iter().map(|t| t / m).collect();
    let var: Vec<f32> =
        per_channel(x, c, s, |v, ch| (v - mean[ch]) * (v - mean[ch])).into_iter().map(|t| t / m).collect();
    let rstd: Vec<f32> = var.iter().map(|v| 1.0 / (v + eps).sqrt()).collect();
    let mut normalised = vec![0.0; x.len()];
    if c * s > 0 {
        x.par_chunks_mut(c * s).zip(normalised.par_chunks_mut(c * s)).for_each(|(x, h)| {
            for ch in 0..c {
                let (mu, r, g, b) = (mean[ch], rstd[ch], gamma[ch], beta[ch]);
                for (v, h) in x[ch * s..(ch + 1) * s].iter_mut().zip(&mut h[ch * s..(ch + 1) * s]) {
                    *h = (*v - mu) * r;
                    *v = *h * g + b;
                }
            }
        });
    }
    (BatchStats { mean, var, rstd }, normalised)
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
