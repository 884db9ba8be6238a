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
use dl_core::ModelConfig;
use dl_core::train::{EarlyStopping, fit};
use dl_examples::cli::{CommonArgs, run_example};
use dl_examples::translation::{TranslateArgs, TranslationData, merge_json, score_translations};
use dl_lstm::LstmConfig;
use dl_lstm::{AttentionKind, Seq2SeqConfig, Seq2SeqHeadConfig};
use serde_json::json;

/// The attention scores this example offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Attention {
    /// Bahdanau's additive score.
    Additive,
    /// Luong's multiplicative ("general") score.
    Multiplicative,
}

#[derive(Parser)]
#[command(about = "LSTM seq2seq with attention: English to French")]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    task: TranslateArgs,
    /// Embedding width (both languages).
    #[arg(long, default_value_t = 128)]
    embed_dim: usize,
    /// Encoder LSTM width per direction.
    #[arg(long, default_value_t = 128)]
    enc_hidden: usize,
    /// Decoder LSTM width.
    #[arg(long, default_value_t = 256)]
    dec_hidden: usize,
    /// How the decoder scores source positions.
    #[arg(long, value_enum, default_value_t = Attention::Additive)]
    attention: Attention,
    /// Learning rate (Adam).
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
}

fn main() {
    let args = Args::parse();
    run_example(|| {
        let c = &args.common;
        let attention = match args.attention {
            Attention::Additive => AttentionKind::Additive,
            Attention::Multiplicative => AttentionKind::Multiplicative,
        };
        let data = TranslationData::load(c, &args.task)?;
        let out = c.out_dir("translate")?;
        data.save_vocabularies(&out)?;

        let config = Seq2SeqConfig {
            encoder: LstmConfig::new(args.embed_dim, args.enc_hidden).with_bidirectional(true),
            decoder: LstmConfig::new(args.embed_dim + args.dec_hidden, args.dec_hidden),
            head: Seq2SeqHeadConfig::new(data.en.vocab_size(), data.fr.vocab_size())
                .with_attention(attention)
                .with_dropout(0.2),
        };
        let device = c.device()?;
        let ad = device.clone().autodiff();
        let model = config.init(&ad)?;
        let mut cfg = c.train_config(4, Some(out.clone()));
        cfg.batch_size = 64;
        cfg.lr = args.lr;
        cfg.grad_clip_norm = Some(5.0);
        cfg.early_stopping = Some(EarlyStopping { patience: 2, min_delta: 0.0 });
        let start = std::time::Instant::now();
        let report = fit(model, &data.train, Some(&data.valid), &data.batcher(), &cfg, &ad)?;
        let train_seconds = start.elapsed().as_secs_f64();
        dl_core::checkpoint::save_model(&config, &report.model, out.join("model"))?;
        let model = burn::module::Module::to_device(burn::module::Module::valid(&report.model), &device);
        let scores = score_translations(&model, &data, &args.task, c.quick, &out, &device)?;
        Ok(merge_json(
            json!({
                "example": "translate",
                "attention": dl_examples::choices::choice_name(&args.attention),
                "valid_loss": report.valid.as_ref().map(|v| v.loss),
                "epochs": report.history.epochs.len(),
                "train_seconds": train_seconds,
            }),
            scores,
        ))
    });
}
