//! Shapes and configs.

use super::*;

#[test]
fn output_shapes() {
    let _rng = rng_lock();
    let d = device();
    let x = Tensor::<4>::zeros([2, 1, 28, 28], &d);
    let lenet = LeNet5Config::new().init(&d).unwrap();
    assert_eq!(lenet.forward(x.clone()).dims(), [2, 10]);
    assert_eq!(lenet.embed(x.clone()).dims(), [2, 84]);

    let resnet = ResNetConfig::resnet18_small(1, 10, 8).init(&d).unwrap();
    assert_eq!(resnet.forward(x.clone()).dims(), [2, 10]);
    assert_eq!(resnet.embed(x.clone()).dims(), [2, 64]);
    assert_eq!(resnet.blocks.len(), 8);

    let imagenet = ResNetConfig::resnet18(3, 5).with_base_width(4).init(&d).unwrap();
    assert_eq!(imagenet.forward(Tensor::zeros([1, 3, 64, 64], &d)).dims(), [1, 5]);

    let vgg = VggConfig::digits8x8().init(&d).unwrap();
    assert_eq!(vgg.forward(Tensor::zeros([3, 1, 8, 8], &d)).dims(), [3, 10]);

    let spec = SpectrogramCnnConfig::new(40, 50, 10).init(&d).unwrap();
    assert_eq!(spec.forward(Tensor::zeros([2, 1, 40, 50], &d)).dims(), [2, 10]);

    let text = TextCnnConfig::new(50, 2).with_embed_dim(8).with_filters(4).init(&d).unwrap();
    let tokens = Tensor::<2, burn::tensor::Int>::zeros([3, 7], &d);
    assert_eq!(text.forward(tokens.clone()).dims(), [3, 2]);
    assert_eq!(text.embed(tokens).dims(), [3, 12]);
}

#[test]
fn pooling_variants() {
    let _rng = rng_lock();
    let d = device();
    let x = Tensor::<4>::from_data(TensorData::new((0..16).map(|v| v as f32).collect::<Vec<_>>(), [1, 1, 4, 4]), &d);
    let v = |p: PoolKind| to_f32(p.forward(x.clone())).unwrap();
    assert_eq!(v(PoolKind::MAX2), vec![5.0, 7.0, 13.0, 15.0]);
    assert_eq!(v(PoolKind::AVG2), vec![2.5, 4.5, 10.5, 12.5]);
    assert_eq!(v(PoolKind::GlobalMax), vec![15.0]);
    assert_eq!(v(PoolKind::GlobalAvg), vec![7.5]);
    assert_eq!(v(PoolKind::AdaptiveAvg { output: [2, 2] }), vec![2.5, 4.5, 10.5, 12.5]);
    assert_eq!(PoolKind::MAX2.output_size([5, 7]), Some([2, 3]));
    assert_eq!(PoolKind::MAX2.output_size([1, 7]), None);
    // Configs accept any variant.
    let cfg = LeNet5Config::new().with_pool(PoolKind::AVG2);
    assert!(cfg.init(&d).is_ok());
}

fn config_error(r: dl_core::Result<impl std::fmt::Debug>) -> String {
    match r {
        Err(e @ Error::Config { .. }) => e.to_string(),
        other => panic!("expected a config error, got {other:?}"),
    }
}

#[test]
fn invalid_configs_are_errors_naming_the_field() {
    let _rng = rng_lock();
    let d = device();
    assert!(config_error(LeNet5Config::new().with_input_size([8, 8]).init(&d)).contains("input_size"));
    assert!(config_error(LeNet5Config::new().with_num_classes(0).init(&d)).contains("num_classes"));
    assert!(config_error(VggConfig::new(1, [8, 8], vec![], 10).init(&d)).contains("blocks"));
    let too_many = VggConfig::new(1, [8, 8], vec![VggBlock { channels: 4, convs: 1, pool: PoolKind::MAX2 }; 4], 10);
    assert!(config_error(too_many.init(&d)).contains("input_size"));
    assert!(config_error(ResNetConfig::new(1, 10).with_head_pool(PoolKind::MAX2).init(&d)).contains("head_pool"));
    assert!(config_error(ResNetConfig::new(1, 10).with_layers(vec![2, 0]).init(&d)).contains("layers[1]"));
    // A width no machine holds is refused before anything is allocated.
    let e = config_error(ResNetConfig::resnet18_small(1, 10, 100_000).init(&d));
    assert!(e.contains("base_width") && e.contains("parameters needs") && e.contains("available"), "{e}");
    assert!(config_error(TextCnnConfig::new(10, 2).with_dropout(1.0).init(&d)).contains("dropout"));
    assert!(config_error(TextCnnConfig::new(10, 2).with_filter_widths(vec![]).init(&d)).contains("filter_widths"));
    assert!(config_error(SpectrogramCnnConfig::new(4, 4, 10).init(&d)).contains("input_size"));
}

#[test]
fn bad_inputs_are_errors() {
    let _rng = rng_lock();
    let d = device();
    let b = ImageBatcher::new(1, 8, 8);
    let item = ImageItem { pixels: vec![0.0; 63], label: 1 };
    assert!(matches!(b.batch(&[&item], &d), Err(Error::Shape { .. })));
    let text = TextCnnConfig::new(5, 2).init(&d).unwrap();
    assert!(matches!(text.check_tokens(&[1, 7]), Err(Error::Unknown { .. })));
    // A batch holding an id past the vocabulary is an error at the step, not
    // an out-of-range embedding lookup (a panic on CPU).
    let batcher = TextBatcher { pad_id: 0, min_len: text.min_len(), max_len: 10 };
    let batch = batcher.batch(&[&TextItem { ids: vec![1, 7, 2], label: 0 }], &d).unwrap();
    assert_eq!(batch.ids_below, 8);
    let err = dl_core::Supervised::step(&text, &batch).unwrap_err().to_string();
    assert!(err.contains("token id `7`"), "{err}");
    let lenet = lenet8(&d);
    let ad = d.clone().autodiff();
    assert!(saliency_map(&lenet, &[0.0; 10], 0, &ad).is_err());
    assert!(saliency_map(&lenet.clone().fork(&ad), &[0.0; 64], 10, &ad).is_err());
    assert!(matches!(saliency_map(&lenet, &[0.0; 64], 0, &d), Err(Error::NeedsAutodiff { .. })));
    // The common cases have their own variants, so callers can match on them.
    let (train, _) = digits();
    let cfg = quick_cfg(1, None);
    assert!(matches!(fit(lenet8(&d), &train, None, &b, &cfg, &d), Err(Error::NeedsAutodiff { what: "fit" })));
    let none: &[ImageItem] = &[];
    assert!(matches!(fit(lenet8(&ad), none, None, &b, &cfg, &ad), Err(Error::Empty { .. })));
}
