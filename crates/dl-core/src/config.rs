//! Validated model configurations.
//!
//! Every model of every family has a `#[derive(Config)]` struct that
//! implements [`ModelConfig`]: `validate()` checks every field and returns a
//! [`crate::Error::Config`] naming the bad field *before* any tensor is
//! allocated, and `init()` validates then builds. This is the split that
//! linfa makes between unchecked parameters and checked ones, shaped to burn:
//! a config that was validated can always be initialised without panicking.

use std::path::Path;

use burn::module::Module;
use burn::tensor::Device;
use serde::{Serialize, de::DeserializeOwned};

use crate::{Error, Result};

/// A model's hyper-parameters: checked, serialisable, and able to build the model.
pub trait ModelConfig: Serialize + DeserializeOwned + Clone {
    /// The model this config builds.
    type Model: Module;

    /// Checks every field; returns the first problem found.
    fn validate(&self) -> Result<()>;

    /// Builds the model. Only called on a validated config.
    fn build(&self, device: &Device) -> Self::Model;

    /// Validates, then builds the model on `device`.
    fn init(&self, device: &Device) -> Result<Self::Model> {
        self.validate()?;
        Ok(self.build(device))
    }
}

/// Writes any serialisable value as pretty JSON, atomically (a synced
/// temporary file renamed over `path`).
pub fn save_json<T: Serialize>(value: &T, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::io("creating", parent, e))?;
    }
    let text = serde_json::to_string_pretty(value).map_err(|e| Error::Json { path: path.to_path_buf(), source: e })?;
    crate::train::checkpointer::write_atomically(path, text.as_bytes())
}

/// Reads a JSON file into `T`; errors name the file, line and column.
pub fn load_json<T: DeserializeOwned>(path: impl AsRef<Path>) -> Result<T> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|e| Error::io("reading", path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::Json { path: path.to_path_buf(), source: e })
}

/// Helpers for `validate()` implementations: each returns a config error naming the field.
pub mod check {
    use crate::{Error, Result};

    /// `value >= 1`.
    pub fn positive(config: &'static str, field: &str, value: usize) -> Result<()> {
        if value == 0 {
            return Err(Error::config(config, field, "must be at least 1"));
        }
        Ok(())
    }

    /// `0 <= p < 1` (dropout probabilities, fractions).
    pub fn probability(config: &'static str, field: &str, p: f64) -> Result<()> {
        if !(0.0..1.0).contains(&p) {
            return Err(Error::config(config, field, format!("must be in [0, 1), got {p}")));
        }
        Ok(())
    }

    /// A finite, strictly positive float (learning rates, epsilons).
    pub fn positive_f(config: &'static str, field: &str, value: f64) -> Result<()> {
        if !value.is_finite() || value <= 0.0 {
            return Err(Error::config(config, field, format!("must be a positive number, got {value}")));
        }
        Ok(())
    }

    /// A model of about `params` `f32` parameters fits in the memory
    /// available (checked before building it: an allocation that fails aborts
    /// the process). `field` names what sets the size.
    pub fn fits_in_memory(config: &'static str, field: &str, params: f64) -> Result<()> {
        match crate::memory::shortfall((params * 4.0).min(u64::MAX as f64) as u64) {
            Some(m) => Err(Error::config(config, field, format!("a model of about {params:.3e} parameters {m}"))),
            None => Ok(()),
        }
    }

    /// A non-empty list.
    pub fn non_empty<T>(config: &'static str, field: &str, values: &[T]) -> Result<()> {
        if values.is_empty() {
            return Err(Error::config(config, field, "must not be empty"));
        }
        Ok(())
    }
}
