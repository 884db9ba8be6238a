//! The English → French translation task of the recurrent `translate` and
//! the Transformer `transformer_translate` examples, written once so that
//! both read the same pairs, split, vocabularies and scores, and their BLEU
//! figures compare.
//!
//! Pairs of `fra-eng/` whose sides have at most `max_words` words are kept;
//! 2,000 shuffled training pairs (at most a tenth) are held out for
//! validation; vocabularies (min frequency 2, at most `vocab` words) come
//! from the training pairs, the French one with `<bos>`/`<eos>`. Scores:
//! corpus BLEU-4 over the test split with greedy decoding, and greedy vs beam
//! search on its first `beam_sentences` pairs.

use std::path::Path;
use std::time::Instant;

use burn::tensor::Device;
use serde_json::{Value, json};

use dl_core::data::sequence::{PairBatcher, PairItem};
use dl_core::data::split::shuffle;
use dl_core::data::text::read_parallel_tsv;
use dl_core::data::tokenizer::WordTokenizer;
use dl_core::metrics::bleu;
use dl_core::{Error, Result};
pub use dl_seq::Translator;

use crate::cli::CommonArgs;

/// Options of the translation task (both examples take them).
#[derive(Debug, Clone, clap::Args)]
pub struct TranslateArgs {
    /// Longest sentence kept, in words (both sides).
    #[arg(long, default_value_t = 10)]
    pub max_words: usize,
    /// Training pairs used (after the length filter; 0 = all).
    #[arg(long, default_value_t = 0)]
    pub train_size: usize,
    /// Vocabulary size cap per language.
    #[arg(long, default_value_t = 10_000)]
    pub vocab: usize,
    /// Beam width for the beam-search comparison.
    #[arg(long, default_value_t = 5)]
    pub beam: usize,
    /// Test pairs decoded with both greedy and beam search.
    #[arg(long, default_value_t = 1000)]
    pub beam_sentences: usize,
}

/// The prepared pairs and vocabularies.
#[derive(Debug)]
pub struct TranslationData {
    /// Training pairs (ids).
    pub train: Vec<PairItem>,
    /// Validation pairs (ids).
    pub valid: Vec<PairItem>,
    /// Test pairs as text (English, French).
    pub test_rows: Vec<(String, String)>,
    /// English vocabulary.
    pub en: WordTokenizer,
    /// French vocabulary (with `<bos>`, `<eos>`).
    pub fr: WordTokenizer,
    /// `<bos>` id of the French vocabulary.
    pub bos: usize,
    /// `<eos>` id of the French vocabulary.
    pub eos: usize,
}

/// A test pair: source ids, reference tokens, and the raw sentences.
type TestPair<'a> = (Vec<usize>, Vec<String>, &'a (String, String));

fn words(s: &str) -> usize {
    s.split_whitespace().count()
}

impl TranslationData {
    /// Reads `fra-eng/` from the data folders of `c` (`--quick` keeps 2,000
    /// training pairs).
    pub fn load(c: &CommonArgs, args: &TranslateArgs) -> Result<Self> {
        let dir = c.data_dirs().find("fra-eng", &["train.tsv.gz", "test.tsv.gz"])?;
        let keep = |rows: Vec<(String, String)>| -> Vec<(String, String)> {
            rows.into_iter().filter(|(e, f)| words(e) <= args.max_words && words(f) <= args.max_words).collect()
        };
        let mut train_rows = keep(read_parallel_tsv(dir.join("train.tsv.gz"))?);
        let test_rows = keep(read_parallel_tsv(dir.join("test.tsv.gz"))?);
        shuffle(&mut train_rows, c.seed);
        let n_valid = 2_000.min(train_rows.len() / 10);
        let valid_rows = train_rows.split_off(train_rows.len() - n_valid);
        if args.train_size > 0 {
            train_rows.truncate(args.train_size);
        }
        if c.quick {
            train_rows.truncate(2_000);
        }
        let en = WordTokenizer::fit(train_rows.iter().map(|(e, _)| e.as_str()), 2, args.vocab)?;
        let fr = WordTokenizer::fit_with_specials(
            train_rows.iter().map(|(_, f)| f.as_str()),
            &["<bos>", "<eos>"],
            2,
            args.vocab,
        )?;
        let (bos, eos) = (fr.vocab().special_id("<bos>")?, fr.vocab().special_id("<eos>")?);
        let encode = |rows: &[(String, String)]| -> Vec<PairItem> {
            rows.iter()
                .map(|(e, f)| PairItem { src: en.encode(e), tgt: fr.encode(f) })
                .filter(|p| !p.src.is_empty())
                .collect()
        };
        let (train, valid) = (encode(&train_rows), encode(&valid_rows));
        let data = TranslationData { train, valid, test_rows, en, fr, bos, eos };
        eprintln!(
            "{} train / {} valid / {} test pairs; vocabularies en {} fr {}",
            data.train.len(),
            data.valid.len(),
            data.test_rows.len(),
            data.en.vocab_size(),
            data.fr.vocab_size()
        );
        Ok(data)
    }

