//! Text classification with BERT: fine-tuning the pretrained all-MiniLM-L6-v2
//! (6 layers, width 384) against a small BERT of the same shape family
//! trained from scratch, on rt-polarity (sentiment) and SMS spam.
//!
//! `cargo run -p dl-transformer --release --example bert_classify -- [--dataset rt-polarity] [--models minilm,scratch]`
//!
//! Both models read the WordPiece ids of the checkpoint's `tokenizer.json`,
//! mean-pool the final states over real tokens and classify them. 10% of the
//! training split is held out for validation (the weights of the best epoch
//! are kept); accuracy is on the test split. Writes `out/bert_classify/`.

use std::path::PathBuf;

use burn::module::Module;
use clap::Parser;
use dl_core::data::split::train_valid_split;
use dl_core::data::text::{LabelSet, read_labeled_tsv};
use dl_core::task::evaluate;
use dl_core::train::{LrSchedule, OptimizerKind, fit};
use dl_core::{ModelConfig, Result};
use dl_examples::choices::{TextDataset, choice_name};
use dl_examples::cli::{CommonArgs, confusion_figure, run_each, run_example};
use dl_seq::{TokenSequence, TokenSequenceBatcher};
use dl_transformer::hf::{bert_from_dir, checkpoint_dir};
use dl_transformer::models::bert::{BertClassifier, BertPooling};
use dl_transformer::tokenizer::HfTokenizer;
use dl_transformer::{BertClassifierConfig, BertConfig};
use serde_json::{Value, json};

/// The BERTs this example fine-tunes or trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Model {
    /// all-MiniLM-L6-v2, pretrained.
    Minilm,
    /// MiniLM's vocabulary, 4 layers of width 256, from scratch.
    Scratch,
}

#[derive(Parser)]
#[command(about = "Fine-tune all-MiniLM-L6-v2 (and a BERT from scratch) for text classification")]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Datasets, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "rt-polarity,sms-spam")]
    dataset: Vec<TextDataset>,
    /// Models, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "minilm,scratch")]
    models: Vec<Model>,
    /// The pretrained checkpoint folder (default: `<shared>/models/all-MiniLM-L6-v2`).
    #[arg(long)]
    model_dir: Option<PathBuf>,
    /// Longest input in WordPiece tokens.
    #[arg(long, default_value_t = 64)]
    max_len: usize,
    /// Batch size.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
}

fn main() {
    let args = Args::parse();
    run_example(|| run_each("bert_classify", &args.dataset, &args.models, |d, m| run(&args, d, m)));
}

fn run(args: &Args, dataset: TextDataset, kind: Model) -> Result<Value> {
    let c = &args.common;
    let (dataset, model_name) = (dataset.name(), choice_name(&kind));
    let mdir = checkpoint_dir(args.model_dir.as_deref(), &c.data_dirs(), "all-MiniLM-L6-v2")?;
    let tokenizer = HfTokenizer::from_file(mdir.join("tokenizer.json"), Some(args.max_len))?;
    let dir = c.data_dirs().find(&dataset, &["train.tsv", "test.tsv"])?;
    let train_rows = read_labeled_tsv(dir.join("train.tsv"))?;
    let test_rows = read_labeled_tsv(dir.join("test.tsv"))?;
    let labels = LabelSet::from_labels(train_rows.iter().map(|(l, _)| l.as_str()));
    let encode = |rows: &[(String, String)]| -> Result<Vec<TokenSequence>> {
        rows.iter().map(|(l, t)| Ok(TokenSequence { ids: tokenizer.encode(t, true)?, label: labels.id(l)? })).collect()
    };
    let all_train = encode(&train_rows)?;
    let mut test = encode(&test_rows)?;
    let (tr_idx, va_idx) = train_valid_split(all_train.len(), 0.1, c.seed)?;
    let mut train: Vec<TokenSequence> = tr_idx.iter().map(|&i| all_train[i].clone()).collect();
    let mut valid: Vec<TokenSequence> = va_idx.iter().map(|&i| all_train[i].clone()).collect();
    if c.quick {
        train.truncate(256);
        valid.truncate(128);
        test.truncate(256);
    }
    let device = c.device()?;
    let ad = device.clone().autodiff();
    let (pretrained, bert_cfg) = match kind {
        Model::Minilm => {
            let (cfg, bert) = bert_from_dir(&mdir, &ad)?;
            (Some(bert), cfg)
        }
        // The scratch model: MiniLM's vocabulary and tokenizer, 4 layers of width 256.
        Model::Scratch => (None, BertConfig::new(tokenizer.vocab_size(), 256, 4, 4, 1024)),
    };
    let config = BertClassifierConfig::new(bert_cfg.with_dropout(0.1), labels.len()).with_pooling(BertPooling::Mean);
    let model: BertClassifier = match pretrained {
        Some(bert) => {
            config.validate()?;
            BertClassifier::new(bert, &config, &ad)
        }
        None => config.init(&ad)?,
    };
    let out = c.out_dir(&format!("bert_classify/{dataset}-{model_name}"))?;
    let mut cfg = c.train_config(if kind == Model::Minilm { 3 } else { 6 }, Some(out.clone()));
    cfg.batch_size = args.batch_size;
    cfg.lr = if kind == Model::Minilm { 3e-5 } else { 3e-4 };
    cfg.optimizer = OptimizerKind::AdamW { betas: (0.9, 0.999), weight_decay: 0.01 };
    cfg.schedule = LrSchedule::Cosine { min_lr: cfg.lr / 10.0 };
    cfg.warmup_steps = (train.len() / args.batch_size / 10).max(1);
    cfg.grad_clip_norm = Some(1.0);
    cfg.restore_best = true;
    eprintln!(
        "{dataset} / {model_name}: {} parameters; {} train / {} valid / {} test",
        model.num_params(),
        train.len(),
        valid.len(),
        test.len()
    );
    let batcher = TokenSequenceBatcher { pad_id: bert_cfg_pad(&config), max_len: args.max_len };
    let start = std::time::Instant::now();
    let report = fit(model, &train, Some(&valid), &batcher, &cfg, &ad)?;
    let seconds = start.elapsed().as_secs_f64();
    let model = report.model.valid().to_device(&device);
    let eval = evaluate(&model, &test, &batcher, 64, &device)?;
    let accuracy = eval.accuracy().unwrap_or(0.0);
    let cm = confusion_figure(&out, &eval, &labels)?;
    eprintln!("{dataset} / {model_name}: test accuracy {:.2}%", 100.0 * accuracy);
    Ok(json!({
        "dataset": dataset,
        "model": model_name,
        "test_accuracy": accuracy,
        "test_macro_f1": cm.macro_f1(),
        "test_examples": test.len(),
        "best_epoch": report.best_epoch,
        "epochs": report.history.epochs.len(),
        "params": model.num_params(),
        "train_seconds": seconds,
    }))
}

fn bert_cfg_pad(config: &BertClassifierConfig) -> usize {
    config.bert.pad_token_id
}
