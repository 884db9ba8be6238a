//! Whole-sequence recurrences on the host: an LSTM layer and an Elman layer
//! (tanh or ReLU), one direction, forward with the activations saved and
//! backpropagation through time from them.
//!
//! Layouts (row-major): `gx` `[B, T, G]` holds `x_t W_ih + b` for every step
//! (`G = 4H` for the LSTM in PyTorch's gate order i, f, g, o; `G = H` for the
//! Elman layer); `w` `[H, G]` multiplies the previous state (`h W`); `mask`
//! `[B, T]` is 1 at real steps and 0 at padding, where the state is kept and
//! the output is 0. Saved activations are time-major (`[T, B, ..]`, in
//! processing order) so that the recurrent weight's gradient is one product.

use std::ops::Range;

use rayon::prelude::*;

use crate::gemm::{View, matmul};
use crate::math::{sigmoid_in_place, tanh_in_place};

/// Sizes of one layer run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dims {
    /// Batch.
    pub b: usize,
    /// Steps.
    pub t: usize,
    /// Hidden width.
    pub h: usize,
}

/// What the LSTM's backward pass reads, time-major in processing order.
#[derive(Debug, Clone)]
pub struct LstmSaved {
    /// Activated gates `[T, B, 4H]`: `i, f, tanh(g), o`.
    pub gates: Vec<f32>,
    /// Hidden state before each step `[T, B, H]`.
    pub h_prev: Vec<f32>,
    /// Cell state before each step `[T, B, H]`.
    pub c_prev: Vec<f32>,
    /// `tanh` of each step's new cell `[T, B, H]`.
    pub tanh_c: Vec<f32>,
}

/// `w` (`rows x cols`, row-major) transposed into a dense `cols x rows`
/// matrix. The LSTM's backward pass multiplies by `W^T` `[4H, H]` at every
/// step; read through strides, that operand is repacked each time (measured:
/// 30% more LSTM throughput dense). The Elman layer's square `W^T` is faster
/// read through strides, and stays so.
fn transpose(w: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0.0; rows * cols];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = w[r * cols + c];
        }
    }
    t
}

/// The step index of processing position `s`.
fn step(s: usize, t: usize, reverse: bool) -> usize {
    if reverse { t - 1 - s } else { s }
}

