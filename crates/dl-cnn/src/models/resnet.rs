//! ResNet with basic blocks (He et al. 2015).
//!
//! Each block learns a residual `F(x)` added to its input: `relu(x + F(x))`.
//! The identity path lets gradients reach early layers unchanged, which is
//! what makes networks of tens of layers trainable. ResNet-18 is
//! `[2, 2, 2, 2]` blocks with widths `w, 2w, 4w, 8w`. The ImageNet stem
//! (7x7 stride 2 + 3x3 max pool) quarters the input at once; the small stem
//! (one 3x3 conv) keeps 28x28 inputs at full resolution.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::{Device, Tensor};
use dl_kernels::relu;
use serde::{Deserialize, Serialize};

use super::{ImageClassifier, image_supervised};
use crate::pool::PoolKind;
use dl_core::config::check;
use dl_core::{Error, ModelConfig};

/// The first layers, before the residual stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stem {
    /// 7x7 conv stride 2 + BN + relu + 3x3 max pool stride 2 (ImageNet, 224x224 inputs).
    ImageNet,
    /// 3x3 conv stride 1 + BN + relu (small inputs such as 28x28 or 32x32).
    Small,
}

/// ResNet hyper-parameters.
#[derive(Config, Debug, PartialEq)]
pub struct ResNetConfig {
    /// Input channels.
    pub in_channels: usize,
    /// Number of classes.
    pub num_classes: usize,
    /// Basic blocks per stage (`[2, 2, 2, 2]` = ResNet-18).
    #[config(default = "vec![2, 2, 2, 2]")]
    pub layers: Vec<usize>,
    /// Channels of the first stage; each later stage doubles them.
    #[config(default = 64)]
    pub base_width: usize,
    /// The stem.
    #[config(default = "Stem::ImageNet")]
    pub stem: Stem,
    /// Pooling before the classifier.
    #[config(default = "PoolKind::GlobalAvg")]
    pub head_pool: PoolKind,
    /// Input height and width (for shape checks and the retrieval/saliency tools).
    #[config(default = "[224, 224]")]
    pub input_size: [usize; 2],
}

impl ResNetConfig {
    /// ResNet-18 for ImageNet-sized inputs.
    pub fn resnet18(in_channels: usize, num_classes: usize) -> Self {
        Self::new(in_channels, num_classes)
    }

    /// ResNet-18 with the small stem, for 28x28 inputs, with `base_width` channels in stage 1.
    pub fn resnet18_small(in_channels: usize, num_classes: usize, base_width: usize) -> Self {
        Self::new(in_channels, num_classes).with_stem(Stem::Small).with_base_width(base_width).with_input_size([28, 28])
    }
}

/// Two 3x3 convolutions with a skip connection.
#[derive(Module, Debug)]
pub struct BasicBlock {
    /// First conv (carries the stride).
    pub conv1: Conv2d,
    /// Its batch norm.
    pub bn1: BatchNorm,
    /// Second conv.
    pub conv2: Conv2d,
    /// Its batch norm.
    pub bn2: BatchNorm,
    /// 1x1 projection of the skip path when the shape changes.
    pub downsample: Option<Downsample>,
}

/// 1x1 strided conv + BN on the skip path.
#[derive(Module, Debug)]
pub struct Downsample {
    /// Projection.
    pub conv: Conv2d,
    /// Its batch norm.
    pub bn: BatchNorm,
}

fn conv3(c_in: usize, c_out: usize, stride: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([c_in, c_out], [3, 3])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .with_bias(false)
        .init(device)
}

