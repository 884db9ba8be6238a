//! LSTM and BiLSTM sentence classifiers over pretrained word vectors (the
//! static WordPiece embedding table of all-MiniLM-L6-v2, frozen by default):
//! dl-transformer reads the checkpoint and tokenizer, dl-lstm does the rest.
//! docs/lstm.md explains the choices and the measured results.
//!
//! `cargo run --release --example sentiment_pretrained -- [--dataset rt-polarity] [--models lstm,bilstm]`
//! writes `out/sentiment_pretrained/<dataset>-<model>/`.

use std::collections::BTreeSet;
use std::path::PathBuf;

use burn::module::{Module, Param};
use burn::tensor::{Int, Tensor, TensorData};
use clap::Parser;
use dl_core::data::split::train_valid_split;
use dl_core::data::text::{LabelSet, read_labeled_tsv};
use dl_core::task::evaluate;
use dl_core::train::{EarlyStopping, OptimizerKind, fit};
use dl_core::{Error, ModelConfig, Result};
use dl_examples::choices::{LstmKind, PoolingArg, TextDataset};
use dl_examples::cli::{CommonArgs, confusion_figure, run_each, run_example};
use dl_lstm::LstmConfig;
use dl_seq::{HeadConfig, Pooling, SequenceModelConfig, SequenceTask, TokenSequence, TokenSequenceBatcher};
use dl_transformer::hf::{bert_from_dir, checkpoint_dir};
use dl_transformer::tokenizer::HfTokenizer;
use serde_json::{Value, json};

#[derive(Parser)]
#[command(about = "LSTM and BiLSTM over all-MiniLM-L6-v2's pretrained word-piece vectors")]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Datasets, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "rt-polarity")]
    dataset: Vec<TextDataset>,
    /// Models, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "lstm,bilstm")]
    models: Vec<LstmKind>,
    /// The checkpoint folder (config.json, model.safetensors, tokenizer.json);
    /// default: `models/all-MiniLM-L6-v2` beside the data folder.
    #[arg(long)]
    model_dir: Option<PathBuf>,
    /// LSTM hidden width (per direction).
    #[arg(long, default_value_t = 100)]
    hidden: usize,
    /// Dropout on the embeddings and on the sentence summary.
    #[arg(long, default_value_t = 0.5)]
    dropout: f64,
    /// Summary of the outputs.
    #[arg(long, value_enum, default_value_t = PoolingArg::Max)]
    pooling: PoolingArg,
    /// Learning rate (AdamW).
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// AdamW weight decay.
    #[arg(long, default_value_t = 0.01)]
    weight_decay: f32,
    /// Longest text in pieces.
    #[arg(long, default_value_t = 100)]
    max_len: usize,
    /// Train the pretrained vectors too (default: frozen).
    #[arg(long)]
    tune_embeddings: bool,
}

fn main() {
    let args = Args::parse();
    run_example(|| run_each("sentiment_pretrained", &args.dataset, &args.models, |d, m| run(&args, d, m)));
}

