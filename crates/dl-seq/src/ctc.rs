//! Connectionist temporal classification (Graves et al. 2006): a loss and
//! decoders for models that emit one distribution per input step over the
//! labels plus a *blank*, when the label sequence is shorter than the input
//! and its alignment is unknown (a line of handwriting, an utterance).
//!
//! A path (one symbol per step) reads as a label sequence by merging repeated
//! symbols and then dropping blanks: `a a - a b b` reads `a a b`. The loss is
//! minus the log of the summed probability of every path that reads the
//! target; burn computes it (`burn::tensor::module::ctc_loss`), this module
//! checks the inputs first and reduces as PyTorch does. docs/lstm.md shows
//! it at work (reading digit strings).

use burn::tensor::{Int, Tensor, TensorData};

use dl_core::config::check;
use dl_core::{Error, Result};

/// Steps a path needs to read `labels`: one per label, plus a blank between
/// each pair of equal neighbours.
pub fn min_steps(labels: &[usize]) -> usize {
    labels.len() + labels.windows(2).filter(|w| w[0] == w[1]).count()
}

/// The CTC loss of `log_probs` `[T, N, C]` (log-softmax over `C`, which
/// includes `blank`) against one label sequence per sample, each sample `n`
/// read over its first `input_lengths[n]` steps. Reduced as PyTorch's
/// `reduction="mean"`: each sample's loss divided by its target length (at
/// least 1), then averaged over the batch. Shape `[1]`.
///
/// # Errors
/// [`Error::Shape`] when the batch sizes disagree; [`Error::OutOfRange`] for
/// a blank outside the classes, a label equal to the blank or outside the
/// classes, or an input length of 0 or past `T`; [`Error::Invalid`] naming
/// the sample when its input is too short for its labels.
pub fn ctc_loss(
    log_probs: Tensor<3>,
    targets: &[Vec<usize>],
    input_lengths: &[usize],
    blank: usize,
) -> Result<Tensor<1>> {
    let per_sample = ctc_loss_per_sample(log_probs, targets, input_lengths, blank)?;
    let device = per_sample.device();
    let n = targets.len();
    let lengths: Vec<f32> = targets.iter().map(|t| t.len().max(1) as f32).collect();
    // [N] / [N] -> mean [1]
    Ok((per_sample / Tensor::<1>::from_data(TensorData::new(lengths, [n]), &device)).mean())
}

/// The CTC loss of each sample, `[N]` (PyTorch's `reduction="none"`); inputs
/// and errors as [`ctc_loss`].
pub fn ctc_loss_per_sample(
    log_probs: Tensor<3>,
    targets: &[Vec<usize>],
    input_lengths: &[usize],
    blank: usize,
) -> Result<Tensor<1>> {
    let [t, n, classes] = log_probs.dims();
    check_inputs(t, n, classes, targets, input_lengths, blank)?;
    let device = log_probs.device();
    let width = targets.iter().map(Vec::len).max().unwrap_or(0).max(1);
    // [N, S], padded with the blank (never read: each row is read to its length).
    let padded: Vec<i64> = targets
        .iter()
        .flat_map(|l| l.iter().map(|&x| x as i64).chain(std::iter::repeat(blank as i64)).take(width))
        .collect();
    let ints = |v: Vec<i64>, shape: Vec<usize>| TensorData::new(v, shape);
    let targets_t = Tensor::<2, Int>::from_data(ints(padded, vec![n, width]), &device);
    let in_len = Tensor::<1, Int>::from_data(ints(input_lengths.iter().map(|&l| l as i64).collect(), vec![n]), &device);
    let tg_len = Tensor::<1, Int>::from_data(ints(targets.iter().map(|l| l.len() as i64).collect(), vec![n]), &device);
    Ok(burn::tensor::module::ctc_loss(log_probs, targets_t, in_len, tg_len, blank))
}

