//! Benchmark runner: times the workloads of `shared/bench/WORKLOADS.md` and
//! prints one JSON line per metric, the same lines as PyTorch's `torch_ref.py`,
//! so `compare.py torch.jsonl project.jsonl` gives the ratio.
//!
//! `cargo run --release -p dl-bench -- --device flex [--quick] [--only cnn]`
//!
//! Protocol (as torch_ref.py): random f32 inputs, a warm-up phase, then the
//! mean over the timed iterations; a training step is forward + loss +
//! backward + optimizer update; inference runs without autodiff. Each timed
//! step ends by reading a value back, so asynchronous backends are measured
//! to completion.

use std::time::Instant;

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Distribution, Int, Tensor};
use clap::Parser;
use dl_cnn::{ImageClassifier, LeNet5Config};
use dl_core::train::OptimizerKind;
use dl_core::{ModelConfig, Result, StepOutput};
use dl_gan::{DcganConfig, Discriminator, GanLoss, Generator};
use dl_lstm::LstmConfig;
use dl_rnn::RnnConfig;
use dl_seq::SequenceEncoder;
use dl_seq::{HeadConfig, SequenceInput, SequenceModelConfig, SequenceTask};
use dl_transformer::ffn::Activation;
use dl_transformer::{GenerateConfig, GptConfig, generate};
use serde_json::json;

#[derive(Parser)]
#[command(about = "Time the dl-families benchmark workloads")]
struct Args {
    /// Device: flex (default), ndarray, wgpu, wgpu:N, cuda or cuda:N.
    #[arg(long)]
    device: Option<String>,
    /// Fewer iterations (1 warm-up, 3 timed).
    #[arg(long)]
    quick: bool,
    /// Only this workload (cnn, rnn, lstm, gan, gpt).
    #[arg(long)]
    only: Option<String>,
}

/// Workloads this runner implements (the other families add theirs here).
const WORKLOADS: [&str; 5] = ["cnn", "rnn", "lstm", "gan", "gpt"];

fn timed(mut step: impl FnMut() -> Result<()>, warmup: usize, iters: usize) -> Result<f64> {
    for _ in 0..warmup {
        step()?;
    }
    let t = Instant::now();
    for _ in 0..iters {
        step()?;
    }
    Ok(t.elapsed().as_secs_f64() / iters as f64)
}

fn emit(workload: &str, metric: &str, value: f64, unit: &str, device: &str) {
    let v = json!({"impl": "dl-families", "workload": workload, "metric": metric,
                   "value": (value * 1000.0).round() / 1000.0, "unit": unit, "device": device});
    println!("{v}");
}

fn cnn(device: &Device, name: &str, warmup: usize, iters: usize) -> Result<()> {
    let ad = device.clone().autodiff();
    ad.seed(0);
    let mut model = LeNet5Config::new().init(&ad)?;
    let mut optim = OptimizerKind::adam().init(None);
    let x = Tensor::<4>::random([64, 1, 28, 28], Distribution::Normal(0.0, 1.0), &ad);
    let y = Tensor::<1, Int>::random([64], Distribution::Uniform(0.0, 10.0), &ad);
    let dt = timed(
        || {
            let out = StepOutput::classification(model.forward(x.clone()), y.clone());
            let grads = GradientsParams::from_grads(out.loss.backward(), &model);
            model = optim.step(1e-3, model.clone(), grads);
            let _ = out.loss.into_scalar::<f32>();
            Ok(())
        },
        warmup,
        iters,
    )?;
    emit("cnn", "train_samples_per_s", 64.0 / dt, "samples/s", name);

    let m = LeNet5Config::new().init(device)?;
    let xi = Tensor::<4>::random([256, 1, 28, 28], Distribution::Normal(0.0, 1.0), device);
    let dt = timed(
        || {
            let _ = m.forward(xi.clone()).sum().into_scalar::<f32>();
            Ok(())
        },
        warmup,
        iters,
    )?;
    emit("cnn", "infer_samples_per_s", 256.0 / dt, "samples/s", name);
    Ok(())
}

/// `rnn` / `lstm`: a recurrent regressor (input 32, hidden 128, head on the last step),
/// batch 32 x 100 steps, MSE, Adam 1e-3.
fn recurrent<C>(encoder: C, workload: &str, device: &Device, name: &str, warmup: usize, iters: usize) -> Result<()>
where
    C: ModelConfig,
    C::Model: SequenceEncoder + Module + 'static,
{
    let ad = device.clone().autodiff();
    ad.seed(0);
    let config = SequenceModelConfig { encoder, head: HeadConfig::new(SequenceTask::Regress { outputs: 1 }) };
    let mut model = config.init(&ad)?;
    let mut optim = OptimizerKind::adam().init(None);
    let x = Tensor::<3>::random([32, 100, 32], Distribution::Normal(0.0, 1.0), &ad);
    let y = Tensor::<2>::random([32, 1], Distribution::Normal(0.0, 1.0), &ad);
    let lengths = [100usize; 32];
    let dt = timed(
        || {
            let pred = model.forward(SequenceInput::Features(x.clone()), &lengths)?;
            let out = StepOutput::regression(pred, y.clone());
            let grads = GradientsParams::from_grads(out.loss.backward(), &model);
            model = optim.step(1e-3, model.clone(), grads);
            let _ = out.loss.into_scalar::<f32>();
            Ok(())
        },
        warmup,
        iters,
    )?;
    emit(workload, "train_seqs_per_s", 32.0 / dt, "sequences/s", name);
    Ok(())
}

