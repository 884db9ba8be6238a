//! The IDX format of MNIST: a 4-byte magic `00 00 08 <ndim>` (`08` = unsigned
//! bytes), `ndim` big-endian `u32` sizes, then the bytes in row-major order.
//!
//! Files may be gzipped or raw (gzip is detected by its magic `1f 8b`, not by
//! the name), so the `.gz` files of `shared/data` and hand-gunzipped copies
//! read alike. The header is checked against the byte length in both
//! directions: a truncated download and a file with trailing garbage are both
//! errors, because either one would silently shift or drop examples.

use std::io::Read;
use std::path::Path;

use crate::{Error, Result};

/// Magic of an images file: unsigned bytes, 3 dimensions (N, rows, cols).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic of a labels file: unsigned bytes, 1 dimension (N).
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// `n` grayscale images of `rows x cols` bytes, stored one after the other.
///
/// Pixels stay `u8` (0..255 for MNIST, 0..16 for digits8x8): scaling is the
/// model's business, and bytes are 4x smaller than `f32` in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSet {
    /// Number of images.
    pub n: usize,
    /// Image height.
    pub rows: usize,
    /// Image width.
    pub cols: usize,
    /// `n * rows * cols` pixel bytes, image after image, each row-major.
    pub pixels: Vec<u8>,
}

impl ImageSet {
    /// Bytes per image (`rows * cols`).
    pub fn image_len(&self) -> usize {
        self.rows * self.cols
    }

    /// Pixels of image `i` (`rows * cols` bytes, row-major).
    ///
    /// Panics if `i >= n`, exactly like slice indexing: an index is the
    /// caller's, not the file's. Use [`ImageSet::get`] for a checked lookup.
    pub fn image(&self, i: usize) -> &[u8] {
        let s = self.image_len();
        &self.pixels[i * s..(i + 1) * s]
    }

    /// Pixels of image `i`, or `None` if `i >= n`.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        (i < self.n).then(|| self.image(i))
    }
}

/// Most trailing bytes counted after the data before giving up counting.
const TRAILING_COUNTED: u64 = 1 << 20;

/// Reads the header from `raw` (gzipped or not) as a stream, checks it, then
/// reads exactly the bytes it declares and checks that nothing follows: a
/// gzip bomb behind a valid header is stopped after its declared size, and
/// a header declaring more than the machine's memory is refused before
/// anything is allocated. Returns the sizes and the data bytes.
fn parse(raw: &[u8], name: &Path, magic: u32) -> Result<(Vec<usize>, Vec<u8>)> {
    let gzipped = raw.starts_with(&super::GZIP_MAGIC);
    let mut stream: Box<dyn Read + '_> =
        if gzipped { Box::new(flate2::read::MultiGzDecoder::new(raw)) } else { Box::new(raw) };
    let corrupt = |at: usize, e: std::io::Error| {
        Error::data(name, format!("byte {at} of the decompressed data"), format!("corrupt gzip stream: {e}"))
    };
    let ndim = (magic & 0xff) as usize;
    let header = 4 + 4 * ndim;
    let mut head = Vec::with_capacity(header);
    (&mut stream).take(header as u64).read_to_end(&mut head).map_err(|e| corrupt(head.len(), e))?;
    let Some(first) = head.first_chunk::<4>() else {
        return Err(Error::data(
            name,
            format!("byte {}", head.len()),
            format!("file has {} bytes, shorter than the 4-byte IDX magic", head.len()),
        ));
    };
    let found = u32::from_be_bytes(*first);
    if found != magic {
        let what = match found {
            IMAGES_MAGIC => " (an images file)",
            LABELS_MAGIC => " (a labels file)",
            _ => "",
        };
        return Err(Error::data(
            name,
            "byte 0",
            format!("IDX magic is 0x{found:08x}{what}, expected 0x{magic:08x} (unsigned bytes, {ndim} dimension(s))"),
        ));
    }
    if head.len() < header {
        return Err(Error::data(
            name,
            format!("byte {}", head.len()),
            format!("truncated header: {ndim} sizes need {header} bytes, the file has {}", head.len()),
        ));
    }
    let dims: Vec<usize> =
        head[4..].chunks_exact(4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize).collect();
    let expected = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| Error::data(name, "byte 4", format!("sizes {dims:?} overflow")))?;
    if let Some(m) = crate::memory::shortfall(expected as u64) {
        return Err(Error::data(name, "byte 4", format!("the data of sizes {dims:?} {m}")));
    }
    // Grows with the bytes that arrive, never to a size only the header claims.
    let mut body = Vec::new();
    (&mut stream).take(expected as u64).read_to_end(&mut body).map_err(|e| corrupt(header + body.len(), e))?;
    if body.len() < expected {
        return Err(Error::data(
            name,
            format!("byte {}", header + body.len()),
            format!(
                "truncated: sizes {dims:?} need {expected} data bytes after the {header}-byte header, found {}",
                body.len()
            ),
        ));
    }
    let extra = std::io::copy(&mut stream.take(TRAILING_COUNTED), &mut std::io::sink())
        .map_err(|e| corrupt(header + expected, e))?;
    if extra > 0 {
        let at_least = if extra == TRAILING_COUNTED { "at least " } else { "" };
        return Err(Error::data(
            name,
            format!("byte {}", header + expected),
            format!("{at_least}{extra} unexpected bytes after the data of sizes {dims:?}"),
        ));
    }
    Ok((dims, body))
}