fn check_inputs(
    t: usize,
    n: usize,
    classes: usize,
    targets: &[Vec<usize>],
    input_lengths: &[usize],
    blank: usize,
) -> Result<()> {
    let ctx = "ctc_loss";
    if targets.len() != n {
        return Err(Error::shape(format!("{ctx} targets"), format!("{n} label sequences (the batch)"), targets.len()));
    }
    if input_lengths.len() != n {
        return Err(Error::shape(
            format!("{ctx} input_lengths"),
            format!("{n} lengths (the batch)"),
            input_lengths.len(),
        ));
    }
    check::positive(ctx, "batch size", n)?;
    if blank >= classes {
        return Err(Error::out_of_range(format!("{ctx} blank"), blank, format!("below the {classes} classes")));
    }
    for (i, (labels, &len)) in targets.iter().zip(input_lengths).enumerate() {
        if len == 0 || len > t {
            return Err(Error::out_of_range(format!("{ctx} input_lengths[{i}]"), len, format!("1..={t}")));
        }
        if let Some(&bad) = labels.iter().find(|&&l| l >= classes || l == blank) {
            return Err(Error::out_of_range(
                format!("{ctx} targets[{i}] label"),
                bad,
                format!("below {classes} and not the blank {blank}"),
            ));
        }
        let need = min_steps(labels);
        if need > len {
            return Err(Error::Invalid(format!(
                "{ctx}: sample {i} has {} labels, which need at least {need} steps, but its input has {len}",
                labels.len()
            )));
        }
    }
    Ok(())
}

/// Best-path decoding: the most likely symbol at each of the `steps` rows of
/// `log_probs` (row-major `[steps, classes]`), read as a label sequence.
///
/// # Errors
/// [`Error::Shape`] when `log_probs` is not `steps * classes` long;
/// [`Error::OutOfRange`] for a blank outside the classes.
pub fn greedy_decode(log_probs: &[f32], steps: usize, classes: usize, blank: usize) -> Result<Vec<usize>> {
    check_rows("greedy_decode", log_probs, steps, classes, blank)?;
    let best = log_probs.chunks(classes).map(|row| (0..classes).fold(0, |b, c| if row[c] > row[b] { c } else { b }));
    let mut out = Vec::new();
    let mut previous = None;
    for symbol in best {
        if symbol != blank && previous != Some(symbol) {
            out.push(symbol);
        }
        previous = Some(symbol);
    }
    Ok(out)
}

/// Reads every sample of a batch of log-probabilities (row-major `[N, steps,
/// classes]`): best path with `beam` 1, prefix beam search above.
///
/// # Errors
/// As [`greedy_decode`] when `log_probs` is not a whole number of
/// `steps * classes` samples; a `beam` of 0 is an error.
pub fn decode_batch(
    log_probs: &[f32],
    steps: usize,
    classes: usize,
    blank: usize,
    beam: usize,
) -> Result<Vec<Vec<usize>>> {
    let per = steps * classes;
    if per == 0 || !log_probs.len().is_multiple_of(per) {
        return Err(Error::shape(
            "decode_batch",
            format!("samples of {steps} steps x {classes} classes"),
            log_probs.len(),
        ));
    }
    decode_padded(log_probs, steps, &vec![steps; log_probs.len() / per], classes, blank, beam)
}

/// Reads every sample of a padded batch (row-major `[N, steps, classes]`),
/// sample `n` over its first `lengths[n]` steps only: what follows is
/// padding and must not be read. Best path with `beam` 1, prefix beam
/// search above.
///
/// # Errors
/// [`Error::Shape`] when `log_probs` does not hold `lengths.len()` samples of
/// `steps * classes` values, or a length is 0 or past `steps`; a `beam` of 0
/// and a blank outside the classes are errors.
pub fn decode_padded(
    log_probs: &[f32],
    steps: usize,
    lengths: &[usize],
    classes: usize,
    blank: usize,
    beam: usize,
) -> Result<Vec<Vec<usize>>> {
    check::positive("decode_padded", "beam", beam)?;
    let per = steps * classes;
    if log_probs.len() != lengths.len() * per {
        return Err(Error::shape(
            "decode_padded",
            format!("{} samples of {steps} steps x {classes} classes", lengths.len()),
            format!("{} values", log_probs.len()),
        ));
    }
    dl_core::data::sequence::check_lengths("decode_padded", lengths, lengths.len(), steps)?;
    log_probs
        .chunks(per.max(1))
        .zip(lengths)
        .map(|(rows, &len)| {
            let rows = &rows[..len * classes];
            match beam {
                1 => greedy_decode(rows, len, classes, blank),
                _ => prefix_beam_search(rows, len, classes, blank, beam).map(|r| r.labels),
            }
        })
        .collect()
}

