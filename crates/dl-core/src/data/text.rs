//! Text files: `label<TAB>text` classification TSVs, `source<TAB>target`
//! parallel corpora (both optionally gzipped), plain corpora, and label sets.
//!
//! The TSVs of `shared/data` have no header, no quoting and exactly one TAB
//! per line (texts never contain a TAB or a newline), so a line with no TAB or
//! with two is not "a text with a tab in it" but a malformed file (say, a
//! three-column export), and is reported with its line number rather than
//! guessed at.

use std::collections::BTreeSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::split::train_valid_split;
use super::tokenizer::{AnyWordTokenizer, WordSplit};
use super::{read_maybe_gz, utf8_text};
use crate::{Error, Result};

/// Reads a UTF-8 file, gunzipped if it starts with the gzip magic.
fn read_utf8(path: &Path) -> Result<String> {
    utf8_text(read_maybe_gz(path)?, path)
}

/// Splits every non-empty line into its two TAB-separated fields.
///
/// `first` names the first field in errors ("label", "source"). Empty lines
/// (such as the final newline) are skipped; `\r\n` line ends are accepted.
fn read_pairs(path: &Path, first: &str, second: &str) -> Result<Vec<(String, String)>> {
    Ok(read_numbered_pairs(path, first, second)?.into_iter().map(|(_, a, b)| (a, b)).collect())
}

/// [`read_pairs`] with each row's line number (1-based).
fn read_numbered_pairs(path: &Path, first: &str, second: &str) -> Result<Vec<(usize, String, String)>> {
    let text = read_utf8(path)?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.is_empty() {
            continue;
        }
        let at = || format!("line {}", i + 1);
        let (a, b) = line
            .split_once('\t')
            .ok_or_else(|| Error::data(path, at(), format!("no TAB separator: expected `{first}<TAB>{second}`")))?;
        if b.contains('\t') {
            return Err(Error::data(path, at(), format!("more than one TAB: expected `{first}<TAB>{second}`")));
        }
        if a.trim().is_empty() {
            return Err(Error::data(path, at(), format!("empty {first}")));
        }
        out.push((i + 1, a.to_string(), b.to_string()));
    }
    Ok(out)
}

/// Reads `label<TAB>text` lines (gzip detected by content), in file order.
///
/// Empty lines are skipped. A line without a TAB, with more than one, or with
/// an empty label is an [`Error::Data`] naming the file and the line number.
/// The text may be empty (it is a valid, if useless, example).
pub fn read_labeled_tsv(path: impl AsRef<Path>) -> Result<Vec<(String, String)>> {
    read_pairs(path.as_ref(), "label", "text")
}

/// Reads `source<TAB>target` lines of a parallel corpus (gzip detected by
/// content), in file order, with the same checks as [`read_labeled_tsv`].
pub fn read_parallel_tsv(path: impl AsRef<Path>) -> Result<Vec<(String, String)>> {
    read_pairs(path.as_ref(), "source", "target")
}

/// Reads a whole UTF-8 text corpus (gzip detected by content).
///
/// Invalid UTF-8 is an error with its line and byte offset, rather than being
/// replaced, so a character-level model never learns a `U+FFFD` that is not in
/// the text.
pub fn read_text(path: impl AsRef<Path>) -> Result<String> {
    read_utf8(path.as_ref())
}

/// The class names of a dataset, sorted, with ids `0..len`.
///
/// Sorting (rather than numbering in order of first appearance) makes the ids
/// independent of the order of the rows, so a model trained on a shuffled
/// file still agrees with one trained on the original.
///
/// Serialised as `{"names": [...]}`; deserialising rejects names that are not
/// strictly sorted, since the ids of a saved model must not be silently
/// renumbered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "LabelSetFile", into = "LabelSetFile")]
pub struct LabelSet {
    names: Vec<String>,
}

/// The JSON form of a [`LabelSet`].
#[derive(Serialize, Deserialize)]
struct LabelSetFile {
    names: Vec<String>,
}

