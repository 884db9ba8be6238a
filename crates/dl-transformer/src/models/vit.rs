//! Vision Transformer (Dosovitskiy et al. 2021): the image is cut into
//! patches, each patch becomes a token (a strided convolution is the patch
//! projection), a learned `[CLS]` token and learned positions are added, a
//! pre-norm encoder mixes the tokens, and the `[CLS]` state is classified.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Dropout, DropoutConfig, Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::{Device, Distribution, Tensor};

use crate::ffn::Activation;
use crate::layer::{EncoderLayer, TransformerLayerConfig};
use dl_core::config::check;
use dl_core::data::image::ImageBatch;
use dl_core::{Error, ModelConfig, StepOutput, Supervised};

/// Hyper-parameters of [`Vit`].
#[derive(Config, Debug)]
pub struct VitConfig {
    /// Image channels.
    pub channels: usize,
    /// Image height and width (square images).
    pub image_size: usize,
    /// Patch side; must divide `image_size`.
    pub patch_size: usize,
    /// Classes.
    pub num_classes: usize,
    /// Model width.
    #[config(default = 64)]
    pub d_model: usize,
    /// Encoder layers.
    #[config(default = 4)]
    pub layers: usize,
    /// Attention heads.
    #[config(default = 4)]
    pub heads: usize,
    /// Feed-forward width.
    #[config(default = 128)]
    pub d_ff: usize,
    /// Dropout (training only).
    #[config(default = 0.0)]
    pub dropout: f64,
}

impl VitConfig {
    /// Patches per image.
    pub fn patches(&self) -> usize {
        let side = self.image_size / self.patch_size.max(1);
        side * side
    }

    fn layer(&self) -> TransformerLayerConfig {
        TransformerLayerConfig::new(self.d_model, self.heads, self.d_ff)
            .with_activation(Activation::Gelu)
            .with_norm_first(true)
            .with_dropout(self.dropout)
    }
}

impl ModelConfig for VitConfig {
    type Model = Vit;

    fn validate(&self) -> dl_core::Result<()> {
        check::positive("VitConfig", "channels", self.channels)?;
        check::positive("VitConfig", "patch_size", self.patch_size)?;
        check::positive("VitConfig", "num_classes", self.num_classes)?;
        check::positive("VitConfig", "layers", self.layers)?;
        if self.image_size == 0 || !self.image_size.is_multiple_of(self.patch_size) {
            return Err(Error::config(
                "VitConfig",
                "patch_size",
                format!("{} does not divide the image size {}", self.patch_size, self.image_size),
            ));
        }
        self.layer().validate()
    }

    fn build(&self, device: &Device) -> Vit {
        let d = self.d_model;
        let p = self.patch_size;
        let init = Distribution::Normal(0.0, 0.02);
        Vit {
            patch: Conv2dConfig::new([self.channels, d], [p, p]).with_stride([p, p]).init(device),
            cls: Param::from_tensor(Tensor::random([1, 1, d], init, device)),
            positions: Param::from_tensor(Tensor::random([1, self.patches() + 1, d], init, device)),
            dropout: DropoutConfig::new(self.dropout).init(),
            layers: (0..self.layers).map(|_| self.layer().build(device)).collect(),
            norm: LayerNormConfig::new(d).init(device),
            head: LinearConfig::new(d, self.num_classes)
                .with_initializer(Initializer::Normal { mean: 0.0, std: 0.02 })
                .init(device),
            shape: [self.channels, self.image_size],
        }
    }
}

/// A Vision Transformer classifier.
#[derive(Module, Debug)]
pub struct Vit {
    /// Patch projection (a convolution with stride = kernel = patch size).
    pub patch: Conv2d,
    /// The learned `[CLS]` token `[1, 1, d]`.
    pub cls: Param<Tensor<3>>,
    /// Learned positions `[1, patches + 1, d]`.
    pub positions: Param<Tensor<3>>,
    dropout: Dropout,
    /// Pre-norm encoder layers.
    pub layers: Vec<EncoderLayer>,
    /// Final norm.
    pub norm: LayerNorm,
    /// Classifier on the `[CLS]` state.
    pub head: Linear,
    #[module(skip)]
    shape: [usize; 2],
}

impl Vit {
    /// Class logits `[B, classes]` and each layer's attention weights.
    pub fn forward_with_attention(&self, images: Tensor<4>) -> dl_core::Result<(Tensor<2>, Vec<Tensor<4>>)> {
        let [b, c, h, w] = images.dims();
        let [ch, side] = self.shape;
        if c != ch || h != side || w != side {
            return Err(Error::shape("Vit input", format!("[B, {ch}, {side}, {side}]"), format!("{:?}", [b, c, h, w])));
        }
        let x = self.patch.forward(images); // [B, d, H/p, W/p]
        let [_, d, ph, pw] = x.dims();
        let tokens = x.reshape([b, d, ph * pw]).swap_dims(1, 2); // [B, N, d]
        let cls = self.cls.val().repeat_dim(0, b);
        let mut x = Tensor::cat(vec![cls, tokens], 1) + self.positions.val().repeat_dim(0, b);
        x = self.dropout.forward(x);
        let mut attentions = Vec::with_capacity(self.layers.len());
        for layer in &self.layers {
            let (y, a) = layer.forward(x, None)?;
            x = y;
            attentions.push(a);
        }
        let x = self.norm.forward(x);
        let cls = x.slice([0..b, 0..1, 0..d]).reshape([b, d]);
        Ok((self.head.forward(cls), attentions))
    }

    /// Class logits `[B, classes]`.
    pub fn forward(&self, images: Tensor<4>) -> dl_core::Result<Tensor<2>> {
        Ok(self.forward_with_attention(images)?.0)
    }
}

impl Supervised<ImageBatch> for Vit {
    fn step(&self, batch: &ImageBatch) -> dl_core::Result<StepOutput> {
        Ok(StepOutput::classification(self.forward(batch.images.clone())?, batch.targets.clone()))
    }
}
