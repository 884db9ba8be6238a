//! Dataset readers: files on disk (or bytes compiled into the binary) to plain
//! host-side Rust values, with errors that name the file and the position of
//! any malformed record.
//!
//! Nothing here depends on burn: readers return `Vec`s and small structs, and
//! the family crates turn them into items, batches and tensors. Keeping the
//! parsing backend-free means it can be tested fast, on any machine, and that
//! a malformed file is reported before any device memory is touched.
//!
//! Formats are those of `shared/data/README.md`:
//!
//! | module | format |
//! |---|---|
//! | [`idx`] | gzipped (or raw) IDX, the MNIST layout |
//! | [`text`] | `label<TAB>text` and `source<TAB>target` TSV (optionally gzipped), plain corpora, label sets |
//! | [`timeseries`] | `date-or-index,value` CSV with a header line |
//! | [`tokenizer`] | character and word tokenizers with a frequency-built vocabulary |
//! | [`sequence`] | padded batches of token or real-valued sequences, source/target pairs |
//! | [`split`] | seeded shuffles, train/validation splits, batches of indices |
//! | [`locate`] | where the dataset folders are (`--data`, `$DL_DATA_DIR`, `../shared/data`) |
//!
//! Every reader detects gzip by its magic bytes (`1f 8b`) rather than by the
//! file name, so a file that was gunzipped (or gzipped) by hand still reads.

#[cfg(feature = "fetch")]
pub mod fetch;
pub mod idx;
pub mod image;
pub mod locate;
pub mod sequence;
pub mod split;
pub mod synthetic;
pub mod text;
pub mod timeseries;
pub mod tokenizer;

pub use idx::{
    ImageSet, check_labels, read_idx_images, read_idx_images_from_bytes, read_idx_labels, read_idx_labels_from_bytes,
};
pub use locate::DataDirs;
pub use sequence::{
    NextTokenBatcher, PairBatcher, PairItem, Seq2SeqBatch, SequenceBatch, SequenceInput, SequenceTarget, SeriesBatcher,
    SeriesSequence, TokenSequence, TokenSequenceBatcher, check_ids_below, check_lengths, ids_below,
};
pub use split::{SplitRng, batches, shuffle, shuffled_indices, train_valid_split};
pub use text::{LabelSet, WordClassData, read_labeled_tsv, read_parallel_tsv, read_text};
pub use timeseries::{Series, read_complete_series_csv, read_series_csv};
pub use tokenizer::{
    AnyWordTokenizer, CharTokenizer, KimWordTokenizer, PAD_ID, UNK_ID, Vocab, WordSplit, WordTokenizer, pad_to,
};

use std::borrow::Cow;
use std::io::Read;
use std::path::Path;

use crate::{Error, Result};

/// The two bytes every gzip stream starts with.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Reads a whole file, gunzipping it when it starts with the gzip magic.
///
/// Errors name the file: an [`Error::Io`] when it cannot be read, an
/// [`Error::Data`] when it looks like gzip but the stream is corrupt.
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|e| Error::io("reading", path, e))?;
    gunzip_if_needed(raw, path)
}

/// Gunzips `raw` if it starts with the gzip magic `1f 8b`, else returns it as is.
///
/// `name` (a path, or a label such as `embedded digits8x8/train-images`)
/// appears in errors. Concatenated gzip members are read as one stream, as
/// `gzip -d` does. A corrupt stream is reported at the offset reached in the
/// *decompressed* data, the only position a streaming decoder can give.
pub fn gunzip_if_needed(raw: Vec<u8>, name: impl AsRef<Path>) -> Result<Vec<u8>> {
    match gunzip_slice(&raw, name.as_ref())? {
        Cow::Owned(out) => Ok(out),
        Cow::Borrowed(_) => Ok(raw),
    }
}

/// Like [`gunzip_if_needed`] on borrowed bytes: raw input is not copied, which
/// matters for data embedded with `include_bytes!`.
pub(crate) fn gunzip_slice<'a>(raw: &'a [u8], name: &Path) -> Result<Cow<'a, [u8]>> {
    let limit = crate::memory::read_budget();
    gunzip_within(raw, name, limit)
}

