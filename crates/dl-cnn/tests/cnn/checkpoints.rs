//! Checkpoints.

use super::*;

#[test]
fn save_load_is_bit_exact_and_rejects_other_configs() {
    let _rng = rng_lock();
    let d = device();
    d.seed(11);
    let config = ResNetConfig::resnet18_small(1, 10, 4);
    let model = config.init(&d).unwrap();
    let dir = temp_dir("dl-cnn", "save");
    dl_core::checkpoint::save_model(&config, &model, &dir).unwrap();
    let (loaded_cfg, loaded) = dl_core::checkpoint::load_model::<ResNetConfig>(&dir, &d).unwrap();
    assert_eq!(loaded_cfg, config);
    let x = Tensor::<4>::random([2, 1, 28, 28], burn::tensor::Distribution::Default, &d);
    let a = to_f32(model.valid().forward(x.clone())).unwrap();
    let b = to_f32(loaded.valid().forward(x)).unwrap();
    assert_eq!(a, b, "bit-exact");

    // Same architecture family, other width: a checkpoint error, not a panic.
    let other = ResNetConfig::resnet18_small(1, 10, 8).init(&d).unwrap();
    let err = dl_core::checkpoint::load_weights(other, dir.join("model.bpk")).unwrap_err();
    assert!(matches!(err, Error::Checkpoint { .. }), "{err}");
    let err = dl_core::checkpoint::load_weights(lenet8(&d), dir.join("missing.bpk")).unwrap_err();
    assert!(err.to_string().contains("missing.bpk"));
    // A config file that is not JSON names the file.
    std::fs::write(dir.join("config.json"), "{ not json").unwrap();
    let err = dl_core::checkpoint::load_model::<ResNetConfig>(&dir, &d).unwrap_err();
    assert!(err.to_string().contains("config.json"), "{err}");
}
