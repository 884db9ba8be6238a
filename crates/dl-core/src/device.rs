//! Picking the compute device at run time.
//!
//! burn 0.22 chooses the backend through the [`Device`] value, not through a
//! type parameter, so the same model code runs on every backend compiled in.
//! Examples take `--device flex|ndarray|wgpu[:N]|cuda[:N]` (or `DL_DEVICE`);
//! this module turns that string into a device and says why when the backend
//! was not compiled in or the device is not on this machine, instead of
//! silently falling back to another one.

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
    /// CUDA: NVIDIA GPUs through burn's CUDA backend.
    Cuda,
}

impl Backend {
    /// All backends, in the order they are tried by [`Backend::default_compiled`].
    pub const ALL: [Backend; 4] = [Backend::Flex, Backend::Ndarray, Backend::Wgpu, Backend::Cuda];

    /// The lowercase name used on command lines.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Flex => "flex",
            Backend::Ndarray => "ndarray",
            Backend::Wgpu => "wgpu",
            Backend::Cuda => "cuda",
        }
    }

    /// Whether this backend was compiled into the current binary.
    pub fn is_compiled(self) -> bool {
        match self {
            Backend::Flex => cfg!(feature = "flex"),
            Backend::Ndarray => cfg!(feature = "ndarray"),
            Backend::Wgpu => cfg!(feature = "wgpu"),
            Backend::Cuda => cfg!(feature = "cuda"),
        }
    }

    /// Whether the backend has several devices told apart by an index (GPUs).
    pub fn is_indexed(self) -> bool {
        matches!(self, Backend::Wgpu | Backend::Cuda)
    }

    /// The first compiled backend (flex when present): never a GPU when a CPU backend
    /// exists, because `Device::default()` would otherwise prefer a GPU silently.
    pub fn default_compiled() -> Result<Backend> {
        Backend::ALL.into_iter().find(|b| b.is_compiled()).ok_or_else(|| Error::DeviceUnavailable {
            requested: "default".into(),
            reason: "no backend feature (flex, ndarray, wgpu, cuda) was enabled".into(),
        })
    }

    /// Backends compiled into this binary.
    pub fn compiled() -> Vec<Backend> {
        Backend::ALL.into_iter().filter(|b| b.is_compiled()).collect()
    }

    /// The inference device of this backend (no autodiff): its default device.
    pub fn device(self) -> Result<Device> {
        DeviceSpec { backend: self, index: None }.device()
    }
}

impl std::str::FromStr for Backend {
    type Err = Error;

    fn from_str(s: &str) -> Result<Backend> {
        match s.trim().to_ascii_lowercase().as_str() {
            "flex" | "cpu" => Ok(Backend::Flex),
            "ndarray" => Ok(Backend::Ndarray),
            "wgpu" | "gpu" => Ok(Backend::Wgpu),
            "cuda" => Ok(Backend::Cuda),
            other => Err(Error::Unknown {
                kind: "device",
                value: other.to_string(),
                context: "--device / DL_DEVICE (expected flex, ndarray, wgpu[:N] or cuda[:N])".into(),
            }),
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A backend and, for a GPU backend, which of its devices: `cuda:1`, `wgpu:0`.
///
/// Without an index a GPU backend takes its default device (CUDA: device 0;
/// wgpu: the adapter it prefers). Indices count the devices the backend finds
/// on this machine, in its own order (`nvidia-smi`'s for CUDA).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceSpec {
    /// The backend.
    pub backend: Backend,
    /// Which device of the backend; `None` for its default.
    pub index: Option<usize>,
}

impl DeviceSpec {
    /// The device (without autodiff), after checking that it exists.
    pub fn device(&self) -> Result<Device> {
        let unavailable = |reason: String| Error::DeviceUnavailable { requested: self.to_string(), reason };
        if !self.backend.is_compiled() {
            let compiled = Backend::compiled().iter().map(|b| b.name()).collect::<Vec<_>>().join(", ");
            return Err(unavailable(format!(
                "not compiled in; rebuild with `--features {}` (compiled: {compiled})",
                self.backend.name()
            )));
        }
        if self.index.is_some() && !self.backend.is_indexed() {
            return Err(unavailable(format!("{} has one device; write `{}`", self.backend, self.backend)));
        }
        match self.backend {
            #[cfg(feature = "flex")]
            Backend::Flex => Ok(Device::flex()),
            #[cfg(feature = "ndarray")]
            #[allow(deprecated)]
            Backend::Ndarray => Ok(Device::ndarray()),
            #[cfg(feature = "wgpu")]
            Backend::Wgpu => {
                let found = Device::enumerate(burn::tensor::DeviceType::Wgpu).into_vec();
                if found.is_empty() {
                    return Err(unavailable(
                        "wgpu found no adapter (no GPU driver; on a machine without a GPU, Mesa's lavapipe \
                         provides one: apt-get install mesa-vulkan-drivers libvulkan1)"
                            .into(),
                    ));
                }
                match self.index {
                    None => Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)),
                    Some(i) => pick(found, i).map_err(unavailable),
                }
            }
            #[cfg(feature = "cuda")]
            Backend::Cuda => {
                let found = Device::enumerate(burn::tensor::DeviceType::Cuda).into_vec();
                if found.is_empty() {
                    return Err(unavailable(
                        "no CUDA device found (no NVIDIA GPU, or its driver's libcuda could not be loaded)".into(),
                    ));
                }
                pick(found, self.index.unwrap_or(0)).map_err(unavailable)
            }
            #[allow(unreachable_patterns)]
            _ => Err(unavailable("not compiled in".into())),
        }
    }
}