/// `gpt`: 4 pre-norm blocks of width 128 with 4 heads and a GELU MLP of 512,
/// vocabulary 65, context 128, untied head without bias; training on batches
/// of 16 x 128 tokens with AdamW 3e-4, then greedy generation of 127 tokens
/// from one. Generation uses the KV cache (PyTorch's reference recomputes the
/// prefix): what a user of each gets.
fn gpt(device: &Device, name: &str, warmup: usize, iters: usize) -> Result<()> {
    let config = GptConfig::new(65, 128, 128, 4, 4).with_activation(Activation::Gelu).with_tie_word_embeddings(false);
    let ad = device.clone().autodiff();
    ad.seed(0);
    let mut model = config.init(&ad)?;
    let mut optim = OptimizerKind::AdamW { betas: (0.9, 0.999), weight_decay: 0.01 }.init(None);
    let idx = Tensor::<2, Int>::random([16, 128], Distribution::Uniform(0.0, 65.0), &ad);
    let tgt = Tensor::<1, Int>::random([16 * 128], Distribution::Uniform(0.0, 65.0), &ad);
    let dt = timed(
        || {
            let logits = model.forward(idx.clone())?.reshape([16 * 128, 65]);
            let out = StepOutput::classification(logits, tgt.clone());
            let grads = GradientsParams::from_grads(out.loss.backward(), &model);
            model = optim.step(3e-4, model.clone(), grads);
            let _ = out.loss.into_scalar::<f32>();
            Ok(())
        },
        warmup,
        iters,
    )?;
    emit("gpt", "train_tokens_per_s", 16.0 * 128.0 / dt, "tokens/s", name);
    let model = model.valid().to_device(device);
    // With a KV cache (what `generate` does by default), and recomputing the
    // whole prefix at every step: the two PyTorch reference figures.
    for (use_cache, metric) in [(true, "generate_cached_tokens_per_s"), (false, "generate_tokens_per_s")] {
        let cfg = GenerateConfig { max_new_tokens: 127, use_cache, ..GenerateConfig::default() };
        let dt = timed(
            || {
                let out = generate(&model, &[0], &cfg, device)?;
                if out.len() != 127 {
                    return Err(dl_core::Error::Invalid(format!("generated {} tokens, expected 127", out.len())));
                }
                Ok(())
            },
            1,
            if iters <= 3 { 2 } else { 5 },
        )?;
        emit("gpt", metric, 127.0 / dt, "tokens/s", name);
    }
    Ok(())
}

/// `gan`: the DCGAN of WORKLOADS.md (dl-gan's `DcganConfig` defaults, PyTorch's
/// default initialisation), batch 64; one step = one discriminator update on a
/// real and a detached generated batch, then one non-saturating generator update
/// through the frozen discriminator, each with its own Adam (2e-4, betas 0.5, 0.999).
fn gan(device: &Device, name: &str, warmup: usize, iters: usize) -> Result<()> {
    let ad = device.clone().autodiff();
    ad.seed(0);
    let m = DcganConfig::new().with_dcgan_init(false).init(&ad)?;
    let (mut g, mut d) = (m.generator, m.discriminator);
    let adam = OptimizerKind::Adam { betas: (0.5, 0.999) };
    let (mut og, mut od) = (adam.init(None), adam.init(None));
    let real = Tensor::<2>::random([64, 784], Distribution::Uniform(-1.0, 1.0), &ad);
    let loss = GanLoss::NonSaturating;
    let dt = timed(
        || {
            let z = Tensor::<2>::random([64, 100], Distribution::Normal(0.0, 1.0), &ad);
            let fake = g.forward(z, None);
            let ld = loss.discriminator(d.forward(real.clone(), None), d.forward(fake.clone().detach(), None), 0.0);
            let grads = GradientsParams::from_grads(ld.backward(), &d);
            d = od.step(2e-4, d.clone(), grads);
            // The discriminator's weights are not stepped here: frozen, their
            // gradients are not computed (as `dl_gan::train_gan` does).
            let lg = loss.generator(d.clone().no_grad().forward(fake, None));
            let grads = GradientsParams::from_grads(lg.backward(), &g);
            g = og.step(2e-4, g.clone(), grads);
            let _ = lg.into_scalar::<f32>();
            Ok(())
        },
        warmup,
        iters,
    )?;
    emit("gan", "train_steps_per_s", 1.0 / dt, "steps/s", name);
    Ok(())
}

fn main() {
    let args = Args::parse();
    let run = || -> Result<()> {
        if let Some(only) = &args.only
            && !WORKLOADS.contains(&only.as_str())
        {
            return Err(dl_core::Error::Unknown {
                kind: "workload",
                value: only.clone(),
                context: format!("--only (available: {})", WORKLOADS.join(", ")),
            });
        }
        let spec = dl_core::select_device(args.device.as_deref())?;
        let device = spec.device()?;
        let name = spec.to_string();
        let (warmup, iters) = if args.quick { (1, 3) } else { (3, 20) };
        let want = |w: &str| args.only.as_deref().is_none_or(|o| o == w);
        if want("cnn") {
            cnn(&device, &name, warmup, iters)?;
        }
        if want("rnn") {
            recurrent(RnnConfig::new(32, 128), "rnn", &device, &name, warmup, iters)?;
        }
        if want("lstm") {
            let lstm = LstmConfig::new(32, 128).with_num_layers(2).with_forget_bias(0.0);
            recurrent(lstm, "lstm", &device, &name, warmup, iters)?;
        }
        if want("gan") {
            gan(&device, &name, warmup, iters)?;
        }
        if want("gpt") {
            gpt(&device, &name, warmup, iters)?;
        }
        Ok(())
    };
    // On the compute threads, as `fit` and the GAN trainer run their loops.
    if let Err(e) = dl_kernels::on_compute_threads(run) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
