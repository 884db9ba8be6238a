//! Positional information: sinusoidal tables, learned tables (a burn
//! `Embedding`, used directly by the models) and rotary embeddings.

use burn::config::Config;
use burn::tensor::{Device, Tensor, TensorData};

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
    /// Llama 3's long-context rescaling of the frequencies, if any.
    pub scaling: Option<Llama3RopeScaling>,
}

/// Llama 3's `rope_scaling` (`rope_type: "llama3"`): frequencies whose
/// wavelength exceeds `original_max_position_embeddings / low_freq_factor`
/// are divided by `factor`, those below `.. / high_freq_factor` are kept, and
/// those between are interpolated smoothly, as in Hugging Face's
/// `_compute_llama3_parameters`.
#[derive(Config, Debug, Copy, PartialEq)]
pub struct Llama3RopeScaling {
    /// Division of the low frequencies (8 in Llama 3.1).
    pub factor: f64,
    /// Wavelengths above `original / low_freq_factor` are scaled (1 in Llama 3.1).
    pub low_freq_factor: f64,
    /// Wavelengths below `original / high_freq_factor` are kept (4 in Llama 3.1).
    pub high_freq_factor: f64,
    /// Context the model was first trained on (8192 in Llama 3.1).
    pub original_max_position_embeddings: usize,
}

impl Llama3RopeScaling {
    /// Checks the factors: finite, `factor >= 1`, `high_freq_factor > low_freq_factor > 0`.
    pub fn validate(&self) -> dl_core::Result<()> {
        const M: &str = "rope_scaling (llama3)";
        if !(self.factor.is_finite() && self.factor >= 1.0) {
            return Err(dl_core::Error::config(
                M,
                "factor",
                format!("must be a finite number >= 1, got {}", self.factor),
            ));
        }
        if !(self.low_freq_factor.is_finite() && self.low_freq_factor > 0.0) {
            return Err(dl_core::Error::config(
                M,
                "low_freq_factor",
                format!("must be > 0, got {}", self.low_freq_factor),
            ));
        }
        if !(self.high_freq_factor.is_finite() && self.high_freq_factor > self.low_freq_factor) {
            return Err(dl_core::Error::config(
                M,
                "high_freq_factor",
                format!("must exceed low_freq_factor {}, got {}", self.low_freq_factor, self.high_freq_factor),
            ));
        }
        if self.original_max_position_embeddings == 0 {
            return Err(dl_core::Error::config(M, "original_max_position_embeddings", "must be positive"));
        }
        Ok(())
    }

    /// The rescaled inverse frequency of `inv_freq`.
    pub fn rescale(&self, inv_freq: f64) -> f64 {
        let original = self.original_max_position_embeddings as f64;
        let low_wavelen = original / self.low_freq_factor;
        let high_wavelen = original / self.high_freq_factor;
        let wavelen = 2.0 * std::f64::consts::PI / inv_freq;
        if wavelen > low_wavelen {
            inv_freq / self.factor
        } else if wavelen < high_wavelen {
            inv_freq
        } else {
            let smooth = (original / wavelen - self.low_freq_factor) / (self.high_freq_factor - self.low_freq_factor);
            (1.0 - smooth) * inv_freq / self.factor + smooth * inv_freq
        }
    }
}

impl Rope {
    /// A rotary embedding for heads of width `head_dim`.
    pub fn new(theta: f64, head_dim: usize) -> dl_core::Result<Self> {
        if head_dim == 0 || !head_dim.is_multiple_of(2) {
            return Err(dl_core::Error::config(
                "Rope",
                "head_dim",
                format!("must be even and positive, got {head_dim}"),
            ));
        }
        if !(theta.is_finite() && theta > 1.0) {
            return Err(dl_core::Error::config("Rope", "theta", format!("must be a finite number > 1, got {theta}")));
        }
        Ok(Self { theta, head_dim, scaling: None })
    }

    /// The same embedding with Llama 3's frequency rescaling.
    pub fn with_llama3_scaling(self, scaling: Llama3RopeScaling) -> dl_core::Result<Self> {
        scaling.validate()?;
        Ok(Self { scaling: Some(scaling), ..self })
    }

    /// The inverse frequency of each feature pair, `θ^(-2j/d)`, rescaled when configured.
    pub fn inverse_frequencies(&self) -> Vec<f64> {
        (0..self.head_dim / 2)
            .map(|j| {
                let f = self.theta.powf(-2.0 * j as f64 / self.head_dim as f64);
                self.scaling.map_or(f, |s| s.rescale(f))
            })
            .collect()
    }

    /// `cos` and `sin` tables `[1, 1, len, head_dim]` for positions `start..start + len`.
    fn tables(&self, start: usize, len: usize, device: &Device) -> (Tensor<4>, Tensor<4>) {
        let inv = self.inverse_frequencies();
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
    pub fn apply(&self, x: Tensor<4>, start: usize) -> dl_core::Result<Tensor<4>> {
        let [b, h, t, d] = x.dims();
        if d != self.head_dim {
            return Err(dl_core::Error::shape(
                "Rope input",
                format!("[B, H, T, {}]", self.head_dim),
                format!("{:?}", x.dims()),
            ));
        }
        let half = d / 2;
        let (cos, sin) = self.tables(start, t, &x.device());
        let x1 = x.clone().slice([0..b, 0..h, 0..t, 0..half]);
        let x2 = x.clone().slice([0..b, 0..h, 0..t, half..d]);
        let rotated = Tensor::cat(vec![x2.neg(), x1], 3);
        Ok(x * cos.expand([b, h, t, d]) + rotated * sin.expand([b, h, t, d]))
    }
}
