//! Models trained by this workspace's examples and shipped inside a crate
//! (`include_bytes!`), each with the figure it reached and the command that
//! trained it. The family crates list theirs in their `pretrained` modules.

use burn::tensor::Device;

use crate::Result;
use crate::config::ModelConfig;

/// A trained checkpoint compiled into a crate: a config (JSON) and burnpack
/// weights as [`crate::checkpoint::save_model`] writes them, checked on load
/// like a file (checksum, finite values, every tensor in its place).
#[derive(Debug, Clone, Copy)]
pub struct Pretrained {
    /// Short name, used in errors (`lenet5-mnist`).
    pub name: &'static str,
    /// The model's `config.json`.
    pub config: &'static str,
    /// The model's `model.bpk`.
    pub weights: &'static [u8],
    /// What it reached, measured on the full test split when it was trained.
    pub figure: &'static str,
    /// The command that trained it.
    pub command: &'static str,
}

impl Pretrained {
    /// The model on `device`, with its config.
    pub fn load<C: ModelConfig>(&self, device: &Device) -> Result<(C, C::Model)> {
        crate::checkpoint::load_model_from_bytes(
            &format!("pretrained {}", self.name),
            self.config,
            self.weights,
            device,
        )
    }
}
