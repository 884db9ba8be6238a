//! Boxes, non-maximum suppression and the standard detection metrics: the
//! average precision of PASCAL VOC (IoU 0.5, every recall point) and of
//! COCO (101 recall points, averaged over IoU 0.5 to 0.95).

use serde::Serialize;

use dl_core::{Error, Result};

/// An axis-aligned box, corners in pixels: `x0 <= x1`, `y0 <= y1`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BBox {
    /// Left.
    pub x0: f32,
    /// Top.
    pub y0: f32,
    /// Right.
    pub x1: f32,
    /// Bottom.
    pub y1: f32,
}

impl BBox {
    /// Area (0 for an empty box).
    pub fn area(&self) -> f32 {
        (self.x1 - self.x0).max(0.0) * (self.y1 - self.y0).max(0.0)
    }

    /// Intersection over union with `other` (0 when both are empty).
    pub fn iou(&self, other: &BBox) -> f32 {
        let w = (self.x1.min(other.x1) - self.x0.max(other.x0)).max(0.0);
        let h = (self.y1.min(other.y1) - self.y0.max(other.y0)).max(0.0);
        let inter = w * h;
        let union = self.area() + other.area() - inter;
        if union > 0.0 { inter / union } else { 0.0 }
    }
}

/// A labelled box: a ground truth, or a detection with its score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Labelled {
    /// The class.
    pub class: usize,
    /// Where.
    pub bbox: BBox,
    /// Confidence (1 for ground truth).
    pub score: f32,
}

/// Greedy non-maximum suppression per class: detections in order of score,
/// each dropped if it overlaps a kept one of its class by more than `iou`.
pub fn non_maximum_suppression(mut detections: Vec<Labelled>, iou: f32) -> Vec<Labelled> {
    detections.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Labelled> = Vec::with_capacity(detections.len());
    for d in detections {
        if !kept.iter().any(|k| k.class == d.class && k.bbox.iou(&d.bbox) > iou) {
            kept.push(d);
        }
    }
    kept
}

/// How precision is summarised over recall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interpolation {
    /// PASCAL VOC 2010 on: the area under the precision envelope at every recall point.
    EveryPoint,
    /// COCO: the envelope's mean at the 101 recalls 0, 0.01, ..., 1.
    Coco101,
}

