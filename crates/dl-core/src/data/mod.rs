//! Dataset readers: files to host-side examples, with errors that name the
//! file and the position of any malformed record.
//!
//! Formats are those of `shared/data/README.md`: gzipped IDX (MNIST layout),
//! `label<TAB>text` TSV (optionally gzipped), CSV time series, 16-bit PCM WAV
//! inside `.tar.gz` archives. Readers return plain Rust values; family crates
//! turn them into items and batches.

pub mod audio;
pub mod idx;
pub mod locate;
pub mod split;
pub mod text;
pub mod timeseries;
pub mod tokenizer;

use std::io::Read;
use std::path::Path;

use crate::{Error, Result};

/// Reads a whole file, transparently gunzipping it when it starts with the gzip magic.
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|e| Error::io("reading", path, e))?;
    gunzip_if_needed(raw, path)
}

/// Gunzips `raw` if it starts with the gzip magic `1f 8b`; `name` is used in errors.
pub fn gunzip_if_needed(raw: Vec<u8>, name: impl AsRef<Path>) -> Result<Vec<u8>> {
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| Error::data(name, format!("gzip stream (byte {})", out.len()), e))?;
        Ok(out)
    } else {
        Ok(raw)
    }
}
