//! Helpers shared by the test suites of every crate (feature `testing`, or
//! dl-core's own tests): the device, the RNG lock, data files, temporary
//! folders and value comparisons.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use burn::tensor::{Device, Distribution, Tensor};

use crate::data::locate::DataDirs;
use crate::device::Backend;
use crate::task::to_f32;

static RNG: Mutex<()> = Mutex::new(());

/// burn's device RNG is process-wide on flex: tests that draw random numbers
/// (initialisation, dropout) hold this lock so that a seed gives one result.
pub fn rng_lock() -> MutexGuard<'static, ()> {
    RNG.lock().unwrap_or_else(|e| e.into_inner())
}

/// The flex device the tests run on.
pub fn device() -> Device {
    Backend::Flex.device().expect("flex is the default backend")
}

/// The workspace root (where `fixtures/` is; `../shared` is beside it).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// An empty temporary folder named after the crate, the process and `name`.
pub fn temp_dir(crate_name: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("{crate_name}-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("creating a temporary folder");
    dir
}

/// The path of `dataset/file` under the first data directory that has it
/// (`$DL_DATA_DIR`, `../shared/data`), or `None` after saying that the test
/// is skipped.
pub fn data_file(dataset: &str, file: &str) -> Option<PathBuf> {
    let root = workspace_root();
    let mut dirs = DataDirs::resolve(None).dirs().to_vec();
    dirs.extend(["../shared/data", "../../shared/data"].map(|up| root.join(up)));
    let found = DataDirs::from_dirs(dirs).find_opt(dataset, &[file]).map(|d| d.join(file));
    if found.is_none() {
        eprintln!("skipped: {dataset}/{file} not found in any data directory (set DL_DATA_DIR)");
    }
    found
}

/// `count` corrupted variants of the valid file `valid`, the same for a given
/// `seed`: one to three of bit flips, random bytes, 32-bit fields set to huge
/// values, truncations, deleted, repeated or inserted runs. Readers are fed
/// these to check that bad input is an error, never a panic.
pub fn mutations(valid: &[u8], count: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut rng = crate::data::split::SplitRng::new(seed);
    (0..count)
        .map(|_| {
            let mut v = valid.to_vec();
            for _ in 0..1 + rng.below(3) {
                let at = rng.below(v.len().max(1));
                match rng.below(7) {
                    0 if !v.is_empty() => v[at] ^= 1 << rng.below(8),
                    1 if !v.is_empty() => v[at] = rng.next_u64() as u8,
                    2 if v.len() >= 4 => {
                        let at = at.min(v.len() - 4);
                        let big = [[0xff; 4], [0x7f, 0xff, 0xff, 0xff], [0, 0, 0, 0], [0xff, 0xff, 0xff, 0x7f]];
                        v[at..at + 4].copy_from_slice(&big[rng.below(4)]);
                    }
                    3 => v.truncate(at),
                    4 => {
                        let end = (at + 1 + rng.below(16)).min(v.len());
                        v.drain(at..end);
                    }
                    5 => {
                        let end = (at + 1 + rng.below(64)).min(v.len());
                        let run = v[at..end].to_vec();
                        v.splice(at..at, run);
                    }
                    _ => {
                        let run: Vec<u8> = (0..1 + rng.below(8)).map(|_| rng.next_u64() as u8).collect();
                        v.splice(at..at, run);
                    }
                }
            }
            v
        })
        .collect()
}

/// `bytes` gzipped in memory.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut e, bytes).expect("in-memory write");
    e.finish().expect("in-memory gzip")
}

/// An IDX images file (not gzipped) of `n` images of `rows x cols`, every pixel `pixel`.
pub fn idx_images(n: u32, rows: u32, cols: u32, pixel: u8) -> Vec<u8> {
    let mut v = crate::data::idx::IMAGES_MAGIC.to_be_bytes().to_vec();
    [n, rows, cols].iter().for_each(|d| v.extend(d.to_be_bytes()));
    v.extend(vec![pixel; n as usize * rows as usize * cols as usize]);
    v
}

/// An IDX labels file (not gzipped) holding `labels`.
pub fn idx_labels(labels: &[u8]) -> Vec<u8> {
    [&crate::data::idx::LABELS_MAGIC.to_be_bytes()[..], &(labels.len() as u32).to_be_bytes(), labels].concat()
}

/// A minimal RIFF/WAVE file: 16-bit mono PCM `samples` at `rate` Hz.
pub fn wav_bytes(rate: u32, samples: &[i16]) -> Vec<u8> {
    let data: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    let mut v = b"RIFF".to_vec();
    v.extend((36 + data.len() as u32).to_le_bytes());
    v.extend(b"WAVEfmt ");
    v.extend(16u32.to_le_bytes());
    v.extend(1u16.to_le_bytes());
    v.extend(1u16.to_le_bytes());
    v.extend(rate.to_le_bytes());
    v.extend((rate * 2).to_le_bytes());
    v.extend(2u16.to_le_bytes());
    v.extend(16u16.to_le_bytes());
    v.extend(b"data");
    v.extend((data.len() as u32).to_le_bytes());
    v.extend(data);
    v
}

/// Largest absolute difference of two equally long slices.
pub fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "compared slices differ in length");
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// A tensor's values on the host.
pub fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    to_f32(t).expect("reading a float tensor")
}

/// Standard normal values of `shape`.
pub fn random<const D: usize>(shape: [usize; D], d: &Device) -> Tensor<D> {
    Tensor::random(shape, Distribution::Normal(0.0, 1.0), d)
}

/// The message of an error the test expects.
pub fn error_text<T: std::fmt::Debug>(r: crate::Result<T>) -> String {
    r.expect_err("expected an error").to_string()
}

/// A task that needs memory across steps: sequences of 2 to 8 tokens from
/// 2..8, labelled 1 when token 3 occurs anywhere.
pub fn token_task(n: usize, seed: u64) -> Vec<crate::data::sequence::TokenSequence> {
    let mut rng = crate::data::split::SplitRng::new(seed);
    (0..n)
        .map(|_| {
            let len = 2 + rng.below(7);
            let ids: Vec<usize> = (0..len).map(|_| 2 + rng.below(6)).collect();
            let label = usize::from(ids.contains(&3));
            crate::data::sequence::TokenSequence { ids, label }
        })
        .collect()
}
