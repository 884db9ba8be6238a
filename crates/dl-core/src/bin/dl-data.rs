//! `dl-data`: the datasets the examples read.
//!
//! `cargo run -p dl-core --release --features fetch --bin dl-data -- list`
//! `cargo run -p dl-core --release --features fetch --bin dl-data -- fetch mnist [--dir DIR] [--from URL]`
//!
//! `fetch` downloads into `--dir`, else `$DL_DATA_DIR`, else the platform's
//! cache folder (where the examples also look), from the mirror `--from`
//! (else `$DL_DATA_URL`) or the dataset's canonical address; see
//! `dl_core::data::fetch`.

use std::path::PathBuf;

use dl_core::data::fetch::{FetchOptions, dataset, dataset_names, fetch};
use dl_core::data::locate::cache_dir;
use dl_core::{Error, Result};

fn usage() -> Error {
    Error::Invalid(format!(
        "usage: dl-data list | dl-data fetch <dataset> [--dir DIR] [--from URL] [--no-progress]; datasets: {}",
        dataset_names().join(", ")
    ))
}

fn run(args: &[String]) -> Result<()> {
    match args.first().map(String::as_str) {
        Some("list") => {
            for name in dataset_names() {
                let files = dataset(name)?;
                let bytes: u64 = files.iter().map(|f| f.size).sum();
                let canonical = if files.iter().all(|f| f.canonical.is_some()) { "canonical" } else { "mirror only" };
                println!("{name:<16} {:>3} files {:>8.1} MB  {canonical}", files.len(), bytes as f64 / 1e6);
            }
            Ok(())
        }
        Some("fetch") => {
            let name = args.get(1).filter(|a| !a.starts_with("--")).ok_or_else(usage)?;
            let mut dir = std::env::var_os("DL_DATA_DIR").filter(|v| !v.is_empty()).map(PathBuf::from);
            let mut mirror = std::env::var("DL_DATA_URL").ok().filter(|v| !v.is_empty());
            let mut progress = true;
            let mut rest = args[2..].iter();
            while let Some(flag) = rest.next() {
                match flag.as_str() {
                    "--dir" => dir = Some(PathBuf::from(rest.next().ok_or_else(usage)?)),
                    "--from" => mirror = Some(rest.next().ok_or_else(usage)?.clone()),
                    "--no-progress" => progress = false,
                    _ => return Err(usage()),
                }
            }
            let dir = dir.or_else(cache_dir).ok_or_else(|| Error::Invalid("no --dir and no home folder".into()))?;
            let report = fetch(name, &FetchOptions { dir: dir.clone(), mirror, progress })?;
            println!(
                "{name}: {} downloaded, {} already present, in {} (pass --data {} to the examples if it is not searched)",
                report.downloaded.len(),
                report.present.len(),
                dir.join(name).display(),
                dir.display()
            );
            Ok(())
        }
        _ => Err(usage()),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Err(e) = run(&args) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
