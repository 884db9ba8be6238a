//! 2-D convolutions on the host as im2col + GEMM, batched over samples on
//! rayon's threads: the forward pass and both backward passes of `conv2d`
//! and of its adjoint `conv_transpose2d`.
//!
//! Layouts (row-major): images `[N, C, H, W]`; a convolution's weight
//! `[O, C, kh, kw]`, read as an `[O, C·kh·kw]` matrix; a transposed
//! convolution's weight `[C_in, C_out, kh, kw]`, read as `[C_in, C_out·kh·kw]`.
//! The column matrix of one image is `[C·kh·kw, Ho·Wo]`: row `(c, i, j)`
//! holds the pixel under kernel tap `(i, j)` of channel `c` for every output
//! position, 0 in the padding.

use rayon::prelude::*;

use crate::gemm::{View, matmul, matmul_serial};

/// How one image `[c, h, w]` is read by the kernel windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// Channels.
    pub c: usize,
    /// Height.
    pub h: usize,
    /// Width.
    pub w: usize,
    /// Kernel height and width.
    pub kernel: [usize; 2],
    /// Stride along height and width.
    pub stride: [usize; 2],
    /// Dilation along height and width.
    pub dilation: [usize; 2],
    /// Zero padding before the first row and the first column.
    pub pad: [usize; 2],
    /// The grid of window positions (height, width).
    pub out: [usize; 2],
}

impl Geometry {
    /// Rows of the column matrix: `c · kh · kw`.
    pub fn rows(&self) -> usize {
        self.c * self.kernel[0] * self.kernel[1]
    }

    /// Columns of the column matrix: window positions.
    pub fn cols(&self) -> usize {
        self.out[0] * self.out[1]
    }

    /// Values in one image.
    pub fn image(&self) -> usize {
        self.c * self.h * self.w
    }

    /// The output positions `o` in `0..len` whose input index
    /// `o · stride + offset - pad` lies in `0..size`.
    fn valid(len: usize, stride: usize, offset: usize, pad: usize, size: usize) -> (usize, usize) {
        // First o with o·stride + offset >= pad.
        let lo = if offset >= pad { 0 } else { (pad - offset).div_ceil(stride) };
        // First o with o·stride + offset >= pad + size.
        let hi = if offset >= pad + size { 0 } else { (pad + size - offset).div_ceil(stride) };
        (lo.min(len), hi.min(len).max(lo.min(len)))
    }

    /// For each row of the column matrix, calls `f(row, channel, i, j)`.
    fn taps(&self, mut f: impl FnMut(usize, usize, usize, usize)) {
        let [kh, kw] = self.kernel;
        for c in 0..self.c {
            for i in 0..kh {
                for j in 0..kw {
                    f((c * kh + i) * kw + j, c, i, j);
                }
            }
        }
    }
}

/// For every kernel tap and window position, the index of the pixel it
/// reads within its channel's plane, or `u32::MAX` in the padding
/// (`[kh · kw, cols]`).
fn tap_table(g: &Geometry) -> Vec<u32> {
    let ([kh, kw], [oh, ow]) = (g.kernel, g.out);
    let mut table = Vec::with_capacity(kh * kw * oh * ow);
    for i in 0..kh {
        for j in 0..kw {
            for oy in 0..oh {
                let iy = (oy * g.stride[0] + i * g.dilation[0]).checked_sub(g.pad[0]).filter(|&y| y < g.h);
                for ox in 0..ow {
                    let ix = (ox * g.stride[1] + j * g.dilation[1]).checked_sub(g.pad[1]).filter(|&x| x < g.w);
                    table.push(match (iy, ix) {
                        (Some(y), Some(x)) => (y * g.w + x) as u32,
                        _ => u32::MAX,
                    });
                }
            }
        }
    }
    table
}

/// Whether to read through a [`tap_table`]: strided windows (whose row
/// segments are too short to copy one by one) over planes that `u32` indexes.
fn by_table(g: &Geometry) -> bool {
    g.stride[1] > 1 && g.h * g.w < u32::MAX as usize
}