/// Device `index` of those a backend `found`, or why not, naming them.
#[cfg(any(feature = "wgpu", feature = "cuda"))]
fn pick(found: Vec<Device>, index: usize) -> std::result::Result<Device, String> {
    let count = found.len();
    found.into_iter().nth(index).ok_or_else(|| {
        let names: Vec<String> = Device::enumerate_physical().into_iter().map(|gpu| gpu.name).collect();
        format!(
            "index {index} is out of range: this machine has {count} such device{} (0..{count}){}",
            if count == 1 { "" } else { "s" },
            if names.is_empty() { String::new() } else { format!("; devices seen: {}", names.join(", ")) }
        )
    })
}

impl std::str::FromStr for DeviceSpec {
    type Err = Error;

    /// `flex`, `ndarray`, `wgpu`, `wgpu:N`, `cuda`, `cuda:N`.
    fn from_str(s: &str) -> Result<DeviceSpec> {
        let (name, index) = match s.trim().split_once(':') {
            None => (s, None),
            Some((name, index)) => {
                let index = index.trim().parse::<usize>().map_err(|_| Error::Unknown {
                    kind: "device index",
                    value: index.to_string(),
                    context: format!("--device / DL_DEVICE `{s}` (expected a number after `:`, as in cuda:1)"),
                })?;
                (name, Some(index))
            }
        };
        Ok(DeviceSpec { backend: name.parse()?, index })
    }
}

impl std::fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.index {
            None => write!(f, "{}", self.backend),
            Some(i) => write!(f, "{}:{i}", self.backend),
        }
    }
}

/// Resolves the device from a command-line value, else `DL_DEVICE`, else the
/// default backend's default device.
pub fn select_device(cli: Option<&str>) -> Result<DeviceSpec> {
    match cli {
        Some(s) => s.parse(),
        None => match std::env::var("DL_DEVICE") {
            Ok(s) if !s.trim().is_empty() => s.parse(),
            _ => Ok(DeviceSpec { backend: Backend::default_compiled()?, index: None }),
        },
    }
}

/// Resolves the backend from a command-line value, else `DL_DEVICE`, else the default.
pub fn select_backend(cli: Option<&str>) -> Result<Backend> {
    select_device(cli).map(|spec| spec.backend)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_parse_with_and_without_an_index() {
        let spec: DeviceSpec = "cuda:1".parse().unwrap();
        assert_eq!(spec, DeviceSpec { backend: Backend::Cuda, index: Some(1) });
        assert_eq!(spec.to_string(), "cuda:1");
        let spec: DeviceSpec = " WGPU ".parse().unwrap();
        assert_eq!(spec, DeviceSpec { backend: Backend::Wgpu, index: None });
        assert!(matches!("cuda:x".parse::<DeviceSpec>(), Err(Error::Unknown { kind: "device index", .. })));
        assert!(matches!("cuda:-1".parse::<DeviceSpec>(), Err(Error::Unknown { kind: "device index", .. })));
        assert!(matches!("tpu".parse::<DeviceSpec>(), Err(Error::Unknown { kind: "device", .. })));
    }

    #[test]
    fn a_device_that_cannot_be_had_is_an_error_that_says_why() {
        let err = "flex:1".parse::<DeviceSpec>().unwrap().device().unwrap_err().to_string();
        assert!(err.contains("flex has one device"), "{err}");
        if !cfg!(feature = "cuda") {
            let err = Backend::Cuda.device().unwrap_err().to_string();
            assert!(err.contains("rebuild with `--features cuda`") && err.contains("flex"), "{err}");
        }
    }
}
