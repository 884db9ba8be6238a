//! Operations over the last axis, one row at a time, rows split over
//! rayon's threads above a size threshold: softmax and layer normalisation,
//! each with its backward pass from what the forward pass saved.

use rayon::prelude::*;

use crate::math::exp_in_place;

/// Below this many values, one thread.
const PARALLEL_FROM: usize = 1 << 15;

/// Runs `f` on every row (`n` values) of `a` with the matching row of `b`,
/// on rayon's threads for large inputs.
fn rows2<F>(a: &mut [f32], b: &[f32], n: usize, f: F)
where
    F: Fn(&mut [f32], &[f32]) + Sync + Send,
{
    if n == 0 {
        return;
    }
    if a.len() >= PARALLEL_FROM {
        let per = (PARALLEL_FROM / 4 / n).max(1);
        a.par_chunks_mut(n * per).zip(b.par_chunks(n * per)).for_each(|(a, b)| {
            a.chunks_mut(n).zip(b.chunks(n)).for_each(|(a, b)| f(a, b));
        });
    } else {
        a.chunks_mut(n).zip(b.chunks(n)).for_each(|(a, b)| f(a, b));
    }
}

/// Runs `f` on every row (`n` values) of `a`, on rayon's threads for large
/// inputs.
fn rows1<F>(a: &mut [f32], n: usize, f: F)
where
    F: Fn(&mut [f32]) + Sync + Send,
{
    if n == 0 {
        return;
    }
    if a.len() >= PARALLEL_FROM {
        let per = (PARALLEL_FROM / 4 / n).max(1);
        a.par_chunks_mut(n * per).for_each(|a| a.chunks_mut(n).for_each(&f));
    } else {
        a.chunks_mut(n).for_each(f);
    }
}

/// Softmax of every row of `n` values, in place. A row of `-inf` only
/// gives NaN, as the definition does.
pub fn softmax(values: &mut [f32], n: usize) {
    rows1(values, n, |row| {
        let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        row.iter_mut().for_each(|v| *v -= max);
        exp_in_place(row);
        let inv = 1.0 / row.iter().sum::<f32>();
        row.iter_mut().for_each(|v| *v *= inv);
    });
}

/// `dy` becomes the input gradient of the softmax given its output `y`:
/// `y · (dy - Σ dy·y)` per row.
pub fn softmax_backward(dy: &mut [f32], y: &[f32], n: usize) {
    rows2(dy, y, n, |d, y| {
        let dot: f32 = d.iter().zip(y).map(|(d, y)| d * y).sum();
        d.iter_mut().zip(y).for_each(|(d, y)| *d = y * (*d - dot));
    });
}

/// Layer normalisation of every row of `n` values, in place:
/// `(x - mean) / √(var + eps) · gamma + beta` (biased variance). Returns
/// each row's `1 / √(var + eps)`; `values` then holds the output and
/// `normalised` the rows before `gamma` and `beta`.
pub fn layer_norm(values: &mut [f32], n: usize, gamma: &[f32], beta: Option<&[f32]>, eps: f32) -> (Vec<f32>, Vec<f32>) {
    let rows = values.len() / n.max(1);
    let mut normalised = vec![0.0; values.len()];
    let mut rstd = vec![0.0; rows];
    if n == 0 {
        return (normalised, rstd);
    }
    let one = |(x, (xhat, r)): (&mut [f32], (&mut [f32], &mut f32))| {
        let mean = x.iter().sum::<f32>() / n as f32;
        let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n as f32;
        *r = 1.0 / (var + eps).sqrt();
        for ((v, h), g) in x.iter_mut().zip(xhat.iter_mut()).zip(gamma) {
            *h = (*v - mean) * *r;
            *v = *h * g;
        }
        if let Some(beta) = beta {
            x.iter_mut().zip(beta).for_each(|(v, b)| *v += b);
        }
    };
    if values.len() >= PARALLEL_FROM {
        values.par_chunks_mut(n).zip(normalised.par_chunks_mut(n).zip(rstd.par_iter_mut())).for_each(one);
    } else {
        values.chunks_mut(n).zip(normalised.chunks_mut(n).zip(rstd.iter_mut())).for_each(one);
    }
    (normalised, rstd)
}

/// The gradients of layer normalisation given the saved normalised rows
/// and `1 / √(var + eps)`: `dy` becomes the input gradient; returns the
/// gradients of `gamma` and `beta`.
pub fn layer_norm_backward(dy: &mut [f32], normalised: &[f32], rstd: &[f32], gamma: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let n = gamma.len();
    let (mut dgamma, mut dbeta) = (vec![0.0; n], vec![0.0; n]);
    if n == 0 {
        return (dgamma, dbeta);
    }
    // Parameter gradients first (they read dy before it is overwritten).
    for (d, h) in dy.chunks(n).zip(normalised.chunks(n)) {
        for j in 0..n {
            dgamma[j] += d[j] * h[j];
            dbeta[j] += d[j];
        }
    }
    let one = |(d, (h, r)): (&mut [f32], (&[f32], &f32))| {
        // dxhat = dy · gamma; dx = r · (dxhat - mean(dxhat) - xhat · mean(dxhat · xhat))
        let (mut sum, mut dot) = (0.0f32, 0.0f32);
        for j in 0..n {
            let g = d[j] * gamma[j];
            sum += g;
            dot += g * h[j];
        }
        let (mean, mean_dot) = (sum / n as f32, dot / n as f32);
        for j in 0..n {
            d[j] = r * (d[j] * gamma[j] - mean - h[j] * mean_dot);
        }
    };
    if dy.len() >= PARALLEL_FROM {
        dy.par_chunks_mut(n).zip(normalised.par_chunks(n).zip(rstd.par_iter())).for_each(one);
    } else {
        dy.chunks_mut(n).zip(normalised.chunks(n).zip(rstd.iter())).for_each(one);
    }
    (dgamma, dbeta)
}