impl BasicBlock {
    fn new(c_in: usize, c_out: usize, stride: usize, device: &Device) -> Self {
        let downsample = (stride != 1 || c_in != c_out).then(|| Downsample {
            conv: Conv2dConfig::new([c_in, c_out], [1, 1]).with_stride([stride, stride]).with_bias(false).init(device),
            bn: BatchNormConfig::new(c_out).init(device),
        });
        Self {
            conv1: conv3(c_in, c_out, stride, device),
            bn1: BatchNormConfig::new(c_out).init(device),
            conv2: conv3(c_out, c_out, 1, device),
            bn2: BatchNormConfig::new(c_out).init(device),
            downsample,
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let identity = match &self.downsample {
            Some(d) => dl_kernels::batch_norm_2d(&d.bn, dl_kernels::conv2d(&d.conv, x.clone())),
            None => x.clone(),
        };
        let out = relu(dl_kernels::batch_norm_2d(&self.bn1, dl_kernels::conv2d(&self.conv1, x)));
        let out = dl_kernels::batch_norm_2d(&self.bn2, dl_kernels::conv2d(&self.conv2, out));
        relu(out + identity)
    }
}

/// A ResNet classifier.
#[derive(Module, Debug)]
pub struct ResNet {
    /// Stem convolution.
    pub stem_conv: Conv2d,
    /// Stem batch norm.
    pub stem_bn: BatchNorm,
    /// Stem max pool (ImageNet stem only).
    pub stem_pool: Option<MaxPool2d>,
    /// All residual blocks, stage after stage.
    pub blocks: Vec<BasicBlock>,
    /// Classifier.
    pub fc: Linear,
    #[module(skip)]
    head_pool: PoolKind,
    #[module(skip)]
    input: [usize; 3],
}

impl ModelConfig for ResNetConfig {
    type Model = ResNet;

    fn validate(&self) -> dl_core::Result<()> {
        const C: &str = "ResNetConfig";
        check::positive(C, "in_channels", self.in_channels)?;
        check::positive(C, "num_classes", self.num_classes)?;
        check::positive(C, "base_width", self.base_width)?;
        check::non_empty(C, "layers", &self.layers)?;
        for (i, &n) in self.layers.iter().enumerate() {
            check::positive(C, &format!("layers[{i}]"), n)?;
        }
        self.head_pool.validate(C, "head_pool")?;
        if !matches!(self.head_pool, PoolKind::GlobalAvg | PoolKind::GlobalMax) {
            return Err(Error::config(
                C,
                "head_pool",
                "must be global_avg or global_max (the head takes one vector per image)",
            ));
        }
        if self.input_size.contains(&0) {
            return Err(Error::config(C, "input_size", "must be at least 1x1"));
        }
        // 3x3 convolutions dominate: two per block, channels doubling per stage.
        let w = self.base_width as f64;
        let mut params = 49.0 * self.in_channels as f64 * w;
        let mut c_in = w;
        for (stage, &n) in self.layers.iter().enumerate() {
            let c_out = w * 2f64.powi(stage as i32);
            params += 9.0 * (c_in * c_out + c_out * c_out) + (n as f64 - 1.0) * 18.0 * c_out * c_out + c_in * c_out;
            c_in = c_out;
        }
        check::fits_in_memory(C, "base_width, layers", params + c_in * self.num_classes as f64)
    }

    fn build(&self, device: &Device) -> ResNet {
        let w = self.base_width;
        let (stem_conv, stem_pool) = match self.stem {
            Stem::ImageNet => (
                Conv2dConfig::new([self.in_channels, w], [7, 7])
                    .with_stride([2, 2])
                    .with_padding(PaddingConfig2d::Explicit(3, 3, 3, 3))
                    .with_bias(false)
                    .init(device),
                Some(
                    MaxPool2dConfig::new([3, 3])
                        .with_strides([2, 2])
                        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                        .init(),
                ),
            ),
            Stem::Small => (conv3(self.in_channels, w, 1, device), None),
        };
        let mut blocks = Vec::new();
        let mut c_in = w;
        for (stage, &n) in self.layers.iter().enumerate() {
            let c_out = w << stage;
            for b in 0..n {
                let stride = if stage > 0 && b == 0 { 2 } else { 1 };
                blocks.push(BasicBlock::new(c_in, c_out, stride, device));
                c_in = c_out;
            }
        }
        ResNet {
            stem_conv,
            stem_bn: BatchNormConfig::new(w).init(device),
            stem_pool,
            blocks,
            fc: LinearConfig::new(c_in, self.num_classes).init(device),
            head_pool: self.head_pool,
            input: [self.in_channels, self.input_size[0], self.input_size[1]],
        }
    }
}

impl ImageClassifier for ResNet {
    fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.fc.forward(self.embed(images))
    }

    fn embed(&self, images: Tensor<4>) -> Tensor<2> {
        let mut x = relu(dl_kernels::batch_norm_2d(&self.stem_bn, dl_kernels::conv2d(&self.stem_conv, images)));
        if let Some(p) = &self.stem_pool {
            x = p.forward(x);
        }
        for b in &self.blocks {
            x = b.forward(x);
        }
        self.head_pool.forward(x).flatten(1, 3)
    }

    fn input_shape(&self) -> [usize; 3] {
        self.input
    }
}

image_supervised!(ResNet);
