//! Connected spoken-digit recognition with a CTC head on three encoders:
//! a BiLSTM, a Transformer encoder, and a CNN front end before a BiLSTM.
//! Each reads log-mel frames (stacked or pooled to one step per `stack`
//! frames) and emits per-step log-probabilities of 10 digits and a blank;
//! CTC ([`dl_seq::ctc`]) trains them without knowing where each word is.
//! docs/lstm.md has the principle and results.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::crnn::ConvStage;
use dl_cnn::audio::Spectrogram;
use dl_cnn::utterances::{Clip, Utterance, UtteranceConfig};
use dl_core::config::check;
use dl_core::data::sequence::check_lengths;
use dl_core::task::{Batcher, StepOutput, Supervised, Targets, to_f32};
use dl_core::{Error, ModelConfig};
use dl_lstm::{Lstm, LstmConfig, SequenceEncoder};
use dl_seq::ctc::{ctc_loss, decode_padded};
use dl_transformer::{TransformerEncoder, TransformerEncoderConfig};

/// Which encoder reads the frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpeechEncoderKind {
    /// Stacked frames into a bidirectional LSTM.
    BiLstm,
    /// Stacked frames into a pre-norm Transformer encoder with learned positions.
    Transformer,
    /// Two conv stages over (mel, time), pooling time by `stack`, into a bidirectional LSTM.
    CnnBiLstm,
}

/// Hyper-parameters of [`SpeechCtc`].
#[derive(Config, Debug, PartialEq)]
pub struct SpeechCtcConfig {
    /// Mel bands per frame.
    pub mels: usize,
    /// The encoder.
    pub encoder: SpeechEncoderKind,
    /// Labels, without the blank (10 digits).
    #[config(default = 10)]
    pub labels: usize,
    /// Frames per output step (stacked, or pooled by the CNN).
    #[config(default = 3)]
    pub stack: usize,
    /// LSTM width per direction, or the Transformer's model width.
    #[config(default = 128)]
    pub width: usize,
    /// LSTM or Transformer layers.
    #[config(default = 2)]
    pub layers: usize,
    /// Attention heads (Transformer).
    #[config(default = 4)]
    pub heads: usize,
    /// Output channels of the two conv stages (CNN + BiLSTM); the mel axis is halved by each.
    #[config(default = "vec![32, 32]")]
    pub channels: Vec<usize>,
    /// Dropout between the layers and before the head (training only).
    #[config(default = 0.1)]
    pub dropout: f64,
    /// Longest input in steps (the Transformer's learned positions).
    #[config(default = 1024)]
    pub max_steps: usize,
}

/// The encoder of a [`SpeechCtc`].
// One per model, built once: boxing the larger variant would only add an indirection.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum SpeechEncoder {
    /// A (bidirectional) LSTM stack.
    Lstm(Lstm),
    /// A Transformer encoder.
    Transformer(TransformerEncoder),
}

impl SpeechEncoder {
    fn encode(&self, x: Tensor<3>, steps: &[usize]) -> dl_core::Result<Tensor<3>> {
        Ok(match self {
            SpeechEncoder::Lstm(lstm) => lstm.encode(x, Some(steps), None)?.output,
            SpeechEncoder::Transformer(t) => t.encode(x, Some(steps), None)?.output,
        })
    }
}

/// An encoder with a CTC head over log-mel frames.
#[derive(Module, Debug)]
pub struct SpeechCtc {
    front: Vec<ConvStage>,
    encoder: SpeechEncoder,
    dropout: Dropout,
    head: Linear,
    #[module(skip)]
    mels: usize,
    #[module(skip)]
    stack: usize,
    #[module(skip)]
    blank: usize,
}

impl SpeechCtcConfig {
    /// Width of each step the encoder reads.
    fn step_width(&self) -> usize {
        match self.encoder {
            SpeechEncoderKind::CnnBiLstm => {
                self.channels.last().copied().unwrap_or(1) * (self.mels >> self.channels.len())
            }
            _ => self.stack * self.mels,
        }
    }
}

impl ModelConfig for SpeechCtcConfig {
    type Model = SpeechCtc;

