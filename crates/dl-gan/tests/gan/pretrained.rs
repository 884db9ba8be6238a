//! The shipped generators.

use super::*;

/// The shipped conditional generator draws the digit it is asked for: dl-cnn's
/// shipped LeNet-5 names the asked digit for 988 of 1,000 samples (100 per
/// digit, latent seed 43), as when it was added. A flipped bit is refused.
#[test]
fn the_shipped_conditional_generator_draws_the_digits_asked_for() {
    use dl_cnn::ImageClassifier;
    use dl_gan::pretrained::{DCGAN_MNIST_CONDITIONAL, dcgan_mnist_conditional};
    use dl_gan::sampling::grid_labels;
    let d = device();
    let (config, g) = dcgan_mnist_conditional(&d).unwrap();
    assert_eq!((config.latent_dim, config.num_classes), (100, Some(10)));
    let mut bad = DCGAN_MNIST_CONDITIONAL.weights.to_vec();
    let at = bad.len() - 100;
    bad[at] ^= 0x08;
    let fresh = config.init(&d).unwrap().generator;
    let e = dl_core::checkpoint::load_weights_from_bytes(fresh, "pretrained x", &bad).unwrap_err().to_string();
    assert!(e.contains("pretrained x") && e.contains("corrupted"), "{e}");
    let per = 100;
    let z = latent_codes(10 * per, config.latent_dim, 43, &d);
    let images = sample_values(&g, z, Some(grid_labels(10, per, &d)), 500).unwrap();
    assert!(images.iter().all(|v| (-1.0..=1.0).contains(v)));
    // Pixels back to [0, 1], standardised as the judge was trained.
    let (mean, std) = dl_cnn::recipes::MNIST_MEAN_STD;
    let x: Vec<f32> = images.iter().map(|v| ((v + 1.0) / 2.0 - mean) / std).collect();
    let judge = dl_cnn::pretrained::lenet5_mnist(&d).unwrap();
    let logits = to_f32(judge.forward(Tensor::<4>::from_data(TensorData::new(x, [10 * per, 1, 28, 28]), &d))).unwrap();
    let named = |row: &[f32]| row.iter().enumerate().fold(0, |b, (j, v)| if *v > row[b] { j } else { b });
    let agree = logits.chunks(10).enumerate().filter(|(i, row)| named(row) == i / per).count();
    assert_eq!(agree, 988, "the judge names the asked digit for {agree} of 1,000");
}

/// The shipped InfoGAN's ten code values are ten kinds of digit found without
/// labels: drawing 100 samples per code value (latent seed 43), dl-cnn's
/// shipped LeNet-5 finds a different digit most often for each code (all ten
/// digits), and names that digit for 758 of the 1,000 samples.
#[test]
fn the_shipped_infogan_codes_are_kinds_of_digit() {
    use dl_cnn::ImageClassifier;
    use dl_gan::pretrained::infogan_mnist;
    use dl_gan::sampling::grid_labels;
    let d = device();
    let (config, g) = infogan_mnist(&d).unwrap();
    assert_eq!((config.latent_dim, config.info_codes, config.num_classes), (100, Some(10), None));
    let per = 100;
    let z = latent_codes(10 * per, config.latent_dim, 43, &d);
    let images = sample_values(&g, z, Some(grid_labels(10, per, &d)), 500).unwrap();
    let (mean, std) = dl_cnn::recipes::MNIST_MEAN_STD;
    let x: Vec<f32> = images.iter().map(|v| ((v + 1.0) / 2.0 - mean) / std).collect();
    let judge = dl_cnn::pretrained::lenet5_mnist(&d).unwrap();
    let logits = to_f32(judge.forward(Tensor::<4>::from_data(TensorData::new(x, [10 * per, 1, 28, 28]), &d))).unwrap();
    let named: Vec<usize> = logits
        .chunks(10)
        .map(|row| row.iter().enumerate().fold(0, |b, (j, v)| if *v > row[b] { j } else { b }))
        .collect();
    let mut majority = Vec::new();
    let mut agree = 0;
    for code in named.chunks(per) {
        let mut counts = [0usize; 10];
        code.iter().for_each(|&k| counts[k] += 1);
        let top = (0..10).max_by_key(|&k| counts[k]).unwrap();
        majority.push(top);
        agree += counts[top];
    }
    // Code k draws mostly digit majority[k]: ten codes, ten different digits.
    assert_eq!(majority, [4, 8, 6, 9, 0, 5, 2, 3, 1, 7]);
    assert_eq!(agree, 758, "{agree} of 1,000 samples are their code's digit");
}
