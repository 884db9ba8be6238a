//! Character and word tokenizers with a vocabulary built from training data.
//!
//! Ids 0 and 1 are reserved for `<pad>` and `<unk>` in every vocabulary, so
//! that padded batches (id 0, masked or ignored by the loss) and unseen tokens
//! (id 1) work the same way in every model; extra special tokens given at
//! build time (`<bos>`, `<eos>`, ...) come next. The remaining ids go to the
//! training tokens by decreasing count, ties broken alphabetically, so the
//! vocabulary is the same on every run and machine (a `HashMap`'s iteration
//! order never leaks into it).
//!
//! A fitted tokenizer is saved next to the model weights as JSON: a model is
//! useless without the exact token-to-id mapping it was trained with.

use std::collections::{HashMap, HashSet};
use std::marker::PhantomData;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The padding token.
pub const PAD: &str = "<pad>";
/// The unknown-token token.
pub const UNK: &str = "<unk>";
/// Id of [`PAD`].
pub const PAD_ID: usize = 0;
/// Id of [`UNK`].
pub const UNK_ID: usize = 1;

/// A token <-> id mapping: `<pad>`, `<unk>`, the extra specials, then the
/// regular tokens.
///
/// Serialised as `{"specials": [...], "tokens": [...]}` (`tokens` lists every
/// token in id order); deserialising checks that layout and rejects duplicate
/// tokens, so a loaded vocabulary is always usable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "VocabFile", into = "VocabFile")]
pub struct Vocab {
    tokens: Vec<String>,
    n_specials: usize,
    ids: HashMap<String, usize>,
}

/// The JSON form of a [`Vocab`].
#[derive(Serialize, Deserialize)]
struct VocabFile {
    specials: Vec<String>,
    tokens: Vec<String>,
}

impl From<Vocab> for VocabFile {
    fn from(v: Vocab) -> Self {
        VocabFile { specials: v.specials().to_vec(), tokens: v.tokens }
    }
}

impl TryFrom<VocabFile> for Vocab {
    type Error = String;

    fn try_from(f: VocabFile) -> std::result::Result<Self, String> {
        let reserved = 2 + f.specials.len();
        let head: Vec<&str> = [PAD, UNK].into_iter().chain(f.specials.iter().map(String::as_str)).collect();
        if f.tokens.len() < reserved || f.tokens[..reserved] != head[..] {
            return Err(format!("the first tokens must be {head:?} (`<pad>`, `<unk>`, then the specials)"));
        }
        Vocab::from_list(f.tokens, f.specials.len()).map_err(|e| e.to_string())
    }
}

