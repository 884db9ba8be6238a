//! English -> French translation with the encoder-decoder Transformer
//! (Vaswani et al. 2017), on the Tatoeba fra-eng pairs: the data, split,
//! length limit and BLEU of the recurrent family's `translate` (dl-lstm), so
//! the two figures compare.
//!
//! `cargo run -p dl-transformer --release --example transformer_translate -- [--epochs 4] [--train-size 60000]`
//!
//! Pairs whose English and French sides have at most 10 words each are kept;
//! vocabularies (at most `--vocab` words each) come from the training pairs.
//! Scores: corpus BLEU-4 on the test split with greedy decoding (KV cache),
//! and greedy vs beam search on the first `--beam-sentences` test pairs.
//! Writes `out/transformer_translate/` (checkpoint, vocabularies, curves,
//! `attention_<i>.png`: the last decoder layer's cross-attention, averaged over heads).

use clap::Parser;
use dl_core::ModelConfig;
use dl_core::train::{EarlyStopping, LrSchedule, fit};
use dl_examples::cli::{CommonArgs, run_example};
use dl_examples::translation::{TranslateArgs, TranslationData, merge_json, score_translations};
use dl_transformer::TransformerSeq2SeqConfig;
use serde_json::json;

#[derive(Parser)]
#[command(about = "Encoder-decoder Transformer: English to French")]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    task: TranslateArgs,
    /// Model width.
    #[arg(long, default_value_t = 128)]
    d_model: usize,
    /// Attention heads.
    #[arg(long, default_value_t = 4)]
    heads: usize,
    /// Feed-forward width.
    #[arg(long, default_value_t = 512)]
    d_ff: usize,
    /// Encoder and decoder layers (each).
    #[arg(long, default_value_t = 3)]
    layers: usize,
    /// Dropout.
    #[arg(long, default_value_t = 0.1)]
    dropout: f64,
    /// Peak learning rate (linear warm-up, cosine decay).
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
}

fn main() {
    let args = Args::parse();
    run_example(|| {
        let c = &args.common;
        let data = TranslationData::load(c, &args.task)?;
        let out = c.out_dir("transformer_translate")?;
        data.save_vocabularies(&out)?;
        let config = TransformerSeq2SeqConfig::new(data.en.vocab_size(), data.fr.vocab_size())
            .with_d_model(args.d_model)
            .with_n_heads(args.heads)
            .with_d_ff(args.d_ff)
            .with_encoder_layers(args.layers)
            .with_decoder_layers(args.layers)
            .with_dropout(args.dropout)
            .with_max_len(64);
        let device = c.device()?;
        let ad = device.clone().autodiff();
        let model = config.init(&ad)?;
        let mut cfg = c.train_config(4, Some(out.clone()));
        cfg.batch_size = 64;
        cfg.lr = args.lr;
        cfg.grad_clip_norm = Some(1.0);
        cfg.schedule = LrSchedule::Cosine { min_lr: args.lr / 20.0 };
        cfg.warmup_steps = 400;
        cfg.early_stopping = Some(EarlyStopping { patience: 2, min_delta: 0.0 });
        let start = std::time::Instant::now();
        let report = fit(model, &data.train, Some(&data.valid), &data.batcher(), &cfg, &ad)?;
        let train_seconds = start.elapsed().as_secs_f64();
        dl_core::checkpoint::save_model(&config, &report.model, out.join("model"))?;
        let model = burn::module::Module::to_device(burn::module::Module::valid(&report.model), &device);
        let scores = score_translations(&model, &data, &args.task, c.quick, &out, &device)?;
        Ok(merge_json(
            json!({
                "example": "transformer_translate",
                "params": burn::module::Module::num_params(&model),
                "valid_loss": report.valid.as_ref().map(|v| v.loss),
                "epochs": report.history.epochs.len(),
                "train_seconds": train_seconds,
            }),
            scores,
        ))
    });
}
