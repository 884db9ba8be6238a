//! Evaluation metrics on plain slices.
//!
//! They take host-side values (`Vec<usize>` predictions, `Vec<f32>` outputs)
//! rather than tensors so that every family, every backend and the tests use
//! the same arithmetic, and so that a confusion matrix can be accumulated
//! batch by batch without keeping outputs on the device.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Fraction of positions where `pred == target`. Errors on length mismatch or empty input.
pub fn accuracy(pred: &[usize], target: &[usize]) -> Result<f64> {
    same_len("accuracy", pred.len(), target.len())?;
    let correct = pred.iter().zip(target).filter(|(p, t)| p == t).count();
    Ok(correct as f64 / pred.len() as f64)
}

/// Root mean squared error.
pub fn rmse(pred: &[f64], target: &[f64]) -> Result<f64> {
    Ok(mse(pred, target)?.sqrt())
}

/// Mean squared error.
pub fn mse(pred: &[f64], target: &[f64]) -> Result<f64> {
    same_len("mse", pred.len(), target.len())?;
    Ok(pred.iter().zip(target).map(|(p, t)| (p - t) * (p - t)).sum::<f64>() / pred.len() as f64)
}

/// Mean absolute error.
pub fn mae(pred: &[f64], target: &[f64]) -> Result<f64> {
    same_len("mae", pred.len(), target.len())?;
    Ok(pred.iter().zip(target).map(|(p, t)| (p - t).abs()).sum::<f64>() / pred.len() as f64)
}

/// Pearson's correlation of paired values, in [-1, 1]. Errors on a length
/// mismatch, fewer than 2 pairs, a non-finite value or a constant side
/// (its correlation is undefined).
pub fn pearson(a: &[f64], b: &[f64]) -> Result<f64> {
    same_len("pearson", a.len(), b.len())?;
    if a.len() < 2 || a.iter().chain(b).any(|v| !v.is_finite()) {
        return Err(Error::Invalid(format!("pearson: needs at least 2 finite pairs, got {}", a.len())));
    }
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    if saa == 0.0 || sbb == 0.0 {
        return Err(Error::Invalid("pearson: one side is constant, its correlation is undefined".into()));
    }
    Ok((sab / (saa * sbb).sqrt()).clamp(-1.0, 1.0))
}

/// Perplexity from a mean negative log-likelihood in nats: `exp(nll)`.
pub fn perplexity(mean_nll_nats: f64) -> f64 {
    mean_nll_nats.exp()
}

/// Levenshtein distance: the fewest insertions, deletions and substitutions
/// that turn `hypothesis` into `reference`.
pub fn edit_distance<T: PartialEq>(hypothesis: &[T], reference: &[T]) -> usize {
    // One row of the table at a time: row[j] = distance between the hypothesis so far and reference[..j].
    let mut row: Vec<usize> = (0..=reference.len()).collect();
    for (i, h) in hypothesis.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, r) in reference.iter().enumerate() {
            let substitute = diagonal + usize::from(h != r);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[reference.len()]
}

/// Error rate of label sequences (character or word error rate): the summed
/// [`edit_distance`] of each hypothesis to its reference over the total
/// reference length. Errors on a count mismatch or empty references.
pub fn error_rate<T: PartialEq>(hypotheses: &[Vec<T>], references: &[Vec<T>]) -> Result<f64> {
    same_len("error_rate", hypotheses.len(), references.len())?;
    let total: usize = references.iter().map(Vec::len).sum();
    if total == 0 {
        return Err(Error::empty("error_rate: the references"));
    }
    let edits: usize = hypotheses.iter().zip(references).map(|(h, r)| edit_distance(h, r)).sum();
    Ok(edits as f64 / total as f64)
}

/// Corpus BLEU-4 (Papineni et al. 2002) of `hypotheses` against one reference each,
/// on tokens as given: clipped n-gram precisions for n = 1..4 summed over the corpus,
/// their geometric mean, times the brevity penalty `min(1, exp(1 - ref_len / hyp_len))`.
/// In `[0, 1]`; 0 when some n-gram order has no match (no smoothing), as sacreBLEU's default.
pub fn bleu<S: AsRef<str> + Eq + std::hash::Hash>(hypotheses: &[Vec<S>], references: &[Vec<S>]) -> Result<f64> {
    same_len("bleu", hypotheses.len(), references.len())?;
    let (mut hyp_len, mut ref_len) = (0usize, 0usize);
    let mut matches = [0usize; 4];
    let mut totals = [0usize; 4];
    for (h, r) in hypotheses.iter().zip(references) {
        hyp_len += h.len();
        ref_len += r.len();
        for n in 1..=4 {
            fn grams<S: AsRef<str>>(s: &[S], n: usize) -> std::collections::HashMap<Vec<&str>, usize> {
                let mut m: std::collections::HashMap<Vec<&str>, usize> = std::collections::HashMap::new();
                for w in s.windows(n) {
                    *m.entry(w.iter().map(AsRef::as_ref).collect()).or_default() += 1;
                }
                m
            }
            let (hg, rg) = (grams(h, n), grams(r, n));
            totals[n - 1] += h.len().saturating_sub(n - 1);
            matches[n - 1] += hg.iter().map(|(g, c)| (*c).min(rg.get(g).copied().unwrap_or(0))).sum::<usize>();
        }
    }
    if hyp_len == 0 || matches.contains(&0) {
        return Ok(0.0);
    }
    let log_p: f64 = (0..4).map(|i| (matches[i] as f64 / totals[i] as f64).ln()).sum::<f64>() / 4.0;
    let bp = if hyp_len >= ref_len { 1.0 } else { (1.0 - ref_len as f64 / hyp_len as f64).exp() };
    Ok(bp * log_p.exp())
}

