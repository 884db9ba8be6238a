//! The checkpoint of a training run, written so that a kill at any moment
//! leaves a complete one: `fit` and the GAN trainer share it.
//!
//! Layout under `<out>/checkpoint/`: `epoch-NNNN/` holds one epoch's files
//! (weights, optimizer state, `state.json`) and `latest.json` names the
//! folder of the last complete epoch. A save writes the files into
//! `epoch-NNNN.partial/`, syncs them, renames the folder, then replaces
//! `latest.json` through a synced temporary file and a rename; only then are
//! older epoch folders removed. The flat layout of earlier versions
//! (`checkpoint/state.json` beside the weights) is still read.

use std::fs::File;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::config::load_json;
use crate::{Error, Result};

/// File name of the run state inside a checkpoint folder.
pub const STATE_FILE: &str = "state.json";
const LATEST_FILE: &str = "latest.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Latest {
    epoch: usize,
    folder: String,
}

/// What every run state carries, so that resuming can check it belongs to this run.
pub trait RunState: Serialize + DeserializeOwned {
    /// Last completed epoch (0 = none).
    fn epoch(&self) -> usize;
    /// The seed the run was started with.
    fn seed(&self) -> u64;
}

/// The checkpoint folder of one run.
#[derive(Debug, Clone)]
pub struct Checkpointer {
    root: PathBuf,
}

/// A complete checkpoint found on disk.
#[derive(Debug, Clone)]
pub struct Restored<S> {
    /// The folder holding its files.
    pub dir: PathBuf,
    /// The run state saved with it.
    pub state: S,
}

impl Checkpointer {
    /// The checkpoint of the run writing into `out_dir` (`<out_dir>/checkpoint`, created).
    pub fn new(out_dir: &Path) -> Result<Self> {
        let root = out_dir.join("checkpoint");
        std::fs::create_dir_all(&root).map_err(|e| Error::io("creating", &root, e))?;
        Ok(Checkpointer { root })
    }

    /// `<out_dir>/checkpoint`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The last complete checkpoint, or `None` when the run has none yet.
    /// A `latest.json` that names a missing folder, or a state that does not
    /// parse, is an error naming the file.
    pub fn latest<S: DeserializeOwned>(&self) -> Result<Option<Restored<S>>> {
        let latest = self.root.join(LATEST_FILE);
        if latest.is_file() {
            let l: Latest = load_json(&latest)?;
            if l.folder.contains(['/', '\\']) || l.folder.starts_with('.') {
                return Err(Error::checkpoint(&latest, format!("names the folder `{}`", l.folder)));
            }
            let dir = self.root.join(&l.folder);
            if !dir.is_dir() {
                return Err(Error::checkpoint(&latest, format!("names `{}`, which is missing", dir.display())));
            }
            let state = load_json(dir.join(STATE_FILE))?;
            return Ok(Some(Restored { dir, state }));
        }
        // The flat layout of earlier versions.
        let legacy = self.root.join(STATE_FILE);
        if legacy.is_file() {
            return Ok(Some(Restored { dir: self.root.clone(), state: load_json(&legacy)? }));
        }
        Ok(None)
    }

    /// The checkpoint a run with `seed` resumes from: the latest one, which
    /// must come from a run with the same seed (an error names it otherwise).
    pub fn resume<S: RunState>(&self, seed: u64) -> Result<Option<Restored<S>>> {
        let Some(r) = self.latest::<S>()? else { return Ok(None) };
        if r.state.seed() != seed {
            return Err(Error::checkpoint(
                r.dir.join(STATE_FILE),
                format!("was trained with seed {}, this run has seed {seed}", r.state.seed()),
            ));
        }
        Ok(Some(r))
    }

    /// The folder of the last complete checkpoint, if any.
    pub fn latest_dir(&self) -> Result<Option<PathBuf>> {
        Ok(self.latest::<serde_json::Value>()?.map(|r| r.dir))
    }