impl Vocab {
    /// Builds a vocabulary from token sequences.
    ///
    /// Ids: `<pad>` = 0, `<unk>` = 1, then `specials` in the given order, then
    /// the tokens seen at least `min_freq` times (0 counts as 1), most
    /// frequent first, ties broken by the token's string order. `max_size`
    /// caps the total size, reserved ids included (use `usize::MAX` for no
    /// cap). A `max_size` below the number of reserved ids, or a special that
    /// is empty, repeated or equal to `<pad>`/`<unk>`, is an [`Error::Config`].
    pub fn build<I, T, S>(sequences: I, specials: &[&str], min_freq: usize, max_size: usize) -> Result<Vocab>
    where
        I: IntoIterator<Item = T>,
        T: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut counts = Counts::default();
        for seq in sequences {
            for t in seq {
                counts.add(t.as_ref());
            }
        }
        counts.into_vocab(specials, min_freq, max_size)
    }

    /// A vocabulary of `<pad>`, `<unk>`, `specials`, then exactly `tokens` in
    /// the given order (for fixed vocabularies and tests). Duplicates are an
    /// [`Error::Invalid`].
    pub fn from_tokens<S: AsRef<str>>(specials: &[&str], tokens: impl IntoIterator<Item = S>) -> Result<Vocab> {
        check_specials(specials, usize::MAX)?;
        let list = [PAD, UNK]
            .into_iter()
            .chain(specials.iter().copied())
            .map(str::to_string)
            .chain(tokens.into_iter().map(|t| t.as_ref().to_string()))
            .collect();
        Vocab::from_list(list, specials.len())
    }

    /// Indexes a complete id-ordered token list; rejects duplicates and empty tokens.
    fn from_list(tokens: Vec<String>, n_specials: usize) -> Result<Vocab> {
        let mut ids = HashMap::with_capacity(tokens.len());
        for (i, t) in tokens.iter().enumerate() {
            if t.is_empty() {
                return Err(Error::Invalid(format!("vocabulary: token {i} is empty")));
            }
            if let Some(first) = ids.insert(t.clone(), i) {
                return Err(Error::Invalid(format!("vocabulary: token {t:?} appears twice (ids {first} and {i})")));
            }
        }
        Ok(Vocab { tokens, n_specials, ids })
    }

    /// Number of ids (the embedding table size).
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether the vocabulary is empty (never: `<pad>` and `<unk>` are always there).
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The id of `token`, if known.
    pub fn id(&self, token: &str) -> Option<usize> {
        self.ids.get(token).copied()
    }

    /// The id of `token`, or [`UNK_ID`].
    pub fn id_or_unk(&self, token: &str) -> usize {
        self.id(token).unwrap_or(UNK_ID)
    }

    /// The token of `id`, if in range.
    pub fn token(&self, id: usize) -> Option<&str> {
        self.tokens.get(id).map(String::as_str)
    }

    /// Every token, in id order.
    pub fn tokens(&self) -> &[String] {
        &self.tokens
    }

    /// The extra special tokens (ids `2..2 + specials().len()`).
    pub fn specials(&self) -> &[String] {
        &self.tokens[2..2 + self.n_specials]
    }

    /// The id of special token `name` (`"<bos>"`, ...); one that was not
    /// given at build time is an [`Error::Unknown`].
    pub fn special_id(&self, name: &str) -> Result<usize> {
        self.specials().iter().position(|s| s == name).map(|i| i + 2).ok_or_else(|| Error::Unknown {
            kind: "special token",
            value: name.to_string(),
            context: format!("the vocabulary's specials {:?}", self.specials()),
        })
    }
}

/// Token counts that do not allocate for tokens already seen.
#[derive(Default)]
struct Counts(HashMap<String, usize>);

impl Counts {
    fn add(&mut self, token: &str) {
        match self.0.get_mut(token) {
            Some(c) => *c += 1,
            None => {
                self.0.insert(token.to_string(), 1);
            }
        }
    }

    fn into_vocab(self, specials: &[&str], min_freq: usize, max_size: usize) -> Result<Vocab> {
        check_specials(specials, max_size)?;
        let mut tokens: Vec<String> = [PAD, UNK].iter().chain(specials).map(|s| s.to_string()).collect();
        let reserved: HashSet<String> = tokens.iter().cloned().collect();
        let mut ranked: Vec<(String, usize)> = self
            .0
            .into_iter()
            .filter(|(t, c)| *c >= min_freq.max(1) && !t.is_empty() && !reserved.contains(t))
            .collect();
        ranked.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        tokens.extend(ranked.into_iter().take(max_size - tokens.len()).map(|(t, _)| t));
        Vocab::from_list(tokens, specials.len())
    }
}

fn check_specials(specials: &[&str], max_size: usize) -> Result<()> {
    let reserved = 2 + specials.len();
    if max_size < reserved {
        return Err(Error::config(
            "Vocab",
            "max_size",
            format!("must be at least {reserved} (`<pad>`, `<unk>` and {} special(s)), got {max_size}", specials.len()),
        ));
    }
    let mut seen = HashSet::from([PAD, UNK]);
    for s in specials {
        if s.is_empty() || !seen.insert(s) {
            return Err(Error::config("Vocab", "specials", format!("{s:?} is empty, repeated, or `<pad>`/`<unk>`")));
        }
    }
    Ok(())
}

/// How a tokenizer cuts text into tokens and glues tokens back into text.
pub trait TokenKind {
    /// The kind's name in saved files (`"char"`, `"word"`), checked on load.
    const NAME: &'static str;

    /// Calls `f` on each token of `text`, in order.
    fn visit(text: &str, f: &mut dyn FnMut(&str));

    /// Text of `tokens` (the inverse of splitting, as far as it goes).
    fn join(tokens: &[&str]) -> String;
}

/// Every Unicode scalar value is a token, case and whitespace included
/// (character-level language models must reproduce the text exactly).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Chars;

impl TokenKind for Chars {
    const NAME: &'static str = "char";

