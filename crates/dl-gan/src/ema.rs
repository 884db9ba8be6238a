//! An exponential moving average of a module's weights.
//!
//! GAN generators oscillate around a good solution rather than settling on
//! it; averaging their weights over recent steps (Yazıcı et al. 2019, used
//! by BigGAN and StyleGAN) gives steadier and usually better samples at no
//! training cost. burn has no weight averaging, so it is written here: the
//! average lives on the plain (non-autodiff) device and is updated from the
//! trained module's parameters, matched by parameter id.

use std::collections::HashMap;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::tensor::Tensor;

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
