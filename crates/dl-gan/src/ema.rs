//! An exponential moving average of a module's weights (Yazıcı et al. 2019),
//! kept on the plain device and matched by parameter id, and
//! [`recalibrate_batch_norm`]: the averaged generator's batch-norm statistics
//! measured again on its own samples, since the average of the statistics is
//! not the statistics of the averaged weights (docs/gan.md, "What the crate does about the delicate training").

use std::collections::HashMap;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::models::Generator;
use crate::sampling::latent_codes;
use dl_core::{Error, Result};

struct Collect {
    values: HashMap<ParamId, Tensor<1>>,
}

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let t = param.val().detach();
        let t = if t.is_autodiff() { t.inner() } else { t };
        self.values.insert(param.id, t.flatten(0, D - 1));
    }
}

struct Blend {
    values: HashMap<ParamId, Tensor<1>>,
    decay: f64,
}

impl ModuleMapper for Blend {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some(src) = self.values.remove(&param.id) else {
            return param;
        };
        let decay = self.decay;
        param.map(|avg| {
            let dims = avg.dims();
            avg.mul_scalar(decay) + src.reshape(dims).mul_scalar(1.0 - decay)
        })
    }
}

/// `avg <- decay * avg + (1 - decay) * current`, parameter by parameter.
///
/// `avg` must have been made from `current` (e.g. `current.valid()`), so that
/// their parameter ids match; parameters of `avg` without a match are left as they are.
pub fn update_average<M: Module>(avg: M, current: &M, decay: f64) -> M {
    let mut collect = Collect { values: HashMap::new() };
    current.visit(&mut collect);
    avg.map(&mut Blend { values: collect.values, decay })
}

/// Recomputes the batch-norm running statistics of `g` (on the plain `device`)
/// from `batches` batches of `batch_size` fresh latent codes drawn with `seed`
/// (classes taken in turn if `g` is conditional), and returns it with every
/// other weight unchanged. A generator without batch norm comes back as it was.
///
/// The statistics are updated with each layer's momentum (0.1 by default),
/// so the last few dozen batches decide them and the old ones keep a weight
/// of 0.9^batches: 50 batches (< 1%) suffice when the old statistics are of
/// the right order, as an average's are; statistics far off (a fresh
/// network's mean 0 and variance 1) need more (100: < 3e-5).
pub fn recalibrate_batch_norm<G: Generator>(
    g: &G,
    batches: usize,
    batch_size: usize,
    seed: u64,
    device: &Device,
) -> Result<G> {
    if batches == 0 || batch_size < 2 {
        return Err(Error::Invalid(format!(
            "recalibrate_batch_norm: needs >= 1 batch of >= 2 codes (batch statistics), got {batches} of {batch_size}"
        )));
    }
    // Batch norm takes its training path (batch statistics, running update)
    // only on an autodiff device with its training flag on.
    let ad = device.clone().autodiff();
    let live = g.clone().fork(&ad).train();
    for b in 0..batches {
        let z = latent_codes(batch_size, g.latent_dim(), seed.wrapping_add(b as u64), &ad);
        let labels = g.num_classes().map(|k| {
            let ids: Vec<i64> = (0..batch_size).map(|i| ((b * batch_size + i) % k) as i64).collect();
            Tensor::<1, Int>::from_data(TensorData::new(ids, [batch_size]), &ad)
        });
        // Only the running statistics are wanted; the samples are dropped.
        let _ = live.forward(z, labels).detach();
    }
    Ok(live.valid().to_device(device))
}
