//! Image captioning: a CNN encoder turns the image into a grid of region
//! features, and a decoder writes the caption word by word while attending
//! over the regions: an LSTM with soft attention (Show, Attend and Tell, Xu
//! et al. 2015) or a Transformer decoder (cross-attention over the regions).
//! docs/lstm.md has the principle and results.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::activation::{sigmoid, softmax};
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::crnn::ConvStage;
use dl_cnn::captioned::{BOS, EOS, GridScene, GridSceneConfig, PAD};
use dl_core::config::check;
use dl_core::data::idx::ImageSet;
use dl_core::task::{Batcher, StepOutput, Supervised, to_f32};
use dl_core::{Error, ModelConfig};
use dl_transformer::attention::causal_mask;
use dl_transformer::layer::{DecoderLayer, TransformerLayerConfig};

/// Which decoder writes the caption.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptionDecoderKind {
    /// An LSTM cell with additive soft attention over the regions at every word.
    Lstm,
    /// Pre-norm Transformer decoder layers: masked self-attention, cross-attention over the regions.
    Transformer,
}

/// Hyper-parameters of a [`Captioner`].
#[derive(Config, Debug, PartialEq)]
pub struct CaptionerConfig {
    /// Image side (square images; a multiple of 2 per conv stage).
    pub side: usize,
    /// Vocabulary size (padding, start and end included).
    pub vocab: usize,
    /// The decoder.
    pub decoder: CaptionDecoderKind,
    /// Output channels of the 3x3 conv stages, each halving the image (four
    /// stages: a 64x64 image becomes 4x4 regions, each seeing a whole grid cell).
    #[config(default = "vec![32, 64, 64, 128]")]
    pub channels: Vec<usize>,
    /// Word embedding width (LSTM) or model width (Transformer).
    #[config(default = 128)]
    pub width: usize,
    /// LSTM units.
    #[config(default = 256)]
    pub hidden: usize,
    /// Transformer decoder layers.
    #[config(default = 2)]
    pub layers: usize,
    /// Transformer attention heads.
    #[config(default = 4)]
    pub heads: usize,
    /// Longest caption in tokens (the Transformer's learned positions).
    #[config(default = 32)]
    pub max_len: usize,
    /// Dropout before the output layer (training only).
    #[config(default = 0.1)]
    pub dropout: f64,
}

impl CaptionerConfig {
    /// Feature map side after the conv stages.
    fn grid(&self) -> usize {
        self.side >> self.channels.len()
    }

    /// Regions the decoder attends over.
    pub fn regions(&self) -> usize {
        self.grid() * self.grid()
    }

    fn features(&self) -> usize {
        self.channels.last().copied().unwrap_or(1)
    }

    fn transformer_layer(&self) -> TransformerLayerConfig {
        TransformerLayerConfig::new(self.width, self.heads, 4 * self.width).with_norm_first(true)
    }
}

/// The LSTM decoder with soft attention.
#[derive(Module, Debug)]
pub struct AttentionLstm {
    embed: Embedding,
    init_h: Linear,
    init_c: Linear,
    att_regions: Linear,
    att_state: Linear,
    att_score: Linear,
    gates_input: Linear,
    gates_state: Linear,
    out: Linear,
}

/// The Transformer decoder over region features.
#[derive(Module, Debug)]
pub struct RegionTransformer {
    memory: Linear,
    region_positions: Embedding,
    embed: Embedding,
    positions: Embedding,
    layers: Vec<DecoderLayer>,
    norm: LayerNorm,
    out: Linear,
}

/// A caption decoder.
// One per model, built once: boxing the larger variant would only add an indirection.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum CaptionDecoder {
    /// LSTM + soft attention.
    Lstm(AttentionLstm),
    /// Transformer decoder.
    Transformer(RegionTransformer),
}