fn same_len(what: &str, a: usize, b: usize) -> Result<()> {
    if a != b {
        return Err(Error::shape(what, format!("{b} predictions (one per target)"), a));
    }
    if a == 0 {
        return Err(Error::shape(what, "at least one value", 0));
    }
    Ok(())
}

/// A `classes x classes` confusion matrix: rows are true classes, columns predictions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfusionMatrix {
    classes: usize,
    counts: Vec<u64>,
}

/// Precision, recall and F1 of one class.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClassScores {
    /// TP / (TP + FP); 0 when the class was never predicted.
    pub precision: f64,
    /// TP / (TP + FN); 0 when the class never occurs.
    pub recall: f64,
    /// Harmonic mean of precision and recall; 0 when both are 0.
    pub f1: f64,
    /// Number of true examples of this class.
    pub support: u64,
}

impl ConfusionMatrix {
    /// An empty matrix for `classes` classes.
    pub fn new(classes: usize) -> Result<Self> {
        if classes == 0 {
            return Err(Error::config("ConfusionMatrix", "classes", "must be at least 1"));
        }
        Ok(Self { classes, counts: vec![0; classes * classes] })
    }

    /// Adds predictions; any class id `>= classes` is an error naming its position.
    pub fn add(&mut self, pred: &[usize], target: &[usize]) -> Result<()> {
        if pred.len() != target.len() {
            return Err(Error::shape("ConfusionMatrix::add", target.len(), pred.len()));
        }
        for (i, (&p, &t)) in pred.iter().zip(target).enumerate() {
            if p >= self.classes || t >= self.classes {
                return Err(Error::Unknown {
                    kind: "class id",
                    value: format!("{} (prediction) / {} (target)", p, t),
                    context: format!("position {i} of a {}-class confusion matrix", self.classes),
                });
            }
            self.counts[t * self.classes + p] += 1;
        }
        Ok(())
    }

    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Count of examples of true class `t` predicted as `p`.
    pub fn get(&self, t: usize, p: usize) -> u64 {
        self.counts.get(t * self.classes + p).copied().unwrap_or(0)
    }

    /// Total number of examples.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Overall accuracy (0 for an empty matrix).
    pub fn accuracy(&self) -> f64 {
        let total = self.total();
        if total == 0 {
            return 0.0;
        }
        (0..self.classes).map(|c| self.get(c, c)).sum::<u64>() as f64 / total as f64
    }

