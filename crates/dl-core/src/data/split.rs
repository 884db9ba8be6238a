//! Seeded randomness for data handling: shuffles, train/validation splits and
//! batches of indices that are the same on every machine and backend.
//!
//! burn's device RNG is deliberately not used here: data order must not
//! depend on the backend (or on a GPU's thread scheduling), otherwise two runs
//! with the same seed on `flex` and `wgpu` would train on different batches
//! and could not be compared.

use crate::{Error, Result};

/// SplitMix64 (Steele, Lea & Flood, 2014): a 64-bit state, one add and three
/// xor-shift-multiplies per number. Tiny, fast, statistically sound for
/// shuffling and initial noise, and trivially reproducible in any language.
/// Not cryptographic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitRng(u64);

impl SplitRng {
    /// A generator seeded with `seed` (every seed, 0 included, is fine).
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1), from the top 24 bits (exactly the `f32` mantissa, so
    /// every value is equally likely and 1.0 is never returned).
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in `0..n` (by modulo: the bias, below `n / 2^64`, is
    /// negligible for any dataset size). `n == 0` gives 0 rather than a
    /// panic.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// A standard normal sample (Box-Muller; uses two uniforms).
    pub fn normal(&mut self) -> f32 {
        // 1 - u is in (0, 1], so the logarithm is finite.
        let u1 = 1.0 - f64::from(self.next_f32());
        let u2 = f64::from(self.next_f32());
        ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
    }
}

/// Fisher-Yates shuffle of `items`, driven by `SplitRng::new(seed)`.
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

/// Shuffled indices `0..n` split into `(train, valid)`, with
/// `round(n * valid_fraction)` of them in `valid`.
///
/// Both parts keep the shuffled order (train batches are reshuffled per epoch
/// anyway). A fraction outside [0, 1) is an [`Error::Config`], and so is a
/// split that would leave no training example (`n > 0` and every index in
/// `valid`): training on nothing is never what was meant.
pub fn train_valid_split(n: usize, valid_fraction: f64, seed: u64) -> Result<(Vec<usize>, Vec<usize>)> {
    if !(0.0..1.0).contains(&valid_fraction) {
        return Err(Error::config(
            "train_valid_split",
            "valid_fraction",
            format!("must be in [0, 1), got {valid_fraction}"),
        ));
    }
    let n_valid = (n as f64 * valid_fraction).round() as usize;
    if n > 0 && n_valid >= n {
        return Err(Error::config(
            "train_valid_split",
            "valid_fraction",
            format!("{valid_fraction} of {n} examples leaves none for training"),
        ));
    }
    let idx = shuffled_indices(n, seed);
    let (valid, train) = idx.split_at(n_valid);
    Ok((train.to_vec(), valid.to_vec()))
}

/// Consecutive batches of `indices`, `batch_size` each; the last one may be
/// shorter. A `batch_size` of 0 is treated as 1 so that this never panics
/// (configs reject 0 long before data is batched).
pub fn batches(indices: &[usize], batch_size: usize) -> impl Iterator<Item = &[usize]> {
    indices.chunks(batch_size.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_reference_values() {
        // From the reference C implementation (seed 1234567).
        let mut rng = SplitRng::new(1_234_567);
        let first: Vec<u64> = (0..3).map(|_| rng.next_u64()).collect();
        assert_eq!(first, [6_457_827_717_110_365_317, 3_203_168_211_198_807_973, 9_817_491_932_198_370_423]);
        // Seed 0 works too.
        assert_eq!(SplitRng::new(0).next_u64(), 0xE220_A839_7B1D_CDAF);
    }

    #[test]
    fn uniform_and_bounded_draws() {
        let mut rng = SplitRng::new(3);
        let xs: Vec<f32> = (0..10_000).map(|_| rng.next_f32()).collect();
        assert!(xs.iter().all(|x| (0.0..1.0).contains(x)));
        let mean = xs.iter().sum::<f32>() / xs.len() as f32;
        assert!((mean - 0.5).abs() < 0.01, "{mean}");
        let mut hist = [0usize; 7];
        for _ in 0..7_000 {
            hist[rng.below(7)] += 1;
        }
        assert!(hist.iter().all(|&c| (850..1150).contains(&c)), "{hist:?}");
        assert_eq!(rng.below(0), 0);
    }

    #[test]
    fn normal_has_mean_0_and_variance_1() {
        let mut rng = SplitRng::new(3);
        let xs: Vec<f64> = (0..20_000).map(|_| f64::from(rng.normal())).collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
        assert!(mean.abs() < 0.03 && (var - 1.0).abs() < 0.05, "{mean} {var}");
        assert!(xs.iter().all(|x| x.is_finite()));
    }

    #[test]
    fn shuffles_are_seeded_permutations() {
        let a = shuffled_indices(100, 7);
        assert_eq!(a, shuffled_indices(100, 7));
        assert_ne!(a, shuffled_indices(100, 8));
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
        let mut letters = ['a', 'b', 'c', 'd', 'e'];
        shuffle(&mut letters, 7);
        let order = shuffled_indices(5, 7);
        assert_eq!(letters.to_vec(), order.iter().map(|&i| (b'a' + i as u8) as char).collect::<Vec<_>>());
        assert!(shuffled_indices(0, 1).is_empty());
        assert_eq!(shuffled_indices(1, 1), [0]);
    }

    #[test]
    fn train_valid_split_sizes_and_errors() {
        let (tr, va) = train_valid_split(100, 0.2, 1).unwrap();
        assert_eq!((tr.len(), va.len()), (80, 20));
        let mut all: Vec<usize> = tr.iter().chain(&va).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
        assert_eq!(train_valid_split(100, 0.2, 1).unwrap(), (tr, va));
        assert_eq!(train_valid_split(10, 0.0, 1).unwrap().1.len(), 0);
        assert_eq!(train_valid_split(0, 0.5, 1).unwrap(), (vec![], vec![]));
        for bad in [1.0, -0.1, f64::NAN] {
            let e = train_valid_split(10, bad, 1).unwrap_err();
            assert!(matches!(&e, Error::Config { field, .. } if field == "valid_fraction"), "{bad}: {e:?}");
        }
        assert!(train_valid_split(1, 0.9, 1).unwrap_err().to_string().contains("none for training"));
    }

    #[test]
    fn batches_cover_indices_in_order() {
        let idx: Vec<usize> = (0..7).collect();
        let b: Vec<&[usize]> = batches(&idx, 3).collect();
        assert_eq!(b, [&[0, 1, 2][..], &[3, 4, 5], &[6]]);
        assert_eq!(batches(&idx, 0).count(), 7);
        assert_eq!(batches(&[], 4).count(), 0);
    }
}