/// CNN encoder + caption decoder.
#[derive(Module, Debug)]
pub struct Captioner {
    stages: Vec<ConvStage>,
    decoder: CaptionDecoder,
    dropout: Dropout,
    #[module(skip)]
    side: usize,
    #[module(skip)]
    vocab: usize,
    #[module(skip)]
    max_len: usize,
}

impl ModelConfig for CaptionerConfig {
    type Model = Captioner;

    fn validate(&self) -> dl_core::Result<()> {
        const C: &str = "CaptionerConfig";
        check::positive(C, "vocab", self.vocab)?;
        check::positive(C, "width", self.width)?;
        check::positive(C, "hidden", self.hidden)?;
        check::positive(C, "max_len", self.max_len)?;
        check::non_empty(C, "channels", &self.channels)?;
        for (i, &c) in self.channels.iter().enumerate() {
            check::positive(C, &format!("channels[{i}]"), c)?;
        }
        check::probability(C, "dropout", self.dropout)?;
        if self.vocab <= EOS {
            return Err(Error::config(
                C,
                "vocab",
                format!("must hold the special tokens 0..={EOS}, got {}", self.vocab),
            ));
        }
        if self.grid() == 0 || self.grid() << self.channels.len() != self.side {
            return Err(Error::config(
                C,
                "side",
                format!("{} is not halved exactly by {} conv stages", self.side, self.channels.len()),
            ));
        }
        if self.decoder == CaptionDecoderKind::Transformer {
            check::positive(C, "layers", self.layers)?;
            self.transformer_layer().validate()?;
        }
        Ok(())
    }

    fn build(&self, device: &Device) -> Captioner {
        let mut stages = Vec::with_capacity(self.channels.len());
        let mut inputs = 1;
        for &c in &self.channels {
            stages.push(ConvStage::new(inputs, c, [2, 2], device));
            inputs = c;
        }
        let (f, w, h) = (self.features(), self.width, self.hidden);
        let lin = |i, o| LinearConfig::new(i, o).init(device);
        let decoder = match self.decoder {
            CaptionDecoderKind::Lstm => CaptionDecoder::Lstm(AttentionLstm {
                embed: EmbeddingConfig::new(self.vocab, w).init(device),
                init_h: lin(f, h),
                init_c: lin(f, h),
                att_regions: lin(f, w),
                att_state: lin(h, w),
                att_score: lin(w, 1),
                gates_input: lin(w + f, 4 * h),
                gates_state: LinearConfig::new(h, 4 * h).with_bias(false).init(device),
                out: lin(h + f, self.vocab),
            }),
            CaptionDecoderKind::Transformer => CaptionDecoder::Transformer(RegionTransformer {
                memory: lin(f, w),
                region_positions: EmbeddingConfig::new(self.regions(), w).init(device),
                embed: EmbeddingConfig::new(self.vocab, w).init(device),
                positions: EmbeddingConfig::new(self.max_len, w).init(device),
                layers: (0..self.layers).map(|_| self.transformer_layer().build_decoder(device)).collect(),
                norm: LayerNormConfig::new(w).init(device),
                out: lin(w, self.vocab),
            }),
        };
        Captioner {
            stages,
            decoder,
            dropout: DropoutConfig::new(self.dropout).init(),
            side: self.side,
            vocab: self.vocab,
            max_len: self.max_len,
        }
    }
}

/// Next-word logits `[B, T, vocab]` and the attention over the regions `[B, T, R]`.
#[derive(Debug, Clone)]
pub struct CaptionOutput {
    /// The logits.
    pub logits: Tensor<3>,
    /// Attention weights (the Transformer's: its last layer's cross-attention, averaged over heads).
    pub attention: Tensor<3>,
}

