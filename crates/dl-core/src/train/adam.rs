//! Adam and AdamW with a fused step (one pass per parameter tensor, from
//! `dl-kernels`) on the CPU backends; burn's own optimizers everywhere else.
//! The state is burn's (`AdamState`, `AdamWState`), so optimizer checkpoints
//! are the same files either way, and the arithmetic is burn's, op by op.

use burn::optim::{
    Adam, AdamConfig, AdamState, AdamW, AdamWConfig, AdamWState, AdaptiveMomentumState, LearningRate, Optimizer,
};
use burn::tensor::{Device, Tensor};
use dl_kernels::{AdamStep, adam_step};

/// Adam (`weight_decay` 0) or AdamW, fused where the device allows.
#[derive(Clone)]
pub struct FusedAdam<O> {
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
    weight_decay: f32,
    /// burn's optimizer, for devices without the fused step.
    fallback: O,
}

impl FusedAdam<Adam> {
    /// Adam with `betas` and `epsilon`, no weight decay.
    pub fn adam(betas: (f32, f32), epsilon: f32) -> Self {
        let fallback = AdamConfig::new().with_beta_1(betas.0).with_beta_2(betas.1).with_epsilon(epsilon).build();
        FusedAdam { beta_1: betas.0, beta_2: betas.1, epsilon, weight_decay: 0.0, fallback }
    }
}

impl FusedAdam<AdamW> {
    /// AdamW with `betas`, `epsilon` and decoupled `weight_decay`.
    pub fn adamw(betas: (f32, f32), epsilon: f32, weight_decay: f32) -> Self {
        let fallback = AdamWConfig::new()
            .with_beta_1(betas.0)
            .with_beta_2(betas.1)
            .with_epsilon(epsilon)
            .with_weight_decay(weight_decay)
            .build();
        FusedAdam { beta_1: betas.0, beta_2: betas.1, epsilon, weight_decay, fallback }
    }
}

impl<O: Optimizer> FusedAdam<O> {
    /// The fused step where it runs, else burn's (`wrap` and `unwrap`
    /// convert between the optimizer's state and the moments).
    fn step_with<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<O::State<D>>,
        unwrap: impl Fn(O::State<D>) -> AdaptiveMomentumState<D>,
        wrap: impl Fn(AdaptiveMomentumState<D>) -> O::State<D>,
    ) -> (Tensor<D>, Option<O::State<D>>) {
        let momentum = state.map(unwrap);
        if momentum.as_ref().is_some_and(|s| s.max_moment_2.is_some()) {
            return self.fallback.step(lr, tensor, grad, momentum.map(wrap));
        }
        let (time, m, v) = match momentum {
            Some(s) => (s.time + 1, s.moment_1, s.moment_2),
            // Zero moments give burn's first step exactly: 0 · beta + g · (1 - beta).
            None => (1, grad.zeros_like(), grad.zeros_like()),
        };
        let step = AdamStep::new(self.beta_1, self.beta_2, self.epsilon, lr, self.weight_decay, time);
        match adam_step(tensor, grad, m, v, step) {
            Ok((tensor, moment_1, moment_2)) => {
                (tensor, Some(wrap(AdaptiveMomentumState { time, moment_1, moment_2, max_moment_2: None })))
            }
            Err((tensor, grad, moment_1, moment_2)) => {
                // burn's step from the state as it was (no state before the first step).
                let before = (time > 1)
                    .then(|| wrap(AdaptiveMomentumState { time: time - 1, moment_1, moment_2, max_moment_2: None }));
                self.fallback.step(lr, tensor, grad, before)
            }
        }
    }
}

impl Optimizer for FusedAdam<Adam> {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        self.step_with(lr, tensor, grad, state, |s| s.momentum, |momentum| AdamState { momentum })
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        Adam::to_device(state, device)
    }
}

impl Optimizer for FusedAdam<AdamW> {
    type State<const D: usize> = AdamWState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        self.step_with(lr, tensor, grad, state, |s| s.momentum, |momentum| AdamWState { momentum })
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        AdamW::to_device(state, device)
    }
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use burn::nn::{Initializer, Linear, LinearConfig};
    use burn::optim::{GradientsParams, ModuleOptimizer};
    use burn::tensor::{Tensor, TensorData};

    use super::*;

    fn params(m: &Linear) -> Vec<f32> {
        let mut v = m.weight.val().into_data().convert::<f32>().try_into_vec::<f32>().unwrap();
        v.extend(m.bias.as_ref().unwrap().val().into_data().convert::<f32>().try_into_vec::<f32>().unwrap());
        v
    }

    /// Five steps of `optim` on a linear layer with a fixed loss: a weight
    /// large enough for the fused step (77k values) and a bias below its
    /// threshold (burn's step).
    fn train(mut optim: ModuleOptimizer, lr: f64) -> (Vec<f32>, ModuleOptimizer) {
        // Deterministic (no seeded draws: tests run concurrently).
        let device = Device::flex().autodiff();
        let mut model =
            LinearConfig::new(256, 300).with_initializer(Initializer::Constant { value: 0.05 }).init(&device);
        let values: Vec<f32> = (0..8 * 256).map(|i| (i as f32 * 0.37).sin()).collect();
        let x = Tensor::<2>::from_data(TensorData::new(values, [8, 256]), &device);
        for _ in 0..5 {
            let loss = model.forward(x.clone()).powi_scalar(2).mean();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(lr, model, grads);
        }
        (params(&model), optim)
    }

    fn close(a: &[f32], b: &[f32]) {
        let diff = a.iter().zip(b).fold(0.0f32, |m, (x, y)| m.max((x - y).abs()));
        assert!(a.len() == b.len() && diff < 1e-6, "max difference {diff}");
    }

    #[test]
    fn the_fused_steps_equal_burns_adam_and_adamw() {
        assert!(dl_kernels::fused_on(&Device::flex()));
        let burn_adam = AdamConfig::new().with_beta_1(0.8).with_beta_2(0.99).with_epsilon(1e-8).init();
        let (a, _) = train(ModuleOptimizer::from(FusedAdam::adam((0.8, 0.99), 1e-8)), 1e-2);
        let (b, _) = train(burn_adam, 1e-2);
        close(&a, &b);
        let burn_adamw =
            AdamWConfig::new().with_beta_1(0.9).with_beta_2(0.999).with_epsilon(1e-8).with_weight_decay(0.1).init();
        let (a, _) = train(ModuleOptimizer::from(FusedAdam::adamw((0.9, 0.999), 1e-8, 0.1)), 3e-2);
        let (b, _) = train(burn_adamw, 3e-2);
        close(&a, &b);
    }

    #[test]
    fn the_state_is_burns_record() {
        // A state saved by burn's Adam continues in the fused one and gives
        // what burn's own continuation gives.
        let (_, burn_optim) = train(AdamConfig::new().with_epsilon(1e-8).init(), 1e-2);
        let bytes = burn_optim.into_bytes().unwrap();
        let fused = ModuleOptimizer::from(FusedAdam::adam((0.9, 0.999), 1e-8)).from_bytes(bytes.clone()).unwrap();
        let burn_again = AdamConfig::new().with_epsilon(1e-8).init().from_bytes(bytes).unwrap();
        let (a, _) = train(fused, 1e-2);
        let (b, _) = train(burn_again, 1e-2);
        close(&a, &b);
    }
}