/// Reads an images file (magic `0x00000803`, sizes N x rows x cols), gzipped or raw.
pub fn read_idx_images(path: impl AsRef<Path>) -> Result<ImageSet> {
    let path = path.as_ref();
    images(&std::fs::read(path).map_err(|e| Error::io("reading", path, e))?, path)
}

/// Reads a labels file (magic `0x00000801`, size N), gzipped or raw.
pub fn read_idx_labels(path: impl AsRef<Path>) -> Result<Vec<u8>> {
    let path = path.as_ref();
    labels(&std::fs::read(path).map_err(|e| Error::io("reading", path, e))?, path)
}

/// Like [`read_idx_images`] on bytes in memory (gzipped or raw), e.g. from
/// `include_bytes!`; `name` stands for the file in errors.
pub fn read_idx_images_from_bytes(bytes: &[u8], name: &str) -> Result<ImageSet> {
    let name = Path::new(name);
    images(bytes, name)
}

/// Checks that every label of `labels` (read from `path`) is below
/// `classes`: a label out of range would otherwise index past the model's
/// outputs. The error names the file and the record index.
pub fn check_labels(labels: &[u8], classes: usize, path: impl AsRef<Path>) -> Result<()> {
    match labels.iter().position(|&l| usize::from(l) >= classes) {
        Some(i) => Err(Error::data(
            path,
            format!("label record {i}"),
            format!("label {} is not below the class count {classes}", labels[i]),
        )),
        None => Ok(()),
    }
}

/// Like [`read_idx_labels`] on bytes in memory (gzipped or raw); `name` stands
/// for the file in errors.
pub fn read_idx_labels_from_bytes(bytes: &[u8], name: &str) -> Result<Vec<u8>> {
    let name = Path::new(name);
    labels(bytes, name)
}

fn images(bytes: &[u8], name: &Path) -> Result<ImageSet> {
    let (dims, body) = parse(bytes, name, IMAGES_MAGIC)?;
    let (n, rows, cols) = (dims[0], dims[1], dims[2]);
    if n > 0 && (rows == 0 || cols == 0) {
        return Err(Error::data(name, "byte 8", format!("{n} images of {rows}x{cols} pixels: empty images")));
    }
    Ok(ImageSet { n, rows, cols, pixels: body })
}

