//! Models trained by this workspace's examples and shipped inside a crate
//! (`include_bytes!`), each with the figure it reached and the command that
//! trained it. The family crates list theirs in their `pretrained` modules.

use std::path::Path;

use burn::module::Module;
use burn::tensor::Device;

use crate::config::ModelConfig;
use crate::{Error, Result};

/// A trained checkpoint compiled into a crate: a config (JSON) and burnpack
/// weights as [`crate::checkpoint::save_model`] writes them, checked on load
/// like a file (checksum, finite values, every tensor in its place).
#[derive(Debug, Clone, Copy)]
pub struct Pretrained {
    /// Short name, used in errors (`lenet5-mnist`).
    pub name: &'static str,
    /// The model's `config.json`.
    pub config: &'static str,
    /// The model's weights (`model.bpk`, or one part of the model).
    pub weights: &'static [u8],
    /// What it reached, measured on the full test split when it was trained.
    pub figure: &'static str,
    /// The command that trained it.
    pub command: &'static str,
}

impl Pretrained {
    /// The model on `device`, with its config.
    pub fn load<C: ModelConfig>(&self, device: &Device) -> Result<(C, C::Model)> {
        crate::checkpoint::load_model_from_bytes(&self.origin(), self.config, self.weights, device)
    }

    /// The config alone, validated.
    pub fn load_config<C: ModelConfig>(&self) -> Result<C> {
        let path = Path::new(&self.origin()).join(crate::checkpoint::CONFIG_FILE);
        let config: C = serde_json::from_str(self.config).map_err(|e| Error::Json { path, source: e })?;
        config.validate()?;
        Ok(config)
    }

    /// The weights loaded into `model` (for a checkpoint holding one part of
    /// what its config builds, such as a GAN's generator).
    pub fn weights_into<M: Module>(&self, model: M) -> Result<M> {
        crate::checkpoint::load_weights_from_bytes(model, &self.origin(), self.weights)
    }

    fn origin(&self) -> String {
        format!("pretrained {}", self.name)
    }
}
