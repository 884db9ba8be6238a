//! Matrix products on row-major `f32` slices through the `gemm` crate (the
//! kernels burn-flex uses), with the strides spelled out once here.

/// A row-major matrix view: `rows x cols` values, `stride` between rows.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    /// The values.
    pub data: &'a [f32],
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Distance between the starts of two rows.
    pub stride: usize,
    /// Read as its transpose (`cols x rows`).
    pub transposed: bool,
}

impl<'a> View<'a> {
    /// A dense row-major `rows x cols` matrix.
    pub fn dense(data: &'a [f32], rows: usize, cols: usize) -> Self {
        View { data, rows, cols, stride: cols, transposed: false }
    }

    /// This matrix read as its transpose.
    pub fn t(self) -> Self {
        View { transposed: !self.transposed, ..self }
    }

    fn shape(&self) -> (usize, usize) {
        if self.transposed { (self.cols, self.rows) } else { (self.rows, self.cols) }
    }

    /// (row stride, column stride) of the matrix as read.
    fn strides(&self) -> (isize, isize) {
        let (r, c) = (self.stride as isize, 1);
        if self.transposed { (c, r) } else { (r, c) }
    }

    fn fits(&self) -> bool {
        self.rows == 0 || self.cols == 0 || (self.rows - 1) * self.stride + self.cols <= self.data.len()
    }
}

/// `dst = accumulate * dst + a · b` for a dense row-major `dst` of
/// `a.rows x b.cols` (as read), on rayon's threads above a size threshold.
/// Panics on shapes that do not fit, which callers rule out: this is
/// internal code, never reached by user input.
pub fn matmul(dst: &mut [f32], a: View<'_>, b: View<'_>, accumulate: bool) {
    product(dst, a, b, accumulate, true)
}

/// [`matmul`] on the calling thread, for callers that already run one
/// product per rayon task.
pub fn matmul_serial(dst: &mut [f32], a: View<'_>, b: View<'_>, accumulate: bool) {
    product(dst, a, b, accumulate, false)
}

/// [`matmul_serial`] into rows `dst_stride` apart (`dst` starts at the
/// first value of the first row): a block of a wider matrix.
pub fn matmul_serial_into(dst: &mut [f32], dst_stride: usize, a: View<'_>, b: View<'_>, accumulate: bool) {
    product_into(dst, dst_stride, a, b, accumulate, false)
}

fn product(dst: &mut [f32], a: View<'_>, b: View<'_>, accumulate: bool, threads: bool) {
    let n = b.shape().1;
    assert!(dst.len() == a.shape().0 * n, "matmul: inconsistent shapes");
    product_into(dst, n, a, b, accumulate, threads)
}

fn product_into(dst: &mut [f32], dst_stride: usize, a: View<'_>, b: View<'_>, accumulate: bool, threads: bool) {
    let (m, k) = a.shape();
    let (k2, n) = b.shape();
    let dst_fits = m == 0 || n == 0 || (dst_stride >= n && (m - 1) * dst_stride + n <= dst.len());
    assert!(k == k2 && dst_fits && a.fits() && b.fits(), "matmul: inconsistent shapes");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst.chunks_mut(dst_stride).take(m).for_each(|row| row[..n].fill(0.0));
        }
        return;
    }
    let (a_rs, a_cs) = a.strides();
    let (b_rs, b_cs) = b.strides();
    let parallelism =
        if threads && m * n * k >= 1 << 21 { gemm::Parallelism::Rayon(0) } else { gemm::Parallelism::None };
    // SAFETY: the views were checked to lie inside their slices for the
    // strides passed, `dst` holds m rows of n values `dst_stride` apart, and
    // the three do not alias (one is `&mut`).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_stride as isize,
            accumulate,
            a.data.as_ptr(),
            a_cs,
            a_rs,
            b.data.as_ptr(),
            b_cs,
            b_rs,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
        let mut out = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        out
    }

    #[test]
    fn products_and_transposes_match_the_definition() {
        let (m, k, n) = (5, 7, 3);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.91).cos()).collect();
        let want = naive(&a, &b, m, k, n);
        let mut got = vec![1.0; m * n];
        matmul(&mut got, View::dense(&a, m, k), View::dense(&b, k, n), false);
        assert!(got.iter().zip(&want).all(|(g, w)| (g - w).abs() < 1e-5));
        // Accumulate onto what is there.
        matmul(&mut got, View::dense(&a, m, k), View::dense(&b, k, n), true);
        assert!(got.iter().zip(&want).all(|(g, w)| (g - 2.0 * w).abs() < 1e-5));
        // a read through its transpose: store aᵀ (k x m) and read it transposed.
        let at: Vec<f32> = (0..k * m).map(|i| a[(i % m) * k + i / m]).collect();
        let mut got_t = vec![0.0; m * n];
        matmul(&mut got_t, View::dense(&at, k, m).t(), View::dense(&b, k, n), false);
        assert!(got_t.iter().zip(&want).all(|(g, w)| (g - w).abs() < 1e-5));
    }
}
