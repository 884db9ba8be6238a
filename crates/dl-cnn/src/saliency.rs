//! Saliency maps (Simonyan et al. 2013): which pixels move the class score.
//!
//! The gradient of one class's logit with respect to the input pixels shows
//! where a small change would change the decision most; its absolute value,
//! maximised over channels, is the saliency map.

use burn::tensor::{Device, Tensor, TensorData};

use crate::models::ImageClassifier;
use dl_core::task::to_f32;
use dl_core::{Error, Result};

/// `|d logit[class] / d pixel|`, max over channels: `height * width` values.
///
/// `device` must have autodiff enabled; the model is put in inference mode
/// (dropout off, batch norm on running statistics) but kept differentiable.
pub fn saliency_map<M: ImageClassifier>(model: &M, pixels: &[f32], class: usize, device: &Device) -> Result<Vec<f32>> {
    if !device.is_autodiff() {
        return Err(Error::NeedsAutodiff { what: "saliency_map" });
    }
    let [c, h, w] = model.input_shape();
    if pixels.len() != c * h * w {
        return Err(Error::shape("saliency_map input", format!("{} values ({c}x{h}x{w})", c * h * w), pixels.len()));
    }
    let model = model.clone().fork(device).freeze();
    let x = Tensor::<4>::from_data(TensorData::new(pixels.to_vec(), [1, c, h, w]), device).require_grad();
    let logits = model.forward(x.clone());
    let classes = logits.dims()[1];
    if class >= classes {
        return Err(Error::Unknown {
            kind: "class id",
            value: class.to_string(),
            context: format!("a {classes}-class model"),
        });
    }
    let score = logits.narrow(1, class, 1).sum();
    let grads = score.backward();
    let g = x.grad(&grads).ok_or_else(|| Error::Internal("no gradient reached the input".into()))?;
    let g = g.abs().max_dim(1).reshape([h * w]);
    to_f32(g)
}
