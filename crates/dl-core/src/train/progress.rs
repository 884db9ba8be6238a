//! Progress bars for long work (training epochs, data loading, benchmarks).
//!
//! With the `progress` feature a bar with rate and ETA is drawn on stderr;
//! without it the bar is silent and the per-epoch lines of the loops remain.

/// A progress bar; hidden when disabled, when stderr is not a terminal, or
/// when the crate is built without the `progress` feature.
#[derive(Debug, Clone)]
pub struct Bar {
    #[cfg(feature = "progress")]
    inner: indicatif::ProgressBar,
}

impl Bar {
    /// Advances the bar by `n` steps.
    pub fn inc(&self, n: u64) {
        #[cfg(feature = "progress")]
        self.inner.inc(n);
        #[cfg(not(feature = "progress"))]
        let _ = n;
    }

    /// Removes the bar from the terminal.
    pub fn finish_and_clear(&self) {
        #[cfg(feature = "progress")]
        self.inner.finish_and_clear();
    }
}

/// A bar of `len` steps labelled `label`.
pub fn bar(len: u64, label: &str, enabled: bool) -> Bar {
    #[cfg(feature = "progress")]
    {
        use indicatif::{ProgressBar, ProgressStyle};
        if !enabled {
            return Bar { inner: ProgressBar::hidden() };
        }
        let pb = ProgressBar::new(len);
        let style =
            ProgressStyle::with_template("{msg:>14} [{bar:30.cyan/blue}] {pos}/{len} {per_sec} ETA {eta} {prefix}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
        pb.set_style(style);
        pb.set_message(label.to_string());
        Bar { inner: pb }
    }
    #[cfg(not(feature = "progress"))]
    {
        let _ = (len, label, enabled);
        Bar {}
    }
}
