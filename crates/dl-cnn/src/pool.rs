//! Pooling variants selectable in every CNN config.
//!
//! Pooling is the "compression" step of a conv/pool stack: it keeps the
//! strongest (max) or the average response of each neighbourhood, which
//! shrinks the feature maps and makes the features tolerant to small shifts.
//! Global pooling collapses a whole map to one value per channel, which lets
//! a network accept inputs of any size (used by ResNet's head and the
//! spectrogram CNN).

use burn::nn::PaddingConfig2d;
use burn::nn::pool::AvgPool2dConfig;
use burn::tensor::Tensor;
use burn::tensor::module::adaptive_avg_pool2d;
use serde::{Deserialize, Serialize};

use dl_core::{Error, Result};

/// A pooling operation over `[B, C, H, W]` feature maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PoolKind {
    /// No pooling.
    Identity,
    /// Max over `size x size` windows moved by `stride`.
    Max {
        /// Window side.
        size: usize,
        /// Step between windows.
        stride: usize,
    },
    /// Average over `size x size` windows moved by `stride`.
    Avg {
        /// Window side.
        size: usize,
        /// Step between windows.
        stride: usize,
    },
    /// Average pooling to a fixed `[h, w]` output whatever the input size.
    AdaptiveAvg {
        /// Output height and width.
        output: [usize; 2],
    },
    /// Average of each whole map: `[B, C, 1, 1]`.
    GlobalAvg,
    /// Maximum of each whole map: `[B, C, 1, 1]`.
    GlobalMax,
}

impl PoolKind {
    /// 2x2 max pooling with stride 2, the classic choice.
    pub const MAX2: PoolKind = PoolKind::Max { size: 2, stride: 2 };
    /// 2x2 average pooling with stride 2 (LeNet's original subsampling).
    pub const AVG2: PoolKind = PoolKind::Avg { size: 2, stride: 2 };

    /// Checks the window parameters.
    pub fn validate(&self, config: &'static str, field: &str) -> Result<()> {
        match self {
            PoolKind::Max { size, stride } | PoolKind::Avg { size, stride } if *size == 0 || *stride == 0 => {
                Err(Error::config(config, field, "pool size and stride must be at least 1"))
            }
            PoolKind::AdaptiveAvg { output } if output.contains(&0) => {
                Err(Error::config(config, field, "adaptive pool output must be at least 1x1"))
            }
            _ => Ok(()),
        }
    }

    /// Output spatial size for an input of `[h, w]`, or `None` if the input is too small.
    pub fn output_size(&self, [h, w]: [usize; 2]) -> Option<[usize; 2]> {
        match *self {
            PoolKind::Identity => Some([h, w]),
            PoolKind::Max { size, stride } | PoolKind::Avg { size, stride } => {
                if h < size || w < size {
                    return None;
                }
                Some([(h - size) / stride + 1, (w - size) / stride + 1])
            }
            PoolKind::AdaptiveAvg { output } => (h > 0 && w > 0).then_some(output),
            PoolKind::GlobalAvg | PoolKind::GlobalMax => (h > 0 && w > 0).then_some([1, 1]),
        }
    }

    /// Applies the pooling.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match *self {
            PoolKind::Identity => x,
            PoolKind::Max { size, stride } => dl_kernels::max_pool2d(x, [size, size], [stride, stride]),
            PoolKind::Avg { size, stride } => AvgPool2dConfig::new([size, size])
                .with_strides([stride, stride])
                .with_padding(PaddingConfig2d::Valid)
                .init()
                .forward(x),
            PoolKind::AdaptiveAvg { output } => adaptive_avg_pool2d(x, output),
            PoolKind::GlobalAvg => {
                let [b, c, h, w] = x.dims();
                x.reshape([b, c, h * w]).mean_dim(2).reshape([b, c, 1, 1])
            }
            PoolKind::GlobalMax => {
                let [b, c, h, w] = x.dims();
                x.reshape([b, c, h * w]).max_dim(2).reshape([b, c, 1, 1])
            }
        }
    }
}