/// Average precision of one class over a set of images: `detections[i]` and
/// `truths[i]` are image `i`'s. A detection is a true positive when it
/// overlaps an unmatched truth of its class by at least `iou` (the best
/// one; each truth is matched once), in order of score. `None` when the
/// class has no ground truth.
///
/// # Errors
/// [`Error::Shape`] when the image counts differ.
pub fn average_precision(
    detections: &[Vec<Labelled>],
    truths: &[Vec<Labelled>],
    class: usize,
    iou: f32,
    interpolation: Interpolation,
) -> Result<Option<f64>> {
    if detections.len() != truths.len() {
        return Err(Error::shape(
            "average_precision",
            format!("{} images of detections", truths.len()),
            detections.len(),
        ));
    }
    let positives = truths.iter().flatten().filter(|t| t.class == class).count();
    if positives == 0 {
        return Ok(None);
    }
    let mut ranked: Vec<(f32, usize, BBox)> = detections
        .iter()
        .enumerate()
        .flat_map(|(i, ds)| ds.iter().filter(|d| d.class == class).map(move |d| (d.score, i, d.bbox)))
        .collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut matched: Vec<Vec<bool>> = truths.iter().map(|t| vec![false; t.len()]).collect();
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut curve = Vec::with_capacity(ranked.len()); // (recall, precision)
    for (_, image, bbox) in ranked {
        let best = truths[image]
            .iter()
            .enumerate()
            .filter(|(j, t)| t.class == class && !matched[image][*j])
            .map(|(j, t)| (j, t.bbox.iou(&bbox)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        match best {
            Some((j, overlap)) if overlap >= iou => {
                matched[image][j] = true;
                tp += 1;
            }
            _ => fp += 1,
        }
        curve.push((tp as f64 / positives as f64, tp as f64 / (tp + fp) as f64));
    }
    // The envelope: the best precision at this recall or any higher one.
    for k in (0..curve.len().saturating_sub(1)).rev() {
        curve[k].1 = curve[k].1.max(curve[k + 1].1);
    }
    Ok(Some(match interpolation {
        Interpolation::EveryPoint => {
            let mut previous = 0.0;
            curve
                .iter()
                .map(|&(r, p)| {
                    let area = (r - previous) * p;
                    previous = r;
                    area
                })
                .sum()
        }
        Interpolation::Coco101 => {
            (0..=100)
                .map(|k| {
                    let r = k as f64 / 100.0;
                    curve.iter().find(|&&(recall, _)| recall >= r - 1e-12).map_or(0.0, |&(_, p)| p)
                })
                .sum::<f64>()
                / 101.0
        }
    }))
}

/// Mean average precision over the classes that have ground truth.
///
/// # Errors
/// [`Error::Shape`] when the image counts differ; [`Error::Empty`] when no
/// image holds a ground-truth box.
pub fn mean_average_precision(
    detections: &[Vec<Labelled>],
    truths: &[Vec<Labelled>],
    classes: usize,
    iou: f32,
    interpolation: Interpolation,
) -> Result<f64> {
    let mut aps = Vec::with_capacity(classes);
    for c in 0..classes {
        if let Some(ap) = average_precision(detections, truths, c, iou, interpolation)? {
            aps.push(ap);
        }
    }
    if aps.is_empty() {
        return Err(Error::empty("mean_average_precision: the ground-truth boxes"));
    }
    Ok(aps.iter().sum::<f64>() / aps.len() as f64)
}

/// COCO's headline figure: [`mean_average_precision`] with 101 recall
/// points, averaged over the IoU thresholds 0.50, 0.55, ..., 0.95.
pub fn coco_map(detections: &[Vec<Labelled>], truths: &[Vec<Labelled>], classes: usize) -> Result<f64> {
    let mut sum = 0.0;
    for k in 0..10 {
        let iou = 0.5 + 0.05 * k as f32;
        sum += mean_average_precision(detections, truths, classes, iou, Interpolation::Coco101)?;
    }
    Ok(sum / 10.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(x0: f32, y0: f32, x1: f32, y1: f32) -> BBox {
        BBox { x0, y0, x1, y1 }
    }

    fn l(class: usize, bbox: BBox, score: f32) -> Labelled {
        Labelled { class, bbox, score }
    }

    #[test]
    fn iou_of_hand_drawn_boxes() {
        // Overlap 1x1 of two 2x2 boxes: 1 / (4 + 4 - 1).
        assert!((b(0., 0., 2., 2.).iou(&b(1., 1., 3., 3.)) - 1.0 / 7.0).abs() < 1e-7);
        assert_eq!(b(0., 0., 2., 2.).iou(&b(2., 0., 4., 2.)), 0.0);
        assert_eq!(b(0., 0., 2., 2.).iou(&b(0., 0., 2., 2.)), 1.0);
        assert_eq!(b(0., 0., 0., 0.).iou(&b(0., 0., 0., 0.)), 0.0);
    }

    #[test]
    fn average_precision_of_a_worked_ranking() {
        // Two truths in one image; ranked detections: hit (0.9), miss (0.8), hit (0.7).
        // Precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1; the envelope is 1 up to recall 1/2, then 2/3.
        let truths = vec![vec![l(0, b(0., 0., 10., 10.), 1.), l(0, b(20., 20., 30., 30.), 1.)]];
        let dets = vec![vec![
            l(0, b(0., 0., 10., 9.), 0.9),
            l(0, b(50., 50., 60., 60.), 0.8),
            l(0, b(21., 20., 30., 30.), 0.7),
        ]];
        let voc = average_precision(&dets, &truths, 0, 0.5, Interpolation::EveryPoint).unwrap().unwrap();
        assert!((voc - (0.5 + 0.5 * 2.0 / 3.0)).abs() < 1e-12, "{voc}");
        // COCO: 51 recall points (0 to 0.50) at 1 and 50 at 2/3.
        let coco = average_precision(&dets, &truths, 0, 0.5, Interpolation::Coco101).unwrap().unwrap();
        assert!((coco - (51.0 + 50.0 * 2.0 / 3.0) / 101.0).abs() < 1e-12, "{coco}");
        // A class without truths has no AP; another image count is an error.
        assert_eq!(average_precision(&dets, &truths, 1, 0.5, Interpolation::EveryPoint).unwrap(), None);
        assert!(average_precision(&dets, &[], 0, 0.5, Interpolation::EveryPoint).is_err());
    }

    #[test]
    fn a_second_detection_of_one_truth_is_a_false_positive() {
        let truths = vec![vec![l(3, b(0., 0., 10., 10.), 1.)]];
        let dets = vec![vec![l(3, b(0., 0., 10., 10.), 0.9), l(3, b(0., 0., 10., 10.), 0.8)]];
        // Precision 1 then 1/2 at recall 1: the envelope is 1 everywhere.
        let ap = average_precision(&dets, &truths, 3, 0.5, Interpolation::EveryPoint).unwrap().unwrap();
        assert_eq!(ap, 1.0);
        // The wrong class never matches; a loose box fails the strict thresholds only.
        let wrong = vec![vec![l(2, b(0., 0., 10., 10.), 0.9)]];
        assert_eq!(mean_average_precision(&wrong, &truths, 10, 0.5, Interpolation::EveryPoint).unwrap(), 0.0);
        let loose = vec![vec![l(3, b(0., 0., 10., 12.), 0.9)]];
        // IoU 100 / 120 = 0.83: a hit at 0.50-0.80 (7 of the 10 thresholds).
        assert!((coco_map(&loose, &truths, 10).unwrap() - 0.7).abs() < 1e-9);
        assert!(mean_average_precision(&[vec![]], &[vec![]], 10, 0.5, Interpolation::EveryPoint).is_err());
    }

    #[test]
    fn suppression_keeps_the_best_of_each_overlapping_group_per_class() {
        let dets = vec![
            l(1, b(0., 0., 10., 10.), 0.6),
            l(1, b(1., 0., 11., 10.), 0.9),
            l(2, b(1., 0., 11., 10.), 0.5),
            l(1, b(30., 30., 40., 40.), 0.4),
        ];
        let kept = non_maximum_suppression(dets, 0.5);
        let scores: Vec<f32> = kept.iter().map(|d| d.score).collect();
        assert_eq!(scores, vec![0.9, 0.5, 0.4]);
    }
}
