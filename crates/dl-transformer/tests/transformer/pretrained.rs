//! The shipped character GPT.

use super::*;

/// The shipped character GPT reproduces its documented validation loss
/// (1.797 on the 2,400 validation windows of its training run), its
/// vocabulary is the corpus's, and greedy continuation is deterministic.
#[test]
fn the_shipped_char_gpt_reaches_its_loss_on_tinyshakespeare() {
    use dl_transformer::lm::{CharCorpus, random_windows};
    use dl_transformer::pretrained::char_gpt_shakespeare;
    let d = device();
    let gpt = char_gpt_shakespeare(&d).unwrap();
    let a = gpt.continue_text("ROMEO:", 40, 0.0, 1, &d).unwrap();
    assert!(a.starts_with("ROMEO:") && a.chars().count() == 46, "{a:?}");
    assert_eq!(a, gpt.continue_text("ROMEO:", 40, 0.0, 2, &d).unwrap(), "greedy ignores the seed");
    assert!(gpt.continue_text("ROMEO€", 4, 0.0, 1, &d).is_err(), "a character outside the vocabulary");
    let Some(file) = dl_core::testing::data_file("tinyshakespeare", "input.txt") else { return };
    let corpus = CharCorpus::new(&dl_core::data::read_text(&file).unwrap()).unwrap();
    let text = corpus.tokenizer.decode(&corpus.valid[..5_000]).unwrap();
    assert_eq!(gpt.tokenizer.encode(&text), corpus.valid[..5_000]);
    // The windows of train_char_lm's validation (seed 42, context 64).
    let windows = random_windows(&corpus.valid, 64, 2_400, 42 ^ 0x5eed).unwrap();
    let loss = evaluate(&gpt.model, &windows, &NextTokenBatcher, 64, &d).unwrap().loss;
    // The training run's closing validation (`valid_loss_nats_per_char`).
    assert!((loss - 1.796_712_888).abs() < 1e-6, "validation loss {loss}");
}