impl AttentionLstm {
    /// Teacher-forced decoding of `tokens` `[B, T]` over `regions` `[B, R, F]`.
    fn forward(&self, regions: Tensor<3>, tokens: Tensor<2, Int>, dropout: &Dropout) -> CaptionOutput {
        let [b, t] = tokens.dims();
        let [_, r, f] = regions.dims();
        // [B, F] mean region -> initial state [B, H]
        let mean = regions.clone().mean_dim(1).reshape([b, f]);
        let (mut h, mut c) = (self.init_h.forward(mean.clone()).tanh(), self.init_c.forward(mean).tanh());
        // [B, R, A], computed once
        let keys = self.att_regions.forward(regions.clone());
        let a = keys.dims()[2];
        // [B, T, E]
        let words = self.embed.forward(tokens);
        let (mut logits, mut weights) = (Vec::with_capacity(t), Vec::with_capacity(t));
        for s in 0..t {
            // Additive attention: [B, R, A] + [B, 1, A] -> scores [B, R]
            let query = self.att_state.forward(h.clone()).reshape([b, 1, a]);
            let scores = self.att_score.forward((keys.clone() + query).tanh()).reshape([b, r]);
            let alpha = softmax(scores, 1);
            // Context [B, F]: the regions weighted by alpha
            let context = (regions.clone() * alpha.clone().reshape([b, r, 1])).sum_dim(1).reshape([b, f]);
            // LSTM step on [word; context]
            let word = words.clone().narrow(1, s, 1).reshape([b, words.dims()[2]]);
            let gates = self.gates_input.forward(Tensor::cat(vec![word, context.clone()], 1))
                + self.gates_state.forward(h.clone());
            let g = gates.chunk(4, 1);
            let (i, fg, cand, o) =
                (sigmoid(g[0].clone()), sigmoid(g[1].clone()), g[2].clone().tanh(), sigmoid(g[3].clone()));
            c = fg * c + i * cand;
            h = o * c.clone().tanh();
            // [B, vocab]
            let out = self.out.forward(dropout.forward(Tensor::cat(vec![h.clone(), context], 1)));
            logits.push(out.reshape([b, 1, self.out.weight.dims()[1]]));
            weights.push(alpha.reshape([b, 1, r]));
        }
        CaptionOutput { logits: Tensor::cat(logits, 1), attention: Tensor::cat(weights, 1) }
    }
}

impl RegionTransformer {
    /// Decoding of `tokens` `[B, T]` (causal) over `regions` `[B, R, F]`.
    fn forward(&self, regions: Tensor<3>, tokens: Tensor<2, Int>, dropout: &Dropout) -> dl_core::Result<CaptionOutput> {
        let [b, t] = tokens.dims();
        let [_, r, _] = regions.dims();
        let device = tokens.device();
        let region_ids = Tensor::<1, Int>::arange(0..r as i64, &device).reshape([1, r]).repeat_dim(0, b);
        // [B, R, D]
        let memory = self.memory.forward(regions) + self.region_positions.forward(region_ids);
        let ids = Tensor::<1, Int>::arange(0..t as i64, &device).reshape([1, t]).repeat_dim(0, b);
        // [B, T, D]
        let mut x = self.embed.forward(tokens) + self.positions.forward(ids);
        let mask = causal_mask(t, t, &device)?;
        let mut attention = None;
        for layer in &self.layers {
            let out = layer.forward(x, memory.clone(), Some(mask.clone()), None, None)?;
            x = out.output;
            // [B, H, T, R] -> [B, T, R]
            let heads = out.cross_weights.dims()[1];
            attention = Some(out.cross_weights.sum_dim(1).reshape([b, t, r]) / heads as f32);
        }
        let logits = self.out.forward(dropout.forward(self.norm.forward(x)));
        let attention = attention.ok_or_else(|| Error::Internal("a Transformer captioner without layers".into()))?;
        Ok(CaptionOutput { logits, attention })
    }
}

