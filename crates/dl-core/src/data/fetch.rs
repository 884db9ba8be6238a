//! Downloading the datasets the examples read (feature `fetch`).
//!
//! Each file of `../shared/data`'s layout is listed with its size and the
//! sha256 of its contents (after gunzip for a plain `.gz`, so that a
//! re-compressed copy of the same data is accepted). A file comes from a
//! mirror of that layout (`--from URL`, or `$DL_DATA_URL`), else from its
//! canonical public address where the original publisher serves it as is
//! (MNIST, the Fashion-MNIST test split, tinyshakespeare); the other files
//! were converted by `make_data.py` and need a mirror. Downloads go to
//! `<file>.part`, resume from its length with an HTTP range request, are
//! checked, and only then renamed to the final name: a half-written or wrong
//! file is never left under it.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// One file of a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataFile {
    /// Path under the data folder (`mnist/train-images-idx3-ubyte.gz`).
    pub path: &'static str,
    /// Size in bytes of the copy in `../shared/data`.
    pub size: u64,
    /// sha256 of the contents (of the gunzipped bytes for a plain `.gz`).
    pub sha256: &'static str,
    /// Where the original publisher serves this file as is, if anywhere.
    pub canonical: Option<&'static str>,
}

/// Every file the examples read, by dataset (the first path component).
pub const FILES: &[DataFile] = &[
    DataFile {
        path: "digits8x8/t10k-images-idx3-ubyte.gz",
        size: 8978,
        sha256: "ee7550fe34409fc27d844b52fd0408fab403b2cc523bb34baa4ebd95b760d882",
        canonical: None,
    },
    DataFile {
        path: "digits8x8/t10k-labels-idx1-ubyte.gz",
        size: 119,
        sha256: "cf2c8a23974df0c99eb3f36ff34c02acb9be1c84aca7280211ef04bea1135360",
        canonical: None,
    },
    DataFile {
        path: "digits8x8/train-images-idx3-ubyte.gz",
        size: 35546,
        sha256: "41e463fb11442353328aed136a72ca93512604a7ae6e294205756d54294c7502",
        canonical: None,
    },
    DataFile {
        path: "digits8x8/train-labels-idx1-ubyte.gz",
        size: 135,
        sha256: "f8a600b73e2c056aa42316260206e6643bd33e96bd71cfb8e32b94f76fac4f93",
        canonical: None,
    },
    DataFile {
        path: "fashion-mnist/t10k-images-idx3-ubyte.gz",
        size: 4383619,
        sha256: "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        canonical: Some("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/t10k-images-idx3-ubyte.gz"),
    },
    DataFile {
        path: "fashion-mnist/t10k-labels-idx1-ubyte.gz",
        size: 5125,
        sha256: "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        canonical: Some("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/t10k-labels-idx1-ubyte.gz"),
    },
    DataFile {
        path: "fine-foods/test.tsv.gz",
        size: 159505,
        sha256: "c71acf5fdc24fb4b79313e300744dbe8017d6abd814ee2828c16bf5ad5eeb3f2",
        canonical: None,
    },
    DataFile {
        path: "fine-foods/train.tsv.gz",
        size: 613534,
        sha256: "6c07712d74d34fd2d5293388b7821db3d6f9ad020fa584a828bc4ba90f4ff285",
        canonical: None,
    },
    DataFile {
        path: "fra-eng/test.tsv.gz",
        size: 156062,
        sha256: "6ada41684bf66b5bd5ef438ea848dfa61e20d8bc9abd35970e2a967d477d18ba",
        canonical: None,
    },
    DataFile {
        path: "fra-eng/train.tsv.gz",
        size: 2795419,
        sha256: "db27bc36e1f5781ed152af7f41c4b30a614edaf6779589023bc789f591bc7ed1",
        canonical: None,
    },
    DataFile {
        path: "fsdd/index.tsv",
        size: 116548,
        sha256: "57e9700d6de87a44005febd60b50cfbec54c7a34d32721bb26f231d8948d32f7",
        canonical: None,
    },
    DataFile {
        path: "fsdd/test.tar.gz",
        size: 1550403,
        sha256: "17065c849f83b1180376a1f090da59618b892ddca2df98576dff3839f0e71c7e",
        canonical: None,
    },
    DataFile {
        path: "fsdd/train.tar.gz",
        size: 14033450,
        sha256: "32846a8be61be4e5c864c92bd200de49c501e6d90c7e911519b29f7e090f9881",
        canonical: None,
    },
    DataFile {
        path: "mnist/t10k-images-idx3-ubyte.gz",
        size: 1602050,
        sha256: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        canonical: Some("https://ossci-datasets.s3.amazonaws.com/mnist/t10k-images-idx3-ubyte.gz"),
    },
    DataFile {
        path: "mnist/t10k-labels-idx1-ubyte.gz",
        size: 4517,
        sha256: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        canonical: Some("https://ossci-datasets.s3.amazonaws.com/mnist/t10k-labels-idx1-ubyte.gz"),
    },
    DataFile {
        path: "mnist/train-images-idx3-ubyte.gz",
        size: 9630610,
        sha256: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        canonical: Some("https://ossci-datasets.s3.amazonaws.com/mnist/train-images-idx3-ubyte.gz"),
    },
    DataFile {
        path: "mnist/train-labels-idx1-ubyte.gz",
        size: 28878,
        sha256: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        canonical: Some("https://ossci-datasets.s3.amazonaws.com/mnist/train-labels-idx1-ubyte.gz"),
    },
    DataFile {
        path: "moby-dick/moby-dick.txt",
        size: 1204997,
        sha256: "fe282a57094ed62e7144fb7c804a9748fc1c909bf3b49d06e7276015f9f67240",
        canonical: None,
    },
    DataFile {
        path: "rt-polarity/test.tsv",
        size: 130180,
        sha256: "bf4e97db408d7b0d9849c29a670afb6b44405dbcded5e885872cbe3d174aed04",
        canonical: None,
    },
    DataFile {
        path: "rt-polarity/train.tsv",
        size: 1140749,
        sha256: "d3da8c17aed7ec78ab82e71be201b58f139e1ab4bfc89b5fb67e32f0a193e291",
        canonical: None,
    },
    DataFile {
        path: "sms-spam/test.tsv",
        size: 96314,
        sha256: "2c47e6d0924dd42077a3df4ce2f87ce31eab7e49c785b2b8a725b92519c17daf",
        canonical: None,
    },
    DataFile {
        path: "sms-spam/train.tsv",
        size: 380966,
        sha256: "69338fec614f7a4750cdd76af275fdf57116f89d51d18507981fcc82328c232c",
        canonical: None,
    },
    DataFile {
        path: "spamassassin/test.tsv.gz",
        size: 801063,
        sha256: "b48400291cdc29a640efe96736d9da1ac1a380b4bbcae754ed161a371c20c5fe",
        canonical: None,
    },
    DataFile {
        path: "spamassassin/train.tsv.gz",
        size: 3199970,
        sha256: "276a010c19b62a4b74785003c763cdf2d95280f1744670134533dfe4b0c5659f",
        canonical: None,
    },
    DataFile {
        path: "timeseries/airline_passengers.csv",
        size: 1755,
        sha256: "eda0181c2450975f5ad68556dcf14367541b22553f0c628b9747334cfdc6c96c",
        canonical: None,
    },
    DataFile {
        path: "timeseries/co2_weekly.csv",
        size: 38546,
        sha256: "c81c3530b5079ec397531291a770113dde31613ef3cc319b6ffc95a6d41d0b68",
        canonical: None,
    },
    DataFile {
        path: "timeseries/elnino_sst_monthly.csv",
        size: 10998,
        sha256: "865ac442c86367f27fd3e351645ba575982bf8e2c4e4bad720524be9706e874d",
        canonical: None,
    },
    DataFile {
        path: "timeseries/lynx.csv",
        size: 1090,
        sha256: "9851a9d313e268e4c97dc2d712a869acc3b7542da06dd419d3114cd3463e2cde",
        canonical: None,
    },
    DataFile {
        path: "timeseries/nile.csv",
        size: 942,
        sha256: "88e97bea7249e5832a85e41aec6ce4b8f7b1b14aae930c8363da7f193286b598",
        canonical: None,
    },
    DataFile {
        path: "timeseries/sunspots_monthly.csv",
        size: 36576,
        sha256: "5af2ea985a3ee4c120f5825c9d028a3cff35d4b30d470896e2e7876575723f27",
        canonical: None,
    },
    DataFile {
        path: "timeseries/sunspots_yearly.csv",
        size: 2937,
        sha256: "74b8e3acb9886b68abe9c56f6081257d522e2cb2470f17dbf597b396f4ea1706",
        canonical: None,
    },
    DataFile {
        path: "timeseries/taylor_electricity_halfhourly.csv",
        size: 43254,
        sha256: "bcac815140097bdf34329c24f3748044289e6ec53b27157f4c01c688ad4155a6",
        canonical: None,
    },
    DataFile {
        path: "timeseries/wineind.csv",
        size: 2476,
        sha256: "2c451d1734211e7d3938ef7d9b7a0b641d1380bd87a38a44813cab48abc84c15",
        canonical: None,
    },
    DataFile {
        path: "tinyshakespeare/input.txt",
        size: 1115394,
        sha256: "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
        canonical: Some("https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"),
    },
];

