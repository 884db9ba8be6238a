//! Text files: `label<TAB>text` classification TSVs, `source<TAB>target`
//! parallel corpora (both optionally gzipped), plain corpora, and label sets.

use std::collections::BTreeSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::read_maybe_gz;
use crate::{Error, Result};

fn read_utf8(path: &Path) -> Result<String> {
    let bytes = read_maybe_gz(path)?;
    String::from_utf8(bytes)
        .map_err(|e| Error::data(path, format!("byte {}", e.utf8_error().valid_up_to()), "invalid UTF-8"))
}

fn read_pairs(path: &Path) -> Result<Vec<(String, String)>> {
    let text = read_utf8(path)?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.is_empty() {
            continue;
        }
        let (a, b) =
            line.split_once('\t').ok_or_else(|| Error::data(path, format!("line {}", i + 1), "no TAB separator"))?;
        out.push((a.to_string(), b.to_string()));
    }
    Ok(out)
}

/// Reads `label<TAB>text` lines (`.gz` detected by content). Empty lines are skipped.
pub fn read_labeled_tsv(path: &Path) -> Result<Vec<(String, String)>> {
    read_pairs(path)
}

/// Reads `source<TAB>target` lines of a parallel corpus.
pub fn read_parallel_tsv(path: &Path) -> Result<Vec<(String, String)>> {
    read_pairs(path)
}

/// Reads a whole UTF-8 text corpus.
pub fn read_text(path: &Path) -> Result<String> {
    read_utf8(path)
}

/// The class names of a dataset, sorted, with ids `0..len`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelSet {
    names: Vec<String>,
}

impl LabelSet {
    /// The sorted distinct labels of `labels`.
    pub fn from_labels<'a>(labels: impl IntoIterator<Item = &'a str>) -> Self {
        let set: BTreeSet<&str> = labels.into_iter().collect();
        Self { names: set.into_iter().map(str::to_string).collect() }
    }

    /// The id of `label`; an unseen label is an [`Error::Unknown`].
    pub fn id(&self, label: &str) -> Result<usize> {
        self.names.binary_search_by(|n| n.as_str().cmp(label)).map_err(|_| Error::Unknown {
            kind: "label",
            value: label.to_string(),
            context: format!("label set {:?}", self.names),
        })
    }

    /// The name of class `id`.
    pub fn name(&self, id: usize) -> Option<&str> {
        self.names.get(id).map(String::as_str)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsv_and_labels() {
        let dir = std::env::temp_dir().join(format!("dl-core-text-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("a.tsv");
        std::fs::write(&p, "spam\tWin now\nham\tsee you\n\nham\tok").unwrap();
        let rows = read_labeled_tsv(&p).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0], ("spam".to_string(), "Win now".to_string()));
        let labels = LabelSet::from_labels(rows.iter().map(|r| r.0.as_str()));
        assert_eq!(labels.len(), 2);
        assert_eq!(labels.id("ham").unwrap(), 0);
        assert_eq!(labels.name(1), Some("spam"));
        assert!(matches!(labels.id("eggs"), Err(Error::Unknown { .. })));
        std::fs::write(&p, "spam\tWin now\nno tab here\n").unwrap();
        let e = read_labeled_tsv(&p).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("a.tsv"), "{e}");
    }

    #[test]
    fn real_sms_spam_when_present() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/sms-spam/train.tsv");
        if !p.is_file() {
            eprintln!("skipped: {} absent", p.display());
            return;
        }
        let rows = read_labeled_tsv(&p).unwrap();
        assert_eq!(rows.len(), 4457);
        assert_eq!(rows.iter().filter(|r| r.0 == "spam").count(), 599);
    }
}
