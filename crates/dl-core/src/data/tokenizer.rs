//! Character and word tokenizers with a vocabulary built from training data.
//!
//! Ids 0 and 1 are reserved for `<pad>` and `<unk>` so that padded batches and
//! unseen tokens work the same way in every model; extra special tokens
//! (`<bos>`, `<eos>`) come next. The vocabulary is ordered by count (then
//! alphabetically), so it is the same on every run and machine.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::{load_json, save_json};
use crate::{Error, Result};

/// Id of the padding token.
pub const PAD_ID: usize = 0;
/// Id of the unknown token.
pub const UNK_ID: usize = 1;

/// A token <-> id mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vocab {
    tokens: Vec<String>,
    #[serde(skip)]
    ids: HashMap<String, usize>,
}

impl Vocab {
    /// Builds a vocabulary from token sequences: `<pad>`, `<unk>`, `specials`, then
    /// tokens seen at least `min_freq` times, most frequent first, at most `max_size` in all.
    pub fn build<I, S>(sequences: I, specials: &[&str], min_freq: usize, max_size: usize) -> Result<Vocab>
    where
        I: IntoIterator<Item = Vec<S>>,
        S: AsRef<str>,
    {
        let reserved = 2 + specials.len();
        if max_size < reserved {
            return Err(Error::config(
                "Vocab",
                "max_size",
                format!("must be at least {reserved} (the special tokens)"),
            ));
        }
        let mut counts: HashMap<String, usize> = HashMap::new();
        for seq in sequences {
            for t in seq {
                *counts.entry(t.as_ref().to_string()).or_default() += 1;
            }
        }
        let mut tokens: Vec<String> = ["<pad>", "<unk>"].iter().chain(specials).map(|s| s.to_string()).collect();
        let mut ranked: Vec<(String, usize)> =
            counts.into_iter().filter(|(t, c)| *c >= min_freq.max(1) && !tokens.contains(t)).collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        tokens.extend(ranked.into_iter().take(max_size - reserved).map(|(t, _)| t));
        Ok(Self::from_tokens(tokens))
    }

    fn from_tokens(tokens: Vec<String>) -> Vocab {
        let ids = tokens.iter().enumerate().map(|(i, t)| (t.clone(), i)).collect();
        Vocab { tokens, ids }
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether the vocabulary is empty (never, once built).
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The id of `token`, if known.
    pub fn id(&self, token: &str) -> Option<usize> {
        self.ids.get(token).copied()
    }

    /// The token of `id`, if in range.
    pub fn token(&self, id: usize) -> Option<&str> {
        self.tokens.get(id).map(String::as_str)
    }
}

/// How text is split into tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// Every Unicode scalar is a token (char-level language models).
    Chars,
    /// Lower-cased words; punctuation marks are tokens of their own.
    Words,
}

/// A fitted tokenizer: a splitting rule and a vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tokenizer {
    split: Split,
    vocab: Vocab,
}

/// Character-level tokenizer.
pub type CharTokenizer = Tokenizer;
/// Word-level tokenizer.
pub type WordTokenizer = Tokenizer;

fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for ch in text.chars().flat_map(char::to_lowercase) {
        if ch.is_alphanumeric() || ch == '\'' {
            cur.push(ch);
        } else {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            if !ch.is_whitespace() {
                out.push(ch.to_string());
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

impl Tokenizer {
    /// Splits `text` into tokens by this tokenizer's rule.
    pub fn tokens(&self, text: &str) -> Vec<String> {
        match self.split {
            Split::Chars => text.chars().map(|c| c.to_string()).collect(),
            Split::Words => words(text),
        }
    }

    fn fit_split<'a>(
        split: Split,
        texts: impl IntoIterator<Item = &'a str>,
        specials: &[&str],
        min_freq: usize,
        max_size: usize,
    ) -> Result<Self> {
        let probe = Tokenizer { split, vocab: Vocab::from_tokens(vec![]) };
        let vocab = Vocab::build(texts.into_iter().map(|t| probe.tokens(t)), specials, min_freq, max_size)?;
        Ok(Tokenizer { split, vocab })
    }

    /// A word tokenizer fitted on `texts`.
    pub fn fit<'a>(texts: impl IntoIterator<Item = &'a str>, min_freq: usize, max_size: usize) -> Result<Self> {
        Self::fit_split(Split::Words, texts, &[], min_freq, max_size)
    }

    /// A character tokenizer fitted on `texts`.
    pub fn fit_chars<'a>(texts: impl IntoIterator<Item = &'a str>, min_freq: usize, max_size: usize) -> Result<Self> {
        Self::fit_split(Split::Chars, texts, &[], min_freq, max_size)
    }

    /// A tokenizer of either kind with extra special tokens (ids 2, 3, ...).
    pub fn fit_with_specials<'a>(
        split: Split,
        texts: impl IntoIterator<Item = &'a str>,
        specials: &[&str],
        min_freq: usize,
        max_size: usize,
    ) -> Result<Self> {
        Self::fit_split(split, texts, specials, min_freq, max_size)
    }

    /// The vocabulary.
    pub fn vocab(&self) -> &Vocab {
        &self.vocab
    }

    /// Number of ids (the embedding table size).
    pub fn vocab_size(&self) -> usize {
        self.vocab.len()
    }

    /// Token ids; unknown tokens map to [`UNK_ID`].
    pub fn encode(&self, text: &str) -> Vec<usize> {
        self.tokens(text).iter().map(|t| self.vocab.id(t).unwrap_or(UNK_ID)).collect()
    }

    /// Token ids; an unknown token is an [`Error::Unknown`] naming it.
    pub fn encode_strict(&self, text: &str) -> Result<Vec<usize>> {
        self.tokens(text)
            .iter()
            .map(|t| {
                self.vocab.id(t).ok_or_else(|| Error::Unknown {
                    kind: "token",
                    value: t.clone(),
                    context: "the tokenizer's vocabulary".into(),
                })
            })
            .collect()
    }

    /// Text of `ids` (words joined by spaces, chars concatenated); padding is skipped.
    pub fn decode(&self, ids: &[usize]) -> Result<String> {
        let toks: Vec<&str> = ids
            .iter()
            .filter(|&&i| i != PAD_ID)
            .map(|&i| {
                self.vocab.token(i).ok_or_else(|| Error::Unknown {
                    kind: "token id",
                    value: i.to_string(),
                    context: format!("a vocabulary of {}", self.vocab.len()),
                })
            })
            .collect::<Result<_>>()?;
        Ok(match self.split {
            Split::Chars => toks.concat(),
            Split::Words => toks.join(" "),
        })
    }

    /// Truncates or right-pads `ids` with [`PAD_ID`] to exactly `len`.
    pub fn pad_to(ids: &[usize], len: usize) -> Vec<usize> {
        let mut v: Vec<usize> = ids.iter().take(len).copied().collect();
        v.resize(len, PAD_ID);
        v
    }

    /// Saves as JSON.
    pub fn save(&self, path: &Path) -> Result<()> {
        save_json(self, path)
    }

    /// Loads a tokenizer saved by [`Tokenizer::save`].
    pub fn load(path: &Path) -> Result<Self> {
        let t: Tokenizer = load_json(path)?;
        if t.vocab.len() < 2 || t.vocab.token(PAD_ID) != Some("<pad>") || t.vocab.token(UNK_ID) != Some("<unk>") {
            return Err(Error::data(path, "vocab", "ids 0 and 1 must be <pad> and <unk>"));
        }
        Ok(Tokenizer { split: t.split, vocab: Vocab::from_tokens(t.vocab.tokens) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_tokenizer_vocab_and_round_trip() {
        let texts = ["The cat sat.", "the dog sat!", "a cat"];
        let t = Tokenizer::fit(texts, 2, 100).unwrap();
        // <pad> <unk>, then by count: "cat" 2, "sat" 2, "the" 2 (alphabetical among ties).
        assert_eq!(t.vocab_size(), 5);
        assert_eq!(t.vocab().token(2), Some("cat"));
        assert_eq!(t.encode("The cat, the end"), vec![4, 2, UNK_ID, 4, UNK_ID]);
        assert!(matches!(t.encode_strict("cat end"), Err(Error::Unknown { .. })));
        assert_eq!(t.decode(&[4, 2, 3, PAD_ID]).unwrap(), "the cat sat");
        assert!(t.decode(&[99]).is_err());
        assert_eq!(Tokenizer::pad_to(&[5, 6, 7], 2), vec![5, 6]);
        assert_eq!(Tokenizer::pad_to(&[5], 3), vec![5, 0, 0]);
        let capped = Tokenizer::fit(texts, 1, 4).unwrap();
        assert_eq!(capped.vocab_size(), 4);
        assert!(Tokenizer::fit(texts, 1, 1).is_err());
    }

    #[test]
    fn char_tokenizer_save_load() {
        let t = Tokenizer::fit_chars(["hello", "world"], 1, 1000).unwrap();
        assert_eq!(t.decode(&t.encode_strict("lower").unwrap()).unwrap(), "lower");
        let dir = std::env::temp_dir().join(format!("dl-core-tok-{}", std::process::id()));
        let p = dir.join("vocab.json");
        t.save(&p).unwrap();
        let back = Tokenizer::load(&p).unwrap();
        assert_eq!(back, t);
        assert_eq!(back.encode("hold"), t.encode("hold"));
        std::fs::write(&p, "{\"split\": \"chars\"").unwrap();
        assert!(Tokenizer::load(&p).unwrap_err().to_string().contains("vocab.json"));
    }
}