impl From<LabelSet> for LabelSetFile {
    fn from(l: LabelSet) -> Self {
        LabelSetFile { names: l.names }
    }
}

impl TryFrom<LabelSetFile> for LabelSet {
    type Error = String;

    fn try_from(f: LabelSetFile) -> std::result::Result<Self, String> {
        match f.names.windows(2).find(|w| w[0] >= w[1]) {
            Some(w) => Err(format!("label names must be sorted and distinct: {:?} comes before {:?}", w[0], w[1])),
            None => Ok(LabelSet { names: f.names }),
        }
    }
}

impl LabelSet {
    /// The sorted distinct labels of `labels`.
    pub fn from_labels<S: AsRef<str>>(labels: impl IntoIterator<Item = S>) -> Self {
        let set: BTreeSet<String> = labels.into_iter().map(|l| l.as_ref().to_string()).collect();
        Self { names: set.into_iter().collect() }
    }

    /// The id of `label`; a label not seen when the set was built (say, in
    /// the test split only) is an [`Error::Unknown`].
    pub fn id(&self, label: &str) -> Result<usize> {
        self.names.binary_search_by(|n| n.as_str().cmp(label)).map_err(|_| Error::Unknown {
            kind: "label",
            value: label.to_string(),
            context: format!("the label set {:?}", self.names),
        })
    }

    /// The name of class `id`; an id out of range is an [`Error::Unknown`].
    pub fn name(&self, id: usize) -> Result<&str> {
        self.names.get(id).map(String::as_str).ok_or_else(|| Error::Unknown {
            kind: "class id",
            value: id.to_string(),
            context: format!("a label set of {} classes", self.names.len()),
        })
    }

