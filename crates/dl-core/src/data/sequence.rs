//! Batches of sequences: padded token ids or real-valued steps with their
//! lengths and targets, and source/target pairs for sequence-to-sequence
//! models. Every sequence family (RNN, LSTM, Transformer) trains on these.

use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::config::check;
use crate::task::Batcher;
use crate::{Error, Result};

/// Checks that `lengths` has one entry per sequence, each in `1..=t`.
pub fn check_lengths(context: &str, lengths: &[usize], batch: usize, t: usize) -> Result<()> {
    if lengths.len() != batch {
        return Err(Error::shape(context, format!("{batch} sequence lengths"), format!("{}", lengths.len())));
    }
    if let Some((i, &l)) = lengths.iter().enumerate().find(|(_, l)| **l == 0 || **l > t) {
        return Err(Error::shape(
            format!("{context}: length of sequence {i}"),
            format!("1..={t} (the padded length)"),
            l.to_string(),
        ));
    }
    Ok(())
}

/// One more than the largest of `ids` (0 for none): the bound a batcher
/// records so that a model checks ids against its vocabulary on the host.
pub fn ids_below(ids: impl IntoIterator<Item = usize>) -> usize {
    ids.into_iter().max().map_or(0, |m| m + 1)
}

/// Checks on the host that ids known to lie below `below` fit a vocabulary
/// of `vocab`; the error names the largest possible id and `context`.
pub fn check_ids_below(below: usize, vocab: usize, context: impl FnOnce() -> String) -> Result<()> {
    if below > vocab {
        return Err(Error::Unknown { kind: "token id", value: (below - 1).to_string(), context: context() });
    }
    Ok(())
}

/// Input of a sequence model.
#[derive(Debug, Clone)]
pub enum SequenceInput {
    /// Real-valued steps `[B, T, F]`.
    Features(Tensor<3>),
    /// Token ids `[B, T]` (needs a model with a vocabulary).
    Tokens(Tensor<2, Int>),
}

impl SequenceInput {
    /// Batch size and padded length `[B, T]`.
    pub fn dims(&self) -> [usize; 2] {
        match self {
            SequenceInput::Features(x) => [x.dims()[0], x.dims()[1]],
            SequenceInput::Tokens(x) => x.dims(),
        }
    }
}

/// What a batch is compared against.
#[derive(Debug, Clone)]
pub enum SequenceTarget {
    /// One class per sequence `[B]`.
    Classes(Tensor<1, Int>),
    /// Values per sequence `[B, K]`.
    Values(Tensor<2>),
    /// One class per step `[B, T]` (padding ignored).
    Tags(Tensor<2, Int>),
}

/// A padded batch of sequences with their lengths and targets.
#[derive(Debug, Clone)]
pub struct SequenceBatch {
    /// The padded inputs.
    pub input: SequenceInput,
    /// Real length of each sequence.
    pub lengths: Vec<usize>,
    /// Targets.
    pub target: SequenceTarget,
    /// For token inputs built on the host: one more than the largest id, so
    /// that a model checks the ids against its vocabulary without reading the
    /// device ([`SequenceBatch::with_ids_below`]); `None`: not known.
    pub ids_below: Option<usize>,
}

impl SequenceBatch {
    /// The batch with its token ids known to lie below `bound` (set by the
    /// batcher that wrote them).
    pub fn with_ids_below(mut self, bound: usize) -> Self {
        self.ids_below = Some(bound);
        self
    }

    /// Checks lengths and target shapes against the input.
    pub fn new(input: SequenceInput, lengths: Vec<usize>, target: SequenceTarget) -> Result<Self> {
        let [b, t] = input.dims();
        check_lengths("SequenceBatch", &lengths, b, t)?;
        let ok = match &target {
            SequenceTarget::Classes(c) => c.dims() == [b],
            SequenceTarget::Values(v) => v.dims()[0] == b,
            SequenceTarget::Tags(g) => g.dims() == [b, t],
        };
        if !ok {
            return Err(Error::shape("SequenceBatch targets", format!("batch {b}, steps {t}"), format!("{target:?}")));
        }
        Ok(Self { input, lengths, target, ids_below: None })
    }
}