impl Captioner {
    /// Region features `[B, R, F]` of images `[B, 1, side, side]`.
    pub fn encode(&self, images: Tensor<4>) -> dl_core::Result<Tensor<3>> {
        let [_, c, h, w] = images.dims();
        if c != 1 || h != self.side || w != self.side {
            return Err(Error::shape(
                "Captioner images",
                format!("[B, 1, {0}, {0}]", self.side),
                format!("{:?}", images.dims()),
            ));
        }
        // [B, 1, S, S] -> [B, F, G, G]
        let x = self.stages.iter().fold(images, |x, s| s.forward(x));
        let [b, f, g, _] = x.dims();
        // [B, F, G, G] -> [B, G * G, F]: one feature vector per region
        Ok(x.reshape([b, f, g * g]).swap_dims(1, 2))
    }

    /// Next-word logits and attention for `tokens` `[B, T]` (starting with [`BOS`]).
    ///
    /// # Errors
    /// [`Error::Shape`] for images of another size, or more than `max_len` tokens;
    /// [`Error::OutOfRange`] for a token past the vocabulary.
    pub fn forward(&self, images: Tensor<4>, tokens: Tensor<2, Int>) -> dl_core::Result<CaptionOutput> {
        self.decode(self.encode(images)?, tokens)
    }

    /// [`forward`](Self::forward) from region features `[B, R, F]` (of [`encode`](Self::encode)).
    pub fn decode(&self, regions: Tensor<3>, tokens: Tensor<2, Int>) -> dl_core::Result<CaptionOutput> {
        let [b, t] = tokens.dims();
        if t == 0 || t > self.max_len || regions.dims()[0] != b {
            return Err(Error::shape(
                "Captioner tokens",
                format!("[{}, 1..={}]", regions.dims()[0], self.max_len),
                format!("{:?}", tokens.dims()),
            ));
        }
        let max = tokens.clone().max().into_scalar::<i64>();
        let min = tokens.clone().min().into_scalar::<i64>();
        if min < 0 || max >= self.vocab as i64 {
            let bad = if min < 0 { min } else { max };
            return Err(Error::out_of_range("caption token", bad, format!("0..{}", self.vocab)));
        }
        match &self.decoder {
            CaptionDecoder::Lstm(d) => Ok(d.forward(regions, tokens, &self.dropout)),
            CaptionDecoder::Transformer(d) => d.forward(regions, tokens, &self.dropout),
        }
    }

    /// Greedy captions of `images`, with each word's attention over the regions.
    pub fn caption(&self, images: Tensor<4>) -> dl_core::Result<Vec<Caption>> {
        let b = images.dims()[0];
        let device = images.device();
        let regions = self.encode(images)?;
        let mut tokens = vec![vec![BOS as i64]; b];
        let mut done = vec![false; b];
        let mut last = None;
        for _ in 1..self.max_len {
            let t = tokens[0].len();
            let flat: Vec<i64> = tokens.iter().flatten().copied().collect();
            let out = self.decode(regions.clone(), Tensor::from_data(TensorData::new(flat, [b, t]), &device))?;
            let v = out.logits.dims()[2];
            let next = to_f32(out.logits.narrow(1, t - 1, 1).reshape([b, v]).argmax(1).float())?;
            for (k, seq) in tokens.iter_mut().enumerate() {
                let id = if done[k] { PAD as i64 } else { next[k] as i64 };
                done[k] |= id == EOS as i64;
                seq.push(id);
            }
            last = Some(out.attention);
            if done.iter().all(|&d| d) {
                break;
            }
        }
        let attention = match last {
            Some(a) => {
                let [_, t, r] = a.dims();
                (to_f32(a)?, t, r)
            }
            None => (Vec::new(), 0, 0),
        };
        let (values, t, r) = attention;
        Ok(tokens
            .iter()
            .enumerate()
            .map(|(k, seq)| {
                let words: Vec<usize> =
                    seq[1..].iter().map(|&id| id as usize).take_while(|&id| id != EOS && id != PAD).collect();
                // The attention that chose word j is row j of the last pass.
                let maps =
                    (0..words.len().min(t)).map(|j| values[(k * t + j) * r..(k * t + j + 1) * r].to_vec()).collect();
                Caption { words, attention: maps }
            })
            .collect())
    }
}

