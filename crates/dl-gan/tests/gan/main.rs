//! dl-gan tests: losses and layers against their formulas (unit tests in the
//! crate), the trainer (both networks update, a GAN learns a simple
//! distribution, resume continues identically, collapse is detected and the
//! last good checkpoint kept), models (shapes, conditioning, bad input
//! errors, bit-exact save/load), batch-norm recalibration of the averaged
//! generator, latent search, why there is no gradient penalty (backend
//! conformance: tests/conformance.rs at the workspace root).

use std::path::PathBuf;

use burn::module::Module;
use burn::tensor::{Device, Int, Tensor, TensorData};
use dl_core::checkpoint::{load_model, save_model};
use dl_core::task::to_f32;
use dl_core::testing::{device, rng_lock, temp_dir};
use dl_core::train::Checkpointer;
use dl_core::train::checkpointer::interrupt_next_save;
use dl_core::{Error, ModelConfig};
use dl_gan::latent::{InpaintConfig, inpaint};
use dl_gan::sampling::{latent_codes, sample_values};
use dl_gan::train::GanState;
use dl_gan::*;

mod augment;
mod latent;
mod models;
mod pretrained;
mod trainer;

fn mlp(spectral: bool, classes: Option<usize>, device: &Device) -> MlpGan {
    MlpGanConfig::new()
        .with_hidden(32)
        .with_layers(2)
        .with_latent_dim(4)
        .with_spectral_norm(spectral)
        .with_num_classes(classes)
        .init(device)
        .unwrap()
}

fn quick(epochs: usize, steps: usize) -> GanTrainConfig {
    GanTrainConfig {
        epochs,
        batch_size: 32,
        max_steps_per_epoch: Some(steps),
        progress: false,
        ..GanTrainConfig::default()
    }
}

fn params<M: Module>(m: &M) -> Vec<f32> {
    struct Grab(Vec<f32>);
    impl burn::module::ModuleVisitor for Grab {
        fn visit_float<const D: usize>(&mut self, p: &burn::module::Param<Tensor<D>>) {
            self.0.extend(to_f32(p.val()).unwrap());
        }
    }
    let mut g = Grab(Vec::new());
    m.visit(&mut g);
    g.0
}
