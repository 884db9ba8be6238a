//! Operations over the last axis, one row at a time, rows split over
//! rayon's threads above a size threshold: softmax and layer normalisation,
//! each with its backward pass from what the forward pass saved.

use rayon::prelude::*;

use crate::math::{self, multiversion};

/// Below this many values, one thread.
const PARALLEL_FROM: usize = 1 << 15;

/// Runs `f` on blocks of whole rows (`n` values each) of `a` with the
/// matching rows of `b`, the blocks on rayon's threads for large inputs.
fn rows2<F>(a: &mut [f32], b: &[f32], n: usize, f: F)
where
    F: Fn(&mut [f32], &[f32]) + Sync + Send,
{
    if n == 0 {
        return;
    }
    if a.len() >= PARALLEL_FROM {
        let per = (PARALLEL_FROM / 4 / n).max(1);
        a.par_chunks_mut(n * per).zip(b.par_chunks(n * per)).for_each(|(a, b)| f(a, b));
    } else {
        f(a, b);
    }
}

/// Runs `f` on blocks of whole rows (`n` values each) of `a`, the blocks
/// on rayon's threads for large inputs.
fn rows1<F>(a: &mut [f32], n: usize, f: F)
where
    F: Fn(&mut [f32]) + Sync + Send,
{
    if n == 0 {
        return;
    }
    if a.len() >= PARALLEL_FROM {
        let per = (PARALLEL_FROM / 4 / n).max(1);
        a.par_chunks_mut(n * per).for_each(f);
    } else {
        f(a);
    }
}

multiversion! {
    /// Softmax of every row of `n` values of `block`, in place.
    fn softmax_block(block: &mut [f32], n: usize) {
        for row in block.chunks_mut(n) {
            let max = math::max(row);
            row.iter_mut().for_each(|v| *v = math::exp(*v - max));
            let inv = 1.0 / math::sum(row);
            row.iter_mut().for_each(|v| *v *= inv);
        }
    }
}

multiversion! {
    /// Softmax's backward pass on every row of `n` values of `dy`.
    fn softmax_backward_block(dy: &mut [f32], y: &[f32], n: usize) {
        for (d, y) in dy.chunks_mut(n).zip(y.chunks(n)) {
            let dot = math::dot(d, y);
            d.iter_mut().zip(y).for_each(|(d, y)| *d = y * (*d - dot));
        }
    }
}

/// Softmax of every row of `n` values, in place. A row of `-inf` only
/// gives NaN, as the definition does.
pub fn softmax(values: &mut [f32], n: usize) {
    rows1(values, n, |block| softmax_block(block, n));
}

/// `dy` becomes the input gradient of the softmax given its output `y`:
/// `y · (dy - Σ dy·y)` per row.
pub fn softmax_backward(dy: &mut [f32], y: &[f32], n: usize) {
    rows2(dy, y, n, |d, y| softmax_backward_block(d, y, n));
}

multiversion! {
    /// Layer normalisation of every row of `block` (see [`layer_norm`]),
    /// the normalised rows into `xhat` and each row's `1 / √(var + eps)`
    /// into `rstd`.
    fn layer_norm_block(
        block: &mut [f32],
        xhat: &mut [f32],
        rstd: &mut [f32],
        n: usize,
        gamma: &[f32],
        beta: Option<&[f32]>,
        eps: f32,
    ) {
        let rows = block.chunks_mut(n).zip(xhat.chunks_mut(n)).zip(rstd.iter_mut());
        for ((x, h), r) in rows {
            let mean = math::sum(x) / n as f32;
            let var = math::sum_sq_dev(x, mean) / n as f32;
            *r = 1.0 / (var + eps).sqrt();
            for ((v, h), g) in x.iter_mut().zip(h.iter_mut()).zip(gamma) {
                *h = (*v - mean) * *r;
                *v = *h * g;
            }
            if let Some(beta) = beta {
                x.iter_mut().zip(beta).for_each(|(v, b)| *v += b);
            }
        }
    }
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
    if values.len() >= PARALLEL_FROM {
        let per = (PARALLEL_FROM / 4 / n).max(1);
        values
            .par_chunks_mut(n * per)
            .zip(normalised.par_chunks_mut(n * per).zip(rstd.par_chunks_mut(per)))
            .for_each(|(x, (h, r))| layer_norm_block(x, h, r, n, gamma, beta, eps));
    } else {
        layer_norm_block(values, &mut normalised, &mut rstd, n, gamma, beta, eps);
    }
    (normalised, rstd)
}

multiversion! {
    /// Layer normalisation's input gradient on every row of `dy` (see
    /// [`layer_norm_backward`]).
    fn layer_norm_backward_block(dy: &mut [f32], xhat: &[f32], rstd: &[f32], gamma: &[f32]) {
        let n = gamma.len();
        for ((d, h), &r) in dy.chunks_mut(n).zip(xhat.chunks(n)).zip(rstd) {
            // dxhat = dy · gamma; dx = r · (dxhat - mean(dxhat) - xhat · mean(dxhat · xhat))
            d.iter_mut().zip(gamma).for_each(|(d, g)| *d *= g);
            let mean = math::sum(d) / n as f32;
            let mean_dot = math::dot(d, h) / n as f32;
            d.iter_mut().zip(h).for_each(|(d, h)| *d = r * (*d - mean - h * mean_dot));
        }
    }
}

multiversion! {
    /// `dgamma += Σ_rows dy · xhat`, `dbeta += Σ_rows dy`.
    fn layer_norm_param_grads(dy: &[f32], xhat: &[f32], dgamma: &mut [f32], dbeta: &mut [f32]) {
        let n = dgamma.len();
        for (d, h) in dy.chunks_exact(n).zip(xhat.chunks_exact(n)) {
            for (((g, b), d), h) in dgamma.iter_mut().zip(dbeta.iter_mut()).zip(d).zip(h) {
                *g += d * h;
                *b += d;
            }
        }
    }
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
    layer_norm_param_grads(dy, normalised, &mut dgamma, &mut dbeta);
    if dy.len() >= PARALLEL_FROM {
        let per = (PARALLEL_FROM / 4 / n).max(1);
        dy.par_chunks_mut(n * per)
            .zip(normalised.par_chunks(n * per).zip(rstd.par_chunks(per)))
            .for_each(|(d, (h, r))| layer_norm_backward_block(d, h, r, gamma));
    } else {
        layer_norm_backward_block(dy, normalised, rstd, gamma);
    }
    (dgamma, dbeta)
}
