//! What the machine can hold: sizes read from files or flags are compared
//! with the memory available before anything is allocated for them, so that a
//! hostile header or a typo is an error with the figures, not an abort.

use crate::{Error, Result};

/// Bytes of memory available to new allocations (`MemAvailable` of
/// `/proc/meminfo`), or `None` where the system does not say.
pub fn available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// An error when `bytes` for `what` exceed the memory available (nothing is
/// checked where the system does not say how much that is).
pub fn check_fits(bytes: u64, what: impl std::fmt::Display) -> Result<()> {
    check_fits_in(bytes, available(), what)
}

pub(crate) fn check_fits_in(bytes: u64, available: Option<u64>, what: impl std::fmt::Display) -> Result<()> {
    match available {
        Some(free) if bytes > free => Err(Error::Invalid(format!(
            "{what} needs {} of memory, more than the {} available",
            human(bytes),
            human(free)
        ))),
        _ => Ok(()),
    }
}

/// `bytes` in B, KB, MB, GB or TB (powers of 1000, one decimal).
pub fn human(bytes: u64) -> String {
    let units = ["B", "KB", "MB", "GB", "TB", "PB", "EB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < units.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 { format!("{bytes} B") } else { format!("{v:.1} {}", units[u]) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_beyond_the_available_memory_are_errors_with_the_figures() {
        assert!(available().is_some_and(|b| b > 1 << 20));
        check_fits_in(1000, Some(1000), "x").unwrap();
        check_fits_in(u64::MAX, None, "x").unwrap();
        let e = check_fits_in(12_000_000_000, Some(3_500_000_000), "the data of `a.gz`").unwrap_err().to_string();
        assert!(e.contains("the data of `a.gz` needs 12.0 GB of memory, more than the 3.5 GB available"), "{e}");
        assert_eq!(human(999), "999 B");
    }
}
