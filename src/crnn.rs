//! A convolutional recurrent network (CRNN, Shi et al. 2015) that reads a
//! line of digits: a CNN turns the image into one feature vector per column
//! strip, a bidirectional LSTM reads the strips left to right and right to
//! left, and a CTC loss ([`dl_seq::ctc`]) learns the labels without knowing
//! where each digit is. docs/lstm.md has the principle and results.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Tensor, TensorData};

use dl_cnn::scenes::{DigitString, DigitStringConfig};
use dl_core::config::check;
use dl_core::data::idx::ImageSet;
use dl_core::task::{Batcher, StepOutput, Supervised, Targets, to_f32};
use dl_core::{Error, ModelConfig};
use dl_lstm::{Lstm, LstmConfig, SequenceEncoder};
use dl_seq::ctc::{ctc_loss, decode_batch};

/// CRNN hyper-parameters.
#[derive(Config, Debug, PartialEq)]
pub struct CrnnConfig {
    /// Image height (width is free: one output step per 4 columns).
    pub height: usize,
    /// Labels, without the blank (10 digits).
    #[config(default = 10)]
    pub labels: usize,
    /// Output channels of the 3x3 convolutions; the first two halve height
    /// and width, the others halve the height only.
    #[config(default = "vec![16, 32, 64, 64]")]
    pub channels: Vec<usize>,
    /// LSTM width per direction.
    #[config(default = 96)]
    pub hidden: usize,
}

/// Conv 3x3 + batch norm + ReLU, then max pooling.
#[derive(Module, Debug)]
pub struct ConvStage {
    conv: Conv2d,
    bn: BatchNorm,
    #[module(skip)]
    pool: [usize; 2],
}

impl ConvStage {
    /// A stage from `inputs` to `outputs` channels (Same padding) pooling by `pool` (height, width).
    pub fn new(inputs: usize, outputs: usize, pool: [usize; 2], device: &Device) -> Self {
        ConvStage {
            conv: Conv2dConfig::new([inputs, outputs], [3, 3]).with_padding(PaddingConfig2d::Same).init(device),
            bn: BatchNormConfig::new(outputs).init(device),
            pool,
        }
    }

    /// `[N, C, H, W]` -> `[N, C', H / pool[0], W / pool[1]]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        // [N, C, H, W] -> [N, C', H, W] -> [N, C', H / ph, W / pw]
        let x = dl_kernels::relu(dl_kernels::batch_norm_2d(&self.bn, dl_kernels::conv2d(&self.conv, x)));
        dl_kernels::max_pool2d(x, self.pool, self.pool)
    }
}

/// The CRNN.
#[derive(Module, Debug)]
pub struct Crnn {
    stages: Vec<ConvStage>,
    lstm: Lstm,
    head: Linear,
    #[module(skip)]
    height: usize,
    #[module(skip)]
    blank: usize,
}

impl CrnnConfig {
    /// Pooling of stage `k`: 2x2 for the first two, 2x1 (height only) after.
    fn pool(k: usize) -> [usize; 2] {
        if k < 2 { [2, 2] } else { [2, 1] }
    }

    /// Feature map height after all stages (`None` if the image is too low).
    fn feature_height(&self) -> Option<usize> {
        (0..self.channels.len()).try_fold(self.height, |h, k| (h >= 2).then_some(h / Self::pool(k)[0]))
    }

    /// Output steps for an image `width` columns wide.
    pub fn steps(&self, width: usize) -> usize {
        (0..self.channels.len().min(2)).fold(width, |w, _| w / 2)
    }
}

impl ModelConfig for CrnnConfig {
    type Model = Crnn;

    fn validate(&self) -> dl_core::Result<()> {
        const C: &str = "CrnnConfig";
        check::positive(C, "height", self.height)?;
        check::positive(C, "labels", self.labels)?;
        check::positive(C, "hidden", self.hidden)?;
        check::non_empty(C, "channels", &self.channels)?;
        for (i, &c) in self.channels.iter().enumerate() {
            check::positive(C, &format!("channels[{i}]"), c)?;
        }
        if self.feature_height().is_none_or(|h| h == 0) {
            return Err(Error::config(
                C,
                "height",
                format!("{} is too low for {} halvings", self.height, self.channels.len()),
            ));
        }
        Ok(())
    }

