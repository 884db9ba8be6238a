//! Sentence classification with an LSTM and a bidirectional LSTM: movie-review
//! sentiment (rt-polarity) and SMS spam.
//!
//! `cargo run -p dl-lstm --release --example sentiment -- [--dataset rt-polarity,sms-spam] [--models lstm,bilstm]`
//!
//! Words are lower-cased and split on whitespace and punctuation (`--tokens
//! kim` applies Kim's English preprocessing first, which cuts `n't` and `'s`
//! from their words; it lifts dl-cnn's TextCNN on rt-polarity but not these
//! networks, docs/lstm.md); the vocabulary comes from the training split
//! only. Embeddings are learned from scratch (no pretrained vectors). The
//! sentence is summarised by max-pooling the LSTM outputs over its real steps
//! (`--pooling last` uses the final state), with dropout on embeddings and
//! summary. 10% of the training split picks the epoch to keep; the test split
//! is scored once. Writes
//! `out/sentiment/<dataset>-<model>/` (checkpoint, vocabulary, curves, confusion).

use clap::Parser;
use dl_core::data::WordClassData;
use dl_core::data::tokenizer::WordSplit;
use dl_core::task::evaluate;
use dl_core::train::{EarlyStopping, OptimizerKind, fit};
use dl_core::{Error, ModelConfig, Result};
use dl_examples::choices::{LstmKind, PoolingArg, TextDataset, TokensArg};
use dl_examples::cli::{CommonArgs, confusion_figure, run_each, run_example};
use dl_lstm::LstmConfig;
use dl_lstm::{HeadConfig, Pooling, SequenceModelConfig, SequenceTask, TokenSequence, TokenSequenceBatcher};
use serde_json::{Value, json};

#[derive(Parser)]
#[command(about = "LSTM and BiLSTM sentence classification")]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Datasets, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "rt-polarity,sms-spam")]
    dataset: Vec<TextDataset>,
    /// Models, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "lstm,bilstm")]
    models: Vec<LstmKind>,
    /// Word-embedding width.
    #[arg(long, default_value_t = 128)]
    embed_dim: usize,
    /// LSTM hidden width (per direction).
    #[arg(long, default_value_t = 128)]
    hidden: usize,
    /// Dropout on embeddings and on the sentence summary (default: 0.5 for
    /// rt-polarity, 0.2 for sms-spam, whose messages are short on signal words).
    #[arg(long)]
    dropout: Option<f64>,
    /// Summary of the outputs.
    #[arg(long, value_enum, default_value_t = PoolingArg::Max)]
    pooling: PoolingArg,
    /// Learning rate (AdamW).
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// AdamW weight decay.
    #[arg(long, default_value_t = 0.01)]
    weight_decay: f32,
    /// Longest text in tokens.
    #[arg(long, default_value_t = 100)]
    max_len: usize,
    /// Words seen fewer times in training map to `<unk>` (default: 1 for
    /// rt-polarity, 2 for SMS).
    #[arg(long)]
    min_freq: Option<usize>,
    /// Word rule: words (split on spaces and punctuation) or kim (Kim's
    /// English preprocessing first).
    #[arg(long, value_enum, default_value_t = TokensArg::Words)]
    tokens: TokensArg,
}

fn main() {
    let args = Args::parse();
    run_example(|| run_each("sentiment", &args.dataset, &args.models, |d, m| run(&args, d, m)));
}

fn run(args: &Args, dataset: TextDataset, model: LstmKind) -> Result<Value> {
    let c = &args.common;
    let (min_freq, default_dropout) = match dataset {
        TextDataset::SmsSpam => (2, 0.2),
        TextDataset::RtPolarity => (1, 0.5),
    };
    let (dataset, model_name) = (dataset.name(), model.name());
    let bidirectional = model.bidirectional();
    let pooling = Pooling::from(args.pooling);
    let dir = c.data_dirs().find(&dataset, &["train.tsv", "test.tsv"])?;
    let split = WordSplit::from(args.tokens);
    let WordClassData { tokenizer, labels, train, valid, test } =
        WordClassData::load(&dir, split, args.min_freq.unwrap_or(min_freq), 50_000, 0.1, c.seed)?;
    let items = |rows: Vec<(Vec<usize>, usize)>| -> Vec<TokenSequence> {
        rows.into_iter().map(|(ids, label)| TokenSequence { ids, label }).collect()
    };
    let (mut train, valid, test) = (items(train), items(valid), items(test));
    if c.quick {
        train.truncate(1_000);
    }

    let out = c.out_dir("sentiment")?.join(format!("{dataset}-{model_name}"));
    std::fs::create_dir_all(&out).map_err(|e| Error::io("creating", &out, e))?;
    tokenizer.save(out.join("vocab.json"))?;
    let mut cfg = c.train_config(10, Some(out.clone()));
    cfg.batch_size = 50;
    cfg.lr = args.lr;
    cfg.optimizer = OptimizerKind::AdamW { betas: (0.9, 0.999), weight_decay: args.weight_decay };
    cfg.grad_clip_norm = Some(5.0);
    cfg.early_stopping = Some(EarlyStopping { patience: 3, min_delta: 0.0 });
    let device = c.device()?.autodiff();
    device.seed(c.seed);
    let config = SequenceModelConfig {
        encoder: LstmConfig::new(args.embed_dim, args.hidden).with_bidirectional(bidirectional),
        head: HeadConfig::new(SequenceTask::Classify { classes: labels.len() })
            .with_vocab_size(Some(tokenizer.vocab_size()))
            .with_pooling(pooling)
            .with_dropout(args.dropout.unwrap_or(default_dropout)),
    };
    let model = config.init(&device)?;
    let batcher = TokenSequenceBatcher { pad_id: 0, max_len: args.max_len };
    eprintln!("[{dataset}] {model_name}: {} train, {} valid, {} test", train.len(), valid.len(), test.len());
    let start = std::time::Instant::now();
    let report = fit(model, &train, Some(&valid), &batcher, &cfg, &device)?;
    dl_core::checkpoint::save_model(&config, &report.model, out.join("model"))?;
    let eval = evaluate(&report.model, &test, &batcher, 256, &device)?;
    let cm = confusion_figure(&out, &eval, &labels)?;
    let acc = eval.accuracy().unwrap_or(f64::NAN);
    eprintln!("[{dataset}] {model_name}: test accuracy {:.2}%", 100.0 * acc);
    Ok(json!({
        "dataset": dataset,
        "model": model_name,
        "test_accuracy": acc,
        "dropout": args.dropout.unwrap_or(default_dropout),
        "test_macro_f1": cm.macro_f1(),
        "valid_accuracy": report.valid.as_ref().and_then(|v| v.accuracy()),
        "best_epoch": report.best_epoch,
        "epochs": report.history.epochs.len(),
        "tokens": format!("{split:?}").to_lowercase(),
        "vocab_size": tokenizer.vocab_size(),
        "seconds": start.elapsed().as_secs_f64(),
    }))
}
