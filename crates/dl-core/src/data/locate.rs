//! Where datasets are found: `--data DIR`, else `$DL_DATA_DIR`, then the
//! project's neighbour `../shared/data` (also tried from crate folders).

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// The ordered list of folders searched for datasets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDirs {
    dirs: Vec<PathBuf>,
}

impl DataDirs {
    /// The search order for a command-line `--data` value.
    pub fn resolve(cli: Option<&Path>) -> DataDirs {
        let mut dirs = Vec::new();
        match cli {
            Some(d) => dirs.push(d.to_path_buf()),
            None => {
                if let Some(env) = std::env::var_os("DL_DATA_DIR").filter(|v| !v.is_empty()) {
                    dirs.push(PathBuf::from(env));
                }
            }
        }
        for up in ["../shared/data", "../../shared/data", "../../../shared/data"] {
            dirs.push(PathBuf::from(up));
        }
        DataDirs { dirs }
    }

    /// Exactly these folders.
    pub fn from_dirs(dirs: Vec<PathBuf>) -> DataDirs {
        DataDirs { dirs }
    }

    /// The folders, in search order.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// The first `dir/dataset` holding every file of `required`, if any.
    pub fn find_opt(&self, dataset: &str, required: &[&str]) -> Option<PathBuf> {
        self.dirs.iter().map(|d| d.join(dataset)).find(|d| required.iter().all(|f| d.join(f).is_file()))
    }

    /// Like [`DataDirs::find_opt`], with an error listing the folders searched.
    pub fn find(&self, dataset: &str, required: &[&str]) -> Result<PathBuf> {
        self.find_opt(dataset, required).ok_or_else(|| Error::DatasetNotFound {
            name: dataset.to_string(),
            searched: self.dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", "),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_complete_folder() {
        let root = std::env::temp_dir().join(format!("dl-core-locate-{}", std::process::id()));
        let (a, b) = (root.join("a"), root.join("b"));
        std::fs::create_dir_all(a.join("ds")).unwrap();
        std::fs::create_dir_all(b.join("ds")).unwrap();
        std::fs::write(a.join("ds/x"), "").unwrap();
        std::fs::write(b.join("ds/x"), "").unwrap();
        std::fs::write(b.join("ds/y"), "").unwrap();
        let dirs = DataDirs::from_dirs(vec![a.clone(), b.clone()]);
        assert_eq!(dirs.find("ds", &["x"]).unwrap(), a.join("ds"));
        assert_eq!(dirs.find("ds", &["x", "y"]).unwrap(), b.join("ds"));
        let e = dirs.find("nope", &["x"]).unwrap_err();
        assert!(matches!(e, Error::DatasetNotFound { .. }));
        assert!(e.to_string().contains("nope"));
        assert_eq!(DataDirs::resolve(Some(&a)).dirs()[0], a);
    }
}
