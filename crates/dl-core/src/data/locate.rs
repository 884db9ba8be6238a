//! Where datasets are found.
//!
//! The search order is: the `--data DIR` of the command line if given, else
//! `$DL_DATA_DIR` if set (and not empty), and then nothing else: a folder
//! the user named is never silently replaced by another. Without either,
//! the project's neighbour folder `../shared/data`, and `../../shared/data`
//! and `../../../shared/data` so that examples and tests also find it when
//! run from a crate's folder (cargo runs tests with the crate folder as the
//! working directory). An explicit `--data` replaces the environment
//! variable, so that the command line always wins.
//!
//! A dataset folder only counts if it holds every file the caller needs: a
//! half-copied folder earlier in the order does not hide a complete one later.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::{Error, Result};

/// The environment variable naming a data directory.
pub const DATA_DIR_ENV: &str = "DL_DATA_DIR";

/// Folders tried after `--data` / `$DL_DATA_DIR`, relative to the working directory.
const FALLBACKS: [&str; 3] = ["../shared/data", "../../shared/data", "../../../shared/data"];

/// The platform's cache folder for datasets, where `dl-data fetch` puts
/// them by default: `$XDG_CACHE_HOME/dl-families/data`, else
/// `~/.cache/dl-families/data` (`~/Library/Caches/...` on macOS,
/// `%LOCALAPPDATA%\dl-families\data` on Windows); `None` without a home folder.
pub fn cache_dir() -> Option<PathBuf> {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    let base = if cfg!(windows) {
        var("LOCALAPPDATA")
    } else if cfg!(target_os = "macos") {
        var("HOME").map(|h| h.join("Library/Caches"))
    } else {
        var("XDG_CACHE_HOME").or_else(|| var("HOME").map(|h| h.join(".cache")))
    };
    base.map(|b| b.join("dl-families").join("data"))
}

/// Every dataset folder found by [`DataDirs::find_opt`] in this process.
static FOUND: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

/// The dataset folders this process has found so far, sorted: what a run's
/// result line reports as the data it read.
pub fn data_folders_used() -> Vec<PathBuf> {
    FOUND.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned().collect()
}

/// The ordered list of folders searched for datasets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDirs {
    dirs: Vec<PathBuf>,
}

impl DataDirs {
    /// The search order for a command-line `--data` value (see the module docs).
    pub fn resolve(cli: Option<&Path>) -> DataDirs {
        Self::resolve_with(cli, std::env::var_os(DATA_DIR_ENV))
    }

    /// [`DataDirs::resolve`] with the environment variable's value passed in,
    /// so that the logic is testable without mutating the process environment.
    fn resolve_with(cli: Option<&Path>, env: Option<OsString>) -> DataDirs {
        let named = match cli {
            Some(d) => Some(d.to_path_buf()),
            None => env.filter(|v| !v.is_empty()).map(PathBuf::from),
        };
        match named {
            Some(d) => DataDirs { dirs: vec![d] },
            None => DataDirs { dirs: FALLBACKS.iter().map(PathBuf::from).chain(cache_dir()).collect() },
        }
    }

    /// Exactly these folders, in this order.
    pub fn from_dirs(dirs: Vec<PathBuf>) -> DataDirs {
        DataDirs { dirs }
    }

    /// The folders, in search order.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// The first `dir/dataset` that holds every file of `required_files` (as
    /// regular files, possibly behind symlinks), if any.
    /// The folder is recorded for [`data_folders_used`].
    pub fn find_opt(&self, dataset: &str, required_files: &[&str]) -> Option<PathBuf> {
        let found = self
            .dirs
            .iter()
            .map(|d| d.join(dataset))
            .find(|d| d.is_dir() && required_files.iter().all(|f| d.join(f).is_file()))?;
        let shown = std::fs::canonicalize(&found).unwrap_or_else(|_| found.clone());
        FOUND.lock().unwrap_or_else(|e| e.into_inner()).insert(shown);
        Some(found)
    }

    /// Like [`DataDirs::find_opt`], but a dataset found nowhere is an
    /// [`Error::DatasetNotFound`] listing the folders searched, so the user
    /// sees at once where to put the data or what to pass as `--data`.
    pub fn find(&self, dataset: &str, required_files: &[&str]) -> Result<PathBuf> {
        self.find_opt(dataset, required_files).ok_or_else(|| Error::DatasetNotFound {
            name: dataset.to_string(),
            searched: self.searched(dataset, required_files),
        })
    }

