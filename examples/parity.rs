//! Checks PyTorch-parity fixtures (format: `shared/parity/FORMAT.md`).
//!
//! ```text
//! cargo run --release --example parity -- DIR [DIR ...] [--device flex|ndarray|wgpu]
//! ```
//! Prints `PASS|FAIL|UNSUPPORTED name max_abs_diff=..` per fixture and
//! `<p> passed, <f> failed`; exits 1 if any fixture failed or is unsupported.

use std::path::PathBuf;

use clap::Parser;
use dl_core::parity::{Registry, check_dirs};

#[derive(Parser)]
#[command(about = "Check PyTorch parity fixtures against dl-families modules")]
struct Args {
    /// Fixture folders.
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
    /// Backend: flex (default), ndarray or wgpu.
    #[arg(long)]
    device: Option<String>,
}

/// Every kind of every family crate compiled into this workspace.
fn registry() -> Registry {
    let mut r = Registry::with_layers();
    dl_cnn::parity::register(&mut r);
    dl_rnn::parity::register(&mut r);
    dl_lstm::parity::register(&mut r);
    dl_transformer::parity::register(&mut r);
    r
}

fn main() {
    let args = Args::parse();
    let run = || -> dl_core::Result<usize> {
        let device = dl_core::select_backend(args.device.as_deref())?.device()?;
        let (_, failed) = check_dirs(&registry(), &args.dirs, &device, &mut std::io::stdout())?;
        Ok(failed)
    };
    match run() {
        Ok(0) => {}
        Ok(_) => std::process::exit(1),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}