fn labels(bytes: &[u8], name: &Path) -> Result<Vec<u8>> {
    Ok(parse(bytes, name, LABELS_MAGIC)?.1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::test_data;
    use crate::data::tests::gz;
    use crate::testing::idx_labels as idx1;

    fn idx3(n: u32, r: u32, c: u32, data: &[u8]) -> Vec<u8> {
        let mut v = IMAGES_MAGIC.to_be_bytes().to_vec();
        for d in [n, r, c] {
            v.extend(d.to_be_bytes());
        }
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn reads_raw_and_gzipped_images() {
        let raw = idx3(2, 2, 3, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        let set = read_idx_images_from_bytes(&raw, "t").unwrap();
        assert_eq!((set.n, set.rows, set.cols, set.image_len()), (2, 2, 3, 6));
        assert_eq!(set.image(0), &[1, 2, 3, 4, 5, 6]);
        assert_eq!(set.image(1), &[7, 8, 9, 10, 11, 12]);
        assert_eq!(set.get(1), Some(&[7, 8, 9, 10, 11, 12][..]));
        assert_eq!(set.get(2), None);
        assert_eq!(read_idx_images_from_bytes(&gz(&raw), "t.gz").unwrap(), set);
    }

    #[test]
    fn reads_labels_and_empty_sets() {
        assert_eq!(read_idx_labels_from_bytes(&idx1(&[7, 9, 0]), "l").unwrap(), vec![7, 9, 0]);
        assert!(check_labels(&[7, 9, 0], 10, "l").is_ok());
        let e = check_labels(&[7, 200, 0], 10, "labels.gz").unwrap_err().to_string();
        assert!(e.contains("labels.gz") && e.contains("record 1") && e.contains("200"), "{e}");
        assert_eq!(read_idx_labels_from_bytes(&gz(&idx1(&[3])), "l.gz").unwrap(), vec![3]);
        let empty = read_idx_images_from_bytes(&idx3(0, 28, 28, &[]), "e").unwrap();
        assert_eq!((empty.n, empty.pixels.len()), (0, 0));
    }

    #[test]
    fn truncated_data_reports_the_offset() {
        let e = read_idx_images_from_bytes(&idx3(2, 1, 2, &[1, 2, 3]), "trunc.idx").unwrap_err();
        assert!(matches!(&e, Error::Data { position, .. } if position == "byte 19"), "{e:?}");
        let msg = e.to_string();
        assert!(msg.contains("trunc.idx") && msg.contains("truncated") && msg.contains("need 4"), "{msg}");
        // A header cut short.
        let e = read_idx_images_from_bytes(&idx3(2, 1, 2, &[])[..10], "h").unwrap_err().to_string();
        assert!(e.contains("byte 10") && e.contains("truncated header"), "{e}");
        // Shorter than the magic.
        let e = read_idx_labels_from_bytes(&[0, 0], "short").unwrap_err().to_string();
        assert!(e.contains("short") && e.contains("byte 2"), "{e}");
    }

    #[test]
    fn trailing_bytes_and_wrong_magic_are_errors() {
        let e = read_idx_labels_from_bytes(&[&idx1(&[1, 2])[..], &[9, 9, 9]].concat(), "long").unwrap_err();
        assert!(matches!(&e, Error::Data { position, .. } if position == "byte 10"), "{e:?}");
        assert!(e.to_string().contains("3 unexpected bytes"), "{e}");
        // An images file passed as labels: the message says what it is.
        let e = read_idx_labels_from_bytes(&idx3(1, 1, 1, &[0]), "swap").unwrap_err().to_string();
        assert!(e.contains("byte 0") && e.contains("0x00000803") && e.contains("an images file"), "{e}");
        // Signed-int data (type 0x0c) is not supported.
        let e = read_idx_labels_from_bytes(&[0, 0, 0x0c, 1, 0, 0, 0, 0], "int").unwrap_err().to_string();
        assert!(e.contains("0x00000c01"), "{e}");
        let e = read_idx_images_from_bytes(&idx3(3, 0, 5, &[]), "zero").unwrap_err().to_string();
        assert!(e.contains("empty images"), "{e}");
    }

    #[test]
    fn a_gzip_bomb_behind_a_valid_header_is_stopped_after_the_declared_bytes() {
        // Two labels, then 8 MB of zeros that gzip packs into a few KB.
        let bomb = gz(&[&idx1(&[1, 2])[..], &vec![0u8; 8 << 20]].concat());
        let e = read_idx_labels_from_bytes(&bomb, "bomb.gz").unwrap_err();
        assert!(matches!(&e, Error::Data { position, .. } if position == "byte 10"), "{e:?}");
        assert!(e.to_string().contains("at least 1048576 unexpected bytes"), "{e}");
        // A header that declares more than the machine holds allocates nothing.
        let e = read_idx_images_from_bytes(&gz(&idx3(60_000, 60_000, 60_000, &[0; 64])), "claims.gz").unwrap_err();
        assert!(e.to_string().contains("of memory, more than the"), "{e}");
    }

    #[test]
    fn huge_sizes_do_not_overflow_or_allocate() {
        let e = read_idx_images_from_bytes(&idx3(u32::MAX, u32::MAX, u32::MAX, &[1]), "huge").unwrap_err();
        assert!(matches!(e, Error::Data { .. }), "{e:?}");
    }

    #[test]
    fn file_errors_name_the_path() {
        let e = read_idx_images("/nonexistent/dl-core/x.gz").unwrap_err();
        assert!(matches!(e, Error::Io { .. }) && e.to_string().contains("/nonexistent/dl-core/x.gz"));
        let dir = std::env::temp_dir().join(format!("dl-core-idx-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("cut-labels.gz");
        std::fs::write(&p, gz(&idx1(&[1, 2, 3, 4])[..10])).unwrap();
        let e = read_idx_labels(&p).unwrap_err().to_string();
        assert!(e.contains("cut-labels.gz") && e.contains("byte 10"), "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }

    fn counts(labels: &[u8]) -> Vec<usize> {
        (0..10u8).map(|d| labels.iter().filter(|&&l| l == d).count()).collect()
    }

    #[test]
    fn real_digits8x8() {
        let (Some(images), Some(labels)) = (
            test_data("digits8x8", "train-images-idx3-ubyte.gz"),
            test_data("digits8x8", "train-labels-idx1-ubyte.gz"),
        ) else {
            return;
        };
        let set = read_idx_images(&images).unwrap();
        assert_eq!((set.n, set.rows, set.cols), (1437, 8, 8));
        assert_eq!(
            set.image(0),
            &[
                0, 0, 5, 13, 9, 1, 0, 0, 0, 0, 13, 15, 10, 15, 5, 0, 0, 3, 15, 2, 0, 11, 8, 0, 0, 4, 12, 0, 0, 8, 8, 0,
                0, 5, 8, 0, 0, 9, 8, 0, 0, 4, 11, 0, 1, 12, 7, 0, 0, 2, 14, 5, 10, 12, 0, 0, 0, 0, 6, 13, 10, 0, 0, 0
            ]
        );
        assert_eq!(set.pixels.iter().copied().max(), Some(16));
        let labels = read_idx_labels(&labels).unwrap();
        assert_eq!(counts(&labels), [143, 146, 142, 146, 144, 145, 144, 143, 141, 143]);
        if let Some(test) = test_data("digits8x8", "t10k-labels-idx1-ubyte.gz") {
            assert_eq!(counts(&read_idx_labels(&test).unwrap()), [35, 36, 35, 37, 37, 37, 37, 36, 33, 37]);
        }
    }

    #[test]
    fn real_mnist_test_split() {
        let (Some(images), Some(labels)) =
            (test_data("mnist", "t10k-images-idx3-ubyte.gz"), test_data("mnist", "t10k-labels-idx1-ubyte.gz"))
        else {
            return;
        };
        let set = read_idx_images(&images).unwrap();
        assert_eq!((set.n, set.rows, set.cols), (10_000, 28, 28));
        let labels = read_idx_labels(&labels).unwrap();
        assert_eq!(counts(&labels), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
    }
}
