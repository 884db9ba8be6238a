//! Progress bars for long work (training epochs, data loading, benchmarks).

use indicatif::{ProgressBar, ProgressStyle};

/// A progress bar with rate and ETA; hidden when disabled or when stderr is not a terminal.
pub fn bar(len: u64, label: &str, enabled: bool) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len);
    let style = ProgressStyle::with_template("{msg:>14} [{bar:30.cyan/blue}] {pos}/{len} {per_sec} ETA {eta} {prefix}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    pb.set_style(style);
    pb.set_message(label.to_string());
    pb
}
