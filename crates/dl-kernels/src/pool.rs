//! Max pooling without padding on the host, one image plane per rayon task:
//! the forward pass keeps the position of each window's maximum, and the
//! backward pass adds the output gradient there.

use rayon::prelude::*;

/// A pooling window over planes of `h x w`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Plane height and width.
    pub size: [usize; 2],
    /// Window height and width.
    pub kernel: [usize; 2],
    /// Stride along height and width.
    pub stride: [usize; 2],
}

impl Window {
    /// The output grid: `(size - kernel) / stride + 1` per axis (the caller
    /// checks that the kernel fits).
    pub fn out(&self) -> [usize; 2] {
        [0, 1].map(|d| (self.size[d] - self.kernel[d]) / self.stride[d] + 1)
    }
}

/// Below this many values per call, one thread.
const PARALLEL_FROM: usize = 1 << 14;

/// The maxima of every window of every plane (`planes` `[P, h, w]`) and
/// where each was found (index within its plane). The first maximum of a
/// window wins a tie; a NaN wins over numbers (as burn's and PyTorch's).
pub fn max_pool(planes: &[f32], win: &Window) -> (Vec<f32>, Vec<u32>) {
    let [oh, ow] = win.out();
    let [h, w] = win.size;
    let count = planes.len() / (h * w).max(1);
    let mut out = vec![0.0; count * oh * ow];
    let mut arg = vec![0u32; count * oh * ow];
    // One output row at a time, one kernel tap at a time across the row:
    // branch-free selects (the comparisons are data-dependent; as branches
    // they mispredict about once per window).
    let one = |((plane, out), arg): ((&[f32], &mut [f32]), &mut [u32])| {
        for (oy, (best, at)) in out.chunks_exact_mut(ow).zip(arg.chunks_exact_mut(ow)).enumerate() {
            let top = oy * win.stride[0] * w;
            if win.kernel == [2, 2] && win.stride == [2, 2] {
                pool_2x2(&plane[top..top + 2 * w], w, top as u32, best, at);
                continue;
            }
            for (ox, (b, a)) in best.iter_mut().zip(at.iter_mut()).enumerate() {
                let k = top + ox * win.stride[1];
                (*b, *a) = (plane[k], k as u32);
            }
            for i in 0..win.kernel[0] {
                for j in 0..win.kernel[1] {
                    if i == 0 && j == 0 {
                        continue;
                    }
                    let start = top + i * w + j;
                    for (ox, (b, a)) in best.iter_mut().zip(at.iter_mut()).enumerate() {
                        let k = start + ox * win.stride[1];
                        let v = plane[k];
                        let take = v > *b || v.is_nan();
                        *b = if take { v } else { *b };
                        *a = if take { k as u32 } else { *a };
                    }
                }
            }
        }
    };
    if oh * ow == 0 || h * w == 0 {
        return (out, arg);
    }
    if planes.len() >= PARALLEL_FROM {
        planes.par_chunks(h * w).zip(out.par_chunks_mut(oh * ow)).zip(arg.par_chunks_mut(oh * ow)).for_each(one);
    } else {
        planes.chunks(h * w).zip(out.chunks_mut(oh * ow)).zip(arg.chunks_mut(oh * ow)).for_each(one);
    }
    (out, arg)
}

/// One output row of 2x2 windows with stride 2 over the input rows
/// `rows` (two rows of `w`, starting at `top` in their plane): the same
/// selection as the general loop, written so that it vectorises.
fn pool_2x2(rows: &[f32], w: usize, top: u32, best: &mut [f32], at: &mut [u32]) {
    let (r0, r1) = rows.split_at(w);
    let pick = |(v, i): (f32, u32), (c, j): (f32, u32)| if c > v || c.is_nan() { (c, j) } else { (v, i) };
    let pairs = r0.chunks_exact(2).zip(r1.chunks_exact(2));
    for (ox, ((b, a), (p, q))) in best.iter_mut().zip(at.iter_mut()).zip(pairs).enumerate() {
        let k = top + 2 * ox as u32;
        let m = pick(pick(pick((p[0], k), (p[1], k + 1)), (q[0], k + w as u32)), (q[1], k + w as u32 + 1));
        (*b, *a) = m;
    }
}

/// The input gradient `[P, h, w]`: each output gradient added at the
/// position of its window's maximum.
pub fn max_pool_backward(dy: &[f32], arg: &[u32], win: &Window) -> Vec<f32> {
    let [oh, ow] = win.out();
    let plane = win.size[0] * win.size[1];
    let count = dy.len() / (oh * ow).max(1);
    let mut dx = vec![0.0; count * plane];
    if oh * ow == 0 || plane == 0 {
        return dx;
    }
    let one = |((dx, dy), arg): ((&mut [f32], &[f32]), &[u32])| {
        for (g, &k) in dy.iter().zip(arg) {
            dx[k as usize] += g;
        }
    };
    if dx.len() >= PARALLEL_FROM {
        dx.par_chunks_mut(plane).zip(dy.par_chunks(oh * ow)).zip(arg.par_chunks(oh * ow)).for_each(one);
    } else {
        dx.chunks_mut(plane).zip(dy.chunks(oh * ow)).zip(arg.chunks(oh * ow)).for_each(one);
    }
    dx
}
