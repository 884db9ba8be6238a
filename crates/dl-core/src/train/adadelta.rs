//! Adadelta (Zeiler 2012), the optimizer of Kim's TextCNN. burn-optim has no
//! Adadelta, so it is written here on burn's `Optimizer` trait (the module
//! optimizer, clipping and checkpointing are burn's). Same update as
//! PyTorch's `torch.optim.Adadelta`:
//!
//! ```text
//! s  <- rho s + (1 - rho) g^2
//! dx  = sqrt(a + eps) / sqrt(s + eps) * g
//! a  <- rho a + (1 - rho) dx^2
//! p  <- p - lr dx
//! ```

use burn::optim::{LearningRate, Optimizer, RecordState, StateSink, StateSource};
use burn::tensor::{Device, Tensor};

/// Adadelta with decay `rho` and `epsilon` (Kim: 0.95, 1e-6; learning rate 1).
#[derive(Debug, Clone)]
pub struct Adadelta {
    /// Decay of the running averages.
    pub rho: f32,
    /// Added inside both square roots.
    pub epsilon: f32,
}

/// Running averages of squared gradients and squared updates of one parameter.
#[derive(Debug, Clone)]
pub struct AdadeltaState<const D: usize> {
    square_avg: Tensor<D>,
    acc_delta: Tensor<D>,
}

impl<const D: usize> RecordState for AdadeltaState<D> {
    fn state_flatten(&self, prefix: &str, out: &mut StateSink) {
        out.push_tensor(prefix, "square_avg", self.square_avg.to_data());
        out.push_tensor(prefix, "acc_delta", self.acc_delta.to_data());
    }

    fn state_unflatten(prefix: &str, src: &mut StateSource, device: &Device) -> Option<Self> {
        Some(Self {
            square_avg: Tensor::from_data(src.take_tensor(prefix, "square_avg")?, device),
            acc_delta: Tensor::from_data(src.take_tensor(prefix, "acc_delta")?, device),
        })
    }
}

impl Optimizer for Adadelta {
    type State<const D: usize> = AdadeltaState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let (rho, eps) = (self.rho, self.epsilon);
        let (square_avg, acc_delta) = match state {
            Some(s) => (s.square_avg, s.acc_delta),
            None => (grad.zeros_like(), grad.zeros_like()),
        };
        let square_avg = square_avg.mul_scalar(rho) + grad.clone().square().mul_scalar(1.0 - rho);
        let delta = acc_delta.clone().add_scalar(eps).sqrt() / square_avg.clone().add_scalar(eps).sqrt() * grad;
        let acc_delta = acc_delta.mul_scalar(rho) + delta.clone().square().mul_scalar(1.0 - rho);
        (tensor - delta.mul_scalar(lr), Some(AdadeltaState { square_avg, acc_delta }))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        AdadeltaState { square_avg: state.square_avg.to_device(device), acc_delta: state.acc_delta.to_device(device) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::Backend;
    use burn::tensor::TensorData;

    /// Three steps against PyTorch:
    ///
    /// ```python
    /// p = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
    /// opt = torch.optim.Adadelta([p], lr=1.0, rho=0.95, eps=1e-6)
    /// for g in ([0.1, -0.2, 0.3], [0.4, 0.0, -0.1], [-0.3, 0.2, 0.2]):
    ///     opt.zero_grad(); p.grad = torch.tensor(g); opt.step(); print(p.tolist())
    /// ```
    #[test]
    fn matches_pytorch() {
        let device = Backend::default_compiled().unwrap().device().unwrap();
        let opt = Adadelta { rho: 0.95, epsilon: 1e-6 };
        let t = |v: [f32; 3]| Tensor::<1>::from_data(TensorData::from(v), &device);
        let expected: [[f32; 3]; 3] = [
            [0.495_532_3, -0.995_529, 1.995_528_3],
            [0.489_391, -0.995_529, 1.997_574_6],
            [0.494_634, -1.000_055_4, 1.993_939_9],
        ];
        let (mut p, mut state) = (t([0.5, -1.0, 2.0]), None);
        for (g, want) in [[0.1, -0.2, 0.3], [0.4, 0.0, -0.1], [-0.3, 0.2, 0.2]].into_iter().zip(expected) {
            (p, state) = opt.step(1.0, p, t(g), state);
            let got = p.to_data().try_to_vec::<f32>().unwrap();
            for (a, b) in got.iter().zip(want) {
                assert!((a - b).abs() < 1e-6, "{got:?} vs {want:?}");
            }
        }
    }
}
