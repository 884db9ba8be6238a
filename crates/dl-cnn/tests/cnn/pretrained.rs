//! Pretrained.

use super::*;

/// The shipped LeNet-5 loads in one line and classifies MNIST's 10,000 test
/// images exactly as when it was trained (its documented 99.25%); a flipped
/// bit in its weights is an error naming it.
#[test]
fn the_shipped_lenet5_reaches_its_figure_on_mnist() {
    use dl_cnn::pretrained::{LENET5_MNIST, lenet5_mnist};
    let d = device();
    let model = lenet5_mnist(&d).unwrap();
    let mut bad = LENET5_MNIST.weights.to_vec();
    let at = bad.len() - 64;
    bad[at] ^= 0x10;
    let e = dl_core::checkpoint::load_model_from_bytes::<LeNet5Config>(
        "pretrained lenet5-mnist",
        LENET5_MNIST.config,
        &bad,
        &d,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("pretrained lenet5-mnist") && e.contains("corrupted"), "{e}");
    let Some(file) = dl_core::testing::data_file("mnist", "t10k-images-idx3-ubyte.gz") else { return };
    let root = file.parent().and_then(|p| p.parent()).unwrap().to_path_buf();
    let data = dl_cnn::recipes::load_mnist(&DataDirs::from_dirs(vec![root]), false, (0, 0)).unwrap();
    let eval = evaluate(&model, &data.test, &ImageBatcher::new(1, 28, 28), 500, &d).unwrap();
    let accuracy = eval.accuracy().unwrap();
    assert_eq!((data.test.len(), (accuracy * 10_000.0).round() as usize), (10_000, 9_925), "accuracy {accuracy}");
}

/// The shipped SMS spam filter classifies the 1,117 test messages as when it
/// was trained (98.75%); a vocabulary that is not the model's is refused.
#[test]
fn the_shipped_textcnn_filters_sms_spam_as_documented() {
    use dl_cnn::pretrained::{TEXTCNN_SMS_SPAM, TextCnnClassifier, textcnn_sms_spam};
    use dl_core::data::LabelSet;
    use dl_core::data::tokenizer::{AnyWordTokenizer, WordSplit};
    let d = device();
    let filter = textcnn_sms_spam(&d).unwrap();
    assert_eq!(filter.labels(), ["ham", "spam"]);
    assert!(filter.classify(&[], &d).unwrap().is_empty());
    // docs/cnn.md's example.
    let got = filter.classify(&["WINNER!! Claim your prize now", "see you at 6"], &d).unwrap();
    assert_eq!(got, ["spam", "ham"]);
    let (_, model) = TEXTCNN_SMS_SPAM.load::<TextCnnConfig>(&d).unwrap();
    let other = AnyWordTokenizer::fit(WordSplit::Words, ["a b c"], 1, 100).unwrap();
    let e = TextCnnClassifier::new(model, other, LabelSet::from_labels(["ham", "spam"]), 100).unwrap_err();
    assert!(e.to_string().contains("3858"), "{e}");
    let Some(file) = dl_core::testing::data_file("sms-spam", "test.tsv") else { return };
    let rows = dl_core::data::read_labeled_tsv(&file).unwrap();
    let mut correct = 0;
    // Batches of 256 in file order, padded as the example's evaluation pads them.
    for chunk in rows.chunks(256) {
        let texts: Vec<&str> = chunk.iter().map(|(_, t)| t.as_str()).collect();
        let got = filter.classify(&texts, &d).unwrap();
        correct += got.iter().zip(chunk).filter(|(g, (want, _))| *g == want).count();
    }
    assert_eq!((rows.len(), correct), (1_117, 1_103));
}
