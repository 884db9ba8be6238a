//! Beam search over any decoder, recurrent or Transformer, and what it returns.

use dl_core::config::check;
use dl_core::{Error, Result};

/// A decoded sentence with what the decoder looked at.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// Output ids, without `<eos>`.
    pub tokens: Vec<usize>,
    /// Attention weights over the source, one row per output token (and `<eos>`).
    pub attention: Vec<Vec<f32>>,
    /// Sum of log-probabilities of the chosen tokens.
    pub log_prob: f32,
}

/// Beam search over any decoder, recurrent or Transformer: keeps the `beam`
/// best partial outputs, and returns the finished one with the best
/// `log_prob / ((5 + len) / 6)^alpha` (GNMT's length penalty; `alpha` 0 = raw
/// log-probability), without `<bos>`.
///
/// `step(live, parents)` scores the next token of each live hypothesis: it
/// returns their log-probabilities `[k, V]` and attention rows over the
/// source `[k, S]`, flattened. `parents[i]` is the index, among the previous
/// call's hypotheses, of the one that `live[i]` extends, so that a decoder
/// with state can select its rows (on the first call `live` is `<bos>` alone
/// and `parents` is `[0]`); a decoder that rereads the prefix ignores it.
pub fn beam_search(
    bos: usize,
    eos: usize,
    beam: usize,
    max_len: usize,
    alpha: f32,
    mut step: impl FnMut(&[Decoded], &[usize]) -> Result<(Vec<f32>, Vec<f32>)>,
) -> Result<Decoded> {
    check::positive("beam_search", "beam", beam)?;
    let penalty = |len: usize| ((5.0 + len as f32) / 6.0).powf(alpha);
    let mut live = vec![Decoded { tokens: vec![bos], attention: vec![], log_prob: 0.0 }];
    let mut parents = vec![0usize];
    let mut finished: Vec<Decoded> = Vec::new();
    for _ in 0..max_len {
        let k = live.len();
        let (lp, attn) = step(&live, &parents)?;
        let (v, s) = (lp.len() / k, attn.len() / k);
        if v == 0 || lp.len() != k * v || attn.len() != k * s {
            return Err(Error::shape("beam_search step", format!("{k} rows of log-probabilities"), lp.len()));
        }
        let width = beam.min(v);
        let mut cands: Vec<(f32, usize, usize)> = Vec::with_capacity(k * width);
        for (r, h) in live.iter().enumerate() {
            let row = &lp[r * v..(r + 1) * v];
            let mut order: Vec<usize> = (0..v).collect();
            order.select_nth_unstable_by(width - 1, |a, b| row[*b].total_cmp(&row[*a]));
            cands.extend(order.iter().take(width).map(|&tok| (h.log_prob + row[tok], r, tok)));
        }
        cands.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut new_live = Vec::new();
        parents.clear();
        for (score, r, tok) in cands {
            if new_live.len() >= beam {
                break;
            }
            let mut h = live[r].clone();
            h.attention.push(attn[r * s..(r + 1) * s].to_vec());
            h.log_prob = score;
            if tok == eos {
                finished.push(h);
            } else {
                h.tokens.push(tok);
                new_live.push(h);
                parents.push(r);
            }
        }
        let best_live = new_live.first().map(|h| h.log_prob / penalty(h.tokens.len()));
        let best_done = finished.iter().map(|h| h.log_prob / penalty(h.tokens.len())).fold(f32::NEG_INFINITY, f32::max);
        live = new_live;
        // Log-probabilities only fall: stop once no live hypothesis can catch up
        // (exact for alpha = 0, the usual heuristic otherwise) or all have finished.
        if live.is_empty() || finished.len() >= beam || best_live.is_some_and(|b| b < best_done) {
            break;
        }
    }
    finished.extend(live);
    let best = finished
        .into_iter()
        .max_by(|a, b| (a.log_prob / penalty(a.tokens.len())).total_cmp(&(b.log_prob / penalty(b.tokens.len()))))
        .ok_or_else(|| Error::Internal("beam search produced nothing".into()))?;
    Ok(Decoded { tokens: best.tokens[1..].to_vec(), attention: best.attention, log_prob: best.log_prob })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A decoder given as a table: the next-token probabilities after each
    /// prefix (ids: 0 `<bos>`, 1 `<eos>`, 2 `a`, 3 `b`).
    fn table(prefix: &[usize]) -> [f32; 4] {
        match prefix {
            [0] => [0.0, 0.0, 0.6, 0.4],
            [0, 2] => [0.0, 0.28, 0.37, 0.35],
            [0, 3] => [0.0, 0.3, 0.6, 0.1],
            [0, 3, 2] => [0.0, 0.95, 0.03, 0.02],
            _ => [0.0, 0.9, 0.05, 0.05],
        }
    }

    fn run(beam: usize) -> (Result<Decoded>, Vec<Vec<usize>>) {
        let mut seen_parents = Vec::new();
        let mut previous = 1;
        let out = beam_search(0, 1, beam, 5, 0.0, |live, parents| {
            assert_eq!(parents.len(), live.len());
            assert!(parents.iter().all(|&p| p < previous), "{parents:?} index the previous hypotheses");
            previous = live.len();
            seen_parents.push(parents.to_vec());
            let lp = live.iter().flat_map(|h| table(&h.tokens).map(|p| p.max(1e-9).ln())).collect();
            Ok((lp, vec![1.0; live.len()]))
        });
        (out, seen_parents)
    }

    /// Greedy (beam 1) follows the likeliest next token, `a a <eos>`
    /// (0.6 * 0.37 * 0.9 = 0.200); beam 2 also keeps `b` and finds `b a <eos>`
    /// (0.4 * 0.6 * 0.95 = 0.228), the likeliest sentence.
    #[test]
    fn beam_search_finds_what_greedy_misses() {
        let (greedy, _) = run(1);
        let greedy = greedy.unwrap();
        assert_eq!(greedy.tokens, vec![2, 2]);
        assert!((greedy.log_prob - (0.6f32 * 0.37 * 0.9).ln()).abs() < 1e-5);
        assert_eq!(greedy.attention.len(), 3, "one attention row per output token and <eos>");
        let (best, parents) = run(2);
        let best = best.unwrap();
        assert_eq!(best.tokens, vec![3, 2]);
        assert!((best.log_prob - (0.4f32 * 0.6 * 0.95).ln()).abs() < 1e-5);
        // `a` and `b` both extend `<bos>`; then `b a` (from row 1, 0.24) and
        // `a a` (from row 0, 0.222) are kept, in that order.
        assert_eq!(parents, vec![vec![0], vec![0, 0], vec![1, 0]]);
    }

    #[test]
    fn beam_search_rejects_bad_steps() {
        assert!(beam_search(0, 1, 0, 5, 0.0, |_, _| Ok((vec![0.0; 4], vec![1.0]))).is_err());
        let short = beam_search(0, 1, 2, 5, 0.0, |_, _| Ok((vec![], vec![])));
        assert!(short.unwrap_err().to_string().contains("beam_search"));
    }
}
