//! `dl_core::data::fetch` against a local HTTP server on 127.0.0.1 serving
//! `../shared/data`: a good download, a checksum mismatch (an error, nothing
//! kept), an interrupted download resumed with a range request, a 404, and
//! files that need a mirror.
#![cfg(feature = "fetch")]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use dl_core::data::fetch::{FetchOptions, dataset, fetch};
use dl_core::testing::{data_file, temp_dir};

/// What the server does.
#[derive(Default)]
struct Behaviour {
    /// Serve these paths with one byte changed.
    corrupt: Vec<String>,
    /// Close the connection after this many body bytes, once, for this path.
    cut: Option<(String, usize)>,
    /// Answer a range request with the whole file as a 206 from byte 0.
    wrong_range: bool,
    /// Paths and Range headers requested.
    log: Vec<(String, Option<String>)>,
}

/// A one-request-per-connection HTTP/1.1 server of the files under `root`,
/// with `Range: bytes=N-` support; returns its base URL.
fn serve(root: PathBuf, behaviour: Arc<Mutex<Behaviour>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = respond(stream, &root, &behaviour);
        }
    });
    base
}

fn respond(mut stream: TcpStream, root: &Path, behaviour: &Mutex<Behaviour>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    let mut range = None;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        if line.trim().is_empty() {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("range:") {
            range = Some(v.trim().to_string());
        }
    }
    let path = request.split_whitespace().nth(1).unwrap_or("/").trim_start_matches('/').to_string();
    let (corrupt, cut, wrong_range) = {
        let mut b = behaviour.lock().unwrap();
        b.log.push((path.clone(), range.clone()));
        let cut = match &b.cut {
            Some((p, n)) if *p == path => Some(*n),
            _ => None,
        };
        if cut.is_some() {
            b.cut = None;
        }
        (b.corrupt.contains(&path), cut, b.wrong_range)
    };
    let Ok(mut body) = std::fs::read(root.join(&path)) else {
        return stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    };
    if corrupt {
        let mid = body.len() / 2;
        body[mid] ^= 0xff;
    }
    let start: usize = if wrong_range { Some("bytes=0-") } else { range.as_deref() }
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.trim_end_matches('-').parse().ok())
        .unwrap_or(0);
    let total = body.len();
    let head = if range.is_some() {
        format!(
            "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {start}-{}/{total}\r\nConnection: close\r\n\r\n",
            total - start,
            total - 1
        )
    } else {
        format!("HTTP/1.1 200 OK\r\nContent-Length: {total}\r\nConnection: close\r\n\r\n")
    };
    stream.write_all(head.as_bytes())?;
    let body = &body[start..];
    stream.write_all(&body[..cut.map_or(body.len(), |c| c.min(body.len()))])?;
    stream.flush()
}

/// The shared data folder, or `None` after saying the test is skipped.
fn shared_data() -> Option<PathBuf> {
    Some(data_file("sms-spam", "train.tsv")?.parent()?.parent()?.to_path_buf())
}

fn options(dir: &Path, mirror: &str) -> FetchOptions {
    FetchOptions { dir: dir.to_path_buf(), mirror: Some(mirror.to_string()), progress: false }
}

#[test]
fn a_dataset_downloads_checks_and_is_not_fetched_twice() {
    let Some(root) = shared_data() else { return };
    let behaviour = Arc::new(Mutex::new(Behaviour::default()));
    let base = serve(root.clone(), behaviour.clone());
    let dir = temp_dir("dl-core", "fetch_good");
    // Nine CSV files, and two gzipped ones checked by their gunzipped contents.
    for name in ["timeseries", "fine-foods"] {
        let report = fetch(name, &options(&dir, &base)).unwrap();
        assert_eq!(report.downloaded.len(), dataset(name).unwrap().len(), "{name}");
        for f in dataset(name).unwrap() {
            let (got, want) = (std::fs::read(dir.join(f.path)).unwrap(), std::fs::read(root.join(f.path)).unwrap());
            assert!(got == want, "{}", f.path);
        }
    }
    let requests = behaviour.lock().unwrap().log.len();
    let again = fetch("timeseries", &options(&dir, &base)).unwrap();
    assert!(again.downloaded.is_empty() && again.present.len() == 9, "{again:?}");
    assert_eq!(behaviour.lock().unwrap().log.len(), requests, "a present file is not downloaded again");
}

