//! The IDX format of MNIST: a 4-byte magic `00 00 08 <ndim>` (0x08 = u8),
//! `ndim` big-endian u32 sizes, then the bytes row-major. Gzipped or raw.

use std::path::Path;

use super::{gunzip_if_needed, read_maybe_gz};
use crate::{Error, Result};

/// A set of `n` grayscale images of `rows x cols` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSet {
    /// Number of images.
    pub n: usize,
    /// Image height.
    pub rows: usize,
    /// Image width.
    pub cols: usize,
    /// `n * rows * cols` pixel bytes, image after image.
    pub pixels: Vec<u8>,
}

impl ImageSet {
    /// Pixels of image `i` (`rows * cols` bytes). Panics only if `i >= n`, like slice indexing.
    pub fn image(&self, i: usize) -> &[u8] {
        let s = self.rows * self.cols;
        &self.pixels[i * s..(i + 1) * s]
    }
}

fn parse<'a>(bytes: &'a [u8], name: &Path, ndim: u8) -> Result<(Vec<usize>, &'a [u8])> {
    if bytes.len() < 4 {
        return Err(Error::data(name, "byte 0", "file shorter than the 4-byte IDX magic"));
    }
    if bytes[0] != 0 || bytes[1] != 0 || bytes[2] != 0x08 || bytes[3] != ndim {
        return Err(Error::data(
            name,
            "byte 0",
            format!(
                "magic {:02x}{:02x}{:02x}{:02x}, expected 000008{:02x} (u8 data, {ndim} dims)",
                bytes[0], bytes[1], bytes[2], bytes[3], ndim
            ),
        ));
    }
    let header = 4 + 4 * ndim as usize;
    if bytes.len() < header {
        return Err(Error::data(name, format!("byte {}", bytes.len()), "truncated header"));
    }
    let dims: Vec<usize> = (0..ndim as usize)
        .map(|d| u32::from_be_bytes([bytes[4 + 4 * d], bytes[5 + 4 * d], bytes[6 + 4 * d], bytes[7 + 4 * d]]) as usize)
        .collect();
    let expected = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| Error::data(name, "header", "sizes overflow"))?;
    let body = &bytes[header..];
    if body.len() < expected {
        return Err(Error::data(
            name,
            format!("byte {}", bytes.len()),
            format!("truncated: dims {dims:?} need {expected} data bytes, found {}", body.len()),
        ));
    }
    if body.len() > expected {
        return Err(Error::data(
            name,
            format!("byte {}", header + expected),
            format!("{} bytes after the data", body.len() - expected),
        ));
    }
    Ok((dims, body))
}

/// Reads an images file (`idx3`, dims N x rows x cols).
pub fn read_idx_images(path: &Path) -> Result<ImageSet> {
    read_idx_images_from_bytes(&read_maybe_gz(path)?, &path.display().to_string())
}

/// Reads a labels file (`idx1`, dim N).
pub fn read_idx_labels(path: &Path) -> Result<Vec<u8>> {
    read_idx_labels_from_bytes(&read_maybe_gz(path)?, &path.display().to_string())
}

/// Like [`read_idx_images`] on bytes in memory (gzipped or raw); `name` appears in errors.
pub fn read_idx_images_from_bytes(bytes: &[u8], name: &str) -> Result<ImageSet> {
    let bytes = gunzip_if_needed(bytes.to_vec(), name)?;
    let (dims, body) = parse(&bytes, Path::new(name), 3)?;
    Ok(ImageSet { n: dims[0], rows: dims[1], cols: dims[2], pixels: body.to_vec() })
}

/// Like [`read_idx_labels`] on bytes in memory (gzipped or raw); `name` appears in errors.
pub fn read_idx_labels_from_bytes(bytes: &[u8], name: &str) -> Result<Vec<u8>> {
    let bytes = gunzip_if_needed(bytes.to_vec(), name)?;
    let (_, body) = parse(&bytes, Path::new(name), 1)?;
    Ok(body.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx3(n: u32, r: u32, c: u32, data: &[u8]) -> Vec<u8> {
        let mut v = vec![0, 0, 8, 3];
        for d in [n, r, c] {
            v.extend(d.to_be_bytes());
        }
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn reads_raw_and_gz() {
        let raw = idx3(2, 1, 2, &[1, 2, 3, 4]);
        let set = read_idx_images_from_bytes(&raw, "t").unwrap();
        assert_eq!((set.n, set.rows, set.cols), (2, 1, 2));
        assert_eq!(set.image(1), &[3, 4]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, &raw).unwrap();
        assert_eq!(read_idx_images_from_bytes(&gz.finish().unwrap(), "t").unwrap(), set);
        assert_eq!(read_idx_labels_from_bytes(&[0, 0, 8, 1, 0, 0, 0, 2, 7, 9], "l").unwrap(), vec![7, 9]);
    }

    #[test]
    fn malformed_files_are_errors_with_positions() {
        let e = read_idx_images_from_bytes(&idx3(2, 1, 2, &[1, 2, 3]), "trunc").unwrap_err().to_string();
        assert!(e.contains("trunc") && e.contains("truncated"), "{e}");
        let e = read_idx_labels_from_bytes(&idx3(1, 1, 1, &[0]), "lab").unwrap_err().to_string();
        assert!(e.contains("magic"), "{e}");
        assert!(read_idx_labels_from_bytes(&[0, 0], "short").is_err());
        assert!(read_idx_images(Path::new("/nonexistent/x.gz")).unwrap_err().to_string().contains("/nonexistent/x.gz"));
    }

    #[test]
    fn real_digits_when_present() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/digits8x8");
        let set = read_idx_images(&dir.join("train-images-idx3-ubyte.gz")).unwrap();
        assert_eq!((set.n, set.rows, set.cols), (1437, 8, 8));
        assert!(set.pixels.iter().all(|&p| p <= 16));
        let labels = read_idx_labels(&dir.join("t10k-labels-idx1-ubyte.gz")).unwrap();
        assert_eq!(labels.len(), 360);
    }
}