/// [`gunzip_slice`] that stops with an error once the output passes `limit`
/// bytes (half the memory available): a small file that decompresses to
/// gigabytes (a gzip bomb) is refused before it exhausts the machine.
fn gunzip_within<'a>(raw: &'a [u8], name: &Path, limit: u64) -> Result<Cow<'a, [u8]>> {
    if !raw.starts_with(&GZIP_MAGIC) {
        return Ok(Cow::Borrowed(raw));
    }
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(raw).take(limit.saturating_add(1)).read_to_end(&mut out).map_err(|e| {
        Error::data(name, format!("byte {} of the decompressed data", out.len()), format!("corrupt gzip stream: {e}"))
    })?;
    if out.len() as u64 > limit {
        return Err(Error::data(
            name,
            format!("byte {limit} of the decompressed data"),
            format!(
                "decompresses to more than {} (half the memory available): a gzip bomb or a file too large here",
                crate::memory::human(limit)
            ),
        ));
    }
    Ok(Cow::Owned(out))
}

/// Decodes UTF-8, reporting invalid bytes by line number and byte offset.
///
/// A leading byte-order mark is dropped: some editors add one, and it would
/// otherwise stick to the first label, header or token.
pub(crate) fn utf8_text(bytes: Vec<u8>, name: &Path) -> Result<String> {
    match String::from_utf8(bytes) {
        Ok(mut text) => {
            if text.starts_with('\u{feff}') {
                text.drain(..'\u{feff}'.len_utf8());
            }
            Ok(text)
        }
        Err(e) => {
            let bad = e.utf8_error().valid_up_to();
            let line = e.as_bytes()[..bad].iter().filter(|&&b| b == b'\n').count() + 1;
            Err(Error::data(name, format!("line {line} (byte {bad})"), "invalid UTF-8"))
        }
    }
}

#[cfg(test)]
pub(crate) use crate::testing::data_file as test_data;

#[cfg(test)]
mod fuzz;

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) use crate::testing::gzip as gz;

    #[test]
    fn gzip_is_detected_by_magic() {
        assert_eq!(gunzip_if_needed(b"plain".to_vec(), "p").unwrap(), b"plain");
        assert_eq!(gunzip_if_needed(gz(b"zipped"), "z").unwrap(), b"zipped");
        // Two concatenated members read as one stream, like `gzip -d`.
        let mut two = gz(b"ab");
        two.extend(gz(b"cd"));
        assert_eq!(gunzip_if_needed(two, "two").unwrap(), b"abcd");
    }

    #[test]
    fn output_beyond_the_limit_is_refused() {
        let zeros = gz(&vec![0u8; 1 << 20]);
        assert_eq!(gunzip_within(&zeros, Path::new("ok.gz"), 1 << 20).unwrap().len(), 1 << 20);
        let e = gunzip_within(&zeros, Path::new("bomb.tsv.gz"), 1000).unwrap_err().to_string();
        assert!(e.contains("bomb.tsv.gz") && e.contains("byte 1000") && e.contains("more than 1.0 KB"), "{e}");
    }

    #[test]
    fn corrupt_gzip_names_the_file() {
        let mut bad = gz(&[7u8; 1000]);
        bad.truncate(bad.len() / 2);
        let e = gunzip_if_needed(bad, "half.gz").unwrap_err();
        assert!(matches!(e, Error::Data { .. }), "{e:?}");
        let msg = e.to_string();
        assert!(msg.contains("half.gz") && msg.contains("gzip"), "{msg}");
    }

    #[test]
    fn utf8_errors_give_line_and_byte() {
        let e = utf8_text(b"ok\nfine\nbad \xff here".to_vec(), Path::new("u.txt")).unwrap_err().to_string();
        assert!(e.contains("u.txt") && e.contains("line 3") && e.contains("byte 12"), "{e}");
        assert_eq!(utf8_text("\u{feff}a\tb".as_bytes().to_vec(), Path::new("bom")).unwrap(), "a\tb");
    }

    #[test]
    fn missing_file_is_an_io_error_naming_it() {
        let e = read_maybe_gz(Path::new("/nonexistent/dl-core/x.gz")).unwrap_err();
        assert!(matches!(e, Error::Io { .. }));
        assert!(e.to_string().contains("/nonexistent/dl-core/x.gz"));
    }
}
