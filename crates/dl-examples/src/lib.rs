//! What the examples of dl-families share and a library user does not need:
//! the command-line options every example takes and its closing result line
//! ([`cli`]), the choices several examples take ([`choices`]), and the English -> French translation task that the recurrent
//! and the Transformer translators both run ([`translation`]).

pub mod choices;
pub mod cli;
pub mod translation;

pub use cli::{CommonArgs, print_result, run_example, save_confusion_png};