fn run(args: &Args, dataset: TextDataset, model: LstmKind) -> Result<Value> {
    let c = &args.common;
    let (dataset, model_name) = (dataset.name(), model.name());
    let bidirectional = model.bidirectional();
    let pooling = Pooling::from(args.pooling);
    let mdir = checkpoint_dir(args.model_dir.as_deref(), &c.data_dirs(), "all-MiniLM-L6-v2")?;
    let tokenizer = HfTokenizer::from_file(mdir.join("tokenizer.json"), Some(args.max_len))?;
    let dir = c.data_dirs().find(&dataset, &["train.tsv", "test.tsv"])?;
    let train_rows = read_labeled_tsv(dir.join("train.tsv"))?;
    let test_rows = read_labeled_tsv(dir.join("test.tsv"))?;
    let labels = LabelSet::from_labels(train_rows.iter().map(|(l, _)| l.as_str()));
    let encode = |rows: &[(String, String)]| -> Result<Vec<(Vec<usize>, usize)>> {
        rows.iter().map(|(l, t)| Ok((tokenizer.encode(t, false)?, labels.id(l)?))).collect()
    };
    let (train_pieces, test_pieces) = (encode(&train_rows)?, encode(&test_rows)?);

    // Cut the table to the pieces in use; row 0 is BERT's [PAD] (id 0), the batchers' padding.
    let used: BTreeSet<usize> = std::iter::once(0)
        .chain(train_pieces.iter().chain(&test_pieces).flat_map(|(ids, _)| ids.iter().copied()))
        .collect();
    let pieces: Vec<usize> = used.into_iter().collect();
    let row_of: std::collections::HashMap<usize, usize> = pieces.iter().enumerate().map(|(r, &p)| (p, r)).collect();
    let to_items = |rows: Vec<(Vec<usize>, usize)>| -> Vec<TokenSequence> {
        rows.into_iter()
            .map(|(ids, label)| TokenSequence { ids: ids.iter().map(|p| row_of[p]).collect(), label })
            .collect()
    };
    let all_train = to_items(train_pieces);
    let mut test = to_items(test_pieces);
    let (tr_idx, va_idx) = train_valid_split(all_train.len(), 0.1, c.seed)?;
    let mut train: Vec<TokenSequence> = tr_idx.iter().map(|&i| all_train[i].clone()).collect();
    let valid: Vec<TokenSequence> = va_idx.iter().map(|&i| all_train[i].clone()).collect();
    if c.quick {
        train.truncate(1_000);
        test.truncate(500);
    }

    let device = c.device()?;
    let (_, bert) = bert_from_dir(&mdir, &device)?;
    let full = bert.word_embeddings.weight.val();
    let [vocab, width] = full.dims();
    if let Some(&p) = pieces.iter().find(|&&p| p >= vocab) {
        return Err(Error::out_of_range("tokenizer piece", p, format!("< {vocab} (the checkpoint's embeddings)")));
    }
    let idx: Vec<i64> = pieces.iter().map(|&p| p as i64).collect();
    let table = full.select(0, Tensor::<1, Int>::from_data(TensorData::new(idx, [pieces.len()]), &device));
    let std = table.clone().var(0).mean().sqrt().into_scalar::<f32>();
    let table = table.div_scalar(std);
    let table_data = table.into_data();

    let out = c.out_dir("sentiment_pretrained")?.join(format!("{dataset}-{model_name}"));
    std::fs::create_dir_all(&out).map_err(|e| Error::io("creating", &out, e))?;
    let pieces_path = out.join("pieces.json");
    std::fs::write(&pieces_path, serde_json::to_string(&pieces).map_err(|e| Error::Invalid(e.to_string()))?)
        .map_err(|e| Error::io("writing", &pieces_path, e))?;
    let mut cfg = c.train_config(10, Some(out.clone()));
    cfg.batch_size = 50;
    cfg.lr = args.lr;
    cfg.optimizer = OptimizerKind::AdamW { betas: (0.9, 0.999), weight_decay: args.weight_decay };
    cfg.grad_clip_norm = Some(5.0);
    cfg.early_stopping = Some(EarlyStopping { patience: 3, min_delta: 0.0 });
    let ad = device.clone().autodiff();
    ad.seed(c.seed);
    let config = SequenceModelConfig {
        encoder: LstmConfig::new(width, args.hidden).with_bidirectional(bidirectional),
        head: HeadConfig::new(SequenceTask::Classify { classes: labels.len() })
            .with_vocab_size(Some(pieces.len()))
            .with_pooling(pooling)
            .with_dropout(args.dropout),
    };
    let mut model = config.init(&ad)?;
    // The head built a token embedding of the cut vocabulary; its weight becomes the pretrained table.
    let mut embedding =
        model.embedding.take().ok_or_else(|| Error::Invalid("the classifier has no embedding".into()))?;
    embedding.weight = Param::from_tensor(Tensor::from_data(table_data, &ad));
    model.embedding = Some(if args.tune_embeddings { embedding } else { embedding.freeze() });

    let batcher = TokenSequenceBatcher { pad_id: 0, max_len: args.max_len };
    eprintln!(
        "[{dataset}] {model_name}: {} train, {} valid, {} test; {} of {vocab} pieces in use, table std {std:.4}",
        train.len(),
        valid.len(),
        test.len(),
        pieces.len()
    );
    let start = std::time::Instant::now();
    let report = fit(model, &train, Some(&valid), &batcher, &cfg, &ad)?;
    dl_core::checkpoint::save_model(&config, &report.model, out.join("model"))?;
    let eval = evaluate(&report.model, &test, &batcher, 256, &ad)?;
    let cm = confusion_figure(&out, &eval, &labels)?;
    let acc = eval.accuracy().unwrap_or(f64::NAN);
    eprintln!("[{dataset}] {model_name}: test accuracy {:.2}%", 100.0 * acc);
    Ok(json!({
        "dataset": dataset,
        "model": model_name,
        "embeddings": if args.tune_embeddings { "all-MiniLM-L6-v2, tuned" } else { "all-MiniLM-L6-v2, frozen" },
        "test_accuracy": acc,
        "test_macro_f1": cm.macro_f1(),
        "valid_accuracy": report.valid.as_ref().and_then(|v| v.accuracy()),
        "best_epoch": report.best_epoch,
        "epochs": report.history.epochs.len(),
        "pieces": pieces.len(),
        "seconds": start.elapsed().as_secs_f64(),
    }))
}