    /// `dir1, dir2, ...` (with the missing files when a dataset folder exists
    /// but is incomplete).
    fn searched(&self, dataset: &str, required_files: &[&str]) -> String {
        self.dirs
            .iter()
            .map(|d| {
                let folder = d.join(dataset);
                let missing: Vec<&str> = required_files.iter().copied().filter(|f| !folder.join(f).is_file()).collect();
                if folder.is_dir() && !missing.is_empty() {
                    format!("{} (has `{dataset}` but not {})", d.display(), missing.join(", "))
                } else {
                    d.display().to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn found_folders_are_recorded_for_the_result_line() {
        let root = crate::testing::temp_dir("dl-core", "found");
        std::fs::create_dir_all(root.join("set")).unwrap();
        std::fs::write(root.join("set/a.txt"), b"x").unwrap();
        let dirs = DataDirs::from_dirs(vec![root.clone()]);
        assert!(dirs.find_opt("set", &["b.txt"]).is_none());
        let want = std::fs::canonicalize(root.join("set")).unwrap();
        assert!(!data_folders_used().contains(&want));
        dirs.find("set", &["a.txt"]).unwrap();
        assert!(data_folders_used().contains(&want));
    }

    #[test]
    fn search_order() {
        let fallbacks: Vec<PathBuf> = FALLBACKS.iter().map(PathBuf::from).chain(cache_dir()).collect();
        let cli = Path::new("/from/cli");
        let env = Some(OsString::from("/from/env"));
        // --data wins over the environment, and a named folder is the only
        // one searched: no silent fallback to another.
        let d = DataDirs::resolve_with(Some(cli), env.clone());
        assert_eq!(d.dirs(), [cli]);
        let d = DataDirs::resolve_with(None, env);
        assert_eq!(d.dirs(), [Path::new("/from/env")]);
        // An empty variable counts as unset.
        assert_eq!(DataDirs::resolve_with(None, Some(OsString::new())).dirs(), fallbacks);
        assert_eq!(DataDirs::resolve_with(None, None).dirs(), fallbacks);
        assert_eq!(DataDirs::resolve(Some(cli)).dirs()[0], cli);
    }

    #[test]
    fn finds_the_first_complete_folder() {
        let root = std::env::temp_dir().join(format!("dl-core-locate-{}", std::process::id()));
        let (a, b) = (root.join("a"), root.join("b"));
        std::fs::create_dir_all(a.join("ds")).unwrap();
        std::fs::create_dir_all(b.join("ds/sub")).unwrap();
        std::fs::write(a.join("ds/x"), "").unwrap();
        std::fs::write(b.join("ds/x"), "").unwrap();
        std::fs::write(b.join("ds/y"), "").unwrap();
        let dirs = DataDirs::from_dirs(vec![root.join("none"), a.clone(), b.clone()]);
        assert_eq!(dirs.find("ds", &["x"]).unwrap(), a.join("ds"));
        assert_eq!(dirs.find("ds", &["x", "y"]).unwrap(), b.join("ds"));
        assert_eq!(dirs.find_opt("ds", &[]), Some(a.join("ds")));
        // A folder is not a required file.
        assert_eq!(dirs.find_opt("ds", &["sub"]), None);

        let e = dirs.find("nope", &["x"]).unwrap_err();
        assert!(matches!(&e, Error::DatasetNotFound { name, .. } if name == "nope"), "{e:?}");
        // The message ends with the command that fetches it.
        assert!(e.to_string().ends_with("--bin dl-data -- fetch nope"), "{e}");
        let msg = e.to_string();
        assert!(msg.contains(&a.display().to_string()) && msg.contains("DL_DATA_DIR"), "{msg}");
        let msg = dirs.find("ds", &["x", "z"]).unwrap_err().to_string();
        assert!(msg.contains("has `ds` but not z"), "{msg}");
        std::fs::remove_dir_all(&root).ok();
    }

    #[test]
    fn finds_the_real_data_from_the_crate_folder() {
        // Cargo runs tests in the crate folder, from which one of the fallbacks
        // is the project's `shared/data` (when it exists on this machine).
        match DataDirs::resolve(None).find_opt("timeseries", &["airline_passengers.csv"]) {
            Some(dir) => assert!(dir.join("nile.csv").is_file()),
            None => eprintln!("skipped: no shared/data next to the project"),
        }
    }
}
