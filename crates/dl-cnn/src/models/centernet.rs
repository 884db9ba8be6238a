//! A single-stage, anchor-free detector in the style of CenterNet (Zhou et
//! al. 2019, "Objects as Points"): a small conv backbone at stride 4, then
//! three heads over its map: a heatmap per class whose peaks are object
//! centres (trained with the penalty-reduced focal loss against Gaussian
//! bumps), the box size, and the centre's offset inside its cell. Decoding
//! keeps the local maxima of the heatmap, then non-maximum suppression.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::tensor::activation::{log_sigmoid, sigmoid};
use burn::tensor::{Device, Tensor, TensorData};

use crate::detection::{BBox, Labelled, non_maximum_suppression};
use crate::scenes::{DigitScene, DigitSceneConfig};
use dl_core::config::check;
use dl_core::data::idx::ImageSet;
use dl_core::task::{Batcher, StepOutput, Supervised, Targets, to_f32};
use dl_core::{Error, ModelConfig};

/// Output stride of the backbone: one heatmap cell per 4x4 pixels.
pub const STRIDE: usize = 4;

/// Weight of the size loss (CenterNet's 0.1; the offset's is 1).
const SIZE_WEIGHT: f64 = 0.1;

/// Detector hyper-parameters.
#[derive(Config, Debug, PartialEq)]
pub struct CenterNetConfig {
    /// Side of the square input image (a multiple of 4).
    pub input_size: usize,
    /// Object classes.
    #[config(default = 10)]
    pub classes: usize,
    /// Output channels of the 3x3 conv stages; the first two halve the image.
    #[config(default = "vec![16, 32, 48, 48]")]
    pub channels: Vec<usize>,
    /// Channels of the 3x3 conv shared by the heads.
    #[config(default = 48)]
    pub head_channels: usize,
}

/// Conv 3x3 + batch norm + ReLU, with optional 2x2 max pooling.
#[derive(Module, Debug)]
pub struct Stage {
    conv: Conv2d,
    bn: BatchNorm,
    #[module(skip)]
    pool: bool,
}

impl Stage {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        // [N, C, H, W] -> [N, C', H, W] (-> [N, C', H / 2, W / 2])
        let x = dl_kernels::relu(dl_kernels::batch_norm_2d(&self.bn, dl_kernels::conv2d(&self.conv, x)));
        if self.pool { dl_kernels::max_pool2d(x, [2, 2], [2, 2]) } else { x }
    }
}

/// The detector.
#[derive(Module, Debug)]
pub struct CenterNet {
    stages: Vec<Stage>,
    head: Conv2d,
    heat: Conv2d,
    size: Conv2d,
    offset: Conv2d,
    #[module(skip)]
    input_size: usize,
}

/// The three head outputs over the `[H / 4, W / 4]` map.
#[derive(Debug, Clone)]
pub struct CenterNetOutput {
    /// Centre logits per class `[N, classes, h, w]`.
    pub heat: Tensor<4>,
    /// Box width and height in cells `[N, 2, h, w]`.
    pub size: Tensor<4>,
    /// Centre offset inside its cell `[N, 2, h, w]` (x, y).
    pub offset: Tensor<4>,
}

impl ModelConfig for CenterNetConfig {
    type Model = CenterNet;

    fn validate(&self) -> dl_core::Result<()> {
        const C: &str = "CenterNetConfig";
        check::positive(C, "classes", self.classes)?;
        check::positive(C, "head_channels", self.head_channels)?;
        if self.channels.len() < 2 {
            return Err(Error::config(C, "channels", "needs at least the two stages that halve the image"));
        }
        for (i, &c) in self.channels.iter().enumerate() {
            check::positive(C, &format!("channels[{i}]"), c)?;
        }
        if self.input_size == 0 || !self.input_size.is_multiple_of(STRIDE) {
            return Err(Error::config(C, "input_size", format!("must be a positive multiple of {STRIDE}")));
        }
        Ok(())
    }

    fn build(&self, device: &Device) -> CenterNet {
        let conv = |i: usize, o: usize, k: usize| {
            let pad = if k == 1 { PaddingConfig2d::Valid } else { PaddingConfig2d::Same };
            Conv2dConfig::new([i, o], [k, k]).with_padding(pad).init(device)
        };
        let mut inputs = 1;
        let mut stages = Vec::with_capacity(self.channels.len());
        for (k, &c) in self.channels.iter().enumerate() {
            stages.push(Stage { conv: conv(inputs, c, 3), bn: BatchNormConfig::new(c).init(device), pool: k < 2 });
            inputs = c;
        }
        let mut heat = conv(self.head_channels, self.classes, 1);
        // Start every centre at probability 0.1 (CenterNet's prior), so the
        // focal loss of the many empty cells does not swamp the first steps.
        heat.bias = Some(Param::from_tensor(Tensor::full([self.classes], -(9.0f32.ln()), device)));
        CenterNet {
            stages,
            head: conv(inputs, self.head_channels, 3),
            heat,
            size: conv(self.head_channels, 2, 1),
            offset: conv(self.head_channels, 2, 1),
            input_size: self.input_size,
        }
    }
}

