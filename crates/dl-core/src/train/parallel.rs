//! Data-parallel gradients: one batch split across several devices.
//!
//! burn-train's multi-device strategy (its `MultiDevice` with the optimizer on
//! the main device) for the project's loops: each device gets a contiguous
//! shard of the batch and a fork of the model, computes its gradients on its
//! own thread, and the gradients are summed by parameter on the first device
//! (burn's `GradientsAccumulator`), where one optimizer step is taken.
//! Docs: docs/distributed.md.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::tensor::{Device, Tensor};

use crate::task::{Batcher, StepOutput, Supervised};
use crate::{Error, Result};

/// `items` cut into at most `parts` contiguous shards whose sizes differ by at
/// most one, in order; no shard is empty (fewer items than parts give fewer shards).
pub fn shards<T>(items: &[T], parts: usize) -> Vec<&[T]> {
    let parts = parts.clamp(1, items.len().max(1));
    let (size, extra) = (items.len() / parts, items.len() % parts);
    let mut out = Vec::with_capacity(parts);
    let mut start = 0;
    for i in 0..parts {
        let end = start + size + usize::from(i < extra);
        if end > start {
            out.push(&items[start..end]);
        }
        start = end;
    }
    out
}

/// The gradients of one batch and the step outputs of its shards.
pub struct ShardedStep {
    /// The combined batch's gradients, on the first device.
    pub grads: GradientsParams,
    /// Each shard's output (on its own device), in shard order.
    pub outputs: Vec<StepOutput>,
}

/// Forward and backward passes of the batch `items`, split across `devices`.
///
/// `model` lives on `devices[0]`, which must have autodiff; each shard's
/// model is a fork of it on its device. The shards' gradients are weighted by
/// their share of the loss's terms, counted as rows of [`StepOutput::output`]
/// (the convention of the epoch loss), and summed: for a loss that averages
/// over those rows, k devices give the gradients of the combined batch on one.
/// With one device this is the plain step.
pub fn sharded_grads<M, I, B, Bt>(model: &M, items: &[&I], batcher: &Bt, devices: &[Device]) -> Result<ShardedStep>
where
    M: Supervised<B>,
    I: Sync,
    Bt: Batcher<I, B> + Sync,
{
    let Some(main) = devices.first() else {
        return Err(Error::empty("the list of training devices"));
    };
    if devices.iter().any(|d| !d.is_autodiff()) {
        return Err(Error::NeedsAutodiff { what: "training (on every device)" });
    }
    if devices.len() == 1 || items.len() < 2 {
        let out = model.step(&batcher.batch(items, main)?)?;
        let grads = GradientsParams::from_grads(out.loss.backward(), model);
        return Ok(ShardedStep { grads, outputs: vec![out] });
    }
    let jobs: Vec<(M, &[&I], &Device)> =
        shards(items, devices.len()).into_iter().zip(devices).map(|(shard, d)| (model.clone(), shard, d)).collect();
    let done = run_each(jobs, |(replica, shard, device)| {
        let replica = replica.fork(device);
        let out = replica.step(&batcher.batch(shard, device)?)?;
        let grads = GradientsParams::from_grads(out.loss.backward(), &replica);
        Ok((grads, out))
    })?;
    let total: usize = done.iter().map(|(_, out)| out.output.dims()[0]).sum();
    if total == 0 {
        return Err(Error::empty("the step outputs of every shard"));
    }
    let (grads, outputs): (Vec<_>, Vec<_>) =
        done.into_iter().map(|(grads, out)| ((grads, out.output.dims()[0] as f64 / total as f64), out)).unzip();
    Ok(ShardedStep { grads: weighted_sum(model, main, grads), outputs })
}

/// Runs `run` on every job, side by side on the compute pool; the results in
/// the jobs' order, or the first shard's error.
pub fn run_each<J: Send, R: Send>(jobs: Vec<J>, run: impl Fn(J) -> Result<R> + Sync) -> Result<Vec<R>> {
    let mut results: Vec<Option<Result<R>>> = jobs.iter().map(|_| None).collect();
    rayon::scope(|s| {
        for (job, slot) in jobs.into_iter().zip(results.iter_mut()) {
            let run = &run;
            s.spawn(move |_| *slot = Some(run(job)));
        }
    });
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(Error::Device("a shard's thread did not run".into()))))
        .collect()
}

/// The sum on `main` of the shards' gradients of `model`, each times its share.
pub fn weighted_sum<M: Module>(model: &M, main: &Device, shards: Vec<(GradientsParams, f64)>) -> GradientsParams {
    let mut sum = GradientsAccumulator::<M>::new();
    for (grads, share) in shards {
        sum.accumulate(model, scaled(model, grads.to_device(main, model), share));
    }
    sum.grads()
}

/// Every gradient of `model` in `grads` times `factor`.
fn scaled<M: Module>(model: &M, mut grads: GradientsParams, factor: f64) -> GradientsParams {
    struct Scale<'a> {
        grads: &'a mut GradientsParams,
        factor: f64,
    }
    impl ModuleVisitor for Scale<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self.grads.remove::<D>(param.id) {
                self.grads.register::<D>(param.id, g.mul_scalar(self.factor));
            }
        }
    }
    model.visit(&mut Scale { grads: &mut grads, factor });
    grads
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_contiguous_balanced_and_never_empty() {
        let items: Vec<usize> = (0..10).collect();
        let parts = shards(&items, 3);
        assert_eq!(parts, vec![&items[0..4], &items[4..7], &items[7..10]]);
        assert_eq!(shards(&items[..2], 4), vec![&items[0..1], &items[1..2]]);
        assert_eq!(shards(&items, 1), vec![&items[..]]);
        assert!(shards::<usize>(&[], 3).is_empty());
    }
}