    /// Saves epoch `epoch`: `write(folder)` writes the files, then `state` is
    /// written beside them, and the checkpoint becomes the latest one only
    /// when everything is on disk. Returns the new folder.
    pub fn save<S: Serialize>(
        &self,
        epoch: usize,
        state: &S,
        write: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<PathBuf> {
        // Never write over the folder that `latest.json` names (a second save of one epoch).
        let current = self.current_folder();
        let mut name = format!("epoch-{epoch:04}");
        if current.as_deref() == Some(name.as_str()) {
            name.push_str("-again");
        }
        let partial = self.root.join(format!("{name}.partial"));
        let done = self.root.join(&name);
        for stale in [&partial, &done] {
            if stale.exists() {
                std::fs::remove_dir_all(stale).map_err(|e| Error::io("removing", stale, e))?;
            }
        }
        std::fs::create_dir_all(&partial).map_err(|e| Error::io("creating", &partial, e))?;
        write(&partial)?;
        self.step()?;
        let text = serde_json::to_vec_pretty(state)
            .map_err(|e| Error::Invalid(format!("serialising the state of {}: {e}", partial.display())))?;
        let state_path = partial.join(STATE_FILE);
        std::fs::write(&state_path, text).map_err(|e| Error::io("writing", &state_path, e))?;
        self.step()?;
        sync_folder_files(&partial)?;
        std::fs::rename(&partial, &done).map_err(|e| Error::io("renaming", &partial, e))?;
        sync_dir(&self.root)?;
        self.step()?;
        let latest = serde_json::to_vec_pretty(&Latest { epoch, folder: name.clone() })
            .map_err(|e| Error::Invalid(format!("serialising {LATEST_FILE}: {e}")))?;
        write_atomically(&self.root.join(LATEST_FILE), &latest)?;
        self.step()?;
        self.remove_all_but(&name)?;
        Ok(done)
    }

    fn current_folder(&self) -> Option<String> {
        load_json::<Latest>(self.root.join(LATEST_FILE)).ok().map(|l| l.folder)
    }

    /// Removes every epoch folder but `keep` (and the flat files of the old layout).
    fn remove_all_but(&self, keep: &str) -> Result<()> {
        let entries = std::fs::read_dir(&self.root).map_err(|e| Error::io("reading", &self.root, e))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if name.starts_with("epoch-") && name != keep {
                std::fs::remove_dir_all(&path).map_err(|e| Error::io("removing", &path, e))?;
            } else if path.is_file() && name != LATEST_FILE {
                std::fs::remove_file(&path).map_err(|e| Error::io("removing", &path, e))?;
            }
        }
        Ok(())
    }

    fn step(&self) -> Result<()> {
        #[cfg(any(test, feature = "testing"))]
        if let Some(left) = INTERRUPT.get() {
            if left == 0 {
                INTERRUPT.set(None);
                return Err(Error::Training(format!("checkpoint write in {} interrupted (test)", self.root.display())));
            }
            INTERRUPT.set(Some(left - 1));
        }
        Ok(())
    }
}

#[cfg(any(test, feature = "testing"))]
thread_local! {
    static INTERRUPT: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

/// Tests only (feature `testing`): the next checkpoint save on this thread
/// stops with an error after `steps` of its steps (1: the files written,
/// 2: the state written, 3: the folder renamed, 4: `latest.json` replaced),
/// leaving the folder as a kill at that moment would; `None` cancels.
#[cfg(any(test, feature = "testing"))]
pub fn interrupt_next_save(steps: Option<usize>) {
    INTERRUPT.set(steps);
}

/// [`dl_kernels::on_compute_threads`] for the training loops: runs `f` on a
/// compute thread, carrying a test's pending checkpoint interruption
/// ([`interrupt_next_save`], feature `testing`) there and what is left of
/// it back.
pub fn on_compute_threads<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    #[cfg(any(test, feature = "testing"))]
    {
        let pending = INTERRUPT.replace(None);
        let (result, left) = dl_kernels::on_compute_threads(move || {
            let outer = INTERRUPT.replace(pending);
            let result = f();
            (result, INTERRUPT.replace(outer))
        });
        INTERRUPT.set(left);
        result
    }
    #[cfg(not(any(test, feature = "testing")))]
    dl_kernels::on_compute_threads(f)
}

/// Writes `bytes` to `path` through a synced temporary file and a rename, so
/// that `path` holds either its old or its new content, never a part.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    {
        let mut f = File::create(&tmp).map_err(|e| Error::io("creating", &tmp, e))?;
        std::io::Write::write_all(&mut f, bytes).map_err(|e| Error::io("writing", &tmp, e))?;
        f.sync_all().map_err(|e| Error::io("syncing", &tmp, e))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| Error::io("renaming", &tmp, e))?;
    if let Some(parent) = path.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