    fn visit(text: &str, f: &mut dyn FnMut(&str)) {
        let mut buf = [0u8; 4];
        for c in text.chars() {
            f(c.encode_utf8(&mut buf));
        }
    }

    fn join(tokens: &[&str]) -> String {
        tokens.concat()
    }
}

/// Lower-cased words: runs of letters and digits, with apostrophes kept
/// inside a word (`don't`, `o'clock`); every other non-space character
/// (punctuation, symbols) is a token of its own; whitespace only separates.
///
/// Lower-casing and splitting off punctuation keep `Great`, `great` and
/// `great!` from being three unrelated rare words in a small corpus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Words;

impl TokenKind for Words {
    const NAME: &'static str = "word";

    fn visit(text: &str, f: &mut dyn FnMut(&str)) {
        let mut word = String::new();
        let mut chars = text.chars().flat_map(char::to_lowercase).peekable();
        while let Some(c) = chars.next() {
            let inner_apostrophe =
                matches!(c, '\'' | '\u{2019}') && !word.is_empty() && chars.peek().is_some_and(|n| n.is_alphanumeric());
            if c.is_alphanumeric() || inner_apostrophe {
                word.push(c);
                continue;
            }
            if !word.is_empty() {
                f(&word);
                word.clear();
            }
            if !c.is_whitespace() {
                let mut buf = [0u8; 4];
                f(c.encode_utf8(&mut buf));
            }
        }
        if !word.is_empty() {
            f(&word);
        }
    }

    fn join(tokens: &[&str]) -> String {
        tokens.join(" ")
    }
}

/// Kim (2014)'s English sentence preprocessing (`clean_str` of his
/// CNN-for-sentence-classification code), then [`Words`]' split.
///
/// Lower-cased; every character other than an ASCII letter, digit or one of
/// `( ) , ! ? ' \`` becomes a space (periods, quotes, hyphens and slashes
/// vanish, `co-writer/director` is three words); the clitics `'s 've n't 're
/// 'd 'll` are cut from their word (`doesn't` -> `does n't`, `film's` -> `film
/// ' s`), so every negation shares the one token `n't` (a strong sentiment
/// cue that [`Words`] scatters over `isn't`, `doesn't`, `wasn't`, ...) and a
/// possessive no longer makes a rare word of its noun. On rt-polarity it
/// lifts TextCNN's test accuracy past Kim's figure (docs/cnn.md). Meant for
/// English; other scripts are erased.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KimWords;

/// The text [`KimWords`] splits: Kim's `clean_str` (its literal
/// replacements, in his order) applied to the lower-cased text.
pub fn kim_clean(text: &str) -> String {
    let mut s: String = text
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() || matches!(c, '(' | ')' | ',' | '!' | '?' | '\'' | '`') { c } else { ' ' }
        })
        .collect();
    for (from, to) in [
        ("'s", " 's"),
        ("'ve", " 've"),
        ("n't", " n't"),
        ("'re", " 're"),
        ("'d", " 'd"),
        ("'ll", " 'll"),
        (",", " , "),
        ("!", " ! "),
        ("(", " ( "),
        (")", " ) "),
        ("?", " ? "),
    ] {
        s = s.replace(from, to);
    }
    s
}

impl TokenKind for KimWords {
    const NAME: &'static str = "kim-word";

    fn visit(text: &str, f: &mut dyn FnMut(&str)) {
        Words::visit(&kim_clean(text), f);
    }

    fn join(tokens: &[&str]) -> String {
        tokens.join(" ")
    }
}

/// A fitted tokenizer: a splitting rule `K` and a vocabulary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokenizer<K> {
    vocab: Vocab,
    kind: PhantomData<K>,
}

/// Character-level tokenizer (see [`Chars`]).
pub type CharTokenizer = Tokenizer<Chars>;
/// Word-level tokenizer (see [`Words`]).
pub type WordTokenizer = Tokenizer<Words>;
/// Word-level tokenizer after Kim's English preprocessing (see [`KimWords`]).
pub type KimWordTokenizer = Tokenizer<KimWords>;

/// The JSON form of a tokenizer.
#[derive(Serialize, Deserialize)]
struct TokenizerFile {
    kind: String,
    vocab: Vocab,
}

