//! What every fused-op test compares with: values read back, closeness
//! (relative or absolute) and loss weights that make every output's
//! gradient different.

use burn::tensor::{Device, Tensor, TensorData};

pub fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().unwrap()
}

/// Largest absolute difference, relative to the largest magnitude (at least 1).
pub fn close(a: &[f32], b: &[f32], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    let scale = a.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    let diff = a.iter().zip(b).fold(0.0f32, |m, (x, y)| m.max((x - y).abs()));
    assert!(diff <= 1e-5 * scale, "{what}: max difference {diff} (scale {scale})");
}

/// Largest absolute difference at most `tol`.
pub fn close_abs(a: &[f32], b: &[f32], tol: f32, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    let diff = a.iter().zip(b).fold(0.0f32, |m, (x, y)| m.max((x - y).abs()));
    assert!(diff <= tol, "{what}: max difference {diff}");
}

/// Weights that make every output's gradient different.
pub fn weights<const D: usize>(dims: [usize; D], device: &Device) -> Tensor<D> {
    let n = dims.iter().product::<usize>();
    Tensor::from_data(
        TensorData::new((0..n).map(|i| ((i * 7) % 13) as f32 * 0.1 - 0.6).collect::<Vec<f32>>(), dims),
        device,
    )
}
