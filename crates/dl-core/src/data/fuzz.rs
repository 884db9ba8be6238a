//! Every reader of this crate on corrupted variants of a valid file
//! ([`mutations`]): an `Err` or an `Ok`, never a panic or an abort.

use std::path::Path;

use super::tests::gz;
use super::*;
use crate::testing::{mutations, temp_dir};

/// Variants per reader: enough to hit every field of the small valid files
/// below several times, in well under a second each.
const VARIANTS: usize = 400;

/// Writes each variant of `valid` (and of its gzip) to `dir/name` and reads it with `read`.
fn each_file<T>(dir: &Path, name: &str, valid: &[u8], seed: u64, read: impl Fn(&Path) -> Result<T>) {
    let path = dir.join(name);
    std::fs::write(&path, valid).unwrap();
    assert!(read(&path).is_ok(), "the valid {name} must read");
    let zipped = gz(valid);
    let variants = mutations(valid, VARIANTS, seed).into_iter().chain(mutations(&zipped, VARIANTS / 4, seed + 1));
    for bytes in variants.chain(mutations(valid, VARIANTS / 4, seed + 2).iter().map(|v| gz(v))) {
        std::fs::write(&path, &bytes).unwrap();
        let _ = read(&path);
    }
}

#[test]
fn idx_readers_never_panic() {
    let images = crate::testing::idx_images(3, 4, 5, 7);
    let labels = crate::testing::idx_labels(&[1, 2, 3]);
    for (i, bytes) in mutations(&images, VARIANTS, 1).iter().chain(&mutations(&gz(&images), VARIANTS, 2)).enumerate() {
        let _ = read_idx_images_from_bytes(bytes, &format!("images-{i}"));
    }
    for bytes in mutations(&labels, VARIANTS, 3).iter().chain(&mutations(&gz(&labels), VARIANTS, 4)) {
        let _ = read_idx_labels_from_bytes(bytes, "labels");
    }
}

#[test]
fn text_and_csv_readers_never_panic() {
    let dir = temp_dir("dl-core", "fuzz-text");
    let tsv = "spam\tWin a prize now\nham\tSee you at 7 \u{2014} ok?\n\nham\t\n".as_bytes();
    each_file(&dir, "rows.tsv", tsv, 10, |p| read_labeled_tsv(p));
    each_file(&dir, "pairs.tsv", "go .\tva !\nhi .\tsalut !\n".as_bytes(), 11, |p| read_parallel_tsv(p));
    each_file(&dir, "corpus.txt", "First Citizen:\nBefore we proceed\n".as_bytes(), 12, |p| read_text(p));
    let csv = b"month,sunspots\n1749-01,58.0\n1749-02,62.6\n1749-03,\n1749-04,55.7\n";
    each_file(&dir, "series.csv", csv, 13, |p| {
        let mut s = read_series_csv(p)?;
        s.interpolate_missing()
    });
}

#[test]
fn tokenizer_and_config_files_never_panic() {
    let dir = temp_dir("dl-core", "fuzz-json");
    let chars = dir.join("chars.json");
    CharTokenizer::fit(["hello world"], 1, 50).unwrap().save(&chars).unwrap();
    each_file(&dir, "chars.json", &std::fs::read(&chars).unwrap(), 20, |p| CharTokenizer::load(p));
    let words = dir.join("words.json");
    AnyWordTokenizer::fit(WordSplit::Kim, ["it isn't bad", "good"], 1, 50).unwrap().save(&words).unwrap();
    each_file(&dir, "words.json", &std::fs::read(&words).unwrap(), 21, |p| AnyWordTokenizer::load(p));
    let train = dir.join("train.json");
    crate::config::save_json(&crate::train::TrainConfig::default(), &train).unwrap();
    each_file(&dir, "train.json", &std::fs::read(&train).unwrap(), 22, |p| {
        crate::config::load_json::<crate::train::TrainConfig>(p)?.validate()
    });
}

#[test]
fn safetensors_and_checkpoint_readers_never_panic() {
    use burn::nn::LinearConfig;
    let dir = temp_dir("dl-core", "fuzz-weights");
    let d = crate::testing::device();
    let model = LinearConfig::new(3, 2).init(&d);
    let bpk = dir.join("model.bpk");
    crate::checkpoint::save_weights(&model, &bpk).unwrap();
    each_file(&dir, "model.bpk", &std::fs::read(&bpk).unwrap(), 30, |p| {
        crate::checkpoint::load_weights(LinearConfig::new(3, 2).init(&d), p)
    });
    let values: Vec<u8> = [0.5f32, -1.0, 2.0, 0.25, 1.5, -0.75].iter().flat_map(|v| v.to_le_bytes()).collect();
    let view = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![2, 3], &values).unwrap();
    let st = safetensors::serialize([("w".to_string(), view)], None).unwrap();
    each_file(&dir, "model.safetensors", &st, 31, |p| crate::weights::StateDict::load(p));
}
