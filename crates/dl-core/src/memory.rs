//! What the machine can hold: sizes read from files or flags are compared
//! with the memory available before anything is allocated for them, so that a
//! hostile header or a typo is an error with the figures, not an abort.

/// Bytes of memory available to new allocations (`MemAvailable` of
/// `/proc/meminfo`), or `None` where the system does not say.
pub fn available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// The most a reader decompresses or holds from one source: half the memory
/// available (no bound where the system does not say).
pub fn read_budget() -> u64 {
    available().map_or(u64::MAX, |free| free / 2)
}

/// `None` when `bytes` fit in the memory available (or the system does not
/// say), else what to tell the user: "needs 12.0 GB of memory, more than the
/// 3.5 GB available".
pub fn shortfall(bytes: u64) -> Option<String> {
    shortfall_in(bytes, available())
}

fn shortfall_in(bytes: u64, available: Option<u64>) -> Option<String> {
    let free = available.filter(|&free| bytes > free)?;
    Some(format!("needs {} of memory, more than the {} available", human(bytes), human(free)))
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
    fn sizes_beyond_the_available_memory_are_named_with_the_figures() {
        assert!(available().is_some_and(|b| b > 1 << 20));
        assert!(read_budget() < available().unwrap());
        assert_eq!(shortfall_in(1000, Some(1000)), None);
        assert_eq!(shortfall_in(u64::MAX, None), None);
        assert_eq!(
            shortfall_in(12_000_000_000, Some(3_500_000_000)).as_deref(),
            Some("needs 12.0 GB of memory, more than the 3.5 GB available")
        );
        assert_eq!(human(999), "999 B");
    }
}