/// A label sequence with the log of its probability summed over the paths that read it.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// The labels.
    pub labels: Vec<usize>,
    /// Log-probability of the sequence (all paths).
    pub log_prob: f32,
}

/// Prefix beam search (Hannun et al. 2014): keeps the `beam` most likely
/// label prefixes, each scored by the probability of *all* paths that read
/// it (ending in a blank or not), so a sequence spread over many paths can
/// beat the single best path. Inputs and errors as [`greedy_decode`]; a
/// `beam` of 0 is an error.
pub fn prefix_beam_search(
    log_probs: &[f32],
    steps: usize,
    classes: usize,
    blank: usize,
    beam: usize,
) -> Result<Reading> {
    check_rows("prefix_beam_search", log_probs, steps, classes, blank)?;
    check::positive("prefix_beam_search", "beam", beam)?;
    // Each live prefix: (labels, log P(paths ending in blank), log P(paths ending in its last label)).
    let mut live: Vec<(Vec<usize>, f32, f32)> = vec![(Vec::new(), 0.0, f32::NEG_INFINITY)];
    for row in log_probs.chunks(classes) {
        let mut next: std::collections::HashMap<Vec<usize>, (f32, f32)> = std::collections::HashMap::new();
        let mut add = |labels: Vec<usize>, to_blank: f32, to_label: f32| {
            let e = next.entry(labels).or_insert((f32::NEG_INFINITY, f32::NEG_INFINITY));
            e.0 = log_add(e.0, to_blank);
            e.1 = log_add(e.1, to_label);
        };
        for (labels, pb, pl) in &live {
            let total = log_add(*pb, *pl);
            for (c, &p) in row.iter().enumerate() {
                if c == blank {
                    add(labels.clone(), total + p, f32::NEG_INFINITY);
                } else if labels.last() == Some(&c) {
                    // The repeat merges into the prefix; after a blank it is a new label.
                    add(labels.clone(), f32::NEG_INFINITY, pl + p);
                    let mut longer = labels.clone();
                    longer.push(c);
                    add(longer, f32::NEG_INFINITY, pb + p);
                } else {
                    let mut longer = labels.clone();
                    longer.push(c);
                    add(longer, f32::NEG_INFINITY, total + p);
                }
            }
        }
        live = next.into_iter().map(|(l, (pb, pl))| (l, pb, pl)).collect();
        // Most likely first; equal scores in label order, so the result never depends on hashing.
        live.sort_by(|a, b| log_add(b.1, b.2).total_cmp(&log_add(a.1, a.2)).then_with(|| a.0.cmp(&b.0)));
        live.truncate(beam);
    }
    let (labels, pb, pl) = live.swap_remove(0);
    Ok(Reading { labels, log_prob: log_add(pb, pl) })
}

/// `ln(e^a + e^b)`, exact at minus infinity.
fn log_add(a: f32, b: f32) -> f32 {
    let (hi, lo) = if a > b { (a, b) } else { (b, a) };
    if lo == f32::NEG_INFINITY { hi } else { hi + (lo - hi).exp().ln_1p() }
}

