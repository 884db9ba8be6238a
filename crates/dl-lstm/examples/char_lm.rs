//! A character-level LSTM language model on tinyshakespeare (Karpathy's
//! char-rnn task): validation loss in nats per character, and a generated
//! sample.
//!
//! `cargo run -p dl-lstm --release --example char_lm -- [--epochs 10] [--temperature 0.8]`
//!
//! The text is split 90% / 10% (train / validation, as nanoGPT); the model
//! reads windows of `--seq-len` characters and predicts each next character
//! (a tagging head over the vocabulary). Writes `out/char_lm/` (checkpoint,
//! vocabulary, `metrics.csv`, `loss.png`, `sample.txt`).

use burn::tensor::{Int, Tensor, TensorData};
use clap::Parser;
use dl_core::data::split::SplitRng;
use dl_core::data::text::read_text;
use dl_core::data::tokenizer::CharTokenizer;
use dl_core::sampling::Sampling;
use dl_core::task::{evaluate, to_f32};
use dl_core::train::{LrSchedule, fit};
use dl_core::{Error, ModelConfig};
use dl_examples::cli::{CommonArgs, run_example};
use dl_lstm::LstmConfig;
use dl_lstm::{HeadConfig, NextTokenBatcher, SequenceModelConfig, SequenceTask};
use serde_json::json;

#[derive(Parser)]
#[command(about = "Character-level LSTM language model on tinyshakespeare")]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Characters per training window.
    #[arg(long, default_value_t = 100)]
    seq_len: usize,
    /// Character embedding width.
    #[arg(long, default_value_t = 64)]
    embed_dim: usize,
    /// LSTM hidden width.
    #[arg(long, default_value_t = 256)]
    hidden: usize,
    /// LSTM layers.
    #[arg(long, default_value_t = 1)]
    layers: usize,
    /// Batch size.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Batches per epoch (each epoch sees a shuffled subset of the windows).
    #[arg(long, default_value_t = 300)]
    batches_per_epoch: usize,
    /// Sampling temperature of the generated text.
    #[arg(long, default_value_t = 0.8)]
    temperature: f32,
    /// Characters to generate.
    #[arg(long, default_value_t = 500)]
    sample_len: usize,
    /// Text the sample starts from.
    #[arg(long, default_value = "ROMEO:\n")]
    prompt: String,
}

fn main() {
    let args = Args::parse();
    run_example(|| {
        let c = &args.common;
        let dir = c.data_dirs().find("tinyshakespeare", &["input.txt"])?;
        let text = read_text(dir.join("input.txt"))?;
        let chars: Vec<char> = text.chars().collect();
        let split = chars.len() * 9 / 10;
        let train_text: String = chars[..split].iter().collect();
        let valid_text: String = chars[split..].iter().collect();
        let tokenizer = CharTokenizer::fit([train_text.as_str()], 1, 1_000)?;
        let windows =
            |ids: &[usize]| -> Vec<Vec<usize>> { ids.chunks_exact(args.seq_len + 1).map(<[usize]>::to_vec).collect() };
        let train = windows(&tokenizer.encode(&train_text));
        let mut valid = windows(&tokenizer.encode(&valid_text));
        if c.quick {
            valid.truncate(64);
        }
        let out = c.out_dir("char_lm")?;
        tokenizer.save(out.join("vocab.json"))?;

        let vocab = tokenizer.vocab_size();
        let config = SequenceModelConfig {
            encoder: LstmConfig::new(args.embed_dim, args.hidden).with_num_layers(args.layers),
            head: HeadConfig::new(SequenceTask::Tag { classes: vocab }).with_vocab_size(Some(vocab)),
        };
        let device = c.device()?;
        let ad = device.clone().autodiff();
        let model = config.init(&ad)?;
        let mut cfg = c.train_config(10, Some(out.clone()));
        cfg.batch_size = args.batch_size;
        cfg.lr = 2e-3;
        cfg.grad_clip_norm = Some(5.0);
        cfg.schedule = LrSchedule::Cosine { min_lr: 1e-4 };
        cfg.max_batches_per_epoch = Some(if c.quick { 20 } else { args.batches_per_epoch });
        eprintln!("{} train windows of {} chars, {} valid, vocabulary {vocab}", train.len(), args.seq_len, valid.len());
        let start = std::time::Instant::now();
        let report = fit(model, &train, Some(&valid), &NextTokenBatcher, &cfg, &ad)?;
        let seconds = start.elapsed().as_secs_f64();
        dl_core::checkpoint::save_model(&config, &report.model, out.join("model"))?;
        let eval = evaluate(&report.model, &valid, &NextTokenBatcher, 64, &device)?;

        // Generate: feed the prompt, then one sampled character at a time, carrying the state.
        let model = burn::module::Module::valid(&report.model);
        let model = burn::module::Module::to_device(model, &device);
        let sampling = Sampling::temperature(args.temperature);
        let mut rng = SplitRng::new(c.seed);
        let prompt = tokenizer.encode_strict(&args.prompt)?;
        if prompt.is_empty() {
            return Err(Error::empty("--prompt"));
        }
        let ids = |v: &[usize]| {
            Tensor::<2, Int>::from_data(TensorData::new(v.iter().map(|&i| i as i64).collect(), [1, v.len()]), &device)
        };
        let (mut logits, mut state) = model.step_tokens(ids(&prompt), None)?;
        let mut generated = prompt.clone();
        for _ in 0..args.sample_len {
            let t = logits.dims()[1];
            let last = to_f32(logits.slice([0..1, t - 1..t, 0..vocab]))?;
            let next = sampling.pick(&last, &mut rng)?;
            generated.push(next);
            let (l, s) = model.step_tokens(ids(&[next]), Some(state))?;
            logits = l;
            state = s;
        }
        let sample = tokenizer.decode(&generated)?;
        std::fs::write(out.join("sample.txt"), &sample).map_err(|e| Error::io("writing", out.join("sample.txt"), e))?;
        eprintln!("--- sample (temperature {}) ---\n{sample}\n---", args.temperature);
        Ok(json!({
            "example": "char_lm",
            "valid_loss_nats_per_char": eval.loss,
            "valid_bits_per_char": eval.loss / std::f64::consts::LN_2,
            "valid_char_accuracy": eval.accuracy(),
            "epochs": report.history.epochs.len(),
            "batches_per_epoch": cfg.max_batches_per_epoch,
            "seconds": seconds,
            "params": burn::module::Module::num_params(&model),
            "sample_head": sample.chars().take(200).collect::<String>(),
        }))
    });
}
