//! Models trained by this crate's examples, shipped inside it: one line loads
//! each, already trained, with the figure it reached (docs/llm.md).

use std::path::Path;

use burn::tensor::Device;
use dl_core::Result;
use dl_core::data::tokenizer::CharTokenizer;
use dl_core::pretrained::Pretrained;

use crate::lm::sample_text;
use crate::models::gpt::{Gpt, GptConfig};

/// The character-level GPT of the `char_gpt` example (nanoGPT's CPU
/// configuration, peak learning rate 2e-3) trained on tinyshakespeare.
pub const CHAR_GPT_SHAKESPEARE: Pretrained = Pretrained {
    name: "char-gpt-shakespeare",
    config: include_str!("../pretrained/char-gpt-shakespeare/config.json"),
    weights: include_bytes!("../pretrained/char-gpt-shakespeare/model.bpk"),
    figure: "validation loss 1.797 nats per character on 2,400 windows of the last 10% of tinyshakespeare",
    command: "cargo run -p dl-transformer --release --example char_gpt -- --lr 2e-3",
};

/// A character-level language model with the vocabulary it was trained with.
#[derive(Debug)]
pub struct CharGpt {
    /// The model.
    pub model: Gpt,
    /// Its characters.
    pub tokenizer: CharTokenizer,
}

impl CharGpt {
    /// `prompt` followed by `len` generated characters (temperature sampling,
    /// seeded; temperature 0 is greedy). A character the vocabulary lacks is
    /// an error naming it.
    pub fn continue_text(
        &self,
        prompt: &str,
        len: usize,
        temperature: f32,
        seed: u64,
        device: &Device,
    ) -> Result<String> {
        sample_text(&self.model, &self.tokenizer, prompt, len, temperature, seed, device)
    }
}

/// [`CHAR_GPT_SHAKESPEARE`] with its vocabulary, on `device`.
pub fn char_gpt_shakespeare(device: &Device) -> Result<CharGpt> {
    let (_, model) = CHAR_GPT_SHAKESPEARE.load::<GptConfig>(device)?;
    let tokenizer = CharTokenizer::from_json(
        include_str!("../pretrained/char-gpt-shakespeare/vocab.json"),
        Path::new("pretrained char-gpt-shakespeare/vocab.json"),
    )?;
    Ok(CharGpt { model, tokenizer })
}
