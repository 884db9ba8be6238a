//! The applications at the workspace root, as their users run them: the
//! examples on bad input, the captioner, the CRNN reader and the CTC speech
//! models on synthetic glyphs and tones, and every family's models exported
//! with PyTorch's parameter names. One test binary (backend conformance:
//! tests/conformance.rs).

mod bad_input;
mod caption;
mod crnn;
mod glyphs;
mod pytorch_export;
mod spoken;