/// The dataset names (`mnist`, `sms-spam`, ...).
pub fn dataset_names() -> Vec<&'static str> {
    let mut names: Vec<&str> = FILES.iter().filter_map(|f| f.path.split('/').next()).collect();
    names.dedup();
    names
}

/// The files of dataset `name`, or an error listing the known names.
pub fn dataset(name: &str) -> Result<Vec<DataFile>> {
    let files: Vec<DataFile> = FILES.iter().filter(|f| f.path.split('/').next() == Some(name)).copied().collect();
    if files.is_empty() {
        return Err(Error::Unknown {
            kind: "dataset",
            value: name.to_string(),
            context: format!("known: {}", dataset_names().join(", ")),
        });
    }
    Ok(files)
}

/// Where and how to fetch.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// The data folder to fill ([`crate::data::locate::cache_dir`] by default).
    pub dir: PathBuf,
    /// Base URL of a mirror of the data folder's layout (`None`: canonical addresses).
    pub mirror: Option<String>,
    /// Show a progress bar per file.
    pub progress: bool,
}

/// What a fetch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchReport {
    /// Files downloaded (completely, or the rest of an interrupted download).
    pub downloaded: Vec<PathBuf>,
    /// Files already present with the right contents.
    pub present: Vec<PathBuf>,
}

