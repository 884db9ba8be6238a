//! English -> French translation with an LSTM encoder-decoder and attention
//! (Bahdanau et al. 2015), on the Tatoeba fra-eng pairs.
//!
//! `cargo run -p dl-lstm --release --example translate -- [--epochs 4] [--attention additive|multiplicative]`
//!
//! Pairs whose English and French sides have at most 10 words each are kept
//! (train and test splits of `fra-eng/`); words are lower-cased and punctuation
//! split off; vocabularies (at most `--vocab` words each) come from the
//! training pairs. The encoder is a bidirectional LSTM, the decoder an LSTM
//! with input feeding. Scores: corpus BLEU-4 on the test split with greedy
//! decoding, and greedy vs beam search on the first `--beam-sentences` test
//! pairs. Writes `out/translate/` (checkpoint, vocabularies, curves,
//! `attention_<i>.png`).

use clap::Parser;
use dl_core::cli::{CommonArgs, run_example};
use dl_core::data::split::shuffle;
use dl_core::data::text::read_parallel_tsv;
use dl_core::data::tokenizer::WordTokenizer;
use dl_core::metrics::bleu;
use dl_core::recurrent::seq2seq::{AttentionKind, PairBatcher, PairItem, Seq2SeqConfig, Seq2SeqHeadConfig};
use dl_core::train::{EarlyStopping, fit};
use dl_core::{Error, ModelConfig};
use dl_lstm::LstmConfig;
use serde_json::json;

#[derive(Parser)]
#[command(about = "LSTM seq2seq with attention: English to French")]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Longest sentence kept, in words (both sides).
    #[arg(long, default_value_t = 10)]
    max_words: usize,
    /// Training pairs used (after the length filter; 0 = all).
    #[arg(long, default_value_t = 0)]
    train_size: usize,
    /// Vocabulary size cap per language.
    #[arg(long, default_value_t = 10_000)]
    vocab: usize,
    /// Embedding width (both languages).
    #[arg(long, default_value_t = 128)]
    embed_dim: usize,
    /// Encoder LSTM width per direction.
    #[arg(long, default_value_t = 128)]
    enc_hidden: usize,
    /// Decoder LSTM width.
    #[arg(long, default_value_t = 256)]
    dec_hidden: usize,
    /// additive (Bahdanau) or multiplicative (Luong).
    #[arg(long, default_value = "additive")]
    attention: String,
    /// Beam width for the beam-search comparison.
    #[arg(long, default_value_t = 5)]
    beam: usize,
    /// Test pairs decoded with both greedy and beam search.
    #[arg(long, default_value_t = 1000)]
    beam_sentences: usize,
    /// Learning rate.
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
}

/// A test pair: source ids, reference tokens, and the raw sentences.
type TestPair<'a> = (Vec<usize>, Vec<String>, &'a (String, String));

fn words(s: &str) -> usize {
    s.split_whitespace().count()
}

fn main() {
    let args = Args::parse();
    run_example(|| {
        let c = &args.common;
        let attention = match args.attention.as_str() {
            "additive" => AttentionKind::Additive,
            "multiplicative" => AttentionKind::Multiplicative,
            other => {
                return Err(Error::Unknown { kind: "attention", value: other.into(), context: "--attention".into() });
            }
        };
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
        let train = encode(&train_rows);
        let valid = encode(&valid_rows);
        let out = c.out_dir("translate")?;
        en.save(out.join("vocab_en.json"))?;
        fr.save(out.join("vocab_fr.json"))?;

        let config = Seq2SeqConfig {
            encoder: LstmConfig::new(args.embed_dim, args.enc_hidden).with_bidirectional(true),
            decoder: LstmConfig::new(args.embed_dim + args.dec_hidden, args.dec_hidden),
            head: Seq2SeqHeadConfig::new(en.vocab_size(), fr.vocab_size()).with_attention(attention).with_dropout(0.2),
        };
        let device = c.device()?;
        let ad = device.clone().autodiff();
        let model = config.init(&ad)?;
        let mut cfg = c.train_config(4, Some(out.clone()));
        cfg.batch_size = 64;
        cfg.lr = args.lr;
        cfg.grad_clip_norm = Some(5.0);
        cfg.early_stopping = Some(EarlyStopping { patience: 2, min_delta: 0.0 });
        eprintln!(
            "{} train / {} valid / {} test pairs; vocabularies en {} fr {}",
            train.len(),
            valid.len(),
            test_rows.len(),
            en.vocab_size(),
            fr.vocab_size()
        );
        let start = std::time::Instant::now();
        let batcher = PairBatcher { pad: 0, bos, eos };
        let report = fit(model, &train, Some(&valid), &batcher, &cfg, &ad)?;
        let train_seconds = start.elapsed().as_secs_f64();
        dl_core::checkpoint::save_model(&config, &report.model, out.join("model"))?;
        let model = burn::module::Module::valid(&report.model);
        let model = burn::module::Module::to_device(model, &device);

        // Test BLEU: references are the tokenized French sentences (unknown words included).
        let test: Vec<TestPair> = test_rows
            .iter()
            .map(|row| (en.encode(&row.0), WordTokenizer::tokens(&row.1), row))
            .filter(|(s, _, _)| !s.is_empty())
            .collect();
        let test = if c.quick { &test[..200.min(test.len())] } else { &test[..] };
        let to_words = |ids: &[usize]| -> Vec<String> {
            ids.iter().map(|&i| fr.vocab().token(i).unwrap_or("<unk>").to_string()).collect()
        };
        let start = std::time::Instant::now();
        let mut greedy = Vec::with_capacity(test.len());
        for chunk in test.chunks(256) {
            let sources: Vec<Vec<usize>> = chunk.iter().map(|t| t.0.clone()).collect();
            greedy.extend(model.greedy(&sources, bos, eos, 2 * args.max_words + 5, &device)?);
        }
        let greedy_seconds = start.elapsed().as_secs_f64();
        let refs: Vec<Vec<String>> = test.iter().map(|t| t.1.clone()).collect();
        let hyps: Vec<Vec<String>> = greedy.iter().map(|d| to_words(&d.tokens)).collect();
        let bleu_greedy = bleu(&hyps, &refs)?;

        let nb = args.beam_sentences.min(test.len());
        let start = std::time::Instant::now();
        let mut beam_hyps = Vec::with_capacity(nb);
        for t in &test[..nb] {
            let d = model.beam_search(&t.0, bos, eos, args.beam, 2 * args.max_words + 5, 0.6, &device)?;
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
            "example": "translate",
            "attention": args.attention,
            "train_pairs": train.len(),
            "test_pairs": test.len(),
            "bleu_greedy": bleu_greedy,
            "beam_subset": nb,
            "bleu_greedy_subset": bleu_greedy_subset,
            "bleu_beam_subset": bleu_beam_subset,
            "beam": args.beam,
            "valid_loss": report.valid.as_ref().map(|v| v.loss),
            "epochs": report.history.epochs.len(),
            "train_seconds": train_seconds,
            "greedy_seconds": greedy_seconds,
            "beam_seconds": beam_seconds,
            "examples": examples,
        }))
    });
}