/// Fills `col` (`[rows, cols]`) from one image.
pub fn im2col(image: &[f32], g: &Geometry, col: &mut [f32]) {
    im2col_ld(image, g, table_for(g).as_deref(), col, g.cols());
}

/// The tap table where [`by_table`] reads through one, built once per batch
/// by the callers that loop over samples.
fn table_for(g: &Geometry) -> Option<Vec<u32>> {
    by_table(g).then(|| tap_table(g))
}

/// [`im2col`] into rows `ld` apart (`ld >= cols`): the block of one sample
/// among several side by side.
fn im2col_ld(image: &[f32], g: &Geometry, table: Option<&[u32]>, col: &mut [f32], ld: usize) {
    if let Some(table) = table {
        let (cols, taps) = (g.cols(), g.kernel[0] * g.kernel[1]);
        for (c, plane) in image.chunks_exact(g.h * g.w).enumerate() {
            for (t, idx) in table.chunks_exact(cols).enumerate() {
                let r = c * taps + t;
                let row = &mut col[r * ld..r * ld + cols];
                for (d, &k) in row.iter_mut().zip(idx) {
                    *d = plane.get(k as usize).copied().unwrap_or(0.0);
                }
            }
        }
        return;
    }
    let [oh, ow] = g.out;
    let [sh, sw] = g.stride;
    let [dh, dw] = g.dilation;
    g.taps(|row, c, i, j| {
        let plane = &image[c * g.h * g.w..(c + 1) * g.h * g.w];
        let out = &mut col[row * ld..row * ld + oh * ow];
        let (y_lo, y_hi) = Geometry::valid(oh, sh, i * dh, g.pad[0], g.h);
        let (x_lo, x_hi) = Geometry::valid(ow, sw, j * dw, g.pad[1], g.w);
        out[..y_lo * ow].fill(0.0);
        out[y_hi * ow..].fill(0.0);
        let (x0, len) = (x_lo * sw + j * dw, x_hi - x_lo);
        for oy in y_lo..y_hi {
            let iy = oy * sh + i * dh - g.pad[0];
            let dst = &mut out[oy * ow..(oy + 1) * ow];
            // The padding columns: a few values, written one by one (a
            // call to memset per row segment costs more).
            for d in &mut dst[..x_lo] {
                *d = 0.0;
            }
            for d in &mut dst[x_hi..] {
                *d = 0.0;
            }
            if len == 0 {
                continue;
            }
            let start = iy * g.w + x0 - g.pad[1];
            let src = &plane[start..start + (len - 1) * sw + 1];
            if sw == 1 {
                dst[x_lo..x_hi].copy_from_slice(src);
            } else {
                for (d, v) in dst[x_lo..x_hi].iter_mut().zip(src.iter().step_by(sw)) {
                    *d = *v;
                }
            }
        }
    });
}

/// Adds the column matrix `col` (`[rows, cols]`) back onto one image: the
/// adjoint of [`im2col`].
pub fn col2im(col: &[f32], g: &Geometry, image: &mut [f32]) {
    col2im_ld(col, g, table_for(g).as_deref(), image, g.cols());
}