/// Fetches every file of dataset `name` into `opts.dir` (see the module docs).
pub fn fetch(name: &str, opts: &FetchOptions) -> Result<FetchReport> {
    let files = dataset(name)?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_per_read(Some(Duration::from_secs(60)))
        .build()
        .into();
    let mut report = FetchReport::default();
    for file in files {
        let dest = opts.dir.join(file.path);
        if dest.is_file() && content_sha256(&dest)? == file.sha256 {
            report.present.push(dest);
            continue;
        }
        let url = match (&opts.mirror, file.canonical) {
            (Some(base), _) => format!("{}/{}", base.trim_end_matches('/'), file.path),
            (None, Some(url)) => url.to_string(),
            (None, None) => {
                return Err(Error::Invalid(format!(
                    "`{}` has no public address that serves it as is (make_data.py converts it): \
                     pass --from <URL of a mirror of the data folder> or set DL_DATA_URL",
                    file.path
                )));
            }
        };
        download(&agent, &url, &dest, &file, opts.progress)?;
        report.downloaded.push(dest);
    }
    Ok(report)
}

/// `<dest>.part`.
fn part_path(dest: &Path) -> PathBuf {
    let mut p = dest.as_os_str().to_owned();
    p.push(".part");
    PathBuf::from(p)
}

/// Downloads `url` into `dest` through `<dest>.part` (resumed if present),
/// checks its contents against `file.sha256`, then renames it.
fn download(agent: &ureq::Agent, url: &str, dest: &Path, file: &DataFile, progress: bool) -> Result<()> {
    let part = part_path(dest);
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io("creating", parent, e))?;
    }
    let have = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
    let mut request = agent.get(url);
    if have > 0 {
        request = request.header("Range", format!("bytes={have}-"));
    }
    let response = request.call().map_err(|e| Error::io("downloading", url, std::io::Error::other(e)))?;
    let status = response.status().as_u16();
    // A 206 must continue exactly where the part file ends.
    let resumes_here = response
        .headers()
        .get("content-range")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.strip_prefix("bytes ").and_then(|r| r.split('-').next()) == Some(&have.to_string()));
    let append = match status {
        200 => false,
        206 if resumes_here => true,
        206 => {
            let _ = std::fs::remove_file(&part);
            return Err(Error::data(
                url,
                "HTTP 206",
                format!("the range does not start at byte {have}; the part file was removed, fetch again"),
            ));
        }
        // The part file already holds everything the server has.
        416 if have > 0 => return finish(&part, dest, file, url),
        _ => return Err(Error::data(url, format!("HTTP {status}"), format!("fetching `{}` failed", file.path))),
    };
    let total = response
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .map(|n| if append { n + have } else { n });
    let mut out = if append { OpenOptions::new().append(true).open(&part) } else { File::create(&part) }
        .map_err(|e| Error::io("writing", &part, e))?;
    let bar = crate::train::progress::bar(total.unwrap_or(file.size), file.path, progress);
    bar.inc(if append { have } else { 0 });
    let mut body = response.into_body().into_reader();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = body.read(&mut buf).map_err(|e| Error::io("downloading", url, e))?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n]).map_err(|e| Error::io("writing", &part, e))?;
        bar.inc(n as u64);
    }
    out.sync_all().map_err(|e| Error::io("writing", &part, e))?;
    bar.finish_and_clear();
    finish(&part, dest, file, url)
}

/// Checks the downloaded part and moves it to `dest`; a wrong one is deleted.
fn finish(part: &Path, dest: &Path, file: &DataFile, url: &str) -> Result<()> {
    let got = content_sha256(part)?;
    if got != file.sha256 {
        let _ = std::fs::remove_file(part);
        return Err(Error::checkpoint(
            dest,
            format!("sha256 of the contents from {url} is {got}, expected {}; nothing was kept", file.sha256),
        ));
    }
    std::fs::rename(part, dest).map_err(|e| Error::io("renaming", part, e))
}

/// sha256 (hex) of a file's contents, gunzipped for a plain `.gz`.
pub fn content_sha256(path: &Path) -> Result<String> {
    let f = File::open(path).map_err(|e| Error::io("reading", path, e))?;
    let name = path.to_string_lossy();
    let plain_gz = (name.ends_with(".gz") || name.ends_with(".gz.part")) && !name.contains(".tar.gz");
    let mut reader: Box<dyn Read> = if plain_gz { Box::new(flate2::read::GzDecoder::new(f)) } else { Box::new(f) };
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = reader.read(&mut buf).map_err(|e| Error::data(path, "contents", e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}