impl CenterNet {
    /// Head outputs for images `[N, 1, S, S]`.
    pub fn forward(&self, images: Tensor<4>) -> dl_core::Result<CenterNetOutput> {
        let s = self.input_size;
        if images.dims()[1..] != [1, s, s] {
            return Err(Error::shape("CenterNet input", format!("[N, 1, {s}, {s}]"), format!("{:?}", images.dims())));
        }
        // [N, 1, S, S] -> [N, C, S / 4, S / 4]
        let x = self.stages.iter().fold(images, |x, st| st.forward(x));
        // [N, head_channels, S / 4, S / 4]
        let x = dl_kernels::relu(dl_kernels::conv2d(&self.head, x));
        Ok(CenterNetOutput {
            heat: dl_kernels::conv2d(&self.heat, x.clone()),
            size: dl_kernels::conv2d(&self.size, x.clone()),
            offset: dl_kernels::conv2d(&self.offset, x),
        })
    }

    /// Detections per image: heatmap peaks (at least their 8 neighbours)
    /// scoring above `threshold`, the `top_k` best, then non-maximum
    /// suppression at IoU 0.5. Boxes are in input pixels.
    pub fn detect(&self, images: Tensor<4>, threshold: f32, top_k: usize) -> dl_core::Result<Vec<Vec<Labelled>>> {
        let out = self.forward(images)?;
        let [n, classes, h, w] = out.heat.dims();
        let heat = to_f32(sigmoid(out.heat))?;
        let (size, offset) = (to_f32(out.size)?, to_f32(out.offset)?);
        let cell = h * w;
        let mut all = Vec::with_capacity(n);
        for i in 0..n {
            let mut found = Vec::new();
            for c in 0..classes {
                let map = &heat[(i * classes + c) * cell..(i * classes + c + 1) * cell];
                for y in 0..h {
                    for x in 0..w {
                        let p = map[y * w + x];
                        if p <= threshold || !is_peak(map, w, h, x, y) {
                            continue;
                        }
                        let at = |t: &[f32], k: usize| t[(i * 2 + k) * cell + y * w + x];
                        let (cx, cy) =
                            ((x as f32 + at(&offset, 0)) * STRIDE as f32, (y as f32 + at(&offset, 1)) * STRIDE as f32);
                        let (bw, bh) = (at(&size, 0).max(0.0) * STRIDE as f32, at(&size, 1).max(0.0) * STRIDE as f32);
                        let bbox = BBox { x0: cx - bw / 2.0, y0: cy - bh / 2.0, x1: cx + bw / 2.0, y1: cy + bh / 2.0 };
                        found.push(Labelled { class: c, bbox, score: p });
                    }
                }
            }
            found.sort_by(|a, b| b.score.total_cmp(&a.score));
            found.truncate(top_k);
            all.push(non_maximum_suppression(found, 0.5));
        }
        Ok(all)
    }
}

/// Whether cell (x, y) is at least each of its (up to 8) neighbours.
fn is_peak(map: &[f32], w: usize, h: usize, x: usize, y: usize) -> bool {
    let p = map[y * w + x];
    (y.saturating_sub(1)..(y + 2).min(h))
        .all(|yy| (x.saturating_sub(1)..(x + 2).min(w)).all(|xx| map[yy * w + xx] <= p))
}

/// Images of detection scenes with the detector's training targets.
#[derive(Debug, Clone)]
pub struct SceneBatch {
    /// `[N, 1, S, S]`, 0 to 1.
    pub images: Tensor<4>,
    /// Gaussian bumps at each object's centre cell, 1 at the centre `[N, classes, h, w]`.
    pub heat: Tensor<4>,
    /// Box width and height in cells at the centre cells `[N, 2, h, w]`.
    pub size: Tensor<4>,
    /// Centre offsets inside the centre cells `[N, 2, h, w]`.
    pub offset: Tensor<4>,
    /// 1 at the centre cells `[N, 1, h, w]`.
    pub centres: Tensor<4>,
    /// Objects at the centre cells.
    pub objects: usize,
    /// The true boxes of each image, in pixels.
    pub truths: Vec<Vec<Labelled>>,
}

/// Draws planned scenes into a [`SceneBatch`] for a detector of `classes` classes.
#[derive(Debug, Clone, Copy)]
pub struct SceneBatcher<'a> {
    /// The layout the scenes were planned with.
    pub layout: &'a DigitSceneConfig,
    /// The images the plans index.
    pub images: &'a ImageSet,
    /// Classes of the detector.
    pub classes: usize,
}