    fn validate(&self) -> dl_core::Result<()> {
        const C: &str = "SpeechCtcConfig";
        check::positive(C, "mels", self.mels)?;
        check::positive(C, "labels", self.labels)?;
        check::positive(C, "stack", self.stack)?;
        check::positive(C, "width", self.width)?;
        check::positive(C, "layers", self.layers)?;
        check::positive(C, "max_steps", self.max_steps)?;
        check::probability(C, "dropout", self.dropout)?;
        if self.encoder == SpeechEncoderKind::CnnBiLstm {
            check::non_empty(C, "channels", &self.channels)?;
            for (i, &c) in self.channels.iter().enumerate() {
                check::positive(C, &format!("channels[{i}]"), c)?;
            }
            if self.mels >> self.channels.len() == 0 {
                return Err(Error::config(
                    C,
                    "mels",
                    format!("{} bands cannot be halved by {} conv stages", self.mels, self.channels.len()),
                ));
            }
        }
        if self.encoder == SpeechEncoderKind::Transformer {
            self.transformer().validate()?;
        }
        Ok(())
    }

    fn build(&self, device: &Device) -> SpeechCtc {
        let mut front = Vec::new();
        if self.encoder == SpeechEncoderKind::CnnBiLstm {
            let mut inputs = 1;
            for (k, &c) in self.channels.iter().enumerate() {
                // The first stage pools time by `stack`, every stage halves the mel axis.
                front.push(ConvStage::new(inputs, c, [2, if k == 0 { self.stack } else { 1 }], device));
                inputs = c;
            }
        }
        let (encoder, out) = match self.encoder {
            SpeechEncoderKind::Transformer => {
                (SpeechEncoder::Transformer(self.transformer().build(device)), self.width)
            }
            _ => {
                let lstm = LstmConfig::new(self.step_width(), self.width)
                    .with_num_layers(self.layers)
                    .with_bidirectional(true)
                    .with_dropout(self.dropout)
                    .build(device);
                (SpeechEncoder::Lstm(lstm), 2 * self.width)
            }
        };
        SpeechCtc {
            front,
            encoder,
            dropout: DropoutConfig::new(self.dropout).init(),
            head: LinearConfig::new(out, self.labels + 1).init(device),
            mels: self.mels,
            stack: self.stack,
            blank: self.labels,
        }
    }
}

impl SpeechCtcConfig {
    fn transformer(&self) -> TransformerEncoderConfig {
        TransformerEncoderConfig::new(self.step_width(), self.width)
            .with_n_heads(self.heads)
            .with_layers(self.layers)
            .with_max_len(self.max_steps)
            .with_dropout(self.dropout)
    }
}

impl SpeechCtc {
    /// Log-probabilities `[N, T / stack, labels + 1]` (the blank last) of
    /// frames `[N, T, mels]` whose sequence `n` is `frames[n]` long, and the
    /// output steps of each sequence (`frames[n] / stack`, at least 1).
    ///
    /// # Errors
    /// [`Error::Shape`] for frames of another width, lengths that do not fit
    /// the batch, or fewer than `stack` frames.
    pub fn forward(&self, features: Tensor<3>, frames: &[usize]) -> dl_core::Result<(Tensor<3>, Vec<usize>)> {
        let [n, t, m] = features.dims();
        if m != self.mels || t < self.stack {
            return Err(Error::shape(
                "SpeechCtc input",
                format!("[N, T >= {}, {}]", self.stack, self.mels),
                format!("{:?}", features.dims()),
            ));
        }
        check_lengths("SpeechCtc frames", frames, n, t)?;
        let steps_total = t / self.stack;
        let steps: Vec<usize> = frames.iter().map(|&f| (f / self.stack).clamp(1, steps_total)).collect();
        // [N, T, M] -> [N, T', M'] with T' = T / stack
        let features = features.narrow(1, 0, steps_total * self.stack);
        let x = if self.front.is_empty() {
            // Stacking: [N, T, M] -> [N, T', stack * M]
            features.reshape([n, steps_total, self.stack * m])
        } else {
            // [N, T, M] -> [N, 1, M, T]
            let x = features.swap_dims(1, 2).unsqueeze_dim::<4>(1);
            // [N, 1, M, T] -> [N, C, M / 2^k, T']
            let x = self.front.iter().fold(x, |x, s| s.forward(x));
            let [_, c, h, tt] = x.dims();
            // [N, C, H, T'] -> [N, T', C * H]
            x.permute([0, 3, 1, 2]).reshape([n, tt, c * h])
        };
        // [N, T', width]
        let x = self.encoder.encode(x, &steps)?;
        // [N, T', labels + 1]
        Ok((log_softmax(self.head.forward(self.dropout.forward(x)), 2), steps))
    }

