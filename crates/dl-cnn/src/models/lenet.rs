//! LeNet-5 (LeCun et al. 1998), as in the benchmark workload and the `lenet5` parity kind.
//!
//! conv 1->6 5x5 (padding 2) - relu - pool 2 - conv 6->16 5x5 - relu - pool 2 -
//! flatten (C, H, W) - linear 400->120 - relu - 84 - relu - classes.
//! The original used average subsampling and tanh; ReLU + max pooling is
//! the modern default and what PyTorch's reference uses (`pool` selects).

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::{Device, Tensor};
use dl_kernels::relu;

use super::{ImageClassifier, image_supervised};
use crate::pool::PoolKind;
use dl_core::{Error, ModelConfig};

/// LeNet-5 hyper-parameters.
#[derive(Config, Debug, PartialEq)]
pub struct LeNet5Config {
    /// Input channels.
    #[config(default = 1)]
    pub in_channels: usize,
    /// Input height and width.
    #[config(default = "[28, 28]")]
    pub input_size: [usize; 2],
    /// Number of classes.
    #[config(default = 10)]
    pub num_classes: usize,
    /// Zero padding of the second convolution (0 in LeNet-5; 2 lets it run on 8x8 digits).
    #[config(default = 0)]
    pub c2_padding: usize,
    /// Subsampling after each convolution.
    #[config(default = "PoolKind::MAX2")]
    pub pool: PoolKind,
}

/// LeNet-5. Parameter names match the PyTorch reference (`c1`, `c2`, `f1`, `f2`, `f3`).
#[derive(Module, Debug)]
pub struct LeNet5 {
    /// First convolution, 6 maps.
    pub c1: Conv2d,
    /// Second convolution, 16 maps.
    pub c2: Conv2d,
    /// Fully connected, 120 units.
    pub f1: Linear,
    /// Fully connected, 84 units.
    pub f2: Linear,
    /// Classifier.
    pub f3: Linear,
    #[module(skip)]
    pool: PoolKind,
    #[module(skip)]
    input: [usize; 3],
}

impl LeNet5Config {
    /// Spatial size after the conv/pool stack, or `None` if the input is too small.
    pub fn feature_size(&self) -> Option<[usize; 2]> {
        let [h, w] = self.input_size;
        let a = self.pool.output_size([h, w])?; // c1 keeps the size (5x5, padding 2)
        let p = self.c2_padding;
        let c2 = [(a[0] + 2 * p).checked_sub(4)?, (a[1] + 2 * p).checked_sub(4)?];
        if c2.contains(&0) {
            return None;
        }
        self.pool.output_size(c2).filter(|s| !s.contains(&0))
    }
}

impl ModelConfig for LeNet5Config {
    type Model = LeNet5;

    fn validate(&self) -> dl_core::Result<()> {
        dl_core::config::check::positive("LeNet5Config", "in_channels", self.in_channels)?;
        dl_core::config::check::positive("LeNet5Config", "num_classes", self.num_classes)?;
        self.pool.validate("LeNet5Config", "pool")?;
        if self.feature_size().is_none() {
            return Err(Error::config(
                "LeNet5Config",
                "input_size",
                format!(
                    "{:?} is too small for two 5x5 convolutions with pooling (raise c2_padding or the size)",
                    self.input_size
                ),
            ));
        }
        Ok(())
    }

    fn build(&self, device: &Device) -> LeNet5 {
        let [fh, fw] = self.feature_size().unwrap_or([1, 1]);
        LeNet5 {
            c1: Conv2dConfig::new([self.in_channels, 6], [5, 5])
                .with_padding(PaddingConfig2d::Explicit(2, 2, 2, 2))
                .init(device),
            c2: Conv2dConfig::new([6, 16], [5, 5])
                .with_padding(PaddingConfig2d::Explicit(
                    self.c2_padding,
                    self.c2_padding,
                    self.c2_padding,
                    self.c2_padding,
                ))
                .init(device),
            f1: LinearConfig::new(16 * fh * fw, 120).init(device),
            f2: LinearConfig::new(120, 84).init(device),
            f3: LinearConfig::new(84, self.num_classes).init(device),
            pool: self.pool,
            input: [self.in_channels, self.input_size[0], self.input_size[1]],
        }
    }
}

impl ImageClassifier for LeNet5 {
    fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        dl_kernels::linear(&self.f3, self.embed(images))
    }

    fn embed(&self, images: Tensor<4>) -> Tensor<2> {
        let x = self.pool.forward(relu(dl_kernels::conv2d(&self.c1, images)));
        let x = self.pool.forward(relu(dl_kernels::conv2d(&self.c2, x)));
        let x: Tensor<2> = x.flatten(1, 3);
        relu(dl_kernels::linear(&self.f2, relu(dl_kernels::linear(&self.f1, x))))
    }

    fn input_shape(&self) -> [usize; 3] {
        self.input
    }
}

image_supervised!(LeNet5);