/// Runs an LSTM layer. Returns the packed result `[B, T + 2, H]` (outputs,
/// then the final `h`, then the final `c`) and the saved activations.
pub fn lstm_forward(
    d: Dims,
    gx: &[f32],
    w: &[f32],
    h0: &[f32],
    c0: &[f32],
    mask: Option<&[f32]>,
    reverse: bool,
) -> (Vec<f32>, LstmSaved) {
    let Dims { b, t, h } = d;
    let g4 = 4 * h;
    let mut packed = vec![0.0; b * (t + 2) * h];
    let mut saved = LstmSaved {
        gates: vec![0.0; t * b * g4],
        h_prev: vec![0.0; t * b * h],
        c_prev: vec![0.0; t * b * h],
        tanh_c: vec![0.0; t * b * h],
    };
    let (mut hs, mut cs) = (h0.to_vec(), c0.to_vec());
    for s in 0..t {
        let k = step(s, t, reverse);
        let gates = &mut saved.gates[s * b * g4..(s + 1) * b * g4];
        for r in 0..b {
            gates[r * g4..(r + 1) * g4].copy_from_slice(&gx[(r * t + k) * g4..(r * t + k + 1) * g4]);
        }
        matmul(gates, View::dense(&hs, b, h), View::dense(w, h, g4), true);
        for r in 0..b {
            let row = &mut gates[r * g4..(r + 1) * g4];
            sigmoid_in_place(&mut row[..2 * h]);
            tanh_in_place(&mut row[2 * h..3 * h]);
            sigmoid_in_place(&mut row[3 * h..]);
        }
        saved.h_prev[s * b * h..(s + 1) * b * h].copy_from_slice(&hs);
        saved.c_prev[s * b * h..(s + 1) * b * h].copy_from_slice(&cs);
        // The new cell goes into `tanh_c` (and, masked, into the state) before the tanh pass.
        let tanh_c = &mut saved.tanh_c[s * b * h..(s + 1) * b * h];
        for r in 0..b {
            let row = &gates[r * g4..(r + 1) * g4];
            let (i, f, g) = (&row[..h], &row[h..2 * h], &row[2 * h..3 * h]);
            let m = mask.map_or(1.0, |m| m[r * t + k]);
            for j in 0..h {
                let c_old = cs[r * h + j];
                let c_new = f[j] * c_old + i[j] * g[j];
                tanh_c[r * h + j] = c_new;
                cs[r * h + j] = c_old + m * (c_new - c_old);
            }
        }
        tanh_in_place(tanh_c);
        for r in 0..b {
            let o = &gates[r * g4 + 3 * h..(r + 1) * g4];
            let m = mask.map_or(1.0, |m| m[r * t + k]);
            let out = &mut packed[(r * (t + 2) + k) * h..(r * (t + 2) + k + 1) * h];
            for j in 0..h {
                let h_new = o[j] * tanh_c[r * h + j];
                out[j] = m * h_new;
                let ho = hs[r * h + j];
                hs[r * h + j] = ho + m * (h_new - ho);
            }
        }
    }
    for r in 0..b {
        let base = r * (t + 2) * h;
        packed[base + t * h..base + (t + 1) * h].copy_from_slice(&hs[r * h..(r + 1) * h]);
        packed[base + (t + 1) * h..base + (t + 2) * h].copy_from_slice(&cs[r * h..(r + 1) * h]);
    }
    (packed, saved)
}

/// Gradients of an LSTM layer's inputs.
#[derive(Debug, Clone)]
pub struct LstmGrads {
    /// `[B, T, 4H]`.
    pub gx: Vec<f32>,
    /// `[H, 4H]`.
    pub w: Vec<f32>,
    /// `[B, H]`.
    pub h0: Vec<f32>,
    /// `[B, H]`.
    pub c0: Vec<f32>,
}

/// Backpropagation through time of [`lstm_forward`], given the gradient of
/// its packed result `[B, T + 2, H]`.
pub fn lstm_backward(
    d: Dims,
    saved: &LstmSaved,
    w: &[f32],
    mask: Option<&[f32]>,
    reverse: bool,
    d_packed: &[f32],
) -> LstmGrads {
    let Dims { b, t, h } = d;
    let g4 = 4 * h;
    let mut dgx = vec![0.0; b * t * g4];
    let mut d_gates = vec![0.0; t * b * g4];
    let (mut dh, mut dc) = (vec![0.0; b * h], vec![0.0; b * h]);
    let wt = transpose(w, h, g4);
    for r in 0..b {
        let base = r * (t + 2) * h;
        dh[r * h..(r + 1) * h].copy_from_slice(&d_packed[base + t * h..base + (t + 1) * h]);
        dc[r * h..(r + 1) * h].copy_from_slice(&d_packed[base + (t + 1) * h..base + (t + 2) * h]);
    }
    for s in (0..t).rev() {
        let k = step(s, t, reverse);
        let gates = &saved.gates[s * b * g4..(s + 1) * b * g4];
        let c_prev = &saved.c_prev[s * b * h..(s + 1) * b * h];
        let tanh_c = &saved.tanh_c[s * b * h..(s + 1) * b * h];
        let dg = &mut d_gates[s * b * g4..(s + 1) * b * g4];
        for r in 0..b {
            let m = mask.map_or(1.0, |m| m[r * t + k]);
            let dout = &d_packed[(r * (t + 2) + k) * h..(r * (t + 2) + k + 1) * h];
            let row = &gates[r * g4..(r + 1) * g4];
            let drow = &mut dg[r * g4..(r + 1) * g4];
            for j in 0..h {
                let (i, f, g, o) = (row[j], row[h + j], row[2 * h + j], row[3 * h + j]);
                let tc = tanh_c[r * h + j];
                let dh_new = m * (dout[j] + dh[r * h + j]);
                let dc_new = m * dc[r * h + j] + dh_new * o * (1.0 - tc * tc);
                drow[j] = dc_new * g * i * (1.0 - i);
                drow[h + j] = dc_new * c_prev[r * h + j] * f * (1.0 - f);
                drow[2 * h + j] = dc_new * i * (1.0 - g * g);
                drow[3 * h + j] = dh_new * tc * o * (1.0 - o);
                // What the step passes back to the state before it (the kept part plus the cell path).
                dc[r * h + j] = (1.0 - m) * dc[r * h + j] + dc_new * f;
                dh[r * h + j] *= 1.0 - m;
            }
            dgx[(r * t + k) * g4..(r * t + k + 1) * g4].copy_from_slice(drow);
        }
        matmul(&mut dh, View::dense(dg, b, g4), View::dense(&wt, g4, h), true);
    }
    let mut dw = vec![0.0; h * g4];
    matmul(&mut dw, View::dense(&saved.h_prev, t * b, h).t(), View::dense(&d_gates, t * b, g4), false);
    LstmGrads { gx: dgx, w: dw, h0: dh, c0: dc }
}

