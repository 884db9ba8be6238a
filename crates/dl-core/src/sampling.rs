//! Choosing the next token from a model's logits: greedy, temperature, top-k,
//! top-p (nucleus), seeded. Shared by every generating family (character
//! language models, GPT, LLaMA).

use crate::data::split::SplitRng;
use crate::{Error, Result};

/// How to pick the next token.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    /// Softmax temperature; 0 means greedy (argmax). Lower is safer, higher more varied.
    pub temperature: f32,
    /// Keep only the `k` most likely tokens.
    pub top_k: Option<usize>,
    /// Keep the smallest set of most likely tokens whose probability reaches `p`.
    pub top_p: Option<f32>,
}

impl Sampling {
    /// Argmax decoding.
    pub const GREEDY: Sampling = Sampling { temperature: 0.0, top_k: None, top_p: None };

    /// Plain sampling at `temperature`.
    pub fn temperature(temperature: f32) -> Self {
        Sampling { temperature, top_k: None, top_p: None }
    }

    /// Checks the parameters.
    pub fn validate(&self) -> Result<()> {
        if !self.temperature.is_finite() || self.temperature < 0.0 {
            return Err(Error::config("Sampling", "temperature", "must be a finite number >= 0"));
        }
        if self.top_k == Some(0) {
            return Err(Error::config("Sampling", "top_k", "must be at least 1"));
        }
        if let Some(p) = self.top_p
            && !(p > 0.0 && p <= 1.0)
        {
            return Err(Error::config("Sampling", "top_p", "must be in (0, 1]"));
        }
        Ok(())
    }

    /// Picks a token id from `logits` (one score per vocabulary entry).
    pub fn pick(&self, logits: &[f32], rng: &mut SplitRng) -> Result<usize> {
        self.validate()?;
        if logits.is_empty() || logits.iter().any(|v| v.is_nan()) {
            return Err(Error::Invalid("sampling: logits are empty or NaN".into()));
        }
        let argmax = |v: &[f32]| v.iter().enumerate().fold(0, |b, (i, x)| if *x > v[b] { i } else { b });
        if self.temperature == 0.0 {
            return Ok(argmax(logits));
        }
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut probs: Vec<(usize, f64)> =
            logits.iter().enumerate().map(|(i, l)| (i, (((l - max) / self.temperature) as f64).exp())).collect();
        probs.sort_by(|a, b| b.1.total_cmp(&a.1));
        if let Some(k) = self.top_k {
            probs.truncate(k);
        }
        let total: f64 = probs.iter().map(|p| p.1).sum();
        if let Some(p) = self.top_p {
            let mut acc = 0.0;
            let keep = probs
                .iter()
                .position(|(_, q)| {
                    acc += q / total;
                    acc >= p as f64
                })
                .map_or(probs.len(), |i| i + 1);
            probs.truncate(keep);
        }
        let total: f64 = probs.iter().map(|p| p.1).sum();
        let mut u = rng.next_f32() as f64 * total;
        for (i, q) in &probs {
            u -= q;
            if u <= 0.0 {
                return Ok(*i);
            }
        }
        Ok(probs.last().map_or(0, |p| p.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_top_k_top_p_and_temperature() {
        let logits = [1.0, 3.0, 2.0, -1.0];
        let mut rng = SplitRng::new(1);
        assert_eq!(Sampling::GREEDY.pick(&logits, &mut rng).unwrap(), 1);
        // top-k 1 and a tiny top-p are greedy too.
        let k1 = Sampling { temperature: 1.0, top_k: Some(1), top_p: None };
        let p = Sampling { temperature: 1.0, top_k: None, top_p: Some(0.01) };
        for _ in 0..50 {
            assert_eq!(k1.pick(&logits, &mut rng).unwrap(), 1);
            assert_eq!(p.pick(&logits, &mut rng).unwrap(), 1);
        }
        // top-k 2 never picks the others; frequencies follow the softmax.
        let k2 = Sampling { temperature: 1.0, top_k: Some(2), top_p: None };
        let mut counts = [0usize; 4];
        for _ in 0..4000 {
            counts[k2.pick(&logits, &mut rng).unwrap()] += 1;
        }
        assert_eq!(counts[0] + counts[3], 0);
        let frac = counts[1] as f64 / 4000.0;
        let want = 1.0 / (1.0 + (-1.0f64).exp());
        assert!((frac - want).abs() < 0.03, "{frac} vs {want}");
        // Same seed, same picks.
        let s = Sampling::temperature(0.8);
        let a: Vec<usize> = {
            let mut r = SplitRng::new(7);
            (0..20).map(|_| s.pick(&logits, &mut r).unwrap()).collect()
        };
        let b: Vec<usize> = {
            let mut r = SplitRng::new(7);
            (0..20).map(|_| s.pick(&logits, &mut r).unwrap()).collect()
        };
        assert_eq!(a, b);
        // Bad parameters are errors.
        assert!(Sampling::temperature(-1.0).pick(&logits, &mut rng).is_err());
        assert!(Sampling { temperature: 1.0, top_k: Some(0), top_p: None }.pick(&logits, &mut rng).is_err());
        assert!(Sampling::GREEDY.pick(&[], &mut rng).is_err());
    }
}