/// Makes `to` a second name of `from` (a copy where links are not supported).
pub fn link_or_copy(from: &Path, to: &Path) -> Result<()> {
    if std::fs::hard_link(from, to).is_ok() {
        return Ok(());
    }
    std::fs::copy(from, to).map(|_| ()).map_err(|e| Error::io("copying", from, e))
}

/// Copies `from` to `to` through a temporary file and a rename.
pub fn copy_atomically(from: &Path, to: &Path) -> Result<()> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io("creating", parent, e))?;
    }
    let bytes = std::fs::read(from).map_err(|e| Error::io("reading", from, e))?;
    write_atomically(to, &bytes)
}

fn sync_folder_files(dir: &Path) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io("reading", dir, e))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_file() {
            File::open(&path).and_then(|f| f.sync_all()).map_err(|e| Error::io("syncing", &path, e))?;
        }
    }
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> Result<()> {
    // Directories can be opened and synced on Unix; elsewhere the rename is what is relied on.
    #[cfg(unix)]
    File::open(dir).and_then(|f| f.sync_all()).map_err(|e| Error::io("syncing", dir, e))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        crate::testing::temp_dir("dl-core", name)
    }

    fn write_one(value: u8) -> impl FnOnce(&Path) -> Result<()> {
        move |dir: &Path| std::fs::write(dir.join("w.bin"), [value]).map_err(|e| Error::io("writing", dir, e))
    }

    #[test]
    fn saves_replace_the_latest_and_keep_one_folder() {
        let out = tmp("ckpt-basic");
        let c = Checkpointer::new(&out).unwrap();
        assert!(c.latest::<usize>().unwrap().is_none());
        c.save(1, &10usize, write_one(1)).unwrap();
        c.save(2, &20usize, write_one(2)).unwrap();
        let r = c.latest::<usize>().unwrap().unwrap();
        assert_eq!(r.state, 20);
        assert_eq!(std::fs::read(r.dir.join("w.bin")).unwrap(), vec![2]);
        let folders: Vec<_> = std::fs::read_dir(c.root()).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(folders.len(), 2, "epoch-0002 and latest.json: {folders:?}");
    }

    /// An interruption at every step of a save leaves the previous or the new
    /// checkpoint, complete, and the next save succeeds.
    #[test]
    fn an_interrupted_save_leaves_a_complete_checkpoint() {
        for n in 0..4 {
            let out = tmp(&format!("ckpt-interrupt-{n}"));
            Checkpointer::new(&out).unwrap().save(1, &10usize, write_one(1)).unwrap();
            interrupt_next_save(Some(n));
            assert!(Checkpointer::new(&out).unwrap().save(2, &20usize, write_one(2)).is_err());
            let r = Checkpointer::new(&out).unwrap().latest::<usize>().unwrap().unwrap();
            let byte = std::fs::read(r.dir.join("w.bin")).unwrap()[0];
            assert_eq!((r.state, byte), if n < 3 { (10, 1) } else { (20, 2) }, "interrupted after {n} steps");
            // Saving the same epoch again (even over the latest) and being interrupted keeps one complete.
            interrupt_next_save(Some(2));
            assert!(Checkpointer::new(&out).unwrap().save(2, &21usize, write_one(3)).is_err());
            let r = Checkpointer::new(&out).unwrap().latest::<usize>().unwrap().unwrap();
            assert!(r.dir.join("w.bin").is_file());
            Checkpointer::new(&out).unwrap().save(2, &20usize, write_one(2)).unwrap();
            assert_eq!(Checkpointer::new(&out).unwrap().latest::<usize>().unwrap().unwrap().state, 20);
        }
    }

    #[test]
    fn the_flat_layout_of_earlier_versions_still_reads_and_bad_pointers_are_errors() {
        let out = tmp("ckpt-legacy");
        let c = Checkpointer::new(&out).unwrap();
        std::fs::write(c.root().join(STATE_FILE), "7").unwrap();
        let r = c.latest::<usize>().unwrap().unwrap();
        assert_eq!((r.state, r.dir.as_path()), (7, c.root()));
        std::fs::write(c.root().join(LATEST_FILE), r#"{"epoch": 3, "folder": "epoch-0003"}"#).unwrap();
        let e = c.latest::<usize>().unwrap_err().to_string();
        assert!(e.contains("missing"), "{e}");
        std::fs::write(c.root().join(LATEST_FILE), "{").unwrap();
        assert!(c.latest::<usize>().is_err());
    }
}
