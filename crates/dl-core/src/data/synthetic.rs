//! Synthetic sequence tasks with a known answer, for measuring memory.

use crate::data::sequence::SeriesSequence;
use crate::data::split::SplitRng;
use crate::{Error, Result};

/// The adding problem (Hochreiter & Schmidhuber 1997, in the form of Le et al. 2015):
/// each of `t` steps holds a value drawn from U(0, 1) and a marker; exactly two steps
/// are marked, one in each half of the sequence, and the target is the sum of the two
/// marked values. Predicting the mean (1.0) gives MSE 1/6 ~ 0.167; solving it needs
/// the first marked value remembered across up to `t` steps. A length below
/// 2 (no room for two marks) is an error.
pub fn adding_problem(n: usize, t: usize, seed: u64) -> Result<Vec<SeriesSequence>> {
    if t < 2 {
        return Err(Error::out_of_range("the adding problem's sequence length", t, "at least 2: two marked steps"));
    }
    let mut rng = SplitRng::new(seed);
    Ok((0..n)
        .map(|_| {
            let half = t / 2;
            let a = rng.below(half);
            let b = half + rng.below(t - half);
            let mut values = Vec::with_capacity(2 * t);
            let mut sum = 0.0;
            for s in 0..t {
                let v = rng.next_f32();
                let marked = s == a || s == b;
                if marked {
                    sum += v;
                }
                values.push(v);
                values.push(if marked { 1.0 } else { 0.0 });
            }
            SeriesSequence { values, width: 2, target: vec![sum] }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_markers_one_per_half_and_the_target_is_their_sum() {
        for item in adding_problem(50, 21, 3).unwrap() {
            let marks: Vec<usize> = (0..21).filter(|&s| item.values[2 * s + 1] == 1.0).collect();
            assert_eq!(marks.len(), 2);
            assert!(marks[0] < 10 && marks[1] >= 10);
            let sum = item.values[2 * marks[0]] + item.values[2 * marks[1]];
            assert!((sum - item.target[0]).abs() < 1e-6);
        }
        // The constant-mean baseline is about 1/6.
        let items = adding_problem(20_000, 50, 1).unwrap();
        let mse = items.iter().map(|i| (i.target[0] - 1.0).powi(2) as f64).sum::<f64>() / items.len() as f64;
        assert!((mse - 1.0 / 6.0).abs() < 0.01, "{mse}");
    }

    #[test]
    fn a_length_without_room_for_two_marks_is_an_error() {
        for t in [0, 1] {
            let e = adding_problem(4, t, 1).unwrap_err();
            assert!(matches!(&e, Error::OutOfRange { value, .. } if *value == t.to_string()), "{e}");
        }
        assert_eq!(adding_problem(3, 2, 1).unwrap().len(), 3);
    }
}
