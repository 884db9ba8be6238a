//! Tokenizers of pretrained checkpoints, read from their `tokenizer.json`
//! (WordPiece for BERT, byte-level BPE for GPT-2, ...) with Hugging Face's
//! `tokenizers` crate, so that ids match the checkpoint exactly.

use std::path::{Path, PathBuf};

use tokenizers::{PaddingParams, TruncationParams};

use dl_core::{Error, Result};

/// A `tokenizer.json` tokenizer with explicit truncation and no padding (the
/// batchers pad).
pub struct HfTokenizer {
    inner: tokenizers::Tokenizer,
    path: PathBuf,
}

impl std::fmt::Debug for HfTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HfTokenizer").field("path", &self.path).finish()
    }
}

impl HfTokenizer {
    /// Reads `path` (a `tokenizer.json`). `max_len` truncates every encoding to
    /// that many ids, special tokens included (`None`: no truncation).
    pub fn from_file(path: impl AsRef<Path>, max_len: Option<usize>) -> Result<Self> {
        let path = path.as_ref();
        if !path.is_file() {
            return Err(Error::io("reading", path, std::io::Error::from(std::io::ErrorKind::NotFound)));
        }
        let mut inner = tokenizers::Tokenizer::from_file(path).map_err(|e| Error::data(path, "tokenizer", e))?;
        inner.with_padding(None::<PaddingParams>);
        let trunc = max_len.map(|max_length| TruncationParams { max_length, ..Default::default() });
        inner.with_truncation(trunc).map_err(|e| Error::data(path, "truncation", e))?;
        Ok(Self { inner, path: path.to_path_buf() })
    }

    /// Ids of `text`, with the model's special tokens (`[CLS] ... [SEP]`) when `special` is set.
    pub fn encode(&self, text: &str, special: bool) -> Result<Vec<usize>> {
        let enc = self.inner.encode(text, special).map_err(|e| Error::data(&self.path, "encoding", e))?;
        Ok(enc.get_ids().iter().map(|&i| i as usize).collect())
    }

    /// Subword strings of `text` (for display).
    pub fn tokens(&self, text: &str, special: bool) -> Result<Vec<String>> {
        let enc = self.inner.encode(text, special).map_err(|e| Error::data(&self.path, "encoding", e))?;
        Ok(enc.get_tokens().to_vec())
    }

    /// Text of `ids` (special tokens skipped).
    pub fn decode(&self, ids: &[usize]) -> Result<String> {
        let ids: Vec<u32> = ids.iter().map(|&i| i as u32).collect();
        self.inner.decode(&ids, true).map_err(|e| Error::data(&self.path, "decoding", e))
    }

    /// The id of a token such as `[MASK]` or `[PAD]`.
    pub fn token_id(&self, token: &str) -> Result<usize> {
        self.inner.token_to_id(token).map(|i| i as usize).ok_or_else(|| Error::Unknown {
            kind: "token",
            value: token.into(),
            context: format!("vocabulary of {}", self.path.display()),
        })
    }

    /// Vocabulary size, added tokens included.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }
}