    /// All class names, in id order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Number of classes.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether there are no classes.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// A `label<TAB>text` classification dataset (`train.tsv`, `test.tsv` in one
/// folder) as word ids, ready for a text classifier: the tokenizer and the
/// label set come from the training file only (a test word or label never
/// leaks into them), and a seeded fraction of the training rows is held out
/// for validation.
#[derive(Debug, Clone)]
pub struct WordClassData {
    /// The fitted tokenizer (save it next to the model).
    pub tokenizer: AnyWordTokenizer,
    /// The labels of the training file, sorted.
    pub labels: LabelSet,
    /// Training examples as (token ids, class id).
    pub train: Vec<(Vec<usize>, usize)>,
    /// The held-out part of the training file.
    pub valid: Vec<(Vec<usize>, usize)>,
    /// The test file.
    pub test: Vec<(Vec<usize>, usize)>,
}

impl WordClassData {
    /// Reads `dir/train.tsv` and `dir/test.tsv`, fits a `split` tokenizer
    /// (words seen fewer than `min_freq` times become `<unk>`, at most
    /// `max_vocab` ids) and holds out `valid_fraction` of the training rows,
    /// shuffled by `seed`. A file without rows, and a test label absent from
    /// training, are [`Error::Data`] naming the file (and the line).
    pub fn load(
        dir: &Path,
        split: WordSplit,
        min_freq: usize,
        max_vocab: usize,
        valid_fraction: f64,
        seed: u64,
    ) -> Result<Self> {
        let (train_path, test_path) = (dir.join("train.tsv"), dir.join("test.tsv"));
        let train_rows = read_numbered_pairs(&train_path, "label", "text")?;
        let test_rows = read_numbered_pairs(&test_path, "label", "text")?;
        for (path, rows) in [(&train_path, &train_rows), (&test_path, &test_rows)] {
            if rows.is_empty() {
                return Err(Error::data(path, "line 1", "no `label<TAB>text` rows"));
            }
        }
        let labels = LabelSet::from_labels(train_rows.iter().map(|(_, l, _)| l.as_str()));
        let tokenizer =
            AnyWordTokenizer::fit(split, train_rows.iter().map(|(_, _, t)| t.as_str()), min_freq, max_vocab)?;
        let encode = |path: &Path, rows: &[(usize, String, String)]| -> Result<Vec<(Vec<usize>, usize)>> {
            rows.iter()
                .map(|(line, l, t)| {
                    let id = labels.id(l).map_err(|_| {
                        Error::data(
                            path,
                            format!("line {line}"),
                            format!("label `{l}` does not occur in {}", train_path.display()),
                        )
                    })?;
                    Ok((tokenizer.encode(t), id))
                })
                .collect()
        };
        let mut all_train = encode(&train_path, &train_rows)?;
        let test = encode(&test_path, &test_rows)?;
        let (tr_idx, va_idx) = train_valid_split(all_train.len(), valid_fraction, seed)?;
        let valid = va_idx.iter().map(|&i| std::mem::take(&mut all_train[i])).collect();
        let train = tr_idx.iter().map(|&i| std::mem::take(&mut all_train[i])).collect();
        Ok(WordClassData { tokenizer, labels, train, valid, test })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::test_data;

    /// A fresh file `name` holding `bytes` in a per-test temporary folder.
    fn temp_file(test: &str, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("dl-core-text-{test}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn pair(a: &str, b: &str) -> (String, String) {
        (a.to_string(), b.to_string())
    }

    #[test]
    fn word_class_data_fits_on_train_only() {
        let dir = temp_file("wcd", "train.tsv", b"pos\tit isn't bad\nneg\tit isn't good\npos\tgood good\nneg\tbad\n");
        let dir = dir.parent().unwrap().to_path_buf();
        std::fs::write(dir.join("test.tsv"), b"neg\tnot good, zebra\n").unwrap();
        let d = WordClassData::load(&dir, WordSplit::Kim, 1, 100, 0.25, 7).unwrap();
        assert_eq!(d.labels.names(), ["neg", "pos"]);
        assert_eq!((d.train.len(), d.valid.len()), (3, 1));
        assert_eq!(d.tokenizer.vocab().id("zebra"), None);
        assert_eq!(d.test, [(d.tokenizer.encode("not good , zebra"), 0)]);
        let mut all: Vec<_> = d.train.iter().chain(&d.valid).map(|(ids, _)| d.tokenizer.decode(ids).unwrap()).collect();
        all.sort();
        assert_eq!(all, ["bad", "good good", "it is n't bad", "it is n't good"]);
        std::fs::write(dir.join("test.tsv"), b"pos\tfine\n\nmeh\tokay\n").unwrap();
        let e = WordClassData::load(&dir, WordSplit::Words, 1, 100, 0.25, 7).unwrap_err().to_string();
        assert!(e.contains("test.tsv") && e.contains("line 3") && e.contains("`meh` does not occur in"), "{e}");
        std::fs::write(dir.join("test.tsv"), b"\n").unwrap();
        let e = WordClassData::load(&dir, WordSplit::Words, 1, 100, 0.25, 7).unwrap_err().to_string();
        assert!(e.contains("test.tsv") && e.contains("no `label<TAB>text` rows"), "{e}");
    }

    #[test]
    fn reads_labeled_rows_skipping_blank_lines() {
        let p = temp_file("rows", "a.tsv", b"spam\tWin now\r\nham\tsee you\n\nham\t\n");
        let rows = read_labeled_tsv(&p).unwrap();
        assert_eq!(rows, vec![pair("spam", "Win now"), pair("ham", "see you"), pair("ham", "")]);
    }

    #[test]
    fn gzipped_tsv_is_detected_by_content() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut enc, "Go.\tVa !\nHi.\tSalut !\n".as_bytes()).unwrap();
        // No `.gz` in the name on purpose.
        let p = temp_file("gz", "pairs.tsv", &enc.finish().unwrap());
        assert_eq!(read_parallel_tsv(&p).unwrap(), vec![pair("Go.", "Va !"), pair("Hi.", "Salut !")]);
    }