    /// The blank's index (the last class).
    pub fn blank(&self) -> usize {
        self.blank
    }

    /// Reads each utterance with every beam of `beams` (1: best path, more:
    /// prefix beam search) from one forward pass: one list of readings per beam.
    pub fn read(
        &self,
        features: Tensor<3>,
        frames: &[usize],
        beams: &[usize],
    ) -> dl_core::Result<Vec<Vec<Vec<usize>>>> {
        let (lp, steps) = self.forward(features, frames)?;
        let [_, t, classes] = lp.dims();
        let values = to_f32(lp)?;
        beams.iter().map(|&beam| decode_padded(&values, t, &steps, classes, self.blank, beam)).collect()
    }
}

/// Log-mel frames `[N, T, mels]` of utterances (normalised per band and
/// utterance, zero past each one's end), their lengths and labels.
#[derive(Debug, Clone)]
pub struct SpeechBatch {
    /// The frames.
    pub features: Tensor<3>,
    /// Frames of each utterance.
    pub frames: Vec<usize>,
    /// The digits of each utterance.
    pub labels: Vec<Vec<usize>>,
}

/// Renders planned utterances from their clips into a [`SpeechBatch`].
#[derive(Debug, Clone, Copy)]
pub struct SpeechBatcher<'a> {
    /// The composition the utterances were planned with.
    pub layout: &'a UtteranceConfig,
    /// The clips the plans index.
    pub clips: &'a [Clip],
    /// Window, hop and mel bands, built once (its configured `frames` is
    /// ignored: each utterance gets as many frames as it lasts).
    pub features: &'a Spectrogram,
}

impl SpeechBatcher<'_> {
    /// The frames `[frames, mels]` (row-major) of `utterance`, each mel band
    /// standardised over the utterance.
    pub fn frames(&self, utterance: &Utterance) -> dl_core::Result<(Vec<f32>, usize)> {
        let wav = self.layout.render(utterance, self.clips)?;
        let cfg = self.features.config();
        let frames = wav.samples.len().div_ceil(cfg.hop).max(1);
        let bands = self.features.compute_frames(&wav, frames)?;
        let m = cfg.bins();
        let mut out = vec![0.0f32; frames * m];
        for (b, row) in bands.chunks(frames).enumerate() {
            let mean = row.iter().map(|&v| f64::from(v)).sum::<f64>() / frames as f64;
            let var = row.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / frames as f64;
            let std = var.sqrt().max(1e-5);
            for (t, &v) in row.iter().enumerate() {
                out[t * m + b] = ((f64::from(v) - mean) / std) as f32;
            }
        }
        Ok((out, frames))
    }
}

impl Batcher<Utterance, SpeechBatch> for SpeechBatcher<'_> {
    fn batch(&self, items: &[&Utterance], device: &Device) -> dl_core::Result<SpeechBatch> {
        let m = self.features.config().bins();
        let rendered: Vec<(Vec<f32>, usize)> = items.iter().map(|u| self.frames(u)).collect::<dl_core::Result<_>>()?;
        let t = rendered.iter().map(|r| r.1).max().unwrap_or(1);
        let mut values = vec![0.0f32; items.len() * t * m];
        for (k, (frames, _)) in rendered.iter().enumerate() {
            values[k * t * m..k * t * m + frames.len()].copy_from_slice(frames);
        }
        Ok(SpeechBatch {
            features: Tensor::from_data(TensorData::new(values, [items.len(), t, m]), device),
            frames: rendered.iter().map(|r| r.1).collect(),
            labels: items.iter().map(|u| u.labels.clone()).collect(),
        })
    }
}

impl Supervised<SpeechBatch> for SpeechCtc {
    fn step(&self, batch: &SpeechBatch) -> dl_core::Result<StepOutput> {
        let (lp, steps) = self.forward(batch.features.clone(), &batch.frames)?;
        let [n, t, classes] = lp.dims();
        // CTC reads [T, N, classes].
        let loss = ctc_loss(lp.clone().swap_dims(0, 1), &batch.labels, &steps, self.blank)?;
        let read = decode_padded(&to_f32(lp.clone().detach())?, t, &steps, classes, self.blank, 1)?;
        Ok(StepOutput {
            loss,
            output: lp.reshape([n, t * classes]),
            targets: Targets::Sequences { read, truth: batch.labels.clone() },
        })
    }
}