impl TokenizerFile {
    /// Reads and parses a saved tokenizer; errors name the file.
    fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io("reading", path, e))?;
        Self::parse(&text, path)
    }

    /// Parses a saved tokenizer's text; errors name `path` (where it came from).
    fn parse(text: &str, path: &Path) -> Result<Self> {
        serde_json::from_str(text).map_err(|e| Error::Json { path: path.to_path_buf(), source: e })
    }
}

/// Truncates or right-pads `ids` with [`PAD_ID`] to exactly `len` ids, the
/// fixed sequence length of a batch.
pub fn pad_to(ids: &[usize], len: usize) -> Vec<usize> {
    let mut v: Vec<usize> = ids.iter().take(len).copied().collect();
    v.resize(len, PAD_ID);
    v
}

impl<K: TokenKind> Tokenizer<K> {
    /// Fits a vocabulary on `texts` (see [`Vocab::build`] for `min_freq` and `max_size`).
    pub fn fit<S: AsRef<str>>(texts: impl IntoIterator<Item = S>, min_freq: usize, max_size: usize) -> Result<Self> {
        Self::fit_with_specials(texts, &[], min_freq, max_size)
    }

    /// Like [`Tokenizer::fit`], with extra special tokens (ids 2, 3, ...),
    /// e.g. `&["<bos>", "<eos>"]` for sequence-to-sequence models.
    pub fn fit_with_specials<S: AsRef<str>>(
        texts: impl IntoIterator<Item = S>,
        specials: &[&str],
        min_freq: usize,
        max_size: usize,
    ) -> Result<Self> {
        let mut counts = Counts::default();
        for text in texts {
            K::visit(text.as_ref(), &mut |t| counts.add(t));
        }
        Ok(Self::from_vocab(counts.into_vocab(specials, min_freq, max_size)?))
    }

    /// A tokenizer with an existing vocabulary.
    pub fn from_vocab(vocab: Vocab) -> Self {
        Tokenizer { vocab, kind: PhantomData }
    }

    /// The tokens of `text` by this tokenizer's rule (before any id lookup).
    pub fn tokens(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        K::visit(text, &mut |t| out.push(t.to_string()));
        out
    }

    /// The vocabulary.
    pub fn vocab(&self) -> &Vocab {
        &self.vocab
    }

    /// Number of ids (the embedding table size).
    pub fn vocab_size(&self) -> usize {
        self.vocab.len()
    }

    /// Token ids; tokens not in the vocabulary map to [`UNK_ID`].
    pub fn encode(&self, text: &str) -> Vec<usize> {
        let mut ids = Vec::new();
        K::visit(text, &mut |t| ids.push(self.vocab.id_or_unk(t)));
        ids
    }

    /// Token ids; the first token not in the vocabulary is an
    /// [`Error::Unknown`] naming it (for inputs that must be fully covered,
    /// such as a character model's prompt).
    pub fn encode_strict(&self, text: &str) -> Result<Vec<usize>> {
        let mut ids = Vec::new();
        let mut unknown: Option<String> = None;
        K::visit(text, &mut |t| match self.vocab.id(t) {
            Some(id) => ids.push(id),
            None => {
                unknown.get_or_insert_with(|| t.to_string());
            }
        });
        match unknown {
            None => Ok(ids),
            Some(t) => Err(Error::Unknown {
                kind: "token",
                value: t,
                context: format!("a {} vocabulary of {} ids", K::NAME, self.vocab.len()),
            }),
        }
    }

    /// Text of `ids`: characters concatenated, words joined by single spaces.
    ///
    /// Padding ids are skipped (they are not text); other specials are kept
    /// so that a `<unk>` or `<eos>` stays visible. An id outside the
    /// vocabulary is an [`Error::Unknown`]. Word decoding is not an exact
    /// inverse: case and original spacing are gone.
    pub fn decode(&self, ids: &[usize]) -> Result<String> {
        let tokens = ids
            .iter()
            .filter(|&&i| i != PAD_ID)
            .map(|&i| {
                self.vocab.token(i).ok_or_else(|| Error::Unknown {
                    kind: "token id",
                    value: i.to_string(),
                    context: format!("a {} vocabulary of {} ids", K::NAME, self.vocab.len()),
                })
            })
            .collect::<Result<Vec<&str>>>()?;
        Ok(K::join(&tokens))
    }