/// [`col2im`] from rows `ld` apart.
fn col2im_ld(col: &[f32], g: &Geometry, table: Option<&[u32]>, image: &mut [f32], ld: usize) {
    if let Some(table) = table {
        let (cols, taps) = (g.cols(), g.kernel[0] * g.kernel[1]);
        for (c, plane) in image.chunks_exact_mut(g.h * g.w).enumerate() {
            for (t, idx) in table.chunks_exact(cols).enumerate() {
                let r = c * taps + t;
                let row = &col[r * ld..r * ld + cols];
                for (v, &k) in row.iter().zip(idx) {
                    if let Some(d) = plane.get_mut(k as usize) {
                        *d += v;
                    }
                }
            }
        }
        return;
    }
    let [oh, ow] = g.out;
    let [sh, sw] = g.stride;
    let [dh, dw] = g.dilation;
    g.taps(|row, c, i, j| {
        let plane = &mut image[c * g.h * g.w..(c + 1) * g.h * g.w];
        let src = &col[row * ld..row * ld + oh * ow];
        let (y_lo, y_hi) = Geometry::valid(oh, sh, i * dh, g.pad[0], g.h);
        let (x_lo, x_hi) = Geometry::valid(ow, sw, j * dw, g.pad[1], g.w);
        for oy in y_lo..y_hi {
            let iy = oy * sh + i * dh - g.pad[0];
            let dst = &mut plane[iy * g.w..(iy + 1) * g.w];
            let x0 = x_lo * sw + j * dw - g.pad[1];
            for (k, s) in src[oy * ow + x_lo..oy * ow + x_hi].iter().enumerate() {
                dst[x0 + k * sw] += s;
            }
        }
    });
}

/// Samples per product: enough window positions side by side (about 256
/// columns) for the GEMM kernels to run at speed; 1 for large images.
fn group_size(cols: usize) -> usize {
    if cols >= 64 { 1 } else { (256 / cols.max(1)).clamp(1, 16) }
}

/// Whether to run one group of samples per rayon task (serial products)
/// rather than groups in turn with threaded products.
fn per_group(groups: usize) -> bool {
    groups >= 2 * rayon::current_num_threads().max(1)
}

/// `k` blocks `[m, cols]` side by side as one `[m, k·cols]` matrix.
fn interleave(blocks: &[f32], k: usize, m: usize, cols: usize, out: &mut [f32]) {
    for s in 0..k {
        for o in 0..m {
            let src = &blocks[(s * m + o) * cols..(s * m + o + 1) * cols];
            out[o * k * cols + s * cols..o * k * cols + (s + 1) * cols].copy_from_slice(src);
        }
    }
}

/// `blocks` (`k` blocks `[m, cols]`) as one `[m, k·cols]` matrix: the
/// blocks themselves for one, else interleaved into `wide`.
fn side_by_side<'a>(blocks: &'a [f32], k: usize, m: usize, cols: usize, wide: &'a mut [f32]) -> &'a [f32] {
    if k == 1 {
        return blocks;
    }
    interleave(blocks, k, m, cols, &mut wide[..m * k * cols]);
    &wide[..m * k * cols]
}

/// The inverse of [`interleave`].
fn deinterleave(wide: &[f32], k: usize, m: usize, cols: usize, blocks: &mut [f32]) {
    for s in 0..k {
        for o in 0..m {
            let dst = &mut blocks[(s * m + o) * cols..(s * m + o + 1) * cols];
            dst.copy_from_slice(&wide[o * k * cols + s * cols..o * k * cols + (s + 1) * cols]);
        }
    }
}

/// Runs `one(scratch, inputs, outputs, serial)` on groups of samples:
/// `inputs` holds `in_len` values per sample, `outputs` `out_len`; on
/// rayon's threads one group per task when there are enough groups.
/// `scratch` is two buffers of `sizes` values, the thread's own, kept from
/// one call to the next (allocated and zeroed per task, `memset` was 4.5% of
/// a DCGAN benchmark step, 3.0% after): whatever a call leaves in them,
/// `one` writes before it reads.
fn by_groups(
    inputs: &[f32],
    in_len: usize,
    outputs: &mut [f32],
    out_len: usize,
    group: usize,
    sizes: [usize; 2],
    one: impl Fn([&mut [f32]; 2], &[f32], &mut [f32], bool) + Sync + Send,
) {
    let run = |i: &[f32], o: &mut [f32], serial: bool| with_scratch(sizes, |scratch| one(scratch, i, o, serial));
    let groups = inputs.len().div_ceil((in_len * group).max(1));
    if per_group(groups) {
        inputs
            .par_chunks(in_len * group)
            .zip(outputs.par_chunks_mut(out_len * group))
            .for_each(|(i, o)| run(i, o, true));
    } else {
        for (i, o) in inputs.chunks(in_len * group).zip(outputs.chunks_mut(out_len * group)) {
            run(i, o, false);
        }
    }
}