fn check_rows(ctx: &str, log_probs: &[f32], steps: usize, classes: usize, blank: usize) -> Result<()> {
    check::positive("ctc decoding", "classes", classes)?;
    if log_probs.len() != steps * classes {
        return Err(Error::shape(
            ctx,
            format!("{steps} steps x {classes} classes"),
            format!("{} values", log_probs.len()),
        ));
    }
    if blank >= classes {
        return Err(Error::out_of_range(format!("{ctx} blank"), blank, format!("below the {classes} classes")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ln(rows: &[&[f32]]) -> Vec<f32> {
        rows.iter().flat_map(|r| r.iter().map(|p| p.ln())).collect()
    }

    #[test]
    fn padding_is_not_read() {
        // Two samples of 3 steps (blank 0): the first is 2 steps long, its padding row says 2.
        let rows = ln(&[
            &[0.1, 0.8, 0.1],
            &[0.8, 0.1, 0.1],
            &[0.1, 0.1, 0.8],
            &[0.1, 0.1, 0.8],
            &[0.8, 0.1, 0.1],
            &[0.1, 0.8, 0.1],
        ]);
        for beam in [1, 4] {
            assert_eq!(decode_padded(&rows, 3, &[2, 3], 3, 0, beam).unwrap(), vec![vec![1], vec![2, 1]]);
            assert_eq!(decode_padded(&rows, 3, &[3, 3], 3, 0, beam).unwrap(), vec![vec![1, 2], vec![2, 1]]);
        }
        assert!(matches!(decode_padded(&rows, 3, &[0, 3], 3, 0, 1), Err(Error::Shape { .. })));
        assert!(matches!(decode_padded(&rows, 3, &[4, 3], 3, 0, 1), Err(Error::Shape { .. })));
        assert!(matches!(decode_padded(&rows, 3, &[3], 3, 0, 1), Err(Error::Shape { .. })));
        assert!(decode_padded(&rows, 3, &[3, 3], 3, 0, 0).is_err());
    }

    #[test]
    fn greedy_merges_repeats_then_drops_blanks() {
        // Best path a a - a b b (a = 1, b = 2, blank 0) reads a a b.
        let path = [1, 1, 0, 1, 2, 2];
        let lp: Vec<f32> =
            path.iter().flat_map(|&s| (0..3).map(move |c| if c == s { 0.8f32.ln() } else { 0.1f32.ln() })).collect();
        assert_eq!(greedy_decode(&lp, 6, 3, 0).unwrap(), vec![1, 1, 2]);
    }

    #[test]
    fn prefix_beam_sums_the_paths_the_best_path_misses() {
        // Two steps, blank 0.6 and label 0.4 each: the best path (blank, blank)
        // reads "" with 0.36, but "1" is read by three paths: 0.16 + 0.24 + 0.24 = 0.64.
        let lp = ln(&[&[0.6, 0.4], &[0.6, 0.4]]);
        assert_eq!(greedy_decode(&lp, 2, 2, 0).unwrap(), Vec::<usize>::new());
        let r = prefix_beam_search(&lp, 2, 2, 0, 4).unwrap();
        assert_eq!(r.labels, vec![1]);
        assert!((r.log_prob - 0.64f32.ln()).abs() < 1e-6, "{}", r.log_prob);
        // A beam of one drops "1" (0.4) after the first step, as the best path does.
        assert_eq!(prefix_beam_search(&lp, 2, 2, 0, 1).unwrap().labels, Vec::<usize>::new());
    }

    #[test]
    fn decoders_refuse_bad_shapes() {
        assert!(matches!(greedy_decode(&[0.0; 5], 2, 3, 0), Err(Error::Shape { .. })));
        assert!(matches!(greedy_decode(&[0.0; 6], 2, 3, 3), Err(Error::OutOfRange { .. })));
        assert!(prefix_beam_search(&[0.0; 6], 2, 3, 0, 0).is_err());
        assert!(matches!(decode_batch(&[0.0; 7], 2, 3, 0, 1), Err(Error::Shape { .. })));
        assert!(decode_batch(&[0.0; 6], 2, 3, 0, 0).is_err());
    }

    #[test]
    fn a_batch_decodes_sample_by_sample() {
        // Two samples of the two-step example: best path reads "" twice, the beam "1" twice.
        let one = ln(&[&[0.6, 0.4], &[0.6, 0.4]]);
        let two = [one.clone(), one].concat();
        assert_eq!(decode_batch(&two, 2, 2, 0, 1).unwrap(), vec![Vec::<usize>::new(); 2]);
        assert_eq!(decode_batch(&two, 2, 2, 0, 4).unwrap(), vec![vec![1]; 2]);
    }

    #[test]
    fn min_steps_counts_a_blank_between_equal_neighbours() {
        assert_eq!(min_steps(&[]), 0);
        assert_eq!(min_steps(&[1, 1, 2, 2, 2]), 8);
        assert_eq!(min_steps(&[1, 2, 1]), 3);
    }
}
