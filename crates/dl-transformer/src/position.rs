//! Positional information: sinusoidal tables, learned tables (a burn
//! `Embedding`, used directly by the models) and rotary embeddings.

use burn::tensor::{Device, Tensor, TensorData};

use dl_core::{Error, Result};

/// The sinusoidal table of Vaswani et al.: `[len, d]`, even features
/// `sin(pos / 10000^(2i/d))`, odd features `cos(..)` of the same angle.
pub fn sinusoidal(len: usize, d: usize, device: &Device) -> Tensor<2> {
    let values: Vec<f32> = (0..len)
        .flat_map(|pos| {
            (0..d).map(move |j| {
                let i = (j / 2) as f64;
                let angle = pos as f64 / 10_000f64.powf(2.0 * i / d as f64);
                (if j % 2 == 0 { angle.sin() } else { angle.cos() }) as f32
            })
        })
        .collect();
    Tensor::from_data(TensorData::new(values, [len, d]), device)
}

/// Rotary position embedding (Su et al. 2021) in the `rotate_half` layout of
/// Hugging Face's LLaMA: feature `j < d/2` is paired with `j + d/2` and the pair
/// is rotated by `pos · θ^(-2j/d)`.
///
/// burn's `RotaryEncoding` pairs neighbouring features `(2j, 2j+1)`; checkpoints
/// trained with the `rotate_half` layout give wrong logits with it, so this one
/// is written here. The tables are computed on the host for the positions a
/// call needs, so there is no maximum length to configure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rope {
    /// Base of the frequencies (10 000 in LLaMA 1/2, 500 000 in LLaMA 3).
    pub theta: f64,
    /// Width of one head (even).
    pub head_dim: usize,
}

impl Rope {
    /// A rotary embedding for heads of width `head_dim`.
    pub fn new(theta: f64, head_dim: usize) -> Result<Self> {
        if head_dim == 0 || !head_dim.is_multiple_of(2) {
            return Err(Error::config("Rope", "head_dim", format!("must be even and positive, got {head_dim}")));
        }
        if !(theta.is_finite() && theta > 1.0) {
            return Err(Error::config("Rope", "theta", format!("must be a finite number > 1, got {theta}")));
        }
        Ok(Self { theta, head_dim })
    }

    /// `cos` and `sin` tables `[1, 1, len, head_dim]` for positions `start..start + len`.
    fn tables(&self, start: usize, len: usize, device: &Device) -> (Tensor<4>, Tensor<4>) {
        let half = self.head_dim / 2;
        let inv: Vec<f64> = (0..half).map(|j| self.theta.powf(-2.0 * j as f64 / self.head_dim as f64)).collect();
        let mut cos = Vec::with_capacity(len * self.head_dim);
        let mut sin = Vec::with_capacity(len * self.head_dim);
        for pos in start..start + len {
            for _ in 0..2 {
                for f in &inv {
                    // Angles in f32 as PyTorch computes them (inv_freq and positions are f32).
                    let angle = (pos as f32) * (*f as f32);
                    cos.push(angle.cos());
                    sin.push(angle.sin());
                }
            }
        }
        let t = |v: Vec<f32>| Tensor::from_data(TensorData::new(v, [1, 1, len, self.head_dim]), device);
        (t(cos), t(sin))
    }

    /// Rotates `x` `[B, H, T, head_dim]` whose first step is at position `start`.
    pub fn apply(&self, x: Tensor<4>, start: usize) -> Result<Tensor<4>> {
        let [b, h, t, d] = x.dims();
        if d != self.head_dim {
            return Err(Error::shape("Rope input", format!("[B, H, T, {}]", self.head_dim), format!("{:?}", x.dims())));
        }
        let half = d / 2;
        let (cos, sin) = self.tables(start, t, &x.device());
        let x1 = x.clone().slice([0..b, 0..h, 0..t, 0..half]);
        let x2 = x.clone().slice([0..b, 0..h, 0..t, half..d]);
        let rotated = Tensor::cat(vec![x2.neg(), x1], 3);
        Ok(x * cos.expand([b, h, t, d]) + rotated * sin.expand([b, h, t, d]))
    }
}