    /// Truncates or right-pads `ids` with [`PAD_ID`] to exactly `len` (see [`pad_to`]).
    pub fn pad_to(ids: &[usize], len: usize) -> Vec<usize> {
        pad_to(ids, len)
    }

    /// Saves as pretty JSON (`{"kind": ..., "vocab": {...}}`), creating the
    /// parent folder if needed.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| Error::io("creating", parent, e))?;
        }
        let file = TokenizerFile { kind: K::NAME.to_string(), vocab: self.vocab.clone() };
        let text =
            serde_json::to_string_pretty(&file).map_err(|e| Error::Json { path: path.to_path_buf(), source: e })?;
        crate::train::checkpointer::write_atomically(path, text.as_bytes())
    }

    /// Loads a tokenizer saved by [`Tokenizer::save`].
    ///
    /// Errors name the file: unreadable ([`Error::Io`]), not JSON or not a
    /// valid vocabulary ([`Error::Json`], with line and column), or saved by
    /// the other kind of tokenizer ([`Error::Data`]: a word vocabulary used
    /// to encode characters would silently map everything to `<unk>`).
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        Self::checked(TokenizerFile::read(path)?, path)
    }

    /// Like [`Tokenizer::load`], from the file's text already in memory;
    /// errors name `origin`.
    pub fn from_json(text: &str, origin: impl AsRef<Path>) -> Result<Self> {
        let origin = origin.as_ref();
        Self::checked(TokenizerFile::parse(text, origin)?, origin)
    }

    fn checked(file: TokenizerFile, path: &Path) -> Result<Self> {
        if file.kind != K::NAME {
            return Err(Error::data(
                path,
                "field `kind`",
                format!("this is a `{}` tokenizer, expected a `{}` one", file.kind, K::NAME),
            ));
        }
        Ok(Self::from_vocab(file.vocab))
    }
}

/// Which word rule a [`AnyWordTokenizer`] uses, picked at run time
/// (`--tokens words|kim` in the text examples).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WordSplit {
    /// [`Words`]: any language, punctuation kept as tokens.
    Words,
    /// [`KimWords`]: Kim's English preprocessing.
    Kim,
}

impl std::str::FromStr for WordSplit {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "words" => Ok(WordSplit::Words),
            "kim" => Ok(WordSplit::Kim),
            other => Err(Error::Unknown { kind: "word split", value: other.into(), context: "words or kim".into() }),
        }
    }
}

/// A word tokenizer of either rule, for code that picks the rule at run
/// time; it saves and loads like the typed ones, and [`AnyWordTokenizer::load`]
/// reads the rule back from the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnyWordTokenizer {
    /// Split by [`Words`].
    Words(WordTokenizer),
    /// Split by [`KimWords`].
    Kim(KimWordTokenizer),
}

impl AnyWordTokenizer {
    /// Fits a vocabulary with `split`'s rule (see [`Tokenizer::fit`]).
    pub fn fit<S: AsRef<str>>(
        split: WordSplit,
        texts: impl IntoIterator<Item = S>,
        min_freq: usize,
        max_size: usize,
    ) -> Result<Self> {
        Ok(match split {
            WordSplit::Words => AnyWordTokenizer::Words(WordTokenizer::fit(texts, min_freq, max_size)?),
            WordSplit::Kim => AnyWordTokenizer::Kim(KimWordTokenizer::fit(texts, min_freq, max_size)?),
        })
    }

    /// The rule.
    pub fn split(&self) -> WordSplit {
        match self {
            AnyWordTokenizer::Words(_) => WordSplit::Words,
            AnyWordTokenizer::Kim(_) => WordSplit::Kim,
        }
    }

    /// The vocabulary.
    pub fn vocab(&self) -> &Vocab {
        match self {
            AnyWordTokenizer::Words(t) => t.vocab(),
            AnyWordTokenizer::Kim(t) => t.vocab(),
        }
    }

    /// Number of ids.
    pub fn vocab_size(&self) -> usize {
        self.vocab().len()
    }

    /// Token ids, unknown words as [`UNK_ID`] (see [`Tokenizer::encode`]).
    pub fn encode(&self, text: &str) -> Vec<usize> {
        match self {
            AnyWordTokenizer::Words(t) => t.encode(text),
            AnyWordTokenizer::Kim(t) => t.encode(text),
        }
    }

