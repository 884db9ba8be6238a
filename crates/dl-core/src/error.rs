//! The one error type of the workspace.
//!
//! Every fallible operation on user input (files, shapes, configs, tokens,
//! checkpoints) returns [`Error`]; messages name what was wrong and where, so a
//! user can fix the input without reading the code.

use std::path::{Path, PathBuf};

/// Errors returned by every dl-families crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be opened, read or written.
    #[error("{op} `{path}`: {source}")]
    Io {
        /// What was being done ("reading", "writing", "creating").
        op: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A data file exists but its content is not in the expected format.
    #[error("malformed data in `{path}` at {position}: {message}")]
    Data {
        /// The file concerned.
        path: PathBuf,
        /// Where in the file: a line number, a byte offset or a record index.
        position: String,
        /// What was expected and what was found.
        message: String,
    },
    /// A dataset that an example needs was not found in any data directory.
    #[error(
        "dataset `{name}` not found; looked in: {searched}. Pass --data DIR, set DL_DATA_DIR, or fetch it: \
         cargo run -p dl-core --release --features fetch --bin dl-data -- fetch {name}"
    )]
    DatasetNotFound {
        /// The dataset's folder name (`mnist`, `sms-spam`, ...).
        name: String,
        /// The directories that were searched, comma separated.
        searched: String,
    },
    /// A configuration value is out of range or inconsistent with another.
    #[error("invalid config `{config}`: field `{field}`: {message}")]
    Config {
        /// The config type (`LeNet5Config`, `TrainConfig`, ...).
        config: &'static str,
        /// The offending field.
        field: String,
        /// Why the value is invalid.
        message: String,
    },
    /// A tensor or input has a shape the operation cannot accept.
    #[error("shape mismatch in {context}: expected {expected}, got {got}")]
    Shape {
        /// The operation or model receiving the input.
        context: String,
        /// The expected shape, in words or dims.
        expected: String,
        /// The shape that was given.
        got: String,
    },
    /// A token, label or id that is not in the vocabulary or label set.
    #[error("unknown {kind} `{value}` in {context}")]
    Unknown {
        /// "token", "label", "class id", "device", ...
        kind: &'static str,
        /// The offending value.
        value: String,
        /// Where it occurred.
        context: String,
    },
    /// A checkpoint or weight file does not fit the model it is loaded into.
    #[error("checkpoint `{path}`: {message}")]
    Checkpoint {
        /// The checkpoint file or folder.
        path: PathBuf,
        /// What did not match.
        message: String,
    },
    /// A JSON config or metadata file could not be parsed.
    #[error("JSON in `{path}`: {source}")]
    Json {
        /// The file concerned.
        path: PathBuf,
        /// The parse error (with line and column).
        #[source]
        source: serde_json::Error,
    },
    /// An input that must hold something is empty (a batch, a training set, a prompt).
    #[error("{what} is empty")]
    Empty {
        /// What is empty, with where it was given.
        what: String,
    },
    /// An operation that differentiates was given a device without autodiff.
    #[error("{what} needs an autodiff device: pass `device.autodiff()`")]
    NeedsAutodiff {
        /// The operation.
        what: &'static str,
    },
    /// A value (a label, a count, a step) is outside what the operation accepts.
    #[error("{what}: {value} is out of range (expected {allowed})")]
    OutOfRange {
        /// The value's name and where it was given.
        what: String,
        /// The value given.
        value: String,
        /// The accepted range, in words.
        allowed: String,
    },
    /// The device asked for is not compiled in or not on this machine.
    #[error("device `{requested}` is not available: {reason}")]
    DeviceUnavailable {
        /// The device as it was asked for (`cuda:1`, `wgpu`, ...).
        requested: String,
        /// Why, with what was found instead.
        reason: String,
    },
    /// The device failed to hand back values it computed.
    #[error("device: {0}")]
    Device(String),
    /// A model, layer or option that the other side cannot express: a PyTorch
    /// or Hugging Face layout (peepholes, grouped-query attention, SwiGLU in
    /// an MLP slot), the parity fixture format.
    #[error("not supported: {0}")]
    Unsupported(String),
    /// An input of a kind the model does not take: token ids for a model of
    /// real-valued features (or the reverse), labels for an unconditional
    /// generator (or none for a conditional one), a recurrent state the
    /// network does not have, targets of another task.
    #[error("wrong input: {0}")]
    WrongInput(String),
    /// A state the library itself should never reach (a decoder without
    /// layers, a missing recurrent state); the message says which.
    #[error("internal error: {0}")]
    Internal(String),
    /// Anything else that a caller asked for and that cannot be done.
    #[error("{0}")]
    Invalid(String),
    /// Training stopped because it diverged or collapsed; the message says
    /// when, why, and which checkpoint is the last good one.
    #[error("training stopped: {0}")]
    Training(String),
}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An [`Error::Io`] for `path`.
    pub fn io(op: &'static str, path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io { op, path: path.as_ref().to_path_buf(), source }
    }

    /// An [`Error::Data`] for `path` at `position`.
    pub fn data(path: impl AsRef<Path>, position: impl ToString, message: impl ToString) -> Self {
        Error::Data { path: path.as_ref().to_path_buf(), position: position.to_string(), message: message.to_string() }
    }

    /// An [`Error::Config`].
    pub fn config(config: &'static str, field: impl ToString, message: impl ToString) -> Self {
        Error::Config { config, field: field.to_string(), message: message.to_string() }
    }

    /// An [`Error::Shape`].
    pub fn shape(context: impl ToString, expected: impl ToString, got: impl ToString) -> Self {
        Error::Shape { context: context.to_string(), expected: expected.to_string(), got: got.to_string() }
    }

    /// An [`Error::Empty`].
    pub fn empty(what: impl ToString) -> Self {
        Error::Empty { what: what.to_string() }
    }

    /// An [`Error::OutOfRange`].
    pub fn out_of_range(what: impl ToString, value: impl ToString, allowed: impl ToString) -> Self {
        Error::OutOfRange { what: what.to_string(), value: value.to_string(), allowed: allowed.to_string() }
    }

    /// An [`Error::Checkpoint`].
    pub fn checkpoint(path: impl AsRef<Path>, message: impl ToString) -> Self {
        Error::Checkpoint { path: path.as_ref().to_path_buf(), message: message.to_string() }
    }
}