#[test]
fn a_wrong_checksum_keeps_nothing() {
    let Some(root) = shared_data() else { return };
    let behaviour = Arc::new(Mutex::new(Behaviour { corrupt: vec!["sms-spam/test.tsv".into()], ..Default::default() }));
    let base = serve(root, behaviour);
    let dir = temp_dir("dl-core", "fetch_corrupt");
    let e = fetch("sms-spam", &options(&dir, &base)).unwrap_err().to_string();
    assert!(e.contains("sha256") && e.contains("sms-spam/test.tsv"), "{e}");
    assert!(!dir.join("sms-spam/test.tsv").exists() && !dir.join("sms-spam/test.tsv.part").exists());
}

#[test]
fn an_interrupted_download_resumes_where_it_stopped() {
    let Some(root) = shared_data() else { return };
    let cut = Some(("sms-spam/train.tsv".to_string(), 100_000));
    let behaviour = Arc::new(Mutex::new(Behaviour { cut, ..Default::default() }));
    let base = serve(root.clone(), behaviour.clone());
    let dir = temp_dir("dl-core", "fetch_resume");
    let train = dir.join("sms-spam/train.tsv");
    let part = dir.join("sms-spam/train.tsv.part");
    assert!(fetch("sms-spam", &options(&dir, &base)).is_err(), "a cut connection fails the download");
    assert!(!train.exists(), "nothing under the final name");
    let have = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
    assert_eq!(have, 100_000, "the part file keeps what arrived");
    let report = fetch("sms-spam", &options(&dir, &base)).unwrap();
    assert_eq!(report.downloaded, vec![train.clone()], "test.tsv was complete the first time");
    assert!(std::fs::read(&train).unwrap() == std::fs::read(root.join("sms-spam/train.tsv")).unwrap());
    assert!(!part.exists());
    let log = &behaviour.lock().unwrap().log;
    let asked = log.iter().filter(|(p, _)| p == "sms-spam/train.tsv").map(|(_, r)| r.clone()).collect::<Vec<_>>();
    assert_eq!(asked, vec![None, Some("bytes=100000-".to_string())], "the second request asks for the rest");
}

#[test]
fn missing_files_and_unknown_datasets_are_errors() {
    let Some(root) = shared_data() else { return };
    let base = serve(root, Arc::new(Mutex::new(Behaviour::default())));
    let dir = temp_dir("dl-core", "fetch_missing");
    let e = fetch("timeseries", &options(&dir, &format!("{base}/nowhere"))).unwrap_err().to_string();
    assert!(e.contains("404"), "{e}");
    assert!(std::fs::read_dir(dir.join("timeseries")).map_or(true, |mut d| d.next().is_none()), "nothing written");
    let e = fetch("imagenet", &options(&dir, &base)).unwrap_err().to_string();
    assert!(e.contains("imagenet") && e.contains("mnist"), "{e}");
    // Converted files have no canonical address: without a mirror, say so.
    let e = fetch("sms-spam", &FetchOptions { dir, mirror: None, progress: false }).unwrap_err().to_string();
    assert!(e.contains("mirror"), "{e}");
}

#[test]
fn a_range_answer_from_the_wrong_byte_is_refused() {
    let Some(root) = shared_data() else { return };
    let cut = Some(("sms-spam/train.tsv".to_string(), 100_000));
    let behaviour = Arc::new(Mutex::new(Behaviour { cut, ..Default::default() }));
    let base = serve(root.clone(), behaviour.clone());
    let dir = temp_dir("dl-core", "fetch_wrong_range");
    let part = dir.join("sms-spam/train.tsv.part");
    assert!(fetch("sms-spam", &options(&dir, &base)).is_err());
    assert_eq!(std::fs::metadata(&part).unwrap().len(), 100_000);
    // The server answers the range request from byte 0: appending would corrupt the file.
    behaviour.lock().unwrap().wrong_range = true;
    let e = fetch("sms-spam", &options(&dir, &base)).unwrap_err().to_string();
    assert!(e.contains("byte 100000"), "{e}");
    assert!(!part.exists() && !dir.join("sms-spam/train.tsv").exists());
    // A fresh download then completes.
    behaviour.lock().unwrap().wrong_range = false;
    fetch("sms-spam", &options(&dir, &base)).unwrap();
    let train = std::fs::read(dir.join("sms-spam/train.tsv")).unwrap();
    assert!(train == std::fs::read(root.join("sms-spam/train.tsv")).unwrap());
}