thread_local! {
    static SCRATCH: std::cell::RefCell<[Vec<f32>; 2]> = const { std::cell::RefCell::new([Vec::new(), Vec::new()]) };
}

/// Runs `f` on this thread's two scratch buffers grown to `sizes`; on fresh
/// ones if they are in use further up the stack (a task stolen while this
/// thread waits inside a threaded product).
fn with_scratch<R>(sizes: [usize; 2], f: impl FnOnce([&mut [f32]; 2]) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buffers) => {
            let [a, b] = &mut *buffers;
            for (buffer, &size) in [&mut *a, &mut *b].into_iter().zip(&sizes) {
                if buffer.len() < size {
                    buffer.resize(size, 0.0);
                }
            }
            f([&mut a[..sizes[0]], &mut b[..sizes[1]]])
        }
        Err(_) => f([&mut vec![0.0; sizes[0]], &mut vec![0.0; sizes[1]]]),
    })
}

fn product_for(serial: bool) -> fn(&mut [f32], View<'_>, View<'_>, bool) {
    if serial { matmul_serial } else { matmul }
}

/// The column matrices of the samples `imgs` side by side in `col`: a
/// `[rows, k·cols]` view for `k` samples.
fn columns_of<'a>(imgs: &[f32], g: &Geometry, table: Option<&[u32]>, col: &'a mut [f32]) -> View<'a> {
    let (rows, cols, image) = (g.rows(), g.cols(), g.image());
    let ld = imgs.len() / image.max(1) * cols;
    for (s, img) in imgs.chunks(image).enumerate() {
        im2col_ld(img, g, table, &mut col[s * cols..], ld);
    }
    View { data: &col[..rows * ld], rows, cols: ld, stride: ld, transposed: false }
}

/// `dst` (`k` samples `[m, cols]`) `= weight · columns` (+ `bias` per row),
/// `weight` `[m, rows]`, the columns of `k` samples side by side: through
/// `wide` when `k > 1`.
fn weight_times_columns(
    dst: &mut [f32],
    weight: View<'_>,
    columns: View<'_>,
    bias: Option<&[f32]>,
    cols: usize,
    wide: &mut [f32],
    serial: bool,
) {
    let (m, ld) = (weight.rows, columns.cols);
    let k = ld / cols.max(1);
    let target = if k == 1 { &mut dst[..m * ld] } else { &mut wide[..m * ld] };
    if let Some(bias) = bias {
        for (r, b) in target.chunks_exact_mut(ld).zip(bias) {
            r.fill(*b);
        }
    }
    product_for(serial)(target, weight, columns, bias.is_some());
    if k > 1 {
        deinterleave(&wide[..m * ld], k, m, cols, dst);
    }
}

/// `out[s] = w · im2col(images[s]) (+ bias per row)` for every sample:
/// `w` `[m, rows]`, `out` `[n, m, cols]`. A convolution's forward pass and
/// a transposed convolution's input gradient.
pub fn gather(images: &[f32], n: usize, g: &Geometry, w: &[f32], m: usize, bias: Option<&[f32]>) -> Vec<f32> {
    let (rows, cols, image) = (g.rows(), g.cols(), g.image());
    let mut out = vec![0.0; n * m * cols];
    if n == 0 || m * cols == 0 || image == 0 {
        return out;
    }
    let (group, weight, table) = (group_size(cols), View::dense(w, m, rows), table_for(g));
    let sizes = [rows * group * cols, m * group * cols];
    by_groups(images, image, &mut out, m * cols, group, sizes, |[col, wide], imgs, dst, serial| {
        let columns = columns_of(imgs, g, table.as_deref(), col);
        weight_times_columns(dst, weight, columns, bias, cols, wide, serial);
    });
    out
}