    fn build(&self, device: &Device) -> Crnn {
        let mut stages = Vec::with_capacity(self.channels.len());
        let mut inputs = 1;
        for (k, &c) in self.channels.iter().enumerate() {
            stages.push(ConvStage::new(inputs, c, Self::pool(k), device));
            inputs = c;
        }
        let features = inputs * self.feature_height().unwrap_or(1);
        Crnn {
            stages,
            lstm: LstmConfig::new(features, self.hidden).with_bidirectional(true).build(device),
            head: LinearConfig::new(2 * self.hidden, self.labels + 1).init(device),
            height: self.height,
            blank: self.labels,
        }
    }
}

impl Crnn {
    /// Log-probabilities `[N, T, labels + 1]` (the blank last) of images `[N, 1, height, W]`.
    pub fn forward(&self, images: Tensor<4>) -> dl_core::Result<Tensor<3>> {
        let [_, channels, h, w] = images.dims();
        if channels != 1 || h != self.height || w < 4 {
            return Err(Error::shape(
                "Crnn input",
                format!("[N, 1, {}, W >= 4]", self.height),
                format!("{:?}", images.dims()),
            ));
        }
        // [N, 1, H, W] -> [N, C, H', T]
        let x = self.stages.iter().fold(images, |x, s| s.forward(x));
        let [n, c, fh, t] = x.dims();
        // [N, C, H', T] -> [N, T, C * H']: one feature vector per column strip
        let x = x.permute([0, 3, 1, 2]).reshape([n, t, c * fh]);
        // [N, T, 2 * hidden]
        let x = self.lstm.encode(x, None, None)?.output;
        // [N, T, labels + 1]
        Ok(log_softmax(self.head.forward(x), 2))
    }

    /// The blank's index (the last class).
    pub fn blank(&self) -> usize {
        self.blank
    }

    /// Reads each image with every beam of `beams` (1: best path, more:
    /// prefix beam search) from one forward pass: one list of readings per beam.
    pub fn read(&self, images: Tensor<4>, beams: &[usize]) -> dl_core::Result<Vec<Vec<Vec<usize>>>> {
        let lp = self.forward(images)?;
        let [_, t, classes] = lp.dims();
        let values = to_f32(lp)?;
        beams.iter().map(|&beam| decode_batch(&values, t, classes, self.blank, beam)).collect()
    }
}

/// Images `[N, 1, H, W]` of digit strings and their labels.
#[derive(Debug, Clone)]
pub struct StringBatch {
    /// The images, 0 (background) to 1 (ink).
    pub images: Tensor<4>,
    /// The digits of each image.
    pub labels: Vec<Vec<usize>>,
}

/// Draws planned digit strings from their image set into a [`StringBatch`].
#[derive(Debug, Clone, Copy)]
pub struct StringBatcher<'a> {
    /// The layout the strings were planned with.
    pub layout: &'a DigitStringConfig,
    /// The images the plans index.
    pub images: &'a ImageSet,
}

impl Batcher<DigitString, StringBatch> for StringBatcher<'_> {
    fn batch(&self, items: &[&DigitString], device: &Device) -> dl_core::Result<StringBatch> {
        let (h, w) = (self.layout.height, self.layout.width);
        let mut pixels = Vec::with_capacity(items.len() * h * w);
        for s in items {
            pixels.extend(self.layout.render(s, self.images)?);
        }
        Ok(StringBatch {
            images: Tensor::from_data(TensorData::new(pixels, [items.len(), 1, h, w]), device),
            labels: items.iter().map(|s| s.labels.clone()).collect(),
        })
    }
}

impl Supervised<StringBatch> for Crnn {
    fn step(&self, batch: &StringBatch) -> dl_core::Result<StepOutput> {
        let lp = self.forward(batch.images.clone())?;
        let [n, t, classes] = lp.dims();
        // CTC reads [T, N, classes].
        let loss = ctc_loss(lp.clone().swap_dims(0, 1), &batch.labels, &vec![t; n], self.blank)?;
        let read = decode_batch(&to_f32(lp.clone().detach())?, t, classes, self.blank, 1)?;
        Ok(StepOutput {
            loss,
            output: lp.reshape([n, t * classes]),
            targets: Targets::Sequences { read, truth: batch.labels.clone() },
        })
    }
}