/// A batch of source/target pairs.
#[derive(Debug, Clone)]
pub struct Seq2SeqBatch {
    /// Source ids `[B, S]`, right-padded.
    pub src: Tensor<2, Int>,
    /// Real source lengths.
    pub src_lengths: Vec<usize>,
    /// Decoder inputs `[B, T]`: `<bos>` then the target.
    pub tgt_in: Tensor<2, Int>,
    /// Decoder targets `[B, T]`: the target then `<eos>`.
    pub tgt_out: Tensor<2, Int>,
    /// Real target lengths (target + 1).
    pub tgt_lengths: Vec<usize>,
    /// For ids built on the host: one more than the largest source id and
    /// than the largest target id (`tgt_in` and `tgt_out`, markers and
    /// padding included), so that a model checks them without reading the
    /// device; `None`: not known.
    pub ids_below: Option<[usize; 2]>,
}

/// A translation pair as token ids (without `<bos>` / `<eos>`).
#[derive(Debug, Clone, PartialEq)]
pub struct PairItem {
    /// Source ids.
    pub src: Vec<usize>,
    /// Target ids.
    pub tgt: Vec<usize>,
}

/// Pads pairs and adds `<bos>` / `<eos>` to the targets.
#[derive(Debug, Clone)]
pub struct PairBatcher {
    /// Padding id.
    pub pad: usize,
    /// Begin-of-sentence id.
    pub bos: usize,
    /// End-of-sentence id.
    pub eos: usize,
}

impl Batcher<PairItem, Seq2SeqBatch> for PairBatcher {
    fn batch(&self, items: &[&PairItem], device: &Device) -> Result<Seq2SeqBatch> {
        if items.is_empty() {
            return Err(Error::empty("the batch"));
        }
        if let Some(i) = items.iter().position(|p| p.src.is_empty()) {
            return Err(Error::shape(format!("PairBatcher item {i}"), "a non-empty source", "an empty one"));
        }
        let b = items.len();
        let s = items.iter().map(|p| p.src.len()).max().unwrap_or(1);
        let t = items.iter().map(|p| p.tgt.len() + 1).max().unwrap_or(1);
        let (mut src, mut tin, mut tout) =
            (Vec::with_capacity(b * s), Vec::with_capacity(b * t), Vec::with_capacity(b * t));
        for p in items {
            src.extend(p.src.iter().map(|&i| i as i64));
            src.extend(std::iter::repeat_n(self.pad as i64, s - p.src.len()));
            tin.push(self.bos as i64);
            tin.extend(p.tgt.iter().map(|&i| i as i64));
            tin.extend(std::iter::repeat_n(self.pad as i64, t - p.tgt.len() - 1));
            tout.extend(p.tgt.iter().map(|&i| i as i64));
            tout.push(self.eos as i64);
            tout.extend(std::iter::repeat_n(self.pad as i64, t - p.tgt.len() - 1));
        }
        Ok(Seq2SeqBatch {
            src: Tensor::from_data(TensorData::new(src, [b, s]), device),
            src_lengths: items.iter().map(|p| p.src.len()).collect(),
            tgt_in: Tensor::from_data(TensorData::new(tin, [b, t]), device),
            tgt_out: Tensor::from_data(TensorData::new(tout, [b, t]), device),
            tgt_lengths: items.iter().map(|p| p.tgt.len() + 1).collect(),
            ids_below: Some([
                ids_below(items.iter().flat_map(|p| p.src.iter().copied()).chain([self.pad])),
                ids_below(items.iter().flat_map(|p| p.tgt.iter().copied()).chain([self.pad, self.bos, self.eos])),
            ]),
        })
    }
}

/// A token sequence with one class (sentiment, spam).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenSequence {
    /// Token ids.
    pub ids: Vec<usize>,
    /// Class id.
    pub label: usize,
}

/// Pads token sequences to the longest in the batch (at most `max_len`, longer ones are cut).
#[derive(Debug, Clone)]
pub struct TokenSequenceBatcher {
    /// Padding id.
    pub pad_id: usize,
    /// Longest kept sequence.
    pub max_len: usize,
}