impl Batcher<DigitScene, SceneBatch> for SceneBatcher<'_> {
    fn batch(&self, items: &[&DigitScene], device: &Device) -> dl_core::Result<SceneBatch> {
        let s = self.layout.size;
        if !s.is_multiple_of(STRIDE) {
            return Err(Error::config("DigitSceneConfig", "size", format!("must be a multiple of {STRIDE}")));
        }
        let (n, k, m) = (items.len(), self.classes, s / STRIDE);
        let cell = m * m;
        let (mut pixels, mut heat) = (Vec::with_capacity(n * s * s), vec![0f32; n * k * cell]);
        let (mut size, mut offset, mut centres) =
            (vec![0f32; n * 2 * cell], vec![0f32; n * 2 * cell], vec![0f32; n * cell]);
        let mut truths = Vec::with_capacity(n);
        let mut objects = 0;
        for (i, scene) in items.iter().enumerate() {
            pixels.extend(self.layout.render(scene, self.images)?);
            let mut boxes = Vec::with_capacity(scene.boxes.len());
            for (b, &class) in scene.boxes.iter().zip(&scene.labels) {
                if class >= k {
                    return Err(Error::out_of_range("scene label", class, format!("below the {k} classes")));
                }
                boxes.push(Labelled { class, bbox: *b, score: 1.0 });
                // The centre in cells, its cell, and a bump as wide as a sixth of the box.
                let (cx, cy) = ((b.x0 + b.x1) / 2.0 / STRIDE as f32, (b.y0 + b.y1) / 2.0 / STRIDE as f32);
                let (gx, gy) = ((cx as usize).min(m - 1), (cy as usize).min(m - 1));
                let (bw, bh) = ((b.x1 - b.x0) / STRIDE as f32, (b.y1 - b.y0) / STRIDE as f32);
                let sigma = (bw.max(bh) / 6.0).max(0.5);
                let map = &mut heat[(i * k + class) * cell..(i * k + class + 1) * cell];
                for y in 0..m {
                    for x in 0..m {
                        let d2 = (x as f32 - gx as f32).powi(2) + (y as f32 - gy as f32).powi(2);
                        let v = (-d2 / (2.0 * sigma * sigma)).exp();
                        map[y * m + x] = map[y * m + x].max(v);
                    }
                }
                let c = gy * m + gx;
                if centres[i * cell + c] == 0.0 {
                    objects += 1;
                }
                centres[i * cell + c] = 1.0;
                size[i * 2 * cell + c] = bw;
                size[(i * 2 + 1) * cell + c] = bh;
                offset[i * 2 * cell + c] = cx - gx as f32;
                offset[(i * 2 + 1) * cell + c] = cy - gy as f32;
            }
            truths.push(boxes);
        }
        let t = |v: Vec<f32>, c: usize| Tensor::<4>::from_data(TensorData::new(v, [n, c, m, m]), device);
        Ok(SceneBatch {
            images: Tensor::from_data(TensorData::new(pixels, [n, 1, s, s]), device),
            heat: t(heat, k),
            size: t(size, 2),
            offset: t(offset, 2),
            centres: t(centres, 1),
            objects,
            truths,
        })
    }
}

impl CenterNet {
    /// CenterNet's loss: the penalty-reduced focal loss of the heatmap (alpha
    /// 2, beta 4), plus the L1 losses of size (weight 0.1) and offset at the
    /// centre cells, each divided by the number of objects.
    pub fn loss(&self, out: &CenterNetOutput, batch: &SceneBatch) -> dl_core::Result<Tensor<1>> {
        if out.heat.dims() != batch.heat.dims() {
            return Err(Error::shape(
                "CenterNet targets",
                format!("{:?}", out.heat.dims()),
                format!("{:?}", batch.heat.dims()),
            ));
        }
        let objects = batch.objects.max(1) as f64;
        let p = sigmoid(out.heat.clone());
        // 1 where the target is exactly a centre, else 0.
        let pos = batch.heat.clone().equal_elem(1.0).float();
        let neg = pos.clone().neg().add_scalar(1.0);
        // -(1 - p)^2 log p at centres; -(1 - y)^4 p^2 log(1 - p) elsewhere
        let pos_loss = log_sigmoid(out.heat.clone()) * p.clone().neg().add_scalar(1.0).powi_scalar(2) * pos;
        let weight = batch.heat.clone().neg().add_scalar(1.0).powi_scalar(4);
        let neg_loss = log_sigmoid(out.heat.clone().neg()) * p.powi_scalar(2) * weight * neg;
        let focal = (pos_loss.sum() + neg_loss.sum()).neg().div_scalar(objects);
        let l1 = |pred: &Tensor<4>, target: &Tensor<4>| {
            ((pred.clone() - target.clone()).abs() * batch.centres.clone()).sum().div_scalar(objects)
        };
        Ok(focal + l1(&out.size, &batch.size).mul_scalar(SIZE_WEIGHT) + l1(&out.offset, &batch.offset))
    }
}

impl Supervised<SceneBatch> for CenterNet {
    fn step(&self, batch: &SceneBatch) -> dl_core::Result<StepOutput> {
        let out = self.forward(batch.images.clone())?;
        let loss = self.loss(&out, batch)?;
        let [n, c, h, w] = out.heat.dims();
        Ok(StepOutput { loss, output: out.heat.reshape([n, c * h * w]), targets: Targets::Unscored })
    }
}