/// `out[s] = col2im(wᵀ · values[s]) (+ bias per channel)` for every sample:
/// `w` `[m, rows]`, `values` `[n, m, cols]`, `out` `[n, c, h, w]`. A
/// transposed convolution's forward pass and a convolution's input gradient.
pub fn scatter(values: &[f32], n: usize, g: &Geometry, w: &[f32], m: usize, bias: Option<&[f32]>) -> Vec<f32> {
    let (rows, cols, image, plane) = (g.rows(), g.cols(), g.image(), g.h * g.w);
    let mut out = vec![0.0; n * image];
    if n == 0 || image == 0 || m * cols == 0 {
        return out;
    }
    let (group, weight_t, table) = (group_size(cols), View::dense(w, m, rows).t(), table_for(g));
    let sizes = [rows * group * cols, m * group * cols];
    by_groups(values, m * cols, &mut out, image, group, sizes, |[col, wide], vals, dst, serial| {
        let k = vals.len() / (m * cols);
        let ld = k * cols;
        let source = side_by_side(vals, k, m, cols, wide);
        let v = View { data: source, rows: m, cols: ld, stride: ld, transposed: false };
        product_for(serial)(&mut col[..rows * ld], weight_t, v, false);
        for (s, img) in dst.chunks_mut(image).enumerate() {
            if let Some(bias) = bias {
                for (p, b) in img.chunks_exact_mut(plane).zip(bias) {
                    p.fill(*b);
                }
            }
            col2im_ld(&col[s * cols..], g, table.as_deref(), img, ld);
        }
    });
    out
}

/// `Σ_s a[s] · im2col(images[s])ᵀ`: `a` `[n, m, cols]`, result `[m, rows]`.
/// The weight gradient of both convolutions.
pub fn weight_grad(a: &[f32], images: &[f32], n: usize, g: &Geometry, m: usize) -> Vec<f32> {
    im2col_products(images, a, n, g, m, None).1
}

/// [`gather`] (no bias) and [`weight_grad`] of the same images, from one
/// im2col of each: a transposed convolution's input and weight gradients
/// (`images` its output gradient, `a` its input, `w` its weight). The same
/// values, to the bit, as the two calls.
pub fn gather_and_weight_grad(
    images: &[f32],
    a: &[f32],
    n: usize,
    g: &Geometry,
    w: &[f32],
    m: usize,
) -> (Vec<f32>, Vec<f32>) {
    let (dx, dw) = im2col_products(images, a, n, g, m, Some(w));
    (dx.unwrap_or_default(), dw)
}

/// `Σ_s a[s] · im2col(images[s])ᵀ` and, given `w`, `w · im2col(images[s])`
/// for every sample, each column matrix built once.
fn im2col_products(
    images: &[f32],
    a: &[f32],
    n: usize,
    g: &Geometry,
    m: usize,
    w: Option<&[f32]>,
) -> (Option<Vec<f32>>, Vec<f32>) {
    let (rows, cols, image) = (g.rows(), g.cols(), g.image());
    let mut gathered = w.map(|_| vec![0.0; n * m * cols]);
    if n == 0 || m * rows == 0 || image == 0 {
        return (gathered, vec![0.0; m * rows]);
    }
    let (group, table) = (group_size(cols), table_for(g));
    let sizes = [rows * group * cols, m * group * cols];
    let weight = w.map(|w| View::dense(w, m, rows));
    // Adds the products of consecutive groups of samples (`a`, `images`) onto
    // `acc`, and writes `w · im2col` of each group to `out`.
    let sum_into = |acc: &mut [f32], a: &[f32], images: &[f32], mut out: Option<&mut [f32]>, serial: bool| {
        with_scratch(sizes, |[col, wide]| {
            for (i, (a_g, imgs)) in a.chunks(m * cols * group).zip(images.chunks(image * group)).enumerate() {
                let col_view = columns_of(imgs, g, table.as_deref(), col);
                let (ld, k) = (col_view.cols, imgs.len() / image);
                if let (Some(weight), Some(out)) = (weight, out.as_deref_mut()) {
                    let start = i * m * cols * group;
                    weight_times_columns(&mut out[start..start + m * ld], weight, col_view, None, cols, wide, serial);
                }
                let source = side_by_side(a_g, k, m, cols, wide);
                let lhs = View { data: source, rows: m, cols: ld, stride: ld, transposed: false };
                product_for(serial)(acc, lhs, col_view.t(), true);
            }
        })
    };
    let mut sum = vec![0.0; m * rows];
    let groups = n.div_ceil(group);
    if per_group(groups) {
        // A fixed split into contiguous parts, each summed in order, then the
        // parts in order: the same bits on every run (rayon's own fold/reduce
        // tree depends on work stealing).
        let parts = 2 * rayon::current_num_threads().max(1);
        let per = groups.div_ceil(parts) * group;
        let run = |(a, imgs, out): (&[f32], &[f32], Option<&mut [f32]>)| {
            let mut acc = vec![0.0; m * rows];
            sum_into(&mut acc, a, imgs, out, true);
            acc
        };
        let pairs = a.par_chunks(m * cols * per).zip(images.par_chunks(image * per));
        let partial: Vec<Vec<f32>> = match gathered.as_mut() {
            Some(out) => {
                pairs.zip(out.par_chunks_mut(m * cols * per)).map(|((a, i), o)| run((a, i, Some(o)))).collect()
            }
            None => pairs.map(|(a, i)| run((a, i, None))).collect(),
        };
        for p in partial {
            sum.iter_mut().zip(&p).for_each(|(x, y)| *x += y);
        }
    } else {
        sum_into(&mut sum, a, images, gathered.as_deref_mut(), false);
    }
    (gathered, sum)
}