    /// Precision, recall, F1 and support of class `c`.
    pub fn scores(&self, c: usize) -> ClassScores {
        let tp = self.get(c, c) as f64;
        let predicted: u64 = (0..self.classes).map(|t| self.get(t, c)).sum();
        let actual: u64 = (0..self.classes).map(|p| self.get(c, p)).sum();
        let precision = if predicted == 0 { 0.0 } else { tp / predicted as f64 };
        let recall = if actual == 0 { 0.0 } else { tp / actual as f64 };
        let f1 = if precision + recall == 0.0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) };
        ClassScores { precision, recall, f1, support: actual }
    }

    /// Unweighted mean of the per-class F1 scores.
    pub fn macro_f1(&self) -> f64 {
        (0..self.classes).map(|c| self.scores(c).f1).sum::<f64>() / self.classes as f64
    }

    /// Row-normalised values (each true class sums to 1), for plotting.
    pub fn normalized(&self) -> Vec<f32> {
        let mut out = vec![0.0; self.counts.len()];
        for t in 0..self.classes {
            let row: u64 = (0..self.classes).map(|p| self.get(t, p)).sum();
            for p in 0..self.classes {
                if row > 0 {
                    out[t * self.classes + p] = self.get(t, p) as f32 / row as f32;
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn pearson_matches_hand_computed_values() {
        use super::pearson;
        assert!((pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.5]).unwrap() - 0.997_948_715_788_673_3).abs() < 1e-12);
        assert!((pearson(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]).unwrap() + 1.0).abs() < 1e-12);
        // x = (-1, 0, 1), y = (1, -2, 1): no linear relation.
        assert_eq!(pearson(&[-1.0, 0.0, 1.0], &[1.0, -2.0, 1.0]).unwrap(), 0.0);
        assert!(pearson(&[1.0], &[1.0]).is_err());
        assert!(pearson(&[1.0, 2.0], &[1.0]).is_err());
        assert!(pearson(&[1.0, 1.0], &[1.0, 2.0]).is_err());
        assert!(pearson(&[1.0, f64::NAN], &[1.0, 2.0]).is_err());
    }

    #[test]
    fn bleu_matches_hand_computed_values() {
        let t = |s: &str| s.split(' ').map(str::to_string).collect::<Vec<_>>();
        // Identical: 1.
        assert!((bleu(&[t("the cat sat on the mat")], &[t("the cat sat on the mat")]).unwrap() - 1.0).abs() < 1e-12);
        // No 4-gram match: 0 (unsmoothed).
        assert_eq!(bleu(&[t("the cat sat on")], &[t("on the cat sat down")]).unwrap(), 0.0);
        assert_eq!(bleu(&[t("a b c")], &[t("a b c d")]).unwrap(), 0.0);
        // Hand-computed: hyp "the cat sat on the red mat" vs ref "the cat sat on the mat":
        // p1 = 6/7, p2 = 4/6, p3 = 3/5, p4 = 2/4, no brevity penalty.
        let want = ((6.0f64 / 7.0).ln() + (4.0f64 / 6.0).ln() + (3.0f64 / 5.0).ln() + (0.5f64).ln()) / 4.0;
        let got = bleu(&[t("the cat sat on the red mat")], &[t("the cat sat on the mat")]).unwrap();
        assert!((got - want.exp()).abs() < 1e-12, "{got}");
        // Brevity penalty: a short hypothesis is penalised.
        let short = bleu(&[t("the cat sat on")], &[t("the cat sat on the mat")]).unwrap();
        assert!((short - (1.0f64 - 6.0 / 4.0).exp()).abs() < 1e-12, "{short}");
        assert!(bleu(&[t("a")], &[]).is_err());
    }

    use super::*;

    #[test]
    fn edit_distance_and_error_rate_match_hand_counts() {
        assert_eq!(edit_distance(b"kitten", b"sitting"), 3);
        assert_eq!(edit_distance(b"", b"abc"), 3);
        assert_eq!(edit_distance(b"abc", b""), 3);
        assert_eq!(edit_distance(&[1, 2, 3], &[1, 2, 3]), 0);
        assert_eq!(edit_distance(&[1, 3], &[1, 2, 3]), 1);
        // 1 + 0 edits over 3 + 2 reference labels.
        let rate = error_rate(&[vec![1, 3], vec![4, 5]], &[vec![1, 2, 3], vec![4, 5]]).unwrap();
        assert!((rate - 0.2).abs() < 1e-12);
        assert!(error_rate::<u8>(&[vec![]], &[vec![]]).is_err());
        assert!(error_rate(&[vec![1]], &[]).is_err());
    }

    #[test]
    fn accuracy_counts_matches() {
        assert_eq!(accuracy(&[1, 2, 3, 4], &[1, 2, 0, 4]).unwrap(), 0.75);
        assert!(accuracy(&[1], &[1, 2]).is_err());
        assert!(accuracy(&[], &[]).is_err());
    }

    #[test]
    fn regression_metrics() {
        let p = [1.0, 2.0, 3.0];
        let t = [1.0, 4.0, 0.0];
        assert!((mse(&p, &t).unwrap() - 13.0 / 3.0).abs() < 1e-12);
        assert!((rmse(&p, &t).unwrap() - (13.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!((mae(&p, &t).unwrap() - 5.0 / 3.0).abs() < 1e-12);
        assert!((perplexity(2.0f64.ln()) - 2.0).abs() < 1e-12);
    }

    #[test]
    fn confusion_matrix_scores() {
        let mut cm = ConfusionMatrix::new(2).unwrap();
        // targets: 1 1 1 0 0 ; preds: 1 1 0 1 0  => TP(1)=2 FP(1)=1 FN(1)=1
        cm.add(&[1, 1, 0, 1, 0], &[1, 1, 1, 0, 0]).unwrap();
        let s = cm.scores(1);
        assert!((s.precision - 2.0 / 3.0).abs() < 1e-12);
        assert!((s.recall - 2.0 / 3.0).abs() < 1e-12);
        assert!((s.f1 - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(s.support, 3);
        assert!((cm.accuracy() - 0.6).abs() < 1e-12);
        assert_eq!(cm.get(1, 0), 1);
        assert!(cm.add(&[2], &[0]).is_err());
        assert!(ConfusionMatrix::new(0).is_err());
        let n = cm.normalized();
        assert!((n[2] + n[3] - 1.0).abs() < 1e-6);
    }
}
