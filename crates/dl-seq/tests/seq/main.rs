//! dl-seq tests: the CTC loss against PyTorch and on inputs it must refuse;
//! the sequence heads and the attention encoder-decoder on dl-rnn's cells.
//! One test binary.

mod ctc;
mod sequence;
