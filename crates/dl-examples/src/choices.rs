//! Choices that several examples take, as clap value enums: `--help` lists
//! the values and a bad value is rejected before any data is read.

use clap::ValueEnum;
use dl_core::data::tokenizer::WordSplit;
use dl_seq::Pooling;

/// The name a choice has on the command line (`RtPolarity` -> `rt-polarity`).
pub fn choice_name<T: ValueEnum>(value: &T) -> String {
    value.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default()
}

/// The labelled text datasets (`label<TAB>text` train/test folders).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TextDataset {
    /// SMS spam collection (ham/spam).
    SmsSpam,
    /// Pang & Lee's movie-review sentences (negative/positive).
    RtPolarity,
}

impl TextDataset {
    /// The dataset's folder name.
    pub fn name(self) -> String {
        choice_name(&self)
    }
}

/// How a recurrent classifier summarises its outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PoolingArg {
    /// Maximum over the real steps.
    Max,
    /// Mean over the real steps.
    Mean,
    /// The final state.
    Last,
}

impl From<PoolingArg> for Pooling {
    fn from(p: PoolingArg) -> Self {
        match p {
            PoolingArg::Max => Pooling::Max,
            PoolingArg::Mean => Pooling::Mean,
            PoolingArg::Last => Pooling::Last,
        }
    }
}

/// The word rule of a word tokenizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TokensArg {
    /// Split on whitespace and punctuation.
    Words,
    /// Kim's English preprocessing first.
    Kim,
}

impl From<TokensArg> for WordSplit {
    fn from(t: TokensArg) -> Self {
        match t {
            TokensArg::Words => WordSplit::Words,
            TokensArg::Kim => WordSplit::Kim,
        }
    }
}

/// LSTM or bidirectional LSTM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LstmKind {
    /// One direction.
    Lstm,
    /// Both directions.
    Bilstm,
}

impl LstmKind {
    /// Whether the LSTM reads both directions.
    pub fn bidirectional(self) -> bool {
        self == LstmKind::Bilstm
    }

    /// The choice's name.
    pub fn name(self) -> String {
        choice_name(&self)
    }
}
