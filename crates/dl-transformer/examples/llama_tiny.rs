//! A small LLaMA-style model (RMSNorm, rotary positions, grouped-query
//! attention, SwiGLU) on tinyshakespeare with the budget of `char_gpt`
//! (4 layers, 4 query heads / 2 key-value heads, width 128, SwiGLU width 352,
//! context 64, batch 12, 2,000 iterations), so the two validation losses compare.
//!
//! `cargo run -p dl-transformer --release --example llama_tiny -- [--iters 2000] [--quick]`
//!
//! Writes `out/llama_tiny/`: checkpoint, `metrics.csv`, `loss.png`, `sample.txt`,
//! `attention_layer{N}_head0.png` (the last layer's causal attention over the prompt).

mod common;

use clap::Parser;
use common::{CharLmArgs, run_char_lm};
use dl_examples::cli::{CommonArgs, run_example};
use dl_transformer::LlamaConfig;

#[derive(Parser)]
#[command(about = "Small LLaMA-style character model on tinyshakespeare (the budget of char_gpt)")]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    lm: CharLmArgs,
    /// Key/value heads (grouped-query attention).
    #[arg(long, default_value_t = 2)]
    kv_heads: usize,
    /// SwiGLU hidden width (352 keeps the parameter count of char_gpt's MLP).
    #[arg(long, default_value_t = 352)]
    ffn: usize,
}

fn main() {
    let args = Args::parse();
    let a = &args.lm;
    run_example(|| {
        run_char_lm(
            "llama_tiny",
            &args.common,
            a,
            |vocab| {
                LlamaConfig::new(vocab, a.width, args.ffn, a.layers, a.heads)
                    .with_num_key_value_heads(Some(args.kv_heads))
                    .with_max_position_embeddings(a.context)
            },
            |model, ids| Ok(model.hidden(ids, None)?.1),
        )
    });
}