/// The non-linearity of an Elman layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `tanh`.
    Tanh,
    /// `max(0, x)`.
    Relu,
}

/// What the Elman layer's backward pass reads, time-major in processing order.
#[derive(Debug, Clone)]
pub struct ElmanSaved {
    /// Each step's new state (activated) `[T, B, H]`.
    pub h_new: Vec<f32>,
    /// The state before each step `[T, B, H]`.
    pub h_prev: Vec<f32>,
}

/// Runs an Elman layer. Returns the packed result `[B, T + 1, H]` (outputs,
/// then the final `h`) and the saved activations.
pub fn elman_forward(
    d: Dims,
    gx: &[f32],
    w: &[f32],
    h0: &[f32],
    mask: Option<&[f32]>,
    reverse: bool,
    act: Activation,
) -> (Vec<f32>, ElmanSaved) {
    let Dims { b, t, h } = d;
    let mut packed = vec![0.0; b * (t + 1) * h];
    let mut saved = ElmanSaved { h_new: vec![0.0; t * b * h], h_prev: vec![0.0; t * b * h] };
    let mut hs = h0.to_vec();
    for s in 0..t {
        let k = step(s, t, reverse);
        let pre = &mut saved.h_new[s * b * h..(s + 1) * b * h];
        for r in 0..b {
            pre[r * h..(r + 1) * h].copy_from_slice(&gx[(r * t + k) * h..(r * t + k + 1) * h]);
        }
        matmul(pre, View::dense(&hs, b, h), View::dense(w, h, h), true);
        match act {
            Activation::Tanh => tanh_in_place(pre),
            Activation::Relu => pre.iter_mut().for_each(|v| *v = v.max(0.0)),
        }
        saved.h_prev[s * b * h..(s + 1) * b * h].copy_from_slice(&hs);
        for r in 0..b {
            let m = mask.map_or(1.0, |m| m[r * t + k]);
            let out = &mut packed[(r * (t + 1) + k) * h..(r * (t + 1) + k + 1) * h];
            for j in 0..h {
                let h_new = pre[r * h + j];
                out[j] = m * h_new;
                let ho = hs[r * h + j];
                hs[r * h + j] = ho + m * (h_new - ho);
            }
        }
    }
    for r in 0..b {
        let base = r * (t + 1) * h;
        packed[base + t * h..base + (t + 1) * h].copy_from_slice(&hs[r * h..(r + 1) * h]);
    }
    (packed, saved)
}