impl Batcher<TokenSequence, SequenceBatch> for TokenSequenceBatcher {
    fn batch(&self, items: &[&TokenSequence], device: &Device) -> Result<SequenceBatch> {
        check::positive("TokenSequenceBatcher", "max_len", self.max_len)?;
        if items.is_empty() {
            return Err(Error::empty("the batch"));
        }
        // An empty text keeps one padding token so that every sequence has a step.
        let lengths: Vec<usize> = items.iter().map(|i| i.ids.len().clamp(1, self.max_len)).collect();
        let t = lengths.iter().copied().max().unwrap_or(1);
        let mut data = Vec::with_capacity(items.len() * t);
        for item in items {
            let kept = item.ids.len().min(t);
            data.extend(item.ids[..kept].iter().map(|&i| i as i64));
            data.extend(std::iter::repeat_n(self.pad_id as i64, t - kept));
        }
        let labels: Vec<i64> = items.iter().map(|i| i.label as i64).collect();
        // The ids written (padding included) are non-negative.
        let below = ids_below(data.iter().map(|&i| i as usize));
        Ok(SequenceBatch::new(
            SequenceInput::Tokens(Tensor::from_data(TensorData::new(data, [items.len(), t]), device)),
            lengths,
            SequenceTarget::Classes(Tensor::from_data(TensorData::new(labels, [items.len()]), device)),
        )?
        .with_ids_below(below))
    }
}

/// A real-valued sequence `[T, F]` (row-major) with real-valued targets.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesSequence {
    /// `steps x width` values, one step after another.
    pub values: Vec<f32>,
    /// Features per step.
    pub width: usize,
    /// Targets.
    pub target: Vec<f32>,
}

/// Pads real-valued sequences to the longest in the batch with zeros.
#[derive(Debug, Clone, Default)]
pub struct SeriesBatcher;

impl Batcher<SeriesSequence, SequenceBatch> for SeriesBatcher {
    fn batch(&self, items: &[&SeriesSequence], device: &Device) -> Result<SequenceBatch> {
        let first = items.first().ok_or_else(|| Error::empty("the batch"))?;
        let (f, k) = (first.width, first.target.len());
        let mut lengths = Vec::with_capacity(items.len());
        for (i, it) in items.iter().enumerate() {
            if it.width != f || f == 0 || it.values.len() % f != 0 || it.values.is_empty() || it.target.len() != k {
                return Err(Error::shape(
                    format!("SeriesBatcher item {i}"),
                    format!("a non-empty multiple of width {f} values and {k} targets"),
                    format!("{} values of width {}, {} targets", it.values.len(), it.width, it.target.len()),
                ));
            }
            lengths.push(it.values.len() / f);
        }
        let t = lengths.iter().copied().max().unwrap_or(1);
        let mut data = Vec::with_capacity(items.len() * t * f);
        let mut targets = Vec::with_capacity(items.len() * k);
        for it in items {
            data.extend_from_slice(&it.values);
            data.extend(std::iter::repeat_n(0.0, t * f - it.values.len()));
            targets.extend_from_slice(&it.target);
        }
        SequenceBatch::new(
            SequenceInput::Features(Tensor::from_data(TensorData::new(data, [items.len(), t, f]), device)),
            lengths,
            SequenceTarget::Values(Tensor::from_data(TensorData::new(targets, [items.len(), k]), device)),
        )
    }
}

/// Next-token prediction windows: each item is `L + 1` token ids; the input is the
/// first `L`, the tags are the last `L` (language modelling with a tagging head).
#[derive(Debug, Clone, Default)]
pub struct NextTokenBatcher;

impl Batcher<Vec<usize>, SequenceBatch> for NextTokenBatcher {
    fn batch(&self, items: &[&Vec<usize>], device: &Device) -> Result<SequenceBatch> {
        let first = items.first().ok_or_else(|| Error::empty("the batch"))?;
        let l = first.len().saturating_sub(1);
        if l == 0 || items.iter().any(|w| w.len() != l + 1) {
            return Err(Error::shape(
                "NextTokenBatcher",
                "windows of one length >= 2",
                format!("first has {}", first.len()),
            ));
        }
        let b = items.len();
        let input: Vec<i64> = items.iter().flat_map(|w| w[..l].iter().map(|&i| i as i64)).collect();
        let tags: Vec<i64> = items.iter().flat_map(|w| w[1..].iter().map(|&i| i as i64)).collect();
        let below = ids_below(input.iter().map(|&i| i as usize));
        Ok(SequenceBatch::new(
            SequenceInput::Tokens(Tensor::from_data(TensorData::new(input, [b, l]), device)),
            vec![l; b],
            SequenceTarget::Tags(Tensor::from_data(TensorData::new(tags, [b, l]), device)),
        )?
        .with_ids_below(below))
    }
}
