//! Seeded randomness for data handling: shuffles and splits that are the
//! same on every machine and backend (burn's device RNG is not used here, so
//! data order never depends on the backend).

use crate::{Error, Result};

/// SplitMix64: tiny, fast, and good enough for shuffling.
#[derive(Debug, Clone)]
pub struct SplitRng(u64);

impl SplitRng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f32 {
        let u1 = self.next_f32().max(1e-7);
        let u2 = self.next_f32();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f32::consts::PI * u2).cos()
    }
}

/// Fisher-Yates shuffle with a seed.
pub fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut rng = SplitRng::new(seed);
    for i in (1..items.len()).rev() {
        items.swap(i, rng.below(i + 1));
    }
}

/// `0..n` in a seeded random order.
pub fn shuffled_indices(n: usize, seed: u64) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).collect();
    shuffle(&mut v, seed);
    v
}

/// Shuffled indices split into (train, valid) with `round(n * valid_fraction)` in valid.
pub fn train_valid_split(n: usize, valid_fraction: f64, seed: u64) -> Result<(Vec<usize>, Vec<usize>)> {
    if !(0.0..1.0).contains(&valid_fraction) {
        return Err(Error::config(
            "train_valid_split",
            "valid_fraction",
            format!("must be in [0, 1), got {valid_fraction}"),
        ));
    }
    let idx = shuffled_indices(n, seed);
    let n_valid = (n as f64 * valid_fraction).round() as usize;
    let (valid, train) = idx.split_at(n_valid);
    Ok((train.to_vec(), valid.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_permutations_and_splits() {
        let a = shuffled_indices(100, 7);
        assert_eq!(a, shuffled_indices(100, 7));
        assert_ne!(a, shuffled_indices(100, 8));
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
        let (tr, va) = train_valid_split(100, 0.2, 1).unwrap();
        assert_eq!((tr.len(), va.len()), (80, 20));
        assert!(tr.iter().all(|i| !va.contains(i)));
        assert!(train_valid_split(10, 1.0, 1).is_err());
        let mut rng = SplitRng::new(3);
        let xs: Vec<f32> = (0..10_000).map(|_| rng.normal()).collect();
        let mean = xs.iter().sum::<f32>() / xs.len() as f32;
        assert!(mean.abs() < 0.05, "{mean}");
        assert!((0..1000).map(|_| rng.next_f32()).all(|x| (0.0..1.0).contains(&x)));
    }
}