/// Gradients of an Elman layer's inputs.
#[derive(Debug, Clone)]
pub struct ElmanGrads {
    /// `[B, T, H]`.
    pub gx: Vec<f32>,
    /// `[H, H]`.
    pub w: Vec<f32>,
    /// `[B, H]`.
    pub h0: Vec<f32>,
}

/// Backpropagation through time of [`elman_forward`], given the gradient of
/// its packed result `[B, T + 1, H]`.
pub fn elman_backward(
    d: Dims,
    saved: &ElmanSaved,
    w: &[f32],
    mask: Option<&[f32]>,
    reverse: bool,
    act: Activation,
    d_packed: &[f32],
) -> ElmanGrads {
    let Dims { b, t, h } = d;
    let mut dgx = vec![0.0; b * t * h];
    let mut d_pre = vec![0.0; t * b * h];
    let mut dh = vec![0.0; b * h];
    for r in 0..b {
        let base = r * (t + 1) * h;
        dh[r * h..(r + 1) * h].copy_from_slice(&d_packed[base + t * h..base + (t + 1) * h]);
    }
    for s in (0..t).rev() {
        let k = step(s, t, reverse);
        let h_new = &saved.h_new[s * b * h..(s + 1) * b * h];
        let dp = &mut d_pre[s * b * h..(s + 1) * b * h];
        for r in 0..b {
            let m = mask.map_or(1.0, |m| m[r * t + k]);
            let dout = &d_packed[(r * (t + 1) + k) * h..(r * (t + 1) + k + 1) * h];
            for j in 0..h {
                let y = h_new[r * h + j];
                let slope = match act {
                    Activation::Tanh => 1.0 - y * y,
                    Activation::Relu => f32::from(u8::from(y > 0.0)),
                };
                dp[r * h + j] = m * (dout[j] + dh[r * h + j]) * slope;
                dh[r * h + j] *= 1.0 - m;
            }
            dgx[(r * t + k) * h..(r * t + k + 1) * h].copy_from_slice(&dp[r * h..(r + 1) * h]);
        }
        matmul(&mut dh, View::dense(dp, b, h), View::dense(w, h, h).t(), true);
    }
    let mut dw = vec![0.0; h * h];
    matmul(&mut dw, View::dense(&saved.h_prev, t * b, h).t(), View::dense(&d_pre, t * b, h), false);
    ElmanGrads { gx: dgx, w: dw, h0: dh }
}

/// The batch rows split into one contiguous block per thread (at least 8
/// rows each). The sequences of a batch are independent, so each block runs
/// its whole recurrence on its own thread: one fork per layer instead of a
/// threaded product (and its wake-ups) at every step.
pub fn batch_blocks(b: usize) -> Vec<Range<usize>> {
    let k = rayon::current_num_threads().min(b / 8).max(1);
    (0..k).map(|i| i * b / k..(i + 1) * b / k).collect()
}

/// The rows `r` of a batch-major buffer holding `per` values per row.
fn rows_of<'a>(v: &'a [f32], r: &Range<usize>, per: usize) -> &'a [f32] {
    &v[r.start * per..r.end * per]
}

/// Runs `f` on every block of `blocks`, on rayon's threads when there are
/// several.
fn each_block<T: Send>(blocks: &[Range<usize>], f: impl Fn(&Range<usize>) -> T + Sync + Send) -> Vec<T> {
    if blocks.len() == 1 { vec![f(&blocks[0])] } else { blocks.par_iter().map(f).collect() }
}

/// [`lstm_forward`] over batch blocks ([`batch_blocks`]): the packed result
/// of the whole batch and the saved activations of each block.
#[allow(clippy::too_many_arguments)]
pub fn lstm_forward_blocks(
    d: Dims,
    gx: &[f32],
    w: &[f32],
    h0: &[f32],
    c0: &[f32],
    mask: Option<&[f32]>,
    reverse: bool,
    blocks: &[Range<usize>],
) -> (Vec<f32>, Vec<LstmSaved>) {
    let Dims { t, h, .. } = d;
    let parts = each_block(blocks, |r| {
        let dims = Dims { b: r.len(), ..d };
        let mask = mask.map(|m| rows_of(m, r, t));
        lstm_forward(dims, rows_of(gx, r, t * 4 * h), w, rows_of(h0, r, h), rows_of(c0, r, h), mask, reverse)
    });
    let (packed, saved): (Vec<_>, Vec<_>) = parts.into_iter().unzip();
    (packed.concat(), saved)
}

