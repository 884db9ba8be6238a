//! VGG-style networks (Simonyan & Zisserman 2014) built from a list of blocks.
//!
//! Each block is `convs` 3x3 convolutions (padding 1, so they keep the size),
//! each followed by optional batch norm and ReLU, then a pooling step. Stacks
//! of small kernels see as far as one big kernel with fewer parameters and
//! more non-linearities; pooling halves the maps so that deeper blocks see
//! larger regions. A fully connected head classifies the flattened features.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::{Device, Tensor};
use dl_kernels::relu;
use serde::{Deserialize, Serialize};

use super::{ImageClassifier, image_supervised};
use crate::pool::PoolKind;
use dl_core::config::check;
use dl_core::{Error, ModelConfig};

/// One VGG block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VggBlock {
    /// Output channels of every conv in the block.
    pub channels: usize,
    /// Number of 3x3 convolutions.
    pub convs: usize,
    /// Pooling after the block.
    pub pool: PoolKind,
}

/// VGG-style network hyper-parameters.
#[derive(Config, Debug, PartialEq)]
pub struct VggConfig {
    /// Input channels.
    pub in_channels: usize,
    /// Input height and width.
    pub input_size: [usize; 2],
    /// The conv blocks, in order.
    pub blocks: Vec<VggBlock>,
    /// Number of classes.
    pub num_classes: usize,
    /// Hidden sizes of the fully connected head (the last one is the embedding size).
    #[config(default = "vec![128]")]
    pub hidden: Vec<usize>,
    /// Batch norm after each convolution.
    #[config(default = true)]
    pub batch_norm: bool,
    /// Dropout before each linear layer of the head.
    #[config(default = 0.0)]
    pub dropout: f64,
    /// Pooling applied after the last block, before flattening (e.g. `GlobalAvg`).
    #[config(default = "PoolKind::Identity")]
    pub head_pool: PoolKind,
}

/// A conv + (batch norm) + relu unit.
#[derive(Module, Debug)]
pub struct ConvUnit {
    /// 3x3 convolution, padding 1.
    pub conv: Conv2d,
    /// Optional batch norm.
    pub bn: Option<BatchNorm>,
}

impl ConvUnit {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = dl_kernels::conv2d(&self.conv, x);
        relu(match &self.bn {
            Some(bn) => dl_kernels::batch_norm_2d(bn, x),
            None => x,
        })
    }
}

/// A VGG-style classifier.
#[derive(Module, Debug)]
pub struct Vgg {
    /// Conv units, block after block.
    pub units: Vec<ConvUnit>,
    /// Hidden layers of the head.
    pub hidden: Vec<Linear>,
    /// Final classifier.
    pub classifier: Linear,
    /// Dropout in the head.
    pub dropout: Dropout,
    #[module(skip)]
    pools: Vec<(usize, PoolKind)>,
    #[module(skip)]
    head_pool: PoolKind,
    #[module(skip)]
    input: [usize; 3],
}

impl VggConfig {
    /// A small LeNet-style net for 8x8 digits: two conv blocks (32, 64 channels,
    /// each halving the image), a 128-unit head and dropout 0.3.
    pub fn digits8x8() -> Self {
        VggConfig::new(
            1,
            [8, 8],
            vec![
                VggBlock { channels: 32, convs: 1, pool: PoolKind::MAX2 },
                VggBlock { channels: 64, convs: 1, pool: PoolKind::MAX2 },
            ],
            10,
        )
        .with_hidden(vec![128])
        .with_dropout(0.3)
    }

    /// Spatial size after all blocks and the head pool, or `None` if an input is too small.
    pub fn feature_size(&self) -> Option<[usize; 2]> {
        let mut s = self.input_size;
        for b in &self.blocks {
            s = b.pool.output_size(s)?;
        }
        self.head_pool.output_size(s).filter(|s| !s.contains(&0))
    }

    fn flat_features(&self) -> usize {
        let [h, w] = self.feature_size().unwrap_or([1, 1]);
        self.blocks.last().map_or(self.in_channels, |b| b.channels) * h * w
    }
}

impl ModelConfig for VggConfig {
    type Model = Vgg;

    fn validate(&self) -> dl_core::Result<()> {
        const C: &str = "VggConfig";
        check::positive(C, "in_channels", self.in_channels)?;
        check::positive(C, "num_classes", self.num_classes)?;
        check::non_empty(C, "blocks", &self.blocks)?;
        check::probability(C, "dropout", self.dropout)?;
        for (i, b) in self.blocks.iter().enumerate() {
            check::positive(C, &format!("blocks[{i}].channels"), b.channels)?;
            check::positive(C, &format!("blocks[{i}].convs"), b.convs)?;
            b.pool.validate(C, &format!("blocks[{i}].pool"))?;
        }
        for (i, &h) in self.hidden.iter().enumerate() {
            check::positive(C, &format!("hidden[{i}]"), h)?;
        }
        self.head_pool.validate(C, "head_pool")?;
        if self.feature_size().is_none() {
            return Err(Error::config(
                C,
                "input_size",
                format!("{:?} is too small for {} pooling steps", self.input_size, self.blocks.len()),
            ));
        }
        Ok(())
    }

    fn build(&self, device: &Device) -> Vgg {
        let mut units = Vec::new();
        let mut pools = Vec::new();
        let mut c_in = self.in_channels;
        for b in &self.blocks {
            for _ in 0..b.convs {
                units.push(ConvUnit {
                    conv: Conv2dConfig::new([c_in, b.channels], [3, 3])
                        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                        .with_bias(!self.batch_norm)
                        .init(device),
                    bn: self.batch_norm.then(|| BatchNormConfig::new(b.channels).init(device)),
                });
                c_in = b.channels;
            }
            pools.push((units.len() - 1, b.pool));
        }
        let mut hidden = Vec::new();
        let mut d = self.flat_features();
        for &h in &self.hidden {
            hidden.push(LinearConfig::new(d, h).init(device));
            d = h;
        }
        Vgg {
            units,
            hidden,
            classifier: LinearConfig::new(d, self.num_classes).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            pools,
            head_pool: self.head_pool,
            input: [self.in_channels, self.input_size[0], self.input_size[1]],
        }
    }
}

impl Vgg {
    /// Whether conv unit `i` (counted over all blocks) ends a block, hence is followed by its pool.
    pub fn ends_block(&self, i: usize) -> bool {
        self.pools.iter().any(|(after, _)| *after == i)
    }

    /// The conv/pool stack's output feature maps `[B, C, h, w]` (before the head pool).
    pub fn feature_maps(&self, images: Tensor<4>) -> Tensor<4> {
        let mut x = images;
        for (i, unit) in self.units.iter().enumerate() {
            x = unit.forward(x);
            for (after, pool) in &self.pools {
                if *after == i {
                    x = pool.forward(x);
                }
            }
        }
        x
    }
}

impl ImageClassifier for Vgg {
    fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.classifier.forward(self.dropout.forward(self.embed(images)))
    }

    fn embed(&self, images: Tensor<4>) -> Tensor<2> {
        let mut x: Tensor<2> = self.head_pool.forward(self.feature_maps(images)).flatten(1, 3);
        for layer in &self.hidden {
            x = relu(layer.forward(self.dropout.forward(x)));
        }
        x
    }

    fn input_shape(&self) -> [usize; 3] {
        self.input
    }
}

image_supervised!(Vgg);
