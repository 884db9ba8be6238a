//! dl-cnn tests: parity with PyTorch, shapes, config validation, training
//! behaviour (loss decreases, a batch is overfitted, runs are deterministic
//! and resumable), save/load, retrieval and saliency, the detector, the
//! shipped models (backend conformance: tests/conformance.rs at the
//! workspace root).

use std::path::PathBuf;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use dl_cnn::recipes::load_digits;
use dl_cnn::retrieval::{CosineIndex, precision_at_k};
use dl_cnn::saliency::saliency_map;
use dl_cnn::*;
use dl_core::data::locate::DataDirs;
use dl_core::parity::{Registry, Verdict, check_one};
use dl_core::task::{evaluate, to_f32};
use dl_core::testing::{device, rng_lock, temp_dir, workspace_root};
use dl_core::train::checkpointer::interrupt_next_save;
use dl_core::train::{Checkpointer, TrainConfig, fit};
use dl_core::{Batcher, Error, ModelConfig};

mod checkpoints;
mod detection;
mod parity;
mod pretrained;
mod retrieval_saliency;
mod shapes;
mod training;

fn registry() -> Registry {
    let mut r = Registry::with_layers();
    dl_cnn::parity::register(&mut r);
    r
}

fn digits() -> (Vec<ImageItem>, Vec<ImageItem>) {
    let d = load_digits(&DataDirs::resolve(None)).expect("embedded digits load");
    (d.train, d.test)
}

fn lenet8(device: &Device) -> LeNet5 {
    LeNet5Config::new().with_input_size([8, 8]).with_c2_padding(2).init(device).unwrap()
}

fn quick_cfg(epochs: usize, out: Option<PathBuf>) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: 32,
        progress: false,
        out_dir: out,
        max_batches_per_epoch: Some(15),
        ..TrainConfig::default()
    }
}
