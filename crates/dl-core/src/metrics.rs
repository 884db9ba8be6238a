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

/// Perplexity from a mean negative log-likelihood in nats: `exp(nll)`.
pub fn perplexity(mean_nll_nats: f64) -> f64 {
    mean_nll_nats.exp()
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
    use super::*;

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
