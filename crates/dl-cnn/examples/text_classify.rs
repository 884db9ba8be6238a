//! Text classification with TextCNN (Kim 2014, CNN-rand): SMS spam filtering
//! and movie-review sentiment (rt-polarity).
//!
//! `cargo run -p dl-cnn --release --example text_classify -- --dataset sms-spam|rt-polarity [--epochs N]`
//!
//! Words are lower-cased and split on whitespace and punctuation (for
//! rt-polarity after Kim's English preprocessing, which cuts `n't` and `'s`
//! from their words: `--tokens kim`); the vocabulary comes from the training
//! split only (min frequency 1 for rt-polarity, 2 for SMS), unknown words map
//! to `<unk>`. 10% of the training
//! split is held out for early model selection; the test split is scored once
//! at the end. Writes `out/text_classify-<dataset>/` (checkpoint, vocabulary,
//! label names, `metrics.csv`, curves, `confusion.png`).

use clap::Parser;
use dl_cnn::{TextBatcher, TextCnnConfig, TextItem};
use dl_core::data::WordClassData;
use dl_core::data::tokenizer::WordSplit;
use dl_core::task::evaluate;
use dl_core::train::{EarlyStopping, OptimizerKind, fit};
use dl_core::{Error, ModelConfig, Result};
use dl_examples::choices::{TextDataset, TokensArg};
use dl_examples::cli::{CommonArgs, run_example};
use serde_json::json;

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// The dataset.
    #[arg(long, value_enum, default_value_t = TextDataset::SmsSpam)]
    dataset: TextDataset,
    /// Longest text in tokens (longer ones are truncated).
    #[arg(long, default_value_t = 100)]
    max_len: usize,
    /// Word-embedding width.
    #[arg(long, default_value_t = 128)]
    embed_dim: usize,
    /// Decoupled weight decay (AdamW); 0 = Adam.
    #[arg(long, default_value_t = 0.0)]
    weight_decay: f32,
    /// The optimizer.
    #[arg(long, value_enum, default_value_t = Optimizer::Adam)]
    optimizer: Optimizer,
    /// Learning rate.
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Kim's wide convolution (zero vectors at the edges and for padding).
    #[arg(long)]
    wide: bool,
    /// Kim's max-norm constraint on the classifier's class vectors (he used 3).
    #[arg(long)]
    max_norm: Option<f64>,
    /// Dropout before the classifier.
    #[arg(long, default_value_t = 0.5)]
    dropout: f64,
    /// Words seen fewer times in training map to `<unk>` (default: 1 for
    /// rt-polarity, 2 for SMS).
    #[arg(long)]
    min_freq: Option<usize>,
    /// Word rule: words (split on spaces and punctuation) or kim (Kim's
    /// English preprocessing first). Default: kim for rt-polarity, words for SMS.
    #[arg(long)]
    #[arg(long, value_enum)]
    tokens: Option<TokensArg>,
}

/// The optimizers this example offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Optimizer {
    /// Adam, or AdamW with `--weight-decay`.
    Adam,
    /// Kim's Adadelta (rho 0.95, epsilon 1e-6; use `--lr 1`).
    Adadelta,
}

fn main() {
    let args = Args::parse();
    run_example(|| run(&args));
}

fn run(args: &Args) -> Result<serde_json::Value> {
    let c = &args.common;
    let dataset = args.dataset.name();
    let (default_min_freq, default_split) = match args.dataset {
        TextDataset::SmsSpam => (2, WordSplit::Words),
        TextDataset::RtPolarity => (1, WordSplit::Kim),
    };
    let dir = c.data_dirs().find(&dataset, &["train.tsv", "test.tsv"])?;
    let split = args.tokens.map_or(default_split, WordSplit::from);
    let WordClassData { tokenizer, labels, train, valid, test } =
        WordClassData::load(&dir, split, args.min_freq.unwrap_or(default_min_freq), 50_000, 0.1, c.seed)?;
    let items = |rows: Vec<(Vec<usize>, usize)>| -> Vec<TextItem> {
        rows.into_iter().map(|(ids, label)| TextItem { ids, label }).collect()
    };
    let (mut train, valid, test) = (items(train), items(valid), items(test));
    if c.quick {
        train.truncate(1_000);
    }

    let out = c.out_dir(&format!("text_classify-{dataset}"))?;
    tokenizer.save(out.join("vocab.json"))?;
    dl_core::config::save_json(&labels, out.join("labels.json"))?;
    let mut cfg = c.train_config(10, Some(out.clone()));
    cfg.batch_size = 50;
    cfg.lr = args.lr;
    cfg.optimizer = match args.optimizer {
        Optimizer::Adam if args.weight_decay > 0.0 => {
            OptimizerKind::AdamW { betas: (0.9, 0.999), weight_decay: args.weight_decay }
        }
        Optimizer::Adam => OptimizerKind::adam(),
        Optimizer::Adadelta => OptimizerKind::Adadelta { rho: 0.95, epsilon: 1e-6 },
    };
    cfg.early_stopping = Some(EarlyStopping { patience: 3, min_delta: 0.0 });
    let device = c.device()?.autodiff();
    device.seed(c.seed);
    let config = TextCnnConfig::new(tokenizer.vocab_size(), labels.len())
        .with_embed_dim(args.embed_dim)
        .with_wide(args.wide)
        .with_pad_id(dl_core::data::tokenizer::PAD_ID)
        .with_max_norm(args.max_norm)
        .with_dropout(args.dropout);
    let model = config.init(&device)?;
    let batcher = TextBatcher { pad_id: 0, min_len: model.min_len(), max_len: args.max_len };
    let start = std::time::Instant::now();
    let report = fit(model, &train, Some(&valid), &batcher, &cfg, &device)?;
    dl_core::checkpoint::save_model(&config, &report.model, out.join("model"))?;
    let eval = evaluate(&report.model, &test, &batcher, 256, &device)?;
    let cm = eval.confusion.as_ref().ok_or_else(|| Error::Invalid("no confusion matrix".into()))?;
    let names: Vec<String> = (0..labels.len()).map(|i| labels.name(i).unwrap_or("?").to_string()).collect();
    dl_core::plot::heatmap_png(
        &out.join("confusion.png"),
        &cm.normalized(),
        labels.len(),
        labels.len(),
        60,
        Some(&names),
        Some(&names),
    )?;
    let per_class: serde_json::Map<String, serde_json::Value> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let s = cm.scores(i);
            (n.clone(), json!({"precision": s.precision, "recall": s.recall, "f1": s.f1, "support": s.support}))
        })
        .collect();
    Ok(json!({
        "example": "text_classify",
        "dataset": dataset,
        "device": c.device_spec()?.to_string(),
        "tokens": format!("{split:?}").to_lowercase(),
        "vocab_size": tokenizer.vocab_size(),
        "train_examples": train.len(),
        "valid_examples": valid.len(),
        "test_examples": test.len(),
        "test_accuracy": eval.accuracy(),
        "test_macro_f1": cm.macro_f1(),
        "per_class": per_class,
        "epochs": report.history.epochs.len(),
        "best_epoch": report.best_epoch,
        "seconds": start.elapsed().as_secs_f64(),
        "out": out.display().to_string(),
    }))
}