/// A written caption.
#[derive(Debug, Clone, PartialEq)]
pub struct Caption {
    /// Token ids, without [`BOS`] and [`EOS`] (at most `max_len - 1`).
    pub words: Vec<usize>,
    /// For each word, the attention over the regions `[R]` when it was chosen.
    pub attention: Vec<Vec<f32>>,
}

/// Images `[B, 1, S, S]` and their captions as decoder input (`BOS` + words)
/// and target (words + `EOS`), padded with [`PAD`].
#[derive(Debug, Clone)]
pub struct CaptionBatch {
    /// The images, 0 (paper) to 1 (ink).
    pub images: Tensor<4>,
    /// Decoder input `[B, T]`.
    pub input: Tensor<2, Int>,
    /// Targets `[B, T]`.
    pub target: Tensor<2, Int>,
    /// Each caption's words (without `EOS`).
    pub captions: Vec<Vec<usize>>,
}

/// Renders planned scenes with their captions into a [`CaptionBatch`].
#[derive(Debug, Clone, Copy)]
pub struct CaptionBatcher<'a> {
    /// The layout the scenes were planned with.
    pub layout: &'a GridSceneConfig,
    /// The digit images the plans index.
    pub digits: &'a ImageSet,
    /// The clothing images the plans index.
    pub clothing: &'a ImageSet,
}

impl Batcher<GridScene, CaptionBatch> for CaptionBatcher<'_> {
    fn batch(&self, items: &[&GridScene], device: &Device) -> dl_core::Result<CaptionBatch> {
        let side = self.layout.side();
        let mut pixels = Vec::with_capacity(items.len() * side * side);
        let mut ids = Vec::with_capacity(items.len());
        for s in items {
            pixels.extend(self.layout.render(s, self.digits, self.clothing)?);
            ids.push(self.layout.caption_ids(s));
        }
        let t = ids.iter().map(Vec::len).max().unwrap_or(1);
        let (mut input, mut target) = (Vec::with_capacity(items.len() * t), Vec::with_capacity(items.len() * t));
        for seq in &ids {
            for j in 0..t {
                input.push(if j == 0 { BOS } else { seq.get(j - 1).copied().unwrap_or(PAD) } as i64);
                target.push(seq.get(j).copied().unwrap_or(PAD) as i64);
            }
        }
        let n = items.len();
        Ok(CaptionBatch {
            images: Tensor::from_data(TensorData::new(pixels, [n, 1, side, side]), device),
            input: Tensor::from_data(TensorData::new(input, [n, t]), device),
            target: Tensor::from_data(TensorData::new(target, [n, t]), device),
            captions: ids
                .into_iter()
                .map(|mut s| {
                    s.pop();
                    s
                })
                .collect(),
        })
    }
}

impl Supervised<CaptionBatch> for Captioner {
    fn step(&self, batch: &CaptionBatch) -> dl_core::Result<StepOutput> {
        let out = self.forward(batch.images.clone(), batch.input.clone())?;
        let [b, t, v] = out.logits.dims();
        // Only the real words and EOS count: row k's first `captions[k].len() + 1` positions.
        let keep: Vec<i64> = batch
            .captions
            .iter()
            .enumerate()
            .flat_map(|(k, c)| (0..=c.len()).map(move |j| (k * t + j) as i64))
            .collect();
        let n = keep.len();
        let device = out.logits.device();
        let keep = Tensor::<1, Int>::from_data(TensorData::new(keep, [n]), &device);
        let logits = out.logits.reshape([b * t, v]).select(0, keep.clone());
        let targets = batch.target.clone().reshape([b * t]).select(0, keep);
        Ok(StepOutput::classification(logits, targets))
    }
}