    #[test]
    fn malformed_lines_name_file_and_line() {
        let p = temp_file("bad", "b.tsv", b"spam\tWin now\nno tab here\n");
        let e = read_labeled_tsv(&p).unwrap_err();
        assert!(matches!(&e, Error::Data { position, .. } if position == "line 2"), "{e:?}");
        let msg = e.to_string();
        assert!(msg.contains("b.tsv") && msg.contains("no TAB"), "{msg}");

        let p = temp_file("bad", "c.tsv", b"a\tb\n\na\tb\tc\n");
        let e = read_parallel_tsv(&p).unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("more than one TAB"), "{e}");

        let p = temp_file("bad", "d.tsv", b"\ttext without label\n");
        let e = read_labeled_tsv(&p).unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("empty label"), "{e}");

        let p = temp_file("bad", "e.tsv", b"ham\tok\nham\tbad \xc3\n");
        let e = read_labeled_tsv(&p).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("UTF-8"), "{e}");

        assert!(matches!(read_text("/nonexistent/dl-core/t.txt"), Err(Error::Io { .. })));
    }

    #[test]
    fn read_text_keeps_everything() {
        let p = temp_file("text", "t.txt", "Call me Ishmael \u{2014} \u{201c}x\u{201d}\n\n".as_bytes());
        assert_eq!(read_text(&p).unwrap(), "Call me Ishmael \u{2014} \u{201c}x\u{201d}\n\n");
    }

    #[test]
    fn label_set_ids_are_sorted_and_checked() {
        let labels = LabelSet::from_labels(["spam", "ham", "spam", "eggs"]);
        assert_eq!(labels.len(), 3);
        assert_eq!(labels.names(), ["eggs", "ham", "spam"]);
        assert_eq!(labels.id("eggs").unwrap(), 0);
        assert_eq!(labels.id("spam").unwrap(), 2);
        assert_eq!(labels.name(1).unwrap(), "ham");
        let e = labels.id("bacon").unwrap_err();
        assert!(matches!(&e, Error::Unknown { kind: "label", value, .. } if value == "bacon"), "{e:?}");
        assert!(matches!(labels.name(3), Err(Error::Unknown { kind: "class id", .. })));
        // Owned strings work too, and the order of the input does not matter.
        assert_eq!(LabelSet::from_labels(vec!["spam".to_string(), "eggs".into(), "ham".into()]), labels);
        assert!(LabelSet::from_labels(Vec::<&str>::new()).is_empty());
        let json = serde_json::to_string(&labels).unwrap();
        assert_eq!(json, r#"{"names":["eggs","ham","spam"]}"#);
        assert_eq!(serde_json::from_str::<LabelSet>(&json).unwrap(), labels);
        let e = serde_json::from_str::<LabelSet>(r#"{"names":["spam","ham"]}"#).unwrap_err().to_string();
        assert!(e.contains("sorted"), "{e}");
    }

    #[test]
    fn real_sms_spam() {
        let Some(p) = test_data("sms-spam", "train.tsv") else { return };
        let rows = read_labeled_tsv(&p).unwrap();
        assert_eq!(rows.len(), 4457);
        assert_eq!(rows.iter().filter(|r| r.0 == "spam").count(), 599);
        let labels = LabelSet::from_labels(rows.iter().map(|r| r.0.as_str()));
        assert_eq!(labels.names(), ["ham", "spam"]);
    }

    #[test]
    fn real_gzipped_corpora() {
        if let Some(p) = test_data("fra-eng", "test.tsv.gz") {
            let pairs = read_parallel_tsv(&p).unwrap();
            assert_eq!(pairs.len(), 6995);
            assert_eq!(pairs[0], pair("Go.", "Va !"));
        }
        if let Some(p) = test_data("fine-foods", "train.tsv.gz") {
            let rows = read_labeled_tsv(&p).unwrap();
            assert_eq!(rows.len(), 4000);
            assert_eq!(rows.iter().filter(|r| r.0 == "great").count(), 2600);
        }
        if let Some(p) = test_data("tinyshakespeare", "input.txt") {
            let text = read_text(&p).unwrap();
            assert_eq!(text.chars().count(), 1_115_394);
            assert_eq!(text.chars().collect::<BTreeSet<_>>().len(), 65);
        }
    }
}
