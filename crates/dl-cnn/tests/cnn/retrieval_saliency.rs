//! Retrieval and saliency.

use super::*;

#[test]
fn cosine_index_finds_nearest() {
    let d = device();
    let index = CosineIndex::new(vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0], 2, &d).unwrap();
    let res = index.search(&[2.0, 0.1, -0.1, 3.0], 2).unwrap();
    assert_eq!(res[0][0].index, 0);
    assert_eq!(res[0][1].index, 2);
    assert_eq!(res[1][0].index, 1);
    assert!((res[0][0].similarity - 0.99875).abs() < 1e-4);
    let p = precision_at_k(&res, &[0, 1], &[0, 1, 0]).unwrap();
    assert!((p - 0.75).abs() < 1e-12);
    assert!(index.search(&[1.0, 0.0], 4).is_err());
    assert!(CosineIndex::new(vec![1.0; 5], 2, &d).is_err());
}

#[test]
fn features_and_saliency_of_a_trained_model() {
    let _rng = rng_lock();
    let (train, test) = digits();
    let ad = device().autodiff();
    ad.seed(5);
    let model = lenet8(&ad);
    let report = fit(model, &train, None, &ImageBatcher::new(1, 8, 8), &quick_cfg(2, None), &ad).unwrap();
    let (feats, dim) = retrieval::extract_features(&report.model, &test[..50], 16, &ad).unwrap();
    assert_eq!(dim, 84);
    assert_eq!(feats.len(), 50 * 84);
    let (index_feats, _) = retrieval::extract_features(&report.model, &train[..500], 64, &ad).unwrap();
    let index = CosineIndex::new(index_feats, dim, &device()).unwrap();
    let nb = index.search(&feats, 5).unwrap();
    let labels = |v: &[ImageItem]| v.iter().map(|i| i.label).collect::<Vec<_>>();
    let p = precision_at_k(&nb, &labels(&test[..50]), &labels(&train[..500])).unwrap();
    assert!(p > 0.6, "precision@5 {p}");

    let s = saliency_map(&report.model, &test[0].pixels, test[0].label, &ad).unwrap();
    assert_eq!(s.len(), 64);
    assert!(s.iter().all(|v| v.is_finite() && *v >= 0.0));
    assert!(s.iter().any(|v| *v > 0.0));
}