    /// Text of `ids` (see [`Tokenizer::decode`]).
    pub fn decode(&self, ids: &[usize]) -> Result<String> {
        match self {
            AnyWordTokenizer::Words(t) => t.decode(ids),
            AnyWordTokenizer::Kim(t) => t.decode(ids),
        }
    }

    /// Saves like [`Tokenizer::save`]; the file names the rule.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        match self {
            AnyWordTokenizer::Words(t) => t.save(path),
            AnyWordTokenizer::Kim(t) => t.save(path),
        }
    }

    /// Loads a word tokenizer of either rule, as its file says; a character
    /// tokenizer or an unknown kind is an [`Error::Data`] naming the file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        Self::from_file(TokenizerFile::read(path)?, path)
    }

    /// Like [`AnyWordTokenizer::load`], from the file's text already in
    /// memory; errors name `origin`.
    pub fn from_json(text: &str, origin: impl AsRef<Path>) -> Result<Self> {
        let origin = origin.as_ref();
        Self::from_file(TokenizerFile::parse(text, origin)?, origin)
    }

    fn from_file(file: TokenizerFile, path: &Path) -> Result<Self> {
        match file.kind.as_str() {
            k if k == Words::NAME => Ok(AnyWordTokenizer::Words(Tokenizer::from_vocab(file.vocab))),
            k if k == KimWords::NAME => Ok(AnyWordTokenizer::Kim(Tokenizer::from_vocab(file.vocab))),
            other => Err(Error::data(
                path,
                "field `kind`",
                format!("this is a `{other}` tokenizer, expected `{}` or `{}`", Words::NAME, KimWords::NAME),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_path(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("dl-core-tok-{}", std::process::id())).join(name)
    }

    #[test]
    fn vocab_order_is_count_then_alphabetical() {
        let seqs = [vec!["b", "a", "c", "b"], vec!["c", "d", "a"], vec!["b"]];
        // Counts: b 3, a 2, c 2, d 1.
        let v = Vocab::build(seqs.clone(), &["<bos>", "<eos>"], 1, usize::MAX).unwrap();
        assert_eq!(v.tokens(), ["<pad>", "<unk>", "<bos>", "<eos>", "b", "a", "c", "d"]);
        assert_eq!((v.len(), v.id("a"), v.id("zzz"), v.id_or_unk("zzz")), (8, Some(5), None, UNK_ID));
        assert_eq!((v.token(0), v.token(7), v.token(8)), (Some(PAD), Some("d"), None));
        assert_eq!(v.specials(), ["<bos>", "<eos>"]);
        assert_eq!(v.special_id("<eos>").unwrap(), 3);
        assert!(matches!(v.special_id("<sep>"), Err(Error::Unknown { .. })));
        // min_freq drops d; max_size keeps the 2 best of the rest.
        let v = Vocab::build(seqs.clone(), &[], 2, usize::MAX).unwrap();
        assert_eq!(v.tokens(), ["<pad>", "<unk>", "b", "a", "c"]);
        let v = Vocab::build(seqs.clone(), &[], 0, 4).unwrap();
        assert_eq!(v.tokens(), ["<pad>", "<unk>", "b", "a"]);
        // The same data in another order gives the same vocabulary.
        let rev: Vec<Vec<&str>> = seqs.iter().rev().map(|s| s.iter().rev().copied().collect()).collect();
        assert_eq!(Vocab::build(rev, &[], 0, 4).unwrap(), v);
    }

    #[test]
    fn vocab_errors() {
        let e = Vocab::build([["a"]], &["<bos>"], 1, 2).unwrap_err();
        assert!(matches!(&e, Error::Config { field, .. } if field == "max_size"), "{e:?}");
        assert!(matches!(Vocab::build([["a"]], &["<pad>"], 1, 10), Err(Error::Config { .. })));
        assert!(matches!(Vocab::build([["a"]], &["<s>", "<s>"], 1, 10), Err(Error::Config { .. })));
        assert!(matches!(Vocab::from_tokens(&[], ["x", "y", "x"]), Err(Error::Invalid(_))));
        // Tokens equal to a reserved one are not counted twice.
        assert_eq!(Vocab::build([["<unk>", "a"]], &[], 1, 10).unwrap().len(), 3);
    }

    #[test]
    fn word_splitting_rule() {
        assert_eq!(
            WordTokenizer::tokens("Don't STOP, it's 3.5\u{2019}s \"fine\"!  ok'"),
            ["don't", "stop", ",", "it's", "3", ".", "5\u{2019}s", "\"", "fine", "\"", "!", "ok", "'"]
        );
        assert_eq!(WordTokenizer::tokens("'quoted' rock'n'roll"), ["'", "quoted", "'", "rock'n'roll"]);
        assert_eq!(WordTokenizer::tokens("Élan  VITAL\t\n"), ["élan", "vital"]);
        assert!(WordTokenizer::tokens(" \n").is_empty());
        assert_eq!(CharTokenizer::tokens("Hé y"), ["H", "é", " ", "y"]);
    }

    #[test]
    fn kim_words_follow_clean_str() {
        // Python: clean_str("The film's co-writer/director doesn't (quite) work, \"I'd\" say... 5.5/10?!")
        assert_eq!(
            kim_clean("The film's co-writer/director doesn't (quite) work, \"I'd\" say... 5.5/10?!"),
            "the film 's co writer director does n't  ( quite )  work ,   i 'd  say    5 5 10 ?  ! "
        );
        assert_eq!(
            KimWordTokenizer::tokens("The film's co-writer doesn't work, I'd say... Élan 10?!"),
            [
                "the", "film", "'", "s", "co", "writer", "does", "n't", "work", ",", "i", "'", "d", "say", "lan", "10",
                "?", "!"
            ]
        );
        let t = KimWordTokenizer::fit(["it isn't good", "it wasn't bad"], 2, 100).unwrap();
        assert_eq!(t.vocab().tokens(), ["<pad>", "<unk>", "it", "n't"]);
        let path = temp_path("kim.json");
        t.save(&path).unwrap();
        assert_eq!(KimWordTokenizer::load(&path).unwrap(), t);
        assert!(matches!(WordTokenizer::load(&path), Err(Error::Data { .. })));
        // The run-time choice: same ids as the typed tokenizer, rule read back on load.
        let any = AnyWordTokenizer::fit("kim".parse().unwrap(), ["it isn't good", "it wasn't bad"], 2, 100).unwrap();
        assert_eq!((any.split(), any.vocab(), any.encode("It ISN'T")), (WordSplit::Kim, t.vocab(), vec![2, 1, 3]));
        assert_eq!(AnyWordTokenizer::load(&path).unwrap(), any);
        let words = AnyWordTokenizer::fit(WordSplit::Words, ["it isn't good", "it wasn't bad"], 2, 100).unwrap();
        assert_eq!(words.encode("It ISN'T"), [2, UNK_ID]);
        words.save(&path).unwrap();
        assert_eq!(AnyWordTokenizer::load(&path).unwrap().split(), WordSplit::Words);
        CharTokenizer::fit(["ab"], 1, 10).unwrap().save(&path).unwrap();
        assert!(matches!(AnyWordTokenizer::load(&path), Err(Error::Data { .. })));
        assert!(matches!("kims".parse::<WordSplit>(), Err(Error::Unknown { .. })));
    }

    #[test]
    fn word_tokenizer_encode_decode() {
        let texts = ["The cat sat.", "the dog sat!", "a cat"];
        let t = WordTokenizer::fit(texts, 2, 100).unwrap();
        // <pad> <unk>, then count 2 each: "cat", "sat", "the" (alphabetical among ties).
        assert_eq!(t.vocab().tokens(), ["<pad>", "<unk>", "cat", "sat", "the"]);
        assert_eq!(t.vocab_size(), 5);
        assert_eq!(t.encode("The cat, the END"), [4, 2, UNK_ID, 4, UNK_ID]);
        let e = t.encode_strict("cat end").unwrap_err();
        assert!(matches!(&e, Error::Unknown { kind: "token", value, .. } if value == "end"), "{e:?}");
        assert_eq!(t.encode_strict("Cat SAT").unwrap(), [2, 3]);
        assert_eq!(t.decode(&[4, 2, 3, UNK_ID, PAD_ID, PAD_ID]).unwrap(), "the cat sat <unk>");
        let e = t.decode(&[2, 99]).unwrap_err();
        assert!(matches!(&e, Error::Unknown { kind: "token id", value, .. } if value == "99"), "{e:?}");
        assert_eq!(WordTokenizer::pad_to(&[5, 6, 7], 2), [5, 6]);
        assert_eq!(WordTokenizer::pad_to(&[5], 3), [5, 0, 0]);
        assert_eq!(pad_to(&[], 0), Vec::<usize>::new());
        assert_eq!(WordTokenizer::fit(texts, 1, 4).unwrap().vocab_size(), 4);
        assert!(WordTokenizer::fit(texts, 1, 1).is_err());
        // Owned strings are accepted as well.
        let owned: Vec<String> = texts.iter().map(|s| s.to_string()).collect();
        assert_eq!(WordTokenizer::fit(&owned, 2, 100).unwrap(), t);
    }

    #[test]
    fn char_tokenizer_round_trip_with_specials() {
        let t = CharTokenizer::fit_with_specials(["hello", "world"], &["<bos>", "<eos>"], 1, 1000).unwrap();
        // l 3, o 2, then d e h r w once each.
        assert_eq!(t.vocab().tokens()[4..], ["l", "o", "d", "e", "h", "r", "w"]);
        assert_eq!(t.encode("hold"), [8, 5, 4, 6]);
        assert_eq!(t.decode(&t.encode_strict("lower").unwrap()).unwrap(), "lower");
        assert_eq!(t.encode("Hi!"), [UNK_ID, UNK_ID, UNK_ID]);
        assert!(matches!(t.encode_strict("Hi"), Err(Error::Unknown { value, .. }) if value == "H"));
        let bos = t.vocab().special_id("<bos>").unwrap();
        assert_eq!(t.decode(&[bos, 8, 7]).unwrap(), "<bos>he");
    }

    #[test]
    fn save_load_round_trip_and_errors() {
        let t = CharTokenizer::fit_with_specials(["hello", "world"], &["<eos>"], 1, 1000).unwrap();
        let p = temp_path("chars/vocab.json");
        t.save(&p).unwrap();
        let back = CharTokenizer::load(&p).unwrap();
        assert_eq!(back, t);
        assert_eq!(back.encode("hold"), t.encode("hold"));
        assert_eq!(back.vocab().special_id("<eos>").unwrap(), 2);
        // Loading as the other kind names the file and the field.
        let e = WordTokenizer::load(&p).unwrap_err();
        assert!(matches!(&e, Error::Data { position, .. } if position == "field `kind`"), "{e:?}");
        assert!(e.to_string().contains("vocab.json") && e.to_string().contains("`char`"), "{e}");
        // Truncated JSON, and a vocabulary with a duplicate token: JSON errors naming the file.
        std::fs::write(&p, "{\"kind\": \"char\"").unwrap();
        let e = CharTokenizer::load(&p).unwrap_err();
        assert!(matches!(e, Error::Json { .. }) && e.to_string().contains("vocab.json"), "{e}");
        std::fs::write(&p, r#"{"kind":"char","vocab":{"specials":[],"tokens":["<pad>","<unk>","a","a"]}}"#).unwrap();
        let e = CharTokenizer::load(&p).unwrap_err().to_string();
        assert!(e.contains("vocab.json") && e.contains("appears twice"), "{e}");
        std::fs::write(&p, r#"{"kind":"char","vocab":{"specials":[],"tokens":["<unk>","<pad>","a"]}}"#).unwrap();
        let e = CharTokenizer::load(&p).unwrap_err().to_string();
        assert!(e.contains("the first tokens must be"), "{e}");
        assert!(matches!(CharTokenizer::load(temp_path("missing.json")), Err(Error::Io { .. })));
        std::fs::remove_dir_all(temp_path("")).ok();
    }

    #[test]
    fn real_tinyshakespeare_vocab() {
        let Some(p) = crate::data::test_data("tinyshakespeare", "input.txt") else { return };
        let text = crate::data::text::read_text(&p).unwrap();
        let t = CharTokenizer::fit([&text], 1, usize::MAX).unwrap();
        assert_eq!(t.vocab_size(), 65 + 2);
        // Space is the most frequent character.
        assert_eq!(t.vocab().token(2), Some(" "));
        let head = &text[..200];
        assert_eq!(t.decode(&t.encode_strict(head).unwrap()).unwrap(), head);
    }
}
