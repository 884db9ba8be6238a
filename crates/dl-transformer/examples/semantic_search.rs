//! Semantic search with the pretrained all-MiniLM-L6-v2 sentence encoder:
//! embed a corpus once, answer each query with the most similar sentences by
//! cosine similarity (dot product of unit vectors).
//!
//! `cargo run -p dl-transformer --release --example semantic_search -- [--corpus FILE] [--query "..."]`
//!
//! The default corpus is the SMS spam test split (one message per line);
//! `--corpus` takes any text file with one sentence per line. Writes
//! `out/semantic_search/similarity.png` (query x top results).

use std::path::PathBuf;

use clap::Parser;
use dl_core::Error;
use dl_core::data::text::read_labeled_tsv;
use dl_examples::cli::{CommonArgs, run_example};
use dl_transformer::embed::SentenceEncoder;
use dl_transformer::hf::checkpoint_dir;
use serde_json::json;

#[derive(Parser)]
#[command(about = "Semantic search with all-MiniLM-L6-v2")]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// The pretrained checkpoint folder (default: `<shared>/models/all-MiniLM-L6-v2`).
    #[arg(long)]
    model_dir: Option<PathBuf>,
    /// A text file with one sentence per line (default: the SMS spam test split).
    #[arg(long)]
    corpus: Option<PathBuf>,
    /// Queries (default: three examples).
    #[arg(long)]
    query: Vec<String>,
    /// Reference embeddings to check the encoder against (sentence-transformers'
    /// output, as `reference.json` of the model folder; default: that file
    /// when present). The run fails when a sentence's cosine falls below
    /// `--min-cosine`.
    #[arg(long)]
    reference: Vec<PathBuf>,
    /// Least cosine similarity to the reference embeddings that passes.
    #[arg(long, default_value_t = 0.9999)]
    min_cosine: f64,
    /// Results per query.
    #[arg(long, default_value_t = 3)]
    top: usize,
}

fn main() {
    let args = Args::parse();
    run_example(|| {
        let c = &args.common;
        let mdir = checkpoint_dir(args.model_dir.as_deref(), &c.data_dirs(), "all-MiniLM-L6-v2")?;
        let corpus: Vec<String> = match &args.corpus {
            Some(p) => std::fs::read_to_string(p)
                .map_err(|e| Error::io("reading", p, e))?
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect(),
            None => {
                let dir = c.data_dirs().find("sms-spam", &["test.tsv"])?;
                read_labeled_tsv(dir.join("test.tsv"))?.into_iter().map(|(_, t)| t).collect()
            }
        };
        // Identical messages would fill the top results with copies.
        let mut seen = std::collections::HashSet::new();
        let corpus: Vec<String> = corpus.into_iter().filter(|s| seen.insert(s.clone())).collect();
        let corpus: Vec<String> = if c.quick { corpus.into_iter().take(100).collect() } else { corpus };
        if corpus.is_empty() {
            return Err(Error::empty("the corpus"));
        }
        let queries = if args.query.is_empty() {
            vec![
                "You have won a free prize, call now to claim it".to_string(),
                "Are we still meeting for dinner tonight?".to_string(),
                "I am running late, stuck in traffic".to_string(),
            ]
        } else {
            args.query.clone()
        };
        let device = c.device()?;
        let encoder = SentenceEncoder::from_dir(&mdir, &device)?;
        // Reference embeddings (sentence-transformers), by default the folder's own.
        // An explicit reference must exist; the folder's own is checked when present.
        let references = if args.reference.is_empty() {
            let own = mdir.join("reference.json");
            if !own.is_file() {
                eprintln!("no {}: the encoder is not checked against a reference", own.display());
            }
            vec![own].into_iter().filter(|p| p.is_file()).collect()
        } else {
            args.reference.clone()
        };
        let mut reference = Vec::new();
        for p in &references {
            let r = encoder.check_reference(p, args.min_cosine, &device)?;
            eprintln!(
                "{}: {} sentences, min cosine {:.9}, max |diff| {:.2e}",
                p.display(),
                r.sentences,
                r.min_cosine,
                r.max_abs_diff
            );
            reference.push(json!({"file": p, "sentences": r.sentences, "min_cosine": r.min_cosine, "max_abs_diff": r.max_abs_diff}));
        }
        let start = std::time::Instant::now();
        let refs: Vec<&str> = corpus.iter().map(String::as_str).collect();
        let emb = encoder.embed(&refs, 64, &device)?;
        let embed_seconds = start.elapsed().as_secs_f64();
        let qrefs: Vec<&str> = queries.iter().map(String::as_str).collect();
        let qemb = encoder.embed(&qrefs, 64, &device)?;
        let top = args.top.clamp(1, corpus.len());
        let mut answers = Vec::new();
        let mut heat = Vec::new();
        for (q, qe) in queries.iter().zip(&qemb) {
            let mut scored: Vec<(f32, usize)> =
                emb.iter().enumerate().map(|(i, e)| (e.iter().zip(qe).map(|(a, b)| a * b).sum::<f32>(), i)).collect();
            scored.sort_by(|a, b| b.0.total_cmp(&a.0));
            eprintln!("query: {q}");
            let hits: Vec<_> = scored
                .iter()
                .take(top)
                .map(|(s, i)| {
                    eprintln!("  {s:.3}  {}", corpus[*i]);
                    heat.push(*s);
                    json!({"score": s, "text": corpus[*i]})
                })
                .collect();
            answers.push(json!({"query": q, "results": hits}));
        }
        let out = c.out_dir("semantic_search")?;
        let rows: Vec<String> = queries.iter().map(|q| q.chars().take(30).collect()).collect();
        let cols: Vec<String> = (1..=top).map(|r| format!("#{r}")).collect();
        dl_core::plot::heatmap_png(
            &out.join("similarity.png"),
            &heat,
            queries.len(),
            top,
            40,
            Some(&rows),
            Some(&cols),
        )?;
        Ok(json!({
            "example": "semantic_search",
            "corpus_sentences": corpus.len(),
            "embed_seconds": embed_seconds,
            "sentences_per_second": corpus.len() as f64 / embed_seconds,
            "answers": answers,
            "reference_check": reference,
        }))
    });
}