    /// The batcher of these pairs (padding id 0).
    pub fn batcher(&self) -> PairBatcher {
        PairBatcher { pad: 0, bos: self.bos, eos: self.eos }
    }

    /// Writes `vocab_en.json` and `vocab_fr.json` into `out`.
    pub fn save_vocabularies(&self, out: &Path) -> Result<()> {
        self.en.save(out.join("vocab_en.json"))?;
        self.fr.save(out.join("vocab_fr.json"))
    }
}

/// Decodes the test split (`quick`: its first 200 pairs) with `model`: BLEU
/// with greedy decoding over all of it, greedy vs beam search over the first
/// `args.beam_sentences`, four attention maps (`out/attention_<i>.png`) and
/// examples. References are the tokenized French sentences, unknown words included.
pub fn score_translations<M: Translator>(
    model: &M,
    data: &TranslationData,
    args: &TranslateArgs,
    quick: bool,
    out: &Path,
    device: &Device,
) -> Result<Value> {
    let max_len = 2 * args.max_words + 5;
    let test: Vec<TestPair> = data
        .test_rows
        .iter()
        .map(|row| (data.en.encode(&row.0), WordTokenizer::tokens(&row.1), row))
        .filter(|(s, _, _)| !s.is_empty())
        .collect();
    let test = if quick { &test[..200.min(test.len())] } else { &test[..] };
    if test.is_empty() {
        return Err(Error::Invalid("translation: no test pair is left after the length filter".into()));
    }
    let to_words = |ids: &[usize]| -> Vec<String> {
        ids.iter().map(|&i| data.fr.vocab().token(i).unwrap_or("<unk>").to_string()).collect()
    };
    let start = Instant::now();
    let mut greedy = Vec::with_capacity(test.len());
    for chunk in test.chunks(256) {
        let sources: Vec<Vec<usize>> = chunk.iter().map(|t| t.0.clone()).collect();
        greedy.extend(model.greedy(&sources, data.bos, data.eos, max_len, device)?);
    }
    let greedy_seconds = start.elapsed().as_secs_f64();
    let refs: Vec<Vec<String>> = test.iter().map(|t| t.1.clone()).collect();
    let hyps: Vec<Vec<String>> = greedy.iter().map(|d| to_words(&d.tokens)).collect();
    let bleu_greedy = bleu(&hyps, &refs)?;

    let nb = args.beam_sentences.min(test.len());
    let start = Instant::now();
    let mut beam_hyps = Vec::with_capacity(nb);
    for t in &test[..nb] {
        let d = model.beam_search(&t.0, data.bos, data.eos, args.beam, max_len, 0.6, device)?;
        beam_hyps.push(to_words(&d.tokens));
    }
    let beam_seconds = start.elapsed().as_secs_f64();
    let bleu_beam_subset = bleu(&beam_hyps, &refs[..nb])?;
    let bleu_greedy_subset = bleu(&hyps[..nb], &refs[..nb])?;
    eprintln!(
        "BLEU greedy {:.2} on {} test pairs; first {nb}: greedy {:.2}, beam {} {:.2}",
        100.0 * bleu_greedy,
        test.len(),
        100.0 * bleu_greedy_subset,
        args.beam,
        100.0 * bleu_beam_subset
    );

    // Attention maps and examples.
    let mut examples = Vec::new();
    for (i, t) in test.iter().enumerate().take(4) {
        let d = &greedy[i];
        let src_words: Vec<String> = WordTokenizer::tokens(&t.2.0);
        let mut out_words = to_words(&d.tokens);
        if d.attention.len() > d.tokens.len() {
            out_words.push("<eos>".into());
        }
        if src_words.len() == t.0.len() {
            let flat: Vec<f32> = d.attention.iter().flatten().copied().collect();
            dl_core::plot::heatmap_png(
                &out.join(format!("attention_{i}.png")),
                &flat,
                d.attention.len(),
                t.0.len(),
                36,
                Some(&out_words),
                Some(&src_words),
            )?;
        }
        examples.push(json!({"en": t.2.0, "reference": t.2.1, "greedy": hyps[i].join(" "),
                             "beam": beam_hyps.get(i).map(|h| h.join(" "))}));
    }
    Ok(json!({
        "train_pairs": data.train.len(),
        "test_pairs": test.len(),
        "bleu_greedy": bleu_greedy,
        "beam_subset": nb,
        "bleu_greedy_subset": bleu_greedy_subset,
        "bleu_beam_subset": bleu_beam_subset,
        "beam": args.beam,
        "greedy_seconds": greedy_seconds,
        "beam_seconds": beam_seconds,
        "examples": examples,
    }))
}

/// `base` with the fields of `extra` added (both JSON objects).
pub fn merge_json(mut base: Value, extra: Value) -> Value {
    if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
        b.extend(e);
    }
    base
}