/// [`lstm_backward`] over the blocks of [`lstm_forward_blocks`]; the
/// recurrent weight's gradient is the sum over blocks.
pub fn lstm_backward_blocks(
    d: Dims,
    saved: &[LstmSaved],
    w: &[f32],
    mask: Option<&[f32]>,
    reverse: bool,
    d_packed: &[f32],
    blocks: &[Range<usize>],
) -> LstmGrads {
    let Dims { t, h, .. } = d;
    let parts = each_block(blocks, |r| {
        let i = blocks.iter().position(|b| b == r).unwrap_or(0);
        let dims = Dims { b: r.len(), ..d };
        let mask = mask.map(|m| rows_of(m, r, t));
        lstm_backward(dims, &saved[i], w, mask, reverse, rows_of(d_packed, r, (t + 2) * h))
    });
    let mut dw = vec![0.0; h * 4 * h];
    for p in &parts {
        dw.iter_mut().zip(&p.w).for_each(|(a, b)| *a += b);
    }
    LstmGrads {
        gx: parts.iter().map(|p| p.gx.as_slice()).collect::<Vec<_>>().concat(),
        w: dw,
        h0: parts.iter().map(|p| p.h0.as_slice()).collect::<Vec<_>>().concat(),
        c0: parts.iter().map(|p| p.c0.as_slice()).collect::<Vec<_>>().concat(),
    }
}

/// [`elman_forward`] over batch blocks ([`batch_blocks`]).
#[allow(clippy::too_many_arguments)]
pub fn elman_forward_blocks(
    d: Dims,
    gx: &[f32],
    w: &[f32],
    h0: &[f32],
    mask: Option<&[f32]>,
    reverse: bool,
    act: Activation,
    blocks: &[Range<usize>],
) -> (Vec<f32>, Vec<ElmanSaved>) {
    let Dims { t, h, .. } = d;
    let parts = each_block(blocks, |r| {
        let dims = Dims { b: r.len(), ..d };
        let mask = mask.map(|m| rows_of(m, r, t));
        elman_forward(dims, rows_of(gx, r, t * h), w, rows_of(h0, r, h), mask, reverse, act)
    });
    let (packed, saved): (Vec<_>, Vec<_>) = parts.into_iter().unzip();
    (packed.concat(), saved)
}

/// [`elman_backward`] over the blocks of [`elman_forward_blocks`].
#[allow(clippy::too_many_arguments)]
pub fn elman_backward_blocks(
    d: Dims,
    saved: &[ElmanSaved],
    w: &[f32],
    mask: Option<&[f32]>,
    reverse: bool,
    act: Activation,
    d_packed: &[f32],
    blocks: &[Range<usize>],
) -> ElmanGrads {
    let Dims { t, h, .. } = d;
    let parts = each_block(blocks, |r| {
        let i = blocks.iter().position(|b| b == r).unwrap_or(0);
        let dims = Dims { b: r.len(), ..d };
        let mask = mask.map(|m| rows_of(m, r, t));
        elman_backward(dims, &saved[i], w, mask, reverse, act, rows_of(d_packed, r, (t + 1) * h))
    });
    let mut dw = vec![0.0; h * h];
    for p in &parts {
        dw.iter_mut().zip(&p.w).for_each(|(a, b)| *a += b);
    }
    ElmanGrads {
        gx: parts.iter().map(|p| p.gx.as_slice()).collect::<Vec<_>>().concat(),
        w: dw,
        h0: parts.iter().map(|p| p.h0.as_slice()).collect::<Vec<_>>().concat(),
    }
}
