//! Gradient and parameter policies that burn-optim does not offer directly:
//! clipping by the norm of *all* gradients together, and exempting vectors
//! (biases, normalisation gains) from weight decay.
//!
//! burn's `GradientClipping::Norm` clips each parameter's gradient on its
//! own; PyTorch's `clip_grad_norm_` (used by GPT-2, nanoGPT, BERT) rescales
//! every gradient by one factor so that their joint norm is at most the
//! limit, which keeps the direction of the whole update. burn's AdamW decays
//! every parameter; the usual Transformer recipe decays only matrices, since
//! shrinking a LayerNorm gain or a bias towards zero is not a regulariser but
//! a bias. Both are written here on burn's own pieces (a module visitor, the
//! optimizer's parameter groups).

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

/// Ids of the module's one-dimensional float parameters (biases, norm gains).
pub fn vector_param_ids<M: Module>(model: &M) -> Vec<ParamId> {
    struct Vectors(Vec<ParamId>);
    impl ModuleVisitor for Vectors {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if D == 1 {
                self.0.push(param.id);
            }
        }
    }
    let mut v = Vectors(Vec::new());
    model.visit(&mut v);
    v.0
}

/// The L2 norm of all of `model`'s gradients in `grads` taken together, as a
/// one-element tensor on the gradients' device (no host synchronisation).
/// `None` when no parameter has a gradient.
pub fn global_grad_norm<M: Module>(model: &M, grads: &GradientsParams) -> Option<Tensor<1>> {
    struct SumSquares<'a> {
        grads: &'a GradientsParams,
        total: Option<Tensor<1>>,
    }
    impl ModuleVisitor for SumSquares<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self.grads.get::<D>(param.id) {
                let s = g.square().sum();
                self.total = Some(match self.total.take() {
                    Some(t) => t + s,
                    None => s,
                });
            }
        }
    }
    let mut v = SumSquares { grads, total: None };
    model.visit(&mut v);
    v.total.map(|t| t.sqrt())
}

/// Rescales all gradients by `min(1, max_norm / (norm + 1e-6))`, where `norm`
/// is their joint L2 norm: PyTorch's `torch.nn.utils.clip_grad_norm_`.
/// Returns the gradients and the norm before clipping (a one-element tensor).
pub fn clip_grad_norm_global<M: Module>(
    model: &M,
    mut grads: GradientsParams,
    max_norm: f32,
) -> (GradientsParams, Option<Tensor<1>>) {
    let Some(norm) = global_grad_norm(model, &grads) else {
        return (grads, None);
    };
    let factor = norm.clone().add_scalar(1e-6).recip().mul_scalar(max_norm).clamp_max(1.0);
    struct Scale<'a> {
        grads: &'a mut GradientsParams,
        factor: Tensor<1>,
    }
    impl ModuleVisitor for Scale<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self.grads.remove::<D>(param.id) {
                let f = self.factor.clone().reshape([1; D]);
                self.grads.register::<D>(param.id, g * f);
            }
        }
    }
    model.visit(&mut Scale { grads: &mut grads, factor });
    (grads, Some(norm))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::Backend;
    use crate::train::OptimizerKind;
    use burn::nn::{Linear, LinearConfig};
    use burn::tensor::{Device, TensorData};

    fn setup() -> (Linear, Tensor<2>, Device) {
        let device = Backend::default_compiled().unwrap().device().unwrap().autodiff();
        device.seed(7);
        let model = LinearConfig::new(3, 2).init(&device);
        let x = Tensor::<2>::from_data(TensorData::from([[1.0f32, -2.0, 0.5], [3.0, 0.25, -1.0]]), &device);
        (model, x, device)
    }

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn vectors_are_the_biases() {
        let (model, _, _) = setup();
        let ids = vector_param_ids(&model);
        assert_eq!(ids, vec![model.bias.as_ref().unwrap().id]);
    }

    /// The clipped gradients are the originals times `max / (norm + 1e-6)`,
    /// where `norm` is the joint norm computed on the host; below the limit
    /// nothing changes.
    #[test]
    fn global_clipping_rescales_every_gradient_by_one_factor() {
        let (model, x, _) = setup();
        let loss = model.forward(x).sum().mul_scalar(10.0);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let (w, b) = (model.weight.id, model.bias.as_ref().unwrap().id);
        let gw = values(grads.get::<2>(w).unwrap());
        let gb = values(grads.get::<1>(b).unwrap());
        let norm = gw.iter().chain(&gb).map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt();
        assert!(norm > 10.0, "test needs a large gradient, got {norm}");

        let (loose, n) = clip_grad_norm_global(&model, grads, 1e6);
        assert!((n.unwrap().into_scalar::<f32>() as f64 - norm).abs() < 1e-4 * norm);
        assert_eq!(values(loose.get::<2>(w).unwrap()), gw);

        let (clipped, _) = clip_grad_norm_global(&model, loose, 1.0);
        let factor = 1.0 / (norm + 1e-6);
        let cw = values(clipped.get::<2>(w).unwrap());
        let cb = values(clipped.get::<1>(b).unwrap());
        for (c, g) in cw.iter().zip(&gw).chain(cb.iter().zip(&gb)) {
            assert!((*c as f64 - *g as f64 * factor).abs() < 1e-6, "{c} vs {}", *g as f64 * factor);
        }
        let after = cw.iter().chain(&cb).map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt();
        assert!((after - 1.0).abs() < 1e-5, "joint norm after clipping: {after}");
    }

    /// With zero gradients AdamW's step is the decay alone: the matrix
    /// shrinks by `lr * weight_decay`, an exempt bias does not move.
    #[test]
    fn exempt_vectors_are_not_decayed() {
        let (model, x, _) = setup();
        let kind = OptimizerKind::AdamW { betas: (0.9, 0.99), weight_decay: 0.1 };
        let w0 = values(model.weight.val());
        let b0 = values(model.bias.as_ref().unwrap().val());
        let step = |exempt: bool| {
            let ids = if exempt { vector_param_ids(&model) } else { Vec::new() };
            let mut optim = kind.init_with_exempt(None, ids);
            let loss = model.forward(x.clone()).sum().mul_scalar(0.0);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            let m = optim.step(0.1, model.clone(), grads);
            (values(m.weight.val()), values(m.bias.as_ref().unwrap().val()))
        };
        let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-6 * y.abs().max(1.0));
        let decayed: Vec<f32> = w0.iter().map(|v| v * 0.99).collect();
        let (w, b) = step(true);
        assert!(close(&w, &decayed), "{w:?} vs {decayed:?}");
        assert_eq!(b, b0);
        let (w, b) = step(false);
        assert!(close(&w, &decayed));
        let b_decayed: Vec<f32> = b0.iter().map(|v| v * 0.99).collect();
        assert!(close(&b, &b_decayed), "{b:?} vs {b_decayed:?}");
    }
}
