//! Differentiable augmentation of the samples a discriminator judges
//! (DiffAugment, Zhao et al. 2020): each real and generated image moved along
//! its width and given a zeroed rectangle, drawn per sample, with gradients
//! flowing back through both, against a discriminator that memorises a small
//! training set (docs/gan.md, "Spoken digits from a conditional SpecGAN").

use std::ops::Range;

use burn::tensor::{Device, Distribution, Int, Tensor};
use dl_core::{Error, Result};
use serde::{Deserialize, Serialize};

/// What is drawn for each sample the discriminator sees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Augment {
    /// Largest move along the width (time, for a spectrogram), in columns:
    /// each sample moves by a whole number in `[-shift, shift]`, zeros
    /// coming in at the edge.
    pub shift: usize,
    /// Side of the zeroed rectangle as a fraction of the height and of the
    /// width (0 = none), placed at random wholly inside the image.
    pub cutout: f32,
}

/// One draw of [`Augment`] for a batch: per sample `[B, 1]`, the move and
/// the rectangle's top and left corner.
#[derive(Debug, Clone)]
pub struct Draw {
    /// Move along the width, in `[-shift, shift]`.
    pub shift: Tensor<2, Int>,
    /// First zeroed row.
    pub top: Tensor<2, Int>,
    /// First zeroed column.
    pub left: Tensor<2, Int>,
}

impl Augment {
    /// Checks the fields against the images' `[C, H, W]`.
    pub fn validate(&self, shape: [usize; 3]) -> Result<()> {
        let c = "GanTrainConfig";
        let [_, h, w] = shape;
        if self.shift >= w {
            return Err(Error::config(c, "augment.shift", format!("must be below the width {w}, got {}", self.shift)));
        }
        if !(0.0..1.0).contains(&self.cutout) {
            return Err(Error::config(c, "augment.cutout", format!("must be in [0, 1), got {}", self.cutout)));
        }
        if self.shift == 0 && self.cutout == 0.0 {
            return Err(Error::config(
                c,
                "augment",
                "moves nothing and cuts nothing: set shift or cutout, or no augment",
            ));
        }
        if h == 0 || w == 0 {
            return Err(Error::config(c, "image_shape", format!("{shape:?} has no pixel")));
        }
        Ok(())
    }

    /// Rows and columns of the zeroed rectangle (0 without one).
    fn sides(&self, [_, h, w]: [usize; 3]) -> (usize, usize) {
        if self.cutout == 0.0 {
            return (0, 0);
        }
        let side = |n: usize| ((self.cutout * n as f32).round() as usize).clamp(1, n);
        (side(h), side(w))
    }

    /// Draws the moves and rectangles of `b` samples on `device` (its seeded generator).
    pub fn draw(&self, b: usize, shape: [usize; 3], device: &Device) -> Draw {
        let [_, h, w] = shape;
        let (sh, sw) = self.sides(shape);
        // A whole number uniform in [lo, hi].
        let uniform = |lo: i64, hi: i64| {
            Tensor::<2>::random([b, 1], Distribution::Uniform(lo as f64, (hi + 1) as f64), device)
                .floor()
                .int()
                .clamp(lo, hi)
        };
        let s = self.shift as i64;
        Draw { shift: uniform(-s, s), top: uniform(0, (h - sh) as i64), left: uniform(0, (w - sw) as i64) }
    }

    /// `x` `[B, C*H*W]` moved and cut as `draw` says; differentiable in `x`.
    pub fn apply(&self, x: Tensor<2>, shape: [usize; 3], draw: &Draw) -> Tensor<2> {
        let [b, dim] = x.dims();
        let [c, h, w] = shape;
        let device = x.device();
        let columns = |n: usize| Tensor::<1, Int>::arange(0..n as i64, &device).reshape([1, n]).repeat_dim(0, b);
        // [B, W]: the column each output column reads, and whether it lies inside.
        let from = columns(w) - draw.shift.clone().repeat_dim(1, w);
        let inside = from.clone().greater_equal_elem(0).bool_and(from.clone().lower_elem(w as i64)).float();
        let from = from.clamp(0, w as i64 - 1).reshape([b, 1, w]).repeat_dim(1, c * h);
        // [B, C*H, W] -> moved, zeros coming in.
        let mut out = x.reshape([b, c * h, w]).gather(2, from) * inside.reshape([b, 1, w]).repeat_dim(1, c * h);
        let (sh, sw) = self.sides(shape);
        if sh > 0 {
            let within = |n: usize, start: &Tensor<2, Int>, side: usize| {
                let i = columns(n);
                let start = start.clone().repeat_dim(1, n);
                i.clone().greater_equal(start.clone()).bool_and(i.lower(start + side as i64))
            };
            // [B, H, W]: the rectangle, zeroed in every channel.
            let hole = within(h, &draw.top, sh)
                .reshape([b, h, 1])
                .repeat_dim(2, w)
                .bool_and(within(w, &draw.left, sw).reshape([b, 1, w]).repeat_dim(1, h));
            let keep = hole.float().neg().add_scalar(1.0).reshape([b, 1, h, w]).repeat_dim(1, c);
            out = (out.reshape([b, c, h, w]) * keep).reshape([b, c * h, w]);
        }
        out.reshape([b, dim])
    }
}

impl Draw {
    /// The draws of samples `rows`, on `device`.
    pub fn rows(&self, rows: &Range<usize>, device: &Device) -> Draw {
        let part = |t: &Tensor<2, Int>| t.clone().narrow(0, rows.start, rows.len()).to_device(device);
        Draw { shift: part(&self.shift), top: part(&self.top), left: part(&self.left) }
    }
}
