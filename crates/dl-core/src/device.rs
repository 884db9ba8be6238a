//! Picking the compute device at run time.
//!
//! burn 0.22 chooses the backend through the [`Device`] value, not through a
//! type parameter, so the same model code runs on every backend compiled in.
//! Examples take `--device flex|ndarray|wgpu` (or `DL_DEVICE`); this module
//! turns that string into a device and explains when the backend was not
//! compiled in, instead of silently falling back to another one.

use burn::tensor::Device;

use crate::{Error, Result};

/// The backends a dl-families crate can be built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// burn-flex: pure-Rust CPU backend with SIMD and rayon (the default).
    Flex,
    /// burn-ndarray: the older pure-Rust CPU backend (deprecated upstream, kept for conformance).
    Ndarray,
    /// wgpu: GPUs through Vulkan/Metal/DX12 (and Mesa lavapipe on CPU-only machines).
    Wgpu,
}

impl Backend {
    /// All backends, in the order they are tried by [`Backend::default_compiled`].
    pub const ALL: [Backend; 3] = [Backend::Flex, Backend::Ndarray, Backend::Wgpu];

    /// The lowercase name used on command lines.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Flex => "flex",
            Backend::Ndarray => "ndarray",
            Backend::Wgpu => "wgpu",
        }
    }

    /// Whether this backend was compiled into the current binary.
    pub fn is_compiled(self) -> bool {
        match self {
            Backend::Flex => cfg!(feature = "flex"),
            Backend::Ndarray => cfg!(feature = "ndarray"),
            Backend::Wgpu => cfg!(feature = "wgpu"),
        }
    }

    /// The first compiled backend (flex when present): never wgpu when a CPU backend
    /// exists, because `Device::default()` would otherwise prefer a GPU silently.
    pub fn default_compiled() -> Result<Backend> {
        Backend::ALL
            .into_iter()
            .find(|b| b.is_compiled())
            .ok_or_else(|| Error::Invalid("no backend feature (flex, ndarray, wgpu) was enabled".into()))
    }

    /// Backends compiled into this binary.
    pub fn compiled() -> Vec<Backend> {
        Backend::ALL.into_iter().filter(|b| b.is_compiled()).collect()
    }

    /// The inference device of this backend (no autodiff).
    pub fn device(self) -> Result<Device> {
        if !self.is_compiled() {
            return Err(Error::Invalid(format!(
                "device `{}` is not compiled in; rebuild with `--features {}` (compiled: {})",
                self.name(),
                self.name(),
                Backend::compiled().iter().map(|b| b.name()).collect::<Vec<_>>().join(", ")
            )));
        }
        Ok(match self {
            #[cfg(feature = "flex")]
            Backend::Flex => Device::flex(),
            #[cfg(feature = "ndarray")]
            #[allow(deprecated)]
            Backend::Ndarray => Device::ndarray(),
            #[cfg(feature = "wgpu")]
            Backend::Wgpu => Device::wgpu(burn::tensor::DeviceKind::DefaultDevice),
            #[allow(unreachable_patterns)]
            _ => unreachable!("checked by is_compiled above"),
        })
    }
}

impl std::str::FromStr for Backend {
    type Err = Error;

    fn from_str(s: &str) -> Result<Backend> {
        match s.trim().to_ascii_lowercase().as_str() {
            "flex" | "cpu" => Ok(Backend::Flex),
            "ndarray" => Ok(Backend::Ndarray),
            "wgpu" | "gpu" => Ok(Backend::Wgpu),
            other => Err(Error::Unknown {
                kind: "device",
                value: other.to_string(),
                context: "--device / DL_DEVICE (expected flex, ndarray or wgpu)".into(),
            }),
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Resolves the backend from a command-line value, else `DL_DEVICE`, else the default.
pub fn select_backend(cli: Option<&str>) -> Result<Backend> {
    match cli {
        Some(s) => s.parse(),
        None => match std::env::var("DL_DEVICE") {
            Ok(s) if !s.trim().is_empty() => s.parse(),
            _ => Backend::default_compiled(),
        },
    }
}