/// The bias gradient: `Σ` over samples and positions of `dy` `[n, m, cols]`.
pub fn bias_grad(dy: &[f32], m: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; m];
    if cols == 0 {
        return out;
    }
    for sample in dy.chunks(m * cols) {
        for (o, plane) in out.iter_mut().zip(sample.chunks_exact(cols)) {
            *o += plane.iter().sum::<f32>();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition of a convolution, one output at a time.
    fn direct(x: &[f32], g: &Geometry, w: &[f32], m: usize) -> Vec<f32> {
        let [kh, kw] = g.kernel;
        let [oh, ow] = g.out;
        let mut out = vec![0.0; m * oh * ow];
        for o in 0..m {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut s = 0.0;
                    for c in 0..g.c {
                        for i in 0..kh {
                            for j in 0..kw {
                                let iy = (oy * g.stride[0] + i * g.dilation[0]) as isize - g.pad[0] as isize;
                                let ix = (ox * g.stride[1] + j * g.dilation[1]) as isize - g.pad[1] as isize;
                                if iy >= 0 && ix >= 0 && (iy as usize) < g.h && (ix as usize) < g.w {
                                    s += x[(c * g.h + iy as usize) * g.w + ix as usize]
                                        * w[((o * g.c + c) * kh + i) * kw + j];
                                }
                            }
                        }
                    }
                    out[(o * oh + oy) * ow + ox] = s;
                }
            }
        }
        out
    }

    fn values(n: usize, seed: f32) -> Vec<f32> {
        (0..n).map(|i| ((i as f32 + 1.0) * seed).sin()).collect()
    }

    #[test]
    fn gather_is_the_convolution_and_col2im_is_the_adjoint_of_im2col() {
        // Odd sizes, stride 2, dilation, asymmetric padding, a window that
        // sees only padding in one corner.
        let g =
            Geometry { c: 3, h: 7, w: 6, kernel: [3, 2], stride: [2, 1], dilation: [1, 2], pad: [2, 1], out: [4, 5] };
        let m = 4;
        let x = values(2 * g.image(), 0.37);
        let w = values(m * g.rows(), 0.91);
        let got = gather(&x, 2, &g, &w, m, None);
        for s in 0..2 {
            let want = direct(&x[s * g.image()..(s + 1) * g.image()], &g, &w, m);
            let have = &got[s * m * g.cols()..(s + 1) * m * g.cols()];
            assert!(want.iter().zip(have).all(|(a, b)| (a - b).abs() < 1e-5));
        }
        // <im2col(x), c> = <x, col2im(c)> for any c.
        let mut col = vec![0.0; g.rows() * g.cols()];
        im2col(&x[..g.image()], &g, &mut col);
        let c = values(col.len(), 0.53);
        let mut back = vec![0.0; g.image()];
        col2im(&c, &g, &mut back);
        let lhs: f32 = col.iter().zip(&c).map(|(a, b)| a * b).sum();
        let rhs: f32 = x[..g.image()].iter().zip(&back).map(|(a, b)| a * b).sum();
        assert!((lhs - rhs).abs() < 1e-4, "{lhs} vs {rhs}");
    }

    #[test]
    fn weight_grad_is_the_same_bits_on_every_run() {
        // 160 samples of a 4x4 window grid: ten groups of 16 samples, several
        // per rayon task on two threads; the sum must not depend on stealing.
        let g =
            Geometry { c: 3, h: 6, w: 6, kernel: [3, 3], stride: [1, 1], dilation: [1, 1], pad: [0, 0], out: [4, 4] };
        let (n, m) = (160, 5);
        let x = values(n * g.image(), 0.29);
        let dy = values(n * m * g.cols(), 0.71);
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        let first = pool.install(|| weight_grad(&dy, &x, n, &g, m));
        for _ in 0..200 {
            let again = pool.install(|| weight_grad(&dy, &x, n, &g, m));
            assert!(first.iter().zip(&again).all(|(a, b)| a.to_bits() == b.to_bits()));
        }
        // And it is the sum of the per-sample gradients.
        let mut want = vec![0.0f64; m * g.rows()];
        for s in 0..n {
            let mut col = vec![0.0; g.rows() * g.cols()];
            im2col(&x[s * g.image()..(s + 1) * g.image()], &g, &mut col);
            for o in 0..m {
                for r in 0..g.rows() {
                    let d = &dy[(s * m + o) * g.cols()..(s * m + o + 1) * g.cols()];
                    want[o * g.rows() + r] +=
                        d.iter().zip(&col[r * g.cols()..(r + 1) * g.cols()]).map(|(a, b)| (a * b) as f64).sum::<f64>();
                }
            }
        }
        assert!(first.iter().zip(&want).all(|(a, b)| (*a as f64 - b).abs() < 1e-3));
    }

    #[test]
    fn one_im2col_for_both_gradients_gives_the_bits_of_two() {
        // Few groups (threaded products), many (one task per part), one
        // sample per group (large windows grid), and strided windows.
        let small =
            Geometry { c: 3, h: 6, w: 6, kernel: [3, 3], stride: [1, 1], dilation: [1, 1], pad: [0, 0], out: [4, 4] };
        let large = Geometry {
            c: 2,
            h: 12,
            w: 12,
            kernel: [3, 3],
            stride: [1, 1],
            dilation: [1, 1],
            pad: [1, 1],
            out: [12, 12],
        };
        let strided =
            Geometry { c: 4, h: 14, w: 14, kernel: [4, 4], stride: [2, 2], dilation: [1, 1], pad: [1, 1], out: [7, 7] };
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        for (g, n, m) in [(small, 3, 5), (small, 160, 5), (large, 9, 3), (strided, 23, 6), (strided, 0, 2)] {
            let images = values(n * g.image(), 0.37);
            let a = values(n * m * g.cols(), 0.53);
            let w = values(m * g.rows(), 0.11);
            let (dx, dw) = pool.install(|| gather_and_weight_grad(&images, &a, n, &g, &w, m));
            let want_dx = pool.install(|| gather(&images, n, &g, &w, m, None));
            let want_dw = pool.install(|| weight_grad(&a, &images, n, &g, m));
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&dx), bits(&want_dx), "gather, n = {n}, {g:?}");
            assert_eq!(bits(&dw), bits(&want_dw), "weight_grad, n = {n}, {g:?}");
        }
    }
}
